"""Reading and checking the registry in conf/: sectors.toml, institutions.toml, services.toml.

Every problem raises ConfigError naming the file, the entry and the problem, so that a bad
configuration stops start-up instead of surfacing as a refused call hours later.
"""
import datetime
import ipaddress
import re

from kszws import ids
from kszws.config import REQUIRED, ConfigError, read_toml, resolve_under, take
from kszws.registry.access import (DATA_SERVICES, WITHOUT_LEGAL_CONTEXT, AccessPolicy,
                                   Authorization, Embargo, Exemption)
from kszws.registry.model import (AUTH_MODES, MUTATION_CHANNELS, UNIVERSAL, AttestationType,
                                  Institution, QualityCode, Registry, Sector, Service, Source)

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def load_registry(settings, client=False):
    """The registry of conf/. `client`: only what a caller of the hub needs (institutions,
    sectors, sources, services): the quality codes, access rules and attestation types,
    whose parsing is most of a registry's load, stay empty (`kszws call` starts faster)."""
    conf = settings.conf_dir
    sectors = _load_sectors(conf / "sectors.toml")
    institutions = _load_institutions(conf / "institutions.toml", settings, sectors)
    hub = institutions.get(settings.hub_institution)
    if hub is None or hub.kind != "hub":
        raise ConfigError(conf / "institutions.toml", settings.hub_institution,
                          "the hub institution named in kszws.toml [hub] is not declared "
                          "with kind = \"hub\"")
    sources = _load_sources(conf / "sources.toml", settings, institutions)
    services = _load_services(conf / "services.toml", settings, sources)
    if client:
        return Registry(hub=hub, institutions=institutions, services=services,
                        sectors=sectors, sources=sources)
    quality_codes = _load_quality_codes(conf / "quality_codes.toml", sectors)
    registry = Registry(hub=hub, institutions=institutions, services=services, sectors=sectors,
                        sources=sources, quality_codes=quality_codes)
    access = _load_access(conf / "access.toml", registry)
    attestation_types = _load_attestation_types(conf / "attestations.toml", registry, settings)
    return Registry(hub=hub, institutions=institutions, services=services, sectors=sectors,
                    sources=sources, quality_codes=quality_codes, access=access,
                    attestation_types=attestation_types)


def _entries(path, raw, table, others=()):
    unknown = set(raw) - {table} - set(others)
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
            "acts_for": (list, []), "mutations": (str, "mailbox"),
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
        if e["mutations"] not in MUTATION_CHANNELS:
            raise ConfigError(path, where, "mutations must be one of %s"
                              % ", ".join(MUTATION_CHANNELS))
        if e["kind"] not in ("institution", "hub", "source", "employer"):
            raise ConfigError(path, where, "kind must be institution, hub, source or employer")
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
            org_units=tuple(dict.fromkeys([cbe] + e["org_units"])), addresses=networks,
            acts_for=tuple(e["acts_for"]), mutations=e["mutations"])
    for inst in institutions.values():
        for employer in inst.acts_for:
            if getattr(institutions.get(employer), "kind", None) != "employer":
                raise ConfigError(path, inst.id, "acts_for names %r, which is not an employer "
                                  "(kind = \"employer\")" % employer)
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


_ACCESS_TABLES = ("authorization", "exemption", "classic_context", "embargo",
                  "data_protection_officers")


