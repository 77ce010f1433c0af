"""The institution's side of the batch channel (`kszws batch submit`): name a file in the
grammar, sign it (FS), upload it over SFTP with its FS, trigger it (GO), then wait for the
hub's ACRF and, once the records are processed, its result file and NOTI; every answer's
FS is checked against the hub's certificate. An SFTP client of its own (paramiko), as any
institution would use one: it knows the hub only by its host key (certs/kszws-hub.ssh.pub,
pinned) and its port."""
import base64
import datetime
import io
import time
from dataclasses import dataclass, field
from pathlib import Path


from kszws.batch import acrf, names, signature
from kszws.batch.dropbox import IN
from kszws.batch.outbox import folder_for
from kszws.batch.processing import CODES, RESULT_NS

POLL_SECONDS = 0.5


class SubmitError(Exception):
    """A problem the user can fix: one line, no traceback; `kszws batch submit` exits
    with its code (2: the hub refused what was sent)."""
    exit_code = 2


class Unreachable(SubmitError):
    """The drop box cannot be reached or refuses the login (exit 3, as `kszws call`)."""
    exit_code = 3


class NoAnswer(SubmitError):
    """An answer did not come in time: the file may still be processed (exit 4)."""
    exit_code = 4


@dataclass
class Outcome:
    name: names.FileName  # the FI's (whole) name
    errors: list = field(default_factory=list)  # the ACRF's ErrorIDs
    counts: dict = field(default_factory=dict)  # the NOTI's {code: records}
    files: list = field(default_factory=list)  # what was downloaded

    @property
    def refused(self):
        return bool(self.errors)


class Session:
    """An SFTP session with the hub's drop box as `institution`."""

    def __init__(self, host, port, institution, private_key, host_key):
        import paramiko

        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        kind, data = Path(host_key).read_text().split()[:2]
        pinned = paramiko.PKey.from_type_string(kind, base64.b64decode(data))
        self.client.get_host_keys().add("[%s]:%d" % (host, port), kind, pinned)
        try:
            self.client.connect(host, port, username=institution,
                                key_filename=str(private_key), look_for_keys=False,
                                allow_agent=False, timeout=15)
        except (OSError, paramiko.SSHException) as exc:
            raise Unreachable("cannot log in to the drop box at %s:%d as %s: %s (is the "
                              "hub running? kszws demo)" % (host, port, institution, exc)
                              ) from None
        self.sftp = self.client.open_sftp()

    def put(self, source, size, name, progress=None):
        """Uploads `size` bytes read from the file object `source` into IN as `name`."""
        import paramiko

        try:
            self.sftp.putfo(source, "/%s/%s" % (IN, name), file_size=size,
                            callback=progress, confirm=False)
        except (OSError, paramiko.SSHException) as exc:
            raise SubmitError("the drop box refused %s: %s" % (name, exc)) from None

    def put_bytes(self, data, name):
        """Uploads a small file (an FS, a GO) into IN as `name`."""
        self.put(io.BytesIO(data), len(data), name)

    def listdir(self, folder):
        return self.sftp.listdir("/" + folder)

    def get(self, folder, name):
        """A small file (an ACRF, a NOTI, a signature) in memory."""
        with self.sftp.open("/%s/%s" % (folder, name), "rb") as fh:
            return fh.read()

    def fetch(self, folder, name, path):
        """A file of any size written to `path`, streaming: its SHA-256."""
        digest = _Digest()
        with self.sftp.open("/%s/%s" % (folder, name), "rb") as fh, open(path, "wb") as out:
            fh.prefetch(max_concurrent_requests=64)  # 2 MB in flight, as OpenSSH's sftp
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        return digest.finalize()

    def close(self):
        self.client.close()


