"""The reference directory on SQLite and PostgreSQL: register, the exclusive-code rule,
widening, unregister keeping history."""
import datetime

import pytest
from sqlalchemy import func, select

from kszws import directory, ids
from kszws.config import load_settings
from kszws.registry import load_registry
from kszws.registry.model import Institution
from kszws.store.schema import registration, replacement
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


# -- every function of kszws.directory, against the real store -----------------------------

TZ2 = datetime.timezone(datetime.timedelta(hours=2))
LATER = datetime.datetime(2026, 12, 1, 9, 30, tzinfo=TZ2)  # 07:30 UTC
AT_NOW, AT_LATER = datetime.datetime(2026, 11, 28, 12), datetime.datetime(2026, 12, 1, 7, 30)
# A CPAS of sub-sector 3, so that the sub-sector a row keeps is seen to be the institution's.
HERSTAL = Institution("cpas-herstal", "CPAS de Herstal", 17, 3, "0207312061", "signature", (),
                      True)


def _ssin(n):
    """A valid SSIN (born 1 January 1970, serial n)."""
    base = "700101%03d" % n
    return base + "%02d" % (97 - int(base) % 97)


P = [_ssin(n) for n in range(1, 40)]
CODES_17 = {code: qc for (sector, code), qc in REGISTRY.quality_codes.items()
            if sector in (17, -1)}


def table(db):
    """Every registration row, in id order, as a dict of its columns."""
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(registration).order_by(registration.c.id)).mappings()]


def replacements(db):
    with db.engine.connect() as conn:
        return {r.old_ssin: (r.new_ssin, r.replaced_at) for r in conn.execute(select(replacement))}


def row(ssin, institution, code, start, end=None, register="SECONDARY", phase=0, created=AT_NOW,
        changed=None, ended=None, id=None):
    out = dict(ssin=ssin, sector=institution.sector, subsector=institution.subsector,
               institution=institution.id, quality_code=code, phase=phase, register=register,
               start_date=start, end_date=end, created_at=created, changed_at=changed or created,
               ended_at=ended)
    if id is not None:
        out["id"] = id
    return out


def without_ids(rows):
    return [{k: v for k, v in r.items() if k != "id"} for r in rows]


def periods(conn, ssin, start, end, **kw):
    return [(r.institution, r.quality_code, r.start, r.end)
            for r in directory.registrations(conn, ssin, start, end, **kw)]


def held(db, ssin, institution, start, end):
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            return directory.held_codes(db, cursor, ssin, institution, start, end)
        finally:
            cursor.close()
    finally:
        raw.close()


def test_registrations_meet_the_period_asked_on_its_edge_days(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 3, 1), D(2026, 3, 31))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 4), D(2026, 5, 1))  # open
        directory.register(conn, NOW, P[0], EUPEN, q(17, 5), D(2026, 1, 1))  # another person
        march, may = ("cpas-eupen", 1, D(2026, 3, 1), D(2026, 3, 31)), \
            ("cpas-eupen", 4, D(2026, 5, 1), None)
        assert periods(conn, SSIN, D(2026, 3, 31), D(2026, 4, 30)) == [march]  # its last day
        assert periods(conn, SSIN, D(2026, 1, 1), D(2026, 3, 1)) == [march]  # its first day
        assert periods(conn, SSIN, D(2026, 4, 1), D(2026, 4, 30)) == []  # between the two
        assert periods(conn, SSIN, D(2026, 1, 1), D(2026, 2, 28)) == []  # the day before
        assert periods(conn, SSIN, D(2026, 4, 1), None) == [may]
        assert periods(conn, SSIN, D(2030, 1, 1), None) == [may]  # open: in force for ever
        assert periods(conn, SSIN, D(2026, 3, 15), D(2026, 5, 1)) == [march, may]
        directory.unregister(conn, NOW, SSIN, EUPEN, D(2026, 5, 1), 4)  # ended: not in force
        assert periods(conn, SSIN, D(2026, 1, 1), None) == [march]


def test_registrations_give_every_field_in_start_order(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, HERSTAL, q(17, 4), D(2026, 5, 1), None, "PRIMARY")
        directory.register(conn, NOW, SSIN, HERSTAL, q(17, 1), D(2026, 2, 1), D(2026, 2, 28))
        directory.register(conn, NOW, SSIN, HERSTAL, q(17, 5), D(2026, 5, 1))
        assert directory.registrations(conn, SSIN, D(2026, 1, 1), None) == [
            directory.Registration(SSIN, 17, 3, "cpas-herstal", 1, "SECONDARY", D(2026, 2, 1),
                                   D(2026, 2, 28)),
            directory.Registration(SSIN, 17, 3, "cpas-herstal", 4, "PRIMARY", D(2026, 5, 1),
                                   None),
            directory.Registration(SSIN, 17, 3, "cpas-herstal", 5, "SECONDARY", D(2026, 5, 1),
                                   None)]


