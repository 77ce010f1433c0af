"""Benchmark: TestConnectionService.sendTestMessage over loopback, driven by wrk.

Starts the hub (N workers, SQLite by default, production settings: group-committed
exchange log with synchronous=FULL, shared replay cache) and measures three scenarios:

  unsigned     HTTP Basic (the legacy PHP client's way), unsigned reply
  signed       WS-Security signed request, unsigned reply (institution with sign_replies=false)
  signed-both  signed request, signed reply

Every signed request is distinct (the replay cache refuses a second use), so the bodies
are signed beforehand and wrk sends each once. Prints req/s, p50 and p99 per scenario.

Target (platform issue): 2 workers, signed both ways, 1 KB payload, 16 connections:
>= 1,900 req/s (Metro JAX-WS + WSS4J on the same machine) and p99 <= 15 ms.

    python benchmarks/bench_testconnection.py [--workers 2] [--connections 16]
        [--duration 10] [--scenarios unsigned,signed,signed-both] [--database URL] [--smoke]
"""
import argparse
import base64
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.netfixture import Hub, make_project, reissue_certificate  # noqa: E402

TARGET_RPS, TARGET_P99_MS = 1900, 15.0
PAYLOAD = "kszws benchmark payload " * 42  # ~1 KB of echo text
INTF = "http://kszbcss.fgov.be/intf/TestConnectionServiceService/v1"
ACTION = "http://kszbcss.fgov.be/TestConnectionServiceService/sendTestMessage"

# Each wrk thread formats its share of the requests once, in init(): request() then only
# hands out a ready string, so the load generator spends little CPU of the two cores.
LUA = r"""
local prepared, counter = {}, 0
local tid = 1
function setup(thread)
  thread:set("id", tid)
  thread:set("nthreads", %(threads)d)
  tid = tid + 1
end
function init(args)
  local id = tonumber(wrk.thread:get("id")) or 1
  local nthreads = tonumber(wrk.thread:get("nthreads")) or 1
  local headers = {["Content-Type"] = "text/xml; charset=utf-8",
                   ["SOAPAction"] = '"%(action)s"'%(auth)s}
  local f = assert(io.open("%(bodies)s", "rb"))
  local data = f:read("*a")
  f:close()
  local i = 0
  for b in string.gmatch(data, "([^%%z]+)") do
    if i %% nthreads == id - 1 then
      prepared[#prepared + 1] = wrk.format("POST", "%(path)s", headers, b)
    end
    i = i + 1
  end
end
function request()
  counter = counter + 1
  if counter > #prepared then counter = 1 end
  return prepared[counter]
end
"""


def _sign_chunk(args):
    cert_path, count = args
    from kszws.clock import utcnow
    from kszws.security import wsse
    from kszws.security.keystore import load_signing_identity
    from kszws.wire import soap
    from lxml import etree
    import datetime

    identity = load_signing_identity(cert_path)
    out = []
    for _ in range(count):
        payload = etree.Element("{%s}sendTestMessageRequest" % INTF, nsmap={"v1": INTF})
        etree.SubElement(payload, "echo").text = PAYLOAD
        env = soap.envelope(payload)
        wsse.sign(env, identity, utcnow(), datetime.timedelta(minutes=15), must_understand=True)
        out.append(soap.serialize(env))
    return out


def signed_bodies(cert_path, count):
    procs = os.cpu_count() or 2
    chunks = [(str(cert_path), count // procs + 1) for _ in range(procs)]
    with multiprocessing.Pool(procs) as pool:
        return [b for chunk in pool.map(_sign_chunk, chunks) for b in chunk][:count]


def unsigned_body():
    from kszws.wire import soap
    from lxml import etree

    payload = etree.Element("{%s}sendTestMessageRequest" % INTF, nsmap={"v1": INTF})
    etree.SubElement(payload, "echo").text = PAYLOAD
    return soap.serialize(soap.envelope(payload))


def run_wrk(url, path, bodies, auth, args, workdir):
    threads = min(2, args.connections)
    body_file = workdir / "bodies.bin"
    body_file.write_bytes(b"\0".join(bodies))
    header = ""
    if auth:
        token = base64.b64encode(("%s:%s" % auth).encode()).decode()
        header = ',\n                 ["Authorization"] = "Basic %s"' % token
    script = workdir / "bench.lua"
    script.write_text(LUA % {"bodies": body_file, "threads": threads, "action": ACTION,
                             "auth": header, "path": path})
    cmd = ["wrk", "-t%d" % threads, "-c%d" % args.connections, "-d%ds" % args.duration,
           "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out), out


def _ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "requests": total,
            "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else ""}


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
                bodies, auth = [unsigned_body()], ("E0207311071", password)
            else:
                who = "test-quiet" if scenario == "signed" else "cpas-eupen"
                t0 = time.monotonic()
                bodies = signed_bodies(settings.certs_dir / ("%s.crt" % who), needed)
                print("  (%d signed requests prepared in %.1f s)" % (len(bodies),
                      time.monotonic() - t0), flush=True)
                auth = None
            figures, raw = run_wrk(hub.url, path, bodies, auth, args, workdir)
            if figures["requests"] > len(bodies) and auth is None:
                figures["note"] = "pool of signed requests exhausted: replays refused"
            results.append((scenario, figures))
            print("%-12s %8.0f req/s   p50 %6.2f ms   p99 %6.2f ms   (%d requests, %d non-2xx%s)"
                  % (scenario, figures["rps"], figures["p50"], figures["p99"],
                     figures["requests"], figures["non2xx"],
                     ", socket errors: " + figures["socket_errors"] if figures["socket_errors"] else ""),
                  flush=True)
    finally:
        hub.stop()
    print()
    print("hub: %d workers, %d connections, %d s per scenario, %s, hub key %s, 1 KB payload"
          % (args.workers, args.connections, args.duration,
             "PostgreSQL" if args.database else "SQLite (synchronous=FULL)", args.hub_key))
    both = dict(results).get("signed-both")
    if both and not args.smoke:
        verdict = both["rps"] >= TARGET_RPS and both["p99"] <= TARGET_P99_MS
        print("target signed-both: >= %d req/s and p99 <= %.0f ms: %s (%.0f req/s, p99 %.2f ms)"
              % (TARGET_RPS, TARGET_P99_MS, "MET" if verdict else "NOT MET", both["rps"],
                 both["p99"]))
    failed = [s for s, f in results if f["non2xx"]]
    shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        sys.exit("benchmark: non-2xx answers in %s" % ", ".join(failed))


if __name__ == "__main__":
    main()
