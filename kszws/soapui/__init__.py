"""`kszws soapui export`: SoapUI projects of the hub's services, made from the running hub
(its WSDLs and schemas, cached in the project so that it opens offline) and the demo data
(scenarios.py), with the keystores and WS-Security configuration a signed call needs."""
import secrets
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import zeep
from lxml import etree

from kszws.calling import UsageError, call_arguments, named
from kszws.client import TransportError, hub_session, hub_url
from kszws.registry import load_registry
from kszws.security import pki
from kszws.security.keystore import key_path_for
from kszws.soapui import project, scenarios
from kszws.wire import xmlparse
from kszws.wire.reasons import Refusal

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
ALL_IN_ONE = "kszws-soapui-project.xml"
# What an export may fetch: the hub's WSDLs import a few schemas each.
MAX_PARTS = 50  # documents per interface
MAX_BYTES = 4 << 20  # per document
EXPORT_SECONDS = 120  # the whole export's fetching


def export(settings, out_dir, institution=None, base_url=None, per_service=False):
    """Write the project(s) and the keystores they name into `out_dir`; returns the paths
    written. `institution` (--as): the projects hold only what it does alone."""
    registry = load_registry(settings, client=True)
    integrator = _integrator(registry, institution)
    suites = scenarios.suites(registry, settings.project_root / "examples", integrator)
    if institution:  # what it does alone; a service it never calls is left out
        suites = {name: [c for c in cases if scenarios.callers([c]) <= {integrator}]
                  for name, cases in suites.items()}
        suites = {name: cases for name, cases in suites.items()
                  if scenarios.callers(cases) or registry.services[name].anonymous}
    base = hub_url(settings, None, base_url)
    out_dir = Path(out_dir)
    builder = _Builder(settings, registry, base)
    groups = ({name: {name: cases} for name, cases in suites.items()} if per_service
              else {None: suites})
    # Everything is built (and the hub read) before anything is written.
    built = {}
    for service, group in groups.items():
        used = sorted({step.service for cases in group.values() for case in cases
                       for step in case.steps})
        built[service] = ([builder.interface(name, group, own_only=bool(institution))
                           for name in used],
                          [builder.suite(name, cases) for name, cases in group.items()])
    signers = sorted({who for interfaces, test_suites in built.values()
                      for who in _signers(interfaces, test_suites)})
    keys = {who: _signing_key(registry, who) for who in signers}
    keystores = {who: project.Keystore("keys/%s.p12" % who, secrets.token_urlsafe(15), who)
                 for who in signers}
    files = {}
    for service, (interfaces, test_suites) in built.items():
        title = "kszws %s" % (service or "hub") + (" (as %s)" % institution if institution
                                                     else "")
        root = project.document(title, _description(base), interfaces, test_suites, {
            _wss_name(who): keystores[who] for who in _signers(interfaces, test_suites)})
        files[out_dir / ("%s-soapui-project.xml" % service if service else ALL_IN_ONE)] = \
            project.serialize(root)
    targets = [out_dir / k.path for k in keystores.values()] + list(files)
    for path in [out_dir, out_dir / "keys"]:
        if path.exists() and not path.is_dir():
            raise UsageError("--out: %s is a file, not a folder" % path)
    for path in targets:
        if path.is_dir():
            raise UsageError("--out: %s is a folder, where the export writes a file" % path)
    ca = settings.certs_dir / "ca.crt"
    chain = [pki.read_cert(ca)] if ca.exists() else []
    try:
        (out_dir / "keys").mkdir(parents=True, exist_ok=True)
        for who, (key, cert) in keys.items():
            store = keystores[who]
            pki.write_keystore(str(out_dir / store.path), who, key, cert, chain,
                               store.password)
        for path, data in files.items():  # they hold the keystores' passwords: 0600 too
            pki.write_private(path, data)
    except OSError as exc:
        raise UsageError("--out: %s" % exc) from None
    return targets, keystores


def _integrator(registry, institution):
    if institution is None:
        return "cpas-eupen" if "cpas-eupen" in registry.institutions else next(
            i.id for i in registry.clients() if i.auth == "signature")
    inst = named("institution", institution, registry.institutions, " (--as)")
    if inst.auth != "signature":
        raise UsageError("%s authenticates with %s: the exported projects sign their "
                         "requests (WS-Security), give an institution that signs (--as), "
                         "e.g. %s" % (inst.id, inst.auth, ", ".join(
                             i.id for i in registry.clients() if i.auth == "signature")))
    return inst.id


