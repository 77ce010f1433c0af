"""What the hub puts in an institution's OUT (production) or OUTTEST (test environments)
folder: each answer as the triple FO (the body), FS (its signature by the hub's key) and
GO (empty, written last: a client that sees the GO finds the other two complete), each
file recorded in batch_outfile with the time the institution fetched it (the drop box
lets it delete only what it fetched). Runs in threads, never in the reactor."""
import os
import shutil

from sqlalchemy import delete, select, update

from kszws.batch import names, signature
from kszws.batch.dropbox import OUT, OUTTEST, folders_of
from kszws.clock import naive_utc
from kszws.store.schema import batch_outfile as t


def folder_for(env):
    return OUT if env == "R" else OUTTEST


def hub_name(kind, env, day, batch_file_id, prefix="FO"):
    """The name of a file the hub sends: its sender number is 999999; the sequence is the
    file's number in the store, so every answer to one file shares it (their types
    differ)."""
    return names.FileName(prefix, kind, names.HUB_SENDER, day, sequence(batch_file_id), env)


def sequence(number):
    """SEQ5 of the hub's `number`-th file: 00001-99999, then, as the grammar allows once
    the digits run out, a letter and four base-36 digits (A0000 ... Z ZZZZ: 43 million
    more), so that no answer ever takes an older one's name."""
    if number < 100000:
        return "%05d" % number
    rest, letters = number - 100000, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    lead, rest = divmod(rest, 36 ** 4)
    if lead >= 26:
        raise ValueError("no sequence number left for file %d" % number)
    tail = ""
    for _ in range(4):
        rest, digit = divmod(rest, 36)
        tail = letters[digit] + tail
    return chr(ord("A") + lead) + tail


class Outbox:
    def __init__(self, db, root, identity, clock):
        self.db, self.root, self.identity, self.clock = db, str(root), identity, clock

    def results_done(self, batch_file_id):
        shutil.rmtree(os.path.join(self.root, "results", str(batch_file_id)), ignore_errors=True)

    def spool_path(self, batch_file_id, name):
        """Where the hub writes a large answer before delivering it (deliver_file)."""
        folder = os.path.join(self.root, "results", str(batch_file_id))
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, ".%s.part" % name)

    def deliver(self, institution, name, body, batch_file_id=None):
        """Deliver `body` (bytes) as the FO `name`."""
        path = self.spool_path(batch_file_id or 0, name)
        with open(path, "wb") as fh:
            fh.write(body)
        return self.deliver_file(institution, name, path, batch_file_id)

    def deliver_file(self, institution, name, path, batch_file_id=None):
        """Deliver the file at `path` (moved, not copied) as the FO `name`, with its FS
        and GO. Delivering the same name again (a job resumed after a crash) replaces the
        files and keeps one record of each."""
        folder, written = self.place(institution, name, path)
        with self.db.engine.begin() as conn:
            self.record(conn, institution, folder, written, batch_file_id)
        return folder, written

    def place(self, institution, name, path, go=True):
        """The files of a delivery in the institution's folder (FO moved from `path`, its
        FS, then the GO unless `go` is false: see give_go), not yet recorded: (folder,
        the three names). Placing the same name again replaces them."""
        folder = folder_for(name.env)
        target = os.path.join(folders_of(self.root, institution), folder)
        fs = signature.sign(self.identity.private, signature.digest_file(path))
        _sync(path)
        os.replace(path, os.path.join(target, str(name)))
        _write_atomically(os.path.join(target, str(name.as_("FS"))), fs)
        if go:
            self.give_go(institution, name)
        return folder, [str(name), str(name.as_("FS")), str(name.as_("GO"))]

    def give_go(self, institution, name):
        """The GO of a placed FO: the institution may take it now."""
        target = os.path.join(folders_of(self.root, institution), folder_for(name.env))
        _write_atomically(os.path.join(target, str(name.as_("GO"))), b"")

    def record(self, conn, institution, folder, written, batch_file_id=None):
        """Record placed files in the caller's transaction; one recorded before is kept."""
        known = set(conn.execute(select(t.c.name).where(
            t.c.institution == institution, t.c.folder == folder,
            t.c.name.in_(written))).scalars())
        now = naive_utc(self.clock())
        rows = [dict(institution=institution, folder=folder, name=n,
                     batch_file_id=batch_file_id, created_at=now)
                for n in written if n not in known]
        if rows:
            conn.execute(t.insert(), rows)

    def fetch(self, institution, folder, name):
        """The institution downloaded the file: mark it fetched."""
        with self.db.engine.begin() as conn:
            conn.execute(update(t).where(t.c.institution == institution, t.c.folder == folder,
                                         t.c.name == name, t.c.fetched_at.is_(None))
                         .values(fetched_at=naive_utc(self.clock())))

    def fetched(self, institution, folder, name):
        with self.db.engine.connect() as conn:
            return conn.execute(select(t.c.fetched_at).where(
                t.c.institution == institution, t.c.folder == folder, t.c.name == name)
            ).scalar() is not None

    def removed(self, institution, folder, name):
        with self.db.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.institution == institution, t.c.folder == folder,
                                         t.c.name == name))


def _sync(path):
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _write_atomically(path, data):
    """Write under a hidden name (the drop box lists no dot-file), then rename: the
    institution sees the whole file or nothing."""
    directory, base = os.path.split(path)
    partial = os.path.join(directory, ".%s.part" % base)
    with open(partial, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)
