"""The replay cache: a signature value is accepted once within its Timestamp window.

Shared by every worker through the database (one row per accepted signature, primary key
on its SHA-256), written through the BatchWriter so the reactor never waits on it.
Expired rows are purged by the same writer now and then.
"""
import datetime

PURGE_EVERY = datetime.timedelta(seconds=60)


class ReplayCache:
    def __init__(self, db, writer, clock):
        self.db = db
        self.writer = writer
        self.clock = clock
        self._next_purge = clock()

    def claim(self, token, until):
        """Deferred firing True when `token` is new (and now claimed), False on a replay."""
        return self.writer.submit(self, (token, until))

    def apply(self, cursor, items):
        """BatchWriter handler (writer thread): insert-if-absent in one statement; a token
        that is already stored, or twice in this batch, is a replay."""
        fresh = {}
        for token, until in items:
            fresh.setdefault(token, until)
        rows = ", ".join(["(?, ?)"] * len(fresh))
        cursor.execute(self.db.sql(
            "INSERT INTO replay_cache (token, expires_at) VALUES %s "
            "ON CONFLICT (token) DO NOTHING RETURNING token" % rows),
            [v for token, until in fresh.items() for v in (token, self.db.time_param(until))])
        claimed = {row[0] for row in cursor.fetchall()}
        results = []
        for token, _ in items:
            results.append(token in claimed)
            claimed.discard(token)  # a second copy in the same batch is a replay
        now = self.clock()
        if now >= self._next_purge:
            cursor.execute(self.db.sql("DELETE FROM replay_cache WHERE expires_at < ?"),
                           (self.db.time_param(now),))
            self._next_purge = now + PURGE_EVERY
        return results
