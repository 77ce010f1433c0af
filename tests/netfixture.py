"""A throw-away kszws network for tests: a project folder (conf/, wsdl/, xsd/, certs/,
var/) in a temporary directory, test institutions added to conf/, a demo PKI, and the hub
started as a real process on a loopback port."""
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

from kszws import batch
from kszws.config import load_settings
from kszws.eessi.repository import make_access_point_keys
from kszws.registry import load_registry
from kszws.security import pki
from kszws.security.credentials import Credentials, issue_passwords

ROOT = Path(__file__).resolve().parent.parent
CBSS = ROOT.parent / "shared" / "cbss"

# Test institutions, beside the demo ones of conf/institutions.toml.
TEST_INSTITUTIONS = '''
[[institution]]
id = "test-quiet"
name = "Signs requests, wants unsigned replies"
sector = 17
subsector = 1
cbe = "0208315022"
auth = "signature"
sign_replies = false

[[institution]]
id = "test-lino"
name = "A CPAS running Lino (the real client's sample requests name OrgUnit 0123456789)"
sector = 17
subsector = 1
cbe = "0209315013"
auth = "signature"
org_units = ["0123456789"]

[[institution]]
id = "test-expired"
name = "Institution whose certificate has expired"
sector = 18
cbe = "0207313051"
auth = "signature"
'''

SIGNED_ENDPOINT = '''
[[service]]
name = "TestConnectionServiceSigned"
implementation = "TestConnectionService"
path = "/wss/TestConnectionService"
wsdl = "wsdl/TestConnectionService.wsdl"
signed = true
'''


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_project(tmp, database_url="", settings=None, source_timeout=3.0, institutions=""):
    """Copy conf/, wsdl/, xsd/ into `tmp`, add the test entries, make the PKI.
    `settings`: kszws.toml keys to change, with their TOML values; `institutions`: more
    [[institution]] entries."""
    tmp = Path(tmp)
    for folder in ("conf", "wsdl", "xsd", "examples"):
        shutil.copytree(ROOT / folder, tmp / folder)
    with open(tmp / "conf" / "institutions.toml", "a") as fh:
        fh.write(TEST_INSTITUTIONS + institutions)
    with open(tmp / "conf" / "services.toml", "a") as fh:
        fh.write(SIGNED_ENDPOINT)
    sources = (tmp / "conf" / "sources.toml").read_text()
    (tmp / "conf" / "sources.toml").write_text(
        re.sub(r"(?m)^port = \d+", lambda _: "port = %d" % free_port(), sources)
        .replace("timeout_seconds = 5.0", "timeout_seconds = %s" % source_timeout))
    box = (tmp / "conf" / "batch.toml").read_text()  # the drop box: a free port too
    (tmp / "conf" / "batch.toml").write_text(
        re.sub(r"(?m)^port = \d+", lambda _: "port = %d" % free_port(), box))
    conf = (tmp / "conf" / "kszws.toml").read_text()
    if database_url:
        conf = conf.replace('url = ""', 'url = "%s"' % database_url)
    conf = conf.replace('sqlite_synchronous = "FULL"', 'sqlite_synchronous = "NORMAL"')
    for key, value in (settings or {}).items():  # e.g. {"tls_key": '"certs/x.key"'}
        conf, count = re.subn(r"(?m)^%s = .*$" % key, "%s = %s" % (key, value), conf)
        assert count == 1, key
    (tmp / "conf" / "kszws.toml").write_text(conf)
    settings_ = load_settings(tmp / "conf")
    move_foreign_access_point(settings_, free_port())  # not the demo's fixed port
    registry = load_registry(settings_)
    pki.init_pki(settings_.certs_dir, registry.institutions.values())
    make_access_point_keys(settings_)
    batch.make_keys(settings_, registry)
    issue_passwords(Credentials(settings_.data_dir / "credentials.json"),
                    registry.institutions.values(), settings_.certs_dir)
    now = datetime.datetime.now(datetime.timezone.utc)
    # test-expired: its certificate's validity ended yesterday.
    reissue_certificate(settings_, "test-expired", "0207313051",
                        not_before=now - datetime.timedelta(days=30),
                        not_after=now - datetime.timedelta(days=1))
    # A certificate from the same CA that no institution registered.
    reissue_certificate(settings_, "stranger", "0209300066")
    return settings_


