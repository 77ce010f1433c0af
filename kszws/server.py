"""Process wiring: the supervisor, the worker processes, the listening sockets, shutdown.

`serve()` prepares everything that can fail (configuration, certificates, keys, database
migrations) in the parent, then forks N workers. Each worker binds its own socket to the
same port with SO_REUSEPORT (the kernel spreads connections over them) and runs its own
Twisted reactor. The parent never imports the reactor (an epoll set shared across fork
would be shared by all workers), restarts a worker that dies, and on SIGTERM/SIGINT asks
every worker to stop gracefully: stop accepting, finish what is in flight (within
`shutdown_grace_seconds`), commit the queued log rows, exit.
"""
import datetime
import errno
import logging
import os
import select
import signal
import socket
import sys
import time

from kszws import gctuning
from kszws.clock import utcnow
from kszws.registry import load_registry
from kszws.security.authn import build_trust_store
from kszws.security.keystore import load_signing_identity
from kszws.store import database_from_settings

log = logging.getLogger("kszws.server")


def prepare(settings):
    """Everything that can fail before a worker starts: fail here, once, with the reason."""
    registry = load_registry(settings)
    build_trust_store(registry)
    load_signing_identity(registry.hub.certificates[0])
    db = database_from_settings(settings)
    db.migrate()
    db.dispose()
    return registry


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _socket(host, port):
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def reserve_port(host, port):
    """A bound, NOT listening socket that holds the port (and resolves port 0) for the
    workers' SO_REUSEPORT sockets. The kernel only hands connections to listening ones."""
    return _socket(host, port)


def build_site(settings, registry, db, writer):
    """The hub of one worker: keys, caches, pipeline, endpoints and web resources."""
    from twisted.internet import reactor

    from kszws.hub.exchange_log import ExchangeLog
    from kszws.hub.pipeline import Hub
    from kszws.hub.routing import source_clients
    from kszws.hub.validation import SchemaCatalogue
    from kszws.security import wsse
    from kszws.security.authn import Authenticator
    from kszws.security.credentials import Credentials
    from kszws.security.replay import ReplayCache
    from kszws.services import EndpointContext, build_endpoints
    from kszws.services.publish import PublishedContract
    from kszws.site import Health, HubSite, Router, SoapResource

    policy = wsse.Policy(skew=datetime.timedelta(seconds=settings.timestamp_skew_seconds),
                         max_ttl=datetime.timedelta(seconds=settings.timestamp_max_ttl_seconds))
    authenticator = Authenticator(registry, build_trust_store(registry),
                                  Credentials(settings.data_dir / "credentials.json"),
                                  policy, utcnow)
    identity = load_signing_identity(registry.hub.certificates[0])
    # Requests are validated against the published contracts, or against a service's more
    # lenient `accept` schema (declared after the WSDLs, so its elements take precedence).
    catalogue = SchemaCatalogue.from_files(
        [s.wsdl for s in registry.services.values()],
        [s.accept for s in registry.services.values() if s.accept])
    hub = Hub(authenticator, ReplayCache(db, writer, utcnow), ExchangeLog(db, writer), catalogue,
              identity, utcnow, settings.reply_timestamp_ttl_seconds)
    context = EndpointContext(registry, utcnow, source_clients(registry, identity, reactor),
                              settings.project_root)
    router = Router(hub)
    for name, endpoint in build_endpoints(context, settings.conf_dir / "services.toml").items():
        service = registry.services[name]
        router.add(service.path, SoapResource(hub, endpoint, PublishedContract(service.wsdl)))
    router.add("/health", Health(db, identity.certificate, settings.maintenance_flag, utcnow))
    return HubSite(router, settings.max_body_bytes), hub


def _tls_factory(settings, site):
    from twisted.internet import ssl
    from twisted.protocols.tls import TLSMemoryBIOFactory

    with open(settings.tls_certificate, "rb") as fh:
        cert = ssl.PrivateCertificate.loadPEM(fh.read() + open(settings.tls_key, "rb").read())
    options = dict(privateKey=cert.privateKey.original, certificate=cert.original)
    if settings.tls_client_ca:
        with open(settings.tls_client_ca, "rb") as fh:
            ca = ssl.Certificate.loadPEM(fh.read())
        # Client certificates are checked against the CA here; WHICH institution a
        # certificate belongs to is decided by the registry (security/authn.py).
        options.update(verify=True, caCerts=[ca.original],
                       requireCertificate=settings.tls_require_client_certificate)
    return TLSMemoryBIOFactory(ssl.CertificateOptions(**options), False, site)


