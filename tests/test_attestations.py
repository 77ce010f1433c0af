"""Electronic attestations over real HTTP: a CPAS (the authentic source of integration
income) publishes one; the health insurer holding a file on the person receives it in its
mailbox and can consult it; nobody else; updates and cancellations follow; bad input is
refused with its reason code and nothing is half-applied."""
import datetime
import time

import pytest
import zeep
from lxml import etree

from kszws.client import hub_client
from tests.netfixture import make_project, register_in_directory, start_network, stop_network
from tests.ssdntools import Reply, post_basic, signed_call, ssdn_request
from tests.storetools import (assert_refusal_logged, fault_ticket, reply_ticket,
                              store_unchanged)

MAX = "70100853190"
ANNE = "72030512297"
PAYLOADS = "urn:kszws:types:AttestationPayloads:v1"
INSURER = "mutualite-chretienne"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("attestations"))
    register_in_directory(settings, [INSURER], [MAX, ANNE], code=1)
    register_in_directory(settings, ["kinderbijslagfonds"], [MAX], code=101)
    hub = start_network(settings)
    yield hub
    stop_network(hub)


def customer(net, institution):
    from kszws.registry import load_registry

    return {"customerIdentification": {
        "cbeNumber": load_registry(net.settings).institution(institution).cbe}}


def service(net, institution):
    proxy, _ = hub_client(net.settings, "AttestationService", institution, net.url)
    return proxy


def income(amount=125_000, category="ISOLATED", extra=None):
    root = etree.Element("{%s}integrationIncome" % PAYLOADS, nsmap={"p": PAYLOADS})
    etree.SubElement(root, "category").text = category
    etree.SubElement(root, "monthlyAmount").text = str(amount)
    if extra:
        etree.SubElement(root, extra).text = "x"
    return {"_value_1": root}


def publish(net, institution="cpas-eupen", ssin=MAX, type_="integration_income",
            reference="RI-2026-001", payload=None):
    return service(net, institution).publishAttestation(
        informationCustomer=customer(net, institution), type=type_, ssin=ssin,
        reference=reference, period={"startDate": datetime.date(2026, 1, 1)},
        decisionDate=datetime.date(2025, 12, 15), payload=payload or income())


def mailbox(net, institution):
    proxy, _ = hub_client(net.settings, "MailboxService", institution, net.url)
    return proxy, customer(net, institution)


def delivered(net, institution, count, timeout=20):
    proxy, who = mailbox(net, institution)
    deadline = time.monotonic() + timeout
    while True:
        items = proxy.listItems(informationCustomer=who, kind="attestation")["item"]
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.2)


def status(reply):
    return reply["status"]["value"], reply["status"]["code"]


