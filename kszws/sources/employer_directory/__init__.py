"""The employer directory of RSZ/ONSS and RSZPPO/ORPSS as a reference authentic source.

    kszws source employer-directory [--population N] [--reseed] [--wsdl]
"""
import sys

from kszws.progress import Progress
from kszws.registry import load_registry

ID = "employer-directory"


def database(settings, source):
    from kszws.sources.serving import source_database

    return source_database(settings, source)


def build(settings, registry, db):
    """The source's Spyne application (signed both ways)."""
    from kszws.sources import serving
    from kszws.sources.employer_directory import service

    return serving.signed_application(settings, registry, ID, [service.service(db)], service.NS,
                                   "EmployerDirectoryService")


def run(settings, args):
    from kszws.sources import serving
    from kszws.sources.employer_directory import population, store

    registry = load_registry(settings)
    source = registry.sources[ID]
    db = database(settings, source)
    store.migrate(db)
    if args.wsdl:
        print(serving.wsdl_of(build(settings, registry, db), source.url).decode(), end="")
        return 0
    have = population.count_employers(db)
    if args.reseed or have == 0:
        if have:
            store.clear(db)
        wanted = args.population or source.population
        print("seeding %d synthetic employers..." % wanted, flush=True)
        with Progress("seeding employers", wanted, sys.stdout) as shown:
            population.generate(db, wanted, progress=shown.update)
    population.add_demo_employers(db)
    employers = population.count_employers(db)
    db.dispose()  # each worker opens its own connections, after the fork
    return serving.serve(settings, source, args,
                      lambda: build(settings, registry, database(settings, source)),
                      lambda: "%d employers" % employers)
