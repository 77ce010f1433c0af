"""Pension cadastre: the attestations the hub took from the cadastre for the payers'
mailboxes (each once, by the cadastre's id).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "pension_attestation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("payer", sa.String(64), nullable=False),
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
    )


def downgrade():
    op.drop_table("pension_attestation")
