"""Mutation testing (mutmut) of the code that decides who gets in and what is logged:
kszws/security/, kszws/hub/access.py, kszws/hub/pipeline.py, kszws/directory/ and
kszws/wire/xmlparse.py (pyproject.toml, [tool.mutmut], names the modules and the tests).

    .venv/bin/python -m tests.mutation.run              # every mutant: `make mutation`
    .venv/bin/python -m tests.mutation.run --sample 60  # a random sample: CI

mutmut copies the project into mutants/, changes one thing in one function at a time and
runs the tests that reach that function. A mutant is killed when a test fails. This prints,
per module, the share of mutants killed, and every surviving mutant that
tests/mutation/survivors.txt does not explain (one line each: the mutant's name, then why
it survives: equivalent to the original, or the test that is still to be written), in the
files of tests/mutation/survivors/.
Exit 1 when a module is under 90 % (full run) or an unexplained mutant survives.
"""
import argparse
import collections
import os
import random
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MUTMUT = [sys.executable, "-m", "mutmut"]
SURVIVORS = Path(__file__).resolve().parent / "survivors"  # one file per group of modules
TARGET = 0.90
KILLED = {"killed", "timeout"}  # a mutant that makes a test hang is caught too


def mutmut(*args):
    return subprocess.run([*MUTMUT, *args], cwd=ROOT, text=True, capture_output=True)


def results():
    """{mutant name: status} of the last runs."""
    out = mutmut("results", "--all", "true").stdout
    return dict(re.findall(r"^\s+(\S+): (.+)$", out, re.M))


def module_of(name):
    return re.split(r"\.x[_ǁ]", name, maxsplit=1)[0]


def explained():
    """The survivors the files explain: name -> reason. A `postgresql only` mutant (code
    that runs on PostgreSQL alone) is explained only when the run has no PostgreSQL: with
    KSZWS_TEST_DATABASE_URL set, its [postgresql] tests must kill it."""
    with_postgres = bool(os.environ.get("KSZWS_TEST_DATABASE_URL"))
    entries = {}
    for path in sorted(SURVIVORS.glob("*.txt")):
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                if not (with_postgres and reason.startswith("postgresql only")):
                    entries[name] = reason.strip()
    return entries


def run(names=(), children=2):
    done = subprocess.run([*MUTMUT, "run", "--max-children", str(children), *names],
                          cwd=ROOT, text=True, stdout=subprocess.DEVNULL)
    if done.returncode not in (0, 1):
        raise SystemExit("mutmut run failed (exit %d)" % done.returncode)


def report(status, checked):
    """Print the score per module of the `checked` mutants; return the modules under
    target and the unexplained survivors."""
    by_module = collections.defaultdict(collections.Counter)
    for name in checked:
        by_module[module_of(name)][status[name]] += 1
    low = []
    print("%-34s %7s %7s %8s %8s %7s" % ("module", "mutants", "killed", "survived",
                                        "no tests", "score"))
    for module, counts in sorted(by_module.items()):
        total = sum(counts.values())
        killed = sum(counts[s] for s in KILLED)
        score = killed / total
        print("%-34s %7d %7d %8d %8d %6.1f%%" % (module, total, killed, counts["survived"],
                                                counts["no tests"], 100 * score))
        if score < TARGET:
            low.append(module)
    total = len(checked)
    killed = sum(1 for n in checked if status[n] in KILLED)
    print("%-34s %7d %7d %8s %8s %6.1f%%" % ("all", total, killed, "", "",
                                           100 * killed / max(total, 1)))
    reasons = explained()
    unexplained = sorted(n for n in checked if status[n] not in KILLED and n not in reasons)
    return low, unexplained


def main(argv=None):
    parser = argparse.ArgumentParser(description="mutation testing of the admission code")
    parser.add_argument("--sample", type=int, default=0,
                        help="run only this many mutants, drawn at random")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--children", type=int, default=2)
    args = parser.parse_args(argv)
    if args.sample:
        # mutmut generates every mutant on its first run; one that matches nothing is refused,
        # so the first mutant of each function of the parser (a handful, quick) is run.
        run(["kszws.wire.xmlparse.*__mutmut_1"], args.children)
        names = sorted(results())
        chosen = random.Random(args.seed).sample(names, min(args.sample, len(names)))
        run(chosen, args.children)
    else:
        run((), args.children)
        chosen = sorted(results())
    status = results()
    low, unexplained = report(status, chosen)
    for name in unexplained:
        print("survived, not explained in %s/: %s" % (SURVIVORS.relative_to(ROOT), name))
    if unexplained:
        print("see one with: .venv/bin/mutmut show NAME")
    failed = bool(unexplained) or (not args.sample and bool(low))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
