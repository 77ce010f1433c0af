"""EmployerDirectoryService and PublicEmployerService v1 (xsd/EmployerDirectory/
EmployerDirectoryV1.xsd), kszws's new-style contracts for the employer directory."""
import datetime
from dataclasses import dataclass

from lxml import etree

from kszws.wire import newstyle
from kszws.wire.reasons import Refusal

INTF = "urn:kszws:intf:EmployerDirectoryService:v1"
PUBLIC_INTF = "urn:kszws:intf:PublicEmployerService:v1"
FAULT = "{%s}employerDirectoryFault" % INTF
PUBLIC_FAULT = "{%s}publicEmployerFault" % PUBLIC_INTF


@dataclass
class Request:
    element: object
    cbe_number: str  # informationCustomer's
    legal_context: str
    cbe: str  # the employer asked, as sent
    nsso: str
    as_of: datetime.date
    history: bool
    name: str
    municipality: int
    max_results: int


def parse(element):
    def text(path):
        value = element.findtext(path)
        return value.strip() if value and value.strip() else None

    as_of = text("asOf")
    try:
        day = datetime.date.fromisoformat(as_of[:10]) if as_of else None
    except ValueError:
        raise Refusal("MSG00008", "asOf %r is not a date" % as_of[:20]) from None
    return Request(element, text("informationCustomer/customerIdentification/cbeNumber") or "",
                   text("legalContext") or "", text("employer/cbeNumber"),
                   text("employer/nssoNumber"), day, text("history") in ("true", "1"),
                   text("name"), int(text("municipalityCode") or 0) or None,
                   int(text("maxResults") or 20))


def response(tag, request, ticket, received, replied, code, employers):
    """`employers`: dicts with cbe, nsso (None to leave it out), register, start, end,
    asOf, attributes [(name, value, validFrom, validUntil)]."""
    root = newstyle.response(tag, request.element, ticket, received, replied, code,
                             bool(employers))
    for e in employers:
        elt = etree.SubElement(root, "employer")
        etree.SubElement(elt, "cbeNumber").text = e["cbe"]
        if e.get("nsso"):
            etree.SubElement(elt, "nssoNumber").text = e["nsso"]
        etree.SubElement(elt, "register").text = e["register"]
        etree.SubElement(elt, "employerSince").text = e["start"]
        if e.get("end"):
            etree.SubElement(elt, "employerUntil").text = e["end"]
        if e.get("asOf"):
            etree.SubElement(elt, "asOf").text = e["asOf"]
        for name, value, valid_from, valid_until in e["attributes"]:
            a = etree.SubElement(elt, "attribute")
            etree.SubElement(a, "name").text = name
            etree.SubElement(a, "value").text = value or ""
            etree.SubElement(a, "validFrom").text = valid_from
            if valid_until:
                etree.SubElement(a, "validUntil").text = valid_until
    return root
