"""The employer directory through the hub, over real HTTP: institutions an authorization
covers consult an employer as of a date or with its history, and search; anyone gets the
public fields without authentication; bad numbers are refused with their reason codes."""
import datetime

import pytest
import zeep

from kszws.client import hub_client
from kszws.sources.employer_directory.population import DEMO_EMPLOYERS
from tests.netfixture import Hub, Source, make_project

BAKERY = DEMO_EMPLOYERS[0]


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("employers"))
    source = Source(settings, name="employer-directory").start()
    try:
        hub = Hub(settings).start()
    except Exception:
        source.stop()
        raise
    yield hub
    hub.stop()
    source.stop()


def customer(net, institution="cpas-eupen"):
    from kszws.registry import load_registry

    cbe = load_registry(net.settings).institution(institution).cbe
    return {"customerIdentification": {"cbeNumber": cbe}}


def directory(net, institution="cpas-eupen"):
    proxy, _ = hub_client(net.settings, "EmployerDirectoryService", institution, net.url)
    return proxy


def consult(net, institution="cpas-eupen", context="PCSA:SOCIAL_INQUIRY", **kw):
    return directory(net, institution).consultEmployer(
        informationCustomer=customer(net, institution), legalContext=context, **kw)


def attributes(employer):
    return {a["name"]: a["value"] for a in employer["attribute"]}


def test_joint_committee_before_and_after_its_change(net):
    before = consult(net, employer={"cbeNumber": BAKERY["cbe"]}, asOf=datetime.date(2023, 12, 31))
    after = consult(net, employer={"cbeNumber": BAKERY["cbe"]}, asOf=datetime.date(2024, 1, 1))
    assert attributes(before["employer"][0])["joint_committees"] == "118"
    assert attributes(after["employer"][0])["joint_committees"] == "119"
    assert before["employer"][0]["asOf"] == datetime.date(2023, 12, 31)
    history = consult(net, employer={"nssoNumber": BAKERY["nsso"]}, history=True)
    employer = history["employer"][0]
    assert employer["cbeNumber"] == BAKERY["cbe"] and employer["nssoNumber"] == BAKERY["nsso"]
    committees = [(a["value"], a["validFrom"], a["validUntil"]) for a in employer["attribute"]
                  if a["name"] == "joint_committees"]
    assert committees == [("118", datetime.date(1998, 3, 1), datetime.date(2023, 12, 31)),
                          ("119", datetime.date(2024, 1, 1), None)]
    assert attributes(employer)["child_benefit_fund"] == "FAMIWAL"


def test_search_by_name_and_municipality(net):
    found = directory(net).searchEmployers(informationCustomer=customer(net),
                                           legalContext="PCSA:SOCIAL_INQUIRY",
                                           name="boulangerie", municipalityCode=63023)
    assert [e["cbeNumber"] for e in found["employer"]] == [BAKERY["cbe"]]


def test_anyone_gets_the_public_fields_only(net):
    client = zeep.Client(str(net.settings.project_root / "wsdl" / "PublicEmployerService-v1.wsdl"))
    service = client.create_service(next(iter(client.wsdl.bindings)),
                                    net.url + "/kszws/PublicEmployerService/v1")
    reply = service.consultPublicEmployer(employer={"cbeNumber": DEMO_EMPLOYERS[1]["cbe"]})
    employer = reply["employer"][0]
    public = attributes(employer)
    assert public["name"] == "Studentenjob Brugge" and public["debt_cents"] == "1250000"
    assert "child_benefit_fund" not in public and "social_secretariat" not in public
    assert "joint_committees" not in public and employer["nssoNumber"] is None


@pytest.mark.parametrize("key, code", [({"cbeNumber": "0403170702"}, "EMP00001"),
                                       ({"nssoNumber": "0517070100"}, "EMP00002")])
def test_invalid_numbers_are_refused(net, key, code):
    with pytest.raises(zeep.exceptions.Fault) as refused:
        consult(net, employer=key)
    assert refused.value.detail.findtext(".//reasonCode") == code


def test_unknown_employer_is_no_data_found(net):
    reply = consult(net, employer={"cbeNumber": "0212310036"})  # a CPAS, not in the register
    assert (reply["status"]["value"], reply["status"]["code"]) == ("NO_DATA_FOUND", "EMP00003")


def test_without_an_authorization_the_full_record_is_refused(net):
    with pytest.raises(zeep.exceptions.Fault) as refused:
        consult(net, "onem-rva", "ONEM:UNEMPLOYMENT_RIGHTS", employer={"cbeNumber": BAKERY["cbe"]})
    assert refused.value.detail.findtext(".//reasonCode") == "ACC00001"