def test_registrations_filter_by_sector_institution_and_register(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 1, 1), None, "PRIMARY")
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 4), D(2026, 2, 1))
        directory.register(conn, NOW, SSIN, ONEM, q(18, 1), D(2026, 3, 1), None, "PRIMARY")

        def who(**kw):
            return [r.institution for r in directory.registrations(
                conn, SSIN, D(2026, 1, 1), None, **kw)]

        assert who() == ["cpas-eupen", "cpas-liege", "onem-rva"]
        assert who(sector=17) == ["cpas-eupen", "cpas-liege"]
        assert who(sector=18) == ["onem-rva"]
        assert who(institution="cpas-liege") == ["cpas-liege"]
        assert who(register="PRIMARY") == ["cpas-eupen", "onem-rva"]
        assert who(register="SECONDARY") == ["cpas-liege"]
        assert who(register="BOTH") == who(register=None) == who()  # anything else: both
        assert who(sector=17, register="PRIMARY") == ["cpas-eupen"]


def test_other_sectors_only_for_an_institution_with_a_file_in_the_code(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 1, 1), D(2026, 6, 30))
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 4), D(2026, 1, 1))  # its own sector
        directory.register(conn, NOW, SSIN, ONEM, q(18, 1), D(2026, 3, 1))
        directory.register(conn, NOW, P[0], ONEM, q(18, 2), D(2026, 1, 1))  # another person
        onem = directory.Registration(SSIN, 18, 0, "onem-rva", 1, "SECONDARY", D(2026, 3, 1),
                                      None)
        january, year = (D(2026, 1, 1), D(2026, 1, 31)), (D(2026, 1, 1), None)
        assert directory.other_sectors(conn, SSIN, EUPEN, 1, january, year) == [onem]
        assert directory.other_sectors(conn, SSIN, EUPEN, 1, (D(2026, 6, 30), None),
                                       (D(2026, 3, 1), D(2026, 3, 1))) == [onem]
        assert directory.other_sectors(conn, SSIN, EUPEN, 1, january,
                                       (D(2026, 1, 1), D(2026, 2, 28))) == []
        assert directory.other_sectors(conn, SSIN, EUPEN, 4, january, year) is None  # Liege's
        assert directory.other_sectors(conn, SSIN, EUPEN, 1, (D(2026, 7, 1), None),
                                       year) is None  # after its file ended
        assert directory.other_sectors(conn, SSIN, LIEGE, 1, january, year) is None
        assert directory.other_sectors(conn, SSIN, LIEGE, 4, january, year) == [onem]


def test_register_stores_every_column_and_the_time_in_utc(db):
    with db.engine.begin() as conn:
        directory.register(conn, LATER, SSIN, HERSTAL, q(17, 4), D(2026, 1, 1), D(2026, 12, 31),
                           "PRIMARY", phase=2)
        directory.register(conn, LATER, P[0], HERSTAL, q(17, 1), D(2026, 2, 1))  # defaults
    assert without_ids(table(db)) == [
        row(SSIN, HERSTAL, 4, D(2026, 1, 1), D(2026, 12, 31), "PRIMARY", 2, AT_LATER),
        row(P[0], HERSTAL, 1, D(2026, 2, 1), None, "SECONDARY", 0, AT_LATER)]


def test_conflict_names_the_exclusive_code_and_the_period_held(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 2), D(2026, 1, 1), D(2026, 6, 30))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 3), D(2026, 1, 1))
    with db.engine.begin() as conn:
        with pytest.raises(directory.Conflict) as caught:
            directory.register(conn, NOW, SSIN, LIEGE, q(17, 2), D(2026, 6, 30))
        assert (caught.value.code, caught.value.sector, caught.value.start, caught.value.end) \
            == (2, 17, D(2026, 1, 1), D(2026, 6, 30))
        assert str(caught.value) == \
            "quality code 2 of sector 17 is held elsewhere from 2026-01-01 to 2026-06-30"
        with pytest.raises(directory.Conflict) as caught:  # ends on the first day held
            directory.register(conn, NOW, SSIN, LIEGE, q(17, 3), D(2025, 1, 1), D(2026, 1, 1))
        assert (caught.value.code, caught.value.start, caught.value.end) == \
            (3, D(2026, 1, 1), None)
        assert str(caught.value) == \
            "quality code 3 of sector 17 is held elsewhere from 2026-01-01 to open"