def _load_access(path, registry):
    """conf/access.toml: the published authorizations and the rules around them."""
    if not path.exists():
        return AccessPolicy()
    raw = read_toml(path)
    authorizations = [_authorization(path, n, e, registry)
                      for n, e in enumerate(_entries(path, raw, "authorization",
                                                     _ACCESS_TABLES), 1)]
    if len({a.id for a in authorizations}) != len(authorizations):
        raise ConfigError(path, "authorization", "an id is declared twice")
    exemptions = []
    for n, entry in enumerate(_entries(path, raw, "exemption", _ACCESS_TABLES), 1):
        where = "exemption #%d" % n
        e = take(entry, path, where, {"service": (str, REQUIRED), "data_group": (str, REQUIRED),
                                      "reason": (str, REQUIRED)})
        _check_data_groups(path, where, e["service"], [e["data_group"]])
        exemptions.append(Exemption(e["service"], e["data_group"], e["reason"]))
    contexts = {}
    for n, entry in enumerate(_entries(path, raw, "classic_context", _ACCESS_TABLES), 1):
        where = "classic_context #%d" % n
        e = take(entry, path, where, {"sector": (int, REQUIRED),
                                      "legal_context": (str, REQUIRED)})
        if e["sector"] not in {code for code, _ in registry.sectors}:
            raise ConfigError(path, where, "sector %d is not in sectors.toml" % e["sector"])
        contexts[e["sector"]] = _legal_context(path, where, e["legal_context"])
    embargoes = []
    for n, entry in enumerate(_entries(path, raw, "embargo", _ACCESS_TABLES), 1):
        where = "embargo #%d" % n
        e = take(entry, path, where, {"legal_context": (str, REQUIRED), "days": (int, REQUIRED),
                                      "reason": (str, REQUIRED)})
        if e["days"] <= 0:
            raise ConfigError(path, where, "days must be positive")
        embargoes.append(Embargo(_legal_context(path, where, e["legal_context"]), e["days"],
                                 e["reason"]))
    officers = raw.get("data_protection_officers", [])
    if not isinstance(officers, list) or any(o not in registry.institutions for o in officers):
        raise ConfigError(path, "data_protection_officers", "must list institution ids of "
                          "institutions.toml")
    return AccessPolicy(tuple(authorizations), tuple(exemptions), contexts, tuple(embargoes),
                        frozenset(officers))


def _authorization(path, n, entry, registry):
    where = "authorization #%d (%s)" % (n, entry.get("id", "no id"))
    e = take(entry, path, where, {
        "id": (str, REQUIRED), "deliberation": (str, REQUIRED),
        "deliberation_date": (datetime.date, REQUIRED), "title": (str, REQUIRED),
        "sector": (int, REQUIRED), "subsector": (int, None), "service": (str, REQUIRED),
        "data_groups": (list, REQUIRED), "legal_contexts": (list, []),
        "quality_codes": (list, REQUIRED), "valid_from": (datetime.date, REQUIRED),
        "valid_until": (datetime.date, None),
    })
    sector, subsector = e["sector"], e["subsector"]
    known = (sector, subsector) in registry.sectors if subsector is not None \
        else any(code == sector for code, _ in registry.sectors)
    if not known:
        raise ConfigError(path, where, "sector %d%s is not in sectors.toml"
                          % (sector, "" if subsector is None else ".%d" % subsector))
    _check_data_groups(path, where, e["service"], e["data_groups"])
    if not e["legal_contexts"] and e["service"] not in WITHOUT_LEGAL_CONTEXT:
        raise ConfigError(path, where, "legal_contexts must name at least one legal context")
    if e["legal_contexts"] and e["service"] in WITHOUT_LEGAL_CONTEXT:
        raise ConfigError(path, where, "%s are delivered without a request: no legal_contexts"
                          % e["service"])
    contexts = [_legal_context(path, where, c) for c in e["legal_contexts"]]
    for code in e["quality_codes"]:
        if not isinstance(code, int) or registry.quality_code(sector, code) is None:
            raise ConfigError(path, where, "quality code %r is not valid in sector %d "
                              "(quality_codes.toml)" % (code, sector))
    if e["valid_until"] is not None and e["valid_until"] < e["valid_from"]:
        raise ConfigError(path, where, "valid_until is before valid_from")
    if isinstance(e["valid_from"], datetime.datetime):
        raise ConfigError(path, where, "valid_from is a date, without a time")
    return Authorization(
        id=e["id"], deliberation=e["deliberation"], deliberation_date=e["deliberation_date"],
        title=e["title"], sector=sector, subsector=subsector, service=e["service"],
        data_groups=frozenset(e["data_groups"]), legal_contexts=frozenset(contexts),
        quality_codes=frozenset(e["quality_codes"]), valid_from=e["valid_from"],
        valid_until=e["valid_until"])


