"""The batch types the hub processes, each record through the same checks as its online
twin, one module per type. A kind gives, for a file, its `context` (read once from the
header: the legal context, the authorization decision) and `judge`s its records a chunk
at a time (processing.Job: a list of (index, element) -> a list of processing.Judged in
the same order, or, for a kind that writes to the hub's store, a function of a connection
that writes and returns them, run in the transaction that commits the chunk).

    IDPR  idpr.py: a list of SSINs -> the persons' identification data (IdentifyPerson)
    PENS  pens.py: a payer's monthly pension declarations -> the cadastre's verdict on
          each (PensionCadastre declare)
    REGI  regi.py: registrations in the reference directory and their ends
          (ReferenceDirectoryService register, unregister)
    DIMN  dimn.py: DIMONA declarations, any number per file (DimonaService.declare)
    STBE  soctar.py: SOCTAR, an institution's beneficiaries of the social energy tariff
    STCU  soctar.py: SOCTAR, the economy ministry's energy customers -> flag and category
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
    conf_dir: object = None  # the project's conf/ (SOCTAR: conf/soctar.toml)


EMPLOYER_DIRECTORY = "employer-directory"  # the source DimonaService routes to


def kinds(needs):
    """{type: kind} of the types this hub processes."""
    from kszws.batch.kinds.dimn import DimonaDeclarations
    from kszws.batch.kinds.idpr import PersonIdentification
    from kszws.batch.kinds.pens import PensionDeclarations
    from kszws.batch.kinds.regi import Registrations
    from kszws.hub.pensions import CADASTRE_SOURCE, Declarations
    from kszws.hub.persons import SOURCE, NationalRegister

    register = NationalRegister(needs.sources[SOURCE])
    found = {"IDPR": PersonIdentification(needs.registry, needs.access, register,
                                          needs.reactor),
             "REGI": Registrations(needs.registry, register, needs.reactor, needs.clock)}
    if CADASTRE_SOURCE in needs.sources:
        found["PENS"] = PensionDeclarations(
            needs.registry, needs.access,
            Declarations(needs.sources[CADASTRE_SOURCE], register, needs.db, needs.clock),
            needs.reactor)
    if EMPLOYER_DIRECTORY in needs.sources:  # DIMONA needs the employer directory
        found["DIMN"] = DimonaDeclarations(needs.registry, register,
                                           needs.sources[EMPLOYER_DIRECTORY], needs.reactor)
    found.update(social_tariff(needs, register))
    return found


def social_tariff(needs, register):
    """SOCTAR's two types, when the project has a conf/soctar.toml."""
    from kszws.batch import soctar
    from kszws.batch.kinds.soctar import BeneficiaryList, CustomerList

    config = soctar.load(needs.conf_dir, needs.registry) if needs.conf_dir else None
    if config is None:
        return {}
    return {"STBE": BeneficiaryList(needs.registry, needs.access, config),
            "STCU": CustomerList(needs.registry, needs.access, config, register, needs.db,
                                 needs.reactor)}