def test_exclusive_code_leaves_other_persons_codes_sectors_and_periods_free(db):
    exclusive_18 = directory_quality(18, 2, exclusive=True)
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 2), D(2026, 1, 1), D(2026, 6, 30))
        directory.register(conn, NOW, P[0], EUPEN, q(17, 3), D(2026, 1, 1), D(2026, 6, 30))
        directory.register(conn, NOW, P[1], EUPEN, q(17, 6), D(2026, 1, 1))
        directory.register(conn, NOW, P[2], ONEM, exclusive_18, D(2026, 1, 1))
        directory.unregister(conn, NOW, P[1], EUPEN, D(2026, 1, 1))  # ended: free again
    with db.engine.begin() as conn:
        directory.register(conn, NOW, P[0], LIEGE, q(17, 2), D(2026, 1, 1))  # another person
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 3), D(2026, 1, 1))  # another code
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 2), D(2026, 7, 1))  # the day after
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 2), D(2025, 1, 1), D(2025, 12, 31))
        directory.register(conn, NOW, P[1], LIEGE, q(17, 6), D(2026, 1, 1))
        directory.register(conn, NOW, P[2], EUPEN, directory_quality(17, 2, True),
                           D(2026, 1, 1))  # code 2 of sector 18 is another code
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 2), D(2026, 6, 1), D(2026, 6, 30))
    assert len(table(db)) == 10


def directory_quality(sector, code, exclusive):
    from kszws.registry.model import QualityCode

    return QualityCode(sector, code, "", "", exclusive)


def test_widening_merges_the_overlapping_registrations_into_the_first(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 1, 1), D(2026, 1, 31))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 3, 1), D(2026, 3, 31))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 6, 1), D(2026, 6, 30))
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 1), D(2026, 1, 1))  # not Eupen's
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 4), D(2026, 1, 1))  # another code
        directory.register(conn, NOW, P[0], EUPEN, q(17, 1), D(2026, 1, 1))  # another person
    before = table(db)
    with db.engine.begin() as conn:  # meets the first on its last day, the second inside
        directory.register(conn, LATER, SSIN, EUPEN, q(17, 1), D(2026, 1, 31), D(2026, 3, 10),
                           "PRIMARY")
    after = table(db)
    assert after[0] == dict(before[0], end_date=D(2026, 3, 31), register="PRIMARY",
                            changed_at=AT_LATER)
    assert after[1] == dict(before[1], end_date=D(2026, 3, 1), ended_at=AT_LATER,
                            changed_at=AT_LATER)  # merged: ended, kept
    assert after[2:] == before[2:]
    with db.engine.begin() as conn:  # starts earlier, open: the merged one is too
        directory.register(conn, LATER, SSIN, EUPEN, q(17, 1), D(2026, 5, 1))
        assert periods(conn, SSIN, D(2026, 1, 1), None, institution="cpas-eupen") == [
            ("cpas-eupen", 1, D(2026, 1, 1), D(2026, 3, 31)),
            ("cpas-eupen", 4, D(2026, 1, 1), None),
            ("cpas-eupen", 1, D(2026, 5, 1), None)]
        # inside an open one: nothing moves but the register asked and the change time
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 7, 1), D(2026, 7, 2))
        assert periods(conn, SSIN, D(2026, 5, 1), None, institution="cpas-eupen",
                       register="SECONDARY") == [("cpas-eupen", 4, D(2026, 1, 1), None),
                                                 ("cpas-eupen", 1, D(2026, 5, 1), None)]
    assert len(table(db)) == 6


def test_unregister_keeps_the_days_before_and_ends_what_starts_from_then(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 1, 1))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 4), D(2026, 8, 1), D(2026, 8, 31))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 5), D(2026, 3, 1), D(2026, 5, 31))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 7), D(2026, 6, 1), D(2026, 8, 1))
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 1), D(2026, 1, 1))
        directory.register(conn, NOW, P[0], EUPEN, q(17, 1), D(2026, 1, 1))
    before = table(db)
    with db.engine.begin() as conn:
        assert directory.unregister(conn, LATER, SSIN, EUPEN, D(2026, 8, 1)) == 3
    after = table(db)
    assert after[0] == dict(before[0], end_date=D(2026, 7, 31), changed_at=AT_LATER)
    assert after[1] == dict(before[1], end_date=D(2026, 8, 1), ended_at=AT_LATER,
                            changed_at=AT_LATER)  # starts on the day: ended entirely
    assert after[2] == before[2]  # ended before
    assert after[3] == dict(before[3], end_date=D(2026, 7, 31), changed_at=AT_LATER)
    assert after[4:] == before[4:]  # Liege's, and another person's


