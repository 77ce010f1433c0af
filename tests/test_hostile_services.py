"""Hostile and malformed requests to every new-style service: each gets a clean SOAP Fault
with a stable reason code (never MSG00003, the internal error) and its exchange-log row."""
import pytest
import requests
from lxml import etree

from kszws.registry import load_registry
from tests.soaptools import log_row

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


def envelope(service, element, inner):
    tns = "urn:kszws:intf:%s:v1" % service
    return ('<soapenv:Envelope xmlns:soapenv="%s"><soapenv:Body><t:%s xmlns:t="%s">%s'
            '</t:%s></soapenv:Body></soapenv:Envelope>' % (SOAP, element, tns, inner, element)
            ).encode("utf-8")


@pytest.mark.parametrize("service, element, inner", CASES)
def test_malformed_requests_get_a_clean_fault_and_a_log_row(net, service, element, inner):
    path = load_registry(net.settings).services[service].path
    password = (net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    response = requests.post(net.url + path, data=envelope(service, element, inner),
                             auth=("E0207311071", password), timeout=30,
                             headers={"Content-Type": "text/xml; charset=utf-8"})
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
