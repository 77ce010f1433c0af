"""The integration check and the services around the reference directory, over real HTTP:
a CPAS registers a person (ManageAccess with a proof), then gets his data; a CPAS without a
registration is refused in the legacy shape; after UNREGISTER the first is refused too;
every step is in the exchange log and in the person's "who consulted my data" answer."""
import datetime

import pytest
import zeep
from lxml import etree

from kszws.client import hub_client
from kszws.hub import exchange_log
from kszws.store.db import Database
from tests.netfixture import make_project, register_in_directory, start_network, stop_network
from tests.ssdntools import (Reply, identify, investigate, manage, post_basic, signed_call,
                             ssdn_request)

MAX = "70100853190"  # Max Mustermann (DEMO_PERSONS), SIS card 1234567897
ANNE = "72030512297"
PROOF_SIS = "<mar:SISCardNumber>1234567897</mar:SISCardNumber>"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("access"))
    access = settings.conf_dir / "access.toml"
    # test-lino's data-protection officer may ask about anyone (conf, not code).
    access.write_text(access.read_text().replace(
        'data_protection_officers = ["kszws-hub"]',
        'data_protection_officers = ["kszws-hub", "test-lino"]'))
    hub = start_network(settings)
    yield hub
    stop_network(hub)


def eupen(net, *requests_):
    return signed_call(net, ssdn_request(*requests_, caller="cpas-eupen"))


def liege(net, *requests_):
    return Reply.of(post_basic(net, ssdn_request(*requests_)))


def retrieve_ti(net, ssin, institution="cpas-eupen", context="PCSA:SOCIAL_INQUIRY"):
    proxy, _ = hub_client(net.settings, "RetrieveTIGroupsService", institution, net.url)
    return proxy.retrieveTI(informationCustomer={"customerIdentification": {
        "cbeNumber": _cbe(net, institution)}}, legalContext=context,
        searchInformation={"ssin": ssin})


def _cbe(net, institution):
    from kszws.registry import load_registry

    return load_registry(net.settings).institution(institution).cbe


def customer(net, institution):
    return {"customerIdentification": {"cbeNumber": _cbe(net, institution)}}


def access_log(net, ssin, institution="test-lino", citizen=None, officer=None):
    proxy, _ = hub_client(net.settings, "AccessLogService", institution, net.url)
    acting = {"citizen": citizen} if citizen else {"dataProtectionOfficer": officer}
    return proxy.consultAccessLog(informationCustomer=customer(net, institution),
                                  actingFor=acting, ssin=ssin,
                                  period={"startDate": datetime.date(2026, 1, 1)})


def fault_code(excinfo):
    return excinfo.value.detail.findtext(".//reasonCode")


def test_register_retrieve_refuse_unregister_and_who_consulted(net):
    # 1. Without a registration, nobody gets Max's National Register data.
    with pytest.raises(zeep.exceptions.Fault) as refused:
        retrieve_ti(net, MAX)
    assert fault_code(refused) == "ACC00002"
    # 2. Eupen registers him, with the proof of his SIS card ...
    assert eupen(net, manage(MAX, "REGISTER", 1, proof=PROOF_SIS)).summary(0)[0] == "YES"
    # ... then gets his data, classic and new style.
    assert retrieve_ti(net, MAX)["status"]["value"] == "DATA_FOUND"
    answered = eupen(net, investigate(MAX))
    assert answered.summary(0) == ("YES", 0, [])
    # 3. Liege has no file on him: the legacy error shape, with a stable reason code.
    other = liege(net, investigate(MAX))
    assert other.summary(0) == ("NO", 10000, ["31008007"])
    assert other.service_replies()[0].find(".//{*}PerformInvestigationReply") is None
    # 4. After UNREGISTER, Eupen is refused too.
    assert eupen(net, manage(MAX, "UNREGISTER", proof=PROOF_SIS)).summary(0)[0] == "YES"
    after = eupen(net, investigate(MAX))
    assert after.summary(0) == ("NO", 10000, ["31008007"])
    with pytest.raises(zeep.exceptions.Fault) as again:
        retrieve_ti(net, MAX)
    assert fault_code(again) == "ACC00002"
    # 5. Every step is in the exchange log ...
    rows = _log(net, MAX)
    steps = [(r["caller"], r["outcome"], r["reason_code"]) for r in reversed(rows)]
    assert steps == [
        ("cpas-eupen", "REFUSED", "ACC00002"), ("cpas-eupen", "OK", "MSG00000"),
        ("cpas-eupen", "OK", "MSG00000"), ("cpas-eupen", "OK", "MSG00000"),
        ("cpas-liege", "REFUSED", "31008007"), ("cpas-eupen", "OK", "MSG00000"),
        ("cpas-eupen", "REFUSED", "31008007"), ("cpas-eupen", "REFUSED", "ACC00002")]
    # ... and in Max's "who consulted my data", asked by a portal acting for Max himself.
    seen = access_log(net, MAX, institution="cpas-eupen", citizen=MAX)
    assert seen["status"]["value"] == "DATA_FOUND"
    accesses = [(a["institution"], a["service"], a["outcome"]) for a in seen["access"]]
    assert accesses == _named(net, rows)  # newest first, as the log
    assert ("CPAS de Liège", "KSZBCSSWebServiceConnector", "REFUSED") in accesses
    assert all(a["legalContext"] == "PCSA:SOCIAL_INQUIRY" for a in seen["access"])


