"""DIMONA and the employer access key over real HTTP (issue 6's demo scenario): an employer
declares a student IN, sees the worker in its personnel file with the remaining student
quota; a health insurer (authorized, holding a file on the person) sees the employment
relation; another employer asking about that worker is refused."""
import datetime

import pytest
import zeep

from kszws.client import hub_client
from tests.netfixture import Source, make_project, register_in_directory, start_network, \
    stop_network
from tests.storetools import (assert_refusal_logged, changes, fault_ticket, log_row,
                              reply_ticket, settled_snapshot, snapshot, store_unchanged)

EMPLOYERS = ["employer-directory"]  # DIMONA writes through this source's store

CHLOE = "01020300170"  # DEMO_PERSONS: in the National Register
NOBODY = "99010190188"  # valid check digits, nobody in the register
STUDENTS, BAKERY = "studentenjob-brugge", "boulangerie-dupont"
START = datetime.date(2026, 7, 1)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("dimona"))
    register_in_directory(settings, ["mutualite-chretienne"], [CHLOE], code=1)
    employers = Source(settings, name="employer-directory").start()
    try:
        hub = start_network(settings)
    except Exception:
        employers.stop()
        raise
    yield hub
    stop_network(hub)
    employers.stop()


def customer(net, institution):
    from kszws.registry import load_registry

    return {"customerIdentification": {
        "cbeNumber": load_registry(net.settings).institution(institution).cbe}}


def dimona(net, institution=STUDENTS):
    proxy, _ = hub_client(net.settings, "DimonaService", institution, net.url)
    return proxy


def student_in(ssin=CHLOE, hours=100, start=START):
    return {"action": "IN", "ssin": ssin, "workerType": "student", "startDate": start,
            "endDate": start + datetime.timedelta(days=30), "hours": hours}


def test_student_in_personnel_file_quota_and_the_access_key(net):
    declared = dimona(net).declare(informationCustomer=customer(net, STUDENTS),
                                   declaration=[student_in()])
    [result] = declared["result"]
    assert result["accepted"] and result["periodId"]
    staff = dimona(net).personnelFile(informationCustomer=customer(net, STUDENTS), asOf=START)
    assert [(p["ssin"], p["workerType"]) for p in staff["period"]] == [(CHLOE, "student")]
    worker = dimona(net).consultWorker(informationCustomer=customer(net, STUDENTS), ssin=CHLOE,
                                       year=2026)
    assert worker["studentQuota"]["usedHours"] == 100
    assert worker["studentQuota"]["remainingHours"] == 550  # 650 hours a year since 2025
    # The health insurer holding a file on Chloé sees the employment relation.
    proxy, _ = hub_client(net.settings, "EmploymentService", "mutualite-chretienne", net.url)
    relations = proxy.employmentRelations(
        informationCustomer=customer(net, "mutualite-chretienne"),
        legalContext="HEALTH:INSURABILITY", ssin=CHLOE, startDate=datetime.date(2026, 1, 1))
    assert [(p["employerCbe"], p["periodId"]) for p in relations["period"]] == [
        ("0403180104", result["periodId"])]
    # Another employer: Chloé was never in its personnel file.
    with store_unchanged(net.settings, EMPLOYERS), \
            pytest.raises(zeep.exceptions.Fault) as refused:
        dimona(net, BAKERY).consultWorker(informationCustomer=customer(net, BAKERY),
                                          ssin=CHLOE, year=2026)
    assert_refused_fault(net, refused.value, "ACC00002")
    # An institution without a file on her is refused by the integration check.
    proxy, _ = hub_client(net.settings, "EmploymentService", "cpas-eupen", net.url)
    with store_unchanged(net.settings, EMPLOYERS), \
            pytest.raises(zeep.exceptions.Fault) as no_file:
        proxy.employmentRelations(informationCustomer=customer(net, "cpas-eupen"),
                                  legalContext="PCSA:SOCIAL_INQUIRY", ssin=CHLOE,
                                  startDate=datetime.date(2026, 1, 1))
    assert_refused_fault(net, no_file.value, "ACC00002")


