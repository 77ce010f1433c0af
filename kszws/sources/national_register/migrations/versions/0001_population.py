"""National Register: persons, phonetic name keys, addresses, households.

Revision ID: nr0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "nr0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "nr_person",
        sa.Column("ssin", sa.String(11), primary_key=True),
        sa.Column("register", sa.String(8), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("replaced_by", sa.String(11)),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("first_names", sa.String(100)),
        sa.Column("middle_name", sa.String(100)),
        sa.Column("gender", sa.Integer, nullable=False),
        sa.Column("birth_date", sa.String(10), nullable=False),
        sa.Column("birth_year", sa.Integer, nullable=False),
        sa.Column("birth_place_nis", sa.Integer),
        sa.Column("birth_place", sa.String(100)),
        sa.Column("birth_country_nis", sa.Integer, nullable=False),
        sa.Column("nationality_nis", sa.Integer, nullable=False),
        sa.Column("civil_state", sa.Integer, nullable=False),
        sa.Column("civil_state_date", sa.String(10)),
        sa.Column("partner_ssin", sa.String(11)),
        sa.Column("decease_date", sa.String(10)),
        sa.Column("decease_place_nis", sa.Integer),
        sa.Column("sis_card", sa.String(10)),
        sa.Column("eid_card", sa.String(12)),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("household_id", sa.Integer),
        sa.Column("registered_on", sa.String(10), nullable=False),
    )
    op.create_index("ix_nr_person_sis_card", "nr_person", ["sis_card"])
    op.create_index("ix_nr_person_eid_card", "nr_person", ["eid_card"])
    op.create_index("ix_nr_person_household", "nr_person", ["household_id"])
    op.create_table(
        "nr_name_key",
        sa.Column("key", sa.String(24), primary_key=True),
        sa.Column("birth_year", sa.Integer, primary_key=True),
        sa.Column("ssin", sa.String(11), primary_key=True),
    )
    op.create_table(
        "nr_address",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("from_date", sa.String(10), nullable=False),
        sa.Column("to_date", sa.String(10)),
        sa.Column("country_nis", sa.Integer, nullable=False),
        sa.Column("municipality_nis", sa.Integer),
        sa.Column("municipality", sa.String(100)),
        sa.Column("postal_code", sa.String(10)),
        sa.Column("street", sa.String(100)),
        sa.Column("house_number", sa.String(10)),
        sa.Column("box", sa.String(10)),
        sa.Column("diplomatic_post", sa.Integer),
        sa.Column("plain_text", sa.String(100)),
    )
    op.create_index("ix_nr_address_ssin", "nr_address", ["ssin"])
    op.create_table(
        "nr_household_member",
        sa.Column("ssin", sa.String(11), primary_key=True),
        sa.Column("household_id", sa.Integer, nullable=False),
        sa.Column("relationship", sa.Integer, nullable=False),
        sa.Column("entry_date", sa.String(10), nullable=False),
    )
    op.create_index("ix_nr_household_member_household", "nr_household_member", ["household_id"])


def downgrade():
    for table in ("nr_household_member", "nr_address", "nr_name_key", "nr_person"):
        op.drop_table(table)
