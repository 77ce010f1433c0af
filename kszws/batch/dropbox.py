"""The SFTP drop box (Twisted Conch): each institution logs in with an SSH key registered
for it in conf/batch.toml (no passwords, no shell, no port forwarding) and sees its own
three folders and nothing else:

    /IN        it writes its FI, FS, GO and TD files here (names in the grammar only)
    /OUT       the hub's answers in production (ACRF, results, NOTI)
    /OUTTEST   the same for the test environments (T, S)

It may write only new files into IN, read only from OUT and OUTTEST, and delete only a
file of OUT or OUTTEST it has fetched. No directories are made, nothing is renamed, no
link is made or followed, and a path with `..` is refused, not normalised. The closing of
a GO or TD file hands the name to `on_trigger(institution, name)` (batch/intake.py).

The folders live under `<root>/<institution>/`; what the hub answers is recorded in the
store (batch_outfile) with the time it was fetched.
"""
import logging
import contextlib
import os
import stat
import struct

from twisted.conch import avatar, interfaces
from twisted.conch.checkers import InMemorySSHKeyDB, SSHPublicKeyChecker
from twisted.conch.ssh import factory, filetransfer, keys, session, userauth
from twisted.cred import portal
from twisted.internet import threads
from twisted.protocols import policies
from twisted.python import components
from zope.interface import implementer

from kszws.batch import names

IN, OUT, OUTTEST = "IN", "OUT", "OUTTEST"
FOLDERS = (IN, OUT, OUTTEST)
UPLOADS = ("FI", "FS", "GO", "TD")
MAX_NAME = 64
MAX_PACKET = 256 * 1024  # an SFTP packet: clients write 32-64 KiB at a time
MAX_CONNECTIONS = 200  # per worker
MAX_PER_PEER = 20
MAX_OPEN_UPLOADS = 16  # files an institution writes at once, per worker
RECHECK_BYTES = 4 << 20  # an upload looks at the quota again after each 4 MiB (at most)
TRIGGERS = ("GO", "TD")  # empty files that start or cancel: never refused for room
TRIGGER_BYTES = 4096  # what a GO or TD may hold (a non-empty GO gets ACRF-060)
MAX_BUFFERED = 4 << 20  # a session's answers waiting for the client's window, at most
IDLE_SECONDS = 600  # a connection with no traffic at all is closed
LOGIN_SECONDS = 30

log = logging.getLogger("kszws.batch")


def denied(message):
    # SFTP v3 clients (OpenSSH's) show only "Permission denied": the reason goes to the log
    log.warning("drop box: refused: %s", message)
    return filetransfer.SFTPError(filetransfer.FX_PERMISSION_DENIED, message)


def missing(message="no such file"):
    return filetransfer.SFTPError(filetransfer.FX_NO_SUCH_FILE, message)


def folders_of(root, institution):
    """The institution's folders on disk, made when missing."""
    home = os.path.join(root, institution)
    for folder in FOLDERS:
        os.makedirs(os.path.join(home, folder), mode=0o750, exist_ok=True)
    return home


class Path:
    """A path as the client gives it, resolved in the institution's view: ("", "") the
    root, (folder, "") a folder, (folder, name) a file in it. Anything else is refused."""

    def __init__(self, raw):
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            raise missing("not a UTF-8 path") from None
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if "\x00" in text or any(p == ".." for p in parts):
            raise denied("'..' is not allowed: paths are /IN, /OUT, /OUTTEST and their files")
        if len(parts) > 2 or (parts and parts[0] not in FOLDERS):
            raise missing("%s: no such file (folders: /IN, /OUT, /OUTTEST)" % text[:80])
        if len(parts) == 2 and (len(parts[1]) > MAX_NAME or parts[1].startswith(".")):
            raise missing("%s: no such file" % text[:80])
        self.folder = parts[0] if parts else ""
        self.name = parts[1] if len(parts) == 2 else ""

    @property
    def virtual(self):
        return "/" + "/".join(p for p in (self.folder, self.name) if p)


