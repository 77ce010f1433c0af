"""Hostile values to every new-style service, and the schema facets that guard the hub's
resources.

Each hostile case is a complete request, valid but for ONE hostile value, so that the value
itself is what gets refused: its benign twin (the same request with an ordinary value)
passes the schema check, and the hostile one gets its pinned answer - MSG00008 naming the
element when a schema facet refuses it, or the service's own code - with its log row
REFUSED, and leaves the hub's store as it was.

Every facet of xsd/ that a request carries (ranges, lengths, patterns, maxOccurs other than
unbounded) is sent just inside and just outside its limit (FACETS): inside, the request gets
past the schema check (whatever the service then says); outside, MSG00008 naming the
element (the classic SSDN schemas: 30000002 / 31000002). test_every_request_facet_has_a_case
reads xsd/ and fails when a facet has no case (response-only facets are listed apart).

The hub of this module (SQLite, and PostgreSQL when KSZWS_TEST_DATABASE_URL is set) has no
sources running: a request that gets past the schema to a service that needs one is
answered SRC00001, which is "past the schema" all the same. Its body limit is 4 MB, so that
a bulk load of 10,001 lines (1.2 MB) reaches the schema check (at the default 1 MB it is
refused unread, HTTP0003)."""
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from lxml import etree

from kszws.registry import load_registry
from kszws.wire import ssdn
from tests.conftest import DATABASES, PG_URL
from tests.netfixture import Hub, drop_postgres_schema, make_project, postgres_schema_url
from tests.soaptools import identity, sign_custom
from tests.ssdntools import Reply, envelope as ssdn_envelope, identify, ssdn_request
from tests.storetools import assert_refusal_logged, log_row, store_unchanged

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XSD = Path(__file__).resolve().parent.parent / "xsd"
MAX = "70100853190"  # a person of the demo population, valid check digits
LIEGE, ONP, BAKERY, ONEM, INAMI = ("0207311071", "0400002462", "0403170701", "0206314050",
                                   "0206653946")
CONTEXT = "PCSA:SOCIAL_INQUIRY"

# The authentic source of contribution vouchers (sector 27): to reach that payload's facets.
TEST_INAMI = '''
[[institution]]
id = "test-inami"
name = "Publisher of contribution vouchers (sector 27)"
sector = 27
cbe = "0206653946"
auth = "basic"
'''


@pytest.fixture(scope="module", params=DATABASES)
def net(request, tmp_path_factory):
    """The hub on SQLite, and on PostgreSQL when KSZWS_TEST_DATABASE_URL is set (a hostile
    value once broke only the PostgreSQL log write)."""
    url = schema = None
    if request.param == "postgresql":
        url, schema = postgres_schema_url(PG_URL)
    try:
        settings = make_project(tmp_path_factory.mktemp("hostile"), database_url=url or "",
                                institutions=TEST_INAMI,
                                settings={"max_body_bytes": "4194304"})
        hub = Hub(settings).start()
        yield hub
        hub.stop()
    finally:
        if schema:
            drop_postgres_schema(PG_URL, schema)


# -- requests ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    service: str
    element: str  # the request element (new style); None: a classic SSDN string
    inner: str
    caller: str = "cpas-liege"  # Basic or signed, as the institution is registered; None:
    #                              anonymous


def envelope(service, element, inner):
    tns = "urn:kszws:intf:%s:v1" % service
    return ('<soapenv:Envelope xmlns:soapenv="%s"><soapenv:Body><t:%s xmlns:t="%s">%s'
            '</t:%s></soapenv:Body></soapenv:Envelope>' % (SOAP, element, tns, inner, element)
            ).encode("utf-8")


@dataclass
class Answer:
    status: int
    code: str  # reasonCode of a fault, status/code of a reply, the first classic detail
    codes: list  # every reason code (classic: each Detail)
    diagnostic: str
    ticket: str


def send(net, call):
    settings = net.settings
    registry = load_registry(settings)
    path = registry.services[call.service].path
    body = ssdn_envelope(call.inner) if call.element is None \
        else envelope(call.service, call.element, call.inner)
    kw = {}
    if call.caller is not None:
        inst = registry.institution(call.caller)
        if inst.auth == "basic":
            password = (settings.certs_dir / ("%s.password" % inst.id)).read_text().strip()
            kw["auth"] = (inst.basic_username, password)
        else:
            root = etree.fromstring(body)
            sign_custom(root, identity(settings, call.caller))
            body = etree.tostring(root)
    response = requests.post(net.url + path, data=body, timeout=60,
                             headers={"Content-Type": "text/xml; charset=utf-8"}, **kw)
    assert b"Traceback" not in response.content
    root = etree.fromstring(response.content)
    fault = root.find(".//{%s}Fault" % SOAP)
    if fault is not None:
        code = root.findtext(".//reasonCode")
        return Answer(response.status_code, code, [code], root.findtext(".//diagnostic") or "",
                      root.findtext(".//ticketCBSS"))
    if call.element is None:  # classic: a ServiceReply's code, else the envelope's
        reply = Reply.of(response)
        envelope_codes = reply.summary()[2]
        service_codes = [c for i in range(len(reply.service_replies()))
                         for c in reply.summary(i)[2]]
        text = " ".join(v.text or "" for v in reply.root.iter(ssdn.c("FieldValue")))
        codes = service_codes + envelope_codes
        return Answer(response.status_code, codes[0] if codes else None, codes, text,
                      reply.ticket)
    code = root.findtext(".//status/code")
    return Answer(response.status_code, code, [code],
                  root.findtext(".//status/description") or "", root.findtext(".//ticketCBSS"))


