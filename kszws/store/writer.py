"""Group commit: one writer thread per process, one transaction per batch.

Each request that must write (a replay-cache claim, an exchange-log row) hands its item to
`BatchWriter.submit()` and gets a Deferred. The writer thread takes everything queued, runs
each handler once over its items inside ONE transaction, commits, and only then fires the
Deferreds on the reactor thread. Under load many requests share one commit (and one fsync),
and the reactor never waits on the database.

A handler is any object with `apply(cursor, items) -> list of results` (one result per
item, in order), writing through the DB-API cursor (Database.sql for the paramstyle).
"""
import logging
import os
import queue
import signal
import threading
import time

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from kszws import metrics

log = logging.getLogger(__name__)

_STOP = object()
# Crash tests name a point of the writer where the process kills itself (SIGKILL), so that
# "no reply before its log row is committed" is shown at that exact point, not by chance.
FAILPOINT = os.environ.get("KSZWS_FAILPOINT", "")


def _failpoint(name):
    if FAILPOINT == name:
        log.warning("failpoint %s: killing the process", name)
        os.kill(os.getpid(), signal.SIGKILL)


class BatchWriter:
    def __init__(self, db, reactor, max_batch=512, linger=0.0005):  # linger in seconds
        self.db = db
        self.reactor = reactor
        self.max_batch = max_batch
        # How long the writer waits for more items after the first one (commit_delay in
        # PostgreSQL's terms): without it, a writer that keeps up commits every item on
        # its own, two transactions and fsyncs per request, which costs more CPU than the
        # half millisecond of latency it adds.
        self.linger = linger
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._raw = None  # the writer's own DB-API connection, kept open
        self.batches = 0  # statistics, read by benchmarks
        self.items = 0

    def start(self):
        self._thread = threading.Thread(target=self._run, name="kszws-writer", daemon=True)
        self._thread.start()

    def submit(self, handler, item):
        """Queue `item` for `handler`; the Deferred fires after the commit."""
        d = Deferred()
        self._queue.put((handler, item, d))
        return d

    def stop(self, timeout=30):
        """Write what is queued, then stop the thread (blocking: call from a thread)."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def _reset(self):
        """Drop the connection after a failure; the next batch opens a new one."""
        if self._raw is not None:
            try:
                self._raw.invalidate()
            except Exception:  # already broken
                pass
            self._raw = None

    def _run(self):
        while True:
            first = self._queue.get()
            if first is _STOP:
                self._close()
                return
            batch = [first]
            stop = False
            deadline = time.monotonic() + self.linger
            while len(batch) < self.max_batch:
                try:
                    job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                batch.append(job)
            self._write(batch)
            if stop:
                self._close()
                return

    def _close(self):
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def _write(self, batch):
        groups = {}
        for handler, item, d in batch:
            groups.setdefault(handler, []).append((item, d))
        try:
            if self._raw is None:
                self._raw = self.db.engine.raw_connection()
            results = []
            started = time.monotonic()
            with self.db.write_transaction(self._raw) as cursor:
                for handler, jobs in groups.items():
                    out = handler.apply(cursor, [item for item, _ in jobs])
                    results.extend(zip((d for _, d in jobs), out))
                _failpoint("writer-before-commit")
            _failpoint("writer-after-commit")
        except Exception:
            failure = Failure()
            log.error("batch of %d writes failed: %s", len(batch), failure.getErrorMessage())
            self._reset()
            self.reactor.callFromThread(_fail, [d for _, _, d in batch], failure)
            return
        metrics.group_commit(time.monotonic() - started, len(batch))
        self.batches += 1
        self.items += len(batch)
        self.reactor.callFromThread(_fire, results)


def _fire(results):
    for d, result in results:
        d.callback(result)


def _fail(deferreds, failure):
    for d in deferreds:
        d.errback(failure)
