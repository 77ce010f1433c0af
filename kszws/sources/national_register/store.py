"""The National Register source's own database: persons of the National Register and of
the KSZ (bis) registers, their addresses with history, households, and the phonetic index
of family names. Read by the source's SOAP service; written by the population generator
(and, in later issues, by the mutations the register emits)."""
from pathlib import Path

from sqlalchemy import (Column, DateTime, Index, Integer, MetaData, String, Table, Text,
                        select)

from kszws import names

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_national_register"

metadata = MetaData()

# Dates are CBSS "incomplete dates": YYYY-MM-DD where MM and DD may be 00 (unknown).
person = Table(
    "nr_person", metadata,
    Column("ssin", String(11), primary_key=True),
    Column("register", String(8), nullable=False),  # RN_RR (National Register) | BCSS_KSZ (bis)
    Column("status", String(10), nullable=False),  # active | replaced | cancelled
    Column("replaced_by", String(11)),
    Column("last_name", String(100), nullable=False),
    Column("first_names", String(100)),
    Column("middle_name", String(100)),
    Column("gender", Integer, nullable=False),  # 0 unknown, 1 male, 2 female
    Column("birth_date", String(10), nullable=False),
    Column("birth_year", Integer, nullable=False),
    Column("birth_place_nis", Integer),  # municipality (Belgium) or country (abroad)
    Column("birth_place", String(100)),
    Column("birth_country_nis", Integer, nullable=False),
    Column("nationality_nis", Integer, nullable=False),
    Column("civil_state", Integer, nullable=False),  # 10 single, 20 married, 30 widowed, 40 divorced
    Column("civil_state_date", String(10)),
    Column("partner_ssin", String(11)),
    Column("decease_date", String(10)),
    Column("decease_place_nis", Integer),
    Column("sis_card", String(10)),
    Column("eid_card", String(12)),
    Column("language", String(2), nullable=False),
    Column("household_id", Integer),
    Column("registered_on", String(10), nullable=False),
)
Index("ix_nr_person_sis_card", person.c.sis_card)
Index("ix_nr_person_eid_card", person.c.eid_card)
Index("ix_nr_person_household", person.c.household_id)

# One row per phonetic key of a family name (names.last_name_keys).
name_key = Table(
    "nr_name_key", metadata,
    Column("key", String(24), primary_key=True),
    Column("birth_year", Integer, primary_key=True),
    Column("ssin", String(11), primary_key=True),
)

address = Table(
    "nr_address", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ssin", String(11), nullable=False),
    Column("kind", String(8), nullable=False),  # legal | declared | abroad
    Column("from_date", String(10), nullable=False),
    Column("to_date", String(10)),  # NULL: current
    Column("country_nis", Integer, nullable=False),
    Column("municipality_nis", Integer),
    Column("municipality", String(100)),
    Column("postal_code", String(10)),
    Column("street", String(100)),
    Column("house_number", String(10)),
    Column("box", String(10)),
    Column("diplomatic_post", Integer),
    Column("plain_text", String(100)),  # an address abroad, as written
)
Index("ix_nr_address_ssin", address.c.ssin)

household_member = Table(
    "nr_household_member", metadata,
    Column("ssin", String(11), primary_key=True),
    Column("household_id", Integer, nullable=False),
    Column("relationship", Integer, nullable=False),  # 1 reference person, 2 spouse, 3 child, ...
    Column("entry_date", String(10), nullable=False),
)
Index("ix_nr_household_member_household", household_member.c.household_id)


# What the register records happened (seed §4.4), numbered without gaps by the register:
# receivers are told every mutation after the last one they acknowledged.
mutation = Table(
    "nr_mutation", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),  # birth | death | address | name | ...
    Column("ssin", String(11), nullable=False),
    Column("event_date", String(10), nullable=False),
    Column("payload", Text, nullable=False),  # JSON: what changed
    Column("recorded_at", DateTime, nullable=False),
)
Index("ix_nr_mutation_event_date", mutation.c.event_date)

push = Table(
    "nr_push", metadata,
    Column("receiver", String(64), primary_key=True),
    Column("acked_seq", Integer, nullable=False),
)


def migrate(db):
    db.migrate(MIGRATIONS, VERSION_TABLE)


def get_person(conn, ssin):
    """A person with addresses (newest first) and household, or None."""
    row = conn.execute(select(person).where(person.c.ssin == ssin)).mappings().first()
    if row is None:
        return None
    record = dict(row)
    record["addresses"] = [dict(a) for a in conn.execute(
        select(address).where(address.c.ssin == ssin)
        .order_by(address.c.from_date.desc(), address.c.id.desc())).mappings()]
    record["household"] = []
    if record["household_id"] is not None:
        record["household"] = [dict(m) for m in conn.execute(
            select(household_member).where(
                household_member.c.household_id == record["household_id"])
            .order_by(household_member.c.relationship, household_member.c.ssin)).mappings()]
    return record


def search(conn, last_name, first_name=None, year_from=1800, year_to=2200, gender=None,
           birth_date_filter=None, limit=80):
    """Persons whose family name sounds like `last_name`, born between the years, ranked
    by how close the names are. `birth_date_filter(date) -> bool` refines the years."""
    keys = names.last_name_keys(last_name)
    if not keys:
        return []
    q = (select(person).join(name_key, name_key.c.ssin == person.c.ssin)
         .where(name_key.c.key.in_(sorted(keys)),
                name_key.c.birth_year.between(year_from, year_to),
                person.c.status != "cancelled")
         .distinct())
    if gender:
        q = q.where(person.c.gender == gender)
    found = []
    for row in conn.execute(q).mappings():
        if birth_date_filter is not None and not birth_date_filter(row["birth_date"]):
            continue
        if first_name and not names.similar(first_name, row["first_names"] or ""):
            continue
        found.append(dict(row))
    folded = names.fold(last_name)
    found.sort(key=lambda r: (names.fold(r["last_name"]) != folded, r["last_name"],
                              r["first_names"] or "", r["ssin"]))
    return found[:limit]


def current_legal_address(conn, ssin):
    return conn.execute(select(address).where(address.c.ssin == ssin,
                                              address.c.to_date.is_(None))
                        .order_by(address.c.from_date.desc())).mappings().first()


def clear(db):
    with db.engine.begin() as conn:
        for table in (name_key, address, household_member, person):
            conn.execute(table.delete())
