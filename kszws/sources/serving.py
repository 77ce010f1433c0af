"""What every source's `kszws source NAME` shares: its store, its signed application, its
generated WSDL, its workers on its port. Spyne's Twisted transport (sources/soap.py) is
imported only where it is used: it brings Twisted's reactor, which must not exist before
the workers fork."""
import datetime

from kszws.clock import utcnow
from kszws.security import wsse
def source_database(settings, source):
    """The source's own store: its conf/sources.toml URL, or SQLite in the data folder."""
    from kszws.store import Database

    url = source.database_url or "sqlite:///%s" % (settings.data_dir / ("%s.sqlite" % source.id))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(url, "NORMAL")


def signed_application(settings, registry, source_id, services, tns, name):
    """A source's Spyne application: only the hub may call it, every reply is signed with
    the source's key."""
    from kszws.security.keystore import TrustStore, load_certificate, load_signing_identity
    from kszws.sources import soap

    me = registry.institution(source_id)
    trust = TrustStore()
    trust.add(load_certificate(registry.hub.certificates[0]), registry.hub)
    policy = wsse.Policy(skew=datetime.timedelta(seconds=settings.timestamp_skew_seconds),
                         max_ttl=datetime.timedelta(seconds=settings.timestamp_max_ttl_seconds))
    return soap.application(services, tns, name, load_signing_identity(me.certificates[0]),
                            trust, policy, settings.reply_timestamp_ttl_seconds, utcnow)


def wsdl_of(app, address):
    """The WSDL Spyne generates for a source's application, at `address`."""
    from kszws.sources import soap

    wsdl = soap.resource(app).http_transport.doc.wsdl11
    wsdl.build_interface_document(address)
    return wsdl.get_interface_document()


def serve(settings, source, args, make_app, describe, on_start=None):
    """Run a source's workers on its port: `make_app()` builds its application in each
    worker (after the fork), `describe()` the end of its ready line. Nothing here may
    import Twisted's reactor before the workers fork."""
    from kszws import processes

    port = source.port if args.port is None else args.port
    holder = processes.bound_socket(source.host, port)
    port = holder.getsockname()[1]
    workers = args.workers or source.workers

    def build_resource():
        from twisted.web.resource import Resource

        root = Resource()
        from kszws.sources import soap

        root.putChild(source.path.strip("/").encode(), soap.resource(make_app()))
        return root

    def worker(ready_fd):
        from kszws.sources import soap

        soap.run_worker(build_resource, source.host, port, ready_fd, on_start)

    def announce():
        print("kszws source %s ready: http://%s:%d%s (%s, %d workers)" % (
            source.id, source.host, port, source.path, describe(), workers), flush=True)

    code = processes.Supervisor(worker, workers, "source worker").run(announce)
    holder.close()
    return code
