"""FO.MUTA: the mutations of an institution that receives them by batch (institutions.toml,
mutations = "batch"), as one file a day in the OUT folder of its drop box instead of items
in its online mailbox.

The file is built FROM the mailbox: the fan-out writes the items as for everyone
(hub/fanout.py), the online mailbox does not show an institution on batch its mutation
items (mailbox.online_kinds), and once the hub's local day is over (conf/batch.toml
[mutations] cutoff, by default midnight in Brussels) one worker writes every item of the
institution made before the cut-off and not yet delivered into
FO.MUTA.999999.{day}.{SEQ5}.R (+ FS signed by the hub, + GO).

Nothing lost, nothing twice, whatever stops when:
  1. claim: the (institution, day) row of batch_muta, unique, taken by one worker (another
     takes it over once its lease has run out); its id is the file's SEQ5, so a redo
     writes the same name;
  2. write: the items not yet delivered made before the cut-off, to the spool;
  3. place: FO and FS in OUT, no GO yet (a redo replaces them with the same content: the
     items are not marked yet and none is made before a cut-off that is past);
  4. commit, in ONE transaction: the files recorded (batch_outfile), exactly the items
     written marked delivered (acknowledged), the day `recorded`;
  5. the GO, then the day `done`.
A worker that stops before 4 leaves the items unmarked and the day running: the next
claim redoes 2-5 under the same name; the institution has seen no GO. One that stops
between 4 and 5 leaves the day `recorded`: any worker writes the GO. An item made late (a
fan-out that began before the cut-off and committed after the write) is not marked, so
the next day's file carries it.
"""
import datetime

from lxml import etree
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from twisted.internet import task, threads
from twisted.logger import Logger

from kszws import mailbox
from kszws.batch import names, outbox
from kszws.batch.processing import RESULT_NS
from kszws.clock import BRUSSELS, local_date, naive_utc
from kszws.store.schema import batch_muta, mailbox_item

log = Logger()

TYPE = "MUTA"
PAGE = 1000  # items read from the mailbox at a time


def r(local):
    return "{%s}%s" % (RESULT_NS, local)


def day_end(day, cutoff):
    """The aware moment the hub's local day `day` closes: `cutoff` (a datetime.time, local)
    on that day, or, for midnight, the start of the next."""
    if cutoff == datetime.time():
        return datetime.datetime.combine(day + datetime.timedelta(days=1), cutoff, BRUSSELS)
    return datetime.datetime.combine(day, cutoff, BRUSSELS)


def last_closed_day(now, cutoff):
    """The latest local day whose cut-off has passed at `now` (aware)."""
    today = local_date(now)
    return today if now >= day_end(today, cutoff) else today - datetime.timedelta(days=1)


