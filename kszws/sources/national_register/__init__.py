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
    from kszws.sources import soap
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
    app = build(settings, registry, db)
    port = source.port if args.port is None else args.port

    def announce(base):
        print("kszws source %s ready: %s%s (%d persons)" % (
            ID, base, source.path, population.count_persons(db)), flush=True)

    from twisted.web.resource import Resource

    root = Resource()
    root.putChild(source.path.strip("/").encode(), soap.resource(app))
    return soap.serve(root, source.host, port, announce)
