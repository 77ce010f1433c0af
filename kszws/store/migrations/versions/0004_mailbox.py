"""Mailboxes: mutations reported by the sources, the fan-out outbox, mailbox items.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mutation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("event_date", sa.Date, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("source", "seq", name="uq_mutation_source_seq"),
    )
    op.create_table(
        "fanout_pending",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("ref_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "mailbox_item",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("ref_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(24), nullable=False),
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("acked_at", sa.DateTime),
        sa.UniqueConstraint("institution", "kind", "ref_id", name="uq_mailbox_item_event"),
    )
    op.create_index("ix_mailbox_item_open", "mailbox_item", ["institution", "acked_at", "id"])


def downgrade():
    op.drop_table("mailbox_item")
    op.drop_table("fanout_pending")
    op.drop_table("mutation")
