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

Target (platform issue): 2 workers, signed both ways, 1 KB payload, 16 connections:
>= 1,900 req/s (Metro JAX-WS + WSS4J on the same machine) and p99 <= 15 ms.

    python benchmarks/bench_testconnection.py [--workers 2] [--connections 16]
        [--duration 10] [--scenarios unsigned,signed,signed-both] [--database URL] [--smoke]
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import fail, verdict  # noqa: E402
from benchmarks.wrkdriver import line, run_wrk, sign_all  # noqa: E402
from tests.netfixture import Hub, make_project, reissue_certificate  # noqa: E402

TARGET_RPS, TARGET_P99_MS = 1900, 15.0
PAYLOAD = "kszws benchmark payload " * 42  # ~1 KB of echo text
INTF = "http://kszbcss.fgov.be/intf/TestConnectionServiceService/v1"
ACTION = "http://kszbcss.fgov.be/TestConnectionServiceService/sendTestMessage"
# A good reply: the response element (its start and end tags) and no Fault.
EXPECT = [("sendTestMessageResponse", 2), ("Fault>", 0)]

def request_body():
    from kszws.wire import soap
    from lxml import etree

    payload = etree.Element("{%s}sendTestMessageRequest" % INTF, nsmap={"v1": INTF})
    etree.SubElement(payload, "echo").text = PAYLOAD
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
    parser.add_argument("--smoke", action="store_true", help="2 s per scenario, CI size")
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.connections, args.expected_rps = 2, 4, 1500
    if not shutil.which("wrk"):
        sys.exit("benchmark: wrk is not installed (Debian: apt-get install wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="kszws-bench-"))
    settings = make_project(workdir / "project", database_url=args.database,
                            settings={"sqlite_synchronous": '"FULL"'})
    if args.hub_key != "rsa2048":
        reissue_certificate(settings, "kszws-hub", "0209300066", key_type=args.hub_key)
    hub = Hub(settings, workers=args.workers).start()
    results = []
    try:
        path = "/SOA4520/TestConnectionServiceService/sendTestMessage"
        needed = args.expected_rps * args.duration + 2000
        for scenario in args.scenarios.split(","):
            if scenario == "unsigned":
                password = (settings.certs_dir / "cpas-liege.password").read_text().strip()
                bodies, auth = [request_body()], ("E0207311071", password)
            else:
                who = "test-quiet" if scenario == "signed" else "cpas-eupen"
                t0 = time.monotonic()
                bodies = sign_all(settings.certs_dir / ("%s.crt" % who), [request_body()] * needed)
                print("  (%d signed requests prepared in %.1f s)" % (len(bodies),
                      time.monotonic() - t0), flush=True)
                auth = None
            figures, _ = run_wrk(hub.url, path, bodies, ACTION, args.connections, args.duration,
                                 workdir, EXPECT, auth)
            results.append((scenario, figures))
            print(line(scenario, figures), flush=True)
            if figures["failures"]:
                fail("%s: %s" % (scenario, "; ".join(figures["failures"])))
    finally:
        hub.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print("hub: %d workers, %d connections, %d s per scenario, %s, hub key %s, 1 KB payload"
          % (args.workers, args.connections, args.duration,
             "PostgreSQL" if args.database else "SQLite (synchronous=FULL)", args.hub_key))
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


if __name__ == "__main__":
    main()
