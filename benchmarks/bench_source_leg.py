"""Benchmark: the hub's internal leg to the National Register (consultPerson, as IdentifyPerson
calls it), its CPU in the hub's process part by part: what bench_identify_person.py's
figure for the hub is made of, beyond the shared hot path (HTTP, the caller's signature,
the reply's, the exchange log).

Prints the CPU milliseconds per call (time.process_time, this process only: the source runs
apart) of
  the whole call as the hub makes it (SourceClient._records: zeep builds and sends, the
  reply read by hub/records.py), and as it was made (zeep's object mapping, SourceClient._call)
  zeep building the message, unsigned and signed (the signature: the difference)
  the transport (http.client over the kept-alive connection, the reply's pre-parse)
  parsing the reply, verifying its signature, reading it (hub/records.py), zeep's mapping
  the whole call through the client's thread pool, 8 in flight (the thread hand-off: the
  difference with the call made in this thread)

The parts that do no I/O are steady from run to run. The whole calls are not when the
machine is shared: the CPU the kernel charges a process that blocks and wakes for each call
grew from ~2 ms to ~12 ms a call on the same code as the load of the other processes rose
(a 2-core VM at load 6), so compare whole calls only within one run.

    python benchmarks/bench_source_leg.py [--calls 400] [--population 20000]
"""
import argparse
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_identify_person import population_db  # noqa: E402
from tests.netfixture import Source, make_project, source_client  # noqa: E402

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def cpu_ms(function, items):
    """CPU milliseconds (user + system) per call of `function` over `items`."""
    function(items[0])
    start = os.times()
    for item in items:
        function(item)
    end = os.times()
    return (end.user - start.user + end.system - start.system) * 1000 / len(items)


def through_threads(client, ssins, in_flight=8):
    """CPU ms per call of client.records on a running reactor, `in_flight` at a time."""
    from twisted.internet import defer, reactor

    result = {}

    @defer.inlineCallbacks
    def run():
        try:
            yield client.records("consultPerson", ssin=ssins[0], history=False)
            todo = iter(ssins)

            @defer.inlineCallbacks
            def lane():
                for ssin in todo:
                    yield client.records("consultPerson", ssin=ssin, history=False)

            start = os.times()
            yield defer.gatherResults([lane() for _ in range(in_flight)], consumeErrors=True)
            end = os.times()
            result["ms"] = (end.user - start.user + end.system - start.system) * 1000 / len(ssins)
        finally:
            reactor.stop()

    client.reactor = reactor
    client.start()
    reactor.callWhenRunning(run)
    reactor.run()
    return result["ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--population", type=int, default=20_000)
    args = parser.parse_args()

    from zeep.loader import parse_xml

    from kszws.hub.routing import _refuse_declarations

    workdir = Path(tempfile.mkdtemp(prefix="kszws-bench-leg-"))
    settings = make_project(workdir / "project", source_timeout=10.0)
    db_path = population_db(settings, args.population)
    register = sqlite3.connect(db_path)
    ssins = [row[0] for row in register.execute(
        "SELECT ssin FROM nr_person WHERE status = 'active' ORDER BY random() LIMIT ?",
        (3 * args.calls,))]
    register.close()
    source = Source(settings, workers=2).start()
    try:
        client = source_client(settings)
        service = client._service()
        zeep_client, binding = service._client, service._binding
        operation = binding._operations["consultPerson"]
        calls = ssins[:args.calls]
        ask = {"history": False}
        whole = cpu_ms(lambda s: client._records("consultPerson", dict(ask, ssin=s)), calls)
        mapped = cpu_ms(lambda s: client._call("consultPerson", dict(ask, ssin=s)), calls)

        def build(ssin):
            return binding._create("consultPerson", (), dict(ask, ssin=ssin), client=zeep_client)

        signed = cpu_ms(build, calls)
        wsse, zeep_client.wsse = zeep_client.wsse, None
        unsigned = cpu_ms(build, calls)
        zeep_client.wsse = wsse
        with zeep_client.settings(raw_response=True):
            replies = [service.consultPerson(ssin=s, **ask).content for s in calls]
        envelopes = [parse_xml(r, zeep_client.transport, settings=zeep_client.settings)
                     for r in replies]
        parse = cpu_ms(lambda r: parse_xml(r, zeep_client.transport,
                                           settings=zeep_client.settings), replies)
        pre_parse = cpu_ms(_refuse_declarations, replies)
        verify = cpu_ms(wsse.verify, envelopes)
        reader = client._reader(service, "consultPerson")
        read = cpu_ms(lambda e: reader(e.find("{%s}Body" % SOAP)[0]), envelopes)
        mapping = cpu_ms(operation.process_reply, envelopes)
        in_threads = through_threads(client, ssins[args.calls:])
    finally:
        source.stop()

    size = sum(map(len, replies)) // len(replies)
    parts = [
        ("the call, reply read by hub/records.py", whole),
        ("the call, zeep's object mapping (before)", mapped),
        ("  zeep builds the message (unsigned)", unsigned),
        ("  signing it (WS-Security)", signed - unsigned),
        ("  parsing the reply (%d bytes)" % size, parse),
        ("  the transport's pre-parse of the reply", pre_parse),
        ("  verifying the reply's signature (WS-Security)", verify),
        ("  reading it: hub/records.py", read),
        ("  reading it: zeep's mapping (before)", mapping),
        ("  the rest: zeep's send path, http.client", whole - unsigned - (signed - unsigned)
         - parse - pre_parse - verify - read),
        ("the call through the thread pool, 8 in flight", in_threads),
        ("  the thread hand-off", in_threads - whole),
    ]
    print("consultPerson, hub side, CPU per call (%d calls, population %d):"
          % (args.calls, args.population))
    for name, ms in parts:
        print("  %-50s %6.3f ms" % (name, ms))
    print("WS-Security on the internal leg: %.3f ms of %.3f ms (%.0f %%)" % (
        signed - unsigned + verify, in_threads, 100 * (signed - unsigned + verify) / in_threads))


if __name__ == "__main__":
    main()
