"""SIGKILL in the middle of EESSI traffic, both ways (issue 13, item 9): the benchmark at a
small size with --kill. The hub is killed (every worker, no shutdown) halfway through the
German pushes and again halfway through RSZ's, and restarted; pushes cut off are resent
with the same MessageId, a pull whose answer was lost is offered again, a push abroad a
worker had claimed is taken up after its lease. The run fails unless every message is
pulled and receipted, or delivered to the German store, exactly once."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_message_is_delivered_once_across_two_sigkills(capsys):
    sys.path.insert(0, str(ROOT))
    from benchmarks import bench_eessi

    assert bench_eessi.main(["--seds", "45", "--workers", "1", "--concurrency", "6",
                             "--kill"]) == 0
    out = capsys.readouterr().out
    assert "the hub was SIGKILLed 2 times and restarted" in out
    assert "every message pulled once and receipted" in out
    assert "the German store holds each once" in out
