"""Electronic attestations (seed §4.8, §4.9, §4.21): published once by the authentic
source of their type, with a stable id, updated and cancelled by it only; each version is an
event the fan-out delivers to the mailboxes of the destination institutions. Every function
takes a SQLAlchemy connection inside the caller's transaction: an attestation, its event and
its queued fan-out are written together or not at all."""
import uuid
from dataclasses import dataclass

from sqlalchemy import insert, or_, select, update

from kszws.clock import naive_utc
from kszws.mailbox import ATTESTATION
from kszws.store.schema import attestation, attestation_event, fanout_pending


class AttestationError(Exception):
    """A refused publication, update or cancellation; `code` is its reason code."""

    def __init__(self, code, detail):
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class Attestation:
    id: str
    type: str
    ssin: str
    publisher: str
    reference: str
    status: str
    version: int
    start: object
    end: object
    decision_date: object
    payload: str  # XML
    changed_at: object


def _row(r):
    return Attestation(r.id, r.type, r.ssin, r.publisher, r.reference, r.status, r.version,
                       r.start_date, r.end_date, r.decision_date, r.payload, r.changed_at)


def _event(conn, attestation_id, version, action, now):
    ref = conn.execute(insert(attestation_event).values(
        attestation=attestation_id, version=version, action=action, created_at=now)
    ).inserted_primary_key[0]
    conn.execute(insert(fanout_pending).values(kind=ATTESTATION, ref_id=ref, created_at=now))


def publish(conn, now, publisher, type_code, ssin, reference, start, end, decision_date,
            payload):
    """A new attestation; its id. The same (publisher, reference) twice is refused."""
    now = naive_utc(now)
    if conn.execute(select(attestation.c.id).where(
            attestation.c.publisher == publisher, attestation.c.reference == reference)
            ).first() is not None:
        raise AttestationError("ATT00004", "reference %r was already published" % reference)
    new_id = str(uuid.uuid4())
    conn.execute(insert(attestation).values(
        id=new_id, type=type_code, ssin=ssin, publisher=publisher, reference=reference,
        status="active", version=1, start_date=start, end_date=end,
        decision_date=decision_date, payload=payload, created_at=now, changed_at=now))
    _event(conn, new_id, 1, "create", now)
    return new_id


def published(conn, publisher, references):
    """Those of `references` the publisher has published already."""
    return set(conn.execute(select(attestation.c.reference).where(
        attestation.c.publisher == publisher,
        attestation.c.reference.in_(sorted(references)))).scalars())


def _own(conn, publisher, attestation_id):
    row = conn.execute(select(attestation).where(attestation.c.id == attestation_id)).first()
    if row is None or row.publisher != publisher:  # another's is not the caller's to know of
        raise AttestationError("ATT00005", "no attestation %s of %s" % (attestation_id,
                                                                       publisher))
    if row.status == "cancelled":
        raise AttestationError("ATT00006", "attestation %s is cancelled" % attestation_id)
    return row


def update_(conn, now, publisher, attestation_id, start, end, decision_date, payload):
    """A new version of the publisher's own attestation; returns it."""
    now = naive_utc(now)
    row = _own(conn, publisher, attestation_id)
    conn.execute(update(attestation).where(attestation.c.id == attestation_id).values(
        version=row.version + 1, start_date=start, end_date=end, decision_date=decision_date,
        payload=payload, changed_at=now))
    _event(conn, attestation_id, row.version + 1, "update", now)
    return get(conn, attestation_id)


def cancel(conn, now, publisher, attestation_id):
    now = naive_utc(now)
    row = _own(conn, publisher, attestation_id)
    conn.execute(update(attestation).where(attestation.c.id == attestation_id).values(
        version=row.version + 1, status="cancelled", changed_at=now))
    _event(conn, attestation_id, row.version + 1, "cancel", now)
    return get(conn, attestation_id)


def get(conn, attestation_id):
    row = conn.execute(select(attestation).where(attestation.c.id == attestation_id)).first()
    return _row(row) if row is not None else None


def of_person(conn, ssins, start, end, types=None, publisher=None, include_cancelled=False):
    """The attestations on the person (any of `ssins`) whose period meets [start, end]."""
    q = select(attestation).where(attestation.c.ssin.in_(list(ssins)),
                                  or_(attestation.c.end_date.is_(None),
                                      attestation.c.end_date >= start))
    if end is not None:
        q = q.where(attestation.c.start_date <= end)
    if types:
        q = q.where(attestation.c.type.in_(list(types)))
    if publisher is not None:
        q = q.where(attestation.c.publisher == publisher)
    if not include_cancelled:
        q = q.where(attestation.c.status == "active")
    return [_row(r) for r in conn.execute(q.order_by(attestation.c.start_date,
                                                     attestation.c.created_at))]


def events(conn, event_ids):
    """{event id: (action, version, Attestation)} for mailbox items."""
    rows = conn.execute(select(attestation_event.c.id.label("event_id"),
                               attestation_event.c.action.label("event_action"),
                               attestation_event.c.version.label("event_version"), attestation)
                        .join(attestation, attestation.c.id == attestation_event.c.attestation)
                        .where(attestation_event.c.id.in_(list(event_ids)))).all()
    return {r.event_id: (r.event_action, r.event_version, _row(r)) for r in rows}
