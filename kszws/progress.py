"""A long step's progress on standard error: seeding a population, a bulk load.

On a terminal, one line rewritten in place (done/total, percent, seconds); in a log or a
pipe, a line at most every `every` seconds and one at the end, so that logs stay short."""
import sys
import time


class Progress:
    def __init__(self, what, total, stream=None, every=5.0):
        self.what = what
        self.total = max(int(total), 1)
        self.stream = stream or sys.stderr
        self.every = every
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.monotonic()
        self.shown = self.started
        self.done = 0

    def update(self, done):
        self.done = done
        now = time.monotonic()
        if now - self.shown >= (0.2 if self.tty else self.every):
            self.shown = now
            self._write(now, final=False)

    def finish(self):
        self._write(time.monotonic(), final=True)

    def _write(self, now, final):
        line = "  %s: %d/%d (%d %%), %.1f s" % (self.what, self.done, self.total,
                                                100 * self.done // self.total,
                                                now - self.started)
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finish()
