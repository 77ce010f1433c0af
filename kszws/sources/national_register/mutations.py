"""Mutations of the National Register (seed §4.4): a change is applied to the register and
recorded, numbered, in one transaction; the register then tells the hub, at once (a signed
push to MutationService, repeated until acknowledged) and in a daily batch file (JSON
lines) the hub can ingest. The hub keeps each sequence number once: nothing skipped, nothing
applied twice."""
import datetime
import json
import logging

from sqlalchemy import func, insert, select, update

from kszws.registry.access import DATA_SERVICES
from kszws.sources.national_register.store import (address, civil_state, mutation, person,
                                                   push)

log = logging.getLogger(__name__)

KINDS = DATA_SERVICES["Mutations"]  # what the hub's authorizations are written in
HUB = "hub"  # the receiver name of the hub in nr_push


class MutationError(ValueError):
    pass


def record(conn, kind, ssin, day, data, now):
    """Apply a mutation to the register and record it; returns its sequence number."""
    if kind not in KINDS:
        raise MutationError("kind must be one of %s" % ", ".join(KINDS))
    found = conn.execute(select(person.c.status).where(person.c.ssin == ssin)).first()
    if found is None or found.status != "active":
        raise MutationError("no active person %s in the register" % ssin)
    _APPLY.get(kind, lambda *a: None)(conn, ssin, day, data)
    return conn.execute(insert(mutation).values(
        kind=kind, ssin=ssin, event_date=day.isoformat(),
        payload=json.dumps(data, sort_keys=True), recorded_at=now.replace(tzinfo=None))
    ).inserted_primary_key[0]


def _address(conn, ssin, day, data):
    conn.execute(update(address).where(address.c.ssin == ssin, address.c.to_date.is_(None))
                 .values(to_date=(day - datetime.timedelta(days=1)).isoformat()))
    conn.execute(insert(address).values(
        ssin=ssin, kind="legal", from_date=day.isoformat(), country_nis=150,
        municipality_nis=int(data["municipality_nis"]) if data.get("municipality_nis") else None,
        municipality=data.get("municipality"), postal_code=data.get("postal_code"),
        street=data.get("street"), house_number=data.get("house_number"), box=data.get("box")))


def _death(conn, ssin, day, data):
    conn.execute(update(person).where(person.c.ssin == ssin)
                 .values(decease_date=day.isoformat()))


def _name(conn, ssin, day, data):
    values = {k: data[v] for k, v in (("last_name", "last_name"), ("first_names", "first_names"))
              if data.get(v)}
    if values:
        conn.execute(update(person).where(person.c.ssin == ssin).values(**values))


def _civil_state(conn, ssin, day, data):
    """The new current civil state, and its entry in the history (the partner stays the
    one on file unless the mutation names another: a widow's, a divorcee's)."""
    code = int(data.get("civil_state", 10))
    partner = data.get("partner_ssin") or conn.execute(
        select(person.c.partner_ssin).where(person.c.ssin == ssin)).scalar()
    conn.execute(update(person).where(person.c.ssin == ssin).values(
        civil_state=code, civil_state_date=day.isoformat(), partner_ssin=partner))
    conn.execute(insert(civil_state).values(ssin=ssin, from_date=day.isoformat(), code=code,
                                            partner_ssin=partner))


def _ssin_replacement(conn, ssin, day, data):
    conn.execute(update(person).where(person.c.ssin == ssin).values(
        status="replaced", replaced_by=data["new_ssin"]))


_APPLY = {"address": _address, "death": _death, "name": _name, "civil_state": _civil_state,
          "ssin_replacement": _ssin_replacement}


def after(conn, seq, limit=500):
    """The recorded mutations with a sequence number above `seq`, in order."""
    return [dict(r) for r in conn.execute(
        select(mutation).where(mutation.c.seq > seq).order_by(mutation.c.seq).limit(limit))
        .mappings()]


def acked(conn, receiver=HUB):
    return conn.execute(select(push.c.acked_seq).where(push.c.receiver == receiver)).scalar() \
        or 0


def set_acked(conn, seq, receiver=HUB):
    if conn.execute(update(push).where(push.c.receiver == receiver)
                    .values(acked_seq=func.max(push.c.acked_seq, seq)
                            if conn.dialect.name == "sqlite"
                            else func.greatest(push.c.acked_seq, seq))).rowcount == 0:
        conn.execute(insert(push).values(receiver=receiver, acked_seq=seq))


def batch_lines(conn, day):
    """The day's mutations as JSON lines: the daily batch file."""
    for r in conn.execute(select(mutation).where(mutation.c.event_date == day.isoformat())
                          .order_by(mutation.c.seq)).mappings():
        yield json.dumps({"seq": r["seq"], "kind": r["kind"], "ssin": r["ssin"],
                          "eventDate": r["event_date"], "data": json.loads(r["payload"])},
                         sort_keys=True)


class Pusher:
    """Pushes the mutations the hub has not acknowledged, signed, to its MutationService."""

    def __init__(self, db, call, batch=500):
        self.db = db
        self.call = call  # call(list of mutation dicts) -> lastSeq the hub holds
        self.batch = batch

    def push_once(self):
        with self.db.engine.connect() as conn:
            pending = after(conn, acked(conn), self.batch)
        if not pending:
            return 0
        last = self.call(pending)
        with self.db.engine.begin() as conn:
            set_acked(conn, last)
        return len(pending)


def hub_caller(settings, source_id):
    """call(mutations) -> lastSeq, through the hub's MutationService, signed by the source.
    The hub is where conf/kszws.toml says, or at $KSZWS_HUB_URL."""
    import os

    from kszws.client import hub_client

    proxy, _ = hub_client(settings, "MutationService", source_id,
                          os.environ.get("KSZWS_HUB_URL") or None)

    def call(pending):
        reply = proxy.notifyMutations(mutation=[{
            "seq": m["seq"], "kind": m["kind"], "ssin": m["ssin"],
            "eventDate": m["event_date"],
            "field": [{"name": k, "value": None if v is None else str(v)}
                      for k, v in sorted(json.loads(m["payload"]).items())]}
            for m in pending])
        return int(reply["lastSeq"])
    return call
