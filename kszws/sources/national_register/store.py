"""The National Register source's own database: persons of the National Register and of
the KSZ (bis) registers, their addresses with history, households, and the phonetic index
of family names. Read by the source's SOAP service; written by the population generator
(and, in later issues, by the mutations the register emits)."""
import contextlib
from pathlib import Path

from sqlalchemy import (Column, DateTime, Index, Integer, MetaData, String, Table, Text,
                        bindparam, or_, select)

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
    Column("plain_text", String(100)),  # an address abroad as written: up to 3 lines
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



def _history(name, *columns):
    """A group of the record with one row per entry, read by SSIN."""
    table = Table(name, metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                  Column("ssin", String(11), nullable=False), *columns)
    Index("ix_%s_ssin" % name, table.c.ssin)
    return table


# Each change of civil state (TI120), with where and under which act it was recorded; the
# person row keeps the current one (civil_state, civil_state_date, partner_ssin).
civil_state = _history(
    "nr_civil_state",
    Column("from_date", String(10), nullable=False),
    Column("code", Integer, nullable=False),
    Column("partner_ssin", String(11)),
    Column("place_nis", Integer),  # the municipality of the act
    Column("act_number", String(10)),
)
occupation = _history(  # TI070: the occupation code and the social category
    "nr_occupation",
    Column("from_date", String(10), nullable=False),
    Column("code", String(5), nullable=False),
    Column("social_category", Integer, nullable=False),
)
filiation = _history(  # TI110: the parents (1: father, 2: mother) as the act names them
    "nr_filiation",
    Column("from_date", String(10), nullable=False),
    Column("type_code", String(2), nullable=False),
    Column("parent1_ssin", String(11)),
    Column("parent2_ssin", String(11)),
)
# Identity documents: identity cards (TI195), passports (TI199), driving licences of the
# old model (TI194); issued by a municipality (place_nis) or a diplomatic post.
DOCUMENT_KINDS = ("identity_card", "passport", "driving_licence")
document = _history(
    "nr_document",
    Column("kind", String(16), nullable=False),
    Column("number", String(16), nullable=False),
    Column("type_code", String(4), nullable=False),
    Column("issued_on", String(10), nullable=False),
    Column("expires_on", String(10)),
    Column("place_nis", Integer),
    Column("diplomatic_post", Integer),
    Column("categories", String(40)),  # driving licence categories, space separated
)
# Households the person belonged to and left (TI141 with its end date).
past_membership = _history(
    "nr_past_membership",
    Column("head_ssin", String(11), nullable=False),
    Column("relationship", Integer, nullable=False),
    Column("entry_date", String(10), nullable=False),
    Column("leave_date", String(10), nullable=False),
)
Index("ix_nr_past_membership_head", past_membership.c.head_ssin)
HISTORY = {"civilStates": (civil_state, civil_state.c.from_date),
           "occupations": (occupation, occupation.c.from_date),
           "filiations": (filiation, filiation.c.from_date),
           "documents": (document, document.c.issued_on),
           "pastMemberships": (past_membership, past_membership.c.entry_date)}


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


@contextlib.contextmanager
def indexes_deferred(db):
    """Drop the secondary indexes for a bulk load and build them again after it: one
    sort per index instead of an index insert per row in random SSIN order (at a million
    persons, ~20 us a row)."""
    indexes = [index for table in metadata.sorted_tables for index in table.indexes]
    with db.engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    try:
        yield
    finally:
        with db.engine.begin() as conn:
            for index in indexes:
                index.create(conn)


def get_person(conn, ssin, groups=True):
    """A person with addresses (newest first), household and, with `groups`, the history
    groups (HISTORY); or None.

    Up to eight queries a person (consultPerson, the hub's IdentifyPerson): each built and
    executed through SQLAlchemy Core cost ~180 us of Python, as much as the rest of the
    source's work; here they are compiled once per dialect and run on the DB-API cursor,
    inside `conn`'s transaction (every column is text or integer: the driver gives the
    values Core would)."""
    if not conn.in_transaction():
        conn.begin()  # one snapshot for all the queries, as Core's autobegin gives
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        found = _read(conn, cursor, "person", ssin=ssin)
        if not found:
            return None
        record = found[0]
        record["addresses"] = _read(conn, cursor, "addresses", ssin=ssin)
        record["household"] = []
        if record["household_id"] is not None:
            record["household"] = _read(conn, cursor, "household",
                                        household_id=record["household_id"])
        for key in HISTORY if groups else ():
            record[key] = _read(conn, cursor, key, ssin=ssin)
        return record
    finally:
        cursor.close()


def _person_statements():
    """{name: the statement of one of get_person's reads}, with bind parameters."""
    by_ssin = bindparam("ssin")
    statements = {
        "person": select(person).where(person.c.ssin == by_ssin),
        "addresses": select(address).where(address.c.ssin == by_ssin)
        .order_by(address.c.from_date.desc(), address.c.id.desc()),
        "household": select(household_member).where(
            household_member.c.household_id == bindparam("household_id"))
        .order_by(household_member.c.relationship, household_member.c.ssin),
    }
    for key, (table, since) in HISTORY.items():  # newest first
        statements[key] = (select(table).where(table.c.ssin == by_ssin)
                           .order_by(since.desc(), table.c.id.desc()))
    return statements