class MutationFiles:
    """The daily FO.MUTA files of every institution on batch (a worker's loop)."""

    def __init__(self, db, registry, out, clock, reactor, worker_id, cutoff,
                 lease_seconds=60):
        self.db, self.out, self.clock, self.reactor = db, out, clock, reactor
        self.worker_id, self.cutoff = worker_id, cutoff
        self.lease = datetime.timedelta(seconds=lease_seconds)
        self.institutions = sorted(i.id for i in registry.institutions.values()
                                   if i.mutations == "batch")
        self.loop = None
        self.busy = False

    def start(self, interval=60.0):
        if not self.institutions:
            return
        self.loop = task.LoopingCall(self.poll)
        self.loop.clock = self.reactor
        self.loop.start(interval, now=True)

    def stop(self):
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def poll(self):
        if self.busy:
            return None
        self.busy = True
        d = threads.deferToThread(self.run)
        d.addErrback(lambda f: log.failure("FO.MUTA", f))

        def idle(result):
            self.busy = False
            return result
        return d.addBoth(idle)

    # -- in a thread ----------------------------------------------------------------------

    def run(self):
        """Write the file of the last closed day of every institution on batch that lacks
        it; returns the names written."""
        day = last_closed_day(self.clock(), self.cutoff)
        written = []
        for institution in self.institutions:
            name = self.deliver(institution, day)
            if name is not None:
                written.append(name)
        return written

    def deliver(self, institution, day):
        """The day's file of `institution` (steps 1-5): its name, or None when it is
        done or another worker is writing it."""
        row = self.claim(institution, day)
        if row is None:
            return None
        name = names.FileName("FO", TYPE, names.HUB_SENDER, day, outbox.sequence(row["id"]),
                              "R")
        if row["state"] == "running":
            spool = "muta-%d" % row["id"]
            path = self.out.spool_path(spool, str(name))
            ids = self.write(path, institution, row, name)
            folder, placed = self.out.place(institution, name, path, go=False)
            self.placed(row, name)
            self.commit(row, institution, folder, placed, ids)
            self.out.results_done(spool)
        self.out.give_go(institution, name)
        with self.db.engine.begin() as conn:
            conn.execute(update(batch_muta).where(batch_muta.c.id == row["id"])
                         .values(state="done", lease_until=None))
        return str(name)

    def placed(self, row, name):
        """Between placing the files and recording them (tests stop a worker here)."""

    def claim(self, institution, day):
        """The day's row of `institution`: new and ours, running with its lease run out
        (now ours), or recorded (its GO to write: anyone may); None when done or held by
        another worker."""
        now = naive_utc(self.clock())
        row = self._row(institution, day)
        if row is None:
            try:
                with self.db.engine.begin() as conn:
                    conn.execute(batch_muta.insert().values(
                        institution=institution, day=day,
                        cutoff=naive_utc(day_end(day, self.cutoff)), state="running",
                        owner=self.worker_id, lease_until=now + self.lease, created_at=now))
            except IntegrityError:  # another worker inserted it first
                return None
            return self._row(institution, day)
        if row["state"] == "recorded":
            return row
        if row["state"] != "running" or row["lease_until"] >= now:
            return None
        with self.db.engine.begin() as conn:
            taken = conn.execute(update(batch_muta).where(
                batch_muta.c.id == row["id"], batch_muta.c.state == "running",
                batch_muta.c.lease_until == row["lease_until"])
                .values(owner=self.worker_id, lease_until=now + self.lease))
        return self._row(institution, day) if taken.rowcount == 1 else None

    def _row(self, institution, day):
        with self.db.engine.connect() as conn:
            row = conn.execute(select(batch_muta).where(
                batch_muta.c.institution == institution, batch_muta.c.day == day)
            ).mappings().first()
        return dict(row) if row is not None else None

    def write(self, path, institution, row, name):
        """The file: every undelivered mutation item of `institution` made before the
        cut-off, oldest first. Returns their ids."""
        cutoff = row["cutoff"].replace(tzinfo=datetime.timezone.utc)
        with self.db.engine.connect() as conn:
            ids = list(conn.execute(select(mailbox_item.c.id).where(
                mailbox_item.c.institution == institution,
                mailbox_item.c.kind == mailbox.MUTATION, mailbox_item.c.acked_at.is_(None),
                mailbox_item.c.created_at < naive_utc(cutoff))
                .order_by(mailbox_item.c.id)).scalars())
        with etree.xmlfile(path, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(r("Mutations"), nsmap={"r": RESULT_NS}):
                header = etree.Element(r("Header"))
                for tag, value in (("Type", TYPE), ("FileName", str(name)),
                                   ("Institution", institution),
                                   ("Day", row["day"].isoformat()),
                                   ("CutOff", cutoff.isoformat(timespec="seconds")),
                                   ("RecordCount", len(ids))):
                    etree.SubElement(header, r(tag)).text = str(value)
                xf.write(header)
                for start in range(0, len(ids), PAGE):
                    with self.db.engine.connect() as conn:
                        page = mailbox.items(conn, institution, kinds=[mailbox.MUTATION],
                                             limit=PAGE, unacknowledged=False,
                                             ids=ids[start:start + PAGE])
                    for item in page:
                        xf.write(mutation(item))
        return ids

    def commit(self, row, institution, folder, placed, ids):
        """The files recorded, the items marked delivered, the day done: one transaction.
        A worker that lost its claim meanwhile (its lease ran out and another finished the
        day) changes nothing: the other's identical file stands."""
        now = naive_utc(self.clock())
        with self.db.engine.begin() as conn:
            done = conn.execute(update(batch_muta).where(
                batch_muta.c.id == row["id"], batch_muta.c.state == "running",
                batch_muta.c.owner == self.worker_id)
                .values(state="recorded", items=len(ids), done_at=now))
            if done.rowcount != 1:
                raise LostClaim("%s %s: another worker finished the day" % (
                    institution, row["day"]))
            self.out.record(conn, institution, folder, placed)
            for start in range(0, len(ids), PAGE):
                conn.execute(update(mailbox_item).where(
                    mailbox_item.c.id.in_(ids[start:start + PAGE]),
                    mailbox_item.c.acked_at.is_(None)).values(acked_at=now))


class LostClaim(Exception):
    pass


def mutation(item):
    """A mailbox item in the file: what fetchItems says of it online."""
    elt = etree.Element(r("Mutation"))
    for tag, value in (("Id", item.id), ("Kind", item.type), ("Ssin", item.ssin),
                       ("EventDate", str(item.event_date)[:10] if item.event_date else None),
                       ("MadeAt", item.created_at.replace(tzinfo=datetime.timezone.utc)
                        .isoformat(timespec="seconds"))):
        if value is not None:
            etree.SubElement(elt, r(tag)).text = str(value)
    for key, value in sorted(item.data.items()):
        field = etree.SubElement(elt, r("Field"), name=str(key))
        if value is not None:
            field.text = str(value)
    return elt
