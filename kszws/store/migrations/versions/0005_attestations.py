"""Electronic attestations and their versions (events delivered to the mailboxes).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "attestation",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(24), nullable=False),
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("publisher", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date),
        sa.Column("decision_date", sa.Date, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("publisher", "reference", name="uq_attestation_reference"),
    )
    op.create_index("ix_attestation_ssin", "attestation", ["ssin"])
    op.create_table(
        "attestation_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("attestation", sa.String(36), sa.ForeignKey("attestation.id"),
                  nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade():
    op.drop_table("attestation_event")
    op.drop_table("attestation")
