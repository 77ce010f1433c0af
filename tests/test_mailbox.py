"""Mailboxes on the store (SQLite and PostgreSQL): mutations accepted once per sequence
number, fanned out to exactly the institutions registered on the person on the day of the
mutation and authorized for its kind (conf/access.toml), pulled in order, acknowledged
idempotently, purged after their retention."""
import datetime

from kszws import directory, mailbox
from kszws.config import load_settings
from kszws.hub.fanout import FanOut
from kszws.registry import load_registry
from tests.netfixture import ROOT
from tests.storetools import changes, hub_snapshot

NOW = datetime.datetime(2026, 11, 28, 12, tzinfo=datetime.timezone.utc)
MAX, ANNE, OLD = "70100853190", "72030512297", "60010100172"
NEW = "60010100370"


def registry():
    return load_registry(load_settings(ROOT / "conf"))


def setup_directory(db, reg):
    eupen, liege, namur, onem = (reg.institution(i) for i in
                                 ("cpas-eupen", "cpas-liege", "cpas-namur", "onem-rva"))
    q = reg.quality_code
    with db.engine.begin() as conn:
        directory.register(conn, NOW, MAX, eupen, q(17, 1), datetime.date(2026, 1, 1))
        # Liege's file on Max ended before the mutation; Namur's starts after it.
        directory.register(conn, NOW, MAX, liege, q(17, 4), datetime.date(2025, 1, 1),
                           datetime.date(2026, 5, 31))
        directory.register(conn, NOW, MAX, namur, q(17, 4), datetime.date(2026, 7, 1))
        directory.register(conn, NOW, MAX, onem, q(18, 1), datetime.date(2026, 1, 1))
        # ONEM knows Anne only in a capacity its mutations authorization does not name.
        directory.register(conn, NOW, ANNE, onem, q(-1, 0), datetime.date(2026, 1, 1))
        directory.register(conn, NOW, ANNE, eupen, q(17, 4), datetime.date(2026, 1, 1))
        directory.register(conn, NOW, NEW, liege, q(17, 1), datetime.date(2026, 1, 1))
        directory.follow_replacement(conn, NOW, OLD, NEW)


def mutations():
    june = datetime.date(2026, 6, 15)
    return [mailbox.Mutation(1, "address", MAX, june, {"street": "Rue Haute 1"}),
            mailbox.Mutation(2, "birth", MAX, june, {"child": "26061500123"}),
            mailbox.Mutation(3, "address", ANNE, june, {"street": "Kirchstrasse 2"}),
            mailbox.Mutation(4, "name", OLD, june, {"lastName": "Janssen"})]


def mailbox_of(db, institution, **kw):
    with db.engine.connect() as conn:
        return [(i.ssin, i.type) for i in mailbox.items(conn, institution, **kw)]


def test_fan_out_reaches_exactly_the_registered_and_authorized(db):
    reg = registry()
    setup_directory(db, reg)
    with db.engine.begin() as conn:
        assert mailbox.accept_mutations(conn, "national-register", mutations(), NOW) == (4, 4)
    before = hub_snapshot(db)
    with db.engine.begin() as conn:  # a resend of what was not acknowledged: nothing twice
        assert mailbox.accept_mutations(conn, "national-register", mutations()[2:], NOW) == (0, 4)
    assert changes(before, hub_snapshot(db)) == {}  # nothing queued again either
    assert FanOut(db, reg, batch=3).run(NOW) == 5
    assert mailbox_of(db, "cpas-eupen") == [(MAX, "address"), (MAX, "birth"), (ANNE, "address")]
    assert mailbox_of(db, "onem-rva") == [(MAX, "address")]  # not births; not Anne (code 0)
    assert mailbox_of(db, "cpas-liege") == [(OLD, "name")]  # via the replaced SSIN only
    assert mailbox_of(db, "cpas-namur") == []
    assert FanOut(db, reg).run(NOW) == 0  # the queue is empty


