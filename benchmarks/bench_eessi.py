"""Benchmark: the EESSI access point both ways (issue 13, item 9).

Inbound: a German access point (this script, with the German access point's key) pushes N
SEDs of ~50 KB (~8 KB gzip-compressed), each naming a Belgian worker, to the hub's Outbox
over HTTPS; three Belgian institutions (RSZ, RVA, SFP) pull their channels (each with
--pullers clients at once) and send their receipts at the same time. Outbound: the three
push N SEDs for a German institution; the hub pushes them to the demo's German access
point (`kszws source foreign-ap`, a separate process) and takes its receipts. Prints per direction: SEDs/s end to end (first push to
last receipt), the push latency (p50, p99 from 1,000 samples, else max), and the peer: the
same pushes' rate with what the hub does for them measured in one process
(AccessPoint.handle: parse, verify, inflate, SBDH, rules, store; no HTTP, TLS, register).

Every answer is checked: each push gets a receipt for its message, each message is pulled
exactly once and its receipt accepted, every outbound message ends delivered and is in the
German store once. A failure fails the run. Targets on 2 cores, judged at 10,000 SEDs per
direction only: >= 100 SEDs/s end to end each way, p99 of a push <= 200 ms.

With --kill, the hub is SIGKILLed in the middle of each direction and restarted: pushes
that failed are resent (same MessageId), and still every message is delivered exactly once
with matching receipts.

    python benchmarks/bench_eessi.py [--seds 10000] [--concurrency 16] [--workers 2]
        [--pullers 3] [--kill] [--smoke]
"""
import argparse
import concurrent.futures
import gzip
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from lxml import etree  # noqa: E402

from benchmarks.report import (cpu_seconds, fail, headline, moved, percentiles,  # noqa: E402
                               scrape, verdict)
from kszws.eessi import ebms, mime, signature  # noqa: E402
from kszws.security import keystore  # noqa: E402
from tests import eessitools  # noqa: E402
from tests.netfixture import (ForeignAccessPoint, Hub, free_port, make_project,  # noqa: E402
                              seed_national_register, Source)

TARGET_SEDS = 10_000
TARGET_RATE = 100.0
TARGET_P99 = 0.200
TLS = {"tls_certificate": '"certs/kszws-hub.crt"', "tls_key": '"certs/kszws-hub.key"',
       "tls_client_ca": '"certs/ca.crt"'}
BELGIAN = {"BE:RSZ01": "rsz-onss", "BE:RVA01": "onem-rva", "BE:SFP01": "onp-rvp"}
GERMAN = "DE:101002970"
WORKERS = ["70100853190", "72030512297", "85473003317", "60010100370"]  # demo register
OUTBOX = "/EESSI/BusinessMessaging/v0.0/Outbox/Service.svc"
INBOX = "/EESSI/BusinessMessaging/v0.0/Inbox/Service.svc"


def sed(i, sender, receiver):
    """An H001 (H_BUC_01, a new case) of ~50 KB naming a Belgian worker: the header of
    tests/eessitools, the body grown with employment records as a SED carries them."""
    rng = random.Random(i)
    doc = eessitools.sed(sender, receiver, sed_type="H001", buc="H_BUC_01",
                         case_id="bench-%d-%s" % (i, sender), ssins=[WORKERS[i % len(WORKERS)]])
    records = "".join(
        "<Record><Employer><Name>Employer %d</Name><Identification>%010d</Identification>"
        "</Employer><Period><StartDate>20%02d-%02d-01</StartDate><EndDate>20%02d-%02d-28"
        "</EndDate></Period><Amount currency=\"EUR\">%d.%02d</Amount><Hours>%d</Hours>"
        "</Record>" % (rng.randrange(10 ** 4), rng.randrange(10 ** 10), rng.randrange(25),
                       rng.randrange(1, 13), rng.randrange(25), rng.randrange(1, 13),
                       rng.randrange(10 ** 5), rng.randrange(100), rng.randrange(2000))
        for _ in range(170))
    return doc.replace(b"</InsuredPerson>", b"</InsuredPerson>" + records.encode())


