"""The hub's settings (conf/kszws.toml) and the error every configuration problem raises.

Configuration is read once at start-up; a problem stops start-up with a message that
names the file, the entry and the problem (ConfigError).
"""
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    def __init__(self, path, entry, problem):
        super().__init__("%s: %s: %s" % (path, entry, problem))
        self.path, self.entry, self.problem = str(path), entry, problem


def read_toml(path):
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(path, "-", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "-", "not valid TOML: %s" % exc) from None


def take(table, path, entry, spec):
    """Check a TOML table against `spec` {key: (type, default or REQUIRED)}; refuse unknown
    keys (typos must not pass silently). Returns a dict with defaults filled in."""
    unknown = set(table) - set(spec)
    if unknown:
        raise ConfigError(path, entry, "unknown key(s): %s" % ", ".join(sorted(unknown)))
    out = {}
    for key, (kind, default) in spec.items():
        if key not in table:
            if default is REQUIRED:
                raise ConfigError(path, entry, "missing required key '%s'" % key)
            out[key] = default
            continue
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(path, entry, "'%s' must be %s, not %r" % (key, _kind(kind), value))
        out[key] = value
    return out


REQUIRED = object()


def _kind(kind):
    names = {str: "a string", int: "an integer", bool: "true or false", float: "a number",
             list: "a list", dict: "a table"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


@dataclass(frozen=True)
class Settings:
    conf_dir: Path
    data_dir: Path
    certs_dir: Path
    hub_institution: str = "kszws-hub"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 1_048_576
    shutdown_grace_seconds: float = 10.0
    tls_certificate: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    tls_require_client_certificate: bool = False
    tls_port: int = 0
    timestamp_skew_seconds: int = 300
    timestamp_max_ttl_seconds: int = 900
    reply_timestamp_ttl_seconds: int = 300
    mailbox_retention_days: int = 30
    fanout_interval_seconds: float = 1.0
    fanout_batch: int = 500
    database_url: str = ""
    sqlite_synchronous: str = "FULL"
    log_batch_max: int = 512
    commit_delay_ms: float = 0.5
    gc_tuning: bool = True
    source_check_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    idle_timeout_seconds: float = 60.0
    max_connections: int = 800
    eessi_push_interval_seconds: float = 5.0
    eessi_first_retry_seconds: float = 60.0
    eessi_max_attempts: int = 8
    eessi_sed_max_bytes: int = 8 * 1024 * 1024
    eessi_backlog_alert_hours: float = 24.0
    eessi_redeliver_after_seconds: float = 600.0
    exchange_lines: str = "off"  # [logging] exchanges: off | stdout | stderr | a file
    exchange_lines_format: str = "auto"  # auto (human on a terminal, else json) | json | human
    extra: dict = field(default_factory=dict)

    @property
    def project_root(self):
        return self.conf_dir.parent

    @property
    def store_url(self):
        return self.database_url or "sqlite:///%s" % (self.data_dir / "kszws.sqlite")

    @property
    def maintenance_flag(self):
        return self.data_dir / "maintenance"

    @property
    def main_port_is_https(self):
        """The main port serves HTTPS when TLS is configured without a port of its own;
        with `tls_port` it stays plain HTTP and HTTPS has that second port."""
        return bool(self.tls_certificate) and not self.tls_port


def default_conf_dir():
    if os.environ.get("KSZWS_CONF"):
        return Path(os.environ["KSZWS_CONF"]).resolve()
    local = Path.cwd() / "conf" / "kszws.toml"
    if local.exists():
        return local.parent.resolve()
    return PACKAGE_ROOT / "conf"


def load_settings(conf_dir=None, data_dir=None, database_url=None):
    """Read conf/kszws.toml. Environment: KSZWS_CONF, KSZWS_DATA_DIR, KSZWS_DATABASE_URL."""
    conf_dir = Path(conf_dir).resolve() if conf_dir else default_conf_dir()
    path = conf_dir / "kszws.toml"
    raw = read_toml(path)
    unknown = set(raw) - {"hub", "server", "security", "store", "mailbox", "eessi", "logging"}
    if unknown:
        raise ConfigError(path, "-", "unknown table(s): %s" % ", ".join(sorted(unknown)))
    hub = take(raw.get("hub", {}), path, "[hub]", {
        "institution": (str, "kszws-hub"), "data_dir": (str, "var"), "certs_dir": (str, "certs"),
    })
    server = take(raw.get("server", {}), path, "[server]", {
        "host": (str, "127.0.0.1"), "port": (int, 8080), "workers": (int, 1),
        "max_body_bytes": (int, 1_048_576), "shutdown_grace_seconds": (float, 10.0),
        "tls_certificate": (str, ""), "tls_key": (str, ""), "tls_client_ca": (str, ""),
        "tls_require_client_certificate": (bool, False), "tls_port": (int, 0),
        "gc_tuning": (bool, True),
        "source_check_seconds": (float, 5.0),
        "read_timeout_seconds": (float, 30.0), "idle_timeout_seconds": (float, 60.0),
        "max_connections": (int, 800),
    })
    security = take(raw.get("security", {}), path, "[security]", {
        "timestamp_skew_seconds": (int, 300), "timestamp_max_ttl_seconds": (int, 900),
        "reply_timestamp_ttl_seconds": (int, 300),
    })
    store = take(raw.get("store", {}), path, "[store]", {
        "url": (str, ""), "sqlite_synchronous": (str, "FULL"), "log_batch_max": (int, 512),
        "commit_delay_ms": (float, 0.5),
    })
    box = take(raw.get("mailbox", {}), path, "[mailbox]", {
        "retention_days": (int, 30), "fanout_interval_seconds": (float, 1.0),
        "fanout_batch": (int, 500),
    })
    eessi = take(raw.get("eessi", {}), path, "[eessi]", {
        "push_interval_seconds": (float, 5.0), "first_retry_seconds": (float, 60.0),
        "max_attempts": (int, 8), "sed_max_bytes": (int, 8 * 1024 * 1024),
        "backlog_alert_hours": (float, 24.0), "redeliver_after_seconds": (float, 600.0),
    })
    logs = take(raw.get("logging", {}), path, "[logging]", {
        "exchanges": (str, "off"), "format": (str, "auto"),
    })
    if logs["format"] not in ("auto", "json", "human"):
        raise ConfigError(path, "[logging]", "format must be auto, json or human")
    if not logs["exchanges"].strip():
        raise ConfigError(path, "[logging]", "exchanges must be off, stdout, stderr or a "
                          "file path")
    if min(eessi.values()) <= 0:
        raise ConfigError(path, "[eessi]", "every setting must be positive")
    if box["retention_days"] < 1 or box["fanout_interval_seconds"] <= 0 or box["fanout_batch"] < 1:
        raise ConfigError(path, "[mailbox]", "retention_days, fanout_interval_seconds and "
                          "fanout_batch must be positive")
    if store["sqlite_synchronous"].upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ConfigError(path, "[store]", "sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA")
    for key in ("port", "workers", "max_body_bytes", "max_connections"):
        if server[key] < (0 if key == "port" else 1):
            raise ConfigError(path, "[server]", "'%s' must be positive" % key)
    if server["tls_port"] < 0:
        raise ConfigError(path, "[server]", "'tls_port' must be a port number, or 0 (none)")
    if server["tls_port"] and not (server["tls_certificate"] and server["tls_key"]):
        raise ConfigError(path, "[server]", "'tls_port' serves HTTPS: it needs "
                          "'tls_certificate' and 'tls_key'")
    for key in ("source_check_seconds", "read_timeout_seconds", "idle_timeout_seconds"):
        if server[key] <= 0:
            raise ConfigError(path, "[server]", "'%s' must be positive" % key)
    if security["timestamp_skew_seconds"] < 0 or security["timestamp_max_ttl_seconds"] < 1:
        raise ConfigError(path, "[security]", "timestamp windows must be positive")

    root = conf_dir.parent
    # Paths given on the command line or in the environment are relative to the current
    # directory; paths in conf/ are relative to the project (the folder holding conf/).
    given = data_dir or os.environ.get("KSZWS_DATA_DIR")
    data = Path(given).resolve() if given else resolve_under(root, hub["data_dir"])
    return Settings(
        conf_dir=conf_dir,
        data_dir=data,
        certs_dir=resolve_under(root, hub["certs_dir"]),
        hub_institution=hub["institution"],
        host=server["host"], port=server["port"], workers=server["workers"],
        max_body_bytes=server["max_body_bytes"],
        shutdown_grace_seconds=server["shutdown_grace_seconds"],
        tls_certificate=_optional_path(root, server["tls_certificate"]),
        tls_key=_optional_path(root, server["tls_key"]),
        tls_client_ca=_optional_path(root, server["tls_client_ca"]),
        tls_require_client_certificate=server["tls_require_client_certificate"],
        tls_port=server["tls_port"],
        gc_tuning=server["gc_tuning"],
        source_check_seconds=server["source_check_seconds"],
        read_timeout_seconds=server["read_timeout_seconds"],
        idle_timeout_seconds=server["idle_timeout_seconds"],
        max_connections=server["max_connections"],
        timestamp_skew_seconds=security["timestamp_skew_seconds"],
        timestamp_max_ttl_seconds=security["timestamp_max_ttl_seconds"],
        reply_timestamp_ttl_seconds=security["reply_timestamp_ttl_seconds"],
        database_url=database_url or os.environ.get("KSZWS_DATABASE_URL") or store["url"],
        sqlite_synchronous=store["sqlite_synchronous"].upper(),
        log_batch_max=store["log_batch_max"],
        commit_delay_ms=store["commit_delay_ms"],
        mailbox_retention_days=box["retention_days"],
        fanout_interval_seconds=box["fanout_interval_seconds"],
        fanout_batch=box["fanout_batch"],
        eessi_push_interval_seconds=eessi["push_interval_seconds"],
        eessi_first_retry_seconds=eessi["first_retry_seconds"],
        eessi_max_attempts=eessi["max_attempts"],
        eessi_sed_max_bytes=eessi["sed_max_bytes"],
        eessi_backlog_alert_hours=eessi["backlog_alert_hours"],
        eessi_redeliver_after_seconds=eessi["redeliver_after_seconds"],
        exchange_lines=logs["exchanges"],
        exchange_lines_format=logs["format"],
    )


def resolve_under(root, path):
    path = Path(path)
    return (path if path.is_absolute() else root / path).resolve()


def _optional_path(root, path):
    return str(resolve_under(root, path)) if path else ""
