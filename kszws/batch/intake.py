"""What happens when a GO (or TD) file is closed in an institution's IN: the submitted
files are taken out of IN (moved to the hub's spool, where the institution can no longer
change them), checked formally, recorded, logged, and acknowledged with an ACRF in OUT
(production) or OUTTEST (test environments) within seconds.

The checks, each an ErrorID of the ACRF (batch/acrf.py): the GO names the whole file and
is empty; the sender number is the institution's; the type is one the hub processes; the
FI is there, in one piece or in all its parts; each FI has its FS, and the FS is the
signature of a certificate registered for the institution; the sequence number is new
for the sender, date and environment; the header is valid XML against
xsd/Batch/BatchFile.xsd and names the type and sender of the file name. A refused file is
not processed at all.

Files are read and checked in a thread; the exchange-log row is committed (in the
reactor's writer) before the ACRF is written: no answer leaves without its row.
"""
import datetime
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from twisted.internet import defer, threads
from twisted.logger import Logger

from kszws.batch import acrf, names, outbox, signature
from kszws.batch.dropbox import IN, folders_of
from kszws.clock import naive_utc
from kszws.hub.exchange import Exchange
from kszws.store.schema import batch_file, batch_sequence, exchange_log
from kszws.wire import xmlparse
from kszws.wire.reasons import Refusal

BATCH_NS = "urn:kszws:batch:v1"
RECEIVED = "received"  # recorded, its files being moved and checked
HEADER_XSD = Path(__file__).resolve().parents[2] / "xsd" / "Batch" / "BatchFile.xsd"
SERVICE = "BatchChannel"
ACCEPTED, REJECTED, CANCELLED = "accepted", "rejected", "cancelled"
RUNNING = "running"  # claimed by a worker (processing.py)

log = Logger()


@dataclass
class Receipt:
    """A file as received: what the ACRF and the exchange log say about it."""
    institution: str
    name: names.FileName  # the GO's
    received_at: object
    id: int = 0
    errors: list = field(default_factory=list)
    size: int = 0

    @property
    def reference(self):
        return "KSZ%010d" % self.id


