"""The exchange log: one row per request reaching the hub, committed before the reply
leaves, append-only and hash-chained.

    row_hash(n) = SHA-256(row_hash(n-1) + "\\n" + canonical JSON of row n and its subjects)

`seq` is given by the writer under the chain lock (SQLite: BEGIN IMMEDIATE; PostgreSQL:
SELECT ... FOR UPDATE on log_head), so the chain has no gaps and no forks even with several
workers. `verify()` recomputes the chain: an altered row breaks its own hash, an inserted
or deleted row breaks the links, and a deleted tail no longer matches log_head.
"""
import datetime
import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import select

from kszws import metrics
from kszws.clock import naive_utc
from kszws.hub import exchange_stream
from kszws.store.schema import exchange_log, exchange_subject, log_head

GENESIS = "0" * 64
FIELDS = ("seq", "ticket", "received_at", "replied_at", "caller", "caller_user", "auth_method",
          "service", "operation", "version", "legal_context", "outcome", "reason_code",
          "detail", "request_size", "reply_size", "peer", "signed_request", "signed_reply")


def _canonical(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="microseconds")
    return value


def row_hash(prev_hash, row, subjects):
    body = [_canonical(row[f]) for f in FIELDS] + [sorted(subjects)]
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + "\n" + data).encode("utf-8")).hexdigest()


def _row(exchange):
    return _fitted({
        "ticket": exchange.ticket,
        "received_at": naive_utc(exchange.received_at),
        "replied_at": naive_utc(exchange.replied_at),
        "caller": exchange.caller,
        "caller_user": exchange.caller_user,
        "auth_method": exchange.auth_method,
        "service": exchange.service,
        "operation": exchange.operation,
        "version": exchange.version,
        "legal_context": exchange.legal_context,
        "outcome": exchange.outcome,
        "reason_code": exchange.reason_code,
        "detail": exchange.detail,
        "request_size": exchange.request_size,
        "reply_size": exchange.reply_size,
        "peer": exchange.peer,
        "signed_request": exchange.signed_request,
        "signed_reply": exchange.signed_reply,
    })


# Rows are committed in batches: one value too long for its column (PostgreSQL refuses it)
# would fail the whole batch and withhold every reply in it, other callers' included. So
# each text is cut to its column here, and a subject that cannot be an SSIN (11 digits) or
# an enterprise number (10) is not a subject.
_LENGTHS = {c.name: c.type.length for c in exchange_log.columns
            if getattr(c.type, "length", None)}
_SUBJECT = exchange_subject.c.value.type.length


def _fitted(row):
    return {k: v[:_LENGTHS[k]] if isinstance(v, str) and k in _LENGTHS else v
            for k, v in row.items()}


def _subjects(exchange):
    return ["ssin:" + s for s in exchange.ssins if len(s) <= _SUBJECT] + \
        ["cbe:" + c for c in exchange.cbes if len(c) <= _SUBJECT]


class ExchangeLog:
    def __init__(self, db, writer):
        self.db = db
        self.writer = writer
        columns = FIELDS + ("prev_hash", "row_hash")
        self._insert_row = db.sql("INSERT INTO exchange_log (%s) VALUES (%s)" % (
            ", ".join(columns), ", ".join("?" * len(columns))))
        self._insert_subject = db.sql(
            "INSERT INTO exchange_subject (seq, kind, value) VALUES (?, ?, ?)")
        self._head = db.sql("SELECT last_seq, last_hash FROM log_head WHERE id = 1"
                            + (" FOR UPDATE" if db.dialect == "postgresql" else ""))
        self._move_head = db.sql("UPDATE log_head SET last_seq = ?, last_hash = ? WHERE id = 1")

    def record(self, exchange):
        """Deferred firing with the row's seq once the row is committed."""
        metrics.exchange_answered(exchange)
        exchange_stream.record(exchange)
        return self.writer.submit(self, exchange)

    def apply(self, cursor, exchanges):
        """BatchWriter handler (writer thread): append rows under the chain lock."""
        cursor.execute(self._head)
        last_seq, last_hash = cursor.fetchone()
        rows, subjects, seqs = [], [], []
        for exchange in exchanges:
            last_seq += 1
            row = _row(exchange)
            row["seq"] = last_seq
            subs = _subjects(exchange)
            row["prev_hash"] = last_hash
            row["row_hash"] = last_hash = row_hash(last_hash, row, subs)
            rows.append(tuple(self._param(row[c]) for c in FIELDS + ("prev_hash", "row_hash")))
            subjects += [(last_seq,) + tuple(s.split(":", 1)) for s in subs]
            seqs.append(last_seq)
        cursor.executemany(self._insert_row, rows)
        if subjects:
            cursor.executemany(self._insert_subject, subjects)
        cursor.execute(self._move_head, (last_seq, last_hash))
        return seqs

    def _param(self, value):
        return self.db.time_param(value) if isinstance(value, datetime.datetime) else value