def next_seq(now):
    """A sequence number for today: the second of the day (five digits), unless given."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return "%05d" % int((now - midnight).total_seconds())


def upload(session, source, name, parts, signing_key, progress=None):
    """The FI read from the seekable file object `source` (in `parts` pieces), each with
    its FS, then the GO; never the whole file in memory."""
    size = source.seek(0, io.SEEK_END)
    for number in range(1, parts + 1):
        start, end = (number - 1) * size // parts, number * size // parts
        fi = name if parts == 1 else name.as_("FI", parts=parts, part=number)
        source.seek(start)
        digest = _Digest()
        for block in _blocks(source, end - start):
            digest.update(block)
        source.seek(start)
        session.put(_Slice(source, end - start), end - start, str(fi),
                    progress and (lambda done, _, b=start: progress(b + done)))
        session.put_bytes(signature.sign(signing_key, digest.finalize()), str(fi.as_("FS")))
    session.put_bytes(b"", str(name.as_("GO")))


class _Slice(io.RawIOBase):
    """The next `size` bytes of a file object, as a file object (paramiko reads it)."""

    def __init__(self, source, size):
        self.source, self.left = source, size

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        block = self.source.read(n)
        self.left -= len(block)
        return block


def _blocks(source, size, block=1 << 20):
    while size > 0:
        data = source.read(min(block, size))
        if not data:
            return
        size -= len(data)
        yield data


def wait_for(session, folder, kind, matches, seen, timeout, on_wait=None):
    """The first FO.{kind} of `folder` (its GO there, not in `seen`) for which
    `matches(fo)` gives an answer (not None): (FO name, that answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in sorted(session.listdir(folder)):
            if not entry.startswith("GO.%s." % kind):
                continue
            fo = "FO." + entry[3:]
            if fo in seen:
                continue
            seen.add(fo)
            answer = matches(fo)
            if answer is not None:
                return fo, answer
        if on_wait:
            on_wait()
        time.sleep(POLL_SECONDS)
    raise NoAnswer("no FO.%s in /%s within %d s (the file's state: kszws batch status)"
                   % (kind, folder, timeout))


def verify(session, folder, fo, digest, hub_certificate):
    """The answer's FS is the hub's signature of the answer's SHA-256 `digest`."""
    fs = session.get(folder, "FS." + fo[3:])
    try:
        signature.verify(fs, digest, [hub_certificate])
    except signature.BadSignature as exc:
        raise SubmitError("%s: %s" % (fo, exc)) from None


class _Digest:
    """SHA-256, fed block by block."""

    def __init__(self):
        from cryptography.hazmat.primitives import hashes

        self.hash = hashes.Hash(hashes.SHA256())

    def update(self, data):
        self.hash.update(data)

    def finalize(self):
        return self.hash.finalize()


def _sha256(data):
    digest = _Digest()
    digest.update(data)
    return digest.finalize()


def _xml(body):
    from kszws.wire import xmlparse

    return xmlparse.parse(body)


def _named_file(path):
    """The FileName a result file's header names, read from its start only."""
    from kszws.wire import xmlparse

    from kszws.wire.reasons import Refusal

    with open(path, "rb") as fh:
        try:
            header = next(xmlparse.stream(iter(lambda: fh.read(1 << 16), b""),
                                          "{%s}Header" % RESULT_NS), None)
        except Refusal:  # not a result file: not the answer waited for
            return None
    return header.findtext("{%s}FileName" % RESULT_NS) if header is not None else None


def submit(session, source, name, parts, signing_key, hub_certificate, out_dir, wait=True,
           timeout=3600, progress=None, on_wait=None):
    """Submit the file `source` (a path, bytes or a seekable binary file object) as the
    file `name`; wait for its answers (all of them with `wait`): the Outcome, the answers
    written to `out_dir` (a result file of any size streamed there, never in memory)."""
    folder = folder_for(name.env)
    seen = {fo for fo in ("FO." + e[3:] for e in session.listdir(folder)
                          if e.startswith("GO."))}  # answers to earlier files
    with _opened(source) as fh:
        try:
            upload(session, fh, name, parts, signing_key, progress)
        except SubmitError:
            _cancel(session, name)
            raise
    outcome = Outcome(name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    go = str(name.as_("GO"))

    def small(fo, wanted):
        body = session.get(folder, fo)
        root = _xml(body)
        return (body, root) if wanted(root) else None

    fo, (data, root) = wait_for(session, folder, "ACRF", lambda fo: small(
        fo, lambda r: r.findtext("Form/FileReference/FileName") == go), seen, 60, on_wait)
    verify(session, folder, fo, _sha256(data), hub_certificate)
    outcome.files.append(_save(out, fo, data))
    outcome.errors = [e.text for e in root.iter("ErrorID")]
    if outcome.refused or not wait:
        return outcome

    # the NOTI (small) names the result file, delivered before it: only ours is fetched
    ns = "{%s}" % RESULT_NS
    noti_fo, (data, noti) = wait_for(session, folder, "NOTI", lambda fo: small(
        fo, lambda r: r.findtext(ns + "FileName") == str(name)), seen, timeout, on_wait)
    verify(session, folder, noti_fo, _sha256(data), hub_certificate)
    fo = _result_file(noti.findtext(ns + "ResultFile"), name.type)
    if fo is None:
        raise SubmitError("%s names no result file of type %s" % (noti_fo, name.type))
    verify(session, folder, fo, session.fetch(folder, fo, out / fo), hub_certificate)
    if _named_file(out / fo) != str(name):
        raise SubmitError("%s does not answer %s" % (fo, name))
    outcome.files += [out / fo, _save(out, noti_fo, data)]
    outcome.counts = {c.get("code"): int(c.text) for c in noti.iter(ns + "Count")}
    return outcome


def _result_file(text, type_):
    """The result file a NOTI names, when it is an FO of the type in the grammar."""
    try:
        found = names.parse(text or "")
    except names.BadName:
        return None
    return text if found.prefix == "FO" and found.type == type_ else None


def _cancel(session, name):
    """A TD for a file whose upload failed half-way: what it left in IN is removed (the
    sender cannot delete there). Best effort: the refusal is what the user reads."""
    try:
        session.put_bytes(b"", str(name.as_("TD")))
    except SubmitError:
        pass


def _opened(source):
    """A context manager giving a seekable binary file object of `source`."""
    import contextlib

    if isinstance(source, (bytes, bytearray)):
        return contextlib.nullcontext(io.BytesIO(source))
    if isinstance(source, (str, Path)):
        return open(source, "rb")
    return contextlib.nullcontext(source)


def _save(out, name, data):
    path = out / name
    path.write_bytes(data)
    return path


def describe(outcome):
    """What the user reads: the verdict, then the counts per code with their meaning."""
    if outcome.refused:
        return ["%s refused (ACRF):" % outcome.name] + [
            "  %s %s" % (e, acrf.ERRORS.get(e, "")) for e in outcome.errors]
    lines = ["%s accepted (ACRF)" % outcome.name]
    for code, count in sorted(outcome.counts.items()):
        lines.append("  %7d  %-8s %s" % (count, code, CODES.get(code, "")))
    return lines + ["  answers: %s" % ", ".join(str(p) for p in outcome.files)]


def today():
    return datetime.datetime.now()
