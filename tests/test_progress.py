"""kszws/progress.py: a long step shows where it is, on a terminal and in a log."""
import io

from kszws.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_in_a_log_a_line_at_the_end_with_the_count_and_duration():
    out = io.StringIO()
    with Progress("seeding employers", 3000, out, every=3600) as shown:
        for n in range(100, 3001, 100):
            shown.update(n)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1  # within `every`: only the end; a log stays short
    assert lines[-1].startswith("  seeding employers: 3000/3000 (100 %), ")
    assert lines[-1].endswith(" s")


def test_on_a_terminal_one_line_rewritten_in_place():
    out = Terminal()
    with Progress("loading dir.csv", 10, out, every=0) as shown:
        shown.shown -= 1  # as if the last line were a second old
        shown.update(5)
    text = out.getvalue()
    assert text.startswith("\r  loading dir.csv: 5/10 (50 %)")
    assert text.endswith("\n") and text.count("\n") == 1