def assert_refused_fault(net, fault, code):
    got, ticket = fault_ticket(fault)
    assert got == code
    assert_refusal_logged(net.settings, ticket, code)


def test_a_refused_declaration_does_not_block_the_others(net):
    before = settled_snapshot(net.settings, EMPLOYERS)
    declared = dimona(net, BAKERY).declare(
        informationCustomer=customer(net, BAKERY),
        declaration=[{"action": "IN", "ssin": "72030512297", "workerType": "ordinary",
                      "startDate": datetime.date(2026, 9, 1)},
                     {"action": "IN", "ssin": NOBODY, "workerType": "ordinary",
                      "startDate": datetime.date(2026, 9, 1)},
                     {"action": "IN", "ssin": "72030512297", "workerType": "flexi",
                      "startDate": datetime.date(2026, 9, 15)},  # overlaps the first
                     {"action": "OUT", "ssin": "72030512297", "periodId": 999999,
                      "endDate": datetime.date(2026, 9, 30)}])
    assert [(r["accepted"], r["reasonCode"]) for r in declared["result"]] == [
        (True, None), (False, "DIM00008"), (False, "DIM00005"), (False, "DIM00007")]
    # The accepted one is the only row written; the message is logged as answered.
    rows = changes(before, snapshot(net.settings, EMPLOYERS))
    assert list(rows) == ["employer-directory.ed_employment"]
    assert rows["employer-directory.ed_employment"][1] == \
        rows["employer-directory.ed_employment"][0] + 1
    row = log_row(net.settings, reply_ticket(declared))
    assert (row["outcome"], row["detail"]) == ("OK", "4 declarations, 3 refused")


def test_a_message_whose_every_declaration_is_refused_writes_nothing(net):
    """Each refused by its own check, at the hub (DIM00008) or at the source; the message
    is logged REFUSED with the first one's code."""
    bakery = dimona(net, BAKERY)
    anne, day = "72030512297", datetime.date(2026, 11, 2)
    with store_unchanged(net.settings, EMPLOYERS):
        declared = bakery.declare(informationCustomer=customer(net, BAKERY), declaration=[
            {"action": "IN", "ssin": NOBODY, "workerType": "ordinary", "startDate": day},
            {"action": "IN", "ssin": anne, "workerType": "ordinary",  # already IN (Sept.)
             "startDate": datetime.date(2026, 9, 10)},
            # Chloé has no period at the bakery: these are refused for themselves.
            {"action": "IN", "ssin": CHLOE, "workerType": "student", "startDate": day,
             "endDate": day + datetime.timedelta(days=60), "hours": 651},  # over the quota
            {"action": "IN", "ssin": CHLOE, "workerType": "ordinary", "startDate": day,
             "endDate": day - datetime.timedelta(days=1)},  # ends before it starts
            {"action": "IN", "ssin": CHLOE, "startDate": day},  # no worker type
            {"action": "OUT", "ssin": anne, "periodId": 999999, "endDate": day},
            {"action": "CANCEL", "ssin": anne, "periodId": 999999}])
    codes = [r["reasonCode"] for r in declared["result"] if not r["accepted"]]
    assert codes == ["DIM00008", "DIM00005", "DIM00006", "DIM00004", "DIM00002",
                     "DIM00007", "DIM00007"]
    assert_refusal_logged(net.settings, reply_ticket(declared), "DIM00008")
    with store_unchanged(net.settings, EMPLOYERS):
        alone = bakery.declare(informationCustomer=customer(net, BAKERY), declaration=[
            {"action": "UPDATE", "ssin": anne, "periodId": 999999, "workerType": "ordinary",
             "startDate": day}])
    assert [r["reasonCode"] for r in alone["result"]] == ["DIM00007"]
    assert_refusal_logged(net.settings, reply_ticket(alone), "DIM00007")


