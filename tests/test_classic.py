"""The classic transport (sendXML, SSDN) over real HTTP: IdentifyPerson and
PerformInvestigation answered from the National Register source, exactly as CBSS does."""
import pytest
from lxml import etree

from kszws.wire import ssdn
from kszws.sources.national_register.population import DEMO_PERSONS
from tests.netfixture import CBSS, register_in_directory
from tests.soaptools import Answer, log_row
from tests.ssdntools import (IDENTIFY_ROOT, INVESTIGATE_ROOT, IPR, PI, Reply, identify,
                             investigate, original_schema, post_basic, signed_call, ssdn_request)


@pytest.fixture(scope="module", autouse=True)
def registered(classic_net):
    """The CPAS of these tests manage a file on the demo persons (the integration check
    answers nothing about anyone else; its refusals are tested in test_access.py)."""
    register_in_directory(classic_net.settings, ["cpas-eupen", "cpas-liege", "test-lino"],
                          [p["ssin"] for p in DEMO_PERSONS])


def ipr(local):
    return "{%s}%s" % (IPR, local)


def basic_call(net, *requests_, **kw):
    return Reply.of(post_basic(net, ssdn_request(*requests_, **kw)))


def conforms(reply, *roots):
    """Validate a whole SSDNReply against CBSS's original XSDs, when they are here."""
    if not CBSS.is_dir():
        return
    schema = original_schema(*roots)
    assert schema.validate(reply.root), schema.error_log


def test_identify_by_ssin(classic_net):
    reply = signed_call(classic_net, ssdn_request(identify("70100853190"), caller="cpas-eupen"))
    assert reply.summary() == ("YES", 0, [])
    assert reply.summary(0) == ("YES", 0, [])
    basic = reply.root.find(".//" + ipr("Basic"))
    assert basic.findtext(ipr("SocialSecurityUser")) == "70100853190"
    assert basic.findtext(ipr("LastName")) == "MUSTERMANN"
    assert basic.findtext(ipr("BirthDate")) == "1970-10-08"
    assert basic.find(ipr("Address")).findtext(ipr("MunicipalityCode")) == "63023"
    assert len(reply.root.find(".//" + ipr("Extended"))) == 0  # identity not validated: empty
    assert len(reply.ticket) == 15 and reply.ticket.isupper() or reply.ticket.isdigit()
    conforms(reply, IDENTIFY_ROOT)
    row = log_row(classic_net.settings, reply.ticket)
    assert row["caller"] == "cpas-eupen" and row["caller_user"] == "00901234567"
    assert row["operation"] == "OCMWCPASIdentifyPerson" and row["version"] == "20050930"
    assert "70100853190" in row["subjects"] and row["outcome"] == "OK"


def test_verification_data_validates_the_identity(classic_net):
    verification = ('<ipr:SISCardNumber>1234567897</ipr:SISCardNumber>'
                    '<ipr:PersonData><ipr:LastName>MUSTERMANN</ipr:LastName>'
                    '<ipr:FirstName>max</ipr:FirstName><ipr:MiddleName></ipr:MiddleName>'
                    '<ipr:BirthDate>1970-10-00</ipr:BirthDate></ipr:PersonData>')
    reply = basic_call(classic_net, identify("70100853190", verification=verification))
    assert reply.summary(0) == ("YES", 0, ["12007001"])
    extended = reply.root.find(".//" + ipr("Extended"))
    assert extended is not None and extended.findtext(ipr("CivilState")) == "20"
    conforms(reply, IDENTIFY_ROOT)


def test_person_data_mismatch_is_a_warning(classic_net):
    verification = ('<ipr:PersonData><ipr:LastName>Musterfrau</ipr:LastName>'
                    '<ipr:BirthDate>1970-10-08</ipr:BirthDate></ipr:PersonData>')
    reply = basic_call(classic_net, identify("70100853190", verification=verification))
    assert reply.summary() == ("WARNING", 1, ["20000001"])
    assert reply.summary(0) == ("WARNING", 1, ["22007007"])
    assert len(reply.root.find(".//" + ipr("Extended"))) == 0
    conforms(reply, IDENTIFY_ROOT)


