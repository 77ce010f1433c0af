"""The EESSI Institution Repository as the Belgian access point keeps it
(conf/eessi/repository.toml): access points with their endpoint and certificates, and
institutions by EESSI id (CC:ID) with their name, country, liaison-body flag, validity,
access point and the BUCs each takes part in, in which role. A Belgian institution names
the kszws institution behind it: its registered certificate signs its ebMS messages.

Every problem raises ConfigError naming the file, the entry and the problem."""
import datetime
import re
from dataclasses import dataclass, field

from kszws.config import REQUIRED, ConfigError, read_toml, resolve_under, take
from kszws.security.keystore import KeyStoreError, load_certificate

ROLES = ("CaseOwner", "CounterParty")
_EESSI_ID = re.compile(r"^[A-Z]{2}:[A-Za-z0-9]{1,40}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
BELGIUM = "BE"


@dataclass(frozen=True)
class AccessPoint:
    id: str
    country: str
    name: str
    endpoint: str  # the Outbox URL of a foreign access point ("" for kszws itself)
    certificates: tuple  # keystore.Certificate: the ebMS signing certificates
    tls_authorities: tuple = ()  # paths of the CA certificates of its TLS certificates


@dataclass(frozen=True)
class Institution:
    id: str  # CC:ID
    name: str
    country: str
    liaison_body: bool
    valid_from: datetime.date
    valid_to: datetime.date  # None: open-ended
    access_point: str
    kszws: str  # the kszws institution behind a Belgian one; None abroad
    bucs: dict = field(default_factory=dict)  # BUC -> frozenset of roles

    def valid_on(self, day):
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Repository:
    access_points: dict  # id -> AccessPoint
    institutions: dict  # id -> Institution

    def by_kszws(self, kszws_id):
        """The EESSI institution of a kszws institution, or None."""
        return next((i for i in self.institutions.values() if i.kszws == kszws_id), None)

    def select(self, buc=None, country=None):
        return sorted((i for i in self.institutions.values()
                       if (buc is None or buc in i.bucs)
                       and (country is None or i.country == country.upper())),
                      key=lambda i: i.id)


def load_repository(path, certs_dir, bucs, kszws_institutions):
    """Read and check the repository. `bucs` is the BUC catalogue (every BUC named must be
    in it); `kszws_institutions` the ids of conf/institutions.toml."""
    raw = read_toml(path)
    unknown = set(raw) - {"access_point", "institution"}
    if unknown:
        raise ConfigError(path, "-", "unknown table(s): %s" % ", ".join(sorted(unknown)))
    access_points = {}
    for n, entry in enumerate(raw.get("access_point", []), 1):
        point = _access_point(path, "access_point #%d" % n, entry, certs_dir)
        if point.id in access_points:
            raise ConfigError(path, point.id, "access point declared twice")
        access_points[point.id] = point
    if sum(1 for p in access_points.values() if p.country == BELGIUM and not p.endpoint) != 1:
        raise ConfigError(path, "access_point", "exactly one Belgian access point without an "
                          "endpoint (kszws itself) must be declared")
    institutions = {}
    for n, entry in enumerate(raw.get("institution", []), 1):
        inst = _institution(path, "institution #%d" % n, entry, access_points, bucs,
                            kszws_institutions)
        if inst.id in institutions:
            raise ConfigError(path, inst.id, "institution declared twice")
        institutions[inst.id] = inst
    return Repository(access_points, institutions)


def _access_point(path, where, entry, certs_dir):
    e = take(entry, path, where, {"id": (str, REQUIRED), "name": (str, REQUIRED),
                                  "endpoint": (str, ""), "ebms_certificates": (list, []),
                                  "tls_ca_certificates": (list, [])})
    _check_id(path, where, e["id"])
    country = e["id"][:2]
    if country != BELGIUM and not e["endpoint"].startswith(("https://", "http://")):
        raise ConfigError(path, e["id"], "a foreign access point needs its Outbox endpoint "
                          "(an http(s) URL)")
    certificates = []
    for name in e["ebms_certificates"]:
        try:
            certificates.append(load_certificate(resolve_under(certs_dir, name)))
        except (KeyStoreError, OSError, ValueError) as exc:
            raise ConfigError(path, e["id"], "ebMS certificate %s: %s" % (name, exc)) from None
    authorities = tuple(str(resolve_under(certs_dir, name)) for name in e["tls_ca_certificates"])
    for name in authorities:
        try:
            load_certificate(name)
        except (KeyStoreError, OSError, ValueError) as exc:
            raise ConfigError(path, e["id"], "TLS CA certificate %s: %s" % (name, exc)) from None
    return AccessPoint(e["id"], country, e["name"], e["endpoint"], tuple(certificates),
                       authorities)


def _institution(path, where, entry, access_points, bucs, kszws_institutions):
    e = take(entry, path, where, {
        "id": (str, REQUIRED), "name": (str, REQUIRED), "liaison_body": (bool, False),
        "valid_from": (datetime.date, REQUIRED), "valid_to": (datetime.date, None),
        "access_point": (str, REQUIRED), "kszws": (str, None), "bucs": (dict, {})})
    _check_id(path, where, e["id"])
    where = e["id"]
    country = e["id"][:2]
    point = access_points.get(e["access_point"])
    if point is None or point.country != country:
        raise ConfigError(path, where, "access point %r is not a declared access point of %s"
                          % (e["access_point"], country))
    if (country == BELGIUM) != (e["kszws"] is not None):
        raise ConfigError(path, where, "a Belgian institution names its kszws institution "
                          "(kszws = \"...\"), a foreign one does not")
    if e["kszws"] is not None and e["kszws"] not in kszws_institutions:
        raise ConfigError(path, where, "kszws institution %r is not in institutions.toml"
                          % e["kszws"])
    if e["valid_to"] is not None and e["valid_to"] < e["valid_from"]:
        raise ConfigError(path, where, "valid_to is before valid_from")
    roles = {}
    for buc, named in e["bucs"].items():
        if buc not in bucs:
            raise ConfigError(path, where, "BUC %s is not in the catalogue (bucs.toml)" % buc)
        if not isinstance(named, list) or not named or set(named) - set(ROLES):
            raise ConfigError(path, where, "BUC %s: roles must be a list of %s"
                              % (buc, " / ".join(ROLES)))
        roles[buc] = frozenset(named)
    return Institution(e["id"], e["name"], country, e["liaison_body"], e["valid_from"],
                       e["valid_to"], e["access_point"], e["kszws"], roles)


def _check_id(path, where, value):
    if not _EESSI_ID.match(value) or not _COUNTRY.match(value[:2]):
        raise ConfigError(path, where, "EESSI id %r is not CC:ID (a country code, a colon, "
                          "letters and digits)" % value)


def load(settings, registry, bucs_catalogue=None):
    """(Repository, BUC catalogue) from conf/eessi/, or (None, None) when the project has
    no EESSI configuration (the access point is then not served)."""
    from kszws.eessi.bucs import load_bucs
    folder = settings.conf_dir / "eessi"
    if not (folder / "repository.toml").exists():
        return None, None
    catalogue = bucs_catalogue or load_bucs(folder / "bucs.toml")
    return (load_repository(folder / "repository.toml", settings.certs_dir, catalogue,
                            set(registry.institutions)), catalogue)


def tls_authorities(settings):
    """The CA certificates (paths) that issue the foreign access points' TLS client
    certificates: the hub's TLS port accepts them beside its own client CA."""
    path = settings.conf_dir / "eessi" / "repository.toml"
    if not path.exists():
        return []
    return [resolve_under(settings.certs_dir, name)
            for entry in read_toml(path).get("access_point", [])
            for name in entry.get("tls_ca_certificates", [])]


def make_access_point_keys(settings):
    """Give each foreign access point of the repository that has none a key and an ebMS
    certificate (also its TLS certificate, naming the loopback addresses), issued by a
    test CA of its country (certs/eessi/<CC>-ca.crt): the demo's and the tests' foreign
    access points run with them. Returns the files written."""
    from kszws.security import pki
    path = settings.conf_dir / "eessi" / "repository.toml"
    if not path.exists():
        return []
    written = []
    for n, entry in enumerate(read_toml(path).get("access_point", []), 1):
        point_id = str(entry.get("id", ""))
        for name in entry.get("ebms_certificates", []):
            cert_path = resolve_under(settings.certs_dir, name)
            if cert_path.exists():
                continue
            cert_path.parent.mkdir(parents=True, exist_ok=True)
            ca_cert_path = cert_path.parent / ("%s-ca.crt" % point_id[:2])
            if ca_cert_path.exists():
                ca = pki.read_key(ca_cert_path.with_suffix(".key")), pki.read_cert(ca_cert_path)
            else:
                ca = pki.make_ca("%s EESSI test CA" % point_id[:2])
                pki.write_key(ca_cert_path.with_suffix(".key"), ca[0])
                pki.write_cert(ca_cert_path, ca[1])
                written += [ca_cert_path.with_suffix(".key"), ca_cert_path]
            key, cert = pki.issue(*ca, "%s access point" % point_id, dns_names=pki.LOOPBACK_NAMES,
                                  ip_addresses=pki.LOOPBACK_ADDRESSES)
            pki.write_key(cert_path.with_suffix(".key"), key)
            pki.write_cert(cert_path, cert)
            written += [cert_path.with_suffix(".key"), cert_path]
    return written
