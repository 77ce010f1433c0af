"""Benchmark: the batch channel (issue 16, deliver 5): an IDPR file of N records (default
1,000,000) sent through the SFTP drop box as `kszws batch submit` sends it, against a
hub (2 workers) and the National Register source (2 workers, 100,000 persons) on the same
2 cores. Prints the time to the ACRF (target: under 10 s at 1,000,000 records) and to
the result file (target: under 10 minutes), records per second, and the peer the
records' pace is bounded by: the source's consultPersons, measured alone in the same run
(one call per 100 SSINs, as the hub makes them).

Every answer is checked: the ACRF positive, the result file with one Result per record
in order, each 000000, the hub's signature on both. A failure ends the run (exit 1).

    python benchmarks/bench_batch.py [--records 1000000] [--persons 100000]
                                     [--database sqlite|postgresql|both] [--smoke]
                                     [--soctar-only | --no-soctar] [--customers 1000000]
                                     [--beneficiaries 400000] [--soctar-persons 1000000]

PostgreSQL is KSZWS_TEST_DATABASE_URL or postgresql+psycopg://postgres@127.0.0.1:5432/postgres
(in a schema of its own, dropped afterwards). Then SOCTAR (benchmarks/bench_soctar.py: a
quarter's beneficiaries and customers, on SQLite; at smoke size with --smoke), unless
--no-soctar; --soctar-only runs SOCTAR alone.
"""
import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_identify_person import population_db  # noqa: E402
from benchmarks.report import cpu_seconds, fail, headline, verdict  # noqa: E402
from tests.netfixture import (Hub, Source, drop_postgres_schema, make_project,  # noqa: E402
                              postgres_schema_url, source_client)
from tests.test_batch_channel import batch_body  # noqa: E402 (the file the tests send)

FULL = 1_000_000
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ACRF_TARGET, RESULT_TARGET = 10.0, 600.0


def source_pace(settings, ssins, calls=50):
    """SSINs per second through the source's consultPersons alone (signed both ways, the
    hub's own zeep client and reader of the reply), one call per 100 SSINs after the
    other: what one file would get without the hub's pipelining."""
    client = source_client(settings)
    started = time.monotonic()
    for i in range(calls):  # synchronous calls, outside any reactor
        client._records("consultPersons", {"ssins": {"string": ssins[i * 100:(i + 1) * 100]}})
    return calls * 100 / (time.monotonic() - started)


