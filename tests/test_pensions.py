"""The pension cadastre through the hub (seed §4.7), over real HTTP, signed both ways: two
payers declare for the same person, the health-insurance sector hears of the new
pensioner, the cadastre closes the month and each payer finds its attestation in its
mailbox, a health insurer consults the person's pensions; bad input is refused whole."""
import pytest
import zeep

from kszws.client import hub_client
from kszws.wire import ssdn
from tests.ssdntools import Reply, post_basic, signed_call, ssdn_request
from tests.netfixture import Source, make_project, register_in_directory, start_network, \
    stop_network
from tests.storetools import (assert_refusal_logged, fault_ticket, reply_ticket,
                              store_unchanged)

CADASTRE = ["pension-cadastre"]  # the hub declares through this source's store

MAX, ANNE = "70100853190", "72030512297"
UNKNOWN = "85073003328"  # valid check digits, not in the National Register


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("pensions"))
    register_in_directory(settings, ["mutualite-chretienne"], [MAX], code=1)
    register_in_directory(settings, ["onp-rvp"], [MAX], code=100)
    register_in_directory(settings, ["cpas-eupen"], [MAX], code=1)
    cadastre = Source(settings, name="pension-cadastre").start()
    try:
        hub = start_network(settings)
    except Exception:
        cadastre.stop()
        raise
    yield hub
    stop_network(hub)
    cadastre.stop()


def customer(net, institution):
    from kszws.registry import load_registry

    return {"customerIdentification": {
        "cbeNumber": load_registry(net.settings).institution(institution).cbe}}


def service(net, institution, name="PensionCadastreService"):
    proxy, _ = hub_client(net.settings, name, institution, net.url)
    return proxy


def benefit(ssin=MAX, ref="RVP-1", kind="statutory_retirement", gross=100000, month="2019-10"):
    return {"ssin": ssin, "month": month, "benefitReference": ref, "benefitType": kind,
            "grossAmount": gross, "familySituation": "single"}


def declare(net, payer, *items):
    return service(net, payer).declare(informationCustomer=customer(net, payer),
                                       declaration=list(items))


def mailbox(net, institution, kind):
    """The institution's unacknowledged items of `kind`, with their fields."""
    proxy = service(net, institution, "MailboxService")
    who = customer(net, institution)
    listed = proxy.listItems(informationCustomer=who, kind=kind)["item"]
    return proxy.fetchItems(informationCustomer=who, id=[i["id"] for i in listed])["item"] \
        if listed else []


def fields(item):
    return {f["name"]: f["value"] for f in item["field"]}


def test_two_payers_the_month_closed_attestations_and_a_consultation(net):
    onp = declare(net, "onp-rvp", benefit())
    assert [r["accepted"] for r in onp["result"]] == [True]
    ethias = declare(net, "ethias-pensions",
                     benefit(ref="ETH-9", kind="supplementary_retirement", gross=80000))
    assert [r["accepted"] for r in ethias["result"]] == [True]
    # Continuity of cover: Max is a new pensioner, his health insurer hears of it (once).
    import time
    deadline = time.monotonic() + 20
    while not (news := mailbox(net, "mutualite-chretienne", "attestation")) \
            and time.monotonic() < deadline:
        time.sleep(0.3)
    assert [(i["type"], i["ssin"]) for i in news] == [("new_pensioner", MAX)]
    assert fields(news[0])["firstMonth"] == "2019-10"
    closed = service(net, "pension-cadastre").closeMonth(
        informationCustomer=customer(net, "pension-cadastre"), month="2019-10")
    assert (closed["persons"], closed["attestations"], closed["delivered"]) == (1, 2, 2)
    # Each payer: its own benefit, the rate from the cumulated 1,800.00 (worked example 3).
    [rvp] = mailbox(net, "onp-rvp", "pension")
    [eth] = mailbox(net, "ethias-pensions", "pension")
    assert (rvp["type"], rvp["ssin"]) == ("pension_deductions", MAX)
    assert fields(rvp)["withholdingRateBp"] == fields(eth)["withholdingRateBp"] == "1982"
    assert (fields(rvp)["benefit1.healthInsuranceCents"],
            fields(rvp)["benefit1.withholdingCents"]) == ("3550", "19116")
    assert (fields(eth)["benefit1.healthInsuranceCents"],
            fields(eth)["benefit1.withholdingCents"]) == ("2840", "15293")
    assert "benefit2.grossCents" not in fields(rvp)  # a payer sees only what it pays
    # Closing again: nothing new, nothing delivered twice.
    again = service(net, "pension-cadastre").closeMonth(
        informationCustomer=customer(net, "pension-cadastre"), month="2019-10")
    assert (again["attestations"], again["delivered"]) == (0, 0)
    # The health insurer consults Max's pensions (authorized, registered).
    seen = service(net, "mutualite-chretienne").consult(
        informationCustomer=customer(net, "mutualite-chretienne"),
        legalContext="HEALTH:INSURABILITY", ssin=MAX, firstMonth="2019-01")
    assert [(b["benefitType"], b["grossAmount"], b["pillar"]) for b in seen["benefit"]] == [
        ("statutory_retirement", 100000, 1), ("supplementary_retirement", 80000, 2)]
    # The pension service's overview of the month: every benefit and deduction.
    view = service(net, "onp-rvp").overview(
        informationCustomer=customer(net, "onp-rvp"), legalContext="PENSION:PAYMENT",
        ssin=MAX, month="2019-10")
    assert (view["cumulatedGrossAmount"], view["healthInsurance"], view["solidarity"],
            view["withholdingRate"]) == (180000, 6390, 0, 1982)
    # A correction moves the figures; the next close writes new versions for both payers.
    [first] = onp["result"]
    fixed = service(net, "onp-rvp").correct(
        informationCustomer=customer(net, "onp-rvp"),
        correction=[{"declarationId": first["declarationId"], "grossAmount": 200000,
                     "familySituation": "single"}])
    assert fixed["result"][0]["version"] == 2
    closed = service(net, "pension-cadastre").closeMonth(
        informationCustomer=customer(net, "pension-cadastre"), month="2019-10")
    assert closed["delivered"] == 2
    # ... and cancelled, the payer's next attestation has no benefit left.
    gone = service(net, "onp-rvp").cancel(informationCustomer=customer(net, "onp-rvp"),
                                          declarationId=[first["declarationId"]])
    assert gone["result"][0]["accepted"]


