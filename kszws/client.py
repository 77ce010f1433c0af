"""The integrator's side: a zeep client of the hub, authenticated the way the calling
institution is registered (signature, HTTP Basic or client certificate). Used by
`kszws call`, the tests and the benchmarks."""
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import requests
import zeep
from lxml import etree
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport

from kszws.calling import UsageError, call_arguments, check_fields, named
from kszws.registry import load_registry
from kszws.security.keystore import (KeyStoreError, key_path_for, load_certificate,
                                     load_signing_identity)
from kszws.security.zeep_wsse import SignedExchange




def hub_client(settings, service_name, institution_id=None, base_url=None, registry=None,
               timeout=30, anonymous=False):
    """(zeep service proxy, HistoryPlugin) for `service_name`, called as `institution_id`,
    or as nobody (`anonymous`: no signature, no credentials)."""
    registry = registry or load_registry(settings, client=True)
    client, history = _zeep_client(settings, registry, service_name, timeout)
    return _bound(settings, registry, client, service_name, institution_id, base_url,
                  anonymous), history


def hub_session(settings):
    """A requests session that trusts exactly the network's CA (the demo PKI's when it is
    there): requests would otherwise let REQUESTS_CA_BUNDLE from the environment override
    the session's CA."""
    session = requests.Session()
    session.trust_env = False
    ca = settings.certs_dir / "ca.crt"
    session.verify = str(ca) if ca.exists() else True
    return session


def _zeep_client(settings, registry, service_name, timeout):
    service = named("service", service_name, registry.services)
    session = hub_session(settings)
    history = HistoryPlugin()
    client = zeep.Client(wsdl=str(Path(service.wsdl)), plugins=[history],
                         transport=Transport(session=session, timeout=timeout,
                                             operation_timeout=timeout))
    return client, history


def _bound(settings, registry, client, service_name, institution_id, base_url, anonymous):
    """The service proxy of `client`, authenticated as the institution is registered."""
    session = client.transport.session
    inst = None
    if not anonymous:
        if institution_id is None:
            institution_id = next(i.id for i in registry.clients() if i.auth == "signature")
        inst = named("institution", institution_id, registry.institutions, " (--as)")
        if inst.auth == "signature":
            client.wsse = SignedExchange(load_signing_identity(inst.certificates[0]),
                                         load_certificate(registry.hub.certificates[0]))
        elif inst.auth == "basic":
            password = (settings.certs_dir / ("%s.password" % inst.id)).read_text().strip()
            session.auth = (inst.basic_username, password)
        else:
            session.cert = (inst.certificates[0], str(key_path_for(inst.certificates[0])))
    base = _without_service_path(hub_url(settings, inst, base_url), registry)
    binding = next(iter(client.wsdl.bindings))
    return client.create_service(binding, base + registry.services[service_name].path)


def _without_service_path(base, registry):
    """The base URL, when --url was given as an endpoint the demo printed (the hub's URL
    and a service's path): the service paths are added here."""
    for service in registry.services.values():
        if service.path and service.path in base:
            return base[:base.index(service.path)]
    return base


def hub_url(settings, institution=None, given=None):
    """The hub's base URL for `institution`: `given` (--url), else from conf/kszws.toml.
    A client certificate only travels over HTTPS, so an institution in client-cert mode
    gets the HTTPS URL: the main port when it serves HTTPS, the `tls_port` listener, or
    the one the running demo wrote to demo.json; a plain-HTTP URL is refused for it."""
    client_cert = institution is not None and institution.auth == "client-cert"
    if given:
        parts = urlsplit(given)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise UsageError("--url %r is not a URL: give the hub's base URL with its scheme, "
                             "e.g. http://127.0.0.1:8080" % given)
        if client_cert and not given.lower().startswith("https:"):
            raise UsageError("%s authenticates with a TLS client certificate, which only HTTPS "
                            "carries: give the hub's HTTPS URL (--url https://...)%s" % (
                                institution.id, _known_https(settings)))
        return given.rstrip("/")
    if not client_cert:
        demo = _demo_info(settings).get("url")  # a running demo (on the port it chose)
        if demo:
            return demo
        scheme = "https" if settings.main_port_is_https else "http"
        return "%s://%s:%d" % (scheme, _host(settings.host), settings.port)
    return hub_https_url(settings, "%s authenticates with a TLS client certificate, which "
                                   "only HTTPS carries" % institution.id)


