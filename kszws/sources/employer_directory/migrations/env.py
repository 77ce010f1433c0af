"""Alembic environment of the employer directory source's own database."""
from alembic import context

from kszws.sources.employer_directory.store import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  version_table=context.config.attributes["version_table"],
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
