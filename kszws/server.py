"""Process wiring of the hub: what a worker holds, and `serve()`.

`serve()` prepares everything that can fail (configuration, certificates, keys, database
migrations) in the parent, then forks N workers sharing the port (kszws/processes.py). On
SIGTERM a worker stops gracefully: stop accepting, finish what is in flight (within
`shutdown_grace_seconds`), commit the queued log rows, exit.
"""
import datetime
import logging
import time

from kszws import gctuning, processes
from kszws.clock import utcnow
from kszws.config import ConfigError
from kszws.registry import load_registry
from kszws.security.authn import build_trust_store
from kszws.security.keystore import key_path_for, load_signing_identity
from kszws.store import database_from_settings

log = logging.getLogger("kszws.server")


def prepare(settings):
    """Everything that can fail before a worker starts: fail here, once, with the reason."""
    registry = load_registry(settings)
    build_trust_store(registry)
    load_signing_identity(registry.hub.certificates[0])
    if settings.tls_certificate:  # a missing or mismatched TLS key fails here, not in a worker
        try:
            tls_options(settings)
        except Exception as exc:
            raise ConfigError(settings.conf_dir / "kszws.toml", "[server]",
                              "tls_certificate / tls_key / tls_client_ca: %s" % exc) from None
    db = database_from_settings(settings)
    db.migrate()
    db.dispose()
    config = _batch_config(settings, registry)
    if config is not None:  # the drop box's keys are read here, once
        from kszws.batch.config import check_keys

        try:
            check_keys(config)
        except ValueError as exc:  # a key file missing or not an SSH key
            raise ConfigError(settings.conf_dir / "batch.toml", "[dropbox] / [[sender]]",
                              "%s (run `kszws pki init`)" % exc) from None
    return registry


def _batch_config(settings, registry):
    """The batch channel's configuration when conf/batch.toml opens a drop box, or None."""
    from kszws import batch

    from kszws.batch import soctar

    config = batch.load(settings, registry)
    if config is not None and config.port:
        soctar.load(settings.conf_dir, registry)  # a mistake in it stops the start here
        return config
    return None


class BatchChannel:
    """The batch channel of a worker: its drop box (an SFTP factory) and the processor
    of accepted files."""

    def __init__(self, config, sftp, processor, mutations):
        self.config, self.sftp, self.processor = config, sftp, processor
        self.mutations = mutations  # batch.muta.MutationFiles: the daily FO.MUTA files


def batch_channel(settings, registry, db, hub, access, sources):
    """The worker's BatchChannel, or None when conf/batch.toml opens no drop box."""
    import os

    from twisted.internet import reactor

    from kszws.batch.dropbox import DropBox
    from kszws.batch.intake import Intake
    from kszws.batch.kinds import Needs, kinds
    from kszws.batch.muta import MutationFiles
    from kszws.batch.outbox import Outbox
    from kszws.batch.processing import Processor

    config = _batch_config(settings, registry)
    if config is None:
        return None
    out = Outbox(db, config.root, hub.signer, utcnow)
    handlers = kinds(Needs(registry, access, sources, db, reactor, utcnow,
                           settings.conf_dir))
    intake = Intake(config, registry, db, out, hub.exchange_log, utcnow, handlers)
    processor = Processor(db, hub.exchange_log, out, handlers, utcnow, reactor,
                          "worker-%d" % os.getpid(), intake, config.lease_seconds)
    mutations = MutationFiles(db, registry, out, utcnow, reactor, "worker-%d" % os.getpid(),
                              config.muta_cutoff, config.lease_seconds)
    return BatchChannel(config, DropBox(config, out, intake.trigger).factory(), processor,
                        mutations)


