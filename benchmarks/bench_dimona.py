"""Benchmark: DIMONA through the hub and the personnel file (issue 6).

The employer directory source holds N employment periods (default 1,000,000) over its
synthetic employers, one employer with 10,000 workers among them. Prints:
  DIMONA batches of 20 declarations (IN, ordinary) through the hub, signed both ways by the
  employer, every SSIN checked against the National Register: req/s and declarations/s (wrk)
  personnel file of the employer with 10,000 workers: p50 / p99 in the source's store, and
  through the hub (signed, zeep), a page of 1,000 and the whole file page by page

Every reply is checked: each DIMONA batch must come back with its 20 declarations accepted
(wrk counts the `<accepted>true</accepted>` of each reply; a refused declaration is still an
HTTP 200), each personnel-file page with status MSG00000 and the whole file with every
worker. A socket error, a timeout or a failed reply fails the run (exit status 1). Tails
from fewer than 1,000 samples are given as their max.

    python benchmarks/bench_dimona.py [--periods 1000000] [--duration 10] [--smoke]
"""
import argparse
import datetime
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_identify_person import population_db  # noqa: E402
from benchmarks.report import fail, headline, percentiles  # noqa: E402
from benchmarks.wrkdriver import line, run_wrk, sign_all  # noqa: E402
from tests.netfixture import Hub, Source, make_project  # noqa: E402

INTF = "urn:kszws:intf:DimonaService:v1"
PATH = "/kszws/DimonaService/v1"
BIG = "0403170701"  # the demo bakery: 10,000 workers here
DECLARER = "0403180104"  # studentenjob-brugge declares through the hub
BIG_STAFF = 10_000
PER_BATCH = 20
# A good declare reply: every declaration of the batch accepted, no Fault.
EXPECT_DECLARE = [("<accepted>true</accepted>", PER_BATCH), ("<accepted>false", 0),
                  ("Fault>", 0)]


def seed_periods(settings, count, ssins):
    """`count` periods straight into the source's store: BIG_STAFF for BIG, the rest over
    the synthetic employers."""
    from sqlalchemy import select

    from kszws.registry import load_registry
    from kszws.sources import employer_directory
    from kszws.sources.employer_directory import population, store

    source = load_registry(settings).sources["employer-directory"]
    db = employer_directory.database(settings, source)
    store.migrate(db)
    population.generate(db, 3000)
    population.add_demo_employers(db)
    rnd = random.Random(3)
    now = datetime.datetime(2026, 11, 28, 12)
    with db.engine.begin() as conn:
        employers = [r.cbe for r in conn.execute(select(store.employer.c.cbe))]
        rows = []
        for i in range(count):
            cbe = BIG if i < BIG_STAFF else rnd.choice(employers)
            start = datetime.date(2000, 1, 1) + datetime.timedelta(days=rnd.randrange(9000))
            end = None if i < BIG_STAFF or rnd.random() < 0.4 else \
                start + datetime.timedelta(days=rnd.randrange(1, 2000))
            rows.append(dict(cbe=cbe, ssin=ssins[i % len(ssins)], worker_type="ordinary",
                             start_date=start.isoformat(), end_date=end and end.isoformat(),
                             hours=None, status="active", declared_at=now, changed_at=now))
            if len(rows) == 50_000:
                conn.execute(store.employment.insert(), rows)
                rows = []
        if rows:
            conn.execute(store.employment.insert(), rows)
    return db


def store_personnel(db, runs=100):
    from kszws.sources.employer_directory import dimona

    times = []
    with db.engine.connect() as conn:
        for _ in range(runs):
            t = time.perf_counter()
            staff = dimona.personnel(conn, BIG, "2026-11-28")
            times.append((time.perf_counter() - t) * 1000)
    return percentiles(times), len(staff)


