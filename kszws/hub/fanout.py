"""The fan-out (seed §4.4, §4.8): each accepted mutation goes to the mailbox of every
institution that manages a file on the person on the day of the mutation (the reference
directory, following SSIN replacements) AND is authorized to receive that kind of mutation
(conf/access.toml, service "Mutations", a quality code of the authorization); each version
of an attestation to every institution of its type's destinations (conf/attestations.toml)
holding a file on the person, in a destination quality code, during the attestation's
period. Nobody else.

A batch of queued events (mailbox.fanout_pending) becomes mailbox items and leaves the
queue in ONE transaction: killed half-way, the hub redoes the batch, and the unique
(institution, event) key keeps every item single. Plain DB-API: the benchmark delivers a
million items.
"""
import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass

from twisted.internet import task, threads

from kszws import directory, ids, mailbox
from kszws.mailbox import ATTESTATION, MUTATION
from kszws.registry.access import DATA_SERVICES

log = logging.getLogger(__name__)

SERVICE = "Mutations"


def mutation_problem(seq, kind, ssin):
    """Why a reported mutation cannot be accepted (a known kind, a valid SSIN), or None."""
    kinds = DATA_SERVICES[SERVICE]
    if kind not in kinds:
        return "mutation %s: kind %r is not one of %s" % (seq, str(kind)[:24], ", ".join(kinds))
    if not ids.is_ssin(ssin):
        return "mutation %s: %r is not a valid SSIN" % (seq, str(ssin)[:20])
    return None


def accept_mutations(conn, source, mutations, now):
    """mailbox.accept_mutations, and the reference directory follows the SSIN replacements
    among them (registrations move to the new SSIN), in the same transaction."""
    accepted, last = mailbox.accept_mutations(conn, source, mutations, now)
    for m in mutations:
        new = (m.data or {}).get("new_ssin")
        if m.kind == "ssin_replacement" and new and ids.is_ssin(new):
            directory.follow_replacement(conn, now, m.ssin, ids.ssin(new))
    return accepted, last


@dataclass(frozen=True)
class _Holder:
    """What an authorization looks at: the sector of the institution holding the file."""
    sector: int
    subsector: int


