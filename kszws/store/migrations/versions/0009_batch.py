"""The batch channel: the files submitted through the drop box, the sequence numbers
used, and the files the hub answered with (fetched or not).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "batch_file",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("type", sa.String(4), nullable=False),
        sa.Column("sender", sa.String(6), nullable=False),
        sa.Column("env", sa.String(1), nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("errors", sa.String(256)),
        sa.Column("spool", sa.String(255), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("acknowledged_at", sa.DateTime),
        sa.Column("records_total", sa.Integer),
        sa.Column("records_done", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(32)),
        sa.Column("lease_until", sa.DateTime),
    )
    op.create_index("ix_batch_file_state", "batch_file", ["state", "id"])
    op.create_table(
        "batch_sequence",
        sa.Column("sender", sa.String(6), primary_key=True),
        sa.Column("file_date", sa.String(8), primary_key=True),
        sa.Column("seq", sa.String(5), primary_key=True),
        sa.Column("env", sa.String(1), primary_key=True),
        sa.Column("batch_file_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "batch_result",
        sa.Column("batch_file_id", sa.Integer, primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("body", sa.LargeBinary),
    )
    op.create_table(
        "batch_outfile",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("institution", sa.String(64), nullable=False),
        sa.Column("folder", sa.String(8), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("batch_file_id", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("fetched_at", sa.DateTime),
        sa.UniqueConstraint("institution", "folder", "name", name="uq_batch_outfile_name"),
    )


def downgrade():
    for table in ("batch_outfile", "batch_result", "batch_sequence", "batch_file"):
        op.drop_table(table)
