"""The daily FO.MUTA files of the institutions that receive their mutations by batch.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "batch_muta",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("cutoff", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("owner", sa.String(32)),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("items", sa.Integer),
        sa.Column("done_at", sa.DateTime),
        sa.UniqueConstraint("institution", "day", name="uq_batch_muta_day"),
    )


def downgrade():
    op.drop_table("batch_muta")
