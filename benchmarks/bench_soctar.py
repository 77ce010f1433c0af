"""Benchmark: SOCTAR, the social energy tariff (issue 16 item 4): a quarter's lists of
beneficiaries (three CPAS and the pension service, STBE) and the economy ministry's
customers (STCU), sent through the SFTP drop box as `kszws batch submit` sends them,
against a hub (2 workers) and the National Register source (2 workers) on the same 2
cores. Prints the time to declare the beneficiaries, to answer the customers (their
households read on the reference date, the rights matched), and the whole, against the
target: 1,000,000 customers and 400,000 beneficiaries in under 5 minutes.

Every answer is checked: each list accepted, every record answered 000000, the customers'
results in order, some flagged and some not. A failure ends the run (exit 1).

    python benchmarks/bench_soctar.py [--customers 1000000] [--beneficiaries 400000]
                                      [--persons 1000000] [--files 2] [--smoke]

bench_batch.py runs it too (after IDPR, or alone with --soctar-only).
"""
import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_identify_person import population_db  # noqa: E402
from benchmarks.report import fail, headline, verdict  # noqa: E402
from tests.netfixture import Hub, Source, make_project  # noqa: E402

CUSTOMERS, BENEFICIARIES = 1_000_000, 400_000
TARGET = 300.0
DECLARERS = ("cpas-eupen", "cpas-liege", "cpas-charleroi", "onp-rvp")
MINISTRY = "fod-economie"


def lists(known, customers, beneficiaries, files, quarter):
    """{(institution, seq): body}: the beneficiaries spread over the four declarers, the
    customers over `files` files of the ministry (its workers answer them side by side)."""
    from kszws.demo_soctar import beneficiary, customer

    rnd = random.Random(21)
    holders = rnd.sample(known, min(beneficiaries, len(known)))
    holders += [rnd.choice(known) for _ in range(beneficiaries - len(holders))]
    out = {}
    for n, institution in enumerate(DECLARERS):
        category = "GRAPA" if institution == "onp-rvp" else "RI"
        out[(institution, n + 1)] = [beneficiary(s, quarter, category)
                                     for s in holders[n::len(DECLARERS)]]
    buyers = rnd.sample(known, min(customers, len(known)))
    buyers += [rnd.choice(known) for _ in range(customers - len(buyers))]
    for n in range(files):
        out[(MINISTRY, 10 + n)] = [customer(s, quarter, i) for i, s in
                                   enumerate(buyers[n::files], 1)]
    return out


def send_all(settings, files, kind, tmp):
    """Submit the files side by side (one SFTP session each, as each institution would),
    each waited for to its result file: {(institution, seq): Outcome}, seconds."""
    from kszws.batch import load, names
    from kszws.batch.submit import Session, submit
    from kszws.demo_soctar import batch_file
    from kszws.registry import load_registry
    from kszws.security import pki

    registry = load_registry(settings)
    config = load(settings, registry)
    day = time.strftime("%Y%m%d")
    outcomes, errors = {}, []

    def one(institution, seq, records):
        try:
            sender = config.senders[institution]
            session = Session("127.0.0.1", config.port, institution,
                              settings.certs_dir / ("%s.ssh" % institution),
                              Path(str(config.host_key) + ".pub"))
            name = names.parse("FI.%s.%s.%s.%05d.R" % (kind, sender.number, day, seq))
            outcomes[(institution, seq)] = submit(
                session, batch_file(kind, sender.number, records), name, 1,
                pki.read_key(settings.certs_dir / ("%s.key" % institution)),
                registry.hub.certificates[0], tmp, timeout=7200)
            session.close()
        except Exception as exc:  # reported once every thread is done
            errors.append("%s %s: %r" % (institution, kind, exc))

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(i, seq, records))
               for (i, seq), records in files.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        fail("; ".join(errors))
    return outcomes, time.monotonic() - started


