"""Reference directory: the SSIN replacements it has followed.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "directory_replacement",
        sa.Column("old_ssin", sa.String(11), primary_key=True),
        sa.Column("new_ssin", sa.String(11), nullable=False),
        sa.Column("replaced_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_directory_replacement_new_ssin", "directory_replacement",
                    ["new_ssin"])


def downgrade():
    op.drop_table("directory_replacement")