class Intake:
    def __init__(self, config, registry, db, out, exchange_log, clock, types):
        """`types`: the types processed (batch/kinds.py: a dict of them, or their codes)."""
        self.config, self.registry, self.db = config, registry, db
        self.out, self.exchange_log, self.clock = out, exchange_log, clock
        self.types = frozenset(types)
        self._header_schema = None

    def inbox(self, institution):
        """The institution's IN folder."""
        return Path(folders_of(str(self.config.root), institution)) / IN

    # -- in the reactor -----------------------------------------------------------------

    def trigger(self, institution, file_name):
        """A GO or TD was closed in the institution's IN (dropbox.Upload.close)."""
        d = threads.deferToThread(self.receive, institution, file_name)
        d.addCallback(self._answer)
        d.addErrback(lambda failure: log.failure("batch intake of {name} by {who}", failure,
                                                 name=file_name, who=institution))
        return d

    def _answer(self, receipt):
        if receipt is None:
            return None
        if isinstance(receipt, Exchange):  # a TD: its row, no answer
            return self.exchange_log.record(receipt)
        d = self.exchange_log.record(self._exchange(receipt))
        d.addCallback(lambda _: threads.deferToThread(self.acknowledge, receipt))
        return d

    def _exchange(self, receipt):
        first = receipt.errors[0] if receipt.errors else "ACRF-000"
        return Exchange(
            ticket=receipt.reference, received_at=receipt.received_at, service=SERVICE,
            request_size=receipt.size, caller=receipt.institution,
            institution=self.registry.institutions.get(receipt.institution),
            auth_method="ssh-key", operation=receipt.name.type, replied_at=self.clock(),
            outcome="REFUSED" if receipt.errors else "OK", reason_code=first,
            detail=("%s: %s" % (receipt.name, " ".join(receipt.errors)))[:256])

    # -- in a thread ----------------------------------------------------------------------

    def receive(self, institution, file_name):
        """Record a GO, take its files out of IN, check them: the Receipt (None for a TD,
        which cancels instead). Each step can be redone after a crash (recover())."""
        name = names.parse(file_name)
        if not (self.inbox(institution) / file_name).exists():
            return None  # taken with the files of another GO of the same name
        if name.prefix == "TD":
            return self.cancel(institution, name)
        receipt = Receipt(institution, name, self.clock())
        spool = Path(self.config.root) / "spool" / uuid.uuid4().hex
        with self.db.engine.begin() as conn:
            receipt.id = conn.execute(insert(batch_file).values(
                institution=institution, name=str(name), type=name.type, sender=name.sender,
                env=name.env, parts=0, spool=str(spool), state=RECEIVED, records_done=0,
                received_at=naive_utc(receipt.received_at))).inserted_primary_key[0]
        return self._examine(receipt, spool)

    def _examine(self, receipt, spool):
        """Take the files of the receipt's GO from IN into `spool` (those already taken
        stay), check them, record the verdict."""
        try:
            self._take(receipt, spool)
            receipt.size = sum(p.stat().st_size for p in spool.iterdir())
            receipt.errors = self.check(receipt.institution, receipt.name, spool) \
                if (spool / str(receipt.name)).exists() else ["ACRF-030"]
        except Exception:  # whatever happened, the sender gets an answer and a log row
            log.failure("batch intake of {name}", name=str(receipt.name))
            receipt.errors = ["ACRF-099"]
        self.record(receipt)
        return receipt

    def _take(self, receipt, spool):
        """Copy the files of the receipt's GO from IN into `spool` and remove them from IN
        (those taken before a crash stay taken). Copied, not moved: a handle the sender
        still holds open on a file in IN writes on into the removed file, never into what
        the hub checks and processes."""
        spool.mkdir(parents=True, exist_ok=True)
        inbox = self.inbox(receipt.institution)
        for entry in _files_of(inbox, receipt.name):
            partial = spool / (".%s.part" % entry)
            with open(inbox / entry, "rb") as source, open(partial, "wb") as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
                copy.flush()
                os.fsync(copy.fileno())
            os.replace(partial, spool / entry)
            os.unlink(inbox / entry)

    def check(self, institution, name, spool):
        """The ErrorIDs of the file `name` (a GO) whose files are in `spool`."""
        errors = []
        sender = self.config.senders.get(institution)
        if name.parts:
            errors.append("ACRF-001")
        if (spool / str(name)).stat().st_size:
            errors.append("ACRF-060")
        if sender is None or name.sender != sender.number:
            errors.append("ACRF-010")
        if name.type not in self.types:
            errors.append("ACRF-011")
        present = {}
        for entry in os.listdir(spool):
            found = names.parse(entry)
            present.setdefault(found.prefix, []).append(found)
        parts = sorted(present.get("FI", []), key=lambda n: n.part)
        if not parts:
            return errors + ["ACRF-030"]
        if not _complete(parts):
            return errors + ["ACRF-031"]
        if any(not (spool / str(p.as_("FS"))).exists() for p in parts):
            return errors + ["ACRF-040"]
        if sender is not None and "ACRF-010" not in errors:
            certificates = self.registry.institutions[institution].certificates
            for part in parts:
                fs = (spool / str(part.as_("FS"))).read_bytes()[:signature.MAX_FS_BYTES + 1]
                try:
                    signature.verify(fs, signature.digest_file(spool / str(part)), certificates)
                except signature.BadSignature:
                    errors.append("ACRF-088")
                    break
        if not self._header_valid(name, [spool / str(p) for p in parts]):
            errors.append("ACRF-050")
        if not errors and self._queued_bytes(institution) + _bytes(spool) > \
                self.config.max_queued_bytes:
            errors.append("ACRF-070")
        return errors

    def _queued_bytes(self, institution):
        """The bytes of the institution's accepted files not yet processed (their spool)."""
        with self.db.engine.connect() as conn:
            spools = conn.execute(select(batch_file.c.spool).where(
                batch_file.c.institution == institution,
                batch_file.c.state.in_((ACCEPTED, RUNNING)))).scalars().all()
        return sum(_bytes(Path(s)) for s in spools)

    def _header_valid(self, name, paths):
        """The header, read from the start of the file (its first parts), holds against
        the schema and names the file's type and sender."""
        try:
            header = next(xmlparse.stream(_chunks(paths), "{%s}Header" % BATCH_NS), None)
            if header is None or not self.header_schema.validate(header):
                return False
            return (header.findtext("{%s}Type" % BATCH_NS) == name.type
                    and header.findtext("{%s}Sender" % BATCH_NS) == name.sender)
        except Refusal:
            return False

    @property
    def header_schema(self):
        if self._header_schema is None:
            self._header_schema = etree.XMLSchema(etree.parse(str(HEADER_XSD)))
        return self._header_schema

    def record(self, receipt):
        """The verdict on the file's row, and its sequence number taken when it is
        accepted (a second file with the same one is refused: ACRF-020, even from another
        worker)."""
        name = receipt.name
        with self.db.engine.begin() as conn:
            conn.execute(update(batch_file).where(batch_file.c.id == receipt.id).values(
                state=REJECTED if receipt.errors else ACCEPTED,
                errors=" ".join(receipt.errors) or None))
            if receipt.errors:
                return
            try:
                with conn.begin_nested():
                    conn.execute(insert(batch_sequence).values(
                        sender=name.sender, file_date=name.date.strftime("%Y%m%d"),
                        seq=name.seq, env=name.env, batch_file_id=receipt.id))
            except IntegrityError:
                receipt.errors = ["ACRF-020"]
                conn.execute(update(batch_file).where(batch_file.c.id == receipt.id)
                             .values(state=REJECTED, errors="ACRF-020"))

    def acknowledge(self, receipt):
        """The ACRF triple in OUT or OUTTEST (after the log row)."""
        now = self.clock()
        name = outbox.hub_name("ACRF", receipt.name.env, now.date(), receipt.id)
        body = acrf.document(receipt.name, receipt.reference, receipt.errors, now)
        self.out.deliver(receipt.institution, name, body, receipt.id)
        with self.db.engine.begin() as conn:
            conn.execute(update(batch_file).where(batch_file.c.id == receipt.id)
                         .values(acknowledged_at=naive_utc(now)))
            spool = conn.execute(select(batch_file.c.spool).where(
                batch_file.c.id == receipt.id)).scalar()
        self.out.results_done(receipt.id)
        if receipt.errors:  # nothing of a refused file is kept
            shutil.rmtree(spool, ignore_errors=True)

    def unfinished(self, older_than):
        """Receipts a worker left half-done (it stopped between the GO and the ACRF):
        [(receipt, spool, logged)] of the files received before `older_than` whose ACRF
        was not delivered; `logged`: their exchange-log row is already committed."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(batch_file).where(
                batch_file.c.acknowledged_at.is_(None),
                batch_file.c.state.in_((RECEIVED, ACCEPTED, REJECTED)),
                batch_file.c.received_at < naive_utc(older_than))
                .order_by(batch_file.c.id).limit(50)).mappings().all()
            tickets = set(conn.execute(select(exchange_log.c.ticket).where(
                exchange_log.c.ticket.in_(["KSZ%010d" % r["id"] for r in rows]))).scalars())
        out = []
        for row in rows:
            receipt = Receipt(row["institution"], names.parse(row["name"]),
                              row["received_at"].replace(tzinfo=datetime.timezone.utc),
                              row["id"], (row["errors"] or "").split())
            out.append((receipt, Path(row["spool"]), row["state"] == RECEIVED,
                        receipt.reference in tickets))
        return out

    def recover(self, older_than):
        """Finish what a stopped worker left: examine the files of a GO it recorded, log
        the verdict it did not log, deliver the ACRF it did not deliver. Deferred."""
        def redo(unfinished):
            chain = defer.succeed(None)
            for receipt, spool, examine, logged in unfinished:
                chain.addCallback(lambda _, r=receipt, s=spool, e=examine, g=logged:
                                  self._redo(r, s, e, g))
            return chain

        return threads.deferToThread(self.unfinished, older_than).addCallback(redo)

    def _redo(self, receipt, spool, examine, logged):
        d = threads.deferToThread(self._examine, receipt, spool) if examine \
            else defer.succeed(receipt)
        if logged:
            return d.addCallback(lambda r: threads.deferToThread(self.acknowledge, r))
        return d.addCallback(self._answer)

    def cancel(self, institution, name):
        """TD: a file accepted and not yet started is cancelled (its spool removed); files
        waiting in IN for their GO are removed. The exchange-log row of the TD."""
        received = self.clock()
        inbox = self.inbox(institution)
        removed = 0
        for entry in _files_of(inbox, name):
            os.unlink(inbox / entry)
            removed += 1
        with self.db.engine.begin() as conn:
            row = conn.execute(select(batch_file.c.id, batch_file.c.spool).where(
                batch_file.c.institution == institution,
                batch_file.c.name == str(name.whole.as_("GO")),
                batch_file.c.state == ACCEPTED)).first()
            if row is not None:
                conn.execute(update(batch_file).where(batch_file.c.id == row.id,
                                                      batch_file.c.state == ACCEPTED)
                             .values(state=CANCELLED))
        if row is not None:
            shutil.rmtree(row.spool, ignore_errors=True)
        what = ("file KSZ%010d cancelled" % row.id if row is not None
                else "%d waiting file(s) removed from IN" % (removed - 1))
        return Exchange(ticket=uuid.uuid4().hex[:32], received_at=received, service=SERVICE,
                        request_size=0, caller=institution,
                        institution=self.registry.institutions.get(institution),
                        auth_method="ssh-key", operation=name.type, replied_at=self.clock(),
                        reason_code="TD", detail="%s: %s" % (name, what))


def _files_of(inbox, name):
    """The names in `inbox` of the file `name` (whichever prefix and part)."""
    for entry in os.listdir(inbox):
        try:
            found = names.parse(entry)
        except names.BadName:
            continue
        if found.whole.as_("GO") == name.whole.as_("GO"):
            yield entry


def _complete(parts):
    """One FI in one piece, or parts 1..N of the same N, each once."""
    if len(parts) == 1 and parts[0].parts == 0:
        return True
    counts = {p.parts for p in parts}
    return (len(counts) == 1 and 0 not in counts
            and [p.part for p in parts] == list(range(1, counts.pop() + 1)))


def _bytes(folder):
    """The bytes of the files of a folder (0 once it is gone)."""
    try:
        return sum(e.stat().st_size for e in os.scandir(folder) if e.is_file())
    except FileNotFoundError:
        return 0


def _chunks(paths, size=1 << 16):
    """The bytes of the parts, in order, in blocks of `size` whatever the parts' own sizes
    (the parser looks at its first block for the XML declaration: a part of 30 bytes must
    not cut it)."""
    pending = b""
    for path in paths:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(size), b""):
                pending += chunk
                while len(pending) >= size:
                    yield pending[:size]
                    pending = pending[size:]
    if pending:
        yield pending


def stored(db, institution=None, limit=20):
    """The files submitted (by `institution`), newest first (kszws batch status)."""
    q = select(batch_file).order_by(batch_file.c.id.desc()).limit(limit)
    if institution:
        q = q.where(batch_file.c.institution == institution)
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