def _check_data_groups(path, where, service, groups):
    known = DATA_SERVICES.get(service)
    if known is None:
        raise ConfigError(path, where, "service %r is not a personal-data service (known: %s)"
                          % (service, ", ".join(sorted(DATA_SERVICES))))
    wrong = [g for g in groups if g not in known]
    if wrong or not groups:
        raise ConfigError(path, where, "data groups of %s are %s, not %r"
                          % (service, ", ".join(known), wrong or groups))


def _legal_context(path, where, text):
    if not isinstance(text, str) or not text.strip() or len(text) > 64:
        raise ConfigError(path, where, "a legal context is a non-empty string of at most 64 "
                          "characters, not %r" % (text,))
    return text


_TYPE_CODE = re.compile(r"^[a-z0-9_]{1,24}$")


def _load_attestation_types(path, registry, settings):
    """conf/attestations.toml: the catalogue of electronic attestations."""
    from lxml import etree

    if not path.exists():
        return {}
    types = {}
    known_sectors = {code for code, _ in registry.sectors}
    for n, entry in enumerate(_entries(path, read_toml(path), "type"), 1):
        where = "type #%d (%s)" % (n, entry.get("code", "no code"))
        e = take(entry, path, where, {
            "code": (str, REQUIRED), "name_nl": (str, REQUIRED), "name_fr": (str, REQUIRED),
            "publisher_sector": (int, REQUIRED), "legal_basis": (str, REQUIRED),
            "schema": (str, REQUIRED), "element": (str, REQUIRED),
            "destination": (list, REQUIRED), "classic_code": (int, 0),
        })
        if not _TYPE_CODE.match(e["code"]) or e["code"] in types:
            raise ConfigError(path, where, "code must be 1-24 of a-z, 0-9, _ and unique")
        if e["publisher_sector"] not in known_sectors:
            raise ConfigError(path, where, "publisher_sector %d is not in sectors.toml"
                              % e["publisher_sector"])
        schema = _resolve(settings, e["schema"])
        try:
            tree = etree.parse(str(schema))
        except (OSError, etree.XMLSyntaxError) as exc:
            raise ConfigError(path, where, "schema %s: %s" % (schema, exc)) from None
        xs = "{http://www.w3.org/2001/XMLSchema}"
        if tree.getroot().find("%selement[@name='%s']" % (xs, e["element"])) is None:
            raise ConfigError(path, where, "schema %s declares no element %r"
                              % (schema, e["element"]))
        namespace = tree.getroot().get("targetNamespace", "")
        destinations = []
        for d in e["destination"]:
            d = take(d, path, where + " destination", {
                "sector": (int, REQUIRED), "subsector": (int, None),
                "quality_codes": (list, REQUIRED)})
            if (d["sector"], d["subsector"] or 0) not in registry.sectors \
                    and d["sector"] not in known_sectors:
                raise ConfigError(path, where, "destination sector %d is not in sectors.toml"
                                  % d["sector"])
            for code in d["quality_codes"]:
                if not isinstance(code, int) or registry.quality_code(d["sector"], code) is None:
                    raise ConfigError(path, where, "quality code %r is not valid in sector %d"
                                      % (code, d["sector"]))
            destinations.append((d["sector"], d["subsector"], frozenset(d["quality_codes"])))
        if not destinations:
            raise ConfigError(path, where, "a type needs at least one [[type.destination]]")
        types[e["code"]] = AttestationType(
            code=e["code"], name_nl=e["name_nl"], name_fr=e["name_fr"],
            publisher_sector=e["publisher_sector"], legal_basis=e["legal_basis"],
            schema=str(schema), element="{%s}%s" % (namespace, e["element"]),
            destinations=tuple(destinations), classic_code=e["classic_code"])
    return types
