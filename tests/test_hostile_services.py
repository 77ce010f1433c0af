"""Hostile and malformed requests to every new-style service: each gets a clean SOAP Fault
with a stable reason code (never MSG00003, the internal error) and its exchange-log row."""
import pytest
import requests
from lxml import etree

from kszws.registry import load_registry
from tests.soaptools import identity, log_row, sign_custom

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
CASES = [
    # (service, request element, inner XML): schema violations and absurd values
    ("ReferenceDirectoryService", "registerRequest", "<ssin>not-a-number</ssin>"),
    ("ReferenceDirectoryService", "bulkRegisterRequest", ""),
    ("AccessLogService", "accessLogRequest", "<actingFor><citizen/></actingFor>"),
    ("AuthorizationService", "listAuthorizationsRequest", "<sector>x</sector>"),
    ("MailboxService", "acknowledgeRequest", "<id>-1</id><id>abc</id>"),
    ("MailboxService", "listItemsRequest", "<maxItems>100000</maxItems>"),
    ("AttestationService", "publishAttestationRequest", "<type>../../etc</type>"),
    ("EmployerDirectoryService", "consultEmployerRequest", "<employer/>"),
    ("PublicEmployerService", "consultPublicEmployerRequest",
     "<employer><cbeNumber>0403170701</cbeNumber><nssoNumber>1</nssoNumber></employer>"),
    ("EmploymentService", "employmentRelationsRequest", "<ssin>00000000000</ssin>"),
]

# The services that take only signed requests: the same, signed by an institution that
# may use them, so that the hostile content is what gets refused, not the missing signature.
CUSTOMER = "<informationCustomer><customerIdentification><cbeNumber>%s</cbeNumber>" \
           "</customerIdentification></informationCustomer>"
DECLARATION = ("<declaration><ssin>70100853190</ssin><month>2019-10</month>"
               "<benefitReference>R</benefitReference><benefitType>statutory_retirement"
               "</benefitType><grossAmount>%s</grossAmount><familySituation>single"
               "</familySituation></declaration>")
SIGNED_CASES = [
    # (service, signer, request element, inner XML)
    ("PensionCadastreService", "onp-rvp", "declareRequest", CUSTOMER % "0400002462"),
    ("PensionCadastreService", "onp-rvp", "declareRequest",
     CUSTOMER % "0400002462" + DECLARATION % "abc"),
    ("PensionCadastreService", "onp-rvp", "declareRequest",
     CUSTOMER % "0400002462" + DECLARATION % ("9" * 40)),
    ("PensionCadastreService", "onp-rvp", "declareRequest",
     CUSTOMER % "0400002462" + DECLARATION % "100" * 1001),
    ("PensionCadastreService", "onp-rvp", "cancelRequest",
     CUSTOMER % "0400002462" + "<declarationId>1 OR 1=1</declarationId>"),
    ("DimonaService", "studentenjob-brugge", "declareRequest", ""),
]


def envelope(service, element, inner):
    tns = "urn:kszws:intf:%s:v1" % service
    return ('<soapenv:Envelope xmlns:soapenv="%s"><soapenv:Body><t:%s xmlns:t="%s">%s'
            '</t:%s></soapenv:Body></soapenv:Envelope>' % (SOAP, element, tns, inner, element)
            ).encode("utf-8")


def signed_envelope(settings, signer, service, element, inner):
    root = etree.fromstring(envelope(service, element, inner))
    sign_custom(root, identity(settings, signer))
    return etree.tostring(root)


@pytest.mark.parametrize("service, element, inner", CASES)
def test_malformed_requests_get_a_clean_fault_and_a_log_row(net, service, element, inner):
    path = load_registry(net.settings).services[service].path
    password = (net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    response = requests.post(net.url + path, data=envelope(service, element, inner),
                             auth=("E0207311071", password), timeout=30,
                             headers={"Content-Type": "text/xml; charset=utf-8"})
    assert_clean_refusal(net, response)


@pytest.mark.parametrize("service, signer, element, inner", SIGNED_CASES)
def test_malformed_signed_requests_get_a_clean_fault_and_a_log_row(net, service, signer,
                                                                     element, inner):
    path = load_registry(net.settings).services[service].path
    response = requests.post(
        net.url + path, data=signed_envelope(net.settings, signer, service, element, inner),
        timeout=30, headers={"Content-Type": "text/xml; charset=utf-8"})
    code = assert_clean_refusal(net, response)
    assert not code.startswith("SEC"), "refused for its content, not its signature"


def assert_clean_refusal(net, response):
    """A SOAP Fault with a stable reason code (not the internal error), its log row."""
    assert response.status_code in (400, 401, 500), response.text[:300]
    reply = etree.fromstring(response.content)
    fault = reply.find(".//{%s}Fault" % SOAP)
    assert fault is not None, response.text[:300]
    code = reply.findtext(".//reasonCode")
    assert code and code != "MSG00003", response.text[:500]
    assert b"Traceback" not in response.content
    ticket = reply.findtext(".//ticketCBSS")
    row = log_row(net.settings, ticket)
    assert row is not None and row["reason_code"] == code and row["outcome"] == "REFUSED"
    return code