def test_unregister_of_one_code_leaves_the_others(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 1, 1))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 4), D(2026, 1, 1))
        assert directory.unregister(conn, NOW, SSIN, EUPEN, D(2026, 3, 1), 4) == 1
        assert periods(conn, SSIN, D(2026, 1, 1), None) == [
            ("cpas-eupen", 1, D(2026, 1, 1), None), ("cpas-eupen", 4, D(2026, 1, 1),
                                                    D(2026, 2, 28))]


def test_follow_replacement_moves_the_registrations_in_force(db):
    old, new, older = P[0], P[1], P[2]
    with db.engine.begin() as conn:
        directory.register(conn, NOW, old, HERSTAL, q(17, 1), D(2026, 1, 1), D(2026, 9, 30),
                           "PRIMARY", phase=2)
        directory.register(conn, NOW, old, LIEGE, q(17, 4), D(2026, 1, 1))
        directory.unregister(conn, NOW, old, LIEGE, D(2026, 1, 1))  # ended: stays behind
        directory.register(conn, NOW, new, ONEM, q(18, 1), D(2026, 1, 1))
        directory.register(conn, NOW, old, EUPEN, q(17, 4), D(2026, 2, 1))
        assert directory.follow_replacement(conn, NOW, older, old) == 0  # nothing on it
    before = table(db)
    with db.engine.begin() as conn:
        assert directory.follow_replacement(conn, LATER, old, new) == 2
    after = table(db)
    assert after[0] == dict(before[0], ended_at=AT_LATER, changed_at=AT_LATER)
    assert after[1:3] == before[1:3]
    assert after[3] == dict(before[3], ended_at=AT_LATER, changed_at=AT_LATER)
    assert without_ids(after[4:]) == [
        row(new, HERSTAL, 1, D(2026, 1, 1), D(2026, 9, 30), "PRIMARY", 2, AT_LATER),
        row(new, EUPEN, 4, D(2026, 2, 1), None, "SECONDARY", 0, AT_LATER)]
    # the earlier replacement now points to the newest SSIN
    assert replacements(db) == {older: (new, AT_NOW), old: (new, AT_LATER)}
    with db.engine.begin() as conn:
        assert periods(conn, new, D(2026, 1, 1), None) == [
            ("onem-rva", 1, D(2026, 1, 1), None),
            ("cpas-herstal", 1, D(2026, 1, 1), D(2026, 9, 30)),
            ("cpas-eupen", 4, D(2026, 2, 1), None)]


def test_follow_replacement_once_and_not_onto_itself(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, P[0], EUPEN, q(17, 1), D(2026, 1, 1))
        directory.follow_replacement(conn, NOW, P[0], P[1])
    before = hub_snapshot(db)
    with db.engine.begin() as conn:
        assert directory.follow_replacement(conn, LATER, P[0], P[1]) == 0  # again
        assert directory.follow_replacement(conn, LATER, P[0], P[2]) == 0  # already replaced
        assert directory.follow_replacement(conn, LATER, P[1], P[1]) == 0  # itself
    assert hub_snapshot(db) == before


def test_held_codes_are_those_of_the_institution_in_the_period(db):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 1), D(2026, 3, 1), D(2026, 3, 31))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 4), D(2026, 5, 1))
        directory.register(conn, NOW, SSIN, EUPEN, q(17, 5), D(2026, 1, 1))
        directory.unregister(conn, NOW, SSIN, EUPEN, D(2026, 1, 1), 5)
        directory.register(conn, NOW, SSIN, LIEGE, q(17, 7), D(2026, 1, 1))
        directory.register(conn, NOW, P[0], EUPEN, q(17, 8), D(2026, 1, 1))
    assert held(db, SSIN, EUPEN, D(2026, 3, 31), D(2026, 4, 30)) == {1}  # its last day
    assert held(db, SSIN, EUPEN, D(2026, 1, 1), D(2026, 3, 1)) == {1}  # its first day
    assert held(db, SSIN, EUPEN, D(2026, 4, 1), D(2026, 4, 30)) == set()
    assert held(db, SSIN, EUPEN, D(2026, 1, 1), D(2026, 2, 28)) == set()
    assert held(db, SSIN, EUPEN, D(2026, 1, 1), None) == {1, 4}
    assert held(db, SSIN, EUPEN, D(2026, 4, 1), None) == {4}
    assert held(db, SSIN, EUPEN, D(2026, 3, 31), D(2026, 5, 1)) == {1, 4}
    assert held(db, SSIN, LIEGE, D(2026, 1, 1), None) == {7}
    assert held(db, SSIN, ONEM, D(2026, 1, 1), None) == set()


