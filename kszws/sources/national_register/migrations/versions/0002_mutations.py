"""National Register: the mutations it records, numbered, and how far each receiver
acknowledged them.

Revision ID: nr0002
Revises: nr0001
"""
import sqlalchemy as sa
from alembic import op

revision = "nr0002"
down_revision = "nr0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "nr_mutation",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("event_date", sa.String(10), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_nr_mutation_event_date", "nr_mutation", ["event_date"])
    op.create_table(
        "nr_push",
        sa.Column("receiver", sa.String(64), primary_key=True),
        sa.Column("acked_seq", sa.Integer, nullable=False),
    )


def downgrade():
    op.drop_table("nr_push")
    op.drop_table("nr_mutation")