def names_element(diagnostic, name):
    """libxml2's message names the element: "Element 'x': ..." (or "{ns}x"), or lists it
    as expected ("Expected is ( x )")."""
    return re.search(r"(Element '(\{[^}]*\})?%s'|Expected is [^)]*\b%s\b)" % (name, name),
                     diagnostic) is not None


def customer(cbe=LIEGE, ticket=None, identification=None):
    identification = identification or "<cbeNumber>%s</cbeNumber>" % cbe
    ticket = "<ticket>%s</ticket>" % ticket if ticket is not None else ""
    return ("<informationCustomer>%s<customerIdentification>%s</customerIdentification>"
            "</informationCustomer>" % (ticket, identification))


PERIOD = "<period><startDate>2026-01-01</startDate></period>"
SIS = "<sisCardNumber>1234567897</sisCardNumber>"


def register(ssin=MAX, quality="1", proof=SIS, who=None):
    return Call("ReferenceDirectoryService", "registerRequest",
                (who or customer()) + "<ssin>%s</ssin><qualityCode>%s</qualityCode>%s"
                "<proof>%s</proof>" % (ssin, quality, PERIOD, proof))


def person_data(last="Van den Berghe", birth="1972-03-05"):
    return ("<personData><lastName>%s</lastName><birthDate>%s</birthDate></personData>"
            % (last, birth))


def bulk(count):
    line = ("<registration><ssin>%s</ssin><qualityCode>4</qualityCode>%s</registration>"
            % (MAX, PERIOD))
    return Call("ReferenceDirectoryService", "bulkRegisterRequest", customer() + line * count)


def access_log(citizen=MAX, ssin=MAX):
    return Call("AccessLogService", "accessLogRequest",
                customer() + "<actingFor><citizen>%s</citizen></actingFor><ssin>%s</ssin>%s"
                % (citizen, ssin, PERIOD))


def authorizations(sector):
    return Call("AuthorizationService", "listAuthorizationsRequest",
                "<sector>%s</sector>" % sector, caller=None)


def list_items(extra="", who=None):
    return Call("MailboxService", "listItemsRequest", (who or customer()) + extra)


def mailbox_ids(operation, ids):
    return Call("MailboxService", operation + "Request",
                customer() + "".join("<id>%s</id>" % i for i in ids))


SEQ = itertools.count(1)


def mutation(fields=""):
    return ("<mutation><seq>%d</seq><kind>address</kind><ssin>%s</ssin>"
            "<eventDate>2026-06-01</eventDate>%s</mutation>" % (next(SEQ), MAX, fields))


def field(name="street", value="Rue Haute"):
    return "<field><name>%s</name><value>%s</value></field>" % (name, value)


def notify(mutations):
    return Call("MutationService", "notifyMutationsRequest", "".join(mutations),
                caller="national-register")


PAYLOADS = "urn:kszws:types:AttestationPayloads:v1"


def income(amount="125000"):
    return ("<p:integrationIncome xmlns:p='%s'><category>ISOLATED</category>"
            "<monthlyAmount>%s</monthlyAmount></p:integrationIncome>" % (PAYLOADS, amount))


def unemployment(category="A1"):
    return ("<p:unemploymentStatus xmlns:p='%s'><situation>FULLY_UNEMPLOYED</situation>"
            "<familyCategory>%s</familyCategory></p:unemploymentStatus>" % (PAYLOADS, category))


def voucher(quarter="2026Q1", employer=BAKERY):
    return ("<p:contributionVoucher xmlns:p='%s'><quarter>%s</quarter>"
            "<contributionPaid>1000</contributionPaid><employerCbe>%s</employerCbe>"
            "</p:contributionVoucher>" % (PAYLOADS, quarter, employer))


def publish(type_="integration_income", reference="R-1", payload=None, caller="cpas-liege",
            cbe=LIEGE):
    return Call("AttestationService", "publishAttestationRequest",
                customer(cbe) + "<type>%s</type><ssin>%s</ssin><reference>%s</reference>%s"
                "<decisionDate>2025-12-15</decisionDate><payload>%s</payload>"
                % (type_, MAX, reference, PERIOD, payload or income()), caller)


