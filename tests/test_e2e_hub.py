"""The hub over real HTTP on loopback: the first service, bad input, contracts, health."""
import requests
from lxml import etree

from kszws.client import hub_client
from kszws.hub.validation import SchemaCatalogue
from kszws.services.publish import PublishedContract
from kszws.wire import soap
from tests.netfixture import ROOT
from tests.soaptools import HEADERS, Answer, log_row, post, request_envelope, signed

WSDL = ROOT / "wsdl" / "TestConnectionService.wsdl"


def refused(net, data, code, status=500, headers=None, method="POST", path=None):
    url = net.url + path if path else net.endpoint()
    if data is not None and not isinstance(data, bytes):
        data = soap.serialize(data)
    response = requests.request(method, url, data=data, headers=headers or HEADERS, timeout=30)
    assert response.status_code == status, response.text[:500]
    answer = Answer(response, net.settings)
    assert answer.fault is not None and answer.reason == code, response.text[:800]
    assert answer.signed
    assert b"Traceback" not in response.content
    row = log_row(net.settings, answer.ticket)
    assert row is not None and row["reason_code"] == code
    return answer, row


def test_send_test_message_as_basic_client(net):
    """The way real PHP clients call it: HTTP Basic, no WS-Security."""
    proxy, _ = hub_client(net.settings, "TestConnectionService", "cpas-liege", net.url)
    result = proxy.sendTestMessage(echo="ping")
    assert result.echo == "ping"
    assert not result.sslCertificate  # no certificate authenticated the caller
    row = log_row(net.settings, result.informationCBSS.ticketCBSS)
    assert row["caller"] == "cpas-liege" and row["auth_method"] == "basic"
    assert row["operation"] == "sendTestMessage"


def test_reply_matches_the_published_schema(net):
    catalogue = SchemaCatalogue.from_files([WSDL])
    answer = Answer(post(net.endpoint(), signed(net.settings, "cpas-eupen")), net.settings)
    payload = soap.body_payload(answer.body)
    assert catalogue.validate(payload) == []
    assert [c.tag for c in payload] == ["informationCBSS", "echo", "sslCertificate"]


def test_reply_matches_the_real_cbss_schema(net, cbss):
    schema = etree.XMLSchema(etree.parse(str(cbss / "XSD" / "TestConnectionServiceV1.xsd")))
    answer = Answer(post(net.endpoint(), signed(net.settings, "cpas-eupen")), net.settings)
    payload = soap.body_payload(answer.body)
    # The real WSDL declares sendTestMessageResponse of test:SendTestMessageResponseType.
    typed = etree.Element("{http://kszbcss.fgov.be/types/TestConnectionService/v1}probe")
    typed.extend(list(payload))
    wrapper = etree.XMLSchema(etree.fromstring(
        b'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        b'xmlns:t="http://kszbcss.fgov.be/types/TestConnectionService/v1" '
        b'targetNamespace="http://kszbcss.fgov.be/types/TestConnectionService/v1">'
        b'<xsd:include schemaLocation="' + (cbss / "XSD" / "TestConnectionServiceV1.xsd").as_uri().encode()
        + b'"/><xsd:element name="probe" type="t:SendTestMessageResponseType"/></xsd:schema>'))
    assert schema is not None
    assert wrapper.validate(typed), wrapper.error_log


def test_served_wsdl_does_not_drift_from_the_published_file(net):
    served = requests.get(net.endpoint() + "?wsdl", timeout=10)
    assert served.status_code == 200
    published = PublishedContract(WSDL)
    assert served.content == published.wsdl(net.endpoint())
    # The only differences from the file are the address and the schema locations.
    a, b = etree.fromstring(served.content), etree.parse(str(WSDL)).getroot()
    for tree in (a, b):
        for elt in tree.iter():
            for attr in ("location", "schemaLocation"):
                elt.attrib.pop(attr, None)
    assert etree.tostring(a, method="c14n") == etree.tostring(b, method="c14n")
    for name in published.schema_names:
        xsd = requests.get(net.endpoint() + "?xsd=" + name, timeout=10)
        assert xsd.status_code == 200 and b"schema" in xsd.content
    assert requests.get(net.endpoint() + "?xsd=nope.xsd", timeout=10).status_code == 404


def test_spyne_implements_exactly_the_published_operations(net):
    """The Spyne application behind the endpoint and the published WSDL agree."""
    from kszws.clock import utcnow
    from kszws.services import EndpointContext, testconnection

    app = testconnection.endpoint(None, EndpointContext(None, utcnow, {}, ROOT)).application
    implemented = {k for k in app.interface.service_method_map}
    catalogue = SchemaCatalogue.from_files([WSDL])
    requests_published = {e for e in catalogue.elements() if e.endswith("Request")}
    assert implemented == requests_published


