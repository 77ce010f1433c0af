"""Benchmark: IdentifyPerson by SSIN through the hub (classic sendXML, signed both ways,
exchange log on) against a direct call to the National Register source, and the source's
own lookups, on a synthetic population.

Prints, for a population of N persons (default 1,000,000):
  lookup by SSIN in the source's store (p50, p99)          target p99 < 2 ms
  phonetic search in the source's store (p50, p99)          target p99 < 20 ms
  direct signed consultPerson to the source (wrk)           req/s, p50, p99
  IdentifyPerson through the hub, 2 workers (wrk)           target >= 300 req/s
  the hub's added latency (p50 through the hub - p50 direct)

    python benchmarks/bench_identify_person.py [--population 1000000] [--workers 2]
        [--connections 16] [--duration 10] [--smoke]
The population is kept in benchmarks/.cache/ between runs (it takes minutes to generate).
"""
import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.wrkdriver import line, run_wrk, sign_all  # noqa: E402
from tests.netfixture import Hub, Source, make_project  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
SSDN_ACTION = "http://ksz-bcss.fgov.be/connectors/WebServiceConnector/sendXML"
PATH = "/connectors/webservice/KSZBCSSWebServiceConnectorPort"


def population_db(settings, count):
    """The source's database with `count` persons, from the cache when it has them."""
    from kszws.registry import load_registry
    from kszws.sources import national_register
    from kszws.sources.national_register import population, store

    CACHE.mkdir(exist_ok=True)
    cached = CACHE / ("national-register-%d.sqlite" % count)
    target = settings.data_dir / "national-register.sqlite"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cached.exists():
        print("generating %d persons (cached in %s)..." % (count, cached), flush=True)
        start = time.monotonic()
        source = load_registry(settings).sources["national-register"]
        db = national_register.database(settings, source)
        store.migrate(db)
        population.generate(db, count, seed=11)
        population.add_demo_persons(db)
        db.dispose()
        shutil.copy(target, cached)
        print("  done in %.0f s" % (time.monotonic() - start), flush=True)
    else:
        shutil.copy(cached, target)
    return target


def percentiles(samples):
    samples = sorted(samples)
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def store_latencies(db_path, n=5000):
    """In-process lookups on the source's store: by SSIN, and phonetic."""
    from sqlalchemy import text

    from kszws.sources.national_register import store
    from kszws.sources.national_register.service import birth_window
    from kszws.store import Database

    db = Database("sqlite:///%s" % db_path, "NORMAL")
    rnd = random.Random(5)
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT ssin, last_name, birth_date FROM nr_person "
                                 "WHERE status = 'active'")).all()
        picks = [rnd.choice(rows) for _ in range(n)]
        by_ssin, phonetic = [], []
        for ssin, _, _ in picks:
            t = time.perf_counter()
            store.get_person(conn, ssin)
            by_ssin.append((time.perf_counter() - t) * 1000)
        for _, last_name, birth in picks[: n // 5]:
            first, last, within = birth_window(birth[:4] + "-00-00", 1)
            t = time.perf_counter()
            store.search(conn, last_name, None, first, last, None, within, 20)
            phonetic.append((time.perf_counter() - t) * 1000)
    db.dispose()
    return percentiles(by_ssin), percentiles(phonetic), [s for s, _, _ in picks]


def consult_envelopes(ssins):
    from lxml import etree

    from kszws.sources.national_register.service import NS
    from kszws.wire import soap

    out = []
    for ssin in ssins:
        payload = etree.Element("{%s}consultPerson" % NS, nsmap={"nr": NS})
        etree.SubElement(payload, "{%s}ssin" % NS).text = ssin
        out.append(soap.serialize(soap.envelope(payload)))
    return out


def send_xml_envelopes(ssins):
    from tests.ssdntools import envelope, identify, ssdn_request

    return [envelope(ssdn_request(identify(ssin), caller="cpas-eupen")) for ssin in ssins]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="hub worker processes")
    parser.add_argument("--source-workers", type=int, default=2,
                        help="National Register source worker processes")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="20,000 persons, 2 s, CI size")
    args = parser.parse_args()
    if args.smoke:
        args.population, args.duration, args.connections = 20_000, 2, 4
    if not shutil.which("wrk"):
        sys.exit("benchmark: wrk is not installed (Debian: apt-get install wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="kszws-bench-ipr-"))
    settings = make_project(workdir / "project", settings={"sqlite_synchronous": '"FULL"'},
                            source_timeout=10.0)
    db_path = population_db(settings, args.population)
    (ssin_p50, ssin_p99), (ph_p50, ph_p99), ssins = store_latencies(db_path)
    print("population %d persons" % args.population)
    print("%-26s p50 %7.3f ms   p99 %7.3f ms   (target p99 < 2 ms)" % (
        "store lookup by SSIN", ssin_p50, ssin_p99))
    print("%-26s p50 %7.3f ms   p99 %7.3f ms   (target p99 < 20 ms)" % (
        "store phonetic search", ph_p50, ph_p99), flush=True)

    from kszws.registry import load_registry

    source_conf = load_registry(settings).sources["national-register"]
    source = Source(settings, workers=args.source_workers).start()
    hub = Hub(settings, workers=args.workers).start()
    try:
        needed = 400 * args.duration + 2000
        pool = (ssins * (needed // len(ssins) + 1))[:needed]
        direct_bodies = sign_all(settings.certs_dir / "kszws-hub.crt", consult_envelopes(pool))
        direct, _ = run_wrk("http://%s:%d" % (source_conf.host, source_conf.port),
                            source_conf.path, direct_bodies, "consultPerson", args.connections,
                            args.duration, workdir)
        print(line("direct consultPerson", direct), flush=True)
        hub_bodies = sign_all(settings.certs_dir / "cpas-eupen.crt", send_xml_envelopes(pool))
        through, _ = run_wrk(hub.url, PATH, hub_bodies, SSDN_ACTION, args.connections,
                             args.duration, workdir)
        print(line("IdentifyPerson via hub", through), flush=True)
    finally:
        hub.stop()
        source.stop()
    print()
    print("hub: %d workers, source: %d workers, %d connections, %d s; both legs signed, "
          "exchange log on (SQLite FULL)" % (args.workers, args.source_workers, args.connections,
                                             args.duration))
    print("hub added latency: p50 %+.2f ms, p99 %+.2f ms" % (
        through["p50"] - direct["p50"], through["p99"] - direct["p99"]))
    if not args.smoke:
        print("targets: >= 300 req/s via hub: %s; SSIN lookup p99 < 2 ms: %s; phonetic p99 "
              "< 20 ms: %s" % ("MET" if through["rps"] >= 300 else "NOT MET",
                               "MET" if ssin_p99 < 2 else "NOT MET",
                               "MET" if ph_p99 < 20 else "NOT MET"))
    shutil.rmtree(workdir, ignore_errors=True)
    if direct["non2xx"] or through["non2xx"]:
        sys.exit("benchmark: non-2xx answers")


if __name__ == "__main__":
    main()