def _log(net, ssin):
    db = Database(net.settings.store_url)
    try:
        return [r for r in exchange_log.search(db, subject=ssin, limit=100)
                if r["service"] != "AccessLogService"]
    finally:
        db.dispose()


def _named(net, rows):
    from kszws.registry import load_registry

    names = {i.id: i.name for i in load_registry(net.settings).institutions.values()}
    return [(names[r["caller"]], r["service"], r["outcome"]) for r in rows]


def test_sector_without_authorization_is_refused(net):
    # ONEM/RVA (sector 18) has no authorization for PerformInvestigation, registered or not.
    register_in_directory(net.settings, ["onem-rva"], [ANNE], code=1)
    proxy, _ = hub_client(net.settings, "KSZBCSSWebServiceConnector", "onem-rva", net.url)
    inner = ssdn_request(investigate(ANNE), caller="cpas-eupen").replace(
        "<ssdn:MatrixID>17</ssdn:MatrixID>", "<ssdn:MatrixID>18</ssdn:MatrixID>").replace(
        "<ssdn:MatrixSubID>1</ssdn:MatrixSubID>", "").replace(
        "<ssdn:OrgUnit>0212310036</ssdn:OrgUnit>", "<ssdn:OrgUnit>0206314050</ssdn:OrgUnit>")
    reply = Reply(proxy.sendXML(inner))
    assert reply.summary(0) == ("NO", 10000, ["31008006"])
    # The legal context must be one the authorization names.
    with pytest.raises(zeep.exceptions.Fault) as wrong:
        retrieve_ti(net, ANNE, "onem-rva", "PCSA:SOCIAL_INQUIRY")
    assert fault_code(wrong) == "ACC00001"
    assert retrieve_ti(net, ANNE, "onem-rva", "ONEM:UNEMPLOYMENT_RIGHTS")["status"][
        "value"] == "DATA_FOUND"


def test_identify_person_extended_part_needs_a_registration(net):
    verification = "<ipr:SISCardNumber>1234567897</ipr:SISCardNumber>"
    reply = liege(net, identify(MAX, verification=verification))
    assert reply.summary(0) == ("WARNING", 1, ["21008008"])
    assert reply.root.find(".//{*}Basic") is not None
    assert len(reply.root.find(".//{*}Extended")) == 0  # empty: not for this caller
    register_in_directory(net.settings, ["cpas-liege"], [MAX], code=4)
    validated = liege(net, identify(MAX, verification=verification))
    assert validated.summary(0) == ("YES", 0, ["12007001"])
    assert len(validated.root.find(".//{*}Extended")) > 0


def test_embargoed_context_is_withheld_from_the_access_log(net):
    person = "01020300170"
    register_in_directory(net.settings, ["onem-rva"], [person], code=4)
    assert retrieve_ti(net, person, "onem-rva", "INSPECTION:SOCIAL_FRAUD")["status"][
        "value"] == "DATA_FOUND"
    assert retrieve_ti(net, person, "onem-rva", "ONEM:UNEMPLOYMENT_RIGHTS")["status"][
        "value"] == "DATA_FOUND"
    seen = access_log(net, person, officer="dpo-1")  # test-lino's data-protection officer
    contexts = [a["legalContext"] for a in seen["access"]]
    assert "ONEM:UNEMPLOYMENT_RIGHTS" in contexts
    assert "INSPECTION:SOCIAL_FRAUD" not in contexts
    assert len(_log(net, person)) == 2  # the hub's own log keeps both


def test_access_log_only_for_the_citizen_or_an_officer(net):
    with pytest.raises(zeep.exceptions.Fault) as other:
        access_log(net, MAX, institution="cpas-eupen", citizen=ANNE)
    assert fault_code(other) == "ACC00003"
    with pytest.raises(zeep.exceptions.Fault) as officer:
        access_log(net, MAX, institution="cpas-eupen", officer="dpo")
    assert fault_code(officer) == "ACC00003"