def hub_https_url(settings, why):
    """The hub's HTTPS base URL: the main port when it serves HTTPS, the `tls_port`
    listener, or the one the running demo wrote to demo.json; UsageError saying `why` it
    is needed when there is none."""
    if settings.main_port_is_https:
        return "https://%s:%d" % (_host(settings.host), settings.port)
    if settings.tls_port:
        return "https://%s:%d" % (_host(settings.host), settings.tls_port)
    demo = _demo_https_url(settings)
    if demo:
        return demo
    raise UsageError("%s, and conf/kszws.toml serves no HTTPS: give the hub's HTTPS URL "
                    "(--url https://...), set [server] tls_port, or start `kszws demo`" % why)


def _host(host):
    return host if ":" not in host else "[%s]" % host


def _demo_info(settings):
    """The URLs the running demo wrote to <data_dir>/demo.json: {"url": ..., "https_url":
    ...} with what is there and well-formed; {} without a file, for a malformed one, or
    one a demo left behind (killed: its process is gone), so that a stale or planted file
    never sends a request, or a Basic password, elsewhere than conf/kszws.toml says."""
    try:
        with open(settings.data_dir / "demo.json", "rb") as fh:
            info = json.loads(fh.read(1 << 20))
    except (OSError, ValueError, RecursionError):
        return {}
    hub = info.get("hub") if isinstance(info, dict) else None
    if not isinstance(hub, dict) or not _alive(hub.get("pid")):
        return {}
    return {key: hub[key] for key in ("url", "https_url")
            if isinstance(hub.get(key), str) and urlsplit(hub[key]).scheme in ("http", "https")
            and urlsplit(hub[key]).hostname in LOOPBACK}


LOOPBACK = {"127.0.0.1", "localhost", "::1"}  # where `kszws demo` listens


def _alive(pid):
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or someone else's: not our demo
        return False
    return True


def _demo_https_url(settings):
    """The HTTPS URL the running demo wrote to <data_dir>/demo.json, if any."""
    return _demo_info(settings).get("https_url")


def _known_https(settings):
    url = settings.tls_port and "https://%s:%d" % (_host(settings.host), settings.tls_port)
    url = url or _demo_https_url(settings)
    return " (here: %s)" % url if url else ""


def call(settings, service_name, operation, fields, institution_id=None, base_url=None,
         anonymous=False):
    """Call one operation; returns (result as zeep gives it, the reply envelope as text).
    An operation whose message is a single simple element (sendXML's xmlString) takes
    its one field's value as is. UsageError when nothing could be sent as asked
    (unknown service, operation, institution or field); TransportError when the hub did
    not answer."""
    registry = load_registry(settings, client=True)
    client, history = _zeep_client(settings, registry, service_name, 30)
    binding = next(iter(client.wsdl.bindings.values()))
    op = named("operation", operation, binding._operations, " in %s" % service_name)
    check_fields(service_name, operation, op, fields)
    try:
        proxy = _bound(settings, registry, client, service_name, institution_id, base_url,
                       anonymous)
    except (KeyStoreError, OSError) as exc:
        raise UsageError("the keys of %s: %s" % (institution_id or "the caller", exc)) from None
    args, kwargs = call_arguments(op, fields)
    try:
        result = getattr(proxy, operation)(*args, **kwargs)
    except requests.RequestException as exc:
        raise TransportError(proxy._binding_options["address"], exc) from exc
    except zeep.exceptions.ValidationError as exc:
        raise UsageError("%s.%s: %s" % (service_name, operation, exc)) from None
    reply = history.last_received["envelope"] if history.last_received else None
    text = etree.tostring(reply, pretty_print=True).decode() if reply is not None else ""
    return zeep.helpers.serialize_object(result, dict), text


class TransportError(UsageError):
    """The hub did not answer (not running, wrong URL, TLS refused): nothing came back."""

    def __init__(self, url, exc):
        if isinstance(exc, requests.exceptions.SSLError):
            why = "the TLS handshake failed (%s)" % _short(exc)
        elif isinstance(exc, requests.Timeout):
            why = "no answer in time"
        else:
            why = "nothing answers there"
        super().__init__("the hub at %s: %s; is it running (`kszws demo` or `kszws serve`), "
                         "and is that its URL (--url)?" % (url, why))


def _short(exc):
    text = str(exc)
    return text if len(text) < 160 else text[:157] + "..."
