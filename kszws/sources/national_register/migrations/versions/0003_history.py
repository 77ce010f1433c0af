"""National Register: the groups a full record holds beyond identity and address: the
civil-state history (with the place and act of each change), occupations, filiations,
identity documents (identity cards, passports, driving licences) and past household
memberships.

Revision ID: nr0003
Revises: nr0002
"""
import sqlalchemy as sa
from alembic import op

revision = "nr0003"
down_revision = "nr0002"
branch_labels = None
depends_on = None


def _table(name, *columns):
    op.create_table(name, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("ssin", sa.String(11), nullable=False), *columns)
    op.create_index("ix_%s_ssin" % name, name, ["ssin"])


def upgrade():
    _table("nr_civil_state",
           sa.Column("from_date", sa.String(10), nullable=False),
           sa.Column("code", sa.Integer, nullable=False),
           sa.Column("partner_ssin", sa.String(11)),
           sa.Column("place_nis", sa.Integer),
           sa.Column("act_number", sa.String(10)))
    _table("nr_occupation",
           sa.Column("from_date", sa.String(10), nullable=False),
           sa.Column("code", sa.String(5), nullable=False),
           sa.Column("social_category", sa.Integer, nullable=False))
    _table("nr_filiation",
           sa.Column("from_date", sa.String(10), nullable=False),
           sa.Column("type_code", sa.String(2), nullable=False),
           sa.Column("parent1_ssin", sa.String(11)),
           sa.Column("parent2_ssin", sa.String(11)))
    _table("nr_document",
           sa.Column("kind", sa.String(16), nullable=False),
           sa.Column("number", sa.String(16), nullable=False),
           sa.Column("type_code", sa.String(4), nullable=False),
           sa.Column("issued_on", sa.String(10), nullable=False),
           sa.Column("expires_on", sa.String(10)),
           sa.Column("place_nis", sa.Integer),
           sa.Column("diplomatic_post", sa.Integer),
           sa.Column("categories", sa.String(40)))
    _table("nr_past_membership",
           sa.Column("head_ssin", sa.String(11), nullable=False),
           sa.Column("relationship", sa.Integer, nullable=False),
           sa.Column("entry_date", sa.String(10), nullable=False),
           sa.Column("leave_date", sa.String(10), nullable=False))


def downgrade():
    for name in ("nr_past_membership", "nr_document", "nr_filiation", "nr_occupation",
                 "nr_civil_state"):
        op.drop_table(name)
