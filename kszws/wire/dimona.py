"""DimonaService and EmploymentService v1 (xsd/Dimona/DimonaV1.xsd), kszws's new-style
contracts for DIMONA declarations and employment relations."""
import datetime
from dataclasses import dataclass

from lxml import etree

from kszws.wire import newstyle
from kszws.wire.reasons import REASONS, Refusal

INTF = "urn:kszws:intf:DimonaService:v1"
EMPLOYMENT_INTF = "urn:kszws:intf:EmploymentService:v1"
FAULT = "{%s}dimonaFault" % INTF
EMPLOYMENT_FAULT = "{%s}employmentFault" % EMPLOYMENT_INTF


@dataclass
class Request:
    element: object
    cbe_number: str
    legal_context: str
    declarations: list  # dicts: action, periodId, ssin, workerType, startDate, endDate, hours
    ssin: str
    year: int
    start: str  # ISO dates
    end: str
    as_of: str
    after: int  # personnel file paging
    max_items: int


def _date(text, field):
    if not text or not text.strip():
        return None
    try:
        return datetime.date.fromisoformat(text.strip()[:10]).isoformat()
    except ValueError:
        raise Refusal("MSG00008", "%s %r is not a date" % (field, text[:20])) from None


def declaration(find):
    """One declaration as a dict (action, periodId, ssin, workerType, startDate, endDate,
    hours), from `find(name)`: the text of the request's field `name`, or None. The batch
    type DIMN reads its records with it too."""
    def text(name):
        value = find(name)
        return value.strip() if value and value.strip() else None

    period, hours = text("periodId"), text("hours")
    return dict(action=text("action"), periodId=int(period) if period else None,
                ssin=text("ssin"), workerType=text("workerType"),
                startDate=_date(find("startDate"), "startDate"),
                endDate=_date(find("endDate"), "endDate"), hours=int(hours) if hours else None)


def parse(element):
    def text(parent, path):
        value = parent.findtext(path)
        return value.strip() if value and value.strip() else None

    declarations = [declaration(d.findtext) for d in element.findall("declaration")]
    year = text(element, "year")
    return Request(element, text(element, "informationCustomer/customerIdentification/cbeNumber")
                   or "", text(element, "legalContext") or "", declarations,
                   text(element, "ssin"), int(year) if year else None,
                   _date(element.findtext("startDate"), "startDate"),
                   _date(element.findtext("endDate"), "endDate"),
                   _date(element.findtext("asOf"), "asOf"),
                   int(text(element, "after") or 0), int(text(element, "maxItems") or 1000))


def declare_response(request, ticket, received, replied, results):
    """`results`: dicts index, action, accepted, reasonCode, periodId."""
    accepted = sum(1 for r in results if r["accepted"])
    root = newstyle.response("{%s}declareResponse" % INTF, request.element, ticket, received,
                             replied, "MSG00000", accepted > 0,
                             [("accepted", accepted), ("refused", len(results) - accepted)])
    for r in results:
        root.append(declaration_result(r))
    return root


def declaration_result(r):
    """One declaration's result (a dict: index, action, accepted, reasonCode, periodId), as
    the declare response gives it; the batch type DIMN gives the same element."""
    elt = etree.Element("result")
    etree.SubElement(elt, "index").text = str(r["index"])
    etree.SubElement(elt, "action").text = r["action"] or ""
    etree.SubElement(elt, "accepted").text = "true" if r["accepted"] else "false"
    if r["reasonCode"]:
        etree.SubElement(elt, "reasonCode").text = r["reasonCode"]
        etree.SubElement(elt, "diagnostic").text = REASONS[r["reasonCode"]].diagnostic
    if r["periodId"]:
        etree.SubElement(elt, "periodId").text = str(r["periodId"])
    return elt


def periods_response(tag, request, ticket, received, replied, periods, quota=None, more=None):
    """`periods`: dicts periodId, employerCbe, ssin, workerType, startDate, endDate, hours;
    `quota`: dict year, quotaHours, usedHours, remainingHours."""
    root = newstyle.response(tag, request.element, ticket, received, replied, "MSG00000",
                             bool(periods))
    for p in periods:
        elt = etree.SubElement(root, "period")
        for name in ("periodId", "employerCbe", "ssin", "workerType", "startDate", "endDate",
                     "hours"):
            if p.get(name) is not None:
                etree.SubElement(elt, name).text = str(p[name])
    if quota is not None:
        elt = etree.SubElement(root, "studentQuota")
        for name in ("year", "quotaHours", "usedHours", "remainingHours"):
            etree.SubElement(elt, name).text = str(quota[name])
    if more is not None:
        etree.SubElement(root, "morePeriods").text = "true" if more else "false"
    return root