def test_bad_declarations_are_refused_whole(net):
    # Refused at the hub (the National Register does not know the person) ...
    with store_unchanged(net.settings, CADASTRE):
        reply = declare(net, "onp-rvp", benefit(ssin=ANNE, ref="A"),
                        benefit(ssin=UNKNOWN, ref="U"))
    assert [r["reasonCode"] for r in reply["result"]] == ["PEN00009", "PEN00002"]
    assert_refusal_logged(net.settings, reply_ticket(reply), "PEN00002")
    # ... and at the cadastre: no declaration, no new pensioner announced.
    with store_unchanged(net.settings, CADASTRE):
        reply = declare(net, "onp-rvp", benefit(ssin=ANNE, ref="B", gross=-100),
                        benefit(ssin=ANNE, ref="C", month="2031-01"))
    assert [r["reasonCode"] for r in reply["result"]] == ["PEN00003", "PEN00004"]
    assert reply["status"]["value"] == "NO_DATA_FOUND"
    assert_refusal_logged(net.settings, reply_ticket(reply), "PEN00003")
    # Nothing of either message was applied: Anne has no pension in the cadastre.
    register_in_directory(net.settings, ["onp-rvp"], [ANNE], code=100)
    seen = service(net, "onp-rvp").consult(
        informationCustomer=customer(net, "onp-rvp"), legalContext="PENSION:PAYMENT",
        ssin=ANNE, firstMonth="2019-01")
    assert seen["status"]["value"] == "NO_DATA_FOUND" and not seen["benefit"]


def test_non_payers_and_unregistered_callers_are_refused(net):
    with store_unchanged(net.settings, CADASTRE):
        with pytest.raises(zeep.exceptions.Fault) as refused:
            declare(net, "cpas-eupen", benefit(ref="X"))
        with pytest.raises(zeep.exceptions.Fault) as unregistered:
            service(net, "mutualite-chretienne").consult(
                informationCustomer=customer(net, "mutualite-chretienne"),
                legalContext="HEALTH:INSURABILITY", ssin=ANNE, firstMonth="2019-01")
        with pytest.raises(zeep.exceptions.Fault) as not_cadastre:
            service(net, "onp-rvp").closeMonth(informationCustomer=customer(net, "onp-rvp"),
                                               month="2019-10")
        # A payer declaring under another payer's enterprise number.
        with pytest.raises(zeep.exceptions.Fault) as foreign:
            service(net, "onp-rvp").declare(informationCustomer=customer(net, "ethias-pensions"),
                                            declaration=[benefit(ref="Y")])
    for fault, code in ((refused, "ACC00001"), (unregistered, "ACC00002"),
                        (not_cadastre, "ACC00001"), (foreign, "SEC00012")):
        assert code in _text(fault.value)
        got, ticket = fault_ticket(fault.value)
        assert got == code
        assert_refusal_logged(net.settings, ticket, code)


