"""Electronic mailboxes (seed §4.4, §4.8): what the hub delivers to an institution on its
own initiative (mutations of the National Register, attestations), kept until the
institution acknowledges it, then for a retention period.

Accepting an event and queueing its fan-out happen in one transaction (the outbox,
`fanout_pending`); hub/fanout.py turns queued events into mailbox items in another. Every
function takes a SQLAlchemy connection inside a transaction and runs in a thread.
"""
import datetime
import json
from dataclasses import dataclass

from sqlalchemy import DateTime, delete, func, insert, literal, select, update

from kszws.clock import naive_utc
from kszws.store.schema import fanout_pending, mailbox_item, mutation, pension_attestation

MUTATION, ATTESTATION, PENSION = "mutation", "attestation", "pension"
KINDS = (MUTATION, ATTESTATION, PENSION)
PENSION_TYPE = "pension_deductions"


# mailbox_item.id is an Integer column, the wire's ids and `after` are xsd:long: an id
# outside the column's range is no item's, and PostgreSQL refuses to compare the column
# with it (integer out of range), so such values are dropped or clamped before the query.
ITEM_ID_MAX = 2 ** 31 - 1


def _item_ids(ids):
    return sorted({i for i in ids if 0 < i <= ITEM_ID_MAX})


@dataclass(frozen=True)
class Mutation:
    seq: int  # the source's sequence number
    kind: str
    ssin: str
    event_date: datetime.date
    data: dict  # what changed (JSON)


def accept_mutations(conn, source, mutations, now):
    """Store the mutations `source` reports and queue their fan-out, in the caller's
    transaction. A mutation whose seq is already known is skipped (a source resends what it
    has no acknowledgement for). Returns (accepted, the highest seq now known)."""
    now = naive_utc(now)
    seqs = [m.seq for m in mutations]
    known = set(conn.execute(select(mutation.c.seq).where(
        mutation.c.source == source, mutation.c.seq.in_(seqs))).scalars()) if seqs else set()
    new = {}
    for m in mutations:  # a seq twice in one message: its first occurrence counts
        if m.seq not in known and m.seq not in new:
            new[m.seq] = m
    if new:
        conn.execute(insert(mutation), [dict(
            source=source, seq=m.seq, kind=m.kind, ssin=m.ssin, event_date=m.event_date,
            payload=json.dumps(m.data, sort_keys=True, default=str), received_at=now)
            for m in sorted(new.values(), key=lambda m: m.seq)])
        # Queued in sequence order: the fan-out delivers in the order the source recorded.
        conn.execute(insert(fanout_pending).from_select(
            ["kind", "ref_id", "created_at"],
            select(literal(MUTATION), mutation.c.id, literal(now, DateTime))
            .where(mutation.c.source == source, mutation.c.seq.in_(sorted(new)))
            .order_by(mutation.c.seq)))
    return len(new), last_seq(conn, source)


def last_seq(conn, source):
    return conn.execute(select(func.max(mutation.c.seq)).where(
        mutation.c.source == source)).scalar() or 0


@dataclass(frozen=True)
class Item:
    id: int
    kind: str
    type: str
    ssin: str
    created_at: datetime.datetime
    acked_at: datetime.datetime
    event_date: datetime.date
    data: dict


def online_kinds(institution):
    """The kinds of items `institution` (registry.Institution) finds in its online
    mailbox: not the mutations when it receives them by batch (batch/muta.py delivers
    those items as a daily file; online they are neither listed nor acknowledged)."""
    return [k for k in KINDS if not (k == MUTATION and institution.mutations == "batch")]


def items(conn, institution, after=0, kinds=None, types=None, limit=100, unacknowledged=True,
          ids=None, before=None):
    """The institution's mailbox items with id > `after`, oldest first (so in order per
    person), filtered by kind, type or `ids`, or made before `before` (a datetime); by
    default the ones not yet acknowledged. `data` holds what the event says: the
    mutation's fields, or the attestation's."""
    after = min(max(after, 0), ITEM_ID_MAX)
    q = (select(mailbox_item).where(mailbox_item.c.institution == institution,
                                    mailbox_item.c.id > after)
         .order_by(mailbox_item.c.id).limit(limit))
    if before is not None:
        q = q.where(mailbox_item.c.created_at < naive_utc(before))
    if unacknowledged:
        q = q.where(mailbox_item.c.acked_at.is_(None))
    if kinds:
        q = q.where(mailbox_item.c.kind.in_(kinds))
    if types:
        q = q.where(mailbox_item.c.type.in_(types))
    if ids is not None:
        q = q.where(mailbox_item.c.id.in_(_item_ids(ids)))
    rows = conn.execute(q).all()
    mutations = {r.id: r for r in conn.execute(select(mutation).where(mutation.c.id.in_(
        [r.ref_id for r in rows if r.kind == MUTATION])))}
    from kszws.mailbox import attestations  # here: it imports this module's constants

    events = attestations.events(conn, [r.ref_id for r in rows if r.kind == ATTESTATION])
    pensions = {p.id: p for p in conn.execute(select(pension_attestation).where(
        pension_attestation.c.id.in_([r.ref_id for r in rows if r.kind == PENSION])))}
    out = []
    for r in rows:
        if r.kind == MUTATION:
            m = mutations[r.ref_id]
            day, data = m.event_date, json.loads(m.payload)
        elif r.kind == PENSION:
            p = pensions[r.ref_id]
            day, data = datetime.date.fromisoformat(p.month + "-01"), pension_data(p)
        else:
            action, version, a = events[r.ref_id]
            day, data = a.start, attestation_data(action, version, a)
        out.append(Item(r.id, r.kind, r.type, r.ssin, r.created_at, r.acked_at, day, data))
    return out


