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