def attestations(operation, types, ssin=MAX):
    return Call("AttestationService", operation + "Request",
                customer() + "<ssin>%s</ssin>%s%s" % (
                    ssin, "<type>integration_income</type>" * types, PERIOD))


def consult_employer(key="<cbeNumber>%s</cbeNumber>" % BAKERY):
    return Call("EmployerDirectoryService", "consultEmployerRequest",
                customer() + "<legalContext>%s</legalContext><employer>%s</employer>"
                % (CONTEXT, key))


def search_employers(name="Dupont", extra=""):
    return Call("EmployerDirectoryService", "searchEmployersRequest",
                customer() + "<legalContext>%s</legalContext><name>%s</name>%s"
                % (CONTEXT, name, extra))


def public_employer(key):
    return Call("PublicEmployerService", "consultPublicEmployerRequest",
                "<employer>%s</employer>" % key, caller=None)


def employment(ssin=MAX, context=CONTEXT):
    return Call("EmploymentService", "employmentRelationsRequest",
                customer() + "<legalContext>%s</legalContext><ssin>%s</ssin>"
                "<startDate>2026-01-01</startDate>" % (context, ssin))


def dimona_declare(count=1, ssin=MAX):
    one = ("<declaration><action>IN</action><ssin>%s</ssin><workerType>ordinary</workerType>"
           "<startDate>2026-09-01</startDate></declaration>" % ssin)
    return Call("DimonaService", "declareRequest", customer(BAKERY) + one * count,
                "boulangerie-dupont")


def personnel_file(max_items):
    return Call("DimonaService", "personnelFileRequest",
                customer(BAKERY) + "<maxItems>%s</maxItems>" % max_items, "boulangerie-dupont")


def declaration(month="2019-10", reference="R", kind="statutory_retirement", gross="100000"):
    return ("<declaration><ssin>%s</ssin><month>%s</month><benefitReference>%s"
            "</benefitReference><benefitType>%s</benefitType><grossAmount>%s</grossAmount>"
            "<familySituation>single</familySituation></declaration>"
            % (MAX, month, reference, kind, gross))


def pension_declare(*declarations):
    return Call("PensionCadastreService", "declareRequest",
                customer(ONP) + "".join(declarations), "onp-rvp")


def pension_correct(count):
    one = ("<correction><declarationId>1</declarationId><grossAmount>1000</grossAmount>"
           "<familySituation>single</familySituation></correction>")
    return Call("PensionCadastreService", "correctRequest", customer(ONP) + one * count,
                "onp-rvp")


def pension_cancel(ids):
    return Call("PensionCadastreService", "cancelRequest",
                customer(ONP) + "".join("<declarationId>%s</declarationId>" % i for i in ids),
                "onp-rvp")


def pension_consult(pillar):
    return Call("PensionCadastreService", "consultRequest",
                customer(ONP) + "<legalContext>PENSION:PAYMENT</legalContext><ssin>%s</ssin>"
                "<firstMonth>2019-01</firstMonth><pillar>%s</pillar>" % (MAX, pillar), "onp-rvp")


def classic(*service_requests, email="info@example.com", time="20261128T120000",
            version=None):
    text = ssdn_request(*service_requests).replace("info@example.com", email) \
        .replace("20261128T120000", time)
    if version is not None:
        text = text.replace("<ssdn:Version>20050930</ssdn:Version>",
                            "<ssdn:Version>%s</ssdn:Version>" % version)
    return Call("KSZBCSSWebServiceConnector", None, text)


def phonetic(birth="1970-10-08", maximum=None):
    criteria = {"LastName": "Schmitz", "BirthDate": birth}
    if maximum is not None:
        criteria["Maximum"] = maximum
    return identify(phonetic=criteria)


def verification(sis=None, eid=None):
    data = ""
    if sis is not None:
        data += "<ipr:SISCardNumber>%s</ipr:SISCardNumber>" % sis
    if eid is not None:
        data += "<ipr:IdentityCardNumber>%s</ipr:IdentityCardNumber>" % eid
    return identify(MAX, verification=data)


def list_of_attestations(request_type):
    body = ("<ns1:ListOfAttestationsRequest xmlns:ns1='http://www.ksz-bcss.fgov.be/XSD/SSDN/"
            "OCMW_CPAS/ManageAttests'><ns1:SocialSecurityUser>%s</ns1:SocialSecurityUser>"
            "<ns1:RequestType>%s</ns1:RequestType></ns1:ListOfAttestationsRequest>"
            % (MAX, request_type))
    return ("OCMWCPASListOfAttestations", "20080317", body)


def with_check_digits(nine):
    """An SSIN of a person born before 2000 whose first nine digits are `nine`."""
    return nine + "%02d" % (97 - int(nine) % 97)


