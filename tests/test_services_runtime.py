"""Operations called without spyne (services/runtime.py, direct_operations): each gets
what spyne would have given it, and every operation that spyne would only dispatch is
called that way."""
import datetime

import pytest
from lxml import etree
from spyne import AnyXml, Application, Unicode

from kszws.hub.exchange import Exchange
from kszws.registry import load_registry
from kszws.services import EndpointContext, build_endpoints
from kszws.services.classic import WebServiceConnector
from kszws.services.runtime import ParsedSoap11, SpyneEndpoint, _model
from kszws.wire import soap, xmlparse
from kszws.wire.ns import TEST_CONNECTION_INTF
from tests.netfixture import make_project

NOW = datetime.datetime(2026, 12, 2, 9, 30, tzinfo=datetime.timezone.utc)
CONNECTOR = "http://ksz-bcss.fgov.be/connectors/WebServiceConnector"


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("runtime"))
    registry = load_registry(project)
    context = EndpointContext(registry, lambda: NOW, dict.fromkeys(registry.sources),
                              project.project_root)
    return build_endpoints(context, project.conf_dir / "services.toml")


def _exchange():
    return Exchange(ticket="T-1", received_at=NOW, service="svc", request_size=0, peer="")


def _answer(d):
    out = []
    d.addBoth(out.append)
    return out[0]


def test_every_operation_spyne_would_only_dispatch_is_called_directly(endpoints):
    direct = spyne_only = 0
    for endpoint in endpoints.values():
        if not isinstance(endpoint, SpyneEndpoint):
            continue
        for tag, (descriptor,) in endpoint.application.interface.service_method_map.items():
            if _model(descriptor.in_message) in (AnyXml, Unicode):
                assert tag in endpoint.direct, tag
                direct += 1
            else:
                spyne_only += 1
    assert direct >= 30 and spyne_only == 0


@pytest.mark.parametrize("echo", ["hello", "", "  two  spaces ", "é & <b>"])
def test_test_connection_answers_the_same_without_spyne(endpoints, echo):
    endpoint = endpoints["TestConnectionService"]
    payload = etree.Element("{%s}sendTestMessageRequest" % TEST_CONNECTION_INTF)
    etree.SubElement(payload, "echo").text = echo
    root = xmlparse.parse(soap.serialize(soap.envelope(payload)))
    direct, spyne = _exchange(), _exchange()
    fast = _answer(endpoint.invoke(root, direct))
    slow = _answer(endpoint.invoke_with_spyne(root, spyne))
    assert soap.serialize(fast) == soap.serialize(slow)
    assert fast.findtext(".//echo") == echo
    assert (direct.operation, direct.replied_at) == (spyne.operation, spyne.replied_at) \
        == ("sendTestMessage", NOW)


def test_a_fault_echoes_the_customer_either_way(endpoints):
    """The exchange keeps the request's informationCustomer, which a fault echoes."""
    endpoint = endpoints["AttestationService"]
    tag = next(iter(endpoint.direct))
    payload = etree.Element(tag)
    etree.SubElement(etree.SubElement(payload, "informationCustomer"), "ticket").text = "C-9"
    root = xmlparse.parse(soap.serialize(soap.envelope(payload)))
    direct, spyne = _exchange(), _exchange()
    _answer(endpoint.invoke(root, direct))
    _answer(endpoint.invoke_with_spyne(root, spyne))
    assert direct.customer.findtext("ticket") == spyne.customer.findtext("ticket") == "C-9"
    assert direct.operation == spyne.operation == endpoint.direct[tag].name


class Recorder:
    """The classic gateway, reduced to what sendXML hands it."""

    def __init__(self):
        self.seen = []

    def handle(self, exchange, text):
        self.seen.append(text)
        reply = etree.Element("{%s}xmlString" % CONNECTOR)
        reply.text = "ok"
        return reply


@pytest.mark.parametrize("body", [
    "<c:xmlString xmlns:c='%s'>&lt;SSDNRequest/&gt;</c:xmlString>" % CONNECTOR,
    "<c:xmlString xmlns:c='%s'><![CDATA[<SSDNRequest a=\"1\"/>]]></c:xmlString>" % CONNECTOR,
    "<c:xmlString xmlns:c='%s'>  </c:xmlString>" % CONNECTOR,
    "<c:xmlString xmlns:c='%s'/>" % CONNECTOR,
    "<c:xmlString xmlns:c='%s' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' "
    "xsi:nil='true'/>" % CONNECTOR,
])
def test_a_string_argument_is_what_spyne_reads(body, endpoints):
    """sendXML takes a Unicode: its text, whatever the way it is written, as spyne has it
    (None for an empty element: the gateway reads `xml_string or ""`)."""
    app = Application([WebServiceConnector], tns=CONNECTOR, name="WebServiceConnector",
                      in_protocol=ParsedSoap11(), out_protocol=ParsedSoap11())
    app.gateway = Recorder()
    endpoint = SpyneEndpoint(endpoints["KSZBCSSWebServiceConnector"].service, app, "{x}fault")
    envelope = "<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body>" \
               "%s</s:Body></s:Envelope>" % body
    root = xmlparse.parse(envelope.encode())
    fast = _answer(endpoint.invoke(root, _exchange()))
    slow = _answer(endpoint.invoke_with_spyne(root, _exchange()))
    assert soap.serialize(fast) == soap.serialize(slow)
    direct, through_spyne = app.gateway.seen
    assert direct == through_spyne