def _attrs(st):
    return {"size": st.st_size, "uid": 0, "gid": 0, "permissions": st.st_mode,
            "atime": int(st.st_atime), "mtime": int(st.st_mtime)}


def in_bytes(entries):
    """The bytes of the files of a folder listing (a file removed meanwhile: 0)."""
    total = 0
    for entry in entries:
        try:
            total += entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            pass
    return total


def _open_regular(path, flags, mode=0o640):
    """os.open that refuses symbolic links (O_NOFOLLOW) and anything but a regular file."""
    fd = os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise denied("not a regular file")
    return fd


class SftpSession(session.SSHSession):
    """A session channel that serves the sftp subsystem and refuses, quietly, what an
    SSH client may ask besides (environment variables, a terminal, a shell, a command,
    X11, agent forwarding)."""

    def request_env(self, data):
        return 0

    def request_pty_req(self, data):
        return 0

    def request_shell(self, data):
        return 0

    def request_exec(self, data):
        return 0

    def request_x11_req(self, data):
        return 0

    def request_window_change(self, data):
        return 0

    def request_auth_agent_req_openssh_com(self, data):
        return 0


class BoundedFileTransferServer(filetransfer.FileTransferServer):
    """The SFTP subsystem, its packets at most MAX_PACKET: Conch buffers a packet whole
    whatever length it announces (2 GB: the worker copies and recopies it, and HTTP on
    the same reactor waits). A longer one closes the session."""

    def dataReceived(self, data):
        pending, offset = self.buf + data, 0
        while len(pending) - offset >= 4:
            length = struct.unpack("!L", pending[offset:offset + 4])[0]
            if length > MAX_PACKET:
                log.warning("drop box: an SFTP packet of %d bytes: session closed", length)
                self.buf = b""
                self.transport.loseConnection()
                return
            if len(pending) - offset < 4 + length:
                break
            offset += 4 + length
        try:
            super().dataReceived(data)
        except Exception as exc:  # a malformed packet: Conch asserts; the session ends
            log.warning("drop box: a malformed SFTP packet (%s): session closed",
                        type(exc).__name__)
            self.buf = b""
            self.transport.loseConnection()

    def packet_READ(self, data):
        # Conch buffers in memory whatever the client's window cannot take yet, and
        # recopies that buffer as the window opens: a client asking for a whole file at
        # once (paramiko's prefetch) made a worker spend minutes copying hundreds of MB.
        # A read is answered once the buffer has drained below MAX_BUFFERED.
        channel = getattr(self.transport, "session", None)
        if channel is not None and len(channel.buf) > MAX_BUFFERED:
            if getattr(self, "connected", True):
                from twisted.internet import reactor  # (the worker's, once it runs)

                reactor.callLater(0.01, self.packet_READ, data)
            return
        super().packet_READ(data)

    def connectionLost(self, reason):
        # Conch leaves the files of a lost session open: their handles (and an upload's
        # place among the institution's files being written) are released here
        for opened in list(self.openFiles.values()):
            try:
                opened.abort()
            except OSError:
                pass
        self.openFiles.clear()
        super().connectionLost(reason)


class DropBoxUser(avatar.ConchUser):
    """A logged-in institution: an SFTP session, nothing else."""

    def __init__(self, institution, box):
        super().__init__()
        self.institution = institution
        self.box = box
        self.channelLookup[b"session"] = SftpSession
        self.subsystemLookup[b"sftp"] = BoundedFileTransferServer


