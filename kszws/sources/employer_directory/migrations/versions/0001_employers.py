"""Employer directory: employers of both registers, attribute history, name index.

Revision ID: ed0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "ed0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ed_employer",
        sa.Column("cbe", sa.String(10), primary_key=True),
        sa.Column("nsso", sa.String(10), nullable=False, unique=True),
        sa.Column("register", sa.String(6), nullable=False),
        sa.Column("start_date", sa.String(10), nullable=False),
        sa.Column("end_date", sa.String(10)),
    )
    op.create_table(
        "ed_attribute",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cbe", sa.String(10), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("valid_from", sa.String(10), nullable=False),
        sa.Column("valid_until", sa.String(10)),
    )
    op.create_index("ix_ed_attribute_cbe", "ed_attribute", ["cbe", "name", "valid_from"])
    op.create_table(
        "ed_name",
        sa.Column("cbe", sa.String(10), primary_key=True),
        sa.Column("folded", sa.String(200), nullable=False),
        sa.Column("municipality_nis", sa.Integer),
    )
    op.create_index("ix_ed_name_folded", "ed_name", ["folded"])


def downgrade():
    op.drop_table("ed_name")
    op.drop_table("ed_attribute")
    op.drop_table("ed_employer")
