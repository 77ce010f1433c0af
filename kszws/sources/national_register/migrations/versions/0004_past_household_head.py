"""National Register: past household memberships found by their reference person (SOCTAR
reads who was in a household on a day).

Revision ID: nr0004
Revises: nr0003
"""
from alembic import op

revision = "nr0004"
down_revision = "nr0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_nr_past_membership_head", "nr_past_membership", ["head_ssin"])


def downgrade():
    op.drop_index("ix_nr_past_membership_head", "nr_past_membership")