def idpr(label, tmp, database_url, records, persons, smoke):
    """Sends an IDPR file of `records` records to a hub on `database_url` (SQLite when
    empty) and prints its figures."""
    from lxml import etree

    from kszws.batch import load, names
    from kszws.batch.processing import RESULT_NS
    from kszws.batch.submit import Session, submit
    from kszws.registry import load_registry
    from kszws.security import pki

    settings = make_project(tmp, database_url=database_url)
    db_path = population_db(settings, persons)
    register = sqlite3.connect(db_path)
    known = [r[0] for r in register.execute("SELECT ssin FROM nr_person WHERE status = 'active'")]
    register.close()
    rnd = random.Random(16)
    ssins = [rnd.choice(known) for _ in range(records)]
    data = batch_body(ssins=ssins)
    source = Source(settings, workers=2).start()
    hub = Hub(settings, workers=2).start()
    try:
        registry = load_registry(settings)
        config = load(settings, registry)
        session = Session("127.0.0.1", config.port, "cpas-eupen",
                          settings.certs_dir / "cpas-eupen.ssh",
                          Path(str(config.host_key) + ".pub"))
        key = pki.read_key(settings.certs_dir / "cpas-eupen.key")
        name = names.parse("FI.IDPR.170001.%s.00001.R" % time.strftime("%Y%m%d"))
        cpu = (cpu_seconds(hub.proc.pid), cpu_seconds(source.proc.pid))
        started = time.monotonic()
        outcome = submit(session, data, name, 1, key, registry.hub.certificates[0], tmp,
                         timeout=7200)
        total = time.monotonic() - started
        cpu = [(cpu_seconds(p.proc.pid) - before) * 1000 / records
               for p, before in zip((hub, source), cpu)]
        session.close()
        if outcome.refused:
            fail("the ACRF refused the file: %s" % outcome.errors)
        if outcome.counts != {"000000": records}:
            fail("codes %s, expected %d x 000000" % (outcome.counts, records))
        result = [p for p in outcome.files if ".IDPR." in p.name][0]
        ids = [int(e.text) for _, e in etree.iterparse(str(result), tag="{%s}Id" % RESULT_NS)]
        if ids != list(range(1, records + 1)):
            fail("the result file does not answer every record once, in order")
        acrf_seconds, answered = _hub_seconds(settings, name)
        pace = source_pace(settings, ssins)
    finally:
        hub.stop()
        source.stop()
    print("%s: IDPR file of %d records (%.1f MB), %d persons in the register" % (
        label, records, len(data) / 1e6, persons))
    print("  ACRF %.1f s after the GO; the result file and the NOTI in OUT %.1f s after the "
          "GO: %.0f records/s" % (acrf_seconds, answered, records / answered))
    print("  the client's whole round trip (upload, wait, download of the %.0f MB result, "
          "its check): %.1f s" % (result.stat().st_size / 1e6, total))
    print("  peer: the source's consultPersons alone, one call after the other: %.0f SSINs/s"
          " (the file: %.2fx)" % (pace, records / answered / pace))
    print("  CPU per record: hub %.2f ms, source %.2f ms: on 2 idle cores at most %.0f "
          "records/s" % (cpu[0], cpu[1], 2000 / sum(cpu)))
    projected = answered * FULL / records
    not_full = None if records == FULL else "%d records, not %d" % (records, FULL)
    acrf_verdict = verdict(acrf_seconds < ACRF_TARGET, smoke, not_full)
    result_verdict = verdict(projected < RESULT_TARGET, smoke, not_full)
    print(acrf_verdict + " (target: the ACRF of a 1,000,000-record file under %d s)"
          % ACRF_TARGET)
    print(result_verdict + " (target: 1,000,000 records answered in under %d s; %.0f s%s)" % (
        RESULT_TARGET, projected, "" if not not_full else " projected"), flush=True)
    headline("batch IDPR (%s)" % label, "ACRF of %d records" % records, acrf_seconds, "s",
             higher_is_better=False, target="< %d s" % ACRF_TARGET, verdict_text=acrf_verdict)
    headline("batch IDPR (%s)" % label, "%d records answered" % records, records / answered,
             "records/s", "the source's consultPersons alone", pace,
             target="1 M in < %d s" % RESULT_TARGET, verdict_text=result_verdict)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=FULL)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--smoke", action="store_true", help="2,000 records: a check")
    parser.add_argument("--soctar-only", action="store_true", help="SOCTAR alone")
    parser.add_argument("--no-soctar", action="store_true", help="IDPR alone")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--beneficiaries", type=int, default=400_000)
    parser.add_argument("--soctar-persons", type=int, default=1_000_000)
    args = parser.parse_args()
    if not args.soctar_only:
        records = 2_000 if args.smoke else args.records
        persons = 5_000 if args.smoke else args.persons
        if args.database in ("sqlite", "both"):
            with tempfile.TemporaryDirectory() as tmp:
                idpr("SQLite", tmp, "", records, persons, args.smoke)
        if args.database in ("postgresql", "both"):
            base = os.environ.get("KSZWS_TEST_DATABASE_URL") or PG_DEFAULT
            url, schema = postgres_schema_url(base)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    idpr("PostgreSQL", tmp, url, records, persons, args.smoke)
            finally:
                drop_postgres_schema(base, schema)
    if not args.no_soctar:
        soctar(args)


def soctar(args):
    """SOCTAR's figures (bench_soctar.py), at smoke size with --smoke."""
    from benchmarks import bench_soctar

    if args.smoke:
        bench_soctar.run(2_000, 800, 5_000, smoke=True)
    else:
        bench_soctar.run(args.customers, args.beneficiaries, args.soctar_persons)


def _hub_seconds(settings, name):
    """(GO to ACRF, GO to the NOTI in OUT) as the hub recorded them: what the targets
    time, without the client's upload and download."""
    from sqlalchemy import func, select

    from kszws.store import database_from_settings
    from kszws.store.schema import batch_file, batch_outfile

    db = database_from_settings(settings)
    with db.engine.connect() as conn:
        row = conn.execute(select(batch_file).where(
            batch_file.c.name == str(name.as_("GO")))).mappings().first()
        answered = conn.execute(select(func.max(batch_outfile.c.created_at)).where(
            batch_outfile.c.batch_file_id == row["id"],
            batch_outfile.c.name.like("FO.NOTI.%"))).scalar()
    db.dispose()
    return ((row["acknowledged_at"] - row["received_at"]).total_seconds(),
            (answered - row["received_at"]).total_seconds())


if __name__ == "__main__":
    main()
