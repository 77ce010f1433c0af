"""The National Register and KSZ (bis) registers as a reference authentic source.

    kszws source national-register [--population N] [--reseed] [--wsdl]
"""
import sys

from kszws.progress import Progress
from kszws.registry import load_registry

ID = "national-register"


def database(settings, source):
    from kszws.sources.serving import source_database

    return source_database(settings, source)


def build(settings, registry, db):
    """The source's Spyne application (signed both ways)."""
    from kszws.sources import serving
    from kszws.sources.national_register import service

    return serving.signed_application(settings, registry, ID, [service.service(db)], service.NS,
                                   "NationalRegisterService")


def wsdl_document(settings, registry, db, address):
    """The WSDL Spyne generates for the service (what wsdl/NationalRegisterSource.wsdl holds)."""
    from kszws.sources import serving

    return serving.wsdl_of(build(settings, registry, db), address)


def run(settings, args):
    from kszws.sources import serving
    from kszws.sources.national_register import population, store

    registry = load_registry(settings)
    source = registry.sources[ID]
    db = database(settings, source)
    store.migrate(db)
    if args.wsdl:
        print(wsdl_document(settings, registry, db, source.url).decode(), end="")
        return 0
    wanted = args.population or source.population
    have = population.count_persons(db)
    if args.reseed or have == 0:
        if have:
            store.clear(db)
        print("seeding %d synthetic persons..." % wanted, flush=True)
        with Progress("seeding persons", wanted, sys.stdout) as shown:
            population.generate(db, wanted, progress=shown.update)
    population.add_demo_persons(db)
    persons = population.count_persons(db)
    db.dispose()  # each worker opens its own connections, after the fork
    return serving.serve(settings, source, args,
                      lambda: build(settings, registry, database(settings, source)),
                      lambda: "%d persons" % persons,
                      lambda reactor: start_pushing(settings, source, reactor))


def start_pushing(settings, source, reactor, interval=1.0):
    """In every worker: whoever holds the push lock pushes the mutations the hub has not
    acknowledged, every `interval` seconds, until it does (the hub may be down)."""
    import fcntl
    import os

    from twisted.internet import task, threads

    from kszws.sources.national_register import mutations

    lock_path = settings.data_dir / ("%s.push.lock" % ID)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    state = {"leader": False, "running": False, "pusher": None}

    def tick():
        if not state["leader"]:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # another worker pushes
            state["leader"] = True
        if state["running"]:
            return
        if state["pusher"] is None:
            state["pusher"] = mutations.Pusher(database(settings, source),
                                               mutations.hub_caller(settings, ID))
        state["running"] = True
        d = threads.deferToThread(state["pusher"].push_once)
        d.addErrback(lambda f: mutations.log.warning(
            "pushing mutations to the hub failed (retried in %.0f s): %s", interval,
            f.getErrorMessage()))
        d.addBoth(lambda _: state.update(running=False))

    loop = task.LoopingCall(tick)
    loop.clock = reactor
    loop.start(interval, now=False)
    return loop