def build_site(settings, registry, db, writer):
    """The hub of one worker: keys, caches, pipeline, endpoints and web resources."""
    from twisted.internet import reactor

    from kszws.hub.exchange_log import ExchangeLog
    from kszws.hub.pipeline import Hub
    from kszws.hub.routing import source_clients
    from kszws.hub.access import AccessControl
    from kszws.hub.fanout import FanOut, FanOutLoop
    from kszws.hub.source_watch import SourceWatch
    from kszws.hub.validation import SchemaCatalogue
    from kszws.security import wsse
    from kszws.security.authn import Authenticator
    from kszws.security.credentials import Credentials
    from kszws.security.replay import ReplayCache
    from kszws.services import EndpointContext, build_endpoints
    from kszws.services.publish import PublishedContract
    from kszws.metrics import State
    from kszws.site import Health, HubSite, Metrics, Router, SoapResource

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
    replay, exchange_log = ReplayCache(db, writer, utcnow), ExchangeLog(db, writer)
    hub = Hub(authenticator, replay, exchange_log, catalogue, identity, utcnow,
              settings.reply_timestamp_ttl_seconds)
    fanout = FanOutLoop(FanOut(db, registry, settings.fanout_batch), utcnow,
                        settings.fanout_interval_seconds,
                        datetime.timedelta(days=settings.mailbox_retention_days))
    sources = source_clients(registry, identity, reactor)
    access = AccessControl(registry.access, db, employments_of(sources))
    context = EndpointContext(registry, utcnow, sources, settings.project_root, db, access,
                              fanout)
    router = Router(hub)
    for name, endpoint in build_endpoints(context, settings.conf_dir / "services.toml").items():
        service = registry.services[name]
        router.add(service.path, SoapResource(hub, endpoint, PublishedContract(service.wsdl)))
    outbound = _add_access_point(router, settings, registry, db, identity, replay,
                                 exchange_log, sources, policy)
    watch = SourceWatch(registry.sources.values(), reactor, utcnow,
                        settings.source_check_seconds)
    eessi = outbound and _inbox_status(db, settings.eessi_backlog_alert_hours)
    router.add("/health", Health(db, identity.certificate, settings.maintenance_flag, utcnow,
                                 sources=watch, eessi=eessi))
    router.add("/metrics", Metrics(State(mailbox=_mailbox_backlog(db), replay=_replay_size(db),
                                         eessi=eessi, sources=watch.status, clock=utcnow)))
    site = HubSite(router, settings.max_body_bytes, settings.read_timeout_seconds,
                   settings.idle_timeout_seconds, settings.max_connections)
    batch = batch_channel(settings, registry, db, hub, access, sources)
    return site, hub, fanout, watch, outbound, batch


def _add_access_point(router, settings, registry, db, identity, replay, exchange_log, sources,
                      policy):
    """The EESSI access point's Outbox and Inbox, when conf/eessi/ configures one."""
    from kszws.eessi import msh, repository, resource
    from kszws.eessi.outbound import Outbound
    from kszws.eessi.persons import national_register_check
    from kszws.hub.persons import SOURCE, NationalRegister

    repo, catalogue = repository.load(settings, registry)
    if repo is None:
        return None
    trust = msh.build_trust(repo, registry)
    access_point = msh.AccessPoint(
        repo, catalogue, trust, identity, db, exchange_log, replay, utcnow,
        national_register_check(NationalRegister(sources[SOURCE])), policy=policy,
        sed_cap=settings.eessi_sed_max_bytes,
        redeliver_after=settings.eessi_redeliver_after_seconds)
    for path, leaf in resource.resources(access_point):
        router.add(path, leaf)
    hub_cert = registry.hub.certificates[0]
    outbound = Outbound(db, repo, trust, identity, (str(hub_cert), str(key_path_for(hub_cert))),
                        exchange_log, utcnow, first_retry=settings.eessi_first_retry_seconds,
                        max_attempts=settings.eessi_max_attempts)
    access_point.on_outbound = outbound.kick
    return outbound


def _reading(db, query):
    """A reader for /health and /metrics: `query(conn, *args)` on a connection of its own
    (they run in a thread, outside any request's transaction)."""
    def read(*args):
        with db.engine.connect() as conn:
            return query(conn, *args)
    return read


def _replay_size(db):
    return _reading(db, lambda conn: conn.exec_driver_sql(
        "SELECT count(*) FROM replay_cache").scalar())


def _mailbox_backlog(db):
    from kszws import mailbox

    return _reading(db, mailbox.backlog)


def _inbox_status(db, alert_hours):
    from kszws.eessi import store

    alert_after = datetime.timedelta(hours=alert_hours)
    return _reading(db, lambda conn, now: store.inbox_status(conn, now, alert_after))


def employments_of(sources):
    """The employer access key's lookup (hub/access.py), on the employer directory source."""
    client = sources.get("employer-directory")
    if client is None:
        return None

    def employments(ssin, start, end):
        d = client.call("employmentRelations", ssin=ssin, startDate=start.isoformat(),
                        endDate=end.isoformat() if end else None)
        return d.addCallback(lambda found: {p.employerCbe for p in found or []})
    return employments


def _tls_factory(settings, site):
    from twisted.protocols.tls import TLSMemoryBIOFactory

    return TLSMemoryBIOFactory(tls_options(settings), False, site)


