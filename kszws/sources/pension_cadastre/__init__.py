"""The pension cadastre as a reference authentic source (seed §4.7): payers' monthly
declarations, the deductions on cumulated amounts, attestations back to each payer.

    kszws source pension-cadastre [--wsdl]

Its rates are conf/pension_rates.toml (computation.py); its store is its own (store.py).
"""
from kszws.registry import load_registry

ID = "pension-cadastre"
RATES_FILE = "pension_rates.toml"


def database(settings, source):
    from kszws.sources.serving import source_database

    return source_database(settings, source)


def rates(settings):
    from kszws.sources.pension_cadastre import computation

    return computation.load(settings.conf_dir / RATES_FILE)


def build(settings, registry, db):
    """The source's Spyne application (signed both ways)."""
    from kszws.sources import serving
    from kszws.sources.pension_cadastre import service

    return serving.signed_application(settings, registry, ID,
                                      [service.service(db, rates(settings))], service.NS,
                                      "PensionCadastreService")


def run(settings, args):
    from kszws.sources import serving
    from kszws.sources.pension_cadastre import store

    registry = load_registry(settings)
    source = registry.sources[ID]
    db = database(settings, source)
    store.migrate(db)
    if args.wsdl:
        print(serving.wsdl_of(build(settings, registry, db), source.url).decode(), end="")
        return 0
    if args.reseed:
        store.clear(db)
    db.dispose()  # each worker opens its own connections, after the fork
    return serving.serve(settings, source, args,
                         lambda: build(settings, registry, database(settings, source)),
                         lambda: "pension cadastre, rates %s" % ", ".join(
                             p.reference for p in rates(settings).periods))
