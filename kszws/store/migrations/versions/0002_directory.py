"""Reference directory: registrations (person, institution, quality code, period).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "directory_registration",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ssin", sa.String(11), nullable=False),
        sa.Column("sector", sa.Integer, nullable=False),
        sa.Column("subsector", sa.Integer, nullable=False),
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("quality_code", sa.Integer, nullable=False),
        sa.Column("phase", sa.Integer, nullable=False),
        sa.Column("register", sa.String(10), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime),
    )
    op.create_index("ix_directory_registration_ssin", "directory_registration",
                    ["ssin", "sector"])
    op.create_index("ix_directory_registration_institution", "directory_registration",
                    ["institution"])


def downgrade():
    op.drop_table("directory_registration")
