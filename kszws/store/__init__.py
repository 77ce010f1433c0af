"""The database: engine (SQLite default, PostgreSQL), schema, migrations, group commit."""
from kszws.store.db import Database, database_from_settings
from kszws.store.writer import BatchWriter

__all__ = ["BatchWriter", "Database", "database_from_settings"]
