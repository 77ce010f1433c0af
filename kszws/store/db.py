"""One database layer over SQLite (the embedded default) and PostgreSQL (by URL).

`Database` is synchronous: the CLI uses it directly; on the server every call goes through
a thread (the BatchWriter, or Twisted's thread pool) so the reactor never blocks on it.
"""
import os
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Database:
    def __init__(self, url, sqlite_synchronous="FULL"):
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

    def migrate(self):
        """Create or upgrade the schema to the newest migration (idempotent)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def ping(self):
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def dispose(self):
        self.engine.dispose()

    def __repr__(self):
        return "Database(%s)" % self.url.render_as_string(hide_password=True)


def _sqlite_engine(url, synchronous):
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, open transactions (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the log writer
        cur.execute("PRAGMA synchronous=%s" % synchronous)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE takes the write lock at BEGIN: two workers appending to the hash chain
        # serialise there instead of failing later with "database is locked".
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def database_from_settings(settings):
    os.makedirs(settings.data_dir, exist_ok=True)
    return Database(settings.store_url, settings.sqlite_synchronous)