def test_ssin_and_phonetic_criteria_warn_and_ignore_the_phonetic(classic_net):
    reply = basic_call(classic_net, identify("70100853190", phonetic={
        "LastName": "Somebody", "BirthDate": "1900-00-00", "Tolerance": "0"}))
    assert reply.summary(0) == ("WARNING", 1, ["21007001"])
    assert reply.root.findtext(".//" + ipr("LastName")) == "MUSTERMANN"


def test_wrong_check_digit(classic_net):
    reply = basic_call(classic_net, identify("70100853191"))
    assert reply.summary() == ("NO", 10000, ["30000001"])
    assert reply.summary(0) == ("NO", 10000, ["31007002"])
    service = reply.service_replies()[0]
    assert service.findtext(ssdn.s("ServiceId")) == "OCMWCPASIdentifyPerson"
    assert service.findtext(ssdn.s("Version")) == "20050930"
    assert service.find(ipr("IdentifyPersonReply")) is None  # an error reply has no body
    conforms(reply, IDENTIFY_ROOT)
    assert log_row(classic_net.settings, reply.ticket)["reason_code"] == "31007002"


def test_unknown_ssin(classic_net):
    reply = basic_call(classic_net, identify("99010190188"))
    assert reply.summary(0) == ("NO", 10000, ["31007003"])


def test_incomplete_birth_date_without_tolerance(classic_net):
    reply = basic_call(classic_net, identify(phonetic={"LastName": "Mustermann",
                                                       "BirthDate": "1938-06-00"}))
    assert reply.summary(0) == ("NO", 10000, ["31009001"])
    detail = reply.root.find(".//%s/%s" % (ssdn.c("ResultSummary"), ssdn.c("Detail")))
    detail = reply.service_replies()[0].find("%s/%s" % (ssdn.c("ResultSummary"), ssdn.c("Detail")))
    info = [(i.findtext(ssdn.c("FieldName")), i.findtext(ssdn.c("FieldValue")))
            for i in detail.findall(ssdn.c("Information"))]
    assert info == [("Phonetic Criteria: Birth Date", "1938-06-00"),
                    ("Phonetic Criteria: Birth Date Tolerance", None)]
    conforms(reply, IDENTIFY_ROOT)


def test_empty_last_name_is_a_missing_argument(classic_net):
    reply = basic_call(classic_net, identify(phonetic={
        "LastName": "", "FirstName": "", "MiddleName": "", "BirthDate": "1970-10-08"}))
    assert reply.summary(0) == ("NO", 10000, ["31000007"])


@pytest.mark.parametrize("asked, expected", [
    ("Vandenberghe", "72030512297"),
    ("VAN DEN BERGHE", "72030512297"),
    ("Van den Berge", "72030512297"),
    ("Lefebvre", "01020300170"),
    ("Lefèvre", "01020300170"),
    ("Musterman", "70100853190"),
    ("Ozturk", "85473003317"),
])
def test_phonetic_search(classic_net, asked, expected):
    birth = {"72030512297": "1972-03-05", "01020300170": "2001-02-03",
             "70100853190": "1970-00-00", "85473003317": "1985-07-30"}[expected]
    phonetic = {"LastName": asked, "BirthDate": birth, "Tolerance": "1"}
    reply = basic_call(classic_net, identify(phonetic=phonetic))
    assert reply.summary(0)[0] == "YES"
    found = [e.text for e in reply.root.iter(ipr("SocialSecurityUser"))]
    assert expected in found
    conforms(reply, IDENTIFY_ROOT)


def test_phonetic_search_uses_first_name_gender_and_the_bis_register(classic_net):
    reply = basic_call(classic_net, identify(phonetic={
        "LastName": "Öztürk", "FirstName": "Ayse", "BirthDate": "1985-07-00", "Gender": "2",
        "Tolerance": "0", "Maximum": "5"}))
    data = reply.root.find(".//" + ipr("LimitedLegalData"))
    assert data.get("origin") == "BCSS_KSZ"
    assert data.findtext(".//" + ipr("SocialSecurityUser")) == "85473003317"
    none = basic_call(classic_net, identify(phonetic={
        "LastName": "Öztürk", "BirthDate": "1985-07-30", "Gender": "1", "Tolerance": "0"}))
    assert none.root.find(".//" + ipr("LimitedLegalData")) is None


