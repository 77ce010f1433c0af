"""Reading and checking the registry in conf/: sectors.toml, institutions.toml, services.toml.

Every problem raises ConfigError naming the file, the entry and the problem, so that a bad
configuration stops start-up instead of surfacing as a refused call hours later.
"""
import ipaddress
import re

from kszws import ids
from kszws.config import REQUIRED, ConfigError, read_toml, resolve_under, take
from kszws.registry.model import (AUTH_MODES, UNIVERSAL, Institution, QualityCode, Registry,
                                  Sector, Service, Source)

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def load_registry(settings):
    conf = settings.conf_dir
    sectors = _load_sectors(conf / "sectors.toml")
    institutions = _load_institutions(conf / "institutions.toml", settings, sectors)
    hub = institutions.get(settings.hub_institution)
    if hub is None or hub.kind != "hub":
        raise ConfigError(conf / "institutions.toml", settings.hub_institution,
                          "the hub institution named in kszws.toml [hub] is not declared "
                          "with kind = \"hub\"")
    quality_codes = _load_quality_codes(conf / "quality_codes.toml", sectors)
    sources = _load_sources(conf / "sources.toml", settings, institutions)
    services = _load_services(conf / "services.toml", settings, sources)
    return Registry(hub=hub, institutions=institutions, services=services, sectors=sectors,
                    sources=sources, quality_codes=quality_codes)


def _entries(path, raw, table):
    unknown = set(raw) - {table}
    if unknown:
        raise ConfigError(path, "-", "unknown table(s): %s" % ", ".join(sorted(unknown)))
    entries = raw.get(table, [])
    if not isinstance(entries, list):
        raise ConfigError(path, table, "expected [[%s]] entries" % table)
    return entries


def _load_sectors(path):
    sectors = {}
    for n, entry in enumerate(_entries(path, read_toml(path), "sector"), 1):
        where = "sector #%d" % n
        e = take(entry, path, where, {
            "code": (int, REQUIRED), "subsector": (int, 0),
            "abbreviation_nl": (str, REQUIRED), "name_nl": (str, REQUIRED),
            "abbreviation_fr": (str, REQUIRED), "name_fr": (str, REQUIRED),
        })
        key = (e["code"], e["subsector"])
        if key in sectors:
            raise ConfigError(path, where, "sector %d.%d declared twice" % key)
        sectors[key] = Sector(e["code"], e["subsector"], e["abbreviation_nl"], e["name_nl"],
                              e["abbreviation_fr"], e["name_fr"])
    return sectors


