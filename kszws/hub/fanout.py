"""The fan-out (seed §4.4): each accepted mutation goes to the mailbox of every institution
that manages a file on the person on the day of the mutation (the reference directory,
following SSIN replacements) AND is authorized to receive that kind of mutation
(conf/access.toml, service "Mutations", a quality code of the authorization); nobody else.

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

from kszws import mailbox
from kszws.mailbox import MUTATION

log = logging.getLogger(__name__)

SERVICE = "Mutations"


@dataclass(frozen=True)
class _Holder:
    """What an authorization looks at: the sector of the institution holding the file."""
    sector: int
    subsector: int


class FanOut:
    def __init__(self, db, policy, batch=500):
        self.db = db
        self.policy = policy
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
        return written

    def run_once(self, now):
        """One batch, one transaction: (events taken, items written)."""
        db = self.db
        with db.write_transaction() as cur:
            lock = " FOR UPDATE SKIP LOCKED" if db.dialect == "postgresql" else ""
            cur.execute(db.sql("SELECT id, ref_id FROM fanout_pending WHERE kind = ?"
                               " ORDER BY id LIMIT ?" + lock), [MUTATION, self.batch])
            pending = cur.fetchall()
            if not pending:
                return 0, 0
            events = _select_in(db, cur, "SELECT id, kind, ssin, event_date FROM mutation"
                                " WHERE id IN (%s)", [ref for _, ref in pending])
            rows = self._deliveries(cur, sorted(events), now)
            if rows:
                cur.executemany(db.sql(
                    "INSERT INTO mailbox_item (institution, kind, ref_id, type, ssin,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (institution, kind, ref_id) DO NOTHING"), rows)
            _select_in(db, cur, "DELETE FROM fanout_pending WHERE id IN (%s)",
                       [pid for pid, _ in pending], fetch=False)
            return len(pending), len(rows)

    def _deliveries(self, cur, events, now):
        """[(institution, kind, ref_id, type, ssin, created_at)] in event order."""
        db = self.db
        ssins = {ssin for _, _, ssin, _ in events}
        newer = dict(_select_in(db, cur, "SELECT old_ssin, new_ssin FROM directory_replacement"
                                " WHERE old_ssin IN (%s)", sorted(ssins)))
        files = defaultdict(list)  # ssin -> [(institution, sector, subsector, code, start, end)]
        for row in _select_in(db, cur, "SELECT ssin, institution, sector, subsector,"
                              " quality_code, start_date, end_date FROM directory_registration"
                              " WHERE ssin IN (%s) AND ended_at IS NULL",
                              sorted(ssins | set(newer.values()))):
            files[row[0]].append(row[1:])
        stamp = db.time_param(now)
        allowed = {}
        rows = []
        for ref, kind, ssin, day in events:
            day = str(day)
            codes_by_institution = defaultdict(set)
            holders = {}
            for s in dict.fromkeys((ssin, newer.get(ssin, ssin))):
                for inst, sector, subsector, code, start, end in files.get(s, ()):
                    if str(start) <= day and (end is None or str(end) >= day):
                        codes_by_institution[inst].add(code)
                        holders[inst] = (sector, subsector)
            for inst, codes in codes_by_institution.items():
                key = holders[inst] + (kind, day)
                if key not in allowed:
                    allowed[key] = set().union(*(
                        a.quality_codes for a in self.policy.covering(
                            _Holder(*holders[inst]), SERVICE, kind, None,
                            datetime.date.fromisoformat(day))))
                if codes & allowed[key]:
                    rows.append((inst, MUTATION, ref, kind, ssin, stamp))
        return rows


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
