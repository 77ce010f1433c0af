"""Driving the hub with Debian's wrk: requests formatted once per wrk thread (each sent
once: signed requests are refused if replayed), every reply checked by the script, figures
parsed from wrk's report.

A run counts only if every request got a reply, and every reply passed its check: wrk's
socket errors (connect, read, write, timeout), its non-2xx/3xx responses and replies that
fail the check are all returned as failures (a classic sendXML reply carries its errors
inside an HTTP 200, so the status alone proves nothing)."""
import base64
import re
import subprocess

from benchmarks.report import fail, tail_label

# Each wrk thread formats its share of the requests once, in init(): request() then only
# hands out a ready string, so the load generator spends little CPU of the two cores.
# response() checks every reply by counting plain substrings (string.find with plain=true,
# no pattern matching): a few microseconds a reply, next to milliseconds of the hub's work.
# Its counters are globals of the thread's Lua state so that done(), in the main state,
# can read them with thread:get().
LUA = r"""
local prepared, counter = {}, 0
local tid, threads = 1, {}
checked, failed, first_failed = 0, 0, nil

function setup(thread)
  thread:set("id", tid)
  thread:set("nthreads", NTHREADS)
  table.insert(threads, thread)
  tid = tid + 1
end

function init(args)
  local id = tonumber(wrk.thread:get("id")) or 1
  local nthreads = tonumber(wrk.thread:get("nthreads")) or 1
  local headers = {["Content-Type"] = "text/xml; charset=utf-8",
                   ["SOAPAction"] = '"' .. ACTION .. '"'}
  if AUTHORIZATION ~= "" then headers["Authorization"] = AUTHORIZATION end
  local f = assert(io.open(BODIES, "rb"))
  local data = f:read("*a")
  f:close()
  local i = 0
  for b in string.gmatch(data, "([^%z]+)") do
    if i % nthreads == id - 1 then
      prepared[#prepared + 1] = wrk.format("POST", PATH, headers, b)
    end
    i = i + 1
  end
end

function request()
  counter = counter + 1
  if counter > #prepared then counter = 1 end
  return prepared[counter]
end

local function occurrences(body, text)
  local n, at = 0, 1
  while true do
    local i, j = string.find(body, text, at, true)
    if not i then return n end
    n, at = n + 1, j + 1
  end
end

function response(status, headers, body)
  checked = checked + 1
  local good = status == 200
  if good then
    for _, expect in ipairs(EXPECT) do
      if occurrences(body, expect[1]) ~= expect[2] then good = false break end
    end
  end
  if not good then
    failed = failed + 1
    if first_failed == nil then  -- kept for the report, from the Body (past the signature)
      local at = string.find(body, ":Body", 1, true) or 1
      first_failed = "HTTP " .. status .. ": " .. string.sub(body, at, at + 1500)
    end
  end
end

function done(summary, latency, requests)
  local total_checked, total_failed, first = 0, 0, nil
  for _, thread in ipairs(threads) do
    total_checked = total_checked + (tonumber(thread:get("checked")) or 0)
    total_failed = total_failed + (tonumber(thread:get("failed")) or 0)
    first = first or thread:get("first_failed")
  end
  io.write(string.format("kszws checked %d failed %d max_us %d\n",
                         total_checked, total_failed, latency.max))
  if first then io.write("kszws first failed reply: " .. first .. "\n") end
end
"""


def _lua_string(text):
    """A Lua long string holding `text` as it is (no escapes are read inside one)."""
    level = "=" * 4
    assert "]%s]" % level not in text
    return "[%s[%s]%s]" % (level, text, level)


def run_wrk(url, path, bodies, action, connections, duration, workdir, expect, auth=None):
    """wrk over `bodies` (each sent once while there are enough), with `auth` = (user,
    password) for HTTP Basic. A reply passes when its status is 200 and, for each
    (text, count) of `expect`, `text` occurs exactly `count` times in it (0: never).
    Returns (figures, wrk's report); figures["failures"] lists what failed, empty when
    every reply passed."""
    threads = min(2, connections)
    body_file = workdir / "bodies.bin"
    body_file.write_bytes(b"\0".join(bodies))
    authorization = ""
    if auth:
        authorization = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
    config = "\n".join([
        "NTHREADS = %d" % threads,
        "ACTION = %s" % _lua_string(action),
        "AUTHORIZATION = %s" % _lua_string(authorization),
        "BODIES = %s" % _lua_string(str(body_file)),
        "PATH = %s" % _lua_string(path),
        "EXPECT = {%s}" % ", ".join("{%s, %d}" % (_lua_string(text), count)
                                   for text, count in expect),
    ])
    script = workdir / "bench.lua"
    script.write_text(config + "\n" + LUA)
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--latency",
           "-s", str(script), url]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:  # e.g. nothing listening: wrk stops before any request
        fail("wrk exited with status %d: %s" % (done.returncode,
                                                (done.stderr or done.stdout).strip()))
    out = done.stdout
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
    """req/s, p50 and the tail ("p99 of N", or "max of N" below 1,000 requests)."""
    return ("%-26s %8.0f req/s   p50 %7.2f ms   %s %7.2f ms   (%d requests, %d failed%s)"
            % (name, figures["rps"], figures["p50"], figures["tail_label"], figures["tail"],
               figures["requests"], figures["failed"],
               ", " + figures["note"] if figures.get("note") else ""))


def _ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(bad.group(1)) if bad else 0
    # wrk prints this line only when some error occurred.
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"),
                             (int(n) for n in errors.groups()) if errors else (0, 0, 0, 0)))
    # Written by the script's done(): without it, no reply was checked.
    checks = re.search(r"^kszws checked (\d+) failed (\d+) max_us (\d+)$", out, re.M)
    first = re.search(r"^kszws first failed reply: (.*)", out, re.M | re.S)
    checked, failed, max_us = (int(n) for n in checks.groups()) if checks else (0, 0, 0)

    failures = []
    if any(socket_errors.values()):
        failures.append("socket errors: " + ", ".join(
            "%s %d" % kv for kv in socket_errors.items()))
    if non2xx:
        failures.append("%d non-2xx/3xx responses" % non2xx)
    if failed:
        failures.append("%d of %d replies failed their check; the first: %s"
                        % (failed, checked, first.group(1).strip() if first else "?"))
    if checked != total:
        failures.append("%d replies checked of %d requests" % (checked, total))
    if total == 0:
        failures.append("no request completed")
    # A p99 of fewer than 1,000 requests is one of the few largest: give the max instead.
    tail = p99 if total >= 1000 else max_us / 1000.0
    return {"rps": rps, "p50": p50, "p99": p99, "tail": tail, "tail_label": tail_label(total),
            "requests": total, "non2xx": non2xx, "socket_errors": socket_errors,
            "failed": failed, "failures": failures}
