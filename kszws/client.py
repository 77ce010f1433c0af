"""The integrator's side: a zeep client of the hub, authenticated the way the calling
institution is registered (signature, HTTP Basic or client certificate). Used by
`kszws call`, the tests and the benchmarks."""
from pathlib import Path

import requests
import zeep
from lxml import etree
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport

from kszws.registry import load_registry
from kszws.security.keystore import key_path_for, load_certificate, load_signing_identity
from kszws.security.zeep_wsse import SignedExchange


def hub_client(settings, service_name, institution_id=None, base_url=None, registry=None,
               timeout=30, anonymous=False):
    """(zeep service proxy, HistoryPlugin) for `service_name`, called as `institution_id`,
    or as nobody (`anonymous`: no signature, no credentials)."""
    registry = registry or load_registry(settings)
    service = registry.services[service_name]
    session = requests.Session()
    # Trust exactly the network's CA: requests would otherwise let REQUESTS_CA_BUNDLE from
    # the environment override the session's CA.
    session.trust_env = False
    ca = settings.certs_dir / "ca.crt"
    session.verify = str(ca) if ca.exists() else True
    wsse = None
    if not anonymous:
        if institution_id is None:
            institution_id = next(i.id for i in registry.clients() if i.auth == "signature")
        inst = registry.institution(institution_id)
        if inst.auth == "signature":
            wsse = SignedExchange(load_signing_identity(inst.certificates[0]),
                                  load_certificate(registry.hub.certificates[0]))
        elif inst.auth == "basic":
            password = (settings.certs_dir / ("%s.password" % inst.id)).read_text().strip()
            session.auth = (inst.basic_username, password)
        else:
            session.cert = (inst.certificates[0], str(key_path_for(inst.certificates[0])))
    history = HistoryPlugin()
    client = zeep.Client(wsdl=str(Path(service.wsdl)), wsse=wsse, plugins=[history],
                         transport=Transport(session=session, timeout=timeout,
                                             operation_timeout=timeout))
    scheme = "https" if settings.tls_certificate else "http"
    base = (base_url or "%s://%s:%d" % (scheme, settings.host, settings.port)).rstrip("/")
    binding = next(iter(client.wsdl.bindings))
    return client.create_service(binding, base + service.path), history


def call(settings, service_name, operation, fields, institution_id=None, base_url=None,
         anonymous=False):
    """Call one operation; returns (result as plain data, the reply envelope as text).
    An operation whose message is a single simple element (sendXML's xmlString) takes
    its one field's value as is."""
    proxy, history = hub_client(settings, service_name, institution_id, base_url,
                                anonymous=anonymous)
    body = proxy._binding._operations[operation].input.body
    if len(fields) == 1 and not hasattr(body.type, "elements"):
        result = getattr(proxy, operation)(next(iter(fields.values())))
    else:
        result = getattr(proxy, operation)(**{k: _any_elements(v) for k, v in fields.items()})
    reply = history.last_received["envelope"] if history.last_received else None
    text = etree.tostring(reply, pretty_print=True).decode() if reply is not None else ""
    return zeep.helpers.serialize_object(result, dict), text


def _any_elements(value):
    """Inside a JSON field, a string that is an XML element becomes one: an xsd:any
    (`{"payload": {"_value_1": "<p:integrationIncome xmlns:p=...>...</p:...>"}}`)."""
    if isinstance(value, dict):
        return {k: _any_elements(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_any_elements(v) for v in value]
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        from kszws.wire import xmlparse

        return xmlparse.parse(value.encode("utf-8"))
    return value
