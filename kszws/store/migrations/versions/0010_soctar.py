"""SOCTAR, the social energy tariff: the beneficiaries declared per quarter.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "soctar_beneficiary",
        sa.Column("quarter", sa.String(6), primary_key=True),
        sa.Column("ssin", sa.String(11), primary_key=True),
        sa.Column("category", sa.String(16), primary_key=True),
        sa.Column("institution", sa.String(64), primary_key=True),
        sa.Column("batch_file_id", sa.Integer, nullable=False),
    )


def downgrade():
    op.drop_table("soctar_beneficiary")