def test_held_codes_follow_a_replaced_ssin(db):
    old, new = P[0], P[1]
    with db.engine.begin() as conn:
        directory.register(conn, NOW, old, EUPEN, q(17, 1), D(2026, 3, 1), D(2026, 3, 31))
        directory.register(conn, NOW, old, LIEGE, q(17, 7), D(2026, 1, 1))
        directory.follow_replacement(conn, NOW, old, new)
        directory.register(conn, NOW, new, EUPEN, q(17, 4), D(2026, 5, 1))
        directory.register(conn, NOW, old, EUPEN, q(17, 8), D(2026, 6, 1))  # on the old one
        directory.register(conn, NOW, new, EUPEN, q(17, 5), D(2026, 1, 1))
        directory.unregister(conn, NOW, new, EUPEN, D(2026, 1, 1), 5)
    assert held(db, old, EUPEN, D(2026, 1, 1), D(2026, 2, 28)) == set()
    assert held(db, old, EUPEN, D(2026, 1, 1), D(2026, 3, 1)) == {1}
    assert held(db, old, EUPEN, D(2026, 3, 31), D(2026, 5, 1)) == {1, 4}
    assert held(db, old, EUPEN, D(2026, 4, 1), None) == {4, 8}
    assert held(db, old, EUPEN, D(2026, 4, 1), D(2026, 4, 30)) == set()
    assert held(db, old, LIEGE, D(2026, 1, 1), None) == {7}
    assert held(db, new, EUPEN, D(2026, 1, 1), None) == {1, 4}  # not the other way round


def test_bulk_register_writes_the_valid_lines_for_the_institution(db):
    accepted, rejected = directory.bulk_register(db, LATER, HERSTAL, [
        (P[2], 1, D(2026, 1, 1), None, None),
        (P[1], 4, D(2026, 2, 1), D(2026, 2, 28), "PRIMARY"),
        ("700101 001-88", 5, D(2026, 3, 1), D(2026, 3, 1), "SECONDARY"),  # a display form
    ], CODES_17)
    assert (accepted, rejected) == (3, [])
    assert without_ids(table(db)) == [  # written in SSIN order
        row(P[0], HERSTAL, 5, D(2026, 3, 1), D(2026, 3, 1), "SECONDARY", 0, AT_LATER),
        row(P[1], HERSTAL, 4, D(2026, 2, 1), D(2026, 2, 28), "PRIMARY", 0, AT_LATER),
        row(P[2], HERSTAL, 1, D(2026, 1, 1), None, "SECONDARY", 0, AT_LATER)]


DIR6 = "overlaps a registration of the institution with this code, or another line of the load"
DIR1 = "exclusive quality code held at another institution of the sector"


def test_bulk_register_refuses_overlaps_with_the_directory(db):
    exclusive_18 = directory_quality(18, 2, exclusive=True)
    with db.engine.begin() as conn:
        for ssin, inst, quality, start, end in [
                (P[1], HERSTAL, q(17, 1), D(2026, 1, 1), D(2026, 3, 31)),
                (P[2], HERSTAL, q(17, 1), D(2026, 3, 1), D(2026, 3, 31)),
                (P[3], HERSTAL, q(17, 1), D(2026, 1, 1), D(2026, 3, 31)),
                (P[4], HERSTAL, q(17, 1), D(2026, 3, 1), None),
                (P[5], HERSTAL, q(17, 4), D(2026, 1, 1), None),
                (P[6], HERSTAL, q(17, 4), D(2026, 1, 1), None),
                (P[7], LIEGE, q(17, 1), D(2026, 1, 1), None),
                (P[8], EUPEN, q(17, 2), D(2026, 1, 1), D(2026, 1, 31)),
                (P[9], EUPEN, q(17, 2), D(2026, 1, 1), D(2026, 1, 31)),
                (P[10], HERSTAL, q(17, 2), D(2026, 1, 1), D(2026, 1, 31)),
                (P[10], EUPEN, q(17, 2), D(2026, 2, 1), None),
                (P[11], ONEM, exclusive_18, D(2026, 1, 1), None),
                (P[12], HERSTAL, q(17, 1), D(2026, 1, 1), None),
                (P[14], EUPEN, q(17, 2), D(2026, 1, 1), D(2026, 1, 31))]:
            directory.register(conn, NOW, ssin, inst, quality, start, end)
        directory.unregister(conn, NOW, P[5], HERSTAL, D(2026, 1, 1))
        directory.follow_replacement(conn, NOW, P[13], P[12])
        directory.follow_replacement(conn, NOW, P[15], P[16])
        directory.follow_replacement(conn, NOW, P[17], P[14])
    count = len(table(db))
    accepted, rejected = directory.bulk_register(db, LATER, HERSTAL, [
        (P[1], 1, D(2026, 4, 1), None, None),  # 1: the day after its own
        (P[2], 1, D(2026, 1, 1), D(2026, 3, 1), None),  # 2: ends on the day its own starts
        (P[3], 1, D(2026, 3, 31), None, None),  # 3: starts on the day its own ends
        (P[4], 1, D(2026, 1, 1), D(2026, 2, 28), None),  # 4: ends the day before its own
        (P[5], 4, D(2026, 2, 1), None, None),  # 5: its own was ended
        (P[6], 1, D(2026, 2, 1), None, None),  # 6: its own is of another code
        (P[7], 1, D(2026, 2, 1), None, None),  # 7: Liege's code 1 is not exclusive
        (P[8], 2, D(2026, 1, 31), None, None),  # 8: Eupen's exclusive code, its last day
        (P[9], 2, D(2026, 2, 1), None, None),  # 9: after Eupen's
        (P[10], 2, D(2026, 1, 15), D(2026, 2, 15), None),  # 10: both: its own first
        (P[11], 2, D(2026, 1, 1), None, None),  # 11: code 2 of sector 18 is another code
        (P[13], 1, D(2026, 2, 1), None, None),  # 12: replaced: its own is on the new SSIN
        (P[15], 1, D(2026, 2, 1), None, None),  # 13: replaced: registered on the new one
        (P[17], 2, D(2026, 1, 1), None, None),  # 14: replaced: Eupen's is on the new one
    ], CODES_17)
    assert [(r.index, r.ssin, r.code, r.diagnostic) for r in rejected] == [
        (2, P[2], "DIR00006", DIR6), (3, P[3], "DIR00006", DIR6), (8, P[8], "DIR00001", DIR1),
        (10, P[10], "DIR00006", DIR6), (12, P[12], "DIR00006", DIR6),
        (14, P[14], "DIR00001", DIR1)]
    assert accepted == 8
    new = [(r["ssin"], r["quality_code"], r["start_date"]) for r in table(db)[count:]]
    assert sorted(new) == sorted([
        (P[1], 1, D(2026, 4, 1)), (P[4], 1, D(2026, 1, 1)), (P[5], 4, D(2026, 2, 1)),
        (P[6], 1, D(2026, 2, 1)), (P[7], 1, D(2026, 2, 1)), (P[9], 2, D(2026, 2, 1)),
        (P[11], 2, D(2026, 1, 1)), (P[16], 1, D(2026, 2, 1))])


