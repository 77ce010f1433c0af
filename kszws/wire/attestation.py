"""AttestationService v1 (xsd/Attestations/AttestationServiceV1.xsd), kszws's new-style
contract for electronic attestations: publish, update, cancel, consult, list."""
import datetime
from dataclasses import dataclass

from lxml import etree

from kszws.wire import newstyle
from kszws.wire.reasons import Refusal

INTF = "urn:kszws:intf:AttestationService:v1"
FAULT = "{%s}attestationFault" % INTF


@dataclass
class Request:
    element: object
    cbe_number: str
    type: str = None
    types: tuple = ()
    ssin: str = None
    reference: str = None
    attestation_id: str = None
    start: datetime.date = None
    end: datetime.date = None
    decision_date: datetime.date = None
    payload: object = None  # the payload element


def _date(text, field):
    try:
        return datetime.date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        raise Refusal("MSG00008", "%s %r is not a date" % (field, (text or "")[:20])) from None


def parse(element):
    r = Request(element, (element.findtext(
        "informationCustomer/customerIdentification/cbeNumber") or "").strip())
    r.type = (element.findtext("type") or "").strip() or None
    r.types = tuple(t.text.strip() for t in element.findall("type") if t.text)
    r.ssin = (element.findtext("ssin") or "").strip() or None
    r.reference = element.findtext("reference")
    r.attestation_id = (element.findtext("attestationId") or "").strip() or None
    if element.find("period") is not None:
        r.start = _date(element.findtext("period/startDate"), "period/startDate")
        end = element.findtext("period/endDate")
        r.end = _date(end, "period/endDate") if end else None
        if r.end is not None and r.end < r.start:
            raise Refusal("MSG00008", "the period ends before it starts")
    if element.find("decisionDate") is not None:
        r.decision_date = _date(element.findtext("decisionDate"), "decisionDate")
    payload = element.find("payload")
    if payload is not None:
        children = [c for c in payload if isinstance(c.tag, str)]
        r.payload = children[0] if children else None
    return r


def response(local, request, ticket, received, replied, code, attestations=(), cbe_of=None):
    root = newstyle.response("{%s}%s" % (INTF, local), request.element, ticket, received,
                             replied, code, bool(attestations))
    for a in attestations:
        elt = etree.SubElement(root, "attestation")
        for tag, value in (("attestationId", a.id), ("type", a.type), ("ssin", a.ssin),
                           ("publisher", cbe_of(a.publisher)), ("reference", a.reference),
                           ("status", a.status), ("version", a.version)):
            etree.SubElement(elt, tag).text = str(value)
        period = etree.SubElement(elt, "period")
        etree.SubElement(period, "startDate").text = str(a.start)
        if a.end is not None:
            etree.SubElement(period, "endDate").text = str(a.end)
        etree.SubElement(elt, "decisionDate").text = str(a.decision_date)
        etree.SubElement(elt, "payload").append(etree.fromstring(a.payload.encode("utf-8")))
    return root
