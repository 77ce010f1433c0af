"""Alembic environment: migrations run on the connection Database.migrate() hands over."""
from alembic import context

from kszws.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  version_table=context.config.attributes.get("version_table", "alembic_version"),
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