def test_bulk_register_refuses_bad_lines_and_overlaps_within_the_load(db):
    accepted, rejected = directory.bulk_register(db, NOW, HERSTAL, [
        ("123", 1, D(2026, 1, 1), None, None),  # 1
        ("9" * 300, 1, D(2026, 1, 1), None, None),  # 2
        (P[1], 401, D(2026, 1, 1), None, None),  # 3: not a code of sector 17
        (P[1], 1, D(2026, 3, 1), D(2026, 2, 28), None),  # 4
        (P[1], 1, D(2026, 3, 1), D(2026, 3, 1), None),  # 5: one day: fine
        (P[1], 4, D(2026, 3, 1), None, "TERTIARY"),  # 6
        (P[2], 1, D(2026, 1, 1), D(2026, 1, 31), None),  # 7
        (P[2], 1, D(2026, 1, 31), D(2026, 2, 10), None),  # 8: meets 7 on its last day
        (P[2], 1, D(2026, 2, 5), D(2026, 2, 20), None),  # 9: meets 8, itself refused
        (P[2], 1, D(2026, 2, 11), D(2026, 2, 12), None),  # 10: inside 9
        (P[2], 1, D(2026, 2, 21), None, None),  # 11: after all of them
        (P[2], 1, D(2026, 9, 1), D(2026, 9, 2), None),  # 12: inside 11, open
        (P[2], 4, D(2026, 1, 1), None, "PRIMARY"),  # 13: another code
        (P[3], 1, D(2026, 1, 1), D(2026, 3, 31), None),  # 14
        (P[3], 1, D(2026, 2, 1), D(2026, 2, 10), None),  # 15: inside 14
        (P[3], 1, D(2026, 3, 15), D(2026, 3, 20), None),  # 16: still inside 14
        (P[3], 1, D(2026, 4, 1), None, None),  # 17: after 14
        (P[0], 999, D(2026, 1, 1), None, None),  # 18: a universal code
    ], CODES_17)
    assert [(r.index, r.ssin, r.code) for r in rejected] == [
        (1, "123", "DIR00007"), (2, "9" * 20, "DIR00007"), (3, P[1], "DIR00003"),
        (4, P[1], "DIR00007"), (6, P[1], "DIR00007"), (8, P[2], "DIR00006"),
        (9, P[2], "DIR00006"), (10, P[2], "DIR00006"), (12, P[2], "DIR00006"),
        (15, P[3], "DIR00006"), (16, P[3], "DIR00006")]
    diagnostics = {r.index: r.diagnostic for r in rejected}
    assert diagnostics[1].startswith("invalid SSIN '123'")
    assert len(diagnostics[2]) == 200 and diagnostics[2].startswith("invalid SSIN '9999")
    assert diagnostics[3] == "quality code not valid in the sector"
    assert diagnostics[4] == "the period ends before it starts"
    assert diagnostics[6] == "register is PRIMARY or SECONDARY"
    assert {diagnostics[i] for i in (8, 9, 10, 12, 15, 16)} == {DIR6}
    assert accepted == 7
    assert sorted((r["ssin"], r["quality_code"], r["start_date"], r["end_date"], r["register"])
                  for r in table(db)) == [
        (P[0], 999, D(2026, 1, 1), None, "SECONDARY"),
        (P[1], 1, D(2026, 3, 1), D(2026, 3, 1), "SECONDARY"),
        (P[2], 1, D(2026, 1, 1), D(2026, 1, 31), "SECONDARY"),
        (P[2], 1, D(2026, 2, 21), None, "SECONDARY"),
        (P[2], 4, D(2026, 1, 1), None, "PRIMARY"),
        (P[3], 1, D(2026, 1, 1), D(2026, 3, 31), "SECONDARY"),
        (P[3], 1, D(2026, 4, 1), None, "SECONDARY")]


