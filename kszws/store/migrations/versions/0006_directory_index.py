"""Reference directory: drop the index on the institution alone. Every query names the
person (SSIN); the index only cost each registration an insert, and it once led SQLite's
planner to scan an institution's files instead of the person's.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_directory_registration_institution", "directory_registration")


def downgrade():
    op.create_index("ix_directory_registration_institution", "directory_registration",
                    ["institution"])