def tls_options(settings):
    """HTTPS with the hub's TLS certificate; client certificates, when a client CA is set,
    are verified against it (optional unless tls_require_client_certificate): a presented
    certificate that the CA did not issue, or that has expired, fails the handshake."""
    from twisted.internet import ssl

    with open(settings.tls_certificate, "rb") as fh, open(settings.tls_key, "rb") as key:
        cert = ssl.PrivateCertificate.loadPEM(fh.read() + key.read())
    options = dict(privateKey=cert.privateKey.original, certificate=cert.original)
    if settings.tls_client_ca:
        from kszws.eessi.repository import tls_authorities

        authorities = []
        for path in [settings.tls_client_ca, *tls_authorities(settings)]:
            with open(path, "rb") as fh:
                authorities.append(ssl.Certificate.loadPEM(fh.read()).original)
        # Client certificates are checked against the CAs here; WHICH institution (or
        # foreign access point) a certificate belongs to is decided by the registry
        # (security/authn.py) and the Institution Repository (eessi/msh.py).
        options.update(verify=True, caCerts=authorities,
                       requireCertificate=settings.tls_require_client_certificate)
    return ssl.CertificateOptions(**options)


def run_worker(settings, registry, host, port, ready_fd=None):
    """One worker process: its own reactor, database connection and writer thread."""
    from twisted.internet import reactor, task

    from kszws.store import BatchWriter

    from kszws.hub import exchange_stream

    exchange_stream.configure(settings.exchange_lines, settings.exchange_lines_format,
                              settings.project_root)
    db = database_from_settings(settings)
    writer = BatchWriter(db, reactor, settings.log_batch_max, settings.commit_delay_ms / 1000)
    writer.start()
    site, hub, fanout, watch, outbound, batch = build_site(settings, registry, db, writer)
    factory = _tls_factory(settings, site) if settings.main_port_is_https else site
    listeners = [processes.listen(reactor, host, port, factory)]
    if settings.tls_port:  # the same site again, over HTTPS (client certificates)
        listeners.append(processes.listen(reactor, host, settings.tls_port,
                                          _tls_factory(settings, site)))
    if batch is not None:  # the batch channel's drop box, on its own port
        listeners.append(processes.listen(reactor, batch.config.host, batch.config.port,
                                          batch.sftp))

    def drain():
        """Stop accepting, let in-flight exchanges finish, commit the queued log rows."""
        from twisted.internet import defer, threads

        watch.stop()
        stopped = defer.gatherResults([listener.stopListening() for listener in listeners])
        deadline = time.monotonic() + settings.shutdown_grace_seconds

        def idle():
            if hub.in_flight == 0 or time.monotonic() > deadline:
                loop.stop()

        loop = task.LoopingCall(idle)
        d = stopped.addCallback(lambda _: loop.start(0.05))
        d.addCallback(lambda _: fanout.stop())  # a batch under way completes
        if outbound is not None:
            d.addCallback(lambda _: outbound.stop())
        if batch is not None:  # a chunk under way is committed; the file resumes later
            batch.mutations.stop()  # a FO.MUTA under way is redone or finished by the next
            d.addCallback(lambda _: batch.processor.stop())
        d.addCallback(lambda _: threads.deferToThread(writer.stop))
        return d

    reactor.addSystemEventTrigger("before", "shutdown", drain)
    fanout.start()  # also delivers what a killed worker left queued
    watch.start()  # /health's view of the sources, in the background
    if outbound is not None:
        outbound.start(settings.eessi_push_interval_seconds)  # EESSI: pushes abroad
    if batch is not None:
        batch.processor.start()  # also resumes the files a killed worker left running
        batch.mutations.start(batch.config.muta_interval)  # the days' FO.MUTA files
    processes.worker_signals(reactor)
    if settings.gc_tuning:
        gctuning.tune()
    processes.ready(ready_fd)
    reactor.run(installSignalHandlers=False)
    db.dispose()


def serve(settings, host=None, port=None, workers=None, announce=print):
    """Run the hub until SIGTERM/SIGINT. Returns the exit code. `announce(base, registry,
    https_base)` is called once every worker listens; `https_base` is the URL of the
    `tls_port` listener, or None."""
    host = host or settings.host
    port = settings.port if port is None else port
    workers = workers or settings.workers
    registry = prepare(settings)
    # The parent holds the ports (port 0 resolved here) while the workers share them.
    holders = [processes.bound_socket(host, port)]
    port = holders[0].getsockname()[1]
    if settings.tls_port:
        holders.append(processes.bound_socket(host, settings.tls_port))
    batch = _batch_config(settings, registry)
    if batch is not None:  # the drop box's port, shared by the workers like the others
        holders.append(processes.bound_socket(batch.host, batch.port))
    base = processes.base_url("https" if settings.main_port_is_https else "http", host, port)
    https_base = processes.base_url("https", host, settings.tls_port) if settings.tls_port else None
    supervisor = processes.Supervisor(
        lambda ready_fd: run_worker(settings, registry, host, port, ready_fd), workers)
    code = supervisor.run(lambda: announce(base, registry, https_base))
    for holder in holders:
        holder.close()
    return code
