"""One database layer over SQLite (the embedded default) and PostgreSQL (by URL).

`Database` is synchronous: the CLI uses it directly; on the server every call goes through
a thread (the BatchWriter, or Twisted's thread pool) so the reactor never blocks on it.
"""
import contextlib
import fcntl
import os
import threading
from pathlib import Path

from sqlalchemy import create_engine, event, text
from twisted.internet import threads
from sqlalchemy.engine import make_url

from kszws.clock import naive_utc

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Database:
    def __init__(self, url, sqlite_synchronous="FULL"):
        self._lock = None
        self._reader = None
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()  # "sqlite" | "postgresql"
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(self.url, sqlite_synchronous)
        elif self.dialect == "postgresql":
            if self.url.drivername == "postgresql":
                self.url = self.url.set(drivername="postgresql+psycopg")
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=4,
                                        max_overflow=4)
        else:
            raise ValueError("unsupported database %r: use sqlite:/// or postgresql://"
                             % self.dialect)

    # -- the hot write path: plain DB-API, no ORM/Core overhead --------------------------
    # The BatchWriter's handlers write through a raw DB-API cursor: SQLAlchemy Core costs
    # ~100 us of Python per statement, and that time is taken from the reactor thread (GIL).

    def sql(self, statement):
        """A statement written with ? placeholders, in the driver's paramstyle."""
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")

    def time_param(self, moment):
        """An aware or naive-UTC datetime as the driver stores it for a DateTime column
        (for SQLite the exact text SQLAlchemy's DateTime type writes and reads)."""
        moment = naive_utc(moment)
        if self.dialect == "sqlite":
            return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment

    def date_param(self, day):
        """A date as the driver stores it for a Date column (SQLite: ISO text)."""
        return day.isoformat() if self.dialect == "sqlite" else day

    @contextlib.contextmanager
    def write_transaction(self, raw=None):
        """A write transaction on `raw` (a DB-API connection from engine.raw_connection(),
        or a new one), yielding a cursor; commits on success, rolls back on error.

        SQLite allows one writer at a time per file: workers in other processes wait on a
        file lock (woken the moment it is free) rather than in SQLite's busy handler,
        which sleeps 1, 2, 5, 10 ... 100 ms between retries."""
        own = raw is None
        raw = raw if raw is not None else self.engine.raw_connection()
        try:
            with self._writer_lock:
                cursor = raw.cursor()
                try:
                    if self.dialect == "sqlite":
                        cursor.execute("BEGIN IMMEDIATE")
                    yield cursor
                    raw.commit()
                except BaseException:
                    raw.rollback()
                    raise
                finally:
                    cursor.close()
        finally:
            if own:
                raw.close()

    @property
    def _writer_lock(self):
        if self._lock is None:
            self._lock = _ProcessLock(self.url.database + ".writelock"
                                      if self.dialect == "sqlite" and self.url.database
                                      and self.url.database != ":memory:" else None)
        return self._lock

    def migrate(self, script_location=MIGRATIONS, version_table="alembic_version"):
        """Create or upgrade the schema to the newest migration (idempotent). The hub's
        migrations by default; a source passes its own, with its own version table."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(script_location))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            cfg.attributes["version_table"] = version_table
            command.upgrade(cfg, "head")

    def ping(self):
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    @property
    def reader(self):
        """An engine for reads only. On SQLite its transactions begin DEFERRED, on a
        snapshot of the file, and take no lock: the main engine begins every transaction
        IMMEDIATE (writers serialise at BEGIN), so a read through it would queue behind
        the writers in SQLite's busy handler, which sleeps 1 to 100 ms between tries, and
        the writers behind it. On PostgreSQL, the main engine."""
        if self.dialect != "sqlite":
            return self.engine
        if self._reader is None:
            self._reader = _sqlite_engine(self.url, None, read_only=True)
        return self._reader

    def dispose(self):
        self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()

    def __repr__(self):
        return "Database(%s)" % self.url.render_as_string(hide_password=True)


def insert_many(conn, table, rows):
    """Insert `rows` (dicts with the same keys) in one executemany of the driver: Core's
    insert builds each row's parameters in Python (~30 us a row), the bulk loads (the
    synthetic populations) write millions."""
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    columns = list(rows[0])
    mark = (":%s" if conn.dialect.name == "sqlite" else "%%(%s)s")
    conn.exec_driver_sql("INSERT INTO %s (%s) VALUES (%s)" % (
        quote(table.name), ", ".join(map(quote, columns)),
        ", ".join(mark % c for c in columns)), rows)


def _sqlite_engine(url, synchronous, read_only=False):
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, open transactions (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        else:
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the log writer
            cur.execute("PRAGMA synchronous=%s" % synchronous)
            cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE takes the write lock at BEGIN: two workers appending to the hash chain
        # serialise there instead of failing later with "database is locked". A reader
        # begins DEFERRED: its SELECTs read one snapshot and take no lock (Database.reader).
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def database_from_settings(settings):
    os.makedirs(settings.data_dir, exist_ok=True)
    return Database(settings.store_url, settings.sqlite_synchronous)


class _ProcessLock:
    """Mutual exclusion between the threads of this process and, through flock() on a
    lock file, between processes."""

    def __init__(self, path):
        self._thread_lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path else None

    def __enter__(self):
        self._thread_lock.acquire()
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


def in_transaction(db, work):
    """Deferred[work(conn)], run in a thread inside one transaction of `db`: everything
    `work` writes is committed together, or nothing is."""
    def run():
        with db.engine.begin() as conn:
            return work(conn)
    return threads.deferToThread(run)