def test_new_style_directory_register_list_consult_unregister(net):
    person = "85473003317"  # Ayşe Öztürk (a bis number)
    proxy, _ = hub_client(net.settings, "ReferenceDirectoryService", "cpas-eupen", net.url)
    period = {"startDate": datetime.date(2026, 2, 1)}
    wrong = proxy.register(informationCustomer=customer(net, "cpas-eupen"), ssin=person,
                           qualityCode=1, period=period, proof={"sisCardNumber": "0000000000"})
    assert (wrong["status"]["value"], wrong["status"]["code"]) == ("NO_RESULT", "DIR00002")
    data = {"personData": {"lastName": "OZTURK", "firstName": "Ayse",
                           "birthDate": "1985-07-30"}}
    done = proxy.register(informationCustomer=customer(net, "cpas-eupen"), ssin=person,
                          qualityCode=2, period=period, proof=data)
    assert done["status"]["code"] == "MSG00000"
    assert [(r["qualityCode"], r["institution"]) for r in done["registration"]] == [
        (2, "0212310036")]
    # The exclusive code at a second CPAS: refused, the other CPAS not named.
    liege_proxy, history = hub_client(net.settings, "ReferenceDirectoryService", "test-lino",
                                      net.url)
    conflict = liege_proxy.register(informationCustomer=customer(net, "test-lino"), ssin=person,
                                    qualityCode=2, period=period, proof=data)
    assert conflict["status"]["code"] == "DIR00001"
    assert b"0212310036" not in etree.tostring(history.last_received["envelope"])
    # ONEM registers too; Eupen sees sector 18 through consult, not ONEM's file through list.
    register_in_directory(net.settings, ["onem-rva"], [person], code=1)
    listed = proxy.list(informationCustomer=customer(net, "cpas-eupen"), ssin=person,
                        period=period)
    assert [r["sector"] for r in listed["registration"]] == [17]
    others = proxy.consult(informationCustomer=customer(net, "cpas-eupen"), ssin=person,
                           qualityCode=2, period=period)
    assert [(r["sector"], r["qualityCode"]) for r in others["registration"]] == [(18, 1)]
    ended = proxy.unregister(informationCustomer=customer(net, "cpas-eupen"), ssin=person,
                             **{"from": datetime.date(2026, 2, 1)})
    assert ended["status"]["code"] == "MSG00000" and not ended["registration"]
    nothing = proxy.unregister(informationCustomer=customer(net, "cpas-eupen"), ssin=person,
                               **{"from": datetime.date(2026, 2, 1)})
    assert (nothing["status"]["value"], nothing["status"]["code"]) == ("NO_DATA_FOUND",
                                                                       "DIR00004")


def test_bulk_register_reports_each_refused_line(net):
    proxy, _ = hub_client(net.settings, "ReferenceDirectoryService", "test-lino", net.url)
    start = {"startDate": datetime.date(2026, 3, 1)}
    lines = [{"ssin": ANNE, "qualityCode": 4, "period": start},
             {"ssin": ANNE, "qualityCode": 4, "period": start},  # duplicate line
             {"ssin": "55050500170", "qualityCode": 4, "period": start},  # check digits
             {"ssin": "60010100370", "qualityCode": 401, "period": start}]  # not sector 17's
    reply = proxy.bulkRegister(informationCustomer=customer(net, "test-lino"),
                               registration=lines)
    assert reply["accepted"] == 1
    assert [(r["index"], r["reasonCode"]) for r in reply["rejected"]] == [
        (2, "DIR00006"), (3, "DIR00007"), (4, "DIR00003")]
    # What was accepted entitles test-lino to the person's data.
    reply = signed_call(net, ssdn_request(investigate(ANNE), caller="test-lino"),
                        institution="test-lino")
    assert reply.summary(0) == ("YES", 0, [])


def test_replaced_ssin_registrations_follow_the_new_one(net):
    proof = ("<mar:PersonData><mar:LastName>Janssens</mar:LastName>"
             "<mar:BirthDate>1960-01-01</mar:BirthDate></mar:PersonData>")
    reply = eupen(net, manage("60010100172", "REGISTER", 902, proof=proof))
    assert reply.summary(0)[0] == "WARNING"  # 21007005: the person is under the new SSIN
    # Asked under either SSIN, Eupen is entitled: the directory followed the replacement.
    for ssin in ("60010100172", "60010100370"):
        assert retrieve_ti(net, ssin)["status"]["value"] == "DATA_FOUND"


def test_published_authorizations_are_public(net):
    client = zeep.Client(str(net.settings.project_root / "wsdl" / "AuthorizationService-v1.wsdl"))
    service = client.create_service(next(iter(client.wsdl.bindings)),
                                    net.url + "/kszws/AuthorizationService/v1")
    published = service.listAuthorizations()
    ids = [a["id"] for a in published["authorization"]]
    assert "cpas-social-inquiry" in ids and "onem-fraud-inquiry" in ids
    first = published["authorization"][0]
    assert first["deliberation"] and first["deliberationDate"] and first["legalContext"]
    assert [(e["service"], e["dataGroup"]) for e in published["exemption"]] == [
        ("IdentifyPerson", "Basic"), ("EmployerDirectory", "Full"),
        ("PensionCadastre", "Declare"), ("PensionCadastre", "Close"),
        ("SocialTariff", "Beneficiaries"), ("SocialTariff", "Flags")]
    only_18 = service.listAuthorizations(sector=18)
    assert {a["sector"] for a in only_18["authorization"]} == {18}
