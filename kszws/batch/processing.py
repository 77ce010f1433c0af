"""Processing an accepted file: its records read one at a time (memory flat whatever the
file's size), judged in chunks through the same checks as their online twins, each
chunk committed in ONE transaction with its results, its exchange-log rows (one per
record, in the hash chain) and the file's progress. A worker killed mid-file leaves the
file `running` with an expired lease: the next worker to claim it resumes after the last
committed chunk, so every record is answered and logged exactly once.

Once every record is judged: the result file (FO.{TYPE}: one Result per record, in the
input's order, each with its 6-digit application code) and the FO.NOTI summary, both in
OUT or OUTTEST with their FS and GO.

The reactor only polls and calls the sources; reading, judging and writing run in a
thread (the sources' calls are made in the reactor from it: blockingCallFromThread).
"""
import copy
import datetime
import os
import shutil
from dataclasses import dataclass, field

from lxml import etree
from sqlalchemy import and_, or_, select, update
from twisted.internet import defer, task, threads
from twisted.logger import Logger

from kszws.batch import names, outbox
from kszws.batch.intake import BATCH_NS, SERVICE, _chunks
from kszws.clock import naive_utc
from kszws.hub.exchange import Exchange
from kszws.store.schema import batch_file, batch_result
from kszws.wire import xmlparse
from kszws.wire.reasons import Refusal

RESULT_NS = "urn:kszws:batch:result:v1"
CHUNK = 100  # records per transaction, and per call to a source
RECOVER_AFTER = datetime.timedelta(seconds=30)  # a GO still without its ACRF: redone
# Attempts in a row that failed unexpectedly (not a source that does not answer: that
# waits) before a file is answered as it stands: a record that breaks its kind every
# time must not keep the file, and its sender, waiting for ever.
MAX_ATTEMPTS = 5
GIVEN_UP = ("kszws: the file could not be processed (%d attempts in a row failed; the "
            "hub's log says why): this record is not judged" % MAX_ATTEMPTS)

log = Logger()

# The application codes of a record's result (../shared/batch/README.md: the network's
# 6-digit codes; those marked "kszws" are this hub's, where the public list has none).
CODES = {
    "000000": "no problem",
    "-000050": "the record's structure is not conform",
    "-300010": "the sender is not authorised to receive these data (no authorization; REGI: "
               "it manages no files, DIMN: not the employer nor mandated by it)",
    "-300020": "the sender has not integrated the person with a quality code allowing it",
    "-400010": "kszws: the SSIN's check digits are wrong",
    "-400020": "kszws: the SSIN is unknown to the source (REGI, DIMN: or cancelled)",
    "-400030": "kszws: the SSIN was cancelled",
    "200010": "kszws: the SSIN was replaced; answered for the new one (NewSsin)",
    # REGI (kinds/regi.py: the online reason code is in the result's body)
    "200040": "kszws: REGI: there was no registration to end (DIR00004)",
    "-300050": "kszws: REGI: the quality code is not valid in the sender's sector (DIR00003)",
    "-300060": "kszws: REGI: the exclusive quality code is held at another institution of "
               "the sector (DIR00001)",
    "-400050": "kszws: REGI: no proof of authentication, or it does not match (DIR00002)",
    # DIMN (kinds/dimn.py): a declaration the employer directory refused, DIM0000k -> -6000k0
    "-600010": "kszws: DIMN: the employer is unknown to the employer directory (DIM00001)",
    "-600020": "kszws: DIMN: unknown action or worker type (DIM00002)",
    "-600030": "kszws: DIMN: the employer is not active on this date (DIM00003)",
    "-600040": "kszws: DIMN: the dates are inconsistent (DIM00004)",
    "-600050": "kszws: DIMN: an overlapping period with this employer (DIM00005)",
    "-600060": "kszws: DIMN: the student quota would be exceeded, or no hours (DIM00006)",
    "-600070": "kszws: DIMN: no such period of the employer (DIM00007)",
    "-100000": "internal problem (the source did not answer, or the file could not be "
               "processed: the NOTI's records after the last answered)",
    # PENS (kinds/pens.py): -5000NN is the pension cadastre's PEN000NN (wire/reasons.py)
    "-500001": "kszws: PENS, the SSIN is not valid (PEN00001)",
    "-500002": "kszws: PENS, the SSIN is no active person of the National Register (PEN00002)",
    "-500003": "kszws: PENS, the amount is not positive or absurd (PEN00003)",
    "-500004": "kszws: PENS, the month is malformed or in the future (PEN00004)",
    "-500005": "kszws: PENS, no rates for the month (PEN00005)",
    "-500006": "kszws: PENS, that benefit is declared for that month already (PEN00006)",
    "-500007": "kszws: PENS, unknown benefit type or family situation (PEN00007)",
    "-700010": "kszws: SOCTAR: the category is not one of conf/soctar.toml",
    "-700020": "kszws: SOCTAR: the sender may not declare this category (conf/soctar.toml)",
}
# The online refusals' reason codes, as application codes.
REFUSALS = {"ACC00001": "-300010", "ACC00002": "-300020"}


