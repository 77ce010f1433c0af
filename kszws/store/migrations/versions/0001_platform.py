"""Platform: exchange log with hash chain, its subjects and head, replay cache.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "exchange_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ticket", sa.String(36), nullable=False, unique=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("replied_at", sa.DateTime, nullable=False),
        sa.Column("caller", sa.String(64)),
        sa.Column("caller_user", sa.String(64)),
        sa.Column("auth_method", sa.String(16), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(64)),
        sa.Column("version", sa.String(16)),
        sa.Column("legal_context", sa.String(64)),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("reason_code", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(256)),
        sa.Column("request_size", sa.Integer, nullable=False),
        sa.Column("reply_size", sa.Integer, nullable=False),
        sa.Column("peer", sa.String(64)),
        sa.Column("signed_request", sa.Boolean, nullable=False),
        sa.Column("signed_reply", sa.Boolean, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_exchange_log_received_at", "exchange_log", ["received_at"])
    op.create_index("ix_exchange_log_caller", "exchange_log", ["caller"])
    op.create_table(
        "exchange_subject",
        sa.Column("seq", sa.BigInteger, sa.ForeignKey("exchange_log.seq"), primary_key=True),
        sa.Column("kind", sa.String(4), primary_key=True),
        sa.Column("value", sa.String(11), primary_key=True),
    )
    op.create_index("ix_exchange_subject_value", "exchange_subject", ["value"])
    head = op.create_table(
        "log_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    # The chain starts from a genesis head; the writer only ever updates this one row.
    op.bulk_insert(head, [{"id": 1, "last_seq": 0, "last_hash": "0" * 64}])
    op.create_table(
        "replay_cache",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_replay_cache_expires_at", "replay_cache", ["expires_at"])


def downgrade():
    op.drop_table("replay_cache")
    op.drop_table("log_head")
    op.drop_table("exchange_subject")
    op.drop_table("exchange_log")