class Side:
    """One party's HTTPS session per thread, signing key and TLS identity."""

    def __init__(self, certs, cert_name, ca):
        cert = certs / cert_name
        self.key = keystore.load_signing_identity(cert)
        self.tls = (str(cert), str(keystore.key_path_for(cert)))
        self.ca = str(certs / ca)
        self.local = threading.local()

    def post(self, url, content_type, body, timeout=30):
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        # cert and verify per request: requests lets REQUESTS_CA_BUNDLE override a
        # Session's verify, not a request's.
        return session.post(url, data=body, headers={"Content-Type": content_type},
                            cert=self.tls, verify=self.ca, timeout=timeout)


def build(side, sender, receivers, count, offset):
    """count signed (message, content type, body) from `sender`, receivers in turn."""
    out = []
    for i in range(count):
        receiver = receivers[i % len(receivers)]
        message = eessitools.user_message(sender, receiver, eessitools.now(),
                                          conversation="bench-%d" % (offset + i))
        out.append((message, *eessitools.package(message, sed(offset + i, sender, receiver),
                                                 side.key)))
    return out


def push_all(side, url, packages, concurrency, hub=None, kill_at=None):
    """Push every package until it has its receipt (a connection refused while the hub
    restarts is retried with the same MessageId); returns the latencies of the pushes."""
    latencies, killed = [], threading.Event()

    def one(index_package):
        index, (message, content_type, body) = index_package
        if kill_at is not None and index == kill_at and not killed.is_set():
            killed.set()
            hub.kill_and_restart()
        deadline = time.monotonic() + 120
        while True:
            t = time.perf_counter()
            try:
                reply = side.post(url + OUTBOX, content_type, body)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if _misconfigured(exc) or time.monotonic() > deadline:
                    fail("push of %s: %s" % (message.message_id, exc))
                time.sleep(0.2)  # the hub restarting after a kill: the same message again
                continue
            if reply.status_code == 503:  # EBMS:0201 or a withheld answer: resend later
                time.sleep(0.2)
                continue
            latencies.append(time.perf_counter() - t)
            signal_ = ebms.read(etree.fromstring(reply.content))
            if signal_.kind != "receipt" or signal_.ref_to_message_id != message.message_id:
                fail("push of %s answered %s" % (message.message_id, signal_.errors or
                                                 signal_.kind))
            return

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, enumerate(packages)))
    return latencies


def pull_until(side, url, institution, expected, seen, got, deadline):
    """Pull `institution`'s channel and acknowledge until `expected` messages came (one of
    the institution's pullers: `got[institution]` counts what all of them took); `seen`
    collects the messages' ids."""
    trust = keystore.TrustStore()
    trust.add(keystore.load_certificate(ROOT_CERTS[0] / "eessi" / "DE-APDE01.crt"),
              "DE:APDE01")
    idle = 0.0  # the pause after an empty channel, doubled while it stays empty
    while got[institution] < expected:
        if time.monotonic() > deadline:
            fail("%s pulled %d of %d" % (institution, got[institution], expected))
        request = ebms.pull_request_envelope(ebms.mpc_of(institution), eessitools.now())
        signature.sign(request, {}, side.key)
        try:
            reply = side.post(url + INBOX, *mime.write(etree.tostring(request), []))
        except (requests.ConnectionError, requests.Timeout) as exc:
            if _misconfigured(exc):
                fail("pull of %s: %s" % (institution, exc))
            time.sleep(0.2)
            continue
        if reply.status_code != 200:
            time.sleep(0.2)
            continue
        package = mime.read(reply.headers.get("Content-Type", ""), reply.content)
        root = etree.fromstring(package.envelope)
        message = ebms.read(root)
        if isinstance(message, ebms.Signal):
            if message.errors and message.errors[0][0] != "EBMS:0006":
                fail("pull of %s answered %s" % (institution, message.errors))
            # An empty channel: wait before asking again, longer each time (up to 0.4 s),
            # as a pulling institution does; each empty pull costs the hub a signed answer.
            idle = min(0.4, max(0.025, 2 * idle))
            time.sleep(idle)
            continue
        idle = 0.0
        verified = signature.verify(root, package.attachments, trust, eessitools.now())
        receipt = ebms.receipt_envelope(message, verified.references, eessitools.now())
        signature.sign(receipt, {}, side.key)
        while True:
            try:
                answer = side.post(url + OUTBOX, *mime.write(etree.tostring(receipt), []))
                break
            except (requests.ConnectionError, requests.Timeout) as exc:
                if _misconfigured(exc) or time.monotonic() > deadline:
                    fail("receipt of %s: %s" % (institution, exc))
                time.sleep(0.2)
        if answer.status_code != 200 or answer.content:
            fail("the receipt of %s for %s was refused: %r" % (institution, message.message_id,
                                                              answer.content[:300]))
        with LOCK:
            if message.message_id in seen:
                # A message pulled, not yet receipted, when the hub was killed is offered
                # again: that is at-least-once pulling, and the receipt makes it once.
                seen[message.message_id] += 1
                continue
            seen[message.message_id] = 1
            got[institution] += 1


