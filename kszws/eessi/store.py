"""The access point's messages in the store (table as4_message). Every function takes a
SQLAlchemy connection inside the caller's transaction and runs in a thread."""
import datetime
import json
from dataclasses import dataclass

from sqlalchemy import func, insert, or_, select, update

from kszws.clock import naive_utc
from kszws.store.schema import as4_message as t

IN, OUT = "in", "out"
WAITING, PULLED, DELIVERED, PENDING, FAILED = "waiting", "pulled", "delivered", "pending", "failed"


@dataclass(frozen=True)
class Stored:
    id: int
    message_id: str
    direction: str
    kind: str
    sender: str
    receiver: str
    state: str
    content_type: str
    package: bytes
    digests: dict
    receipt: bytes
    attempts: int


def _stored(row):
    return None if row is None else Stored(
        row.id, row.message_id, row.direction, row.kind, row.sender, row.receiver, row.state,
        row.content_type, bytes(row.package), json.loads(row.digests),
        bytes(row.receipt) if row.receipt is not None else None, row.attempts)


_COLUMNS = [t.c.id, t.c.message_id, t.c.direction, t.c.kind, t.c.sender, t.c.receiver,
            t.c.state, t.c.content_type, t.c.package, t.c.digests, t.c.receipt, t.c.attempts]


def find(conn, message_id):
    return _stored(conn.execute(select(*_COLUMNS).where(t.c.message_id == message_id)).first())


def case_exists(conn, case_id):
    return conn.execute(select(t.c.id).where(t.c.case_id == case_id).limit(1)).first() \
        is not None


def accept(conn, *, message_id, direction, kind, sender, receiver, content_type, package,
           digests, receipt, now, mpc=None, buc=None, sed_type=None, case_id=None):
    """Store an accepted message: `in` waits in `mpc`, `out` is pending its push."""
    conn.execute(insert(t).values(
        message_id=message_id, direction=direction, kind=kind, sender=sender,
        receiver=receiver, mpc=mpc, buc=buc, sed_type=sed_type, case_id=case_id,
        content_type=content_type, package=package, digests=json.dumps(digests),
        receipt=receipt, state=WAITING if direction == IN else PENDING,
        received_at=naive_utc(now), attempts=0,
        next_attempt_at=naive_utc(now) if direction == OUT else None))


def take_next(conn, mpc, now, redeliver_before):
    """The oldest message of a pull channel that waits, or was pulled before
    `redeliver_before` without a receipt (the puller may have lost it), marked pulled.
    Several pulls of one channel at once each get another message: on PostgreSQL the row
    is locked and skipped by the others (FOR UPDATE SKIP LOCKED); SQLite's transactions
    run one at a time (BEGIN IMMEDIATE, store/db.py)."""
    row = conn.execute(select(*_COLUMNS).where(
        t.c.mpc == mpc, or_(t.c.state == WAITING, (t.c.state == PULLED)
                            & (t.c.pulled_at < naive_utc(redeliver_before))))
        .order_by(t.c.id).limit(1).with_for_update(skip_locked=True)).first()
    if row is None:
        return None
    conn.execute(update(t).where(t.c.id == row.id).values(
        state=PULLED, pulled_at=naive_utc(now), attempts=t.c.attempts + 1))
    return _stored(row)


def mark_delivered(conn, message_id, now):
    """The receiver's receipt arrived: the legal delivery (E6). True if it changed state."""
    done = conn.execute(update(t).where(t.c.message_id == message_id,
                                        t.c.state.in_((WAITING, PULLED, PENDING)))
                        .values(state=DELIVERED, delivered_at=naive_utc(now)))
    return done.rowcount == 1


def backlog(conn):
    """Per pull channel: (mpc, receiver, waiting messages, oldest received_at)."""
    return conn.execute(select(t.c.mpc, t.c.receiver, func.count(), func.min(t.c.received_at))
                        .where(t.c.direction == IN, t.c.state.in_((WAITING, PULLED)))
                        .group_by(t.c.mpc, t.c.receiver).order_by(t.c.mpc)).all()


def by_id(conn, row_id):
    return _stored(conn.execute(select(*_COLUMNS).where(t.c.id == row_id)).first())


def retry_later(conn, row_id, attempts, when, error, failed=False):
    """Record a failed push: its next attempt at `when`, or failed for good."""
    conn.execute(update(t).where(t.c.id == row_id).values(
        attempts=attempts, next_attempt_at=naive_utc(when) if when else None,
        last_error=(error or "")[:256], state=FAILED if failed else PENDING))


def inbox_status(conn, now, alert_after):
    """Decision E6: each institution must take what waits for it at least once every 24
    hours. Per pull channel with messages not yet receipted: its institution, how many,
    the oldest, and whether that one waits longer than `alert_after`; `alert` when any
    does."""
    now = naive_utc(now)
    channels = []
    for mpc, receiver, waiting, oldest in backlog(conn):
        oldest = oldest if isinstance(oldest, datetime.datetime) else \
            datetime.datetime.fromisoformat(str(oldest))
        channels.append({"institution": receiver, "waiting": waiting,
                         "oldest": oldest.isoformat(timespec="seconds") + "Z",
                         "overdue": now - oldest > alert_after})
    return {"alert": any(c["overdue"] for c in channels), "channels": channels}