@dataclass
class VerifyReport:
    rows: int = 0
    head_seq: int = 0
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems


def verify(db, chunk=5000):
    """Recompute the whole chain (synchronous; for `kszws log verify` and tests)."""
    report = VerifyReport()
    expected_seq, prev = 1, GENESIS
    with db.engine.connect() as conn:
        head_seq, head_hash = conn.execute(
            select(log_head.c.last_seq, log_head.c.last_hash).where(log_head.c.id == 1)).one()
        report.head_seq = head_seq
        last_seen = 0
        while True:
            rows = conn.execute(select(exchange_log).where(exchange_log.c.seq > last_seen)
                                .order_by(exchange_log.c.seq).limit(chunk)).mappings().all()
            if not rows:
                break
            subjects = {}
            for s in conn.execute(select(exchange_subject).where(
                    exchange_subject.c.seq.between(rows[0]["seq"], rows[-1]["seq"]))):
                subjects.setdefault(s.seq, []).append("%s:%s" % (s.kind, s.value))
            for row in rows:
                report.rows += 1
                seq = row["seq"]
                if seq != expected_seq:
                    report.problems.append((seq, "sequence jumps from %d to %d (rows deleted "
                                                 "or inserted)" % (expected_seq - 1, seq)))
                if row["prev_hash"] != prev:
                    report.problems.append((seq, "prev_hash does not link to the previous row"))
                if row_hash(row["prev_hash"], row, subjects.get(seq, [])) != row["row_hash"]:
                    report.problems.append((seq, "row content does not match its hash (altered)"))
                prev, expected_seq = row["row_hash"], seq + 1
            last_seen = rows[-1]["seq"]
    if (expected_seq - 1, prev) != (head_seq, head_hash):
        report.problems.append((head_seq, "log head (seq %d) does not match the last row "
                                          "(seq %d): rows deleted at the end?"
                                % (head_seq, expected_seq - 1)))
    return report


def search(db, ticket=None, caller=None, subject=None, service=None, outcome=None,
           since=None, until=None, limit=50):
    """Newest first. `subject`: an SSIN or enterprise number the exchange concerned."""
    q = select(exchange_log).order_by(exchange_log.c.seq.desc()).limit(limit)
    if ticket:
        q = q.where(exchange_log.c.ticket == ticket)
    if caller:
        q = q.where(exchange_log.c.caller == caller)
    if service:
        q = q.where(exchange_log.c.service == service)
    if outcome:
        q = q.where(exchange_log.c.outcome == outcome)
    if since:
        q = q.where(exchange_log.c.received_at >= naive_utc(since))
    if until:
        q = q.where(exchange_log.c.received_at < naive_utc(until))
    if subject:
        q = q.where(exchange_log.c.seq.in_(
            select(exchange_subject.c.seq).where(exchange_subject.c.value == subject)))
    with db.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
        if rows:
            subs = {}
            for s in conn.execute(select(exchange_subject).where(
                    exchange_subject.c.seq.in_([r["seq"] for r in rows]))):
                subs.setdefault(s.seq, []).append(s.value)
            for r in rows:
                r["subjects"] = sorted(subs.get(r["seq"], []))
    return rows