def check(outcomes, files, kind):
    """Every file accepted and every record answered 000000: {(institution, seq): result
    file path}."""
    for key, outcome in outcomes.items():
        if outcome.refused:
            fail("%s: the ACRF refused %s: %s" % (kind, key, outcome.errors))
        if outcome.counts != {"000000": len(files[key])}:
            fail("%s %s: codes %s, expected %d x 000000" % (kind, key, outcome.counts,
                                                              len(files[key])))
    return {key: [p for p in o.files if (".%s." % kind) in p.name][0]
            for key, o in outcomes.items()}


def flagged(paths, files):
    """(flagged, answered) over the customers' result files; each answers its records in
    order."""
    from lxml import etree

    from kszws.batch.processing import RESULT_NS

    flags = answered = 0
    for key, path in paths.items():
        expected = 1
        for _, result in etree.iterparse(str(path), tag="{%s}Result" % RESULT_NS):
            if int(result.findtext("{%s}Id" % RESULT_NS)) != expected:
                fail("%s: the results are not in the input's order" % (key,))
            expected += 1
            flags += result.findtext(".//{%s}Flagged" % RESULT_NS) == "true"
            result.clear()
        if expected - 1 != len(files[key]):
            fail("%s: %d results for %d records" % (key, expected - 1, len(files[key])))
        answered += expected - 1
    return flags, answered


def run(customers, beneficiaries, persons, files=2, smoke=False):
    """The SOCTAR benchmark, printed."""
    import sqlite3

    today = time.localtime()
    quarter = "%dQ%d" % (today.tm_year, (today.tm_mon - 1) // 3 + 1)
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_project(tmp)
        register = sqlite3.connect(population_db(settings, persons))
        known = [r[0] for r in register.execute(
            "SELECT ssin FROM nr_person WHERE status = 'active'")]
        register.close()
        made = lists(known, customers, beneficiaries, files, quarter)
        declared = {k: v for k, v in made.items() if k[0] != MINISTRY}
        asked = {k: v for k, v in made.items() if k[0] == MINISTRY}
        source = Source(settings, workers=2).start()
        hub = Hub(settings, workers=2).start()
        try:
            outcomes, declaring = send_all(settings, declared, "STBE", tmp)
            check(outcomes, declared, "STBE")
            outcomes, answering = send_all(settings, asked, "STCU", tmp)
            flags, answered = flagged(check(outcomes, asked, "STCU"), asked)
        finally:
            hub.stop()
            source.stop()
    if not 0 < flags < answered:
        fail("%d of %d customers flagged: expected some and not all" % (flags, answered))
    total = declaring + answering
    print("SOCTAR %s: %d beneficiaries (4 lists), %d customers (%d files), %d persons in "
          "the register" % (quarter, beneficiaries, customers, files, persons))
    print("  beneficiaries declared in %.1f s (%.0f records/s)" % (
        declaring, beneficiaries / declaring))
    print("  customers answered in %.1f s (%.0f records/s): %d flagged" % (
        answering, customers / answering, flags))
    print("  the quarter in %.1f s (uploads included)" % total)
    full = customers == CUSTOMERS and beneficiaries == BENEFICIARIES
    projected = (declaring * BENEFICIARIES / beneficiaries
                 + answering * CUSTOMERS / customers)
    not_full = None if full else "%d customers and %d beneficiaries, not %d and %d" % (
        customers, beneficiaries, CUSTOMERS, BENEFICIARIES)
    judged = verdict(projected < TARGET, smoke, not_full)
    headline("SOCTAR quarter", "%d customers, %d beneficiaries" % (customers, beneficiaries),
             total, "s", higher_is_better=False, target="< %d s" % TARGET, verdict_text=judged)
    print(judged + " (target: 1,000,000 customers and 400,000 beneficiaries in under %d s; "
            "%.0f s%s)" % (TARGET, projected, "" if full else " projected"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--beneficiaries", type=int, default=BENEFICIARIES)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=2, help="the customers in this many "
                        "files (the hub's 2 workers answer them side by side)")
    parser.add_argument("--smoke", action="store_true", help="2,000 customers: a check")
    args = parser.parse_args()
    if args.smoke:
        run(2_000, 800, 5_000, args.files, smoke=True)
    else:
        run(args.customers, args.beneficiaries, args.persons, args.files)


if __name__ == "__main__":
    main()