def test_publish_deliver_consult_update_cancel(net):
    published = publish(net)
    assert status(published) == ("DATA_FOUND", "MSG00000")
    attestation = published["attestation"][0]
    assert attestation["version"] == 1 and attestation["status"] == "active"
    # The health insurer holding a file on Max receives it; the child-benefit fund, whose
    # file is not in a destination of this type, does not.
    items = delivered(net, INSURER, 1)
    assert [(i["type"], i["ssin"]) for i in items] == [("integration_income", MAX)]
    proxy, who = mailbox(net, INSURER)
    fields = {f["name"]: f["value"] for f in
              proxy.fetchItems(informationCustomer=who, id=[items[0]["id"]])["item"][0]["field"]}
    assert fields["attestationId"] == attestation["attestationId"]
    assert fields["monthlyAmount"] == "125000" and fields["action"] == "create"
    assert delivered(net, "kinderbijslagfonds", 1, timeout=2) == []
    # The insurer consults it; ONEM, neither a destination nor the publisher of integration
    # income, is refused.
    seen = service(net, INSURER).consultAttestations(
        informationCustomer=customer(net, INSURER), ssin=MAX,
        period={"startDate": datetime.date(2026, 1, 1)})
    assert [a["attestationId"] for a in seen["attestation"]] == [attestation["attestationId"]]
    with store_unchanged(net.settings), pytest.raises(zeep.exceptions.Fault) as refused:
        service(net, "onem-rva").consultAttestations(
            informationCustomer=customer(net, "onem-rva"), ssin=MAX,
            type=["integration_income"], period={"startDate": datetime.date(2026, 1, 1)})
    assert_refused_fault(net, refused.value, "ACC00002")
    # Update (version 2), then cancel (version 3): each reaches the mailbox.
    eupen = service(net, "cpas-eupen")
    updated = eupen.updateAttestation(
        informationCustomer=customer(net, "cpas-eupen"),
        attestationId=attestation["attestationId"],
        period={"startDate": datetime.date(2026, 1, 1), "endDate": datetime.date(2026, 12, 31)},
        decisionDate=datetime.date(2026, 2, 1), payload=income(130_000))
    assert updated["attestation"][0]["version"] == 2
    cancelled = eupen.cancelAttestation(informationCustomer=customer(net, "cpas-eupen"),
                                        attestationId=attestation["attestationId"])
    assert cancelled["attestation"][0]["status"] == "cancelled"
    items = delivered(net, INSURER, 3)
    actions = [{f["name"]: f["value"] for f in i["field"]}["action"] for i in
               proxy.fetchItems(informationCustomer=who, id=[i["id"] for i in items])["item"]]
    assert actions == ["create", "update", "cancel"]
    with store_unchanged(net.settings):
        again = eupen.cancelAttestation(informationCustomer=customer(net, "cpas-eupen"),
                                        attestationId=attestation["attestationId"])
    assert_refused_reply(net, again, "ATT00006")
    # A cancelled attestation is no longer consulted; its publisher still lists it.
    assert service(net, INSURER).consultAttestations(
        informationCustomer=customer(net, INSURER), ssin=MAX,
        period={"startDate": datetime.date(2026, 1, 1)})["attestation"] == []
    listed = eupen.listAttestations(informationCustomer=customer(net, "cpas-eupen"), ssin=MAX,
                                    period={"startDate": datetime.date(2026, 1, 1)})
    assert [(a["status"], a["version"]) for a in listed["attestation"]] == [("cancelled", 3)]


@pytest.mark.parametrize("case, code", [
    (dict(type_="haircut_allowance"), "ATT00001"),
    (dict(institution="onem-rva"), "ATT00002"),  # not the authentic source of the type
    (dict(payload=income(extra="unexpected")), "ATT00003"),
    (dict(payload=income(amount=-5)), "ATT00003"),
    (dict(ssin="99010190188"), "ATT00007"),  # valid check digits, nobody in the register
])
def test_bad_publications_are_refused(net, case, code):
    with store_unchanged(net.settings):  # no attestation, no event, nothing queued
        reply = publish(net, reference="BAD-%s" % code, **case)
    assert_refused_reply(net, reply, code)
    assert reply["attestation"] == []


def assert_refused_reply(net, reply, code):
    """A business refusal: status NO_RESULT with `code`, and its log row REFUSED with it."""
    assert status(reply) == ("NO_RESULT", code)
    assert_refusal_logged(net.settings, reply_ticket(reply), code)


def assert_refused_fault(net, fault, code):
    got, ticket = fault_ticket(fault)
    assert got == code
    assert_refusal_logged(net.settings, ticket, code)


def test_duplicate_publication_and_foreign_update_are_refused(net):
    first = publish(net, ssin=ANNE, reference="RI-2026-ANNE")
    assert status(first)[1] == "MSG00000"
    anne = first["attestation"][0]["attestationId"]
    with store_unchanged(net.settings):
        again = publish(net, ssin=ANNE, reference="RI-2026-ANNE")
    assert_refused_reply(net, again, "ATT00004")
    # Another CPAS cannot touch it (and does not learn that it exists).
    charleroi = service(net, "cpas-charleroi")
    with store_unchanged(net.settings):
        other = charleroi.updateAttestation(
            informationCustomer=customer(net, "cpas-charleroi"), attestationId=anne,
            period={"startDate": datetime.date(2026, 1, 1)},
            decisionDate=datetime.date(2026, 1, 1), payload=income())
    assert_refused_reply(net, other, "ATT00005")
    with store_unchanged(net.settings):
        other = charleroi.cancelAttestation(informationCustomer=customer(net, "cpas-charleroi"),
                                            attestationId=anne)
    assert_refused_reply(net, other, "ATT00005")
    # Its publisher's update with a payload its type's schema refuses: nothing changes
    # (the check runs inside the update's transaction).
    with store_unchanged(net.settings):
        bad = service(net, "cpas-eupen").updateAttestation(
            informationCustomer=customer(net, "cpas-eupen"), attestationId=anne,
            period={"startDate": datetime.date(2026, 1, 1)},
            decisionDate=datetime.date(2026, 1, 1), payload=income(amount=100_000_001))
    assert_refused_reply(net, bad, "ATT00003")
    # Publishing under another institution's enterprise number: a fault, nothing kept.
    with store_unchanged(net.settings), pytest.raises(zeep.exceptions.Fault) as foreign:
        service(net, "cpas-eupen").publishAttestation(
            informationCustomer=customer(net, "cpas-charleroi"), type="integration_income",
            ssin=ANNE, reference="RI-2026-FOREIGN",
            period={"startDate": datetime.date(2026, 1, 1)},
            decisionDate=datetime.date(2025, 12, 15), payload=income())
    assert_refused_fault(net, foreign.value, "SEC00012")
    assert len(delivered(net, INSURER, 4)) >= 1  # Anne's reached the insurer