def test_bad_corrections_and_cancellations_change_nothing(net):
    [mine] = declare(net, "onp-rvp", benefit(ref="RVP-DEC", month="2019-12"))["result"]
    assert mine["accepted"]
    onp, ethias = service(net, "onp-rvp"), service(net, "ethias-pensions")
    cases = [
        # another payer's declaration is not its to cancel or correct
        (lambda: ethias.cancel(informationCustomer=customer(net, "ethias-pensions"),
                               declarationId=[mine["declarationId"]]), ["PEN00008"]),
        (lambda: ethias.correct(informationCustomer=customer(net, "ethias-pensions"),
                                correction=[{"declarationId": mine["declarationId"],
                                             "grossAmount": 1000,
                                             "familySituation": "single"}]), ["PEN00008"]),
        (lambda: onp.correct(informationCustomer=customer(net, "onp-rvp"),
                             correction=[{"declarationId": mine["declarationId"],
                                          "grossAmount": -1, "familySituation": "single"}]),
         ["PEN00003"]),
        # one bad item: the good one is not applied either
        (lambda: onp.correct(informationCustomer=customer(net, "onp-rvp"), correction=[
            {"declarationId": mine["declarationId"], "grossAmount": 1000,
             "familySituation": "single"},
            {"declarationId": 999999, "grossAmount": 1000, "familySituation": "single"}]),
         ["PEN00009", "PEN00008"]),
        (lambda: onp.cancel(informationCustomer=customer(net, "onp-rvp"),
                            declarationId=[mine["declarationId"], 999999]),
         ["PEN00009", "PEN00008"]),
        # a duplicate of what is in force
        (lambda: declare(net, "onp-rvp", benefit(ref="RVP-DEC", month="2019-12")),
         ["PEN00006"]),
    ]
    for call, codes in cases:
        with store_unchanged(net.settings, CADASTRE):
            reply = call()
        assert [r["reasonCode"] for r in reply["result"]] == codes
        assert_refusal_logged(net.settings, reply_ticket(reply),
                              next(c for c in codes if c != "PEN00009"))
    seen = onp.consult(informationCustomer=customer(net, "onp-rvp"),
                       legalContext="PENSION:PAYMENT", ssin=MAX, firstMonth="2019-12",
                       lastMonth="2019-12")
    assert [(b["declarationId"], b["version"], b["grossAmount"]) for b in seen["benefit"]] == [
        (mine["declarationId"], 1, 100000)]


def _text(fault):
    from lxml import etree

    detail = etree.tostring(fault.detail).decode() if fault.detail is not None else ""
    return fault.message + detail


def test_source_serves_the_published_wsdl(net):
    from kszws.registry import load_registry
    from kszws.sources import pension_cadastre, serving
    from tests.test_published_wsdl import _normalized

    registry = load_registry(net.settings)
    source = registry.sources["pension-cadastre"]
    db = pension_cadastre.database(net.settings, source)
    generated = serving.wsdl_of(pension_cadastre.build(net.settings, registry, db), source.url)
    with open(source.wsdl, "rb") as fh:
        assert _normalized(generated) == _normalized(fh.read()), (
            "the pension cadastre source's WSDL changed: regenerate "
            "wsdl/PensionCadastreSource.wsdl with `kszws source pension-cadastre --wsdl`")
    db.dispose()


PENSION_REGISTER = "http://www.ksz-bcss.fgov.be/XSD/SSDN/PensionRegister"


def pension_register(ssin, pillar=0):
    """A Penskad_OpenPK_ConsultRequest body, with the element names real clients send."""
    body = ("<p:Penskad_OpenPK_ConsultRequest xmlns:p='%s' "
            "xmlns:c='http://www.ksz-bcss.fgov.be/XSD/SSDN/Common'>"
            "<p:TargetSSIN>%s</p:TargetSSIN><p:Period><c:StartDate>2019-01-01</c:StartDate>"
            "<c:EndDate>2019-12-31</c:EndDate></p:Period><p:RequestedData><p:Pillar>%d"
            "</p:Pillar><p:RequestedInformation>ALL</p:RequestedInformation>"
            "<p:Focus>ALL</p:Focus></p:RequestedData><p:Language>fr</p:Language>"
            "</p:Penskad_OpenPK_ConsultRequest>" % (PENSION_REGISTER, ssin, pillar))
    return ("OCMWCPASPensionRegisterConsult", "20090706", body)


def test_classic_pension_register_consult(net):
    declare(net, "onp-rvp", benefit(ref="CLASSIC-1", month="2019-11", gross=123400))
    reply = signed_call(net, ssdn_request(pension_register(MAX), caller="cpas-eupen"))
    assert reply.summary(0) == ("YES", 0, [])
    found = reply.root.findall(".//{%s}Benefit" % PENSION_REGISTER)
    assert ("2019-11", "123400") in [(b.findtext("{%s}Month" % PENSION_REGISTER),
                                      b.findtext("{%s}GrossAmount" % PENSION_REGISTER))
                                     for b in found]
    # CPAS Liège (HTTP Basic) has no file on Max: the legacy refusal shape.
    with store_unchanged(net.settings, CADASTRE):
        refused = Reply.of(post_basic(net, ssdn_request(pension_register(MAX))))
    assert "31008007" in refused.text
    assert_refusal_logged(net.settings, refused.ticket, "31008007")
    # A wrong check digit: the SSIN is refused before anything else, naming its field.
    bad = signed_call(net, ssdn_request(pension_register("70100853191"), caller="cpas-eupen"))
    assert bad.summary(0) == ("NO", 10000, ["31007002"])
    assert_refusal_logged(net.settings, bad.ticket, "31007002")
    info = bad.service_replies()[0].find(".//{%s}Information" % ssdn.COMMON)
    assert info.findtext("{%s}FieldName" % ssdn.COMMON) == "TargetSSIN"
    assert info.findtext("{%s}FieldValue" % ssdn.COMMON) == "70100853191"
