"""conf/batch.toml: the batch channel's drop box and who may use it.

    [dropbox]
    port = 8022                  # the SFTP port (0: no drop box)
    host_key = "certs/kszws-hub.ssh"
    max_file_bytes = 2147483648  # one uploaded file
    max_pending = 200            # files waiting in an institution's IN
    max_queued_bytes = 21474836480  # an institution's files in IN and waiting for processing
    lease_seconds = 60           # a worker's claim on a file it processes

    [mutations]                  # FO.MUTA (batch/muta.py), for the institutions whose
    cutoff = "00:00"             # mutations = "batch": the local time (Brussels) a day's
    interval_seconds = 60        # file closes; how often a worker looks for closed days

    [[sender]]
    institution = "cpas-eupen"   # an institution of institutions.toml
    number = "170001"            # its sender number (6 digits), the SENDER6 of its files
    ssh_keys = ["certs/cpas-eupen.ssh.pub"]   # default: certs/<institution>.ssh.pub
"""
import datetime
import re
from dataclasses import dataclass
from pathlib import Path

from kszws.config import REQUIRED, ConfigError, read_toml, resolve_under, take
from kszws.batch.names import HUB_SENDER

_SENDER = re.compile(r"^[0-9]{6}$")


@dataclass(frozen=True)
class Sender:
    institution: str
    number: str
    ssh_keys: tuple  # paths of OpenSSH public keys (one key per line)


@dataclass(frozen=True)
class BatchConfig:
    port: int
    host: str
    host_key: Path
    root: Path  # where the drop box's folders and the hub's spool live
    max_file_bytes: int
    max_pending: int
    max_queued_bytes: int  # per institution: what waits in its IN, and what waits accepted
    lease_seconds: int  # a file whose worker stopped is resumed by another after this
    senders: dict  # institution id -> Sender
    muta_cutoff: datetime.time = datetime.time()  # local: when a day's FO.MUTA closes
    muta_interval: float = 60.0  # seconds between looks for a closed day

    def sender_number(self, number):
        """The Sender of a sender number, or None."""
        return next((s for s in self.senders.values() if s.number == number), None)


def load(settings, registry):
    """The batch configuration, or None when the project has no conf/batch.toml."""
    path = settings.conf_dir / "batch.toml"
    if not path.exists():
        return None
    raw = read_toml(path)
    unknown = set(raw) - {"dropbox", "sender", "mutations"}
    if unknown:
        raise ConfigError(path, "-", "unknown table(s): %s" % ", ".join(sorted(unknown)))
    box = take(raw.get("dropbox", {}), path, "[dropbox]", {
        "port": (int, 8022), "host": (str, ""), "root": (str, ""),
        "host_key": (str, str(settings.certs_dir / "kszws-hub.ssh")),
        "max_file_bytes": (int, 2 << 30), "max_pending": (int, 200),
        "max_queued_bytes": (int, 20 << 30), "lease_seconds": (int, 60)})
    if not 0 <= box["port"] <= 65535:
        raise ConfigError(path, "[dropbox]", "port must be 0-65535")
    if min(box["max_file_bytes"], box["max_pending"], box["max_queued_bytes"],
           box["lease_seconds"]) < 1:
        raise ConfigError(path, "[dropbox]", "max_file_bytes, max_pending, max_queued_bytes "
                          "and lease_seconds must be positive")
    senders = {}
    for n, entry in enumerate(raw.get("sender", []), 1):
        where = "sender #%d" % n
        if not isinstance(entry, dict):
            raise ConfigError(path, where, "must be a table")
        e = take(entry, path, where, {"institution": (str, REQUIRED), "number": (str, REQUIRED),
                                      "ssh_keys": (list, None)})
        inst = registry.institutions.get(e["institution"])
        if inst is None or inst.kind == "hub":
            raise ConfigError(path, where, "institution %r is not an institution of "
                              "institutions.toml" % e["institution"])
        if not _SENDER.match(e["number"]) or e["number"] == HUB_SENDER:
            raise ConfigError(path, where, "number must be 6 digits (and not the hub's %s)"
                              % HUB_SENDER)
        if e["institution"] in senders:
            raise ConfigError(path, where, "institution declared twice")
        if any(s.number == e["number"] for s in senders.values()):
            raise ConfigError(path, where, "sender number %s declared twice" % e["number"])
        keys = e["ssh_keys"]
        if keys is None:
            keys = [str(settings.certs_dir / ("%s.ssh.pub" % inst.id))]
        if not keys or not all(isinstance(k, str) for k in keys):
            raise ConfigError(path, where, "ssh_keys must be a non-empty list of paths")
        senders[inst.id] = Sender(inst.id, e["number"],
                                  tuple(resolve_under(settings.project_root, k) for k in keys))
    for inst in registry.institutions.values():
        if inst.mutations == "batch" and inst.id not in senders:
            raise ConfigError(path, "[[sender]]", "%s receives its mutations by batch "
                              "(institutions.toml): it needs a [[sender]]" % inst.id)
    muta = take(raw.get("mutations", {}), path, "[mutations]", {
        "cutoff": (str, "00:00"), "interval_seconds": (float, 60.0)})
    try:
        cutoff = datetime.time.fromisoformat(muta["cutoff"])
    except ValueError:
        raise ConfigError(path, "[mutations]", "cutoff must be a time, HH:MM[:SS]") from None
    if cutoff.tzinfo is not None or muta["interval_seconds"] <= 0:
        raise ConfigError(path, "[mutations]", "cutoff is a local time without a zone, "
                          "interval_seconds positive")
    return BatchConfig(
        port=box["port"], host=box["host"] or settings.host,
        host_key=resolve_under(settings.project_root, box["host_key"]),
        root=resolve_under(settings.project_root, box["root"]) if box["root"]
        else Path(settings.data_dir) / "batch",
        max_file_bytes=box["max_file_bytes"], max_pending=box["max_pending"],
        max_queued_bytes=box["max_queued_bytes"], lease_seconds=box["lease_seconds"],
        senders=senders, muta_cutoff=cutoff, muta_interval=muta["interval_seconds"])


def check_keys(config):
    """Read the host key and every sender's public keys once (in the hub's parent, before
    any worker): a missing or broken file stops start-up with its name. With the
    cryptography library: Twisted's reactor must not exist before the workers fork."""
    from cryptography.hazmat.primitives import serialization

    try:
        serialization.load_ssh_private_key(config.host_key.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ValueError("host key %s: %s" % (config.host_key, exc)) from None
    for sender in config.senders.values():
        for path in sender.ssh_keys:
            try:
                lines = [line for line in Path(path).read_bytes().splitlines()
                         if line.strip() and not line.startswith(b"#")]
                if not lines:
                    raise ValueError("no key in the file")
                for line in lines:
                    serialization.load_ssh_public_key(line.strip())
            except (OSError, ValueError) as exc:
                raise ValueError("SSH key of %s, %s: %s" % (sender.institution, path, exc)
                                 ) from None

