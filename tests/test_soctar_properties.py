"""SOCTAR's household rule against an oracle (issue 16 item 4): random households with
their membership dates (entries, departures, persons moving between households, heads
or none) and random rights, the flags computed by the real path - the National Register
source's set-based households_at on a real database, the hub's set-based read of the
declared rights, batch.soctar.flag - and by a plain oracle that decides, person by
person, who was in the customer's household on the reference date."""
import datetime

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete

from kszws.batch import soctar
from kszws.store.db import Database

DAYS = ["2025-12-31", "2026-00-00", "2026-01-01", "2026-03-01", "2026-06-30", "2026-07-00",
        "2026-07-01", "2026-07-02", "2026-09-01", "2026-10-01"]
QUARTERS = ["2026Q3", "2026Q4"]
CATEGORIES = ["RI", "ASE", "GRAPA", "ARR"]
HOUSEHOLDS = [101, 102, 103, 104]


def ssin_of(n):
    base = "8001%02d%03d" % (1 + n % 28, 100 + n)
    return "%s%02d" % (base, 97 - int(base) % 97)


PERSONS = [ssin_of(n) for n in range(12)]
UNKNOWN = ssin_of(40)


@st.composite
def worlds(draw):
    """{persons: {ssin: (current (household, entry) or None, [past (head, entry, leave)])},
    heads: {household: ssin}, rights: {(quarter, ssin): {categories}}, quarter,
    customers}."""
    persons = {}
    for ssin in PERSONS[:draw(st.integers(1, len(PERSONS)))]:
        stays = draw(st.integers(0, 3))
        dates = sorted(draw(st.lists(st.sampled_from(DAYS), min_size=stays + 1,
                                     max_size=stays + 1, unique=True)))
        past = [(draw(st.sampled_from(PERSONS)), dates[i], dates[i + 1]) for i in range(stays)]
        current = None
        if draw(st.booleans()):
            current = (draw(st.sampled_from(HOUSEHOLDS)), dates[-1])
        persons[ssin] = (current, past)
    heads = {}
    for household in HOUSEHOLDS:
        inside = [s for s, (current, _) in persons.items() if current and current[0] == household]
        if inside and draw(st.booleans()):
            heads[household] = draw(st.sampled_from(inside))
    rights = {}
    for ssin in draw(st.lists(st.sampled_from(list(persons)), max_size=6)):
        quarter = draw(st.sampled_from(QUARTERS))
        rights.setdefault((quarter, ssin), set()).update(
            draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2)))
    customers = draw(st.lists(st.sampled_from(list(persons) + [UNKNOWN]), min_size=1,
                              unique=True))
    return dict(persons=persons, heads=heads, rights=rights,
                quarter=draw(st.sampled_from(QUARTERS)), customers=customers)


# -- the oracle ------------------------------------------------------------------------

def household_on(world, ssin, day):
    """The name of the household `ssin` was in on `day`, or None: his current one if he
    had entered it, else the past one that covers the day; a household is named by its
    reference person when it has one."""
    current, past = world["persons"][ssin]
    if current and current[1] <= day:
        head = world["heads"].get(current[0])
        return ("person", head) if head else ("household", current[0])
    for head, entry, leave in past:
        if entry <= day < leave:
            return ("person", head)
    return None


def oracle(world):
    """{customer: (flagged, category) or 'unknown'}."""
    day = soctar.reference_date(world["quarter"])
    ranks = {code: n for n, code in enumerate(CATEGORIES)}
    out = {}
    for customer in world["customers"]:
        if customer not in world["persons"]:
            out[customer] = "unknown"
            continue
        mine = household_on(world, customer, day)
        others = sorted(p for p in world["persons"] if p != customer and mine is not None
                        and household_on(world, p, day) == mine)
        held = [world["rights"].get((world["quarter"], p), set()) for p in [customer] + others]
        held = [h for h in held if h]
        out[customer] = (True, sorted(held[0], key=ranks.get)[0]) if held else (False, None)
    return out


