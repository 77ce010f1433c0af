"""Every benchmark at full size, then one table of their headline figures (`make bench`).

Each benchmark prints its own report as it runs (kept in the log, --log) and hands its
headline figures to this script (benchmarks/report.headline). The table gives each figure
beside the peer measured in the same run (the Java WSS4J endpoint, the direct source
call, the source alone, the libraries' import...) and their ratio, and the machine's own
speed: a fixed CPU loop (report.machine_speed) timed before and after, so that two tables
from two machines, or from one machine on two days, can be set side by side (machines of
this kind differ 2.5-5x from one day to the next).

    python benchmarks/run_all.py [--smoke] [--only NAME,...] [--readme] [--log FILE]

--readme writes the table into README.md between its bench-table markers.
A benchmark that fails is named in the table and makes the exit status 1.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import RESULTS_ENV, machine_speed  # noqa: E402

# (name, script and full-size arguments): the order of the table.
BENCHMARKS = [
    ("testconnection", ["bench_testconnection.py", "--peer"]),
    ("identify_person", ["bench_identify_person.py"]),
    ("directory", ["bench_directory.py"]),
    ("mailbox", ["bench_mailbox.py"]),
    ("dimona", ["bench_dimona.py"]),
    ("pension_cadastre", ["bench_pension_cadastre.py"]),
    ("eessi", ["bench_eessi.py"]),
    ("call_startup", ["bench_call_startup.py"]),
    ("population", ["bench_population.py"]),
    ("batch", ["bench_batch.py"]),  # IDPR, then SOCTAR
]
START, END = "<!-- bench-table -->", "<!-- /bench-table -->"


def run(names, smoke, log):
    """Run the benchmarks; return (rows, failed names)."""
    results = Path(tempfile.mkstemp(prefix="kszws-bench-", suffix=".jsonl")[1])
    env = dict(os.environ, **{RESULTS_ENV: str(results)})
    failed = []
    for name, (script, *args) in BENCHMARKS:
        if names and name not in names:
            continue
        command = [sys.executable, str(ROOT / "benchmarks" / script), *args]
        if smoke:
            command.append("--smoke")
        print("== %s: %s" % (name, " ".join(command[1:])), flush=True)
        started = time.monotonic()
        with open(log, "a") as out:
            out.write("\n== %s %s\n" % (datetime.datetime.now().isoformat(timespec="seconds"),
                                        " ".join(command[1:])))
            out.flush()
            done = subprocess.run(command, cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
        if done.returncode != 0:
            failed.append(name)
        print("   %s in %.0f s" % ("FAILED" if done.returncode else "done",
                                   time.monotonic() - started), flush=True)
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    results.unlink()
    return rows, failed


def table(rows, failed, speed_before, speed_after, smoke):
    """The Markdown table of the headline figures."""
    lines = [
        "Measured %s on %s (%d cores), Python %s%s. Machine yardstick (a fixed CPU loop, "
        "benchmarks/report.machine_speed; lower is faster): %.2f s before, %.2f s after."
        % (datetime.date.today().isoformat(), platform.machine(), os.cpu_count(),
           platform.python_version(), ", SMOKE SIZE: not the targets' sizes" if smoke else "",
           speed_before, speed_after),
        "",
        "| benchmark | figure | value | peer (same run) | peer's value | ratio | target | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = ""
        if row["peer_value"]:
            ratio = "%.2f" % (row["value"] / row["peer_value"])
        lines.append("| %s | %s | %s %s | %s | %s | %s | %s | %s |" % (
            row["benchmark"], row["figure"], _number(row["value"]), row["unit"],
            row["peer"] or "", _number(row["peer_value"]) if row["peer_value"] else "",
            ratio, row["target"] or "", row["verdict"] or ""))
    for name in failed:
        lines.append("| %s | FAILED (see the log) | | | | | | |" % name)
    lines.append("")
    lines.append("The ratio is value / peer's value: above 1 the hub does more per second "
                 "(or, for a time or a latency, takes longer) than its peer.")
    return "\n".join(lines)


def _number(value):
    if value is None:
        return ""
    if abs(value) >= 100:
        return "{:,.0f}".format(value)
    return "%.2f" % value if abs(value) < 10 else "%.1f" % value


def write_readme(text):
    readme = ROOT / "README.md"
    content = readme.read_text()
    if START not in content or END not in content:
        sys.exit("README.md has no %s ... %s markers" % (START, END))
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + START + "\n" + text + "\n" + END + tail)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="every benchmark at CI size")
    parser.add_argument("--only", default="", help="comma-separated names: %s"
                        % ", ".join(name for name, _ in BENCHMARKS))
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    parser.add_argument("--log", default=str(ROOT / "benchmarks" / "last-run.log"),
                        help="where every benchmark's own report goes")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - {name for name, _ in BENCHMARKS}
    if unknown:
        sys.exit("unknown benchmark(s): %s" % ", ".join(sorted(unknown)))
    Path(args.log).write_text("")
    before = machine_speed()
    rows, failed = run(names, args.smoke, args.log)
    after = machine_speed()
    text = table(rows, failed, before, after, args.smoke)
    print()
    print(text)
    if args.readme:
        write_readme(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