def reissue_certificate(settings, name, cbe, key_type="rsa2048", not_before=None,
                        not_after=None):
    """(Re)issue certs/<name>.crt and .key from the demo CA."""
    ca_key = pki.read_key(settings.certs_dir / "ca.key")
    ca = pki.read_cert(settings.certs_dir / "ca.crt")
    key, cert = pki.issue(ca_key, ca, name, name, cbe, key_type=key_type,
                          not_before=not_before, not_after=not_after)
    pki.write_key(settings.certs_dir / ("%s.key" % name), key)
    pki.write_cert(settings.certs_dir / ("%s.crt" % name), cert)


def run_kszws(settings, *args, timeout=120):
    """`python -m kszws --conf CONF args...` to its end: the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "kszws", "--conf", str(settings.conf_dir),
                           *args], capture_output=True, text=True, timeout=timeout)


class KszwsProcess:
    """A `python -m kszws ...` child process, started until it prints its ready line.

    Its standard error goes to a file (var/<name>.stderr) and its standard output is read
    to the end by a thread: a pipe nobody empties blocks the child once 64 KB are
    written (spyne logs every fault a source answers), and a blocked worker answers no
    more."""

    name = "kszws"

    def __init__(self, settings, env=None):
        self.settings = settings
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.stdout_lines = []

    def launch(self, args, ready, timeout):
        """Start `kszws --conf CONF args...`; return the match of the `ready` regex."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = self.settings.data_dir / ("%s.stderr" % self.name)
        with open(self.stderr_path, "ab") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kszws", "--conf", str(self.settings.conf_dir), *args],
                stdout=subprocess.PIPE, stderr=stderr, text=True, env=self.env,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.stdout_lines.append(line)
            match = re.search(ready, line)
            if match:
                threading.Thread(target=self._drain_stdout, daemon=True).start()
                return match
        self.stop()
        raise RuntimeError("%s did not start: %s" % (self.name, self.stderr()[-3000:]))

    def _drain_stdout(self):
        for line in self.proc.stdout:
            self.stdout_lines.append(line)

    def stderr(self):
        """What the process wrote to its standard error so far."""
        return self.stderr_path.read_text(errors="replace") if self.proc else ""

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode if self.proc else None


class Hub(KszwsProcess):
    """The hub as a child process: `python -m kszws serve`."""

    name = "hub"

    def __init__(self, settings, workers=1, env=None):
        super().__init__(settings, env)
        self.workers = workers
        self.url = None
        self.https_url = None  # the tls_port listener's, when conf/kszws.toml sets one
        self._registry = None

    def start(self, timeout=60):
        match = self.launch(["serve", "--port", "0", "--workers", str(self.workers)],
                            r"kszws hub ready: (\S+) \((?:[^)]*?https: (\S+),)?", timeout)
        self.url, self.https_url = match.group(1), match.group(2)
        return self

    def workers_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def endpoint(self, service="TestConnectionService"):
        # The registry is read once: parsing conf/ takes ~20 ms, which load tests calling
        # this per request would otherwise spend instead of sending requests.
        if self._registry is None:
            self._registry = load_registry(self.settings)
        return self.url + self._registry.services[service].path


