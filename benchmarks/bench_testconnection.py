"""Benchmark: TestConnectionService.sendTestMessage over loopback, driven by wrk.

Starts the hub (N workers, SQLite by default, production settings: group-committed
exchange log with synchronous=FULL, shared replay cache) and measures three scenarios:

  unsigned     HTTP Basic (the legacy PHP client's way), unsigned reply
  signed       WS-Security signed request, unsigned reply (institution with sign_replies=false)
  signed-both  signed request, signed reply

Every signed request is distinct (the replay cache refuses a second use), so the bodies
are signed beforehand and wrk sends each once. Every reply is checked (HTTP 200, the
sendTestMessageResponse, no Fault); a socket error, a timeout or a failed reply fails the run
(exit status 1). Prints req/s, p50 and p99 per scenario (the max below 1,000 requests).

With --peer: signed both ways, the Java peer (benchmarks/peers/java/: Apache WSS4J on the
JDK's HTTP server, 2 threads, the same verification and reply signature, no replay cache
and no exchange log) and then the hub, at 1 KB and 16 KB payloads (or --payload-kb), each
after the same warm-up (--warmup seconds of the same load: the JVM compiles its hot code
in the first ~30 s), with the same wrk load and freshly signed distinct requests for both.
Prints both side by side with their CPU per request, and the ratios hub/peer (issue 17's
target: the hub's req/s >= the peer's, its p99 <= the peer's). Where the JDK or Debian's
WSS4J is absent, says so in one line and measures the hub alone.

Target (platform issue): 2 workers, signed both ways, 1 KB payload, 16 connections:
>= 1,900 req/s (Metro JAX-WS + WSS4J on the same machine) and p99 <= 15 ms.

    python benchmarks/bench_testconnection.py [--workers 2] [--connections 16]
        [--duration 10] [--scenarios unsigned,signed,signed-both] [--database URL] [--smoke]
        [--payload-kb 1] [--peer [--warmup 30]]
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.peers.java import peer as java_peer  # noqa: E402
from benchmarks.report import cpu_seconds, fail, headline, verdict  # noqa: E402
from benchmarks.wrkdriver import line, run_wrk, sign_all  # noqa: E402
from tests.netfixture import Hub, make_project, reissue_certificate  # noqa: E402

TARGET_RPS, TARGET_P99_MS = 1900, 15.0
PAYLOAD = "kszws benchmark payload " * 42  # ~1 KB of echo text
INTF = "http://kszbcss.fgov.be/intf/TestConnectionServiceService/v1"
ACTION = "http://kszbcss.fgov.be/TestConnectionServiceService/sendTestMessage"
PATH = "/SOA4520/TestConnectionServiceService/sendTestMessage"
# A good reply: the response element (its start and end tags) and no Fault.
EXPECT = [("sendTestMessageResponse", 2), ("Fault>", 0)]
SIGNER = "cpas-eupen"  # signs the signed-both requests; wants signed replies
# --peer: pools hold 1.5 x the requests the last rate needs (the machine is shared, rates
# move); signing them (~700 a second on 2 busy cores) takes about as long as the runs.
MARGIN = 1.5


def request_body(kb=1):
    """A sendTestMessage envelope with `kb` KB of echo text."""
    from kszws.wire import soap
    from lxml import etree

    payload = etree.Element("{%s}sendTestMessageRequest" % INTF, nsmap={"v1": INTF})
    etree.SubElement(payload, "echo").text = PAYLOAD * kb
    return soap.serialize(soap.envelope(payload))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--scenarios", default="unsigned,signed,signed-both")
    parser.add_argument("--database", default="", help="database URL (default: SQLite)")
    parser.add_argument("--hub-key", default="rsa2048", choices=["rsa2048", "ec256"],
                        help="the hub's signing key (replies); clients sign with RSA-2048")
    parser.add_argument("--expected-rps", type=int, default=3000,
                        help="sizes the pool of pre-signed requests")
    parser.add_argument("--payload-kb", type=int, default=None,
                        help="echo text in KB (default 1; with --peer: 1 and 16)")
    parser.add_argument("--peer", action="store_true",
                        help="signed both ways: the Java peer, then the hub, and the ratios")
    parser.add_argument("--warmup", type=int, default=30,
                        help="with --peer: seconds of load before each measurement")
    parser.add_argument("--smoke", action="store_true", help="2 s per scenario, CI size")
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.connections, args.expected_rps = 2, 4, 1500
        args.warmup = min(args.warmup, 2)
    if not shutil.which("wrk"):
        sys.exit("benchmark: wrk is not installed (Debian: apt-get install wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="kszws-bench-"))
    settings = make_project(workdir / "project", database_url=args.database,
                            settings={"sqlite_synchronous": '"FULL"'})
    if args.hub_key != "rsa2048":
        reissue_certificate(settings, "kszws-hub", "0209300066", key_type=args.hub_key)
    try:
        if args.peer:
            compare_with_peer(args, settings, workdir)
        else:
            scenarios(args, settings, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def scenarios(args, settings, workdir):
    """The hub alone: each scenario of --scenarios, one after the other."""
    kb = args.payload_kb or 1
    hub = Hub(settings, workers=args.workers).start()
    results = []
    try:
        needed = args.expected_rps * args.duration + 2000
        for scenario in args.scenarios.split(","):
            if scenario == "unsigned":
                password = (settings.certs_dir / "cpas-liege.password").read_text().strip()
                bodies, auth = [request_body(kb)], ("E0207311071", password)
            else:
                who = "test-quiet" if scenario == "signed" else SIGNER
                t0 = time.monotonic()
                bodies = sign_all(settings.certs_dir / ("%s.crt" % who),
                                  [request_body(kb)] * needed)
                print("  (%d signed requests prepared in %.1f s)" % (len(bodies),
                      time.monotonic() - t0), flush=True)
                auth = None
            figures, _ = run_wrk(hub.url, PATH, bodies, ACTION, args.connections, args.duration,
                                 workdir, EXPECT, auth)
            results.append((scenario, figures))
            print(line(scenario, figures), flush=True)
            if figures["failures"]:
                fail("%s: %s" % (scenario, "; ".join(figures["failures"])))
    finally:
        hub.stop()
    print()
    print("hub: %d workers, %d connections, %d s per scenario, %s, hub key %s, %d KB payload"
          % (args.workers, args.connections, args.duration,
             "PostgreSQL" if args.database else "SQLite (synchronous=FULL)", args.hub_key, kb))
    both = dict(results).get("signed-both")
    if both:
        # The target is stated for 2 workers and 16 connections; its p99 needs 1,000 requests.
        not_full = None
        if (args.workers, args.connections) != (2, 16):
            not_full = "the target is for 2 workers and 16 connections"
        elif both["requests"] < 1000:
            not_full = "a p99 needs 1,000 requests, there were %d" % both["requests"]
        met = both["rps"] >= TARGET_RPS and both["p99"] <= TARGET_P99_MS
        print("target signed-both: >= %d req/s and p99 <= %.0f ms: %s (%.0f req/s, %s %.2f ms)"
              % (TARGET_RPS, TARGET_P99_MS, verdict(met, args.smoke, not_full), both["rps"],
                 both["tail_label"], both["tail"]))


def compare_with_peer(args, settings, workdir):
    """Signed both ways, per payload size: the Java peer, then the hub, on the same signed
    requests (each target sees each once: the hub's replay cache is its own), so both get
    the same warm-up and the same load; both processes stay up, idle while the other runs."""
    sizes = [args.payload_kb] if args.payload_kb else [1, 16]
    absent = java_peer.missing()
    if absent:
        print(absent, flush=True)
    targets = []
    try:
        if not absent:
            keystore, truststore = java_peer.write_stores(settings.certs_dir, workdir,
                                                          trusted=(SIGNER,))
            peer = java_peer.JavaPeer(java_peer.build(workdir / "java"), keystore, truststore,
                                      workdir / "peer.stderr").start()
            print("peer: WSS4J 1.6.19 on the JDK's HttpServer, %s" % peer.banner, flush=True)
            targets.append(("peer", peer))
        hub = Hub(settings, workers=args.workers).start()
        targets.append(("hub", hub))
        results = {}
        for kb in sizes:
            rate = warm_up(args, settings, workdir, targets, kb)
            bodies = signed_pool(settings, kb, rate * args.duration * MARGIN)
            for name, process in targets:
                label = "%2d KB %s" % (kb, name)
                figures = signed_run(args, workdir, process, bodies, args.duration)
                print(line(label, figures) + cpu_text(figures), flush=True)
                if figures.get("note"):  # the peer would accept replays: not distinct
                    figures["failures"].append(figures["note"])
                if figures["failures"]:
                    fail("%s: %s" % (label, "; ".join(figures["failures"])))
                results[kb, name] = figures
    finally:
        for _, process in targets:
            process.stop()

    print()
    print("signed both ways, %d connections, %d s after %d s of warm-up; hub: %d workers, %s; "
          "peer: 2 threads, no replay cache, no log"
          % (args.connections, args.duration, args.warmup, args.workers,
             "PostgreSQL" if args.database else "SQLite synchronous=FULL"))
    for kb in sizes:
        hub_figures = results[kb, "hub"]
        peer, peer_figures, judged = None, {}, None  # without a JDK: the hub alone
        if not absent:
            peer, peer_figures = "Java WSS4J endpoint", results[kb, "peer"]
            print(line("%2d KB peer" % kb, peer_figures) + cpu_text(peer_figures))
        print(line("%2d KB hub" % kb, hub_figures) + cpu_text(hub_figures))
        if not absent:
            text, judged = ratio_line(kb, hub_figures, peer_figures, args)
            print(text)
        name = "TestConnection signed both ways, %d KB" % kb
        headline(name, "throughput", hub_figures["rps"], "req/s", peer,
                 peer_figures.get("rps"), target=">= 1.0 x the peer", verdict_text=judged)
        headline(name, hub_figures["tail_label"].split()[0] + " latency", hub_figures["tail"],
                 "ms", peer, peer_figures.get("tail"), higher_is_better=False,
                 target="<= 1.0 x the peer")
        if "cpu_ms" in hub_figures:
            headline(name, "CPU per request", hub_figures["cpu_ms"], "ms", peer,
                     peer_figures.get("cpu_ms"), higher_is_better=False)


def warm_up(args, settings, workdir, targets, kb):
    """--warmup seconds of the measured load on each target, in wrk runs of at most 10 s,
    each target in turn on the same pool, sized from the previous run's rate (the first run,
    2 s, from --expected-rps, an upper guess): one pool for the whole warm-up at a guessed
    rate would take minutes to sign at 16 KB. Returns the last runs' highest rate (req/s)."""
    left, chunk, rate, margin = args.warmup, 2, args.expected_rps, 1
    while left > 0:
        run = min(chunk, left)
        bodies = signed_pool(settings, kb, rate * run * margin)
        rates = []
        for name, process in targets:
            figures = signed_run(args, workdir, process, bodies, run)
            # Shown, not fatal: a cold JVM may keep a request past wrk's 2 s timeout. The
            # measured run fails on any failure.
            if figures["failures"]:
                print("  (%2d KB %s warm-up, %d s: %s)" % (kb, name, run,
                                                        "; ".join(figures["failures"])[:300]))
            rates.append(figures["rps"])
            if left <= run:
                print(line("%2d KB %s warm-up" % (kb, name), figures) + " (its last run)",
                      flush=True)
        rate, left, chunk, margin = max(rates + [20]), left - run, 10, MARGIN
    return rate


