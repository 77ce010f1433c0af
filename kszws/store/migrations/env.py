"""Alembic environment: migrations run on the connection Database.migrate() hands over."""
from alembic import context

from kszws.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
