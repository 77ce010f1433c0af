"""The National Register and KSZ (bis) registers as a reference authentic source.

    kszws source national-register [--population N] [--reseed] [--wsdl]
"""
import datetime

from kszws.clock import utcnow
from kszws.registry import load_registry
from kszws.security import wsse
from kszws.security.keystore import TrustStore, load_certificate, load_signing_identity
from kszws.store import Database

ID = "national-register"


def database(settings, source):
    url = source.database_url or "sqlite:///%s" % (settings.data_dir / ("%s.sqlite" % ID))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(url, "NORMAL")


def build(settings, registry, db):
    """The source's Spyne application (signed both ways)."""
    from kszws.sources import soap
    from kszws.sources.national_register import service

    me = registry.institution(ID)
    trust = TrustStore()
    trust.add(load_certificate(registry.hub.certificates[0]), registry.hub)
    policy = wsse.Policy(skew=datetime.timedelta(seconds=settings.timestamp_skew_seconds),
                         max_ttl=datetime.timedelta(seconds=settings.timestamp_max_ttl_seconds))
    return soap.application([service.service(db)], service.NS, "NationalRegisterService",
                            load_signing_identity(me.certificates[0]), trust, policy,
                            settings.reply_timestamp_ttl_seconds, utcnow)


def wsdl_document(settings, registry, db, address):
    """The WSDL Spyne generates for the service (what wsdl/NationalRegisterSource.wsdl holds)."""
    from kszws.sources import soap

    wsdl = soap.resource(build(settings, registry, db)).http_transport.doc.wsdl11
    wsdl.build_interface_document(address)
    return wsdl.get_interface_document()


def run(settings, args):
    from kszws import processes
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
        population.generate(db, wanted)
    population.add_demo_persons(db)
    persons = population.count_persons(db)
    db.dispose()  # each worker opens its own connections, after the fork
    port = source.port if args.port is None else args.port
    holder = processes.bound_socket(source.host, port)
    port = holder.getsockname()[1]

    def build_resource():
        from twisted.web.resource import Resource

        from kszws.sources import soap

        root = Resource()
        app = build(settings, registry, database(settings, source))
        root.putChild(source.path.strip("/").encode(), soap.resource(app))
        return root

    def worker(ready_fd):
        from kszws.sources import soap

        soap.run_worker(build_resource, source.host, port, ready_fd,
                        lambda reactor: start_pushing(settings, source, reactor))

    def announce():
        print("kszws source %s ready: http://%s:%d%s (%d persons, %d workers)" % (
            ID, source.host, port, source.path, persons, workers), flush=True)

    workers = args.workers or source.workers
    code = processes.Supervisor(worker, workers, "source worker").run(announce)
    holder.close()
    return code


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
