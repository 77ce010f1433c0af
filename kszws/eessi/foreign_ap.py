"""A foreign access point for the demo and the tests: `kszws source foreign-ap --country DE`.

A separate process with its own key and certificate (certs/eessi/<AP>.crt, made by
`kszws pki init`), its own store (data/foreign-ap-<CC>.sqlite) and its own exchange log,
speaking the same AS4 profile as kszws: it receives what the Belgian access point pushes
for its institutions (and answers with its signed receipt), lets them pull it, and pushes
what they send to Belgium, retried until the Belgian receipt comes. Its institutions have
no keys of their own in the Repository: the access point signs for them.

It serves HTTPS on the port of its Outbox URL in conf/eessi/repository.toml (or --port),
with client certificates of the kszws CA (the Belgian access point's TLS identity)."""
import sys
from urllib.parse import urlsplit

from kszws.clock import utcnow


def run(settings, args):
    from twisted.internet import defer, reactor, ssl

    from kszws.eessi import msh, repository, resource
    from kszws.eessi.outbound import Outbound
    from kszws.hub.exchange_log import ExchangeLog
    from kszws.registry import load_registry
    from kszws.security.keystore import key_path_for, load_signing_identity
    from kszws.security.replay import ReplayCache
    from kszws.store import BatchWriter, Database

    country = (args.country or "").upper()
    registry = load_registry(settings)
    repo, catalogue = repository.load(settings, registry)
    if repo is None:
        print("kszws: no conf/eessi/repository.toml: no access points", file=sys.stderr)
        return 2
    point = next((p for p in repo.access_points.values()
                  if p.country == country and p.endpoint), None)
    if point is None or not point.certificates:
        known = sorted(p.country for p in repo.access_points.values() if p.endpoint)
        print("kszws: no foreign access point of %r in the Repository (known: %s)"
              % (country, ", ".join(known) or "none"), file=sys.stderr)
        return 2
    cert_path = settings.certs_dir / "eessi" / ("%s.crt" % point.id.replace(":", "-"))
    signer = load_signing_identity(cert_path)
    hub_url = (args.hub or "").rstrip("/")
    if not hub_url.startswith("https://"):
        print("kszws: --hub must be the Belgian access point's HTTPS base URL "
              "(e.g. https://127.0.0.1:8443)", file=sys.stderr)
        return 2

    db = Database("sqlite:///%s" % (settings.data_dir / ("foreign-ap-%s.sqlite" % country)),
                  "NORMAL")
    db.migrate()
    writer = BatchWriter(db, reactor, 64, 0.0005)
    writer.start()
    log = ExchangeLog(db, writer)
    trust = msh.build_trust(repo, registry)
    belgian = next(p.id for p in repo.access_points.values() if not p.endpoint)
    access_point = msh.AccessPoint(
        repo, catalogue, trust, signer, db, log, ReplayCache(db, writer, utcnow), utcnow,
        persons=lambda ssins: defer.succeed(list(ssins)), home=country,
        sed_cap=settings.eessi_sed_max_bytes,
        redeliver_after=settings.eessi_redeliver_after_seconds)
    outbound = Outbound(db, repo, trust, signer, (str(cert_path), str(key_path_for(cert_path))),
                        log, utcnow, first_retry=args.retry_seconds,
                        max_attempts=settings.eessi_max_attempts,
                        endpoints={belgian: (hub_url + msh.OUTBOX_PATH,
                                             str(settings.certs_dir / "ca.crt"))})
    access_point.on_outbound = outbound.kick
    site = resource.site(access_point)

    with open(cert_path, "rb") as fh, open(key_path_for(cert_path), "rb") as key:
        mine = ssl.PrivateCertificate.loadPEM(fh.read() + key.read())
    # TLS clients: the Belgian access point (kszws CA) and its own institutions (its CA).
    authorities = []
    for path in [settings.certs_dir / "ca.crt", *point.tls_authorities]:
        with open(path, "rb") as fh:
            authorities.append(ssl.Certificate.loadPEM(fh.read()).original)
    options = ssl.CertificateOptions(privateKey=mine.privateKey.original,
                                     certificate=mine.original, verify=True,
                                     caCerts=authorities, requireCertificate=False)
    url = urlsplit(point.endpoint)
    port = reactor.listenSSL(args.port if args.port is not None else url.port, site, options,
                             interface=url.hostname or "127.0.0.1")
    outbound.start(settings.eessi_push_interval_seconds)
    print("kszws foreign access point %s ready: https://%s:%d%s (institutions: %s)" % (
        point.id, url.hostname, port.getHost().port, msh.OUTBOX_PATH,
        ", ".join(i.id for i in repo.select(country=country))), flush=True)

    def stop():
        d = outbound.stop()
        from twisted.internet import threads
        return d.addBoth(lambda _: threads.deferToThread(writer.stop))

    reactor.addSystemEventTrigger("before", "shutdown", stop)
    from kszws import processes
    processes.worker_signals(reactor)
    reactor.run(installSignalHandlers=False)
    db.dispose()
    return 0

