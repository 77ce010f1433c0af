"""The pension cadastre's own database (seed §4.7).

pc_declaration  one row per version of a payer's monthly declaration of one benefit: a
                correction supersedes the version in force by a new one of the same
                declaration (`declaration` = the id of its first version, the stable id
                payers use); a cancellation ends the version in force. Nothing is deleted:
                the rows of a declaration are its history.
pc_pensioner    every person ever declared, with the first declaration: the health-insurance
                continuity notice goes out once, for a new pensioner.
pc_attestation  what the monthly run tells each payer about each person it pays: a new
                version whenever the figures change (a correction, another payer's
                declaration), read by the hub in id order and put in the payer's mailbox.
"""
from pathlib import Path

from sqlalchemy import (BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table,
                        Text, text)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_pension_cadastre"
ACTIVE, SUPERSEDED, CANCELLED = "active", "superseded", "cancelled"

metadata = MetaData()

declaration = Table(
    "pc_declaration", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("declaration", Integer, nullable=False),  # the id of its first version
    Column("version", Integer, nullable=False),
    Column("payer", String(64), nullable=False),  # institution id (institutions.toml)
    Column("ssin", String(11), nullable=False),
    Column("month", String(10), nullable=False),  # its first day, ISO
    Column("benefit_ref", String(64), nullable=False),  # the payer's own reference
    Column("benefit_type", String(32), nullable=False),
    Column("pillar", Integer, nullable=False),
    Column("gross_cents", BigInteger, nullable=False),
    Column("family", String(12), nullable=False),  # single | dependants
    Column("status", String(12), nullable=False),  # active | superseded | cancelled
    Column("declared_at", DateTime, nullable=False),
    Column("ended_at", DateTime),  # superseded or cancelled at
    # the hub's reference of the batch record that declared it (first versions only): the
    # same record sent again (a batch chunk redone after a worker stopped) gets the same
    # answer instead of a duplicate's
    Column("ticket", String(40)),
)
Index("ix_pc_declaration_person", declaration.c.ssin, declaration.c.month)
Index("ix_pc_declaration_month", declaration.c.month, declaration.c.ssin)
Index("ix_pc_declaration_chain", declaration.c.declaration, declaration.c.version)
Index("ix_pc_declaration_ticket", declaration.c.payer, declaration.c.ticket)
# One benefit of a payer is declared once a month: a second declaration is a correction.
Index("uq_pc_declaration_live", declaration.c.payer, declaration.c.ssin, declaration.c.month,
      declaration.c.benefit_ref, unique=True, sqlite_where=text("status = 'active'"),
      postgresql_where=text("status = 'active'"))

pensioner = Table(
    "pc_pensioner", metadata,
    Column("ssin", String(11), primary_key=True),
    Column("first_month", String(10), nullable=False),
    Column("first_payer", String(64), nullable=False),
    Column("declared_at", DateTime, nullable=False),
    Column("first_declaration", Integer),  # the id of the declaration that made him one
)

attestation = Table(
    "pc_attestation", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("month", String(10), nullable=False),
    Column("payer", String(64), nullable=False),
    Column("ssin", String(11), nullable=False),
    Column("version", Integer, nullable=False),
    Column("payload", Text, nullable=False),  # JSON (attestations.payload)
    Column("created_at", DateTime, nullable=False),
)
Index("ix_pc_attestation_subject", attestation.c.month, attestation.c.payer,
      attestation.c.ssin, attestation.c.version)


def migrate(db):
    db.migrate(MIGRATIONS, VERSION_TABLE)


def clear(db):
    with db.engine.begin() as conn:
        for table in (attestation, pensioner, declaration):
            conn.execute(table.delete())