class FanOut:
    def __init__(self, db, registry, batch=500):
        self.db = db
        self.policy = registry.access  # who may receive which mutations
        self.types = registry.attestation_types  # who receives which attestations
        self.batch = batch

    def run(self, now, limit=None):
        """Deliver queued events until none is left (or `limit` batches); returns how many
        mailbox items were written."""
        written = batches = 0
        while limit is None or batches < limit:
            done, items = self.run_once(now)
            written += items
            batches += 1
            if not done:
                break
        if written >= 10_000 and self.db.dialect == "postgresql":
            self._analyze(written)
        return written

    def _analyze(self, written):
        """After a large fan-out the planner must know the mailboxes grew by a fifth or
        more, or listing one mailbox becomes a scan of everyone's."""
        with self.db.engine.connect() as conn:
            known = conn.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE relname = 'mailbox_item'"
                " AND relnamespace = to_regnamespace(current_schema())").scalar() or 0
            if known <= 0 or written > 0.2 * known:
                conn.exec_driver_sql("ANALYZE mailbox_item")
                conn.commit()

    def run_once(self, now):
        """One batch, one transaction: (events taken, items written)."""
        db = self.db
        with db.write_transaction() as cur:
            lock = " FOR UPDATE SKIP LOCKED" if db.dialect == "postgresql" else ""
            cur.execute(db.sql("SELECT id, kind, ref_id FROM fanout_pending ORDER BY id"
                               " LIMIT ?" + lock), [self.batch])
            pending = cur.fetchall()
            if not pending:
                return 0, 0
            events = {}  # (kind, ref) -> (type, ssin, start, end): who may receive it
            for ref, kind, ssin, day in _select_in(
                    db, cur, "SELECT id, kind, ssin, event_date FROM mutation WHERE id IN (%s)",
                    [r for _, k, r in pending if k == MUTATION]):
                events[MUTATION, ref] = (kind, ssin, str(day), str(day))
            for ref, kind, ssin, start, end in _select_in(
                    db, cur, "SELECT e.id, a.type, a.ssin, a.start_date, a.end_date"
                    " FROM attestation_event e JOIN attestation a ON a.id = e.attestation"
                    " WHERE e.id IN (%s)", [r for _, k, r in pending if k == ATTESTATION]):
                events[ATTESTATION, ref] = (kind, ssin, str(start), end and str(end))
            rows = self._deliveries(cur, [(k, r) + events[k, r] for _, k, r in pending
                                          if (k, r) in events], now)
            if rows:
                cur.executemany(db.sql(
                    "INSERT INTO mailbox_item (institution, kind, ref_id, type, ssin,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (institution, kind, ref_id) DO NOTHING"), rows)
            _select_in(db, cur, "DELETE FROM fanout_pending WHERE id IN (%s)",
                       [pid for pid, _, _ in pending], fetch=False)
            return len(pending), len(rows)

    def _deliveries(self, cur, events, now):
        """[(institution, kind, ref_id, type, ssin, created_at)] in event order; `events`
        are (kind, ref, type, ssin, start, end) with ISO dates (end None: open)."""
        db = self.db
        ssins = {e[3] for e in events}
        newer = dict(_select_in(db, cur, "SELECT old_ssin, new_ssin FROM directory_replacement"
                                " WHERE old_ssin IN (%s)", sorted(ssins)))
        files = defaultdict(list)  # ssin -> [(institution, sector, subsector, code, start, end)]
        for row in _select_in(db, cur, "SELECT ssin, institution, sector, subsector,"
                              " quality_code, start_date, end_date FROM directory_registration"
                              " WHERE ssin IN (%s) AND ended_at IS NULL",
                              sorted(ssins | set(newer.values()))):
            files[row[0]].append(row[1:])
        stamp = db.time_param(now)
        entitled = {}  # (kind, type, sector, subsector, day) -> quality codes
        rows = []
        for kind, ref, type_, ssin, start, end in events:
            codes_by_institution, holders = defaultdict(set), {}
            for s in dict.fromkeys((ssin, newer.get(ssin, ssin))):
                for inst, sector, subsector, code, r_start, r_end in files.get(s, ()):
                    if str(r_start) <= (end or "9999-12-31") and \
                            (r_end is None or str(r_end) >= start):
                        codes_by_institution[inst].add(code)
                        holders[inst] = (sector, subsector)
            for inst, codes in codes_by_institution.items():
                key = (kind, type_) + holders[inst] + (start,)
                if key not in entitled:
                    entitled[key] = self._entitled(kind, type_, *holders[inst], start)
                if codes & entitled[key]:
                    rows.append((inst, kind, ref, type_, ssin, stamp))
        return rows

    def _entitled(self, kind, type_, sector, subsector, day):
        """The quality codes of a registration that entitle an institution of sector.subsector
        to this event: the authorizations of the mutation kind, or the attestation type's
        destinations."""
        if kind == ATTESTATION:
            known = self.types.get(type_)
            return known.destination_codes(sector, subsector) if known else frozenset()
        return frozenset().union(*(
            a.quality_codes for a in self.policy.covering(
                _Holder(sector, subsector), SERVICE, type_, None,
                datetime.date.fromisoformat(day))))


def _select_in(db, cur, statement, values, fetch=True, size=900):
    """`statement` with an IN (%s) list, in slices (SQLite's variable limit)."""
    out = []
    for i in range(0, len(values), size):
        part = values[i:i + size]
        cur.execute(db.sql(statement % ",".join("?" * len(part))), part)
        if fetch:
            out += cur.fetchall()
    return out


class FanOutLoop:
    """Runs the fan-out in a thread of each worker: every `interval` seconds, and at once
    when events were accepted (`kick`); never two runs at a time in one worker. Once an
    hour it also purges the items acknowledged longer ago than the retention."""

    def __init__(self, fanout, clock, interval, retention, reactor=None):
        self.fanout = fanout
        self.clock = clock
        self.retention = retention
        self.running = None
        self.again = False
        self.last_purge = None
        self.loop = task.LoopingCall(self.kick)
        if reactor is not None:
            self.loop.clock = reactor
        self.interval = interval

    def start(self):
        self.loop.start(self.interval, now=True)

    def stop(self):
        if self.loop.running:
            self.loop.stop()
        return self.running

    def kick(self):
        if self.running is not None:
            self.again = True  # events accepted meanwhile: one more run after this one
            return
        self.running = threads.deferToThread(self._work, self.clock())
        self.running.addErrback(lambda f: log.error("fan-out failed (it will be retried): "
                                                    "%s", f.getTraceback()))
        self.running.addBoth(self._done)

    def _done(self, _):
        self.running = None
        if self.again:
            self.again = False
            self.kick()

    def _work(self, now):
        self.fanout.run(now)
        if self.last_purge is None or now - self.last_purge > datetime.timedelta(hours=1):
            with self.fanout.db.engine.begin() as conn:
                mailbox.purge(conn, now, self.retention)
            self.last_purge = now
