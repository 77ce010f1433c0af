"""The employer directory source's own database (seed §4.6): the employers of both
registers - the general one of RSZ/ONSS and the one of the provincial and local
authorities, RSZPPO/ORPSS - keyed by enterprise number and NSSO registration number, with
every attribute's history: what was true on a given date."""
from pathlib import Path

from sqlalchemy import (Column, DateTime, Index, Integer, MetaData, String, Table, or_,
                        select)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_employer_directory"

metadata = MetaData()

employer = Table(
    "ed_employer", metadata,
    Column("cbe", String(10), primary_key=True),  # enterprise number (KBO/BCE)
    Column("nsso", String(10), nullable=False, unique=True),  # NSSO registration number
    Column("register", String(6), nullable=False),  # RSZ | RSZPPO
    Column("start_date", String(10), nullable=False),  # employer status
    Column("end_date", String(10)),  # NULL: still an employer
)

# One row per value an attribute had, for [valid_from, valid_until] (NULL: still valid).
ATTRIBUTES = ("name", "legal_form", "street", "house_number", "postal_code",
              "municipality_nis", "municipality", "category", "nace", "joint_committees",
              "child_benefit_fund", "social_secretariat", "debt_cents")
attribute = Table(
    "ed_attribute", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cbe", String(10), nullable=False),
    Column("name", String(32), nullable=False),
    Column("value", String(200), nullable=False),
    Column("valid_from", String(10), nullable=False),
    Column("valid_until", String(10)),
)
Index("ix_ed_attribute_cbe", attribute.c.cbe, attribute.c.name, attribute.c.valid_from)
# Searching by name: the current name, folded (names.fold), one row per employer.
name_index = Table(
    "ed_name", metadata,
    Column("cbe", String(10), primary_key=True),
    Column("folded", String(200), nullable=False),
    Column("municipality_nis", Integer),
)
Index("ix_ed_name_folded", name_index.c.folded)


# DIMONA (seed §4.13): one employment period per IN declaration, updated by OUT and UPDATE,
# cancelled (kept) by CANCEL. Student periods carry their declared hours: the yearly quota.
employment = Table(
    "ed_employment", metadata,
    Column("period_id", Integer, primary_key=True, autoincrement=True),
    Column("cbe", String(10), nullable=False),
    Column("ssin", String(11), nullable=False),
    Column("worker_type", String(12), nullable=False),  # ordinary | student | flexi | occasional
    Column("start_date", String(10), nullable=False),
    Column("end_date", String(10)),  # NULL: no OUT yet
    Column("hours", Integer),  # student: hours declared against the yearly quota
    Column("status", String(10), nullable=False),  # active | cancelled
    Column("declared_at", DateTime, nullable=False),
    Column("changed_at", DateTime, nullable=False),
)
Index("ix_ed_employment_cbe", employment.c.cbe, employment.c.start_date)
Index("ix_ed_employment_ssin", employment.c.ssin, employment.c.start_date)


def migrate(db):
    db.migrate(MIGRATIONS, VERSION_TABLE)


def find(conn, cbe=None, nsso=None):
    """The employer row (a mapping) by enterprise or NSSO number, or None."""
    q = select(employer).where(employer.c.cbe == cbe if cbe else employer.c.nsso == nsso)
    return conn.execute(q).mappings().first()


def as_of(conn, cbe, day):
    """{attribute: value} as it was on `day` (ISO date): the value valid that day."""
    rows = conn.execute(select(attribute.c.name, attribute.c.value).where(
        attribute.c.cbe == cbe, attribute.c.valid_from <= day,
        or_(attribute.c.valid_until.is_(None), attribute.c.valid_until >= day)))
    return {r.name: r.value for r in rows}


def history(conn, cbe):
    """[(attribute, value, valid_from, valid_until)], by attribute then date."""
    return [tuple(r) for r in conn.execute(
        select(attribute.c.name, attribute.c.value, attribute.c.valid_from,
               attribute.c.valid_until).where(attribute.c.cbe == cbe)
        .order_by(attribute.c.name, attribute.c.valid_from))]


def search(conn, folded_name, municipality_nis=None, limit=50):
    """Employers whose current name contains `folded_name` (names.fold), optionally in one
    municipality."""
    q = select(name_index.c.cbe).where(name_index.c.folded.contains(folded_name))
    if municipality_nis is not None:
        q = q.where(name_index.c.municipality_nis == municipality_nis)
    return [r.cbe for r in conn.execute(q.order_by(name_index.c.folded).limit(limit))]


def day_before(day):
    """'YYYY-MM-DD' of the day before `day`: where a value ends when the next begins."""
    import datetime

    return (datetime.date.fromisoformat(day) - datetime.timedelta(days=1)).isoformat()


def set_attribute(conn, cbe, name, value, day):
    """From `day` on, `name` is `value`: the value in force ends the day before."""
    conn.execute(attribute.update().where(
        attribute.c.cbe == cbe, attribute.c.name == name, attribute.c.valid_until.is_(None))
        .values(valid_until=day_before(day)))
    conn.execute(attribute.insert().values(cbe=cbe, name=name, value=str(value),
                                           valid_from=day, valid_until=None))


def clear(db):
    with db.engine.begin() as conn:
        for table in (employment, name_index, attribute, employer):
            conn.execute(table.delete())