class LostClaim(Exception):
    """The file was claimed by another worker while this one judged a chunk: the chunk
    is rolled back, the other worker answers it."""


# the context of a file given up: no kind read its header
_NO_CONTEXT = type("NoContext", (), {"legal_context": None})()


@dataclass
class Judged:
    """One record's result: its code, the SSIN it concerns, and the result's body."""
    index: int
    code: str
    ssin: str = None
    body: object = None  # an lxml element (under RESULT_NS) or None
    reason: str = None  # the exchange log's reason code
    detail: str = None
    subjects: set = field(default_factory=set)


class Processor:
    """Claims accepted files and processes them (one at a time per worker)."""

    def __init__(self, db, exchange_log, out, kinds, clock, reactor, worker_id, intake,
                 lease_seconds=60):
        self.db, self.exchange_log, self.out, self.intake = db, exchange_log, out, intake
        # a running file whose lease ran out (its worker stopped) is resumed
        self.lease = datetime.timedelta(seconds=lease_seconds)
        self.kinds = kinds  # {type: handler} (batch/kinds.py)
        self.clock, self.reactor, self.worker_id = clock, reactor, worker_id
        self.busy = False
        self.stopping = False
        self.current = defer.succeed(None)
        self.loop = None

    def start(self, interval=1.0):
        self.loop = task.LoopingCall(self.poll)
        self.loop.clock = self.reactor
        self.loop.start(interval, now=True)

    def stop(self):
        """Deferred: the file under way stops after its current chunk (committed); it
        resumes there when a worker next claims it."""
        self.stopping = True
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        return self.current

    def poll(self):
        if self.busy or self.stopping:
            return None
        self.busy = True
        # first what a stopped worker left between a GO and its ACRF, then a file
        d = self.intake.recover(self.clock() - RECOVER_AFTER)
        d.addCallback(lambda _: threads.deferToThread(self.run_one))
        d.addErrback(lambda f: log.failure("batch processing", f))
        d.addBoth(self._idle)
        self.current = d
        return d

    def _idle(self, result):
        self.busy = False
        return result

    # -- in a thread ----------------------------------------------------------------------

    def claim(self):
        """The oldest accepted file, or a running one whose worker stopped: now ours."""
        now = naive_utc(self.clock())
        with self.db.engine.begin() as conn:
            row = conn.execute(select(batch_file).where(or_(  # acknowledged first
                and_(batch_file.c.state == "accepted", batch_file.c.acknowledged_at.isnot(None)),
                and_(batch_file.c.state == "running", batch_file.c.lease_until < now)))
                .order_by(batch_file.c.id).limit(1)).mappings().first()
            if row is None:
                return None
            taken = conn.execute(update(batch_file).where(
                batch_file.c.id == row["id"], batch_file.c.state == row["state"],
                or_(batch_file.c.lease_until.is_(None),
                    batch_file.c.lease_until == row["lease_until"]))
                .values(state="running", owner=self.worker_id, lease_until=now + self.lease))
            return dict(row) if taken.rowcount == 1 else None

    def run_one(self):
        row = self.claim()
        if row is None:
            return False
        job = Job(row, self.kinds.get(row["type"]), self)
        if row["attempts"] >= MAX_ATTEMPTS or job.kind is None:
            job.give_up()
            return True
        try:
            job.run()
        except (Refusal, LostClaim):
            raise  # a source that does not answer, another worker: not the file's doing
        except Exception:
            self.failed(row)
            raise
        return True

    def failed(self, row):
        """One more attempt at the file failed unexpectedly (a commit resets the count)."""
        with self.db.engine.begin() as conn:
            conn.execute(update(batch_file).where(batch_file.c.id == row["id"])
                         .values(attempts=batch_file.c.attempts + 1))


