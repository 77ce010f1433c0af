"""The employer directory source (seed §4.6): employers of both registers with every
attribute's history - what was true on a given date - synthetic and demo employers, NSSO
numbers, and the source's published WSDL."""
import datetime

import pytest

from kszws import ids
from kszws.registry import load_registry
from kszws.sources import employer_directory, serving
from kszws.sources.employer_directory import population, service, store
from tests.netfixture import make_project
from tests.test_published_wsdl import _normalized

BAKERY = "0403170701"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("employers"))


@pytest.fixture
def db(project, database_url):
    from kszws.store import Database

    database = Database(database_url, "NORMAL")
    store.migrate(database)
    population.add_demo_employers(database)
    yield database
    database.dispose()


def test_nsso_numbers():
    number = ids.make_nsso_number(5170701)
    assert ids.nsso_number(number) == number
    assert ids.nsso_number(number[:3] + "-" + number[3:]) == number
    for bad in ("0517070100", "123", "abcdefghij", "0000000097"):
        with pytest.raises(ids.InvalidIdentifier):
            ids.nsso_number(bad)


def test_joint_committee_as_of_a_date(db):
    with db.engine.connect() as conn:
        before = store.as_of(conn, BAKERY, "2023-12-31")
        after = store.as_of(conn, BAKERY, "2024-01-01")
        moved = store.as_of(conn, BAKERY, "2025-07-01")
        history = store.history(conn, BAKERY)
    assert before["joint_committees"] == "118" and after["joint_committees"] == "119"
    assert before["street"] == after["street"] == "Rue Haute"
    assert moved["street"] == "Klötzerbahn" and moved["house_number"] == "3"
    committees = [(v, f, u) for n, v, f, u in history if n == "joint_committees"]
    assert committees == [("118", "1998-03-01", "2023-12-31"), ("119", "2024-01-01", None)]
    with db.engine.connect() as conn:  # before the employer existed: nothing was true
        assert store.as_of(conn, BAKERY, "1990-01-01") == {}


def test_generated_histories_chain_each_value_to_the_next(db):
    """Seeding writes every table in one statement per batch: each attribute's values
    still follow one another, the one in force ending the day before the next begins,
    the last open, as store.set_attribute writes them one by one."""
    population.generate(db, 300, seed=5)
    with db.engine.connect() as conn:
        rows = conn.execute(store.attribute.select()).mappings().all()
    chains = {}
    for r in rows:
        chains.setdefault((r["cbe"], r["name"]), []).append(r)
    changed = 0
    for chain in chains.values():
        chain.sort(key=lambda r: r["valid_from"])
        assert chain[-1]["valid_until"] is None
        for earlier, later in zip(chain, chain[1:]):
            changed += 1
            assert earlier["valid_until"] == (datetime.date.fromisoformat(
                later["valid_from"]) - datetime.timedelta(days=1)).isoformat()
    assert changed > 50  # the generator changes some attributes over the years


def test_generated_employers_are_valid_and_searchable(db):
    population.generate(db, 200, seed=3)
    with db.engine.connect() as conn:
        rows = conn.execute(store.employer.select()).mappings().all()
        assert len(rows) == 202
        for row in rows:
            assert ids.enterprise_number(row["cbe"]) == row["cbe"]
            assert ids.nsso_number(row["nsso"]) == row["nsso"]
        assert {r["register"] for r in rows} <= {"RSZ", "RSZPPO"}
        found = store.search(conn, "BOULANGERIE", 63023)  # names.fold()ed, as the service does
        assert found == [BAKERY]
        record = service.employer_record(conn, store.find(conn, nsso=rows[0]["nsso"]),
                                         "2026-11-28")
        assert record.cbe == rows[0]["cbe"]
        names = {a.name for a in record.attributes}
        assert {"name", "nace", "joint_committees", "debt_cents"} <= names


def test_source_serves_the_published_wsdl(project):
    registry = load_registry(project)
    source = registry.sources["employer-directory"]
    db = employer_directory.database(project, source)
    store.migrate(db)
    generated = serving.wsdl_of(employer_directory.build(project, registry, db), source.url)
    with open(source.wsdl, "rb") as fh:
        assert _normalized(generated) == _normalized(fh.read()), (
            "the employer directory source's WSDL changed: regenerate "
            "wsdl/EmployerDirectorySource.wsdl with `kszws source employer-directory --wsdl`")
    db.dispose()