def run_worker(settings, registry, host, port, ready_fd=None):
    """One worker process: its own reactor, database connection and writer thread."""
    from twisted.internet import reactor, task

    from kszws.store import BatchWriter

    db = database_from_settings(settings)
    writer = BatchWriter(db, reactor, settings.log_batch_max, settings.commit_delay_ms / 1000)
    writer.start()
    site, hub = build_site(settings, registry, db, writer)
    factory = _tls_factory(settings, site) if settings.tls_certificate else site
    sock = _socket(host, port)
    sock.listen(1024)
    sock.setblocking(False)
    listener = reactor.adoptStreamPort(sock.fileno(), _family(host), factory)
    sock.close()

    def drain():
        """Stop accepting, let in-flight exchanges finish, commit the queued log rows."""
        from twisted.internet import threads

        stopped = listener.stopListening()
        deadline = time.monotonic() + settings.shutdown_grace_seconds

        def idle():
            if hub.in_flight == 0 or time.monotonic() > deadline:
                loop.stop()

        loop = task.LoopingCall(idle)
        d = stopped.addCallback(lambda _: loop.start(0.05))
        d.addCallback(lambda _: threads.deferToThread(writer.stop))
        return d

    reactor.addSystemEventTrigger("before", "shutdown", drain)

    def on_sigterm(*_):
        # SIGTERM may come twice (from the supervisor and from a process-group kill):
        # stop once. SIGINT is the supervisor's to interpret.
        if not stopping:
            stopping.append(True)
            reactor.callFromThread(reactor.stop)

    stopping = []
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if settings.gc_tuning:
        gctuning.tune()
    if ready_fd is not None:
        os.write(ready_fd, b"1")
        os.close(ready_fd)
    reactor.run(installSignalHandlers=False)
    db.dispose()


class Supervisor:
    """The parent process of N workers."""

    def __init__(self, settings, registry, host, port, workers):
        self.settings, self.registry = settings, registry
        self.host, self.port, self.workers = host, port, workers
        self.children = {}  # pid -> (slot, started)
        self.stopping = False
        self.failures = 0

    def spawn(self, slot):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_fd)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            code = 0
            try:
                run_worker(self.settings, self.registry, self.host, self.port, write_fd)
            except BaseException as exc:  # report, never unwind into the parent's code
                print("kszws worker %d failed: %s" % (slot, exc), file=sys.stderr, flush=True)
                code = 2
            os._exit(code)
        os.close(write_fd)
        self.children[pid] = (slot, time.monotonic())
        return read_fd

    def wait_ready(self, fds, timeout=60):
        deadline = time.monotonic() + timeout
        pending = list(fds)
        while pending and time.monotonic() < deadline:
            ready, _, _ = select.select(pending, [], [], max(0.0, deadline - time.monotonic()))
            for fd in ready:
                ok = os.read(fd, 1) == b"1"
                os.close(fd)
                pending.remove(fd)
                if not ok:
                    return False
        return not pending

    def stop(self, *_):
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def reap(self, until_empty=False):
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            slot, started = self.children.pop(pid)
            if self.stopping or until_empty:
                continue
            code = os.waitstatus_to_exitcode(status)
            print("kszws worker %d (pid %d) ended (%s); restarting" % (slot, pid, code),
                  file=sys.stderr, flush=True)
            self.failures = self.failures + 1 if time.monotonic() - started < 5 else 0
            if self.failures >= 5:
                print("kszws: workers keep failing at start; giving up", file=sys.stderr)
                self.stop()
                return 2
            fd = self.spawn(slot)
            self.wait_ready([fd])
        return 0


def serve(settings, host=None, port=None, workers=None, announce=print):
    """Run the hub until SIGTERM/SIGINT. Returns the exit code."""
    host = host or settings.host
    port = settings.port if port is None else port
    workers = workers or settings.workers
    registry = prepare(settings)
    holder = reserve_port(host, port)
    port = holder.getsockname()[1]
    scheme = "https" if settings.tls_certificate else "http"
    base = "%s://%s:%d" % (scheme, host if ":" not in host else "[%s]" % host, port)
    supervisor = Supervisor(settings, registry, host, port, workers)
    assert "twisted.internet.reactor" not in sys.modules, "the reactor must not exist before fork"
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    fds = [supervisor.spawn(slot) for slot in range(workers)]
    if not supervisor.wait_ready(fds):
        supervisor.stop()
        supervisor.reap(until_empty=True)
        return 2
    announce(base, registry)
    code = supervisor.reap()
    holder.close()
    return code