def _misconfigured(exc):
    """A TLS failure that waiting will not cure (a certificate the client does not trust);
    a connection cut during the handshake (the hub killed) is retried."""
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "unknown ca" in str(exc)


LOCK = threading.Lock()
ROOT_CERTS = []


def delivered(settings, ids, db_path=None):
    from sqlalchemy import func, select

    from kszws.store import Database
    from kszws.store.schema import as4_message
    db = Database(db_path or settings.store_url)
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(select(as4_message.c.message_id, as4_message.c.state)
                                .where(as4_message.c.message_id.in_(list(ids)))).all()
            total = conn.execute(select(func.count()).select_from(as4_message)).scalar()
    finally:
        db.dispose()
    return rows, total


class Restartable:
    def __init__(self, settings, workers):
        self.settings, self.workers = settings, workers
        self.hub = Hub(settings, workers=workers).start()
        self.kills = 0

    def kill_and_restart(self):
        os.killpg(self.hub.proc.pid, signal.SIGKILL)
        self.hub.proc.wait()
        self.kills += 1
        self.hub = Hub(self.settings, workers=self.workers).start()

    def stop(self):
        self.hub.stop()


def in_process_rate(settings, packages):
    """The peer: what the hub does for each push, in one process without HTTP."""
    from unittest import mock

    from twisted.internet import defer

    from kszws.eessi import msh, repository
    from kszws.registry import load_registry
    from kszws.security.authn import Transport
    from kszws.store import Database
    from kszws.store import db as db_module

    registry = load_registry(settings)
    repo, catalogue = repository.load(settings, registry)
    db = Database("sqlite:///%s" % (settings.data_dir / "peer.sqlite"), "NORMAL")
    db.migrate()

    class Log:
        def record(self, exchange):
            return defer.succeed(1)

    ap = msh.AccessPoint(repo, catalogue, msh.build_trust(repo, registry),
                         keystore.load_signing_identity(registry.hub.certificates[0]), db,
                         Log(), None, eessitools.now, lambda s: defer.succeed(list(s)),
                         require_tls=False)
    transport = Transport("127.0.0.1", b"", b"", True)
    with mock.patch.object(db_module.threads, "deferToThread",
                           lambda f, *a, **k: defer.maybeDeferred(f, *a, **k)):
        t = time.perf_counter()
        for _, content_type, body in packages:
            ap.handle("Outbox", transport, body, content_type)
        elapsed = time.perf_counter() - t
    db.dispose()
    return len(packages) / elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seds", type=int, default=TARGET_SEDS)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pullers", type=int, default=3,
                        help="clients pulling each institution's channel at once")
    parser.add_argument("--kill", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="300 SEDs each way")
    args = parser.parse_args(argv)
    count = 300 if args.smoke else args.seds
    not_full = None if count == TARGET_SEDS else "%d SEDs, the target is stated for %d" % (
        count, TARGET_SEDS)

    tmp = Path(tempfile.mkdtemp(prefix="bench-eessi-"))
    settings = make_project(tmp, settings={
        **TLS, "tls_port": str(free_port()), "push_interval_seconds": "0.1",
        "first_retry_seconds": "0.5", "max_attempts": "30", "sqlite_synchronous": '"NORMAL"',
        "redeliver_after_seconds": "5.0"})
    ROOT_CERTS.append(settings.certs_dir)
    seed_national_register(settings)
    source = Source(settings).start()
    hub = Restartable(settings, args.workers)
    german = ForeignAccessPoint(settings, "DE", hub.hub.https_url, retry_seconds=0.5).start()
    https = hub.hub.https_url
    try:
        de = Side(settings.certs_dir, "eessi/DE-APDE01.crt", "ca.crt")
        belgians = {inst: Side(settings.certs_dir, "%s.crt" % name, "ca.crt")
                    for inst, name in BELGIAN.items()}
        print("eessi benchmark: %d SEDs each way, %d concurrent pushes, %d pullers per "
              "institution, %d hub workers%s"
              % (count, args.concurrency, args.pullers, args.workers,
                 ", hub SIGKILLed mid-run" if args.kill else ""), flush=True)

        t = time.perf_counter()
        inbound = build(de, GERMAN, list(BELGIAN), count, 0)
        sed_size = len(sed(0, GERMAN, "BE:RSZ01"))
        packed = len(gzip.compress(sed(0, GERMAN, "BE:RSZ01")))
        print("  %d inbound messages built and signed in %.1f s (SED %d bytes, %d gzipped)"
              % (count, time.perf_counter() - t, sed_size, packed), flush=True)
        peer = in_process_rate(settings, build(de, GERMAN, list(BELGIAN), min(count, 500),
                                               10 ** 6))

        # -- inbound: Germany -> the three Belgian institutions --------------------------
        seen, got = {}, dict.fromkeys(BELGIAN, 0)
        share = {inst: sum(1 for i in range(count) if list(BELGIAN)[i % 3] == inst)
                 for inst in BELGIAN}
        deadline = time.monotonic() + max(600, count)
        pullers = [threading.Thread(target=pull_until, args=(
            belgians[inst], https, inst, share[inst], seen, got, deadline))
            for inst in BELGIAN for _ in range(args.pullers)]
        cpu = CpuWatch({"hub": lambda: hub.hub.proc.pid, "register": lambda: source.proc.pid,
                        "German access point": lambda: german.proc.pid},
                       lambda: hub.hub.url + "/metrics")
        t0 = time.perf_counter()
        for p in pullers:
            p.start()
        latencies = push_all(de, https, inbound, args.concurrency, hub,
                             count // 2 if args.kill else None)
        for p in pullers:
            p.join()
        elapsed_in = time.perf_counter() - t0
        ids = [m.message_id for m, _, _ in inbound]
        rows, _ = delivered(settings, ids)
        states = {r.message_id: r.state for r in rows}
        if len(seen) != count or set(seen) != set(ids):
            fail("inbound: %d distinct messages pulled of %d" % (len(seen), count))
        if any(states.get(i) != "delivered" for i in ids):
            fail("inbound: %d of %d not delivered" % (sum(states.get(i) != "delivered"
                                                          for i in ids), count))
        again = sum(n - 1 for n in seen.values())
        report("inbound (DE -> 3 Belgian institutions)", count, elapsed_in, latencies, peer,
               args.smoke, not_full)
        print("    every message pulled once and receipted (%d offered again after the "
              "kill, receipted once)" % again, flush=True)
        if not args.kill:  # a killed hub's CPU time is gone with it
            cpu.report(count)

        # -- outbound: the three Belgian institutions -> Germany --------------------------
        outbound = []
        for n, inst in enumerate(BELGIAN):
            outbound += build(belgians[inst], inst, [GERMAN],
                              share[inst], 10 ** 5 * (n + 1))
        cpu.restart()  # not the building and signing above
        t0 = time.perf_counter()
        by_sender = {inst: [p for p in outbound if p[0].from_party == inst] for inst in BELGIAN}
        threads_ = []
        results = {}

        def push_for(inst):  # the three push at the same time, each with its own key
            results[inst] = push_all(belgians[inst], https, by_sender[inst],
                                     max(1, args.concurrency // 3), hub,
                                     len(by_sender[inst]) // 2 if args.kill and inst ==
                                     "BE:RSZ01" else None)
        for inst in BELGIAN:
            threads_.append(threading.Thread(target=push_for, args=(inst,)))
            threads_[-1].start()
        for th in threads_:
            th.join()
        latencies = [x for v in results.values() for x in v]
        ids = [m.message_id for m, _, _ in outbound]
        deadline = time.monotonic() + max(600, count)
        while True:
            rows, _ = delivered(settings, ids)
            done = sum(1 for r in rows if r.state == "delivered")
            if done == count:
                break
            if time.monotonic() > deadline:
                fail("outbound: %d of %d delivered (states: %s)" % (
                    done, count, sorted({r.state for r in rows})))
            time.sleep(0.2)
        elapsed_out = time.perf_counter() - t0
        german_rows, german_total = delivered(
            settings, ids, "sqlite:///%s" % (settings.data_dir / "foreign-ap-DE.sqlite"))
        if len(german_rows) != count:
            fail("outbound: the German store holds %d of %d" % (len(german_rows), count))
        report("outbound (3 Belgian institutions -> DE)", count, elapsed_out, latencies, None,
               args.smoke, not_full)
        print("    every message delivered once: the German store holds each once",
              flush=True)
        if not args.kill:
            cpu.report(count)
        if args.kill:
            print("  the hub was SIGKILLed %d times and restarted" % hub.kills, flush=True)
    finally:
        german.stop()
        hub.stop()
        source.stop()
    return 0


class CpuWatch:
    """CPU time per SED of each process of the run (the hub with its workers, the register,
    the German access point, this script): with every process on the same cores, their
    sum bounds the rate (cores / CPU seconds per SED)."""

    def __init__(self, processes, metrics_url):
        self.processes = processes  # {name: a function giving its pid now}
        self.metrics_url = metrics_url  # a function: a killed hub comes back on another port
        self.start = self._now()
        self.scraped = scrape(metrics_url())

    def _now(self):
        mine = os.times()
        return {**{name: cpu_seconds(pid()) for name, pid in self.processes.items()},
                "this script (client side)": mine.user + mine.system}

    def report(self, count):
        now = self._now()
        spent = {name: (now[name] - self.start[name]) / count for name in now}
        total = sum(spent.values())
        print("    CPU per SED: %s; total %.1f ms: %d cores allow at most %.0f SEDs/s" % (
            ", ".join("%s %.1f ms" % (name, 1000 * v) for name, v in spent.items()),
            1000 * total, os.cpu_count(), os.cpu_count() / total if total else 0), flush=True)
        scraped = scrape(self.metrics_url())
        print("    the hub's /metrics during the run: %s" % moved(self.scraped, scraped, (
            "kszws_exchanges_total", "kszws_source_call_seconds_count",
            "kszws_log_batch_size_count")), flush=True)
        self.start, self.scraped = now, scraped

    def restart(self):
        self.start, self.scraped = self._now(), scrape(self.metrics_url())


def report(what, count, elapsed, latencies, peer, smoke, not_full):
    rate = count / elapsed
    p50, tail, label = percentiles(latencies)
    headline("EESSI %s" % what, "SEDs end to end", rate, "SEDs/s",
             "the access point's own work in one process" if peer else None, peer or None,
             target=">= %d" % TARGET_RATE, verdict_text=verdict(rate >= TARGET_RATE, smoke,
                                                                not_full))
    headline("EESSI %s" % what, "push latency " + label.split()[0], 1000 * tail, "ms",
             higher_is_better=False, target="p99 <= %d ms" % (1000 * TARGET_P99),
             verdict_text=verdict(tail <= TARGET_P99 and label.startswith("p99"), smoke,
                                  not_full))
    print("  %s: %d SEDs in %.1f s = %.0f SEDs/s end to end (target >= %d: %s)" % (
        what, count, elapsed, rate, TARGET_RATE,
        verdict(rate >= TARGET_RATE, smoke, not_full)), flush=True)
    print("    push latency p50 %.1f ms, %s %.1f ms (target p99 <= %d ms: %s)" % (
        1000 * p50, label, 1000 * tail, 1000 * TARGET_P99,
        verdict(tail <= TARGET_P99 and label.startswith("p99"), smoke, not_full)), flush=True)
    if peer:
        print("    peer: the access point's own work in one process, %.0f pushes/s "
              "(HTTP + TLS + the register + group commit cost the rest: ratio %.2f)"
              % (peer, rate / peer), flush=True)


if __name__ == "__main__":
    sys.exit(main())
