"""Reference directory: the person index also holds the institution and the quality code,
(ssin, sector, institution, quality_code) instead of (ssin, sector). The integration
check (held_codes) and a bulk load's conflict probes name all of them: they now find the
institution's registrations of the code in the index and read only those rows, not every
registration of the person in the sector (at 10 M registrations, reading those rows was
most of a bulk load's probe and of the check's tail).

Revision ID: 0013
Revises: 0012
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_directory_registration_person", "directory_registration",
                    ["ssin", "sector", "institution", "quality_code"])
    op.drop_index("ix_directory_registration_ssin", "directory_registration")


def downgrade():
    op.create_index("ix_directory_registration_ssin", "directory_registration",
                    ["ssin", "sector"])
    op.drop_index("ix_directory_registration_person", "directory_registration")