def test_pull_acknowledge_redeliver_purge(db):
    reg = registry()
    setup_directory(db, reg)
    with db.engine.begin() as conn:
        mailbox.accept_mutations(conn, "national-register", mutations(), NOW)
    FanOut(db, reg).run(NOW)
    with db.engine.connect() as conn:
        first = mailbox.items(conn, "cpas-eupen", limit=2)
        assert [i.type for i in first] == ["address", "birth"]
        assert first[0].data == {"street": "Rue Haute 1"}
        assert first[0].event_date == datetime.date(2026, 6, 15)
        assert [i.type for i in mailbox.items(conn, "cpas-eupen", types=["birth"])] == ["birth"]
        # Any xsd:long is a valid id or `after` on the wire; beyond the column's range
        # (PostgreSQL: integer out of range) it is simply no item's.
        assert mailbox.items(conn, "cpas-eupen", after=2 ** 62) == []
        assert [i.type for i in mailbox.items(conn, "cpas-eupen", after=-2 ** 62)][:1] == [
            "address"]
        assert mailbox.items(conn, "cpas-eupen", ids=[2 ** 62, -1], unacknowledged=False) == []
    before = hub_snapshot(db)
    with db.engine.begin() as conn:
        # Another institution's item is not acknowledged by this one, nor an id nobody has:
        # nothing is written.
        assert mailbox.acknowledge(conn, "onem-rva", [first[1].id, -1, 2 ** 62], NOW) == []
    assert changes(before, hub_snapshot(db)) == {}
    with db.engine.begin() as conn:
        mine = mailbox.acknowledge(conn, "cpas-eupen", [first[0].id, first[0].id], NOW)
        assert mine == [first[0].id]
    before = hub_snapshot(db)
    later = NOW + datetime.timedelta(hours=1)
    with db.engine.begin() as conn:  # again: idempotent, the first time is kept
        assert mailbox.acknowledge(conn, "cpas-eupen", [first[0].id], later) == [first[0].id]
    assert changes(before, hub_snapshot(db)) == {}
    # Unacknowledged items are delivered again; acknowledged ones are not.
    assert mailbox_of(db, "cpas-eupen") == [(MAX, "birth"), (ANNE, "address")]
    with db.engine.connect() as conn:
        everything = mailbox.items(conn, "cpas-eupen", unacknowledged=False)
    assert everything[0].acked_at.replace(tzinfo=datetime.timezone.utc) == NOW
    with db.engine.begin() as conn:
        assert mailbox.purge(conn, NOW + datetime.timedelta(days=29),
                             datetime.timedelta(days=30)) == 0
        assert mailbox.purge(conn, NOW + datetime.timedelta(days=31),
                             datetime.timedelta(days=30)) == 1
    assert len(mailbox_of(db, "cpas-eupen", unacknowledged=False)) == 2


def test_an_ssin_replacement_moves_the_registrations(db):
    from kszws.hub.fanout import accept_mutations

    reg = registry()
    old, new = "85073003328", "85073003427"
    with db.engine.begin() as conn:
        directory.register(conn, NOW, old, reg.institution("cpas-eupen"), reg.quality_code(17, 1),
                           datetime.date(2026, 1, 1))
    with db.engine.begin() as conn:
        accept_mutations(conn, "national-register", [
            mailbox.Mutation(1, "ssin_replacement", old, datetime.date(2026, 6, 1),
                             {"new_ssin": new}),
            mailbox.Mutation(2, "address", new, datetime.date(2026, 6, 2), {"street": "x"})],
            NOW)
    with db.engine.connect() as conn:
        moved = directory.registrations(conn, new, datetime.date(2026, 6, 1), None)
    assert [(r.ssin, r.institution) for r in moved] == [(new, "cpas-eupen")]
    FanOut(db, reg).run(NOW)
    assert mailbox_of(db, "cpas-eupen") == [(old, "ssin_replacement"), (new, "address")]
