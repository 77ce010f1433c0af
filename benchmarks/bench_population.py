"""Benchmark: the National Register source's synthetic population (issue 15, deliver 3:
1,000,000 persons with the data the real register holds for them in under 3 minutes).

Generates COUNT persons into a fresh SQLite file (as `kszws source national-register`
seeds it) and prints the time, the rows written per table, and how the time splits: the
generator's own Python (households built, nothing written) beside the whole run, measured
on the same seed in the same run, so the database's share is their difference.

    python benchmarks/bench_population.py [--count 1000000] [--smoke]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import headline, verdict  # noqa: E402

TARGET_SECONDS = 180
FULL = 1_000_000


def build_only(count, seed):
    """Seconds to build `count` persons' rows without writing them (the generator's own
    cost)."""
    from kszws.sources.national_register import population

    generator = population.Generator(seed)
    start = time.monotonic()
    made = 0
    while made < count:
        made += len(generator.household_rows()["nr_person"])
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=FULL)
    parser.add_argument("--smoke", action="store_true", help="20,000 persons: a check")
    args = parser.parse_args()
    count = 20_000 if args.smoke else args.count

    from sqlalchemy import func, select

    from kszws.sources.national_register import population, store
    from kszws.store import Database

    with tempfile.TemporaryDirectory() as tmp:
        db = Database("sqlite:///%s/national-register.sqlite" % tmp)
        store.migrate(db)
        start = time.monotonic()
        written = population.generate(db, count, seed=11)
        total = time.monotonic() - start
        with db.engine.connect() as conn:
            rows = {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                    for t in store.metadata.sorted_tables}
        db.dispose()
    building = build_only(count, seed=11)
    print("%d persons in %.1f s (%.0f persons/s); %d rows in all" % (
        written, total, written / total, sum(rows.values())))
    for name, n in sorted(rows.items()):
        if n:
            print("  %-22s %10d rows (%.2f per person)" % (name, n, n / written))
    print("building the rows alone: %.1f s (%.0f %% of the run); writing them: %.1f s" % (
        building, 100 * building / total, total - building))
    projected = total * FULL / written
    judged = verdict(projected < TARGET_SECONDS, args.smoke,
                     None if count == FULL else "%d persons, not %d" % (count, FULL))
    headline("National Register population", "%d persons generated" % written, total, "s",
             "building the rows alone", building, higher_is_better=False,
             target="1 M in < %d s" % TARGET_SECONDS, verdict_text=judged)
    print(judged
          + " (target: %d persons in under %d s; %.0f s measured%s)" % (
              FULL, TARGET_SECONDS, total if count == FULL else projected,
              "" if count == FULL else ", projected"))


if __name__ == "__main__":
    main()