def test_bulk_load_writes_chunk_after_chunk(db):
    assert list(directory.bulk_load(db, NOW, HERSTAL, [], CODES_17)) == []
    results = list(directory.bulk_load(db, NOW, HERSTAL, iter([
        [(P[0], 1, D(2026, 1, 1), None, None), (P[1], 1, D(2026, 1, 1), None, None)],
        [(P[2], 4, D(2026, 1, 1), None, None)],
        [("123", 1, D(2026, 1, 1), None, None), (P[0], 1, D(2026, 6, 1), None, None)],
    ]), CODES_17))  # the last line overlaps one of the first chunk, now written
    assert [(n, [(r.index, r.code) for r in bad]) for n, bad in results] == [
        (2, []), (1, []), (0, [(1, "DIR00007"), (2, "DIR00006")])]
    assert sorted((r["ssin"], r["quality_code"]) for r in table(db)) == [
        (P[0], 1), (P[1], 1), (P[2], 4)]


def test_a_bulk_load_gives_its_sqlite_connection_the_large_page_cache(db):
    if db.dialect != "sqlite":
        pytest.skip("a PRAGMA of SQLite")
    directory.bulk_register(db, NOW, HERSTAL, [(P[0], 1, D(2026, 1, 1), None, None)], CODES_17)
    raw = db.engine.raw_connection()  # the pool's connection, that loaded
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == -directory.SQLITE_LOAD_CACHE_KB
        cursor.close()
    finally:
        raw.close()


def test_duplicates_in_the_load_are_found_whatever_the_order_of_the_lines(db):
    accepted, rejected = directory.bulk_register(db, NOW, HERSTAL, [
        (P[4], 1, D(2026, 3, 1), D(2026, 3, 31), None),  # 1: meets 3, which starts earlier
        (P[5], 1, D(2026, 3, 1), D(2026, 3, 31), None),  # 2
        (P[4], 1, D(2026, 1, 1), D(2026, 3, 5), None),  # 3
        (P[6], 1, D(2026, 1, 1), D(2026, 1, 31), None),  # 4
        (P[6], 1, D(2026, 1, 15), None, None),  # 5: meets 4, open: so do all later ones
        (P[6], 1, D(2026, 6, 1), D(2026, 6, 30), None),  # 6
        (P[6], 1, D(2027, 1, 1), None, None),  # 7
    ], CODES_17)
    assert accepted == 3
    assert [(r.index, r.code) for r in rejected] == [
        (1, "DIR00006"), (5, "DIR00006"), (6, "DIR00006"), (7, "DIR00006")]


def _many(count, first_day=0):
    """`count` lines of distinct valid SSINs (persons born from 1 January 1970 on)."""
    lines = []
    day = datetime.date(1970, 1, 1) + datetime.timedelta(days=first_day)
    while len(lines) < count:
        for serial in range(1, 998):
            base = day.strftime("%y%m%d") + "%03d" % serial
            lines.append((base + "%02d" % (97 - int(base) % 97), 1, D(2026, 1, 1), None, None))
        day += datetime.timedelta(days=1)
    return lines[:count]


def _planner_rows(db):
    """PostgreSQL's estimate of the directory's size (-1: never analyzed)."""
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE relname = 'directory_registration'"
            " AND relnamespace = to_regnamespace(current_schema())").scalar()


