"""The pension cadastre's store (seed §4.7): payers' declarations with corrections,
cancellations and history, bad input refused whole, and the monthly run's attestations to
each payer - on SQLite and PostgreSQL."""
import datetime
import json
from pathlib import Path

import pytest

from kszws.sources.pension_cadastre import computation, declarations, monthly, store
from kszws.sources.pension_cadastre.declarations import Correction, Declaration
from tests.storetools import store_snapshot

RATES = computation.load(Path(__file__).resolve().parent.parent / "conf" / "pension_rates.toml")
TODAY = datetime.date(2026, 11, 28)
NOW = datetime.datetime(2026, 11, 28, 12, 0)
OCT = "2019-10-01"


def _ssin(birth, serial):
    number = "%02d%02d%02d%03d" % (birth.year % 100, birth.month, birth.day, serial)
    check = 97 - int(number) % 97 if birth.year < 2000 else 97 - int("2" + number) % 97
    return number + "%02d" % check


ANNA, BERT = _ssin(datetime.date(1950, 4, 2), 17), _ssin(datetime.date(1948, 11, 30), 122)


@pytest.fixture
def db(database_url):
    from kszws.store import Database

    database = Database(database_url, "NORMAL")
    store.migrate(database)
    yield database
    database.dispose()


def declare(db, payer, *items):
    with db.engine.begin() as conn:
        return declarations.declare(conn, RATES, payer, list(items), TODAY, NOW)


def benefit(ssin=ANNA, month="2019-10", ref="P1", kind="statutory_retirement", gross=200000,
            family="single"):
    return Declaration(ssin, month, ref, kind, gross, family)


def test_declare_correct_cancel_with_history(db):
    first, = declare(db, "onp-rvp", benefit())
    assert first.accepted and first.version == 1 and first.new_pensioner
    again, = declare(db, "pensioenfonds", benefit(ref="G-7", kind="supplementary_retirement",
                                                  gross=90000))
    assert again.accepted and not again.new_pensioner  # known since the first one
    with db.engine.begin() as conn:
        fixed, = declarations.correct(conn, RATES, "pensioenfonds",
                                      [Correction(again.declaration_id, 60000, "single")], NOW)
    assert (fixed.accepted, fixed.declaration_id, fixed.version) == (
        True, again.declaration_id, 2)
    with db.engine.connect() as conn:
        rows = declarations.in_force(conn, ANNA, OCT, OCT)
        assert [r["gross_cents"] for r in rows] == [200000, 60000]
        # 2,600.00: solidarity 2.78 (test_pension_computation case 10)
        assert declarations.month_of(RATES, rows, OCT).solidarity == 278
        assert [v["gross_cents"] for v in declarations.history(
            conn, "pensioenfonds", again.declaration_id)] == [90000, 60000]
    with db.engine.begin() as conn:
        gone, = declarations.cancel(conn, "pensioenfonds", [again.declaration_id], NOW)
        assert gone.accepted
        again_gone, = declarations.cancel(conn, "pensioenfonds", [again.declaration_id], NOW)
        assert again_gone.reason == "PEN00008"  # nothing in force any more
    with db.engine.connect() as conn:
        rows = declarations.in_force(conn, ANNA, OCT, OCT)
        assert declarations.month_of(RATES, rows, OCT).health_insurance == 7100
        assert len(declarations.history(conn, "pensioenfonds", again.declaration_id)) == 2


@pytest.mark.parametrize("item, code", [
    (benefit(ssin="50040201799"), "PEN00001"),
    (benefit(gross=0), "PEN00003"),
    (benefit(gross=-5000), "PEN00003"),
    (benefit(gross=RATES.max_gross_cents + 1), "PEN00003"),
    (benefit(month="2026-12"), "PEN00004"),
    (benefit(month="2019-13"), "PEN00004"),
    (benefit(month="2019-02"), "PEN00005"),
    (benefit(kind="lottery"), "PEN00007"),
    (benefit(family="married"), "PEN00007"),
    (benefit(ref=""), "PEN00007"),
])
def test_bad_declarations_refuse_the_whole_message(db, item, code):
    declare(db, "pensioenfonds", benefit(ssin=BERT, ref="THERE"))  # a store not empty
    before = store_snapshot(db, store.metadata)
    good, bad = declare(db, "onp-rvp", benefit(ref="OK"), item)
    assert (good.accepted, good.reason) == (False, "PEN00009")
    assert (bad.accepted, bad.reason) == (False, code)
    assert store_snapshot(db, store.metadata) == before  # nothing half-applied
    with db.engine.connect() as conn:
        assert declarations.in_force(conn, ANNA, "2019-01-01") == []
        assert [p.ssin for p in conn.execute(store.pensioner.select())] == [BERT]


def test_duplicates_are_refused(db):
    assert declare(db, "onp-rvp", benefit())[0].accepted
    before = store_snapshot(db, store.metadata)
    assert declare(db, "onp-rvp", benefit(gross=1))[0].reason == "PEN00006"
    twice = declare(db, "onp-rvp", benefit(ref="X"), benefit(ref="X"))
    assert [o.reason for o in twice] == ["PEN00009", "PEN00006"]
    assert store_snapshot(db, store.metadata) == before
    # Another payer, another month, another benefit reference: not duplicates.
    assert declare(db, "pensioenfonds", benefit())[0].accepted
    assert declare(db, "onp-rvp", benefit(month="2019-11"), benefit(ref="P2"))[1].accepted


