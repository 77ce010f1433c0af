"""The National Register source's synthetic population (issue 15, deliver 3): the data the
real register holds for such persons, consistent with itself, written through the
driver's executemany on SQLite and PostgreSQL alike."""
import datetime

import pytest
from sqlalchemy import func, select
from stdnum.be import bis, nn

from kszws import register_codes
from kszws.sources.national_register import mutations, population, store
from kszws.store import Database


@pytest.fixture(scope="module")
def register(tmp_path_factory):
    """3,000 persons on SQLite, read back whole: {ssin: record with its groups}."""
    db = Database("sqlite:///%s" % (tmp_path_factory.mktemp("nr") / "nr.sqlite"), "OFF")
    store.migrate(db)
    population.generate(db, 3000, seed=3, batch=1000)
    with db.engine.connect() as conn:
        ssins = conn.execute(select(store.person.c.ssin)).scalars().all()
        records = {s: store.get_person(conn, s) for s in ssins}
    yield records
    db.dispose()


def test_every_ssin_is_valid(register):
    """The generator builds SSINs without checking each (the loop's cost): python-stdnum
    checks them all here."""
    for ssin, record in register.items():
        module = bis if record["register"] == "BCSS_KSZ" else nn
        assert module.is_valid(ssin), ssin


def test_a_marriage_is_one_act_in_one_place_for_both(register):
    married = [r for r in register.values()  # (a replaced SSIN's file points to the new one)
               if r["civil_state"] in (20, 30) and r["status"] != "replaced"]
    assert len(married) > 500
    for record in married:
        wedding = next(c for c in record["civilStates"] if c["code"] == 20)
        partner = register[wedding["partner_ssin"]]
        theirs = next(c for c in partner["civilStates"] if c["code"] == 20)
        assert (wedding["from_date"], wedding["place_nis"], wedding["act_number"]) == (
            theirs["from_date"], theirs["place_nis"], theirs["act_number"])
        assert theirs["partner_ssin"] == record["ssin"]
        assert wedding["place_nis"] and wedding["act_number"].isdigit()
        # the newest entry is the current state on the person row
        assert record["civilStates"][0]["code"] == record["civil_state"]


def test_a_widow_is_widowed_since_the_death(register):
    widows = [r for r in register.values() if r["civil_state"] == 30 and r["status"] != "replaced"]
    assert widows
    for record in widows:
        latest = record["civilStates"][0]
        assert latest["code"] == 30
        assert latest["from_date"] == register[latest["partner_ssin"]]["decease_date"]


def test_children_have_their_parents_filiation(register):
    children = [r for r in register.values() if r["filiations"]]
    assert len(children) > 200
    for child in children:
        filiation, = child["filiations"]
        father, mother = register[filiation["parent1_ssin"]], register[filiation["parent2_ssin"]]
        assert (father["gender"], mother["gender"]) == (1, 2)
        assert father["partner_ssin"] == mother["ssin"]
        assert child["household_id"] == father["household_id"] == mother["household_id"]
        assert filiation["from_date"] == child["birth_date"]


def test_documents_follow_the_rules_of_their_kind(register):
    today = population.TODAY.isoformat()
    kinds = {k: 0 for k in store.DOCUMENT_KINDS}
    for record in register.values():
        cards = [d for d in record["documents"] if d["kind"] == "identity_card"]
        if record["eid_card"]:
            assert cards[0]["number"] == record["eid_card"]  # newest first: the current
        for document in record["documents"]:
            kinds[document["kind"]] += 1
            assert document["issued_on"] <= today and document["place_nis"]
            if document["kind"] == "identity_card":
                assert document["expires_on"] == "%d%s" % (
                    int(document["issued_on"][:4]) + 10, document["issued_on"][4:])
            if document["kind"] == "driving_licence":
                age = int(document["issued_on"][:4]) - record["birth_year"]
                assert 18 <= age <= 26 and document["issued_on"] < "2013"
                assert set(document["categories"].split()) <= set(
                    register_codes.LICENCE_CATEGORIES)
    assert all(count > 20 for count in kinds.values()), kinds


def test_occupations_are_of_working_age(register):
    working = [r for r in register.values() if r["occupations"]]
    assert len(working) > 300
    for record in working:
        occupation, = record["occupations"]
        assert occupation["code"] in register_codes.OCCUPATIONS
        assert 18 <= int(occupation["from_date"][:4]) - record["birth_year"] <= 40


