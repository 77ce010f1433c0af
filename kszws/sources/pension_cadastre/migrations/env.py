"""Alembic environment of the pension cadastre source's own database."""
from alembic import context

from kszws.sources.pension_cadastre.store import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  version_table=context.config.attributes["version_table"],
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