def test_employer_record_as_of_and_history(db):
    with db.engine.connect() as conn:
        row = store.find(conn, cbe=BAKERY)
        then = service.employer_record(conn, row, "2023-06-01")
        everything = service.employer_record(conn, row, history=True)
    values = {a.name: a.value for a in then.attributes}
    assert values["joint_committees"] == "118" and then.asOf == "2023-06-01"
    assert len(everything.attributes) == len([a for a in everything.attributes]) > len(
        then.attributes)
    assert datetime.date.fromisoformat(row["start_date"]) == datetime.date(1998, 3, 1)


# -- DIMONA ----------------------------------------------------------------------------------

from kszws.sources.employer_directory import dimona  # noqa: E402

NOW = datetime.datetime(2026, 11, 28, 12, tzinfo=datetime.timezone.utc)
STUDENTS = "0403180104"
WORKER, OTHER = "01020300170", "85073003328"


def declare(db, cbe, *declarations):
    with db.engine.begin() as conn:
        return dimona.declare(conn, NOW, cbe, [dimona.Declaration(*d) for d in declarations])


def test_dimona_in_out_update_cancel(db):
    [first] = declare(db, BAKERY, ("IN", WORKER, "ordinary", "2026-02-01"))
    assert first.accepted and first.period_id
    [out] = declare(db, BAKERY, ("OUT", WORKER, None, None, "2026-06-30", None, first.period_id))
    assert out.accepted and out.period_id == first.period_id
    with db.engine.connect() as conn:
        assert [p["period_id"] for p in dimona.personnel(conn, BAKERY, "2026-03-01")] == [
            first.period_id]
        assert dimona.personnel(conn, BAKERY, "2026-07-01") == []
    [moved] = declare(db, BAKERY, ("UPDATE", WORKER, None, "2026-01-15", None, None,
                                   first.period_id))
    assert moved.accepted
    [cancelled] = declare(db, BAKERY, ("CANCEL", WORKER, None, None, None, None,
                                       first.period_id))
    assert cancelled.accepted
    with db.engine.connect() as conn:
        assert dimona.relations(conn, WORKER, "2026-01-01", None) == []


@pytest.mark.parametrize("declaration, code", [
    (("IN", WORKER, "intern", "2026-02-01"), "DIM00002"),  # unknown worker type
    (("HIRE", WORKER, "ordinary", "2026-02-01"), "DIM00002"),  # unknown action
    (("IN", WORKER, "ordinary", "1990-02-01"), "DIM00003"),  # before the employer existed
    (("IN", WORKER, "ordinary", "2026-02-01", "2026-01-31"), "DIM00004"),  # ends before start
    (("IN", WORKER, "student", "2026-02-01"), "DIM00006"),  # student without hours
    (("OUT", WORKER, None, None, "2026-03-01", None, 999999), "DIM00007"),  # no such period
    (("CANCEL", WORKER, None, None, None, None, 999999), "DIM00007"),
])
def test_dimona_validations(db, declaration, code):
    [result] = declare(db, BAKERY, declaration)
    assert (result.accepted, result.reason) == (False, code)


def test_dimona_overlap_quota_and_independent_answers(db):
    results = declare(db, STUDENTS,
                      ("IN", WORKER, "student", "2026-07-01", "2026-07-31", 300),
                      ("IN", WORKER, "student", "2026-07-15", "2026-08-15", 10),  # overlaps
                      ("IN", WORKER, "student", "2026-09-01", "2026-09-30", 400),  # > 650 h
                      ("IN", WORKER, "student", "2026-10-01", "2026-10-31", 350),  # = 650 h
                      ("IN", OTHER, "flexi", "2026-07-01"))
    assert [(r.accepted, r.reason) for r in results] == [
        (True, ""), (False, "DIM00005"), (False, "DIM00006"), (True, ""), (True, "")]
    with db.engine.connect() as conn:
        assert dimona.used_hours(conn, WORKER, 2026) == 650
        assert dimona.student_quota(2026) - dimona.used_hours(conn, WORKER, 2026) == 0
    # Another employer's OUT on this employer's period is refused.
    [foreign] = declare(db, BAKERY, ("OUT", OTHER, None, None, "2026-08-01", None,
                                     results[4].period_id))
    assert foreign.reason == "DIM00007"
    # An unknown employer: every declaration refused.
    assert [r.reason for r in declare(db, "0212310036", ("IN", WORKER, "ordinary",
                                                         "2026-02-01"))] == ["DIM00001"]
