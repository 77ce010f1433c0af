"""RetrieveTIGroups v2 (retrieveTI) over real HTTP: zeep on our WSDL, suds on CBSS's own
WSDL (as Lino uses it), replies valid against CBSS's original schemas and xm25."""
import pytest
import requests
from lxml import etree

from kszws.client import hub_client
from kszws.wire import soap
from kszws.sources.national_register.population import DEMO_PERSONS
from tests.netfixture import CBSS, register_in_directory
from tests.soaptools import Answer, log_row

INTF = "http://kszbcss.fgov.be/intf/RetrieveTIGroupsService/v2"
XM25 = "http://www.ibz.rrn.fgov.be/XSD/xm25/rn25Schema"
PATH = "/SOA4520/RetrieveTIGroupsService/v2/retrieveTI"
ACTION = '"http://kszbcss.fgov.be/RetrieveTIGroupsService/retrieveTI"'


@pytest.fixture(scope="module", autouse=True)
def registered(classic_net):
    """The CPAS of these tests manage a file on the demo persons (the integration check
    answers nothing about anyone else; its refusals are tested in test_access.py)."""
    register_in_directory(classic_net.settings, ["cpas-eupen", "cpas-liege", "test-lino"],
                          [p["ssin"] for p in DEMO_PERSONS])


def customer(cbe="0212310036"):
    return {"ticket": "kszws-test", "timestampSent": "2026-11-28T10:00:00",
            "customerIdentification": {"cbeNumber": cbe}}


def call(net, ssin, institution="cpas-eupen", cbe="0212310036", **search):
    proxy, history = hub_client(net.settings, "RetrieveTIGroupsService", institution, net.url)
    proxy.retrieveTI(informationCustomer=customer(cbe), legalContext="PCSA:SOCIAL_INQUIRY",
                     searchInformation=dict(ssin=ssin, **search))
    return soap.body_payload(history.last_received["envelope"].find(soap.BODY))


def original_schema():
    """retrieveTIGroupsResponse as CBSS's WSDL declares it, on CBSS's original XSDs."""
    types = CBSS / "XSD" / "be" / "fgov" / "kszbcss" / "types" / "RetrieveTIGroups" / "RetrieveTIGroupsV2.xsd"
    wrapper = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:rtg="http://kszbcss.fgov.be/types/RetrieveTIGroups/v2" targetNamespace="%s">'
        '<xs:import namespace="http://kszbcss.fgov.be/types/RetrieveTIGroups/v2" '
        'schemaLocation="%s"/><xs:element name="retrieveTIGroupsResponse" '
        'type="rtg:RetrieveTIGroupsResponseType"/></xs:schema>' % (INTF, types.as_uri()))
    return etree.XMLSchema(etree.fromstring(wrapper.encode()))


def test_retrieve_ti_signed_with_zeep(classic_net):
    payload = call(classic_net, "70100853190", language="de", history=True)
    status = payload.find("status")
    assert (status.findtext("value"), status.findtext("code")) == ("DATA_FOUND", "MSG00000")
    assert [c.tag for c in payload] == ["informationCustomer", "informationCBSS", "legalContext",
                                        "searchInformation", "status", "rrn_it_implicit"]
    number = payload.find("rrn_it_implicit/{%s}NationalNumber/{%s}NationalNumber" % (XM25, XM25))
    assert number.findtext("{%s}NationalNumber" % XM25) == "70100853190"
    label = payload.find(".//{%s}Nationality/{%s}Nationality/{%s}Label" % (XM25, XM25, XM25))
    assert label.text == "Belgien"  # language=de
    ticket = payload.findtext("informationCBSS/ticketCBSS")
    row = log_row(classic_net.settings, ticket)
    assert row["legal_context"] == "PCSA:SOCIAL_INQUIRY" and "70100853190" in row["subjects"]
    if CBSS.is_dir():
        schema = original_schema()
        assert schema.validate(payload), schema.error_log


def test_history_adds_earlier_addresses(classic_net):
    # A person of the synthetic population with several addresses.
    from kszws.registry import load_registry
    from kszws.sources import national_register
    from sqlalchemy import text

    source = load_registry(classic_net.settings).sources["national-register"]
    db = national_register.database(classic_net.settings, source)
    with db.engine.connect() as conn:
        ssin = conn.execute(text(
            "SELECT a.ssin FROM nr_address a JOIN nr_person p ON p.ssin = a.ssin "
            "WHERE p.status = 'active' GROUP BY a.ssin HAVING COUNT(*) > 1 LIMIT 1")).scalar()
    register_in_directory(classic_net.settings, ["cpas-eupen"], [ssin])
    db.dispose()
    now = call(classic_net, ssin, history=False)
    everything = call(classic_net, ssin, history=True)
    residences = "rrn_it_implicit/{%s}FileOwner/{%s}Residences" % (XM25, XM25)
    assert len(now.findall(residences)) == 1
    assert len(everything.findall(residences)) > 1


def test_unknown_ssin_is_no_data_found(classic_net):
    # A registration on an SSIN the National Register does not know (an error of the
    # institution's): the check passes, the source finds nobody.
    register_in_directory(classic_net.settings, ["cpas-eupen"], ["99010190188"])
    payload = call(classic_net, "99010190188")
    assert payload.find("status/value").text == "NO_DATA_FOUND"
    assert payload.find("rrn_it_implicit") is None


