"""Employer directory: DIMONA employment periods (one per IN declaration).

Revision ID: ed0002
Revises: ed0001
"""
import sqlalchemy as sa
from alembic import op

revision = "ed0002"
down_revision = "ed0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ed_employment",
        sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cbe", sa.String(10), nullable=False),
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("worker_type", sa.String(12), nullable=False),
        sa.Column("start_date", sa.String(10), nullable=False),
        sa.Column("end_date", sa.String(10)),
        sa.Column("hours", sa.Integer),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("declared_at", sa.DateTime, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_ed_employment_cbe", "ed_employment", ["cbe", "start_date"])
    op.create_index("ix_ed_employment_ssin", "ed_employment", ["ssin", "start_date"])


def downgrade():
    op.drop_table("ed_employment")