def postgres_schema_url(base_url):
    """A URL on `base_url` whose search_path is a new, empty schema (test isolation)."""
    import sqlalchemy

    schema = "t_" + uuid.uuid4().hex[:12]
    engine = sqlalchemy.create_engine(base_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA %s" % schema)
    engine.dispose()
    sep = "&" if "?" in base_url else "?"
    return base_url + sep + "options=-csearch_path%%3D%s" % schema, schema


def drop_postgres_schema(base_url, schema):
    import sqlalchemy

    engine = sqlalchemy.create_engine(base_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA %s CASCADE" % schema)
    engine.dispose()


def wait_health(url, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return requests.get(url + "/health", timeout=2)
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("no /health answer")


def seed_national_register(settings, count=2000):
    """A small synthetic population plus the demo persons the tests know by heart
    (kszws.sources.national_register.population.DEMO_PERSONS)."""
    from kszws.registry import load_registry
    from kszws.sources import national_register
    from kszws.sources.national_register import population, store

    source = load_registry(settings).sources["national-register"]
    db = national_register.database(settings, source)
    store.migrate(db)
    population.generate(db, count, seed=7)
    population.add_demo_persons(db)
    db.dispose()


def register_in_directory(settings, institutions, ssins, code=1,
                          start=datetime.date(2000, 1, 1), end=None):
    """Registrations in the hub's reference directory, written straight to its store (the
    hub may be running): each institution manages a file on each SSIN with `code`."""
    from kszws import directory
    from kszws.store import database_from_settings

    registry = load_registry(settings)
    db = database_from_settings(settings)
    db.migrate()
    now = datetime.datetime.now(datetime.timezone.utc)
    with db.engine.begin() as conn:
        for inst_id in institutions:
            inst = registry.institutions[inst_id]
            quality = registry.quality_code(inst.sector, code)
            for ssin in ssins:
                directory.register(conn, now, ssin, inst, quality, start, end)
    db.dispose()


def source_client(settings, name="national-register"):
    """The hub's client of source `name` (hub/routing.SourceClient, signed both ways as the
    hub signs), for synchronous calls outside any reactor (its _call, _records)."""
    from kszws.hub.routing import SourceClient
    from kszws.security.keystore import load_certificate, load_signing_identity

    registry = load_registry(settings)
    config = registry.sources[name]
    return SourceClient(config, load_signing_identity(registry.hub.certificates[0]),
                        load_certificate(registry.institution(config.id).certificates[0]),
                        reactor=None)


class Source(KszwsProcess):
    """A reference source as a child process: `python -m kszws source NAME`."""

    def __init__(self, settings, name="national-register", env=None, workers=None):
        super().__init__(settings, env)
        self.name = name
        self.workers = workers  # None: as conf/sources.toml says

    def start(self, timeout=120):
        workers = ["--workers", str(self.workers)] if self.workers else []
        self.launch(["source", self.name, *workers], "ready:", timeout)
        return self


def start_network(settings):
    """The National Register source (seeded) and the hub, as the hub's tests need them; the
    hub knows its source as `hub.source`. A hub that does not start leaves nothing running."""
    seed_national_register(settings)
    source = Source(settings).start()
    try:
        hub = Hub(settings).start()
    except Exception:
        source.stop()
        raise
    hub.source = source
    return hub


def start_pushing_network(settings):
    """The hub, then the National Register source pushing its mutations to it (as the
    mutation tests need them); the hub knows its source as `hub.source`."""
    hub = Hub(settings).start()
    try:
        source = Source(settings, env={"KSZWS_HUB_URL": hub.url}).start()
    except Exception:
        hub.stop()
        raise
    hub.source = source
    return hub


def stop_network(hub):
    hub.stop()
    hub.source.stop()


class ForeignAccessPoint(KszwsProcess):
    """The demo's foreign access point: `kszws source foreign-ap --country CC --hub URL`."""

    name = "foreign-ap"

    def __init__(self, settings, country, hub_url, retry_seconds=1.0):
        super().__init__(settings)
        self.country, self.hub_url, self.retry_seconds = country, hub_url, retry_seconds

    def start(self, timeout=60):
        self.launch(["source", "foreign-ap", "--country", self.country, "--hub", self.hub_url,
                     "--retry-seconds", str(self.retry_seconds)],
                    r"kszws foreign access point \S+ ready", timeout)
        return self


def move_foreign_access_point(settings, port):
    """Point conf/eessi/repository.toml's foreign access point at `port` (a free one)."""
    path = settings.conf_dir / "eessi" / "repository.toml"
    path.write_text(re.sub(r"https://127\.0\.0\.1:\d+/", "https://127.0.0.1:%d/" % port,
                           path.read_text()))