def test_a_load_of_ten_thousand_lines_refreshes_the_postgresql_planner_statistics(db):
    """From 10,000 lines on, a load ANALYZEs the directory when it grew by more than a
    fifth of what the planner knows (on SQLite it is loaded all the same)."""
    lines = _many(30_000 if db.dialect == "postgresql" else 10_000)
    loads = [(lines[:10_000], 10_000), (lines[10_000:19_999], 10_000),  # under 10,000: as was
             (lines[19_999:], 30_000)]  # a third more than the planner knows
    for chunk, seen in loads if db.dialect == "postgresql" else loads[:1]:
        accepted, rejected = directory.bulk_register(db, NOW, HERSTAL, chunk, CODES_17)
        assert (accepted, rejected) == (len(chunk), [])
        if db.dialect == "postgresql":
            assert _planner_rows(db) == seen
    assert len(table(db)) == len(lines)


def test_a_load_of_a_fifth_of_what_the_planner_knows_does_not_analyze_again(db):
    """The statistics are sampled again only when the load adds more than a fifth of the
    rows the planner knows: 10,000 lines into a directory it knows at 50,000 do not."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    with db.engine.begin() as conn:  # 50,000 registrations of others, analyzed
        conn.exec_driver_sql(
            "INSERT INTO directory_registration (ssin, sector, subsector, institution,"
            " quality_code, phase, register, start_date, created_at, changed_at)"
            " SELECT lpad(g::text, 11, '0'), 17, 1, 'cpas-eupen', 1, 0, 'SECONDARY',"
            " DATE '2026-01-01', now(), now() FROM generate_series(1, 50000) g")
        conn.exec_driver_sql("ANALYZE directory_registration")
    assert _planner_rows(db) == 50_000
    accepted, _ = directory.bulk_register(db, NOW, HERSTAL, _many(10_000), CODES_17)
    assert accepted == 10_000 and _planner_rows(db) == 50_000
    accepted, _ = directory.bulk_register(db, NOW, HERSTAL, _many(12_001, first_day=20),
                                          CODES_17)
    assert accepted == 12_001 and _planner_rows(db) == 72_001  # more than a fifth


def _check_digits(body, born_2000):
    return body + "%02d" % (97 - int(("2" if born_2000 else "") + body) % 97)


def test_the_bulk_loads_quick_ssin_check_agrees_with_ids_ssin():
    """directory.plain_ssin, the bulk load's quick check of an SSIN, accepts exactly the
    11-digit numbers ids.ssin (python-stdnum) accepts as they are: every month field, years
    either side of 2000 and of this year, check digits of either century, right and wrong;
    any other form is left to ids.ssin."""
    year = datetime.date.today().year
    numbers = []
    for yy in (0, 1, 50, 99, year % 100, year % 100 + 1):
        for month in range(100):
            for day, serial in (("01", "001"), ("31", "997"), ("00", "123")):
                for born_2000 in (False, True):
                    good = _check_digits("%02d%02d%s%s" % (yy, month, day, serial), born_2000)
                    numbers += [good, good[:9] + "%02d" % ((int(good[9:]) + 1) % 100)]
    assert 1000 < sum(map(ids.is_ssin, numbers)) < len(numbers) / 2
    for number in numbers:
        assert directory.plain_ssin(number, year) == ids.is_ssin(number), number
        assert not ids.is_ssin(number) or ids.ssin(number) == number
    arabic = SSIN.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for other in ("701008 531-90", "70.10.08-531.90", " " + SSIN, int(SSIN), arabic):
        assert not directory.plain_ssin(other, year), other
    assert directory.plain_ssin(SSIN, year)


def test_bulk_register_checks_every_form_of_ssin_as_ids_ssin_does(db):
    """The quick check takes plain numbers of either century; anything else is ids.ssin's
    (python-stdnum's) to accept in canonical form or to refuse with its diagnostic."""
    born_2005 = _check_digits("050612123", born_2000=True)
    wrong = SSIN[:9] + "%02d" % ((int(SSIN[9:]) + 1) % 100)
    accepted, rejected = directory.bulk_register(db, NOW, HERSTAL, [
        (born_2005, 1, D(2026, 1, 1), None, None),  # 1
        (wrong, 1, D(2026, 1, 1), None, None),  # 2: check digits
        ("701008 531-90", 1, D(2026, 1, 1), None, None),  # 3: the display form of SSIN
        (_check_digits("701308123", born_2000=False), 1, D(2026, 1, 1), None, None),  # 4: month
    ], CODES_17)
    assert accepted == 2
    assert [(r.index, r.ssin, r.code) for r in rejected] == [
        (2, wrong, "DIR00007"), (4, _check_digits("701308123", False), "DIR00007")]
    assert rejected[0].diagnostic.startswith("invalid SSIN '%s'" % wrong)
    assert sorted(r["ssin"] for r in table(db)) == sorted([born_2005, SSIN])