def _raw(net, body, password):
    envelope = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:v2="%s"><soapenv:Body><v2:retrieveTIGroupsRequest>%s'
                '</v2:retrieveTIGroupsRequest></soapenv:Body></soapenv:Envelope>' % (INTF, body))
    return requests.post(net.url + PATH, data=envelope.encode(), timeout=30,
                         auth=("E0207311071", password),
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": ACTION})


def test_php_client_quirks_are_accepted(classic_net):
    """Both branches of customerIdentification and a misspelt timestampSent (CONTRACTS §2)."""
    password = (classic_net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    body = ("<informationCustomer><ticket>php-1</ticket><timeStampSent>2026-11-28T10:00:00"
            "</timeStampSent><customerIdentification><cbeNumber>0207311071</cbeNumber>"
            "<sector>17</sector><institution>1</institution></customerIdentification>"
            "</informationCustomer><legalContext>SOCIAL_INVESTIGATION_OF_PCSA</legalContext>"
            "<searchInformation><ssin>70100853190</ssin></searchInformation>")
    response = _raw(classic_net, body, password)
    assert response.status_code == 200, response.text[:800]
    payload = soap.body_payload(etree.fromstring(response.content).find(soap.BODY))
    assert payload.findtext("informationCustomer/timeStampSent") == "2026-11-28T10:00:00"
    assert payload.findtext("status/value") == "DATA_FOUND"


def test_missing_legal_context_is_a_cbss_fault(classic_net):
    password = (classic_net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    body = ("<informationCustomer><customerIdentification><cbeNumber>0207311071</cbeNumber>"
            "</customerIdentification></informationCustomer>"
            "<searchInformation><ssin>70100853190</ssin></searchInformation>")
    answer = Answer(_raw(classic_net, body, password), classic_net.settings)
    assert answer.reason == "MSG00008" and answer.signed
    assert answer.fault.find("detail/{%s}retrieveTIGroupsFault" % INTF) is not None
    assert log_row(classic_net.settings, answer.ticket)["outcome"] == "REFUSED"


def test_customer_must_be_the_authenticated_institution(classic_net):
    from zeep.exceptions import Fault

    with pytest.raises(Fault) as info:
        call(classic_net, "70100853190", cbe="0207311071")  # cpas-liege's, signed by eupen
    assert "SEC00012" in etree.tostring(info.value.detail).decode()


def test_suds_with_the_real_cbss_wsdl(classic_net, cbss):
    """Lino's way: suds, CBSS's own WSDL (a local copy), HTTP Basic."""
    from suds.client import Client
    from suds.transport.https import HttpAuthenticated

    password = (classic_net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    wsdl = cbss / "XSD" / "be" / "fgov" / "kszbcss" / "intf" / "RetrieveTIGroupsService" / "RetrieveTIGroupsV2.wsdl"
    client = Client(wsdl.as_uri(), location=classic_net.url + PATH, retxml=True,
                    transport=HttpAuthenticated(username="E0207311071", password=password))
    info = client.factory.create("{http://kszbcss.fgov.be/types/common/v3}InformationCustomerType")
    info.ticket = "lino-1"
    info.timestampSent = "2026-11-28T10:00:00"
    info.customerIdentification.cbeNumber = "0207311071"
    search = client.factory.create(
        "{http://kszbcss.fgov.be/types/RetrieveTIGroups/v2}SearchInformationType")
    search.ssin = "70100853190"
    search.language = "fr"
    search.history = False
    reply = client.service.retrieveTI(info, None, "PCSA:SOCIAL_INQUIRY", search)
    payload = soap.body_payload(etree.fromstring(reply).find(soap.BODY))
    assert payload.findtext("status/value") == "DATA_FOUND"
    assert original_schema().validate(payload)


def test_namespaces_are_declared_where_cbss_declares_them(classic_net):
    """Issue 15 (8): the xm25 namespace is declared on each information group, as the
    register writes them (a real reply: ../shared/cbss/samples/lino_demo_tx25_1.xml), not
    once above them; the echoed informationCustomer carries no declaration it only
    inherited in the request (the WS-Security utility namespace of the signed Body)."""
    proxy, history = hub_client(classic_net.settings, "RetrieveTIGroupsService", "cpas-eupen",
                                classic_net.url)
    proxy.retrieveTI(informationCustomer=customer(), legalContext="PCSA:SOCIAL_INQUIRY",
                     searchInformation={"ssin": "70100853190", "history": True})
    text = etree.tostring(history.last_received["envelope"], encoding="unicode")
    assert "<rrn_it_implicit>" in text
    payload = soap.body_payload(history.last_received["envelope"].find(soap.BODY))
    groups = list(payload.find("rrn_it_implicit"))
    assert len(groups) >= 5
    # one declaration per group, none above them (rrn_it_implicit) nor below
    assert text.count('xmlns:r="%s"' % XM25) == len(groups)
    info_start = text[text.index("<informationCustomer"):].split(">", 1)[0]
    assert "xmlns" not in info_start, info_start