def _load_institutions(path, settings, sectors):
    institutions = {}
    for n, entry in enumerate(_entries(path, read_toml(path), "institution"), 1):
        where = "institution #%d (%s)" % (n, entry.get("id", "no id"))
        e = take(entry, path, where, {
            "id": (str, REQUIRED), "name": (str, REQUIRED), "sector": (int, REQUIRED),
            "subsector": (int, 0), "cbe": (str, REQUIRED), "auth": (str, "signature"),
            "certificates": (list, None), "sign_replies": (bool, None),
            "kind": (str, "institution"), "org_units": (list, []), "addresses": (list, []),
        })
        if not _ID.match(e["id"]):
            raise ConfigError(path, where, "id must be 2-63 lower-case letters, digits or '-'")
        if e["id"] in institutions:
            raise ConfigError(path, where, "id declared twice")
        if (e["sector"], e["subsector"]) not in sectors:
            raise ConfigError(path, where, "sector %d.%d is not in sectors.toml"
                              % (e["sector"], e["subsector"]))
        try:
            cbe = ids.enterprise_number(e["cbe"])
        except ids.InvalidIdentifier as exc:
            raise ConfigError(path, where, str(exc)) from None
        if e["auth"] not in AUTH_MODES:
            raise ConfigError(path, where, "auth must be one of %s" % ", ".join(AUTH_MODES))
        if e["kind"] not in ("institution", "hub", "source"):
            raise ConfigError(path, where, "kind must be institution, hub or source")
        certificates = e["certificates"]
        if certificates is None:
            certificates = [str(settings.certs_dir / ("%s.crt" % e["id"]))]
        if not certificates or not all(isinstance(c, str) for c in certificates):
            raise ConfigError(path, where, "certificates must be a non-empty list of paths")
        certificates = tuple(str(_resolve(settings, c)) for c in certificates)
        sign_replies = e["sign_replies"]
        if sign_replies is None:
            sign_replies = e["auth"] == "signature"
        if not all(isinstance(u, str) and u.strip() for u in e["org_units"]):
            raise ConfigError(path, where, "org_units must be a list of non-empty strings")
        try:
            networks = tuple(ipaddress.ip_network(a) for a in e["addresses"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(path, where, "addresses: %s" % exc) from None
        if e["auth"] == "address" and not networks:
            raise ConfigError(path, where, "auth = \"address\" needs its registered addresses")
        institutions[e["id"]] = Institution(
            id=e["id"], name=e["name"], sector=e["sector"], subsector=e["subsector"], cbe=cbe,
            auth=e["auth"], certificates=certificates, sign_replies=sign_replies, kind=e["kind"],
            org_units=tuple(dict.fromkeys([cbe] + e["org_units"])), addresses=networks)
    usernames = {}
    for inst in institutions.values():
        if inst.auth == "basic":
            other = usernames.setdefault(inst.basic_username, inst.id)
            if other != inst.id:
                raise ConfigError(path, inst.id, "same enterprise number (HTTP Basic user %s) "
                                  "as %s" % (inst.basic_username, other))
    return institutions


def _load_services(path, settings, sources):
    services = {}
    paths = {}
    for n, entry in enumerate(_entries(path, read_toml(path), "service"), 1):
        where = "service #%d (%s)" % (n, entry.get("name", "no name"))
        e = take(entry, path, where, {
            "name": (str, REQUIRED), "path": (str, REQUIRED), "wsdl": (str, REQUIRED),
            "signed": (bool, False), "anonymous": (bool, False), "route": (str, "hub"),
            "implementation": (str, ""), "accept": (str, ""),
        })
        if e["name"] in services:
            raise ConfigError(path, where, "name declared twice")
        if not e["path"].startswith("/") or e["path"] in ("/", "/health"):
            raise ConfigError(path, where, "path must start with '/' and not be / or /health")
        if e["path"] in paths:
            raise ConfigError(path, where, "path already used by %s" % paths[e["path"]])
        paths[e["path"]] = e["name"]
        wsdl = _resolve(settings, e["wsdl"])
        if not wsdl.is_file():
            raise ConfigError(path, where, "WSDL file %s not found" % wsdl)
        route = e["route"]
        if route != "hub" and route not in sources:
            raise ConfigError(path, where, "route must be \"hub\" or the id of a source of "
                              "sources.toml, not %r" % route)
        accept = _resolve(settings, e["accept"]) if e["accept"] else ""
        if accept and not accept.is_file():
            raise ConfigError(path, where, "accept schema %s not found" % accept)
        services[e["name"]] = Service(name=e["name"], path=e["path"], wsdl=str(wsdl),
                                      signed=e["signed"], anonymous=e["anonymous"], route=route,
                                      implementation=e["implementation"] or e["name"],
                                      accept=str(accept))
    return services


def _load_quality_codes(path, sectors):
    codes = {}
    if not path.exists():
        return codes
    known = {code for code, _ in sectors}
    for n, entry in enumerate(_entries(path, read_toml(path), "code"), 1):
        where = "code #%d (%s/%s)" % (n, entry.get("sector"), entry.get("code"))
        e = take(entry, path, where, {
            "sector": (int, REQUIRED), "code": (int, REQUIRED), "nl": (str, REQUIRED),
            "fr": (str, REQUIRED), "exclusive": (bool, False),
        })
        if e["sector"] != UNIVERSAL and e["sector"] not in known:
            raise ConfigError(path, where, "sector %d is not in sectors.toml" % e["sector"])
        if not 0 <= e["code"] <= 999:
            raise ConfigError(path, where, "a quality code is 0..999")
        key = (e["sector"], e["code"])
        if key in codes:
            raise ConfigError(path, where, "declared twice")
        codes[key] = QualityCode(e["sector"], e["code"], e["nl"], e["fr"], e["exclusive"])
    return codes


def _load_sources(path, settings, institutions):
    sources = {}
    if not path.exists():
        return sources
    for n, entry in enumerate(_entries(path, read_toml(path), "source"), 1):
        where = "source #%d (%s)" % (n, entry.get("id", "no id"))
        e = take(entry, path, where, {
            "id": (str, REQUIRED), "host": (str, "127.0.0.1"), "port": (int, REQUIRED),
            "path": (str, REQUIRED), "url": (str, ""), "wsdl": (str, REQUIRED),
            "database": (str, ""), "timeout_seconds": (float, 5.0), "population": (int, 10000),
            "workers": (int, 1),
        })
        inst = institutions.get(e["id"])
        if inst is None or inst.kind != "source":
            raise ConfigError(path, where, "no institution %r of kind \"source\" in "
                              "institutions.toml" % e["id"])
        if e["id"] in sources:
            raise ConfigError(path, where, "id declared twice")
        if not e["path"].startswith("/"):
            raise ConfigError(path, where, "path must start with '/'")
        if e["timeout_seconds"] <= 0:
            raise ConfigError(path, where, "timeout_seconds must be positive")
        wsdl = _resolve(settings, e["wsdl"])
        if not wsdl.is_file():
            raise ConfigError(path, where, "WSDL file %s not found" % wsdl)
        url = e["url"] or "http://%s:%d%s" % (e["host"], e["port"], e["path"])
        sources[e["id"]] = Source(id=e["id"], host=e["host"], port=e["port"], path=e["path"],
                                  url=url, wsdl=str(wsdl), database_url=e["database"],
                                  timeout_seconds=e["timeout_seconds"],
                                  population=e["population"], workers=max(1, e["workers"]))
    return sources


def _resolve(settings, relative):
    return resolve_under(settings.project_root, relative)