_PERSON_STATEMENTS = _person_statements()
_compiled = {}  # {(dialect name, statement name): compiled statement}


def _read(conn, cursor, name, **params):
    """The rows (dicts) of get_person's statement `name` with `params`, on `cursor`."""
    key = (conn.dialect.name, name)
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = _compiled[key] = _PERSON_STATEMENTS[name].compile(dialect=conn.dialect)
    bound = compiled.construct_params(params)
    if compiled.positional:
        bound = tuple(bound[k] for k in compiled.positiontup)
    cursor.execute(compiled.string, bound)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def get_persons(conn, ssins):
    """{ssin: person with addresses (newest first) and household} of those of `ssins` the
    register knows, in three set-based queries whatever their number (get_person reads
    one person with three of its own)."""
    ssins = list(dict.fromkeys(ssins))
    if not ssins:
        return {}
    records = {r["ssin"]: dict(r, addresses=[], household=[]) for r in conn.execute(
        select(person).where(person.c.ssin.in_(ssins))).mappings()}
    for row in conn.execute(select(address).where(address.c.ssin.in_(list(records)))
                            .order_by(address.c.ssin, address.c.from_date.desc(),
                                      address.c.id.desc())).mappings():
        records[row["ssin"]]["addresses"].append(dict(row))
    households = {}
    for record in records.values():
        if record["household_id"] is not None:
            households.setdefault(record["household_id"], []).append(record)
    if households:
        for row in conn.execute(select(household_member).where(
                household_member.c.household_id.in_(list(households)))
                .order_by(household_member.c.relationship, household_member.c.ssin)).mappings():
            for record in households[row["household_id"]]:
                record["household"].append(dict(row))
    return records


def households_at(conn, ssins, day):
    """{ssin: (status, [the SSINs of the others in the person's household on `day`])}
    for those of `ssins` the register knows, in five set-based queries whatever their
    number (SOCTAR: the household of an energy customer at the quarter's reference date).

    The person's household on `day` is the one he is in today if he entered it on or
    before `day`, else the one he belonged to that day (a past membership entered on or
    before `day` and left after it: the leave date is his first day elsewhere). A past
    household is named by its reference person (head_ssin); it is today's household
    whose reference person (relationship 1) is the same. Its members on `day`: today's
    members who entered on or before `day`, and the past members who were in it that day.
    Dates compare as the register writes them (YYYY-MM-DD; an unknown month or day, 00,
    sorts first)."""
    ssins = list(dict.fromkeys(ssins))
    if not ssins:
        return {}
    status = dict(conn.execute(select(person.c.ssin, person.c.status)
                               .where(person.c.ssin.in_(ssins))).all())
    current = {s: h for s, h, entry in conn.execute(
        select(household_member.c.ssin, household_member.c.household_id,
               household_member.c.entry_date)
        .where(household_member.c.ssin.in_(list(status)))) if entry <= day}
    past = dict(conn.execute(select(past_membership.c.ssin, past_membership.c.head_ssin).where(
        past_membership.c.ssin.in_([s for s in status if s not in current]),
        past_membership.c.entry_date <= day, past_membership.c.leave_date > day)).all())
    head_of = dict(conn.execute(  # household id -> its reference person
        select(household_member.c.household_id, household_member.c.ssin).where(
            household_member.c.relationship == 1,
            or_(household_member.c.household_id.in_(set(current.values())),
                household_member.c.ssin.in_(set(past.values()))))).all())
    household_of = {head: h for h, head in head_of.items()}

    def name(household):  # a current household: by its reference person, if it has one
        return ("head", head_of[household]) if household in head_of else ("id", household)

    named = {s: name(h) for s, h in current.items()}
    named.update((s, ("head", head)) for s, head in past.items())
    members = _members_at(conn, day, {h: name(h) for h in set(current.values()) | {
        household_of[head] for head in past.values() if head in household_of}},
        {n[1] for n in named.values() if n[0] == "head"})
    return {s: (status[s], sorted(members.get(named[s], set()) - {s}) if s in named else [])
            for s in status}


def _members_at(conn, day, households, heads):
    """{household name: the SSINs in it on `day`} of the current `households` ({id:
    name}) and of the past households of `heads`."""
    members = {}
    for ssin, household in conn.execute(
            select(household_member.c.ssin, household_member.c.household_id).where(
                household_member.c.household_id.in_(list(households)),
                household_member.c.entry_date <= day)):
        members.setdefault(households[household], set()).add(ssin)
    for ssin, head in conn.execute(
            select(past_membership.c.ssin, past_membership.c.head_ssin).where(
                past_membership.c.head_ssin.in_(list(heads)),
                past_membership.c.entry_date <= day, past_membership.c.leave_date > day)):
        members.setdefault(("head", head), set()).add(ssin)
    return members


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
        for table in (name_key, address, household_member, person,
                      *(table for table, _ in HISTORY.values())):
            conn.execute(table.delete())
