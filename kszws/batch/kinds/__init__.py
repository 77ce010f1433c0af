"""The batch types the hub processes, each record through the same checks as its online
twin, one module per type. A kind gives, for a file, its `context` (read once from the
header: the legal context, the authorization decision) and `judge`s its records a chunk
at a time (processing.Job: a list of (index, element) -> a list of processing.Judged in
the same order, or, for a kind that writes to the hub's store, a function of a connection
that writes and returns them, run in the transaction that commits the chunk).

    IDPR  idpr.py: a list of SSINs -> the persons' identification data (IdentifyPerson)
    REGI  regi.py: registrations in the reference directory and their ends
          (ReferenceDirectoryService register, unregister)
    DIMN  dimn.py: DIMONA declarations, any number per file (DimonaService.declare)
"""
from dataclasses import dataclass


@dataclass
class Needs:
    """What the kinds may use: the worker's registry, access control, source clients
    ({name: hub.routing.SourceClient}), database, reactor and clock."""
    registry: object
    access: object
    sources: dict
    db: object
    reactor: object
    clock: object


EMPLOYER_DIRECTORY = "employer-directory"  # the source DimonaService routes to


def kinds(needs):
    """{type: kind} of the types this hub processes."""
    from kszws.batch.kinds.dimn import Declarations
    from kszws.batch.kinds.idpr import PersonIdentification
    from kszws.batch.kinds.regi import Registrations
    from kszws.hub.persons import SOURCE, NationalRegister

    register = NationalRegister(needs.sources[SOURCE])
    found = {"IDPR": PersonIdentification(needs.registry, needs.access, register,
                                          needs.reactor),
             "REGI": Registrations(needs.registry, register, needs.reactor, needs.clock)}
    employers = needs.sources.get(EMPLOYER_DIRECTORY)
    if employers is not None:  # DIMONA needs the employer directory
        found["DIMN"] = Declarations(needs.registry, register, employers, needs.reactor)
    return found
