"""The batch types the hub processes, each record through the same checks as its online
twin, one module per type. A kind gives, for a file, its `context` (read once from the
header: the legal context, the authorization decision) and `judge`s its records a chunk
at a time (processing.Job: a list of (index, element) -> a list of processing.Judged in
the same order).

    IDPR  idpr.py: a list of SSINs -> the persons' identification data (IdentifyPerson)
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


def kinds(needs):
    """{type: kind} of the types this hub processes."""
    from kszws.batch.kinds.idpr import PersonIdentification
    from kszws.hub.persons import SOURCE, NationalRegister

    register = NationalRegister(needs.sources[SOURCE])
    found = {"IDPR": PersonIdentification(needs.registry, needs.access, register,
                                          needs.reactor)}
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
