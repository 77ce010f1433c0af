"""What a refusal must leave untouched: snapshots of the hub's store and of the sources' stores
a service writes through, and the exchange-log row that records the refusal.

A snapshot holds, per table, its row count and a digest of its content (every row, in
primary-key order): an UPDATE (an acknowledgement, an ended registration) changes the
digest even when no row is added. The hub's exchange log (exchange_log, exchange_subject,
log_head) and its replay cache are left out: every request, refused or not, writes them.

    with store_unchanged(net.settings, sources=["pension-cadastre"]):
        ...send the request that must be refused...
    assert_refusal_logged(net.settings, ticket, "PEN00002")
"""
import contextlib
import hashlib
import time

from sqlalchemy import func, select

from kszws.hub import exchange_log
from kszws.store import Database, schema

# Written by every request that reaches the hub, refused or not.
NOT_STORE = {"exchange_log", "exchange_subject", "log_head", "replay_cache"}


def _source_store(settings, source_id):
    """(Database, metadata) of a source's own store, as the source opens it."""
    from kszws.registry import load_registry
    from kszws.sources.serving import source_database

    module = {
        "national-register": "kszws.sources.national_register.store",
        "employer-directory": "kszws.sources.employer_directory.store",
        "pension-cadastre": "kszws.sources.pension_cadastre.store",
    }[source_id]
    import importlib

    store = importlib.import_module(module)
    return source_database(settings, load_registry(settings).sources[source_id]), store.metadata


def _digest_tables(db, metadata, prefix, skip=()):
    out = {}
    with db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in skip:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            digest = hashlib.sha256()
            count = 0
            for row in conn.execute(select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode("utf-8"))
                count += 1
            out["%s%s" % (prefix, table.name)] = (count, digest.hexdigest()[:16])
    return out


def hub_snapshot(db):
    """The snapshot of a hub store already open (a kszws.store.Database)."""
    return _digest_tables(db, schema.metadata, "hub.", NOT_STORE)


def store_snapshot(db, metadata):
    """The snapshot of every table of `metadata` (a source's store module) in `db`."""
    return _digest_tables(db, metadata, "")


def snapshot(settings, sources=()):
    """{store.table: (rows, digest)} of the hub's store (every table of
    kszws/store/schema.py but the exchange log and the replay cache) and of each source's
    store named in `sources` (every table of its store module)."""
    db = Database(settings.store_url)
    try:
        out = hub_snapshot(db)
    finally:
        db.dispose()
    for source_id in sources:
        source_db, metadata = _source_store(settings, source_id)
        try:
            out.update(_digest_tables(source_db, metadata, source_id + "."))
        finally:
            source_db.dispose()
    return out


def _pending(settings):
    db = Database(settings.store_url)
    try:
        with db.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(schema.fanout_pending)).scalar()
    finally:
        db.dispose()


def settled_snapshot(settings, sources=(), pause=0.4, timeout=20):
    """A snapshot once nothing moves any more: the fan-out queue empty and two snapshots
    `pause` seconds apart equal (a push or a fan-out of an earlier test may still be
    under way: its writes are not the refusal's)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        current = snapshot(settings, sources)
        if current == last and not _pending(settings):
            return current
        if time.monotonic() > deadline:
            raise AssertionError("the stores did not settle within %s s" % timeout)
        last = current
        time.sleep(pause)


def changes(before, after):
    """{table: (rows before, rows after)} of every table whose content differs."""
    return {name: (before.get(name, (0,))[0], after.get(name, (0,))[0])
            for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)}


@contextlib.contextmanager
def store_unchanged(settings, sources=()):
    """Asserts that what runs inside changes nothing in the hub's store nor in the stores
    of `sources` (ids of conf/sources.toml)."""
    before = settled_snapshot(settings, sources)
    yield before
    after = snapshot(settings, sources)
    changed = changes(before, after)
    assert not changed, "a refusal changed the store: %s (rows before, after)" % changed


def log_row(settings, ticket):
    db = Database(settings.store_url)
    try:
        rows = exchange_log.search(db, ticket=ticket)
    finally:
        db.dispose()
    assert len(rows) == 1, "no exchange-log row for ticket %r" % ticket
    return rows[0]


def assert_refusal_logged(settings, ticket, code):
    """The exchange-log row of `ticket` records a refusal with `code`."""
    row = log_row(settings, ticket)
    assert (row["outcome"], row["reason_code"]) == ("REFUSED", code), dict(row)
    return row


def fault_ticket(fault):
    """(reasonCode, ticketCBSS) of a zeep Fault's CBSSFaultType detail."""
    detail = fault.detail
    return detail.findtext(".//reasonCode"), detail.findtext(".//ticketCBSS")


def reply_ticket(reply):
    """The ticketCBSS of a new-style reply, as zeep reads it."""
    return reply["informationCBSS"]["ticketCBSS"]
