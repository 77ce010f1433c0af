"""The replay cache: a signature value is accepted once within its Timestamp window.

Shared by every worker through the database (one row per accepted signature, primary key
on its SHA-256), written through the BatchWriter so the reactor never waits on it.
Expired rows are purged by the same writer now and then.
"""
import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from kszws.store.schema import replay_cache

PURGE_EVERY = datetime.timedelta(seconds=60)


def _naive_utc(moment):
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)


class ReplayCache:
    def __init__(self, writer, clock):
        self.writer = writer
        self.clock = clock
        self._insert = (postgresql if writer.db.dialect == "postgresql" else sqlite).insert
        self._next_purge = clock()

    def claim(self, token, until):
        """Deferred firing True when `token` is new (and now claimed), False on a replay."""
        return self.writer.submit(self, (token, _naive_utc(until)))

    def apply(self, conn, items):
        """BatchWriter handler: insert-if-absent, one result per token (writer thread)."""
        results = []
        for token, until in items:
            stmt = (self._insert(replay_cache).values(token=token, expires_at=until)
                    .on_conflict_do_nothing().returning(replay_cache.c.token))
            results.append(conn.execute(stmt).first() is not None)
        now = self.clock()
        if now >= self._next_purge:
            conn.execute(delete(replay_cache).where(replay_cache.c.expires_at < _naive_utc(now)))
            self._next_purge = now + PURGE_EVERY
        return results
