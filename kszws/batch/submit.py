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
    """A problem the user can fix: one line, no traceback."""


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
            raise SubmitError("cannot log in to the drop box at %s:%d as %s: %s"
                              % (host, port, institution, exc)) from None
        self.sftp = self.client.open_sftp()

    def put(self, data, name, progress=None):
        self.sftp.putfo(io.BytesIO(data), "/%s/%s" % (IN, name), file_size=len(data),
                        callback=progress, confirm=False)

    def listdir(self, folder):
        return self.sftp.listdir("/" + folder)

    def get(self, folder, name):
        with self.sftp.open("/%s/%s" % (folder, name), "rb") as fh:
            return fh.read()

    def close(self):
        self.client.close()


def next_seq(now):
    """A sequence number for today: the second of the day (five digits), unless given."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return "%05d" % int((now - midnight).total_seconds())


def upload(session, body, name, parts, signing_key, progress=None):
    """The FI (in `parts` pieces), each with its FS, then the GO."""
    size = len(body)
    pieces = [body] if parts == 1 else [body[i * size // parts:(i + 1) * size // parts]
                                        for i in range(parts)]
    sent = 0
    for number, piece in enumerate(pieces, 1):
        fi = name if parts == 1 else name.as_("FI", parts=parts, part=number)
        base = sent
        session.put(piece, str(fi), progress and (lambda done, _, b=base: progress(b + done)))
        sent += len(piece)
        digest = signature.sign(signing_key, _sha256(piece))
        session.put(digest, str(fi.as_("FS")))
    session.put(b"", str(name.as_("GO")))


def wait_for(session, folder, kind, matches, seen, timeout, on_wait=None):
    """The first FO.{kind} of `folder` (its GO there, not in `seen`) whose body `matches`:
    (FO name, body bytes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in sorted(session.listdir(folder)):
            if not entry.startswith("GO.%s." % kind):
                continue
            fo = "FO." + entry[3:]
            if fo in seen:
                continue
            seen.add(fo)
            body = session.get(folder, fo)
            if matches(body):
                return fo, body
        if on_wait:
            on_wait()
        time.sleep(POLL_SECONDS)
    raise SubmitError("no FO.%s in /%s within %d s (the file's state: kszws batch status)"
                      % (kind, folder, timeout))


def verified(session, folder, fo, body, hub_certificate):
    """The answer's FS is the hub's signature of it."""
    fs = session.get(folder, "FS." + fo[3:])
    try:
        signature.verify(fs, _sha256(body), [hub_certificate])
    except signature.BadSignature as exc:
        raise SubmitError("%s: %s" % (fo, exc)) from None
    return body


def _sha256(data):
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


def _xml(body):
    from kszws.wire import xmlparse

    return xmlparse.parse(body)


def submit(session, body, name, parts, signing_key, hub_certificate, out_dir, wait=True,
           timeout=3600, progress=None, on_wait=None):
    """Submit `body` as the file `name`; wait for its answers (all of them with `wait`):
    the Outcome, the answers written to `out_dir`."""
    folder = folder_for(name.env)
    seen = {fo for fo in ("FO." + e[3:] for e in session.listdir(folder)
                          if e.startswith("GO."))}  # answers to earlier files
    upload(session, body, name, parts, signing_key, progress)
    outcome = Outcome(name)
    go = str(name.as_("GO"))
    fo, data = wait_for(session, folder, "ACRF", lambda b: _xml(b).findtext(
        "Form/FileReference/FileName") == go, seen, 60, on_wait)
    verified(session, folder, fo, data, hub_certificate)
    outcome.files.append(_save(out_dir, fo, data))
    outcome.errors = [e.text for e in _xml(data).iter("ErrorID")]
    if outcome.refused or not wait:
        return outcome
    ns = "{%s}" % RESULT_NS
    ours = (lambda b: _xml(b).findtext(".//%sFileName" % ns) == str(name))
    for kind in (name.type, "NOTI"):
        fo, data = wait_for(session, folder, kind, ours, seen, timeout, on_wait)
        verified(session, folder, fo, data, hub_certificate)
        outcome.files.append(_save(out_dir, fo, data))
    noti = _xml(data)
    outcome.counts = {c.get("code"): int(c.text) for c in noti.iter(ns + "Count")}
    return outcome


def _save(out_dir, name, data):
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / name
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