@implementer(interfaces.ISFTPServer)
class DropBoxServer:
    """ISFTPServer on one institution's folders."""

    def __init__(self, user):
        self.institution = user.institution
        self.box = user.box
        self.home = folders_of(self.box.root, self.institution)

    def _real(self, path):
        return os.path.join(self.home, path.folder, path.name)

    def gotVersion(self, otherVersion, extData):
        return {}

    def realPath(self, path):
        return Path(path).virtual

    def getAttrs(self, path, followLinks):
        where = Path(path)
        try:
            st = os.lstat(self._real(where))  # links are never followed
        except FileNotFoundError:
            raise missing("%s: no such file" % where.virtual) from None
        if stat.S_ISLNK(st.st_mode):
            raise missing("%s: no such file" % where.virtual)
        return _attrs(st)

    def openDirectory(self, path):
        where = Path(path)
        if where.name:
            raise filetransfer.SFTPError(filetransfer.FX_FAILURE, "not a folder")
        if not where.folder:
            return Listing(self.home, list(FOLDERS))
        real = self._real(where)
        return Listing(real, sorted(n for n in os.listdir(real) if not n.startswith(".")))

    def openFile(self, filename, flags, attrs):
        where = Path(filename)
        if not where.name:
            raise denied("%s is a folder" % where.virtual)
        if flags & filetransfer.FXF_WRITE:
            return self._upload(where)
        if where.folder == IN:
            raise denied("files in /IN are the hub's to read; answers are in /OUT and /OUTTEST")
        try:
            fd = _open_regular(self._real(where), os.O_RDONLY)
        except (FileNotFoundError, OSError) as exc:
            if isinstance(exc, filetransfer.SFTPError):
                raise
            raise missing("%s: no such file" % where.virtual) from None
        return Download(self, where, fd)

    def _upload(self, where):
        if where.folder != IN:
            raise denied("files are written into /IN only")
        try:
            name = names.parse(where.name)
        except names.BadName as exc:
            raise denied("%s: %s" % (where.name, exc)) from None
        if name.prefix not in UPLOADS:
            raise denied("%s: an institution sends FI, FS, GO and TD files" % where.name)
        folder = os.path.join(self.home, IN)
        if name.prefix in TRIGGERS:
            # a GO or a TD always gets in: it is what empties IN (the sender cannot delete)
            limit = TRIGGER_BYTES
        else:
            if self.box.uploads_of(self.institution) >= MAX_OPEN_UPLOADS:
                raise denied("%d files are being written at once: close some first"
                             % MAX_OPEN_UPLOADS)
            waiting = list(os.scandir(folder))
            if len(waiting) >= self.box.max_pending:
                raise denied("/IN holds %d files waiting: send GO (or TD) for them first"
                             % self.box.max_pending)
            room = self.box.max_queued_bytes - in_bytes(waiting)
            if room <= 0:
                raise denied("/IN holds %d bytes waiting, the institution's quota: send GO "
                             "(or TD) for them first" % self.box.max_queued_bytes)
            limit = min(self.box.max_file_bytes, room)
        try:
            fd = _open_regular(os.path.join(folder, where.name),
                               os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:  # (SFTP v3, what clients speak, has no "already exists")
            raise denied("%s is already in /IN: a file is sent once" % where.name) from None
        return Upload(self, where, fd, name, limit, folder)

    def removeFile(self, filename):
        where = Path(filename)
        if where.folder not in (OUT, OUTTEST) or not where.name:
            raise denied("only files fetched from /OUT or /OUTTEST can be deleted")
        return threads.deferToThread(self._remove, where)

    def _remove(self, where):
        if not self.box.outbox.fetched(self.institution, where.folder, where.name):
            raise denied("%s has not been fetched yet" % where.virtual)
        try:
            os.unlink(self._real(where))
        except FileNotFoundError:
            raise missing("%s: no such file" % where.virtual) from None
        self.box.outbox.removed(self.institution, where.folder, where.name)

    def setAttrs(self, path, attrs):
        raise denied("attributes cannot be changed")

    def renameFile(self, oldpath, newpath):
        raise denied("files cannot be renamed: upload them under their final name")

    def makeDirectory(self, path, attrs):
        raise denied("folders cannot be made")

    def removeDirectory(self, path):
        raise denied("folders cannot be removed")

    def readLink(self, path):
        raise denied("there are no links")

    def makeLink(self, linkPath, targetPath):
        raise denied("links cannot be made")

    def extendedRequest(self, extName, extData):
        raise NotImplementedError("no extensions")


@implementer(interfaces.ISFTPFile)
class Upload:
    """A file being written into /IN: at most max_file_bytes, and what the institution's
    quota leaves (looked at again every RECHECK_BYTES written: files written at once share
    it); a GO or TD, once closed, triggers the hub. A file taken by a GO or removed by a TD
    while its handle is still open is written no further."""

    def __init__(self, server, where, fd, name, limit, folder):
        self.server, self.where, self.fd, self.name = server, where, fd, name
        self.limit, self.folder = limit, folder
        self.checked_at = 0  # the size up to which the quota was looked at
        # files written at once overshoot the quota by at most this each: their number is
        # bounded by MAX_OPEN_UPLOADS, so IN stays under twice the quota
        self.recheck = min(RECHECK_BYTES, max(1, server.box.max_queued_bytes // MAX_OPEN_UPLOADS))
        self.over = False  # it went beyond its limit: emptied now, removed when closed
        server.box.opened(server.institution, self)

    def writeChunk(self, offset, data):
        end = offset + len(data)
        if os.fstat(self.fd).st_nlink == 0:
            raise denied("%s was taken or cancelled: it is written no further" % self.name)
        if end > self.checked_at + self.recheck and self.name.prefix not in TRIGGERS:
            self._recheck(end)
        if self.over or end > self.limit:
            # the sender cannot delete from IN: a file cut short must not stay there
            self.over = True
            os.ftruncate(self.fd, 0)
            raise filetransfer.SFTPError(filetransfer.FX_FAILURE,
                                         "file larger than %d bytes (the largest file, or "
                                         "what is left of the quota)" % self.limit)
        os.pwrite(self.fd, data, offset)

    def _recheck(self, end):
        """The quota again, with what the other files of IN hold now."""
        others = in_bytes(e for e in os.scandir(self.folder) if e.name != self.where.name)
        self.limit = min(self.limit, self.server.box.max_queued_bytes - others)
        self.checked_at = end

    def readChunk(self, offset, length):
        raise denied("opened for writing")

    def getAttrs(self):
        return _attrs(os.fstat(self.fd))

    def setAttrs(self, attrs):
        return None  # clients that set times or modes after a put: ignored, not refused

    def abort(self):
        """The session ended with the file still open: its handle closed, nothing
        triggered (a file cut short stays in IN until a TD removes it)."""
        os.close(self.fd)
        self.server.box.closed(self.server.institution, self)

    def close(self):
        os.close(self.fd)
        self.server.box.closed(self.server.institution, self)
        if self.over:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.server._real(self.where))
            return
        if self.name.prefix in ("GO", "TD"):
            self.server.box.trigger(self.server.institution, self.where.name)


@implementer(interfaces.ISFTPFile)
class Download:
    """A file of /OUT or /OUTTEST being read; once closed, it counts as fetched."""

    def __init__(self, server, where, fd):
        self.server, self.where, self.fd = server, where, fd

    def readChunk(self, offset, length):
        data = os.pread(self.fd, min(length, 1 << 16), offset)
        if not data:
            raise EOFError()
        return data

    def writeChunk(self, offset, data):
        raise denied("opened for reading")

    def getAttrs(self):
        return _attrs(os.fstat(self.fd))

    def setAttrs(self, attrs):
        raise denied("attributes cannot be changed")

    def abort(self):
        """The session ended with the file still open: not fetched."""
        os.close(self.fd)

    def close(self):
        os.close(self.fd)
        box, server = self.server.box, self.server
        return threads.deferToThread(box.outbox.fetch, server.institution, self.where.folder,
                                     self.where.name)


class Listing:
    def __init__(self, folder, entries):
        self.folder, self.entries = folder, entries

    def __iter__(self):
        return self

    def __next__(self):
        while self.entries:
            name = self.entries.pop(0)
            try:
                st = os.lstat(os.path.join(self.folder, name))
            except FileNotFoundError:
                continue  # fetched and deleted meanwhile
            if stat.S_ISLNK(st.st_mode):
                continue
            return name, _longname(name, st), _attrs(st)
        raise StopIteration

    def close(self):
        self.entries = []


def _longname(name, st):
    kind = "d" if stat.S_ISDIR(st.st_mode) else "-"
    return "%sr%s-------   1 kszws    kszws    %12d %s" % (
        kind, "w" if kind == "-" else "x", st.st_size, name)


components.registerAdapter(DropBoxServer, DropBoxUser, interfaces.ISFTPServer)


@implementer(portal.IRealm)
class Realm:
    def __init__(self, box):
        self.box = box

    def requestAvatar(self, avatar_id, mind, *wanted):
        if interfaces.IConchUser not in wanted:
            raise NotImplementedError("an SFTP drop box")
        institution = avatar_id.decode("ascii")
        user = DropBoxUser(institution, self.box)
        return interfaces.IConchUser, user, lambda: None


class DropBox:
    """The drop box of a hub worker: its configuration, the outbox records and the
    trigger of GO and TD files."""

    def __init__(self, config, outbox, trigger):
        self.root = str(config.root)
        self.max_file_bytes = config.max_file_bytes
        self.max_pending = config.max_pending
        self.max_queued_bytes = config.max_queued_bytes
        self.uploads = {}  # institution -> its files being written in this worker
        self.outbox = outbox  # batch/outbox.py: what the hub answered, fetched or not
        self.trigger = trigger
        self.config = config

    def uploads_of(self, institution):
        return len(self.uploads.get(institution, ()))

    def opened(self, institution, upload):
        self.uploads.setdefault(institution, set()).add(upload)

    def closed(self, institution, upload):
        self.uploads.get(institution, set()).discard(upload)

    def factory(self):
        """The SSHFactory of the drop box: the hub's host key, the institutions' keys."""
        host = keys.Key.fromFile(str(self.config.host_key))
        keydb = InMemorySSHKeyDB({
            sender.institution.encode("ascii"): [
                keys.Key.fromString(line) for path in sender.ssh_keys
                for line in _key_lines(path)]
            for sender in self.config.senders.values()})
        ssh = factory.SSHFactory()
        ssh.portal = portal.Portal(Realm(self), [SSHPublicKeyChecker(keydb)])
        ssh.publicKeys = {host.sshType(): host.public()}
        ssh.privateKeys = {host.sshType(): host}
        # Only the SSH services a file transfer needs: no password authentication is
        # offered (publickey is the only checker), no agent, no forwarding; a login within
        # LOGIN_SECONDS and a few attempts.
        ssh.services = {**ssh.services, b"ssh-userauth": QuickUserAuth}
        return Capped(policies.TimeoutFactory(ssh, timeoutPeriod=IDLE_SECONDS))


class QuickUserAuth(userauth.SSHUserAuthServer):
    loginTimeout = LOGIN_SECONDS  # Conch's default: ten hours
    attemptsBeforeDisconnect = 6


class Capped(policies.WrappingFactory):
    """At most MAX_CONNECTIONS connections per worker and MAX_PER_PEER per address: the
    drop box shares its worker (and its file descriptors) with the hub's HTTP service."""

    def __init__(self, wrapped):
        super().__init__(wrapped)
        self.peers = {}

    def buildProtocol(self, addr):
        host = getattr(addr, "host", None)
        if len(self.protocols) >= MAX_CONNECTIONS or self.peers.get(host, 0) >= MAX_PER_PEER:
            log.warning("drop box: connection from %s refused (too many)", host)
            return None
        self.peers[host] = self.peers.get(host, 0) + 1
        protocol = super().buildProtocol(addr)
        protocol.peer_host = host
        return protocol

    def unregisterProtocol(self, protocol):
        super().unregisterProtocol(protocol)
        host = getattr(protocol, "peer_host", None)
        if host in self.peers:
            self.peers[host] -= 1
            if not self.peers[host]:
                del self.peers[host]


def _key_lines(path):
    with open(path, "rb") as fh:
        return [line.strip() for line in fh if line.strip() and not line.startswith(b"#")]