WSS_PREFIX = "sign as "


def _wss_name(institution):
    return WSS_PREFIX + institution


def _wss_of(step):
    """The outgoing WS-Security configuration a step's request names ("" unsigned)."""
    return "" if step.caller == scenarios.ANONYMOUS else _wss_name(step.caller)


def _signers(interfaces, test_suites):
    """The institutions whose outgoing configuration some request names."""
    names = {op.outgoing_wss for i in interfaces for op in i.operations} | {
        step.outgoing_wss for suite in test_suites for case in suite.cases
        for step in case.steps}
    return {name[len(WSS_PREFIX):] for name in names if name}


def _description(base):
    return ("kszws hub at %s: a request per operation, and test suites on the demo data "
            "(kszws demo). Each signed request names its outgoing WS-Security "
            "configuration (Timestamp, then a Signature of the Body and the Timestamp: "
            "RSA-SHA256, SHA-256, exclusive C14N, BinarySecurityToken) and the keystore "
            "in keys/." % base)


def _signing_key(registry, who):
    """(private key, certificate) of the institution, from the demo PKI."""
    inst = registry.institution(who)
    cert_path = inst.certificates[0]
    key_path = key_path_for(cert_path)
    if not Path(key_path).exists():
        raise UsageError("no private key for %s at %s: only the demo PKI's keys can be "
                         "exported (run `kszws pki init` or `kszws demo`)" % (who, key_path))
    return pki.read_key(key_path), pki.read_cert(cert_path)