# -- the real path -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The National Register source's database and the hub's, both migrated (SQLite, or
    the hub's on KSZWS_TEST_DATABASE_URL's PostgreSQL when set)."""
    from kszws.sources.national_register import store
    from tests.conftest import PG_URL
    from tests.netfixture import drop_postgres_schema, postgres_schema_url

    tmp = tmp_path_factory.mktemp("soctar-oracle")
    register = Database("sqlite:///%s" % (tmp / "nr.sqlite"))
    store.migrate(register)
    url, schema = postgres_schema_url(PG_URL) if PG_URL else (
        "sqlite:///%s" % (tmp / "hub.sqlite"), None)
    hub = Database(url)
    hub.migrate()
    yield register, hub
    register.dispose()
    hub.dispose()
    if schema:
        drop_postgres_schema(PG_URL, schema)


def write(register, hub, world):
    from kszws.sources.national_register.store import household_member, past_membership, person
    from kszws.store.schema import soctar_beneficiary

    with register.engine.begin() as conn:
        for table in (person, household_member, past_membership):
            conn.execute(delete(table))
        conn.execute(person.insert(), [_person(s) for s in world["persons"]])
        members = [{"ssin": s, "household_id": current[0], "entry_date": current[1],
                    "relationship": 1 if world["heads"].get(current[0]) == s else 3}
                   for s, (current, _) in world["persons"].items() if current]
        if members:
            conn.execute(household_member.insert(), members)
        stays = [{"ssin": s, "head_ssin": head, "relationship": 3, "entry_date": entry,
                  "leave_date": leave}
                 for s, (_, past) in world["persons"].items() for head, entry, leave in past]
        if stays:
            conn.execute(past_membership.insert(), stays)
    with hub.engine.begin() as conn:
        conn.execute(delete(soctar_beneficiary))
        rows = [{"quarter": q, "ssin": s, "category": c, "institution": "cpas-eupen",
                 "batch_file_id": 1} for (q, s), held in world["rights"].items() for c in held]
        if rows:
            conn.execute(soctar_beneficiary.insert(), rows)


def _person(ssin):
    return {"ssin": ssin, "register": "RN_RR", "status": "active", "last_name": "Oracle",
            "gender": 1, "birth_date": "1980-01-01", "birth_year": 1980,
            "birth_country_nis": 150, "nationality_nis": 150, "civil_state": 10,
            "language": "nl", "registered_on": "1980-01-01"}


def real(register, hub, world):
    """{customer: (flagged, category) or 'unknown'} by the code the hub runs."""
    from kszws.batch.kinds.soctar import CustomerList
    from kszws.sources.national_register import store

    config = soctar.SoctarConfig({c: None for c in CATEGORIES}, frozenset())
    kind = CustomerList(None, None, config, None, hub, None)
    with register.engine.connect() as conn:
        households = store.households_at(conn, world["customers"],
                                         soctar.reference_date(world["quarter"]))
    everyone = set(households).union(*(members for _, members in households.values()))
    rights = kind.rights(world["quarter"], everyone)
    out = {}
    for customer in world["customers"]:
        if customer not in households:
            out[customer] = "unknown"
            continue
        found = soctar.flag(customer, households[customer][1], rights, config.order)
        out[customer] = (True, found[1]) if found else (False, None)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds())
def test_the_flags_are_the_oracles(stores, world):
    register, hub = stores
    write(register, hub, world)
    assert real(register, hub, world) == oracle(world)


def test_the_reference_date_is_the_quarters_first_day():
    assert [soctar.reference_date(q) for q in ("2026Q1", "2026Q2", "2026Q3", "2026Q4")] == [
        "2026-01-01", "2026-04-01", "2026-07-01", "2026-10-01"]
    assert soctar.reference_date("2026Q5") is None and soctar.reference_date("") is None
    assert datetime.date.fromisoformat(soctar.reference_date("2027Q2")).month == 4