def test_corrections_of_others_or_bad_amounts_are_refused(db):
    mine, = declare(db, "onp-rvp", benefit())
    before = store_snapshot(db, store.metadata)
    with db.engine.begin() as conn:
        assert declarations.correct(conn, RATES, "pensioenfonds", [
            Correction(mine.declaration_id, 1000, "single")], NOW)[0].reason == "PEN00008"
        assert declarations.correct(conn, RATES, "onp-rvp", [
            Correction(mine.declaration_id, -1, "single")], NOW)[0].reason == "PEN00003"
        assert declarations.cancel(conn, "pensioenfonds", [mine.declaration_id], NOW)[0] \
            .reason == "PEN00008"
        both = declarations.correct(conn, RATES, "onp-rvp", [
            Correction(mine.declaration_id, 1000, "single"), Correction(999999, 1, "single")],
            NOW)
        assert [o.reason for o in both] == ["PEN00009", "PEN00008"]
        cancelled = declarations.cancel(conn, "onp-rvp", [mine.declaration_id, 999999], NOW)
        assert [o.reason for o in cancelled] == ["PEN00009", "PEN00008"]
    assert store_snapshot(db, store.metadata) == before
    with db.engine.connect() as conn:
        assert [r["gross_cents"] for r in declarations.in_force(conn, ANNA, OCT)] == [200000]


def _attestations(db):
    with db.engine.connect() as conn:
        return [(payer, ssin, version, json.loads(text))
                for _, _, payer, ssin, version, text in monthly.attestations(conn, 0, 1000)]


def test_monthly_run_tells_each_payer_its_part(db):
    declare(db, "onp-rvp", benefit(gross=100000), benefit(ssin=BERT, gross=140000))
    fund, = declare(db, "pensioenfonds", benefit(ref="G", kind="supplementary_retirement",
                                                 gross=80000))
    persons, written = monthly.close_month(db, RATES, OCT, NOW)
    assert (persons, written) == (2, 3)
    got = {(p, s): (v, a) for p, s, v, a in _attestations(db)}
    # Anna: case 3 of the worked examples (1,000 + 800 single).
    onp, own = got["onp-rvp", ANNA][1], got["pensioenfonds", ANNA][1]
    assert onp["withholdingRateBp"] == own["withholdingRateBp"] == 1982
    assert [(b["grossCents"], b["healthInsuranceCents"], b["withholdingCents"])
            for b in onp["benefits"]] == [(100000, 3550, 19116)]
    assert [(b["grossCents"], b["healthInsuranceCents"], b["withholdingCents"])
            for b in own["benefits"]] == [(80000, 2840, 15293)]
    assert got["onp-rvp", BERT][1]["benefits"][0]["withholdingCents"] == 20972  # case 1
    # Nothing changed: a second run writes nothing.
    assert monthly.close_month(db, RATES, OCT, NOW) == (2, 0)
    # The fund's benefit cancelled: the ONP's figures change (version 2) and the fund gets
    # an attestation without benefits; Bert's is unchanged.
    with db.engine.begin() as conn:
        declarations.cancel(conn, "pensioenfonds", [fund.declaration_id], NOW)
    assert monthly.close_month(db, RATES, OCT, NOW) == (2, 2)
    latest = {(p, s): (v, a) for p, s, v, a in _attestations(db)}
    assert latest["pensioenfonds", ANNA][0] == 2
    assert latest["pensioenfonds", ANNA][1]["benefits"] == []
    assert latest["onp-rvp", ANNA][0] == 2
    assert latest["onp-rvp", ANNA][1]["benefits"][0]["healthInsuranceCents"] == 0  # 1,000.00
    with db.engine.connect() as conn:
        assert len(monthly.attestations(conn, 0, 100)) == 5
        assert len(monthly.attestations(conn, 3, 100)) == 2


def test_a_month_without_rates_cannot_be_closed(db):
    with pytest.raises(ValueError, match="2020-01"):
        monthly.close_month(db, RATES, "2020-01-01", NOW)


def test_declarations_each_alone_and_a_batch_record_sent_again_answered_alike(db):
    """declareEach (the batch channel's): each declaration applied or refused on its own;
    a record sent again with its ticket (a batch chunk redone after a worker stopped) gets
    its first answer, not a duplicate's, and nothing is written twice."""
    items = [Declaration(ANNA, "2019-10", "B1", "statutory_retirement", 150000, "single",
                         "KSZ0000000001-1"),
             Declaration(ANNA, "2099-01", "B2", "statutory_retirement", 150000, "single",
                         "KSZ0000000001-2"),
             Declaration(ANNA, "2019-10", "B3", "supplementary_retirement", 50000, "single",
                         "KSZ0000000001-3")]

    def send(batch):
        with db.engine.begin() as conn:
            return [(o.accepted, o.reason, o.declaration_id, o.version, o.new_pensioner)
                    for o in declarations.declare(conn, RATES, "onp-rvp", batch, TODAY, NOW,
                                                  whole=False)]

    first = send(items)
    assert [o[:2] for o in first] == [(True, None), (False, "PEN00004"), (True, None)]
    assert [o[4] for o in first] == [True, False, False]
    before = store_snapshot(db, store.metadata)
    assert send(items) == first  # the same records again: the same answers, nothing new
    assert store_snapshot(db, store.metadata) == before
    # the same declaration under another ticket (another record) is a duplicate
    again = Declaration(ANNA, "2019-10", "B1", "statutory_retirement", 150000, "single",
                        "KSZ0000000002-1")
    assert send([again])[0][:2] == (False, "PEN00006")
