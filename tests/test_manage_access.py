"""OCMWCPASManageAccess over real HTTP: the reference directory through the classic
transport, with the proof of authentication checked against the National Register."""
import datetime

import pytest
import zeep

from kszws.client import hub_client
from kszws.registry import load_registry
from kszws.wire import ssdn
from tests.soaptools import log_row
from tests.ssdntools import (MANAGE_ROOT, MAR, Reply, manage, post_basic, signed_call,
                             ssdn_request)
from tests.storetools import (assert_refusal_logged, fault_ticket, reply_ticket,
                              store_unchanged)
from tests.test_classic import conforms

PROOF_SIS = "<mar:SISCardNumber>1234567897</mar:SISCardNumber>"
PROOF_DATA = ("<mar:PersonData><mar:LastName>Van den Berghe</mar:LastName>"
              "<mar:FirstName>Anne-Marie</mar:FirstName><mar:BirthDate>1972-03-05</mar:BirthDate>"
              "</mar:PersonData>")


def registrations(reply):
    body = reply.service_replies()[0].find("{%s}ManageAccessReply" % MAR)
    return [(r.findtext("{%s}Purpose" % MAR), r.findtext("{%s}OrgUnit" % MAR),
             r.findtext("{%s}Period/{%s}StartDate" % (MAR, ssdn.COMMON)),
             r.findtext("{%s}Period/{%s}EndDate" % (MAR, ssdn.COMMON)))
            for r in body.findall("{%s}Registrations" % MAR)]


def eupen(net, *requests_):
    return signed_call(net, ssdn_request(*requests_, caller="cpas-eupen"))


def liege(net, *requests_):
    return Reply.of(post_basic(net, ssdn_request(*requests_)))


def test_register_list_unregister(classic_net):
    reply = eupen(classic_net, manage("70100853190", "REGISTER", 1, proof=PROOF_SIS))
    assert reply.summary(0) == ("YES", 0, [])
    assert registrations(reply) == [("1", "0212310036", "2026-01-01", None)]
    conforms(reply, MANAGE_ROOT)
    row = log_row(classic_net.settings, reply.ticket)
    assert row["operation"] == "OCMWCPASManageAccess" and "70100853190" in row["subjects"]
    # Another CPAS of the sector sees it in a LIST of the sector.
    listed = liege(classic_net, manage("70100853190", "LIST", proof=PROOF_SIS))
    assert ("1", "0212310036", "2026-01-01", None) in registrations(listed)
    ended = eupen(classic_net, manage("70100853190", "UNREGISTER", start="2026-06-01",
                                      proof=PROOF_SIS))
    assert ended.summary(0) == ("YES", 0, [])
    assert registrations(ended) == []  # nothing in force from June on
    history = eupen(classic_net, manage("70100853190", "LIST", proof=PROOF_SIS))
    assert ("1", "0212310036", "2026-01-01", "2026-05-31") in registrations(history)
    with store_unchanged(classic_net.settings):  # nothing left to end: nothing written
        again = eupen(classic_net, manage("70100853190", "UNREGISTER", start="2026-06-01",
                                          proof=PROOF_SIS))
    assert again.summary(0) == ("WARNING", 1, ["21008004"])
    row = log_row(classic_net.settings, again.ticket)
    assert (row["outcome"], row["reason_code"]) == ("OK", "21008004")


def refused(net, reply, code):
    """A classic refusal: ServiceReply NO with `code`, and its log row REFUSED with it."""
    assert reply.summary(0) == ("NO", 10000, [code])
    assert_refusal_logged(net.settings, reply.ticket, code)


def test_proof_must_match_the_person(classic_net):
    wrong = "<mar:SISCardNumber>9999999990</mar:SISCardNumber>"
    with store_unchanged(classic_net.settings):
        reply = eupen(classic_net, manage("70100853190", "REGISTER", 1, proof=wrong))
        none = eupen(classic_net, manage("70100853190", "REGISTER", 1))
    refused(classic_net, reply, "31008001")
    refused(classic_net, none, "31000007")
    conforms(reply, MANAGE_ROOT)


def test_exclusive_quality_code_is_refused_at_a_second_cpas(classic_net):
    first = eupen(classic_net, manage("72030512297", "REGISTER", 2, proof=PROOF_DATA))
    assert first.summary(0) == ("YES", 0, [])
    with store_unchanged(classic_net.settings):
        second = liege(classic_net, manage("72030512297", "REGISTER", 2, start="2026-03-01",
                                           proof=PROOF_DATA))
    refused(classic_net, second, "31008002")
    assert "0212310036" not in second.text  # the other institution is not revealed
    other = liege(classic_net, manage("72030512297", "REGISTER", 4, proof=PROOF_DATA))
    assert other.summary(0) == ("YES", 0, [])


def test_quality_code_must_belong_to_the_sector(classic_net):
    with store_unchanged(classic_net.settings):
        reply = eupen(classic_net, manage("70100853190", "REGISTER", 401, proof=PROOF_SIS))
        missing = eupen(classic_net, manage("70100853190", "REGISTER", proof=PROOF_SIS))
    refused(classic_net, reply, "31008003")
    refused(classic_net, missing, "31000007")


def test_replaced_ssin_registers_the_new_one(classic_net):
    proof = ("<mar:PersonData><mar:LastName>Janssens</mar:LastName>"
             "<mar:BirthDate>1960-01-01</mar:BirthDate></mar:PersonData>")
    reply = eupen(classic_net, manage("60010100172", "REGISTER", 902, proof=proof))
    assert reply.summary(0) == ("WARNING", 1, ["21007005"])
    body = reply.service_replies()[0].find("{%s}ManageAccessReply" % MAR)
    assert body.findtext("{%s}OriginalRequest/{%s}SSIN" % (MAR, MAR)) == "60010100370"