def test_generation_writes_the_same_rows_on_both_databases(database_url, tmp_path):
    """The driver-level executemany (store.db.insert_many) on each database: the same
    seed writes the same rows."""
    sqlite = Database("sqlite:///%s" % (tmp_path / "reference.sqlite"), "OFF")
    other = Database(database_url, "OFF")
    try:
        contents = []
        for db in (sqlite, other):
            store.migrate(db)
            population.generate(db, 400, seed=9, batch=150)
            with db.engine.connect() as conn:
                contents.append({table.name: sorted(
                    tuple(v for k, v in row._mapping.items() if k != "id")
                    for row in conn.execute(select(table)))
                    for table in store.metadata.sorted_tables})
        assert contents[0] == contents[1]
        assert len(contents[0]["nr_document"]) > 100
    finally:
        sqlite.dispose()
        other.dispose()


def test_a_civil_state_mutation_enters_the_history(tmp_path):
    db = Database("sqlite:///%s" % (tmp_path / "nr.sqlite"), "OFF")
    store.migrate(db)
    population.add_demo_persons(db)
    day = datetime.date(2026, 11, 20)
    with db.engine.begin() as conn:
        mutations.record(conn, "civil_state", "70100853190", day, {"civil_state": "40"},
                         datetime.datetime(2026, 11, 20, 9, tzinfo=datetime.timezone.utc))
    with db.engine.connect() as conn:
        record = store.get_person(conn, "70100853190")
        count = conn.execute(select(func.count()).select_from(store.civil_state)).scalar()
    db.dispose()
    assert [(c["from_date"], c["code"], c["partner_ssin"]) for c in record["civilStates"]] == [
        ("2026-11-20", 40, "72030512297"), ("1996-05-18", 20, "72030512297")]
    assert record["civil_state"] == 40 and count > 2


def test_persons_read_together_are_read_as_one_by_one(tmp_path):
    """consultPersons reads a chunk in three queries (store.get_persons): the same records
    as get_person, one by one."""
    db = Database("sqlite:///%s" % (tmp_path / "nr.sqlite"), "OFF")
    store.migrate(db)
    population.generate(db, 600, seed=4)
    population.add_demo_persons(db)
    with db.engine.connect() as conn:
        ssins = conn.execute(select(store.person.c.ssin)).scalars().all()
        together = store.get_persons(conn, ssins + ["00000000000"])
        alone = {s: store.get_person(conn, s, groups=False) for s in ssins}
    db.dispose()
    assert together == alone and len(together) > 600


def test_a_person_is_read_as_sqlalchemy_reads_it_on_both_databases(database_url):
    """get_person runs its statements, compiled once per dialect, on the driver's cursor
    (the source's consultPerson): every group of every person as SQLAlchemy Core reads it,
    on SQLite and PostgreSQL, through the store's engine and the service's read engine."""
    db = Database(database_url, "OFF")
    try:
        store.migrate(db)
        population.generate(db, 300, seed=5)
        population.add_demo_persons(db)
        for engine in (db.engine, db.reader):
            with engine.connect() as conn:
                ssins = conn.execute(select(store.person.c.ssin)).scalars().all()
                for ssin in ssins + ["00000000097"]:
                    assert store.get_person(conn, ssin) == _core_person(conn, ssin), ssin
                    alone = store.get_person(conn, ssin, groups=False)
                    assert alone is None or "civilStates" not in alone
        assert len(ssins) > 300
    finally:
        db.dispose()


def _core_person(conn, ssin):
    """A person as SQLAlchemy Core reads it (what get_person gave before), or None."""
    row = conn.execute(select(store.person).where(store.person.c.ssin == ssin)).mappings().first()
    if row is None:
        return None
    record = dict(row)
    record["addresses"] = [dict(a) for a in conn.execute(
        select(store.address).where(store.address.c.ssin == ssin)
        .order_by(store.address.c.from_date.desc(), store.address.c.id.desc())).mappings()]
    record["household"] = [] if record["household_id"] is None else [
        dict(m) for m in conn.execute(select(store.household_member).where(
            store.household_member.c.household_id == record["household_id"])
            .order_by(store.household_member.c.relationship, store.household_member.c.ssin))
        .mappings()]
    for key, (table, since) in store.HISTORY.items():
        record[key] = [dict(r) for r in conn.execute(
            select(table).where(table.c.ssin == ssin)
            .order_by(since.desc(), table.c.id.desc())).mappings()]
    return record