MANAGE_ATTESTS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAttests"


def list_of_attestations(ssin, request_type, period=True):
    """A ListOfAttestationsRequest body, as the PHP client writes it."""
    search = ("<ns1:SearchPeriod><ns2:StartDate>2020-01-01</ns2:StartDate>"
              "<ns2:EndDate>2029-12-31</ns2:EndDate></ns1:SearchPeriod>") if period else ""
    body = ("<ns1:ListOfAttestationsRequest xmlns:ns1='%s' "
            "xmlns:ns2='http://www.ksz-bcss.fgov.be/XSD/SSDN/Common'>"
            "<ns1:SocialSecurityUser>%s</ns1:SocialSecurityUser>"
            "<ns1:RequestType>%s</ns1:RequestType>%s</ns1:ListOfAttestationsRequest>"
            % (MANAGE_ATTESTS, ssin, request_type, search))
    return ("OCMWCPASListOfAttestations", "20080317", body)


def test_classic_list_of_attestations(net):
    published = publish(net, ssin=ANNE, reference="RI-2026-CLASSIC")["attestation"][0]
    reply = signed_call(net, ssdn_request(list_of_attestations(ANNE, "INTEGRATION_INCOME"),
                                          caller="cpas-eupen"))
    assert reply.summary(0) == ("YES", 0, [])
    found = reply.root.findall(".//{%s}Attestation" % MANAGE_ATTESTS)
    mine = [a for a in found if a.findtext("{%s}Reference" % MANAGE_ATTESTS) == "RI-2026-CLASSIC"]
    assert len(mine) == 1
    a = mine[0]
    assert a.findtext("{%s}SocialSecurityUser" % MANAGE_ATTESTS) == ANNE
    assert a.findtext("{%s}CPAS_KBOBCE_code" % MANAGE_ATTESTS) == "0212310036"
    assert a.findtext("{%s}AttestType/{%s}Code" % (MANAGE_ATTESTS, MANAGE_ATTESTS)) == "2"
    assert a.findtext("{%s}AttestType/{%s}Description" % (MANAGE_ATTESTS, MANAGE_ATTESTS)) \
        == "Revenu d'intégration / Leefloon"
    assert a.findtext("{%s}Status" % MANAGE_ATTESTS) == "1"
    # The prefixes the PHP client looks up: the body element under ns3.
    assert "<ns3:ListOfAttestationsReply" in reply.text
    assert published["reference"] == "RI-2026-CLASSIC"
    # Liege sees no one else's integration-income attestations (only its own: none) ...
    own = Reply.of(post_basic(net, ssdn_request(list_of_attestations(ANNE, "ALL", False))))
    assert own.summary(0) == ("YES", 0, [])
    assert own.root.findall(".//{%s}Attestation" % MANAGE_ATTESTS) == []
    # ... and is neither publisher nor destination of contribution vouchers: refused, in
    # the legacy shape.
    with store_unchanged(net.settings):
        other = Reply.of(post_basic(net, ssdn_request(
            list_of_attestations(ANNE, "CONTRIBUTION_VOUCHER"))))
        unknown = signed_call(net, ssdn_request(list_of_attestations(ANNE, "STATUT65"),
                                                caller="cpas-eupen"))
    assert other.summary(0) == ("NO", 10000, ["31008007"])
    assert_refusal_logged(net.settings, other.ticket, "31008007")
    assert unknown.summary(0) == ("NO", 10000, ["31008009"])
    assert_refusal_logged(net.settings, unknown.ticket, "31008009")