def declare_envelopes(ssins, batches):
    """Signed-to-be declare requests of PER_BATCH IN declarations each, never overlapping:
    batch k declares its PER_BATCH persons for one day, day k."""
    from lxml import etree

    from kszws.wire import soap

    out = []
    for k in range(batches):
        request = etree.Element("{%s}declareRequest" % INTF, nsmap={"d": INTF})
        info = etree.SubElement(request, "informationCustomer")
        etree.SubElement(etree.SubElement(info, "customerIdentification"),
                         "cbeNumber").text = DECLARER
        day = (datetime.date(2027, 1, 1) + datetime.timedelta(days=k)).isoformat()
        for j in range(PER_BATCH):
            d = etree.SubElement(request, "declaration")
            etree.SubElement(d, "action").text = "IN"
            etree.SubElement(d, "ssin").text = ssins[(k * PER_BATCH + j) % len(ssins)]
            etree.SubElement(d, "workerType").text = "ordinary"
            etree.SubElement(d, "startDate").text = day
            etree.SubElement(d, "endDate").text = day
        out.append(soap.serialize(soap.envelope(request)))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--periods", type=int, default=1_000_000)
    p.add_argument("--persons", type=int, default=20_000, help="National Register population")
    p.add_argument("--workers", type=int, default=2, help="hub worker processes")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--smoke", action="store_true", help="20,000 periods, 2 s, CI size")
    args = p.parse_args()
    if args.smoke:
        args.periods, args.duration, args.connections = 20_000, 2, 4
    if not shutil.which("wrk"):
        sys.exit("benchmark: wrk is not installed (Debian: apt-get install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="kszws-bench-dimona-"))
    settings = make_project(workdir / "project", settings={"sqlite_synchronous": '"FULL"'},
                            source_timeout=10.0)
    population_db(settings, args.persons)
    from sqlalchemy import text

    from kszws.store import Database

    nr = Database("sqlite:///%s" % (settings.data_dir / "national-register.sqlite"))
    with nr.engine.connect() as conn:
        ssins = [r[0] for r in conn.execute(text(
            "SELECT ssin FROM nr_person WHERE status = 'active' ORDER BY ssin"))]
    nr.dispose()
    t = time.perf_counter()
    db = seed_periods(settings, args.periods, ssins)
    print("%d employment periods seeded in %.0f s" % (args.periods, time.perf_counter() - t))
    (p50, tail, label), staff = store_personnel(db)
    db.dispose()
    print("%-30s p50 %7.2f ms   %s %7.2f ms   (%d workers, store)" % (
        "personnel file", p50, label, tail, staff), flush=True)
    if staff < BIG_STAFF:  # BIG_STAFF open periods were seeded, and a few drawn at random
        fail("the personnel file in the store has %d workers, %d were seeded"
             % (staff, BIG_STAFF))
    employers = Source(settings, name="employer-directory").start()
    register = Source(settings).start()
    hub = Hub(settings, workers=args.workers).start()
    try:
        from kszws.client import hub_client

        proxy, _ = hub_client(settings, "DimonaService", "boulangerie-dupont", hub.url,
                              timeout=120)
        who = {"customerIdentification": {"cbeNumber": BIG}}
        pages, files = [], []
        for _ in range(10):  # the whole file, a page of 1,000 periods at a time
            after, count, started = 0, 0, time.perf_counter()
            while True:
                t = time.perf_counter()
                reply = proxy.personnelFile(informationCustomer=who,
                                            asOf=datetime.date(2026, 11, 28), after=after,
                                            maxItems=1000)
                pages.append((time.perf_counter() - t) * 1000)
                # zeep raises on a Fault; a refusal inside the reply is its status.
                if reply["status"]["code"] != "MSG00000":
                    fail("personnel file page after %d: status %s %s, %d periods" % (
                        after, reply["status"]["value"], reply["status"]["code"],
                        len(reply["period"])))
                count += len(reply["period"])
                if not reply["morePeriods"]:
                    break
                after = reply["period"][-1]["periodId"]
            files.append((time.perf_counter() - started) * 1000)
            if count != staff:
                fail("the personnel file through the hub has %d workers, the store %d"
                     % (count, staff))
        pp50, pp_tail, pp_label = percentiles(pages)
        fp50, fp_tail, fp_label = percentiles(files)
        print("%-30s p50 %7.1f ms   %s %7.1f ms   (pages of 1,000 through the hub, signed)"
              % ("personnel file page", pp50, pp_label, pp_tail))
        print("%-30s p50 %7.1f ms   %s %7.1f ms   (%d workers in %d pages)" % (
            "whole personnel file", fp50, fp_label, fp_tail, staff, len(pages) // len(files)),
            flush=True)
        batches = max(200, 60 * args.duration)
        bodies = sign_all(settings.certs_dir / "studentenjob-brugge.crt",
                          declare_envelopes(ssins, batches))
        figures, _ = run_wrk(hub.url, PATH, bodies, INTF + "/declare", args.connections,
                             args.duration, workdir, EXPECT_DECLARE)
        print(line("DIMONA batches of %d" % PER_BATCH, figures), flush=True)
        if figures["failures"]:
            fail("DIMONA batches: " + "; ".join(figures["failures"]))
        # Every batch passed its check: the figure counts accepted declarations only.
        print("%-30s %8.0f declarations/s (each accepted)" % ("", figures["rps"] * PER_BATCH),
              flush=True)
        headline("DIMONA through the hub", "declarations (batches of %d)" % PER_BATCH,
                 figures["rps"] * PER_BATCH, "declarations/s")
        headline("DIMONA through the hub", "whole personnel file of %d" % staff, fp50, "ms",
                 "the same file read in the source's store", p50, higher_is_better=False)
    finally:
        hub.stop()
        register.stop()
        employers.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