def test_zeep_client_from_the_served_wsdl(net):
    import zeep

    client = zeep.Client(net.endpoint() + "?wsdl",
                         transport=zeep.transports.Transport(session=_basic_session(net)))
    assert client.service.sendTestMessage(echo="via served wsdl").echo == "via served wsdl"


def _basic_session(net):
    session = requests.Session()
    session.auth = ("E0207311071",
                    (net.settings.certs_dir / "cpas-liege.password").read_text().strip())
    return session


# -- bad input: a signed SOAP Fault with a stable code and a log row, never a crash -----------

def test_malformed_xml(net):
    refused(net, b"<soapenv:Envelope><oops", "XML00001")


def test_xxe(net):
    refused(net, b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>', "XML00002")


def test_entity_expansion_bomb(net):
    bomb = b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %s "%s">' % (b"a" * (i + 1), (b"&" + b"a" * i + b";") * 10)
        for i in range(1, 9)) + b']><l>&aaaaaaaaa;</l>'
    refused(net, bomb, "XML00002")


def test_deep_nesting(net):
    refused(net, b"<a>" * 100000 + b"</a>" * 100000, "XML00003", status=500)


def test_body_over_the_size_limit(net):
    big = soap.serialize(request_envelope("x" * (net.settings.max_body_bytes + 10)))
    refused(net, big, "HTTP0003", status=413)


def test_wrong_content_type(net):
    refused(net, soap.serialize(request_envelope()), "HTTP0002", status=415,
            headers={"Content-Type": "application/json"})


def test_unknown_operation(net):
    env = request_envelope()
    env.find(soap.BODY)[0].tag = "{http://kszbcss.fgov.be/intf/TestConnectionServiceService/v1}dropTables"
    refused(net, env, "SEC00001", status=401)  # unauthenticated: refused before anything else
    password = (net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    answer = Answer(post(net.endpoint(), env, auth=("E0207311071", password)), net.settings)
    assert answer.reason == "SOAP0002" and answer.signed


def test_schema_violation(net):
    env = request_envelope()
    env.find(soap.BODY)[0].append(etree.Element("unexpected"))
    password = (net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    answer = Answer(post(net.endpoint(), env, auth=("E0207311071", password)), net.settings)
    assert answer.reason == "MSG00008" and "unexpected" in answer.root.findtext(".//diagnostic")


def test_invalid_utf8(net):
    data = soap.serialize(request_envelope("ABC")).replace(b"ABC", b"\xff\xfe\xc3")
    refused(net, data, "XML00004")


def test_not_a_soap_envelope(net):
    refused(net, b"<hello/>", "SOAP0001")


def test_get_without_wsdl_and_other_methods(net):
    refused(net, None, "HTTP0001", status=405, method="GET")
    refused(net, b"x", "HTTP0001", status=405, method="PUT")


def test_unknown_path(net):
    """404, a signed fault and a log row holding only the path's first segment, decoded
    and with its digits masked, and the length of the rest: anyone can send any path,
    and the log is no place for an SSIN (however written) or a name."""
    answer, row = refused(net, soap.serialize(request_envelope()), "HTTP0006", status=404,
                          path="/no/such/service/70100853190")
    assert row["detail"] == "no endpoint at /no (+25 characters)"
    for path, logged in (("/70.10.08-531.90", "/##.##.##-###.##"),
                         ("/%37%30%31%30%30%38%35%33%31%39%30", "/###########"),
                         ("/Max%20Mustermann/x", "/Max Mustermann (+2 characters)")):
        answer, row = refused(net, soap.serialize(request_envelope()), "HTTP0006",
                              status=404, path=path)
        assert row["detail"] == "no endpoint at " + logged, (path, row["detail"])


def test_wrong_basic_password(net):
    answer = Answer(post(net.endpoint(), request_envelope(), auth=("E0207311071", "wrong")),
                    net.settings)
    assert answer.reason == "SEC00009"


def test_health(net):
    response = requests.get(net.url + "/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "database", "certificate", "maintenance")} == {
        "status": "ok", "database": True, "certificate": True, "maintenance": False}
    # No source runs beside this hub: listed, for monitoring, without a 503 (test_health.py).
    assert set(body["sources"]) == {"national-register", "employer-directory",
                                    "pension-cadastre"}
    assert set(body["sources"].values()) <= {"down", "unknown"}


def test_health_in_maintenance(net):
    flag = net.settings.maintenance_flag
    flag.write_text("test")
    try:
        response = requests.get(net.url + "/health", timeout=10)
        assert response.status_code == 503 and response.json()["maintenance"] is True
    finally:
        flag.unlink()
    assert requests.get(net.url + "/health", timeout=10).status_code == 200


def test_on_postgresql(pg_net):
    proxy, _ = hub_client(pg_net.settings, "TestConnectionService", "cpas-eupen", pg_net.url)
    ticket = proxy.sendTestMessage(echo="pg").informationCBSS.ticketCBSS
    assert log_row(pg_net.settings, ticket)["outcome"] == "OK"
    refused(pg_net, b"<broken", "XML00001")
