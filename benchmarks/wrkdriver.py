"""Driving the hub with Debian's wrk: requests formatted once per wrk thread (each sent
once: signed requests are refused if replayed), figures parsed from wrk's report."""
import base64
import re
import subprocess

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


def run_wrk(url, path, bodies, action, connections, duration, workdir, auth=None):
    """wrk over `bodies` (each sent once while there are enough), with `auth` = (user,
    password) for HTTP Basic. Returns (figures, wrk's report)."""
    threads = min(2, connections)
    body_file = workdir / "bodies.bin"
    body_file.write_bytes(b"\0".join(bodies))
    header = ""
    if auth:
        token = base64.b64encode(("%s:%s" % auth).encode()).decode()
        header = ',\n                   ["Authorization"] = "Basic %s"' % token
    script = workdir / "bench.lua"
    script.write_text(LUA % {"bodies": body_file, "threads": threads, "action": action,
                             "auth": header, "path": path})
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--latency",
           "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    figures = parse_wrk(out)
    if figures["requests"] > len(bodies) > 1:
        figures["note"] = "the pool of distinct requests ran out: replays were refused"
    return figures, out


def _sign_chunk(job):
    cert_path, envelopes = job
    import datetime

    from kszws.clock import utcnow
    from kszws.security import wsse
    from kszws.security.keystore import load_signing_identity
    from kszws.wire import soap, xmlparse

    identity = load_signing_identity(cert_path)
    out = []
    for data in envelopes:
        env = xmlparse.parse(data)
        wsse.sign(env, identity, utcnow(), datetime.timedelta(minutes=15), must_understand=True)
        out.append(soap.serialize(env))
    return out


def sign_all(cert_path, envelopes):
    """Sign every envelope (bytes) with the institution key beside `cert_path`, on all cores."""
    import multiprocessing
    import os

    procs = os.cpu_count() or 2
    chunks = [(str(cert_path), envelopes[i::procs]) for i in range(procs)]
    with multiprocessing.Pool(procs) as pool:
        return [b for chunk in pool.map(_sign_chunk, chunks) for b in chunk]


def line(name, figures):
    return ("%-26s %8.0f req/s   p50 %7.2f ms   p99 %7.2f ms   (%d requests, %d non-2xx%s)"
            % (name, figures["rps"], figures["p50"], figures["p99"], figures["requests"],
               figures["non2xx"], ", " + figures["note"] if figures.get("note") else ""))


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


