"""EESSI access point: the AS4 user messages it accepted, whole, with their state.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "as4_message",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("mpc", sa.String(255)),
        sa.Column("buc", sa.String(32)),
        sa.Column("sed_type", sa.String(16)),
        sa.Column("case_id", sa.String(128)),
        sa.Column("content_type", sa.String(512), nullable=False),
        sa.Column("package", sa.LargeBinary, nullable=False),
        sa.Column("digests", sa.Text, nullable=False),
        sa.Column("receipt", sa.LargeBinary),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("pulled_at", sa.DateTime),
        sa.Column("delivered_at", sa.DateTime),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("last_error", sa.String(256)),
    )
    op.create_index("ix_as4_message_channel", "as4_message", ["mpc", "state", "id"])
    op.create_index("ix_as4_message_case", "as4_message", ["case_id"])
    op.create_index("ix_as4_message_outbound", "as4_message", ["state", "next_attempt_at"])


def downgrade():
    op.drop_table("as4_message")
