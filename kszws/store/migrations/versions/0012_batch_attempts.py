"""A batch file's attempts that failed unexpectedly in a row: after MAX_ATTEMPTS the file
is answered (-100000 for what is left) instead of being retried for ever.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("batch_file") as table:
        table.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("batch_file") as table:
        table.drop_column("attempts")
