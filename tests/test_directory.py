"""The reference directory on SQLite and PostgreSQL: register, the exclusive-code rule,
widening, unregister keeping history."""
import datetime

import pytest
from sqlalchemy import func, select

from kszws import directory
from kszws.config import load_settings
from kszws.registry import load_registry
from kszws.store.schema import registration
from tests.netfixture import ROOT
from tests.storetools import hub_snapshot

D = datetime.date
NOW = datetime.datetime(2026, 11, 28, 12, tzinfo=datetime.timezone.utc)
REGISTRY = load_registry(load_settings(ROOT / "conf"))
EUPEN, LIEGE, ONEM = (REGISTRY.institution(i) for i in ("cpas-eupen", "cpas-liege", "onem-rva"))
SSIN = "70100853190"


def q(sector, code):
    return REGISTRY.quality_code(sector, code)


def test_register_list_and_widen(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 1, 1), D(2026, 6, 30))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 6, 1))  # overlaps: widened
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 4), D(2026, 3, 1))
        mine = directory.registrations(conn, SSIN, D(2026, 1, 1), None, institution="cpas-eupen")
        sector = directory.registrations(conn, SSIN, D(2026, 1, 1), None, sector=17)
        assert [(r.start, r.end) for r in mine] == [(D(2026, 1, 1), None)]
        assert {r.institution for r in sector} == {"cpas-eupen", "cpas-liege"}
        assert directory.registrations(conn, SSIN, D(2025, 1, 1), D(2025, 12, 31)) == []


def test_exclusive_code_is_held_by_one_institution_of_the_sector(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 2), D(2026, 1, 1), D(2026, 12, 31))
    before = hub_snapshot(db)
    with db.engine.begin() as conn:  # the refused one writes nothing, its transaction goes on
        with pytest.raises(directory.Conflict):
            directory.register(conn, NOW, SSIN, LIEGE, q(17, 2), D(2026, 12, 31))  # one-day overlap
    assert hub_snapshot(db) == before
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 2), D(2027, 1, 1))  # after: fine
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 4), D(2026, 1, 1))  # not exclusive
        directory.register(conn, NOW, SSIN, ONEM, q(18, 1), D(2026, 1, 1))  # other sector


def test_unregister_ends_without_deleting(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 1, 1))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 4), D(2026, 9, 1))
        assert directory.unregister(conn, NOW, SSIN, EUPEN, D(2026, 8, 1)) == 2
        left = directory.registrations(conn, SSIN, D(2020, 1, 1), None, institution="cpas-eupen")
        assert [(r.quality_code, r.start, r.end) for r in left] == [
            (1, D(2026, 1, 1), D(2026, 7, 31))]
        assert conn.execute(select(func.count()).select_from(registration)).scalar() == 2
    before = hub_snapshot(db)
    with db.engine.begin() as conn:  # nothing (left) to unregister: nothing written
        assert directory.unregister(conn, NOW, SSIN, LIEGE, D(2026, 1, 1)) == 0
        assert directory.unregister(conn, NOW, SSIN, EUPEN, D(2026, 9, 1), 4) == 0
    assert hub_snapshot(db) == before


def test_a_bulk_load_of_refused_lines_writes_nothing(db):
    codes = {code: qc for (sector, code), qc in REGISTRY.quality_codes.items()
             if sector in (17, -1)}
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 2), D(2026, 1, 1))
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 4), D(2026, 1, 1))
    before = hub_snapshot(db)
    accepted, rejected = directory.bulk_register(db, NOW, LIEGE, [
        (SSIN, 2, D(2026, 3, 1), None, None),  # Eupen holds the exclusive code
        (SSIN, 4, D(2026, 3, 1), None, None),  # overlaps Liege's own registration
        ("70100853191", 4, D(2026, 3, 1), None, None),  # check digits
        (SSIN, 401, D(2026, 3, 1), None, None),  # not a code of sector 17
        (SSIN, 1, D(2026, 3, 1), D(2026, 2, 1), None),  # ends before it starts
        (SSIN, 1, D(2026, 3, 1), None, "TERTIARY"),
    ], codes)
    assert (accepted, [(r.index, r.code) for r in rejected]) == (0, [
        (1, "DIR00001"), (2, "DIR00006"), (3, "DIR00007"), (4, "DIR00003"), (5, "DIR00007"),
        (6, "DIR00007")])
    assert hub_snapshot(db) == before