# -- hostile values --------------------------------------------------------------------------

@dataclass(frozen=True)
class Hostile:
    id: str
    build: object  # value -> Call
    benign: str
    hostile: str
    code: str  # the answer pinned
    element: str = None  # MSG00008: the element its diagnostic names


HOSTILE = [
    Hostile("directory-ssin-not-a-number", lambda v: register(ssin=v), MAX, "not-a-number",
            "MSG00008", "ssin"),
    Hostile("directory-bulk-without-lines", lambda n: bulk(int(n)), "1", "0", "MSG00008",
            "registration"),
    Hostile("access-log-empty-citizen", lambda v: access_log(citizen=v), MAX, "", "MSG00008",
            "citizen"),
    Hostile("authorizations-sector-not-a-number", authorizations, "17", "x", "MSG00008",
            "sector"),
    Hostile("acknowledge-id-not-a-number", lambda v: mailbox_ids("acknowledge", [v]), "1",
            "abc", "MSG00008", "id"),
    Hostile("acknowledge-id-beyond-long", lambda v: mailbox_ids("acknowledge", [v]), "1",
            str(2 ** 63), "MSG00008", "id"),
    Hostile("fetch-id-sql", lambda v: mailbox_ids("fetchItems", [v]), "1", "1 OR 1=1",
            "MSG00008", "id"),
    Hostile("list-items-max-100000", lambda v: list_items("<maxItems>%s</maxItems>" % v),
            "100", "100000", "MSG00008", "maxItems"),
    Hostile("publish-type-path", lambda v: publish(type_=v), "integration_income",
            "../../etc", "MSG00008", "type"),
    Hostile("publish-payload-over-limit", lambda v: publish(payload=income(v)), "125000",
            "100000001", "ATT00003"),
    Hostile("employer-empty-key", consult_employer, "<cbeNumber>%s</cbeNumber>" % BAKERY, "",
            "MSG00008", "employer"),
    Hostile("public-employer-two-keys", public_employer, "<cbeNumber>%s</cbeNumber>" % BAKERY,
            "<cbeNumber>%s</cbeNumber><nssoNumber>1</nssoNumber>" % BAKERY, "MSG00008",
            "nssoNumber"),
    Hostile("employment-ssin-zeros", lambda v: employment(ssin=v), MAX, "00000000000",
            "MSG00008", "ssin"),
    Hostile("employment-ssin-check-digits", lambda v: employment(ssin=v), MAX, "70100853191",
            "MSG00008"),  # the pattern lets it through; the service's own check refuses it
    Hostile("pension-declare-nothing", lambda n: pension_declare(*[declaration()] * int(n)),
            "1", "0", "MSG00008", "declaration"),
    Hostile("pension-gross-not-a-number",
            lambda v: pension_declare(declaration(gross=v)), "100000", "abc", "MSG00008",
            "grossAmount"),
    Hostile("pension-gross-beyond-long",
            lambda v: pension_declare(declaration(gross=v)), "100000", "9" * 40, "MSG00008",
            "grossAmount"),
    Hostile("pension-1001-declarations",
            lambda n: pension_declare(*[declaration(reference="R%d" % i) for i in range(int(n))]),
            "1000", "1001", "MSG00008", "declaration"),
    Hostile("pension-cancel-sql", lambda v: pension_cancel([v]), "1", "1 OR 1=1", "MSG00008",
            "declarationId"),
    Hostile("dimona-ssin-sql", lambda v: dimona_declare(ssin=v), MAX, "' OR '1'='1",
            "MSG00008", "ssin"),
    # 12 digits: libxml2 let them through CBSS's SsinType pattern (xsd/common/CommonV3.xsd),
    # and on PostgreSQL the exchange log's subject (varchar(11)) then refused the row.
    Hostile("dimona-ssin-12-digits", lambda v: dimona_declare(ssin=v), MAX, "701008531900",
            "MSG00008", "ssin"),
    Hostile("pension-ssin-12-digits",
            lambda v: pension_declare(declaration().replace(MAX, v)), MAX, "701008531900",
            "MSG00008", "ssin"),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
def test_a_hostile_value_is_refused_for_itself(net, case):
    benign = send(net, case.build(case.benign))
    assert benign.code not in ("MSG00008", "SOAP0002", "MSG00003"), (
        "the request is not valid but for its hostile value: %s %s"
        % (benign.code, benign.diagnostic))
    with store_unchanged(net.settings):
        answer = send(net, case.build(case.hostile))
    assert answer.code == case.code, answer
    if case.element:
        assert answer.status == 500 and names_element(answer.diagnostic, case.element), answer
        assert names_element(log_row(net.settings, answer.ticket)["detail"], case.element)
    assert_refusal_logged(net.settings, answer.ticket, case.code)


def test_an_acknowledgement_of_nobodys_ids_is_answered_and_changes_nothing(net):
    """-1, 0 and a long beyond any item are valid xsd:long: no refusal, nothing done."""
    with store_unchanged(net.settings):
        answer = send(net, mailbox_ids("acknowledge", [-1, 0, 2 ** 62]))
    assert (answer.status, answer.code) == (200, "MSG00000")
    row = log_row(net.settings, answer.ticket)
    assert (row["outcome"], row["detail"]) == ("OK", "0 of 3 acknowledged")


# -- schema facets ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Facet:
    key: str  # "file context facet", as test_every_request_facet_has_a_case finds it
    build: object  # value -> Call
    inside: tuple
    outside: tuple
    element: str
    code: str = "MSG00008"  # classic: 30000002 (the SSDNRequest) or 31000002 (a body)

    @property
    def id(self):
        return self.key.split(" ", 1)[1].replace(" ", "-")


def text(n, char="a"):
    return char * n


FACETS = [
    # Attestation payloads: the service validates them against their type's schema
    # (ATT00003); the hub's schema takes them as xsd:any.
    Facet("Attestations/AttestationPayloadsV1.xsd CentsType minInclusive",
          lambda v: publish(payload=income(v)), ("0",), ("-1",), "monthlyAmount", "ATT00003"),
    Facet("Attestations/AttestationPayloadsV1.xsd CentsType maxInclusive",
          lambda v: publish(payload=income(v)), ("100000000",), ("100000001",),
          "monthlyAmount", "ATT00003"),
    Facet("Attestations/AttestationPayloadsV1.xsd CodeType pattern",
          lambda v: publish("unemployment_status", payload=unemployment(v), caller="onem-rva",
                            cbe=ONEM),
          (text(16, "A"), "A_1"), (text(17, "A"), "a1", ""), "familyCategory", "ATT00003"),
    Facet("Attestations/AttestationPayloadsV1.xsd contributionVoucher/quarter pattern",
          lambda v: publish("contribution_voucher", payload=voucher(quarter=v),
                            caller="test-inami", cbe=INAMI),
          ("2026Q1", "2026Q4"), ("2026Q5", "2026-Q1", "26Q1"), "quarter", "ATT00003"),
    Facet("Attestations/AttestationPayloadsV1.xsd contributionVoucher/employerCbe pattern",
          lambda v: publish("contribution_voucher", payload=voucher(employer=v),
                            caller="test-inami", cbe=INAMI),
          (BAKERY,), ("2403170701", "040317070"), "employerCbe", "ATT00003"),
    Facet("Attestations/AttestationServiceV1.xsd TypeCodeType pattern",
          lambda v: publish(type_=v), ("integration_income", text(24)),
          (text(25), "Integration_income", "../../etc", ""), "type"),
    Facet("Attestations/AttestationServiceV1.xsd ReferenceType minLength",
          lambda v: publish(reference=v), ("R",), ("",), "reference"),
    Facet("Attestations/AttestationServiceV1.xsd ReferenceType maxLength",
          lambda v: publish(reference=v), (text(64),), (text(65),), "reference"),
    Facet("Attestations/AttestationServiceV1.xsd ConsultRequestType/type maxOccurs",
          lambda n: attestations("consultAttestations", n), (20,), (21,), "type"),
    Facet("Attestations/AttestationServiceV1.xsd ListRequestType/type maxOccurs",
          lambda n: attestations("listAttestations", n), (20,), (21,), "type"),
    Facet("Dimona/DimonaV1.xsd DeclareRequestType/declaration maxOccurs",
          dimona_declare, (20,), (21,), "declaration"),
    Facet("Dimona/DimonaV1.xsd PersonnelFileRequestType/maxItems minInclusive",
          personnel_file, ("1",), ("0", "-1"), "maxItems"),
    Facet("Dimona/DimonaV1.xsd PersonnelFileRequestType/maxItems maxInclusive",
          personnel_file, ("5000",), ("5001",), "maxItems"),
    Facet("EmployerDirectory/EmployerDirectoryV1.xsd NssoNumberType pattern",
          lambda v: consult_employer("<nssoNumber>%s</nssoNumber>" % v), ("1234567890",),
          ("123456789", "12345678901", "123456789a"), "nssoNumber"),
    Facet("EmployerDirectory/EmployerDirectoryV1.xsd SearchEmployersRequestType/name minLength",
          search_employers, ("Du",), ("D",), "name"),
    Facet("EmployerDirectory/EmployerDirectoryV1.xsd SearchEmployersRequestType/name maxLength",
          search_employers, (text(100),), (text(101),), "name"),
    Facet("EmployerDirectory/EmployerDirectoryV1.xsd "
          "SearchEmployersRequestType/maxResults minInclusive",
          lambda v: search_employers(extra="<maxResults>%s</maxResults>" % v), ("1",), ("0",),
          "maxResults"),
    Facet("EmployerDirectory/EmployerDirectoryV1.xsd "
          "SearchEmployersRequestType/maxResults maxInclusive",
          lambda v: search_employers(extra="<maxResults>%s</maxResults>" % v), ("100",),
          ("101",), "maxResults"),
    Facet("Mailbox/MailboxV1.xsd TypeType pattern",
          lambda v: list_items("<type>%s</type>" % v), ("address", text(24), "a_1"),
          (text(25), "Address", ""), "type"),
    Facet("Mailbox/MailboxV1.xsd FieldType/name maxLength",
          lambda v: notify([mutation(field(name=v))]), (text(64),), (text(65),), "name"),
    Facet("Mailbox/MailboxV1.xsd FieldType/value maxLength",
          lambda v: notify([mutation(field(value=v))]), (text(256),), (text(257),), "value"),
    Facet("Mailbox/MailboxV1.xsd MutationType/field maxOccurs",
          lambda n: notify([mutation(field() * n)]), (50,), (51,), "field"),
    Facet("Mailbox/MailboxV1.xsd NotifyMutationsRequestType/mutation maxOccurs",
          lambda n: notify([mutation() for _ in range(n)]), (1000,), (1001,), "mutation"),
    Facet("Mailbox/MailboxV1.xsd ListItemsRequestType/type maxOccurs",
          lambda n: list_items("<type>address</type>" * n), (20,), (21,), "type"),
    Facet("Mailbox/MailboxV1.xsd ListItemsRequestType/maxItems minInclusive",
          lambda v: list_items("<maxItems>%s</maxItems>" % v), ("1",), ("0", "-1"), "maxItems"),
    Facet("Mailbox/MailboxV1.xsd ListItemsRequestType/maxItems maxInclusive",
          lambda v: list_items("<maxItems>%s</maxItems>" % v), ("1000",), ("1001",),
          "maxItems"),
    Facet("Mailbox/MailboxV1.xsd FetchItemsRequestType/id maxOccurs",
          lambda n: mailbox_ids("fetchItems", range(1, n + 1)), (1000,), (1001,), "id"),
    Facet("Mailbox/MailboxV1.xsd AcknowledgeRequestType/id maxOccurs",
          lambda n: mailbox_ids("acknowledge", range(1, n + 1)), (1000,), (1001,), "id"),
    Facet("PensionCadastre/PensionCadastreV1.xsd MonthType pattern",
          lambda v: pension_declare(declaration(month=v)), ("2019-10",),
          ("2019-1", "201910", "2019-10-01"), "month"),
    Facet("PensionCadastre/PensionCadastreV1.xsd BenefitTypeType pattern",
          lambda v: pension_declare(declaration(kind=v)), ("statutory_retirement", text(32)),
          (text(33), "Statutory", "x1", ""), "benefitType"),
    Facet("PensionCadastre/PensionCadastreV1.xsd DeclarationType/benefitReference minLength",
          lambda v: pension_declare(declaration(reference=v)), ("R",), ("",),
          "benefitReference"),
    Facet("PensionCadastre/PensionCadastreV1.xsd DeclarationType/benefitReference maxLength",
          lambda v: pension_declare(declaration(reference=v)), (text(64),), (text(65),),
          "benefitReference"),
    Facet("PensionCadastre/PensionCadastreV1.xsd DeclareRequestType/declaration maxOccurs",
          lambda n: pension_declare(*[declaration(reference="R%d" % i) for i in range(n)]),
          (1000,), (1001,), "declaration"),
    Facet("PensionCadastre/PensionCadastreV1.xsd CorrectRequestType/correction maxOccurs",
          pension_correct, (1000,), (1001,), "correction"),
    Facet("PensionCadastre/PensionCadastreV1.xsd CancelRequestType/declarationId maxOccurs",
          lambda n: pension_cancel(range(1, n + 1)), (1000,), (1001,), "declarationId"),
    Facet("PensionCadastre/PensionCadastreV1.xsd ConsultRequestType/pillar minInclusive",
          pension_consult, ("1",), ("0",), "pillar"),
    Facet("PensionCadastre/PensionCadastreV1.xsd ConsultRequestType/pillar maxInclusive",
          pension_consult, ("2",), ("3",), "pillar"),
    Facet("ReferenceDirectory/ReferenceDirectoryV1.xsd QualityCodeType minInclusive",
          lambda v: register(quality=v), ("0",), ("-1",), "qualityCode"),
    Facet("ReferenceDirectory/ReferenceDirectoryV1.xsd QualityCodeType maxInclusive",
          lambda v: register(quality=v), ("999",), ("1000",), "qualityCode"),
    Facet("ReferenceDirectory/ReferenceDirectoryV1.xsd ShortTextType maxLength",
          lambda v: register(proof=person_data(last=v)), (text(256),), (text(257),),
          "lastName"),
    Facet("ReferenceDirectory/ReferenceDirectoryV1.xsd ProofType/sisCardNumber pattern",
          lambda v: register(proof="<sisCardNumber>%s</sisCardNumber>" % v), ("1234567897",),
          ("123456789", "12345678970", "123456789x"), "sisCardNumber"),
    Facet("ReferenceDirectory/ReferenceDirectoryV1.xsd ProofType/eidCardNumber pattern",
          lambda v: register(proof="<eidCardNumber>%s</eidCardNumber>" % v),
          ("591234567890", "A1234567", "B1234567890"),
          ("59123456789", "a1234567", "B123456789", "C1234567890"), "eidCardNumber"),
    Facet("ReferenceDirectory/ReferenceDirectoryV1.xsd ProofType/personData/birthDate pattern",
          lambda v: register(proof=person_data(birth=v)), ("1972-03-05", "1972-00-00"),
          ("1972-3-5", "05/03/1972", "19720305"), "birthDate"),
    Facet("ReferenceDirectory/ReferenceDirectoryV1.xsd BulkRegisterRequestType/registration "
          "maxOccurs", bulk, (10000,), (10001,), "registration"),
    Facet("common/CommonV3.xsd TicketType maxLength",
          lambda v: list_items(who=customer(ticket=v)), (text(36),), (text(37),), "ticket"),
    # The three patterns (National Register numbers, bis numbers +20, +40): one inside
    # value each; outside, a month none of them accepts.
    Facet("common/CommonV3.xsd SsinType pattern",
          lambda v: attestations("listAttestations", 0, ssin=v),
          (MAX, with_check_digits("852730033"), "85473003317"),
          ("70130853190", "70330853190", "70530853190", "7010085319", "701008531900"),
          "ssin"),
    Facet("common/CommonV3.xsd LegalContextType maxLength",
          lambda v: employment(context=v), (text(64, "A"),), (text(65, "A"),), "legalContext"),
    Facet("common/CommonV3.xsd CbeNumberType pattern",
          lambda v: list_items(who=customer(v)), (LIEGE,),
          ("2207311071", "020731107", "02073110710"), "cbeNumber"),
    Facet("common/CommonV3.xsd OrganizationIdentificationType/sector maxInclusive",
          lambda v: list_items(who=customer(identification=(
              "<sector>%s</sector><institution>1</institution>" % v))), ("999",), ("1000",),
          "sector"),
    Facet("common/CommonV3.xsd OrganizationIdentificationType/institution maxInclusive",
          lambda v: list_items(who=customer(identification=(
              "<sector>17</sector><institution>%s</institution>" % v))), ("999",), ("1000",),
          "institution"),
    # The classic SSDN schemas (CBSS's): the SSDNRequest itself refused 30000002, a
    # ServiceRequest's body 31000002, each naming the element in its detail.
    Facet("SSDN/Common.xsd t_SSIN pattern", lambda v: classic(identify(v)), (MAX,),
          ("7010085319", "701008531900", "7010085319x"), "SSIN", "31000002"),
    Facet("SSDN/Common.xsd t_IncompleteDate pattern", lambda v: classic(phonetic(birth=v)),
          ("1970-10-08", "1970-00-00"), ("1970-10-8", "08/10/1970", "3970-10-08"), "BirthDate",
          "31000002"),
    Facet("SSDN/Common.xsd t_DateTimeUTC pattern", lambda v: classic(identify(MAX), time=v),
          ("20261128T120000",), ("2026-11-28T12:00:00", "20261128120000"), "TimeRequest",
          "30000002"),
    Facet("SSDN/Common.xsd t_SISCardNumber pattern", lambda v: classic(verification(sis=v)),
          ("1234567897",), ("123456789", "12345678970"), "SISCardNumber", "31000002"),
    Facet("SSDN/Common.xsd t_IdentityCardNumber pattern",
          lambda v: classic(verification(eid=v)), ("591234567890",),
          ("59123456789", "5912345678901"), "IdentityCardNumber", "31000002"),
    Facet("SSDN/Common.xsd t_EmailAddress maxLength",
          lambda v: classic(identify(MAX), email=v), ("a@" + text(98),), ("a@" + text(99),),
          "Email", "30000002"),
    Facet("SSDN/Common.xsd t_EmailAddress pattern", lambda v: classic(identify(MAX), email=v),
          ("a@b",), ("info.example.com", "@example.com"), "Email", "30000002"),
    Facet("SSDN/IdentifyPersonRequest.xsd "
          "IdentifyPersonRequest/SearchCriteria/PhoneticCriteria/Maximum minInclusive",
          lambda v: classic(phonetic(maximum=v)), ("1",), ("0",), "Maximum", "31000002"),
    Facet("SSDN/IdentifyPersonRequest.xsd "
          "IdentifyPersonRequest/SearchCriteria/PhoneticCriteria/Maximum maxInclusive",
          lambda v: classic(phonetic(maximum=v)), ("80",), ("81",), "Maximum", "31000002"),
    Facet("SSDN/ListOfAttestationsRequest.xsd ListOfAttestationsRequest/RequestType pattern",
          lambda v: classic(list_of_attestations(v)), ("ALL", text(30, "A")),
          (text(31, "A"), "all", ""), "RequestType", "31000002"),
    Facet("SSDN/SSDNRequest.xsd SSDNRequest/ServiceRequest/Version length",
          lambda v: classic(identify(MAX), version=v), ("20050930",), ("2005093", "200509300"),
          "Version", "30000002"),
]

# Facets no request carries (replies, faults, the response-only tickets): not sent.
RESPONSE_ONLY = {
    "Dimona/DimonaV1.xsd DeclareResponseType/result maxOccurs",
    "EmployerDirectory/EmployerDirectoryV1.xsd EmployerResponseType/employer maxOccurs",
    "Mailbox/MailboxV1.xsd ItemType/field maxOccurs",
    "Mailbox/MailboxV1.xsd ListItemsResponseType/item maxOccurs",
    "Mailbox/MailboxV1.xsd FetchItemsResponseType/item maxOccurs",
    "Mailbox/MailboxV1.xsd AcknowledgeResponseType/acknowledged maxOccurs",
    "PensionCadastre/PensionCadastreV1.xsd DeclarationsResponseType/result maxOccurs",
    "ReferenceDirectory/ReferenceDirectoryV1.xsd BulkRegisterResponseType/rejected maxOccurs",
    "TestConnectionServiceV1.xsd UUIDType pattern",  # informationCBSS/ticketCBSS
    "common/CommonV3.xsd UUIDType pattern",  # informationCBSS/ticketCBSS
    "common/CommonV3.xsd InformationType/fieldName maxLength",
    "common/CommonV3.xsd InformationType/fieldValue maxLength",
    "common/CommonV3.xsd MessageType/reasonCode maxLength",
    "common/CommonV3.xsd MessageType/diagnostic maxLength",
    "common/CommonV3.xsd MessageType/authorCode maxLength",
    "common/CommonV3.xsd MessageType/information maxOccurs",
    "common/CommonV3.xsd StatusType/code maxLength",
    "common/CommonV3.xsd StatusType/description maxLength",
    "common/CommonV3.xsd StatusType/information maxOccurs",
    "common/CommonV3.xsd CBSSFaultType/detail maxOccurs",
}

FACET_NAMES = {"minInclusive", "maxInclusive", "minExclusive", "maxExclusive", "minLength",
               "maxLength", "length", "pattern", "totalDigits", "fractionDigits"}


def facets_in_xsd():
    """Every facet of xsd/ and every maxOccurs other than 1 and unbounded, as
    "file context facet" (context: the names of its enclosing declarations)."""
    found = set()
    for path in sorted(XSD.rglob("*.xsd")):
        if path.relative_to(XSD).parts[0] == "Batch":
            continue  # the batch channel's files: test_batch_channel.py has their cases
        for el in etree.parse(str(path)).iter():
            if not isinstance(el.tag, str):
                continue
            context = [a.get("name") for a in reversed(list(el.iterancestors()))
                       if a.get("name")]
            name = etree.QName(el).localname
            if name in FACET_NAMES:
                found.add("%s %s %s" % (path.relative_to(XSD), "/".join(context), name))
            if el.get("maxOccurs") not in (None, "1", "unbounded"):
                found.add("%s %s maxOccurs" % (path.relative_to(XSD), "/".join(
                    context + [el.get("name") or el.get("ref")])))
    return found


def test_every_request_facet_has_a_case():
    found = facets_in_xsd()
    covered = {f.key for f in FACETS}
    assert len(covered) == len(FACETS), "two cases for one facet"
    assert not covered & RESPONSE_ONLY
    assert sorted(found - covered - RESPONSE_ONLY) == [], "facets of xsd/ without a case"
    assert sorted((covered | RESPONSE_ONLY) - found) == [], "cases of facets xsd/ lacks"


SCHEMA_CODES = {"MSG00008", "30000002", "31000002"}  # the hub's and the SSDN schemas'


@pytest.mark.parametrize("facet", FACETS, ids=[f.id for f in FACETS])
def test_a_value_just_inside_passes_and_just_outside_is_refused(net, facet):
    for value in facet.inside:
        answer = send(net, facet.build(value))
        assert not (SCHEMA_CODES | {facet.code}) & set(answer.codes), (value, answer)
    for value in facet.outside:
        answer = send(net, facet.build(value))
        assert answer.code == facet.code, (value, answer)
        if facet.code in SCHEMA_CODES:  # a service's own code (ATT00003) names nothing
            assert names_element(answer.diagnostic, facet.element), (value, answer)
        assert_refusal_logged(net.settings, answer.ticket, facet.code)
