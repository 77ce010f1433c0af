"""The store: migrations on SQLite and PostgreSQL, the replay cache, the exchange log."""
import datetime
import threading

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, insert, select, update

from kszws.hub import exchange_log
from kszws.hub.exchange import Exchange, new_ticket
from kszws.security.replay import ReplayCache
from kszws.store.schema import exchange_log as log_table
from kszws.store.schema import exchange_subject, metadata

T0 = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.timezone.utc)


def test_migrated_database_matches_the_schema_module(db):
    db.migrate()  # idempotent
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def exchange(n=0, **kw):
    values = dict(ticket=new_ticket(), received_at=T0 + datetime.timedelta(seconds=n),
                  replied_at=T0 + datetime.timedelta(seconds=n, milliseconds=5),
                  service="TestConnectionService", request_size=100 + n, reply_size=200,
                  caller="cpas-eupen", auth_method="signature", operation="sendTestMessage")
    values.update(kw)
    return Exchange(**values)


def append(db, exchanges):
    log = exchange_log.ExchangeLog(db, writer=None)
    with db.write_transaction() as cursor:
        return log.apply(cursor, exchanges)


def test_log_rows_chain_and_verify(db):
    seqs = append(db, [exchange(i) for i in range(5)])
    seqs += append(db, [exchange(5, ssins={"85073003328"}, cbes={"0403170701"})])
    assert seqs == [1, 2, 3, 4, 5, 6]
    report = exchange_log.verify(db)
    assert report.ok and report.rows == 6 and report.head_seq == 6
    rows = exchange_log.search(db, subject="85073003328")
    assert [r["seq"] for r in rows] == [6] and rows[0]["subjects"] == ["0403170701", "85073003328"]


def test_altered_row_is_detected(db):
    append(db, [exchange(i) for i in range(4)])
    with db.engine.begin() as conn:
        conn.execute(update(log_table).where(log_table.c.seq == 2).values(caller="someone-else"))
    report = exchange_log.verify(db)
    assert not report.ok and any(seq == 2 and "altered" in p for seq, p in report.problems)


def test_altered_subject_is_detected(db):
    append(db, [exchange(0, ssins={"85073003328"})])
    with db.engine.begin() as conn:
        conn.execute(update(exchange_subject).values(value="01020300170"))
    assert not exchange_log.verify(db).ok


def test_deleted_row_is_detected(db):
    append(db, [exchange(i) for i in range(4)])
    with db.engine.begin() as conn:
        conn.execute(delete(log_table).where(log_table.c.seq == 2))
    problems = exchange_log.verify(db).problems
    assert any(seq == 3 and "jumps" in p for seq, p in problems)


def test_deleted_tail_is_detected(db):
    append(db, [exchange(i) for i in range(4)])
    with db.engine.begin() as conn:
        conn.execute(delete(log_table).where(log_table.c.seq == 4))
    problems = exchange_log.verify(db).problems
    assert any("log head" in p for _, p in problems)


def test_inserted_row_is_detected(db):
    append(db, [exchange(i) for i in range(3)])
    with db.engine.begin() as conn:
        row = dict(conn.execute(select(log_table).where(log_table.c.seq == 3)).mappings().one())
        conn.execute(update(log_table).where(log_table.c.seq == 3).values(seq=4))
        row.update(seq=3, ticket=new_ticket(), caller="forged")
        conn.execute(insert(log_table).values(**row))
    assert not exchange_log.verify(db).ok


def test_concurrent_writers_keep_one_chain(db):
    """Several writers (threads here, processes in production) append at once."""
    errors = []

    def work():
        try:
            for _ in range(10):
                append(db, [exchange(0), exchange(1)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = exchange_log.verify(db)
    assert report.ok and report.rows == 80


def test_replay_cache_accepts_a_token_once(db):
    cache = ReplayCache(db, None, lambda: T0)
    later = T0 + datetime.timedelta(minutes=10)
    with db.write_transaction() as cursor:
        assert cache.apply(cursor, [("a" * 64, later), ("b" * 64, later), ("a" * 64, later)]) \
            == [True, True, False]
    with db.write_transaction() as cursor:
        assert cache.apply(cursor, [("b" * 64, later), ("c" * 64, later)]) == [False, True]


def test_replay_cache_purges_expired_tokens(db):
    from kszws.store.schema import replay_cache

    now = [T0]
    cache = ReplayCache(db, None, lambda: now[0])
    with db.write_transaction() as cursor:
        cache.apply(cursor, [("a" * 64, T0 + datetime.timedelta(minutes=1))])
    now[0] = T0 + datetime.timedelta(minutes=5)
    with db.write_transaction() as cursor:
        cache.apply(cursor, [("c" * 64, now[0] + datetime.timedelta(minutes=1))])
    with db.engine.connect() as conn:
        tokens = [r.token for r in conn.execute(select(replay_cache))]
    assert tokens == ["c" * 64]


def test_a_value_too_long_for_its_column_cannot_fail_the_batch(db):
    """One request's over-long value (an operation name, a 12-digit "SSIN" that got past a
    schema) must not fail the commit of the rows batched with it."""
    batch = [exchange(0), exchange(1, operation="o" * 300, caller_user="u" * 100,
                                   peer="p" * 100, ssins={"701008531900", "70100853190"}),
             exchange(2)]
    assert append(db, batch) == [1, 2, 3]
    row = exchange_log.search(db, ticket=batch[1].ticket)[0]
    assert row["operation"] == "o" * 64 and row["subjects"] == ["70100853190"]
    assert exchange_log.verify(db).ok


def test_the_reader_takes_no_lock_and_writes_nothing(tmp_path):
    """Database.reader (SQLite): a read transaction open on it leaves the file to the
    writers at once (the main engine begins IMMEDIATE), and it refuses to write."""
    import sqlite3

    import pytest
    from sqlalchemy.exc import OperationalError

    from kszws.store import Database
    from kszws.store.schema import replay_cache

    db = Database("sqlite:///%s" % (tmp_path / "hub.sqlite"), "NORMAL")
    db.migrate()
    try:
        with db.reader.connect() as reading:
            reading.execute(select(replay_cache)).all()  # the transaction has begun
            writer = sqlite3.connect(str(tmp_path / "hub.sqlite"), timeout=0)
            writer.execute("BEGIN IMMEDIATE")  # no wait: the reader holds no lock
            writer.rollback()
            writer.close()
            with pytest.raises(OperationalError, match="readonly"):
                reading.execute(insert(replay_cache).values(
                    token="a" * 64, expires_at=T0.replace(tzinfo=None)))
        assert db.reader is db.reader
    finally:
        db.dispose()