class Job:
    """One file being processed."""

    def __init__(self, row, kind, processor):
        self.row, self.kind, self.p = row, kind, processor
        self.db = processor.db
        self.name = names.parse(row["name"])
        self.institution = processor.intake.registry.institutions[row["institution"]]

    def paths(self):
        spool = self.row["spool"]
        found = sorted((names.parse(n) for n in os.listdir(spool) if n.startswith("FI.")),
                       key=lambda n: n.part)
        return [os.path.join(spool, str(n)) for n in found]

    def records(self):
        """(header, iterator of record elements) of the file."""
        stream = xmlparse.stream(_chunks(self.paths()), ("{%s}Header" % BATCH_NS,
                                                         "{%s}Record" % BATCH_NS))
        header = next(stream)
        return header, stream

    def run(self):
        header, records = self.records()
        self.declared = header.findtext("{%s}RecordCount" % BATCH_NS)
        self.context = self.kind.context(self, header)
        self.broken = None
        index, pending = 0, None  # the chunk prepared while the one before is judged
        for chunk in self._chunks(records):
            index = chunk[-1][0]
            prepared = self._prepare(chunk)
            if pending is not None:
                self.commit(self.kind.judge(self, self.context, pending[1]), pending[0])
                if self.p.stopping:
                    return  # the worker stops: resumed after the last commit by the next claim
            pending = (index, prepared)
        if pending is not None:
            self.commit(self.kind.judge(self, self.context, pending[1]), pending[0])
        self.finish(max(index, self.row["records_done"]))

    def give_up(self):
        """Answer what is left of the file with -100000 (each record with its log row),
        without its kind: MAX_ATTEMPTS attempts in a row failed (or its type is no longer
        processed). A file that cannot even be read is answered up to its last commit,
        its NOTI saying why."""
        log.error("batch file {name}: given up after {n} failed attempts",
                  name=self.row["name"], n=self.row["attempts"])
        self.context, self.broken, self.declared = _NO_CONTEXT, None, None
        index = self.row["records_done"]
        try:
            header, records = self.records()
            self.declared = header.findtext("{%s}RecordCount" % BATCH_NS)
            for chunk in self._chunks(records):
                index = chunk[-1][0]
                self.commit([Judged(i, "-100000", detail=GIVEN_UP) for i, _ in chunk], index)
        except (OSError, StopIteration) as exc:  # its files are gone or unreadable
            self.broken = Refusal("BAT00001", "the file could not be read (%s)"
                                  % type(exc).__name__)
        self.finish(index)

    def _chunks(self, records):
        """Lists of (index, record) of CHUNK records (or the kind's own `chunk`), after
        those judged before a restart."""
        done = self.row["records_done"]
        size = getattr(self.kind, "chunk", CHUNK)  # a kind may judge more at once
        chunk = []
        for index, element in enumerate(self._until_broken(records), 1):
            if index <= done:
                continue  # judged before a restart
            chunk.append((index, copy.deepcopy(element)))  # the stream frees its own
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _prepare(self, chunk):
        """What a kind starts for a chunk before the previous one is judged (IDPR: its
        call to the source), so the source works while the hub commits; a kind without
        `prepare` judges the chunk as it is."""
        prepare = getattr(self.kind, "prepare", None)
        return prepare(self, self.context, chunk) if prepare else chunk

    def _until_broken(self, records):
        """The records until the file breaks (not well-formed, a processing instruction,
        a declaration): what was read is answered, the break is reported in the NOTI and
        logged, and the rest cannot be read."""
        try:
            yield from records
        except Refusal as refusal:
            self.broken = refusal

    def commit(self, judged, index):
        """The chunk's results, their log rows and the progress: one transaction. A kind
        whose records write to the hub's store (REGI, STBE) gives, instead of its results, a
        function that writes and judges on a connection: its writes are then committed
        with the results, or not at all (a chunk judged again after a kill must not meet
        its own earlier writes)."""
        now = self.p.clock()
        if callable(judged):
            with self.db.engine.begin() as conn:
                cursor = conn.connection.dbapi_connection.cursor()
                try:
                    self.record(cursor, judged(conn), index, now)
                finally:
                    cursor.close()
            return
        with self.db.write_transaction() as cursor:
            self.record(cursor, judged, index, now)

    def record(self, cursor, judged, index, now):
        self.p.exchange_log.apply(cursor, [self.exchange(j, now) for j in judged])
        cursor.executemany(self.db.sql(
            "INSERT INTO batch_result (batch_file_id, idx, code, body) VALUES (?, ?, ?, ?)"),
            [(self.row["id"], j.index, j.code,
              etree.tostring(j.body) if j.body is not None else None) for j in judged])
        cursor.execute(self.db.sql(
            "UPDATE batch_file SET records_done = ?, lease_until = ?, attempts = 0 "
            "WHERE id = ? AND owner = ?"),
            (index, self.db.time_param(naive_utc(now) + self.p.lease), self.row["id"],
             self.p.worker_id))
        if cursor.rowcount != 1:  # its lease ran out and another worker took it over
            raise LostClaim("batch file %s: taken over by another worker" % self.row["name"])

    def exchange(self, judged, now):
        return Exchange(
            ticket="%s-%d" % (self.reference, judged.index), received_at=self.received_at,
            service=SERVICE, request_size=0, caller=self.institution.id,
            institution=self.institution, auth_method="ssh-key", operation=self.name.type,
            legal_context=self.context.legal_context, replied_at=now,
            outcome="OK" if not judged.code.startswith("-") else "REFUSED",
            reason_code=judged.reason or judged.code, detail=judged.detail,
            ssins=judged.subjects)

    @property
    def reference(self):
        return "KSZ%010d" % self.row["id"]

    @property
    def received_at(self):
        return self.row["received_at"].replace(tzinfo=datetime.timezone.utc)

    def finish(self, total):
        """The result file and the NOTI, then the file is done."""
        now = self.p.clock()
        day = now.date()
        result_name = outbox.hub_name(self.name.type, self.name.env, day, self.row["id"])
        path = self.p.out.spool_path(self.row["id"], result_name)
        counts = self.write_results(path, total)
        self.p.out.deliver_file(self.institution.id, result_name, path, self.row["id"])
        noti = outbox.hub_name("NOTI", self.name.env, day, self.row["id"])
        self.p.out.deliver(self.institution.id, noti, notification(
            self.name.as_("FI"), self.reference, result_name, total, counts, now,
            self.declared, self.broken), self.row["id"])
        if self.broken is not None:
            self.log_break(total)
        with self.db.engine.begin() as conn:
            conn.execute(update(batch_file).where(batch_file.c.id == self.row["id"])
                         .values(state="done", records_total=total, lease_until=None))
        shutil.rmtree(self.row["spool"], ignore_errors=True)
        self.p.out.results_done(self.row["id"])

    def log_break(self, total):
        """The exchange-log row of a file that broke after `total` records."""
        exchange = Exchange(
            ticket="%s-end" % self.reference, received_at=self.received_at, service=SERVICE,
            request_size=0, caller=self.institution.id, institution=self.institution,
            auth_method="ssh-key", operation=self.name.type, replied_at=self.p.clock(),
            outcome="REFUSED", reason_code=self.broken.code,
            detail="the file breaks after record %d: %s" % (total, self.broken.detail))
        with self.db.write_transaction() as cursor:
            self.p.exchange_log.apply(cursor, [exchange])

    def write_results(self, path, total):
        """The result file, streamed from the stored results in the input's order:
        {code: count}."""
        counts = {}
        with etree.xmlfile(path, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element("{%s}Results" % RESULT_NS, nsmap={"r": RESULT_NS}):
                header = etree.Element("{%s}Header" % RESULT_NS)
                for tag, text in (("Type", self.name.type),
                                  ("FileName", str(self.name.as_("FI"))),
                                  ("Reference", self.reference), ("RecordCount", total)):
                    etree.SubElement(header, "{%s}%s" % (RESULT_NS, tag)).text = str(text)
                xf.write(header)
                with self.db.engine.connect() as conn:
                    rows = conn.execution_options(yield_per=1000).execute(
                        select(batch_result.c.idx, batch_result.c.code, batch_result.c.body)
                        .where(batch_result.c.batch_file_id == self.row["id"])
                        .order_by(batch_result.c.idx))
                    for idx, code, body in rows:
                        counts[code] = counts.get(code, 0) + 1
                        result = etree.Element("{%s}Result" % RESULT_NS)
                        etree.SubElement(result, "{%s}Id" % RESULT_NS).text = str(idx)
                        etree.SubElement(result, "{%s}Code" % RESULT_NS).text = code
                        if body is not None:
                            result.append(etree.fromstring(bytes(body)))
                        xf.write(result)
        return counts


def notification(name, reference, result_name, total, counts, now, declared=None,
                 broken=None):
    """FO.NOTI: the summary of a processed file; a warning when the header declared
    another number of records than the file held (every record is answered anyway)."""
    root = etree.Element("{%s}Notification" % RESULT_NS, nsmap={"r": RESULT_NS})
    for tag, text in (("FileName", str(name)), ("Reference", reference),
                      ("ResultFile", str(result_name)), ("RecordCount", total),
                      ("DeclaredRecordCount", declared),
                      ("ProcessedAt", now.isoformat(timespec="seconds"))):
        etree.SubElement(root, "{%s}%s" % (RESULT_NS, tag)).text = str(text)
    if broken is not None:
        etree.SubElement(root, "{%s}Error" % RESULT_NS).text = (
            "the file breaks after record %d (%s: %s): the rest could not be read"
            % (total, broken.code, broken.detail))
    if declared is not None and str(declared) != str(total):
        etree.SubElement(root, "{%s}Warning" % RESULT_NS).text = (
            "the header declared %s records, the file held %d" % (declared, total))
    for code, count in sorted(counts.items()):
        line = etree.SubElement(root, "{%s}Count" % RESULT_NS, code=code)
        line.text = str(count)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