def test_more_than_20_declarations_are_refused(net):
    """zeep will not send a 21st declaration (the WSDL says 20): add one to a signed
    envelope by hand, as a non-conforming client would."""
    import copy

    import requests
    from lxml import etree

    proxy = dimona(net)
    client = proxy._client
    signer, client.wsse = client.wsse, None  # the message first, signed after the change
    envelope = client.create_message(
        proxy, "declare", informationCustomer=customer(net, STUDENTS),
        declaration=[student_in(hours=1, start=datetime.date(2026, 1, 1)
                                + datetime.timedelta(days=2 * i)) for i in range(20)])
    request = envelope.find(".//{urn:kszws:intf:DimonaService:v1}declareRequest")
    request.append(copy.deepcopy(request.findall("declaration")[-1]))
    envelope, headers = signer.apply(envelope, {})
    with store_unchanged(net.settings, EMPLOYERS):
        response = requests.post(
            net.url + "/kszws/DimonaService/v1", data=etree.tostring(envelope),
            headers={"Content-Type": "text/xml; charset=utf-8",
                     "SOAPAction": '"urn:kszws:intf:DimonaService:v1/declare"'}, timeout=30)
    assert response.status_code == 500
    reply = etree.fromstring(response.content)
    assert reply.findtext(".//reasonCode") == "MSG00008"
    assert "declaration" in reply.findtext(".//diagnostic")
    assert_refusal_logged(net.settings, reply.findtext(".//ticketCBSS"), "MSG00008")
    assert len(request.findall("declaration")) == 21


def test_only_employers_declare(net):
    with store_unchanged(net.settings, EMPLOYERS), \
            pytest.raises(zeep.exceptions.Fault) as refused:
        dimona(net, "cpas-eupen").declare(informationCustomer=customer(net, "cpas-eupen"),
                                          declaration=[student_in()])
    assert_refused_fault(net, refused.value, "SEC00012")
    # Nor does an employer declare for another one.
    with store_unchanged(net.settings, EMPLOYERS), \
            pytest.raises(zeep.exceptions.Fault) as other:
        dimona(net, BAKERY).declare(informationCustomer=customer(net, STUDENTS),
                                    declaration=[student_in()])
    assert_refused_fault(net, other.value, "SEC00012")


def test_a_mandated_social_secretariat_acts_for_its_employer(net):
    secretariat = dimona(net, "secretariat-social")
    declared = secretariat.declare(informationCustomer=customer(net, BAKERY), declaration=[
        {"action": "IN", "ssin": "60010100370", "workerType": "ordinary",
         "startDate": datetime.date(2026, 10, 1)}])
    assert declared["result"][0]["accepted"]
    staff = secretariat.personnelFile(informationCustomer=customer(net, BAKERY),
                                      asOf=datetime.date(2026, 10, 1))
    assert "60010100370" in [p["ssin"] for p in staff["period"]]
    # It was not mandated by Studentenjob Brugge: it neither reads nor declares for it.
    with store_unchanged(net.settings, EMPLOYERS):
        with pytest.raises(zeep.exceptions.Fault) as refused:
            secretariat.personnelFile(informationCustomer=customer(net, STUDENTS),
                                      asOf=datetime.date(2026, 10, 1))
        with pytest.raises(zeep.exceptions.Fault) as declared:
            secretariat.declare(informationCustomer=customer(net, STUDENTS),
                                declaration=[student_in(start=datetime.date(2026, 10, 1))])
    assert_refused_fault(net, refused.value, "SEC00012")
    assert_refused_fault(net, declared.value, "SEC00012")


def test_the_personnel_file_comes_in_pages(net):
    staff = []
    after = 0
    while True:
        page = dimona(net, BAKERY).personnelFile(informationCustomer=customer(net, BAKERY),
                                                 asOf=datetime.date(2026, 10, 1), after=after,
                                                 maxItems=1)
        staff += [p["periodId"] for p in page["period"]]
        assert len(page["period"]) <= 1
        if not page["morePeriods"]:
            break
        after = page["period"][-1]["periodId"]
    whole = dimona(net, BAKERY).personnelFile(informationCustomer=customer(net, BAKERY),
                                              asOf=datetime.date(2026, 10, 1))
    assert staff == [p["periodId"] for p in whole["period"]] and len(staff) >= 2
    assert whole["morePeriods"] is False
