"""Pension cadastre: declarations (versioned), pensioners, attestations to payers.

Revision ID: pc0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "pc0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "pc_declaration",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("declaration", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("payer", sa.String(64), nullable=False),
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("month", sa.String(10), nullable=False),
        sa.Column("benefit_ref", sa.String(64), nullable=False),
        sa.Column("benefit_type", sa.String(32), nullable=False),
        sa.Column("pillar", sa.Integer, nullable=False),
        sa.Column("gross_cents", sa.BigInteger, nullable=False),
        sa.Column("family", sa.String(12), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("declared_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
    )
    op.create_index("ix_pc_declaration_person", "pc_declaration", ["ssin", "month"])
    op.create_index("ix_pc_declaration_month", "pc_declaration", ["month", "ssin"])
    op.create_index("ix_pc_declaration_chain", "pc_declaration", ["declaration", "version"])
    op.create_index("uq_pc_declaration_live", "pc_declaration",
                    ["payer", "ssin", "month", "benefit_ref"], unique=True,
                    sqlite_where=sa.text("status = 'active'"),
                    postgresql_where=sa.text("status = 'active'"))
    op.create_table(
        "pc_pensioner",
        sa.Column("ssin", sa.String(11), primary_key=True),
        sa.Column("first_month", sa.String(10), nullable=False),
        sa.Column("first_payer", sa.String(64), nullable=False),
        sa.Column("declared_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "pc_attestation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("month", sa.String(10), nullable=False),
        sa.Column("payer", sa.String(64), nullable=False),
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_pc_attestation_subject", "pc_attestation",
                    ["month", "payer", "ssin", "version"])


def downgrade():
    op.drop_table("pc_attestation")
    op.drop_table("pc_pensioner")
    op.drop_table("pc_declaration")