def attestation_data(action, version, a):
    """An attestation as the named fields of a mailbox item (the payload's children too)."""
    from lxml import etree

    data = {"attestationId": a.id, "action": action, "version": version, "status": a.status,
            "startDate": a.start, "endDate": a.end, "decisionDate": a.decision_date,
            "reference": a.reference}
    for child in etree.fromstring(a.payload.encode("utf-8")):
        if isinstance(child.tag, str):
            data[etree.QName(child).localname] = child.text
    return data


def pension_data(p):
    """A payer's pension attestation as the named fields of a mailbox item: the rate to
    withhold, and per benefit it pays (benefit1., benefit2., ...) every amount."""
    payload = json.loads(p.payload)
    data = {"month": p.month, "version": p.version, "attestationId": p.source_id}
    for name in ("familySituation", "withholdingRateBp", "rates"):
        if payload.get(name) is not None:
            data[name] = payload[name]
    for number, benefit in enumerate(payload["benefits"], 1):
        for name in PENSION_FIELDS:
            data["benefit%d.%s" % (number, name)] = benefit[name]
    return data


PENSION_FIELDS = ("declarationId", "benefitReference", "benefitType", "grossCents",
                  "healthInsuranceCents", "solidarityCents", "taxableCents",
                  "withholdingCents", "netCents")


def accept_pension_attestations(conn, rows, now):
    """Take the cadastre's attestations [(source_id, month, payer, ssin, version, payload)]
    and put each in its payer's mailbox, in the caller's transaction; one taken before (by
    source_id) is skipped. Returns how many were new."""
    now = naive_utc(now)
    ids_ = [r[0] for r in rows]
    known = set(conn.execute(select(pension_attestation.c.source_id).where(
        pension_attestation.c.source_id.in_(ids_))).scalars()) if ids_ else set()
    new = [r for r in rows if r[0] not in known]
    if not new:
        return 0
    conn.execute(insert(pension_attestation), [dict(
        source_id=i, month=m, payer=payer, ssin=ssin, version=v, payload=text, received_at=now)
        for i, m, payer, ssin, v, text in new])
    conn.execute(insert(mailbox_item).from_select(
        ["institution", "kind", "ref_id", "type", "ssin", "created_at"],
        select(pension_attestation.c.payer, literal(PENSION), pension_attestation.c.id,
               literal(PENSION_TYPE), pension_attestation.c.ssin, literal(now, DateTime))
        .where(pension_attestation.c.source_id.in_([r[0] for r in new]))
        .order_by(pension_attestation.c.id)))
    return len(new)


def last_pension_attestation(conn):
    """The cadastre's id of the last attestation taken: the hub asks for those after it."""
    return conn.execute(select(func.max(pension_attestation.c.source_id))).scalar() or 0


def acknowledge(conn, institution, ids, now, kinds=None):
    """Mark the institution's items `ids` (of `kinds`, by default any) acknowledged.
    Idempotent: an item acknowledged before keeps its first acknowledgement. Returns the
    ids that are the institution's (acknowledged now or before); the others are not its
    own, or purged."""
    ids = _item_ids(ids)
    if not ids:
        return []
    mine = [mailbox_item.c.institution == institution, mailbox_item.c.id.in_(ids)]
    if kinds is not None:
        mine.append(mailbox_item.c.kind.in_(kinds))
    conn.execute(update(mailbox_item).where(*mine, mailbox_item.c.acked_at.is_(None))
                 .values(acked_at=naive_utc(now)))
    return list(conn.execute(select(mailbox_item.c.id).where(*mine)).scalars())


def purge(conn, now, retention):
    """Delete the items acknowledged more than `retention` (a timedelta) ago."""
    return conn.execute(delete(mailbox_item).where(
        mailbox_item.c.acked_at < naive_utc(now) - retention)).rowcount


def backlog(conn):
    """{institution: items not yet acknowledged} (the metric kszws_mailbox_backlog)."""
    return dict(conn.execute(select(mailbox_item.c.institution, func.count())
                             .where(mailbox_item.c.acked_at.is_(None))
                             .group_by(mailbox_item.c.institution)).all())