def test_replaced_ssin_gives_the_new_one(classic_net):
    reply = basic_call(classic_net, identify("60010100172"))
    assert reply.summary(0) == ("WARNING", 1, ["21007005"])
    assert reply.root.findtext(".//" + ipr("SocialSecurityUser")) == "60010100370"


def test_cancelled_ssin(classic_net):
    assert basic_call(classic_net, identify("55050500169")).summary(0) == ("NO", 10000, ["31007004"])


def test_reply_prefixes_are_those_real_clients_read(classic_net):
    text = basic_call(classic_net, identify("70100853190")).text
    assert text.startswith('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
    assert '<SSDNReply xmlns="%s">' % ssdn.SERVICE in text
    assert "<ReplyContext><ns1:ResultSummary xmlns:ns1=" in text
    assert "<ServiceReply><ns2:ResultSummary xmlns:ns2=" in text
    assert '<ns3:IdentifyPersonReply xmlns:ns3="%s">' % IPR in text
    assert "<ns3:SearchResults><ns3:LimitedLegalData" in text


def test_cdata_declaration_default_namespace_and_language(classic_net):
    """The PHP client: XML declaration, default namespace, Message/Language; Lino: CDATA."""
    inner = ("<?xml version='1.0' encoding='UTF-8' standalone='yes'?>"
             + ssdn_request(identify("70100853190"), prefix="", language="fr"))
    for cdata in (True, False):
        reply = Reply.of(post_basic(classic_net, inner, cdata=cdata))
        assert reply.summary(0) == ("YES", 0, [])


def test_several_service_requests_in_one_envelope(classic_net):
    reply = basic_call(classic_net, identify("70100853190"), identify("70100853191"),
                       investigate("70100853190"))
    assert [r.findtext(ssdn.s("ServiceId")) for r in reply.service_replies()] == [
        "OCMWCPASIdentifyPerson", "OCMWCPASIdentifyPerson", "OCMWCPASPerformInvestigation"]
    assert reply.summary() == ("NO", 10000, ["30000001"])
    assert [reply.summary(i)[0] for i in range(3)] == ["YES", "NO", "YES"]
    conforms(reply, IDENTIFY_ROOT, INVESTIGATE_ROOT)


def test_a_message_of_more_service_requests_than_the_cap_is_refused_whole(classic_net):
    from kszws.services.classic import MAX_SERVICE_REQUESTS

    many = [identify("70100853190")] * (MAX_SERVICE_REQUESTS + 1)
    reply = basic_call(classic_net, *many)
    assert reply.summary() == ("NO", 10000, ["30000002"]) and reply.service_replies() == []
    assert len(basic_call(classic_net, *many[:2]).service_replies()) == 2


def test_perform_investigation(classic_net):
    reply = basic_call(classic_net, investigate("70100853190"))
    assert reply.summary(0) == ("YES", 0, [])
    body = reply.service_replies()[0].find("{%s}PerformInvestigationReply" % PI)
    members = [m.findtext("{%s}SocialSecurityUser" % PI)
               for m in body.iter("{%s}FamilyMember" % PI)]
    assert members == ["70100853190", "72030512297"]
    citizens = body.findall(".//{%s}Citizen" % ssdn.PERSON)
    assert {c.findtext("{%s}SocialSecurityUser" % ssdn.PERSON) for c in citizens} == {
        "70100853190", "72030512297"}
    assert body.find(".//{%s}AddressHistory" % PI) is not None
    assert body.find(".//{%s}WaitRegister" % PI) is not None
    conforms(reply, INVESTIGATE_ROOT)
    only = basic_call(classic_net, investigate("70100853190", ["AddressHistoryGroup"]))
    groups = only.root.find(".//{%s}DataGroups" % PI)
    assert [etree.QName(g).localname for g in groups] == ["AddressHistoryGroup"]


def test_unknown_service_and_invalid_request(classic_net):
    reply = basic_call(classic_net, ("OCMWCPASNoSuchService", "20990101", "<x:y xmlns:x='urn:x'/>"))
    assert reply.summary(0) == ("NO", 10000, ["31000001"])
    bad = basic_call(classic_net, ("OCMWCPASIdentifyPerson", "20050930",
                                   '<ipr:IdentifyPersonRequest xmlns:ipr="%s"/>' % IPR))
    assert bad.summary(0) == ("NO", 10000, ["31000002"])
    broken = Reply.of(post_basic(classic_net, "<SSDNRequest>not ssdn</SSDNRequest>"))
    assert broken.summary() == ("NO", 10000, ["30000002"])
    hostile = Reply.of(post_basic(classic_net, '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'))
    assert hostile.summary() == ("NO", 10000, ["30000002"])
    assert "root:" not in hostile.text


def test_authorized_user_must_be_the_authenticated_institution(classic_net):
    inner = ssdn_request(identify("70100853190"), user=("0207311071", 18, None))
    answer = Answer(post_basic(classic_net, inner), classic_net.settings)
    assert answer.reason == "SEC00012" and answer.signed
    assert log_row(classic_net.settings, answer.ticket)["outcome"] == "REFUSED"


def test_the_real_lino_request(classic_net, cbss):
    """samples/lino_request_IdentifyPerson_ssin.xml, byte for byte, as Lino sends it."""
    inner = (cbss / "samples" / "lino_request_IdentifyPerson_ssin.xml").read_text()
    reply = signed_call(classic_net, inner, institution="test-lino")
    # SSIN and (empty) phonetic criteria: the phonetic criteria are ignored, with a warning;
    # the PersonData (no name, born 1938) do not match the person: a warning.
    assert reply.summary(0) == ("WARNING", 1, ["21007001", "22007007"])
    assert reply.root.findtext(".//" + ipr("SocialSecurityUser")) == "70100853190"
    assert reply.root.findtext(".//" + ssdn.s("Reference")) == "IdentifyPersonRequest # 1"
    conforms(reply, IDENTIFY_ROOT)


def test_suds_calls_send_xml(classic_net):
    """suds (as Lino uses it), with HTTP Basic, on the served WSDL."""
    from suds.client import Client
    from suds.transport.https import HttpAuthenticated

    password = (classic_net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    url = classic_net.url + "/connectors/webservice/KSZBCSSWebServiceConnectorPort"
    client = Client(url + "?wsdl", transport=HttpAuthenticated(username="E0207311071",
                                                               password=password))
    text = client.service.sendXML(ssdn_request(identify("70100853190")))
    assert Reply(text).summary(0) == ("YES", 0, [])


def test_registered_address_identifies_a_classic_client(tmp_path):
    """Classic clients without HTTP authentication: the registered source address."""
    from tests.netfixture import Hub, make_project

    settings = make_project(tmp_path)
    path = settings.conf_dir / "institutions.toml"
    path.write_text(path.read_text().replace(
        'cbe = "0207311071"\nauth = "basic"',
        'cbe = "0207311071"\nauth = "address"\naddresses = ["127.0.0.0/8"]'))
    hub = Hub(settings).start()
    try:
        import requests
        from tests.ssdntools import ACTION, PATH, envelope

        response = requests.post(hub.url + PATH, data=envelope(ssdn_request(identify("70100853190"))),
                                 headers={"Content-Type": "text/xml", "SOAPAction": ACTION},
                                 timeout=30)
        reply = Reply.of(response)  # the source is not running: the legacy error shape
        assert reply.summary(0) == ("NO", 10000, ["31000003"])
        row = log_row(settings, reply.ticket)
        assert row["caller"] == "cpas-liege" and row["auth_method"] == "address"
        assert row["outcome"] == "ERROR" and row["reason_code"] == "SRC00001"
    finally:
        hub.stop()


def test_slow_source_gives_the_legacy_error_within_the_timeout(tmp_path):
    """A source that accepts and never answers: the caller gets the SSDN error shape within
    the configured timeout (3 s in the test project), and the hub keeps serving meanwhile."""
    import socket
    import threading
    import time

    import requests

    from kszws.registry import load_registry
    from tests.netfixture import Hub, make_project
    from kszws.wire import soap
    from tests.soaptools import request_envelope

    settings = make_project(tmp_path)
    source = load_registry(settings).sources["national-register"]
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", source.port))
    silent.listen(16)
    hub = Hub(settings).start()
    try:
        password = (settings.certs_dir / "cpas-liege.password").read_text().strip()
        results = {}

        def slow_call():
            start = time.monotonic()
            results["reply"] = Reply.of(post_basic(hub, ssdn_request(identify("70100853190"))))
            results["seconds"] = time.monotonic() - start

        caller = threading.Thread(target=slow_call)
        caller.start()
        time.sleep(0.5)
        probe = requests.post(hub.url + "/SOA4520/TestConnectionServiceService/sendTestMessage",
                              data=soap.serialize(request_envelope("still here")),
                              headers={"Content-Type": "text/xml"}, auth=("E0207311071", password),
                              timeout=10)
        assert probe.status_code == 200 and b"still here" in probe.content
        caller.join(30)
        reply = results["reply"]
        assert reply.summary(0) == ("NO", 10000, ["31000003"])
        assert results["seconds"] < source.timeout_seconds + 2
        row = log_row(settings, reply.ticket)
        assert row["outcome"] == "ERROR" and row["reason_code"] == "SRC00001"
        assert "did not answer within" in row["detail"]
    finally:
        hub.stop()
        silent.close()


def test_a_comment_inserted_into_the_signed_string_does_not_cut_it(classic_net):
    """A man in the middle inserts <!-- --> into the signed xmlString (C14N without comments
    leaves the signature valid): the hub reads the whole string, never the half before it."""
    from tests.soaptools import identity, post, sign_custom
    from tests.ssdntools import ACTION, PATH, envelope

    inner = ssdn_request(identify("70100853190"), caller="cpas-eupen")
    root = etree.fromstring(envelope(inner))
    sign_custom(root, identity(classic_net.settings, "cpas-eupen"))
    data = etree.tostring(root)
    assert data.count(b"70100853190") == 1
    cut = data.replace(b"70100853190", b"701008<!-- cut -->53190")
    response = post(classic_net.url + PATH, cut, headers={
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": ACTION})
    reply = Reply.of(response)
    assert reply.summary() == ("YES", 0, [])
    basic = reply.root.find(".//" + ipr("Basic"))
    assert basic.findtext(ipr("SocialSecurityUser")) == "70100853190"


def detail_information(reply, index=0):
    """[(reason code, [(FieldName, FieldValue)])] of ServiceReply `index`."""
    summary = reply.service_replies()[index].find(ssdn.c("ResultSummary"))
    return [(d.findtext(ssdn.c("ReasonCode")),
             [(i.findtext(ssdn.c("FieldName")), i.findtext(ssdn.c("FieldValue")))
              for i in d.findall(ssdn.c("Information"))])
            for d in summary.findall(ssdn.c("Detail"))]


def test_details_name_what_they_concern(classic_net):
    """Issue 15 (3): a mismatch lists each field compared with the value the request gave,
    the validation gives the validated SSIN, the ignored phonetic criteria are named."""
    verification = ('<ipr:PersonData><ipr:LastName>Musterfrau</ipr:LastName>'
                    '<ipr:FirstName>Max</ipr:FirstName>'
                    '<ipr:BirthDate>1970-10-08</ipr:BirthDate></ipr:PersonData>')
    reply = basic_call(classic_net, identify("70100853190", verification=verification,
                                             phonetic={"LastName": "Somebody",
                                                       "BirthDate": "1900-00-00"}))
    assert detail_information(reply) == [
        ("21007001", [("Phonetic Criteria", None)]),
        ("22007007", [("Person Data: Last Name", "Musterfrau"),
                      ("Person Data: First Name", "Max"),
                      ("Person Data: Birth Date", "1970-10-08")])]
    validated = basic_call(classic_net, identify("70100853190", verification=(
        '<ipr:SISCardNumber>1234567897</ipr:SISCardNumber>')))
    assert detail_information(validated) == [("12007001", [("SSIN", "70100853190")])]
    conforms(reply, IDENTIFY_ROOT)


def test_every_missing_argument_is_reported(classic_net):
    """Issue 15 (4): every problem of the criteria in its own Detail, not only the first:
    the family name missing and an incomplete birth date without a tolerance. (A missing
    BirthDate the schema refuses first; ManageAccess reports a missing proof and a missing
    purpose together, tests/test_manage_access.py.)"""
    reply = basic_call(classic_net, identify(phonetic={
        "LastName": "", "FirstName": "", "MiddleName": "", "BirthDate": "1938-06-00"}))
    assert detail_information(reply) == [
        ("31000007", [("Phonetic Criteria: Last Name", None)]),
        ("31009001", [("Phonetic Criteria: Birth Date", "1938-06-00"),
                      ("Phonetic Criteria: Birth Date Tolerance", None)])]


def test_a_mismatch_and_the_validation_come_together(classic_net):
    """Issue 15 (5): the SIS card validates the identity (12007001, Extended given) while
    the birth date in PersonData differs (22007007): both, as CBSS answers."""
    verification = ('<ipr:SISCardNumber>1234567897</ipr:SISCardNumber>'
                    '<ipr:PersonData><ipr:LastName>Mustermann</ipr:LastName>'
                    '<ipr:BirthDate>1971-10-08</ipr:BirthDate></ipr:PersonData>')
    reply = basic_call(classic_net, identify("70100853190", verification=verification))
    assert reply.summary(0) == ("WARNING", 1, ["22007007", "12007001"])
    assert len(reply.root.find(".//" + ipr("Extended"))) > 0
    conforms(reply, IDENTIFY_ROOT)


def test_names_and_places_in_capitals_in_each_official_language(classic_net):
    """Issue 15 (1, 2): names, municipalities, streets and birth places in capitals, as
    CBSS writes them (../shared/cbss/samples/lino_demo_ipr_1.xml); the municipality and
    the street once per official language of the municipality (Dutch and French in
    Brussels, German and French in Eupen) with `lang`, the street's code and the box; the
    birth place likewise."""
    register_in_directory(classic_net.settings, ["cpas-eupen"], ["90041506248"])
    brussels = basic_call(classic_net, identify("90041506248", verification=(
        '<ipr:PersonData><ipr:LastName>Peeters</ipr:LastName>'
        '<ipr:BirthDate>1990-04-15</ipr:BirthDate></ipr:PersonData>')))
    basic = brussels.root.find(".//" + ipr("Basic"))
    assert (basic.findtext(ipr("LastName")), basic.findtext(ipr("FirstName"))) == (
        "PEETERS", "SOFIE")
    address = basic.find(ipr("Address"))
    assert [(e.get("lang"), e.text) for e in address.findall(ipr("Municipality"))] == [
        ("nl", "BRUSSEL"), ("fr", "BRUXELLES")]
    assert [(e.get("lang"), e.text) for e in address.findall(ipr("Street"))] == [
        ("nl", "HOOGSTRAAT"), ("fr", "RUE HAUTE")]
    assert address.findtext(ipr("StreetCode")).isdigit()
    assert address.findtext(ipr("Box")) == "3"
    assert [c.tag.split("}")[1] for c in address] == [
        "CountryCode", "MunicipalityCode", "Municipality", "Municipality", "PostalCode",
        "StreetCode", "Street", "Street", "HouseNumber", "Box"]
    extended = brussels.root.find(".//" + ipr("Extended"))
    assert [(e.get("lang"), e.text) for e in extended.findall(ipr("BirthLocation"))] == [
        ("nl", "BRUSSEL"), ("fr", "BRUXELLES")]
    conforms(brussels, IDENTIFY_ROOT)
    eupen = basic_call(classic_net, identify("70100853190"))
    municipality = eupen.root.findall(".//%s/%s" % (ipr("Address"), ipr("Municipality")))
    assert [(e.get("lang"), e.text) for e in municipality] == [("de", "EUPEN"), ("fr", "EUPEN")]
    street = eupen.root.findall(".//%s/%s" % (ipr("Address"), ipr("Street")))
    assert [(e.get("lang"), e.text) for e in street] == [("de", "GOSPERTSTRASSE")]


def test_the_identity_card_number_validates_the_identity(classic_net):
    """The eID card number alone validates the identity; another one is a mismatch (the
    hub compares it with the register's, read from the source's reply)."""
    good = basic_call(classic_net, identify("70100853190", verification=(
        '<ipr:IdentityCardNumber>591000123456</ipr:IdentityCardNumber>')))
    assert good.summary(0) == ("YES", 0, ["12007001"])
    assert len(good.root.find(".//" + ipr("Extended"))) > 0
    wrong = basic_call(classic_net, identify("70100853190", verification=(
        '<ipr:IdentityCardNumber>591000123457</ipr:IdentityCardNumber>')))
    assert wrong.summary(0) == ("WARNING", 1, ["22007009"])
    assert len(wrong.root.find(".//" + ipr("Extended"))) == 0
