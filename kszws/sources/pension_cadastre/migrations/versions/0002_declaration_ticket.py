"""Pension cadastre: the hub's reference of the batch record a declaration came from, and
the declaration that made a person a pensioner (a redone batch chunk is answered alike).

Revision ID: pc0002
Revises: pc0001
"""
import sqlalchemy as sa
from alembic import op

revision = "pc0002"
down_revision = "pc0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("pc_declaration", sa.Column("ticket", sa.String(40)))
    op.create_index("ix_pc_declaration_ticket", "pc_declaration", ["payer", "ticket"])
    op.add_column("pc_pensioner", sa.Column("first_declaration", sa.Integer))


def downgrade():
    op.drop_index("ix_pc_declaration_ticket", "pc_declaration")
    with op.batch_alter_table("pc_declaration") as batch:
        batch.drop_column("ticket")
    with op.batch_alter_table("pc_pensioner") as batch:
        batch.drop_column("first_declaration")
