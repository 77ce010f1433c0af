"""PensionCadastreService v1 (xsd/PensionCadastre/PensionCadastreV1.xsd), kszws's new-style
contract for the pension cadastre: declarations of payers, consultations, closing a month."""
from dataclasses import dataclass

from lxml import etree

from kszws.wire import newstyle
from kszws.wire.reasons import REASONS

INTF = "urn:kszws:intf:PensionCadastreService:v1"
FAULT = "{%s}pensionCadastreFault" % INTF

# Source (service.Benefit) field -> element of BenefitType, in schema order.
BENEFIT_FIELDS = (("declarationId", "declarationId"), ("version", "version"),
                  ("payerCbe", "payerCbe"), ("month", "month"),
                  ("benefitReference", "benefitReference"), ("benefitType", "benefitType"),
                  ("pillar", "pillar"), ("grossCents", "grossAmount"),
                  ("familySituation", "familySituation"),
                  ("healthInsuranceCents", "healthInsurance"), ("solidarityCents", "solidarity"),
                  ("taxableCents", "taxable"), ("withholdingCents", "withholding"),
                  ("netCents", "net"))
OVERVIEW_FIELDS = (("familySituation", "familySituation"), ("rates", "rates"),
                   ("cumulatedGrossCents", "cumulatedGrossAmount"),
                   ("healthInsuranceCents", "healthInsurance"),
                   ("solidarityCents", "solidarity"), ("taxableCents", "taxable"),
                   ("withholdingRateBp", "withholdingRate"),
                   ("withholdingCents", "withholding"))


@dataclass
class Request:
    element: object
    cbe_number: str
    legal_context: str
    declarations: list  # dicts in the source's field names
    corrections: list
    declaration_ids: list
    ssin: str
    first_month: str
    last_month: str
    pillar: int
    month: str


def _text(parent, path):
    value = parent.findtext(path)
    return value.strip() if value and value.strip() else None


def _int(text):
    return int(text) if text is not None else None


def parse(element):
    """The request; the schema has checked shapes and types already."""
    declarations = [dict(ssin=_text(d, "ssin"), month=_text(d, "month"),
                         benefitReference=_text(d, "benefitReference"),
                         benefitType=_text(d, "benefitType"),
                         grossCents=_int(_text(d, "grossAmount")),
                         familySituation=_text(d, "familySituation"))
                    for d in element.findall("declaration")]
    corrections = [dict(declarationId=_int(_text(c, "declarationId")),
                        grossCents=_int(_text(c, "grossAmount")),
                        familySituation=_text(c, "familySituation"))
                   for c in element.findall("correction")]
    ids = [int(e.text) for e in element.findall("declarationId") if e.text]
    return Request(element, _text(element, "informationCustomer/customerIdentification/cbeNumber")
                   or "", _text(element, "legalContext") or "", declarations, corrections,
                   ids, _text(element, "ssin"), _text(element, "firstMonth"),
                   _text(element, "lastMonth"), _int(_text(element, "pillar")),
                   _text(element, "month"))


def results_response(operation, request, ticket, received, replied, results):
    """declare / correct / cancel: `results` are dicts index, accepted, reasonCode,
    declarationId, version."""
    accepted = sum(1 for r in results if r["accepted"])
    root = newstyle.response("{%s}%sResponse" % (INTF, operation), request.element, ticket,
                             received, replied, "MSG00000", accepted > 0,
                             [("accepted", accepted), ("refused", len(results) - accepted)])
    for r in results:
        elt = etree.SubElement(root, "result")
        etree.SubElement(elt, "index").text = str(r["index"])
        etree.SubElement(elt, "accepted").text = "true" if r["accepted"] else "false"
        if r.get("reasonCode"):
            etree.SubElement(elt, "reasonCode").text = r["reasonCode"]
            etree.SubElement(elt, "diagnostic").text = REASONS[r["reasonCode"]].diagnostic
        for name in ("declarationId", "version"):
            if r.get(name) is not None:
                etree.SubElement(elt, name).text = str(r[name])
    return root


def _benefits(root, benefits):
    for b in benefits:
        elt = etree.SubElement(root, "benefit")
        for field, name in BENEFIT_FIELDS:
            if b.get(field) is not None:
                etree.SubElement(elt, name).text = str(b[field])


def consult_response(request, ticket, received, replied, benefits):
    """`benefits`: dicts with the source's Benefit fields and payerCbe."""
    root = newstyle.response("{%s}consultResponse" % INTF, request.element, ticket, received,
                             replied, "MSG00000", bool(benefits))
    _benefits(root, benefits)
    return root


def overview_response(request, ticket, received, replied, overview):
    """`overview`: the source's Overview as a dict, its benefits with payerCbe."""
    root = newstyle.response("{%s}overviewResponse" % INTF, request.element, ticket, received,
                             replied, "MSG00000", bool(overview["found"]))
    etree.SubElement(root, "month").text = overview["month"]
    if overview["found"]:
        for field, name in OVERVIEW_FIELDS:
            etree.SubElement(root, name).text = str(overview[field])
    _benefits(root, overview["benefits"])
    return root


def close_response(request, ticket, received, replied, month, persons, written, delivered):
    root = newstyle.response("{%s}closeMonthResponse" % INTF, request.element, ticket,
                             received, replied, "MSG00000", persons > 0)
    for name, value in (("month", month), ("persons", persons), ("attestations", written),
                        ("delivered", delivered)):
        etree.SubElement(root, name).text = str(value)
    return root