class _Builder:
    """Turns scenarios into SoapUI model objects, fetching each service's contract once."""

    def __init__(self, settings, registry, base):
        self.settings = settings
        self.registry = registry
        self.base = base
        self.clients = {}
        self.session = hub_session(settings)
        self.deadline = time.monotonic() + EXPORT_SECONDS
        # every scenario, for an operation the project's own test cases do not make
        self.everywhere = scenarios.suites(registry, settings.project_root / "examples")

    def client(self, service):
        if service not in self.clients:
            wsdl = named("service", service, self.registry.services).wsdl
            self.clients[service] = zeep.Client(wsdl=str(wsdl))
        return self.clients[service]

    def binding(self, service):
        return next(iter(self.client(service).wsdl.bindings.values()))

    def endpoint(self, service):
        return self.base + self.registry.services[service].path

    def envelope(self, step):
        """The step's request envelope as text, unsigned (SoapUI signs when sending)."""
        client = self.client(step.service)
        op = self.binding(step.service)._operations[step.operation]
        args, kwargs = call_arguments(op, step.fields)
        message = client.create_message(client.service, step.operation, *args, **kwargs)
        for name, expansion in step.expand.items():
            for element in message.iter("{*}%s" % name, name):
                element.text = expansion
        etree.indent(message, space="   ")
        return etree.tostring(message, encoding="unicode")

    def action(self, service, operation):
        return self.binding(service)._operations[operation].soapaction or ""

    def suite(self, service, cases):
        return project.TestSuite("%s TestSuite" % service, tuple(
            project.TestCase(case.name, case.description,
                             tuple(self.step(step) for step in case.steps))
            for case in cases))

    def step(self, step):
        return project.RequestStep(
            step.name, self.binding(step.service).name.localname, step.operation,
            self.action(step.service, step.operation), self.endpoint(step.service),
            self.envelope(step), _wss_of(step), _assertions(step))

    def interface(self, service, suites, own_only=False):
        """The service's interface; each operation's request is the step of the scenarios
        that best stands alone (_alone), taken from `suites` when they have one."""
        first = {}
        # the project's own steps first; with --as, only them (no other institution's key)
        for source in (suites,) if own_only else (suites, self.everywhere):
            found = {}
            for cases in source.values():
                for step in (s for case in cases for s in case.steps if s.service == service):
                    if step.operation not in found or _alone(step) > _alone(
                            found[step.operation]):
                        found[step.operation] = step
            first = {**found, **first}
        binding = self.binding(service)
        operations = []
        for name in sorted(binding._operations):
            step = first.get(name)
            if step is None and own_only:  # an operation it makes in no test case
                operations.append(project.Operation(name, self.action(service, name), "", ""))
                continue
            if step is None:
                raise UsageError("no demo request for %s.%s (kszws/soapui/scenarios.py)"
                                 % (service, name))
            operations.append(project.Operation(name, self.action(service, name),
                                                self.envelope(step), _wss_of(step)))
        wsdl_url = self.endpoint(service) + "?wsdl"
        return project.Interface(binding.name.localname, binding.name.text, wsdl_url,
                                 tuple(self.parts(wsdl_url)), self.endpoint(service),
                                 tuple(operations))

    def parts(self, wsdl_url):
        """(url, text, type) of the WSDL at `wsdl_url` and of every schema it imports, as
        the hub serves them. What the answers make it fetch is bounded (the hub's own
        origin only, MAX_PARTS documents of MAX_BYTES each, EXPORT_SECONDS in all) and
        each is read with the hub's own hardened parser: a hostile --url gets a clear
        error, never a file, another host's document or all the memory."""
        found, queue, seen = [], [wsdl_url], {wsdl_url}
        while queue:
            url = queue.pop(0)
            if len(found) == MAX_PARTS:
                raise UsageError("%s imports more than %d documents" % (wsdl_url, MAX_PARTS))
            data = self._fetch(url)
            try:
                root = xmlparse.parse(data)
                text = data.decode("utf-8")
            except (Refusal, UnicodeDecodeError) as exc:
                raise UsageError("%s is not a UTF-8 WSDL or schema kszws reads: %s"
                                 % (url, getattr(exc, "detail", None) or exc)) from None
            kind = project.WSDL_TYPE if root.tag == "{%s}definitions" % WSDL_NS else \
                project.XSD_TYPE
            found.append((url, text, kind))
            for ref in root.iter("{%s}import" % XSD_NS, "{%s}include" % XSD_NS,
                                 "{%s}import" % WSDL_NS):
                location = ref.get("schemaLocation") or ref.get("location")
                target = urljoin(url, location) if location else None
                if target is None or target in seen:
                    continue
                if _origin(target) != _origin(self.base):
                    raise UsageError("%s imports %s, outside the hub (%s): not fetched"
                                     % (url, target, _origin(self.base)))
                seen.add(target)
                queue.append(target)
        return found

    def _fetch(self, url):
        """The body at `url`, at most MAX_BYTES (decompressed), within the export's time."""
        left = self.deadline - time.monotonic()
        try:
            if left <= 0:
                raise requests.Timeout()
            with self.session.get(url, timeout=(min(left, 10), min(left, 10)),
                                  stream=True) as reply:
                if reply.status_code != 200:
                    raise UsageError("the hub answered %d for %s" % (reply.status_code, url))
                chunks, size = [], 0
                for chunk in reply.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise UsageError("%s is larger than %d MB" % (url, MAX_BYTES >> 20))
                    if time.monotonic() > self.deadline:
                        raise requests.Timeout()
                    chunks.append(chunk)
                return b"".join(chunks)
        except requests.RequestException as exc:
            raise TransportError(url, exc) from None


def _origin(url):
    parts = urlsplit(url)
    return "%s://%s" % (parts.scheme.lower(), parts.netloc.lower())


def _alone(step):
    """How well a step stands alone as an operation's example request: 2 answered without
    a fault and needing no earlier reply, 1 needing one, 0 refused."""
    if step.fault:
        return 0
    return 1 if any("#Response#" in v for v in step.expand.values()) else 2


def _assertions(step):
    if step.fault:
        return (project.Assertion("SOAP Response", "SOAP Response"),
                project.Assertion("SOAP Fault", "SOAP Fault"),
                project.Assertion("XPath Match", "refused with %s" % step.fault,
                                  "//reasonCode", step.fault))
    return (project.Assertion("SOAP Response", "SOAP Response"),
            project.Assertion("Not SOAP Fault", "Not SOAP Fault"),
            *(project.Assertion("XPath Match", "%s = %s" % (path, expected), path, expected)
              for path, expected in step.checks))
