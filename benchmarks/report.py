"""What every benchmark prints the same way: the tail of a latency distribution, the verdict
on a target, and the failure that ends a run.

A figure is only worth printing if it counts successes, and only worth judging at the size
its target names: a smoke run is too small and too short to say anything about a target,
and a "p99" of 10 samples is just the largest but one.
"""
import math
import statistics
import sys

P99_SAMPLES = 1000  # below this a p99 is one of the few largest samples: say max instead


def tail_label(count):
    """"p99 of N" when N samples can carry a p99, else "max of N"."""
    return "p99 of %d" % count if count >= P99_SAMPLES else "max of %d" % count


def percentiles(samples):
    """(p50, tail, label) of `samples`: the tail is the p99 (nearest rank) from
    P99_SAMPLES samples up, else the largest sample, and `label` says which."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    if len(ordered) >= P99_SAMPLES:
        tail = ordered[math.ceil(0.99 * len(ordered)) - 1]
    else:
        tail = ordered[-1]
    return statistics.median(ordered), tail, tail_label(len(ordered))


def verdict(met, smoke, not_full=None):
    """MET / NOT MET against the target as the issue states it, never scaled: a smoke run
    is not judged, nor a run of another size (`not_full` says why it is not full size)."""
    if smoke:
        return "smoke: not judged"
    if not_full:
        return "not judged: %s" % not_full
    return "MET" if met else "NOT MET"


def fail(message):
    """End the run with exit status 1: a benchmark whose replies failed measured nothing."""
    print("benchmark FAILED: %s" % message, file=sys.stderr, flush=True)
    sys.exit(1)


def cpu_seconds(pid):
    """CPU seconds (user + system) used so far by process `pid` and its descendants, read
    from Linux's /proc: where a benchmark's time goes when several processes share the
    cores. 0.0 for a process that is gone."""
    import os

    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # after the command: state ppid ... utime (11) stime (12), counted from state
            stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            total += stats[current][1]
            todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total / ticks


def scrape(url):
    """{metric name: sum of its samples} from a Prometheus endpoint (the hub's /metrics),
    to show a run's counters moving."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    sums = {}
    text = requests.get(url, timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


def moved(before, after, names):
    """'name +delta, ...' for the metrics `names` between two scrapes."""
    return ", ".join("%s +%d" % (name, after.get(name, 0) - before.get(name, 0))
                     for name in names)


# --- The headline table (`make bench`, benchmarks/run_all.py) --------------------------------

RESULTS_ENV = "KSZWS_BENCH_RESULTS"  # a file run_all.py gives every benchmark it runs


def headline(benchmark, figure, value, unit, peer=None, peer_value=None, higher_is_better=True,
             target=None, verdict_text=None):
    """Record one headline figure for the README's table: `figure` = `value` `unit`, beside
    the `peer` measured in the same run (its `peer_value`, in the same unit) when there is
    one, and the target's verdict. Printed by the benchmark anyway; kept only when run_all.py
    collects them (the environment names its file)."""
    import json
    import os

    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    row = {"benchmark": benchmark, "figure": figure, "value": value, "unit": unit,
           "peer": peer, "peer_value": peer_value, "higher_is_better": higher_is_better,
           "target": target, "verdict": verdict_text}
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def machine_speed(rounds=3):
    """Seconds of a fixed CPU loop (pure Python and SHA-256, single core), the best of
    `rounds`: the yardstick printed beside a table, so that two tables from two machines
    (or one machine on two days: these machines differ 2.5-5x) can be compared."""
    import hashlib
    import time

    best = None
    block = b"\0" * (1 << 20)
    for _ in range(rounds):
        start = time.process_time()
        total = 0
        for i in range(2_000_000):
            total += i * i % 7
        digest = hashlib.sha256()
        for _ in range(64):
            digest.update(block)
        spent = time.process_time() - start
        best = spent if best is None else min(best, spent)
    return best
