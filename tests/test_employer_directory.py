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
from tests.test_published_wsdl import _without_locations

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


def test_generated_employers_are_valid_and_searchable(db):
    population.generate(db, 200, seed=3)
    with db.engine.connect() as conn:
        rows = conn.execute(store.employer.select()).mappings().all()
        assert len(rows) == 202
        for row in rows:
            assert ids.enterprise_number(row["cbe"]) == row["cbe"]
            assert ids.nsso_number(row["nsso"]) == row["nsso"]
        assert {r["register"] for r in rows} <= {"RSZ", "RSZPPO"}
        found = store.search(conn, "boulangerie", 63023)
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
        assert _without_locations(generated) == _without_locations(fh.read()), (
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