def test_reference_manager_consult_gives_the_other_sectors(classic_net):
    from kszws.client import hub_client
    from tests.ssdntools import RMF, consult_sectors

    proof = ("<mar:PersonData><mar:LastName>Lefèvre</mar:LastName>"
             "<mar:BirthDate>2001-02-03</mar:BirthDate></mar:PersonData>")
    # Not registered: the CPAS may not see the other sectors.
    with store_unchanged(classic_net.settings):
        not_yet = eupen(classic_net, consult_sectors("01020300170", 1))
    refused(classic_net, not_yet, "31008005")
    assert eupen(classic_net, manage("01020300170", "REGISTER", 1, proof=proof)).summary(0)[0] == "YES"
    # The unemployment office registers the same person (sector 18).
    proxy, _ = hub_client(classic_net.settings, "KSZBCSSWebServiceConnector", "onem-rva",
                          classic_net.url)
    onem = Reply(proxy.sendXML(ssdn_request(manage("01020300170", "REGISTER", 4, proof=proof),
                                            user=("0206314050", 18, None))))
    assert onem.summary(0) == ("YES", 0, [])
    reply = eupen(classic_net, consult_sectors("01020300170", 1))
    assert reply.summary(0) == ("YES", 0, [])
    consultations = reply.root.findall(".//{%s}Consultation" % RMF)
    assert [(c.findtext("{%s}Sector" % RMF), c.findtext("{%s}QualityCode" % RMF),
             c.findtext("{%s}QualityCodeDescriptionFr" % RMF),
             c.findtext("{%s}SectorDescriptionNl" % RMF)) for c in consultations] == [
        ("18", "4", "Demandeur d'emploi", "Rijksdienst voor Arbeidsvoorziening")]
    # StartDate and EndDate of a Period carry distinct prefixes (the PHP client relies on it).
    assert "<ns4:StartDate xmlns:ns4=" in reply.text


def test_new_style_directory_refusals_change_nothing(classic_net):
    """ReferenceDirectoryService: each business refusal (status NO_RESULT, DIR000xx) and
    each fault leaves the directory as it was; the log row says REFUSED with the code."""
    settings = classic_net.settings
    registry = load_registry(settings)

    def proxy(institution):
        return hub_client(settings, "ReferenceDirectoryService", institution,
                          classic_net.url)[0]

    def who(institution):
        return {"customerIdentification": {"cbeNumber": registry.institution(institution).cbe}}

    period = {"startDate": datetime.date(2026, 2, 1)}
    sis = {"sisCardNumber": "1234567897"}  # Max's
    anne = {"personData": {"lastName": "Van den Berghe", "firstName": "Anne-Marie",
                           "birthDate": "1972-03-05"}}
    eupen_, lino = proxy("cpas-eupen"), proxy("test-lino")
    cases = [
        (lambda: eupen_.register(informationCustomer=who("cpas-eupen"), ssin="70100853190",
                                 qualityCode=1, period=period,
                                 proof={"sisCardNumber": "0000000000"}), "DIR00002"),
        (lambda: eupen_.register(informationCustomer=who("cpas-eupen"), ssin="85073003328",
                                 qualityCode=1, period=period, proof=sis), "DIR00005"),
        (lambda: eupen_.register(informationCustomer=who("cpas-eupen"), ssin="70100853190",
                                 qualityCode=401, period=period, proof=sis), "DIR00003"),
        # Eupen holds the exclusive code 2 on Anne (test_exclusive_quality_code_...)
        (lambda: lino.register(informationCustomer=who("test-lino"), ssin="72030512297",
                               qualityCode=2, period=period, proof=anne), "DIR00001"),
        (lambda: lino.consult(informationCustomer=who("test-lino"), ssin="70100853190",
                              qualityCode=1, period=period), "DIR00008"),
    ]
    for call, code in cases:
        with store_unchanged(settings):
            reply = call()
        assert (reply["status"]["value"], reply["status"]["code"]) == ("NO_RESULT", code)
        assert not reply["registration"]
        assert_refusal_logged(settings, reply_ticket(reply), code)
    # Nothing to unregister: answered NO_DATA_FOUND, logged OK, nothing written.
    with store_unchanged(settings):
        nothing = lino.unregister(informationCustomer=who("test-lino"), ssin="70100853190",
                                  **{"from": datetime.date(2026, 2, 1)})
    assert nothing["status"]["code"] == "DIR00004"
    row = log_row(settings, reply_ticket(nothing))
    assert (row["outcome"], row["reason_code"]) == ("OK", "DIR00004")
    # Faults: another institution's enterprise number, an SSIN with wrong check digits.
    faults = [
        (lambda: eupen_.register(informationCustomer=who("cpas-liege"), ssin="70100853190",
                                 qualityCode=1, period=period, proof=sis), "SEC00012"),
        (lambda: eupen_.register(informationCustomer=who("cpas-eupen"), ssin="70100853191",
                                 qualityCode=1, period=period, proof=sis), "MSG00008"),
        (lambda: eupen_.unregister(informationCustomer=who("cpas-liege"), ssin="70100853190",
                                   **{"from": datetime.date(2026, 1, 1)}), "SEC00012"),
    ]
    for call, code in faults:
        with store_unchanged(settings), pytest.raises(zeep.exceptions.Fault) as fault:
            call()
        got, ticket = fault_ticket(fault.value)
        assert got == code
        assert_refusal_logged(settings, ticket, code)