def signed_pool(settings, kb, count):
    """`count` (and 200 more) distinct requests of `kb` KB, signed now."""
    envelopes = [request_body(kb)] * (int(count) + 200)
    return sign_all(settings.certs_dir / ("%s.crt" % SIGNER), envelopes)


def signed_run(args, workdir, process, bodies, seconds):
    """One wrk run of `seconds` over `bodies`, with the CPU `process` and its children
    spent per request."""
    cpu = cpu_seconds(process.proc.pid)
    figures, _ = run_wrk(process.url, PATH, bodies, ACTION, args.connections, seconds, workdir,
                         EXPECT)
    if figures["requests"]:
        figures["cpu_ms"] = (cpu_seconds(process.proc.pid) - cpu) * 1000 / figures["requests"]
    return figures


def cpu_text(figures):
    return "   cpu %.2f ms/req" % figures["cpu_ms"] if "cpu_ms" in figures else ""


def ratio_line(kb, hub, peer, args):
    """hub/peer for req/s, the tail and CPU per request; the verdict on issue 17's target
    (stated for 2 workers against the peer's 2 threads, 16 connections, a p99 of each)."""
    not_full = None
    if (args.workers, args.connections) != (2, 16):
        not_full = "the target is for 2 workers and 16 connections"
    elif min(hub["requests"], peer["requests"]) < 1000:
        not_full = "a p99 needs 1,000 requests"
    met = hub["rps"] >= peer["rps"] and hub["tail"] <= peer["tail"]
    cpu = "%.2fx" % (hub["cpu_ms"] / peer["cpu_ms"]) if peer.get("cpu_ms") else "?"
    judged = verdict(met, args.smoke, not_full)
    return ("%2d KB hub/peer: req/s %.2fx, %s %.2fx, cpu/req %s   target (req/s >= 1.0x, "
            "p99 <= 1.0x): %s"
            % (kb, hub["rps"] / peer["rps"], hub["tail_label"].split()[0],
               hub["tail"] / peer["tail"], cpu, judged)), judged


if __name__ == "__main__":
    main()
