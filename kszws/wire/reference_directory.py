"""The new-style reference-directory contracts kszws designs (xsd/ReferenceDirectory/
ReferenceDirectoryV1.xsd): ReferenceDirectoryService (register, unregister, list, consult,
bulkRegister), AccessLogService (consultAccessLog) and AuthorizationService
(listAuthorizations). Requests are read from their element, responses written as elements;
local elements are unqualified (CBSS new style)."""
import datetime
from dataclasses import dataclass

from lxml import etree

from kszws.wire import newstyle
from kszws.wire.identify_person import Names
from kszws.wire.reasons import Refusal

DIRECTORY = "urn:kszws:intf:ReferenceDirectoryService:v1"
ACCESS_LOG = "urn:kszws:intf:AccessLogService:v1"
AUTHORIZATIONS = "urn:kszws:intf:AuthorizationService:v1"
DIRECTORY_FAULT = "{%s}referenceDirectoryFault" % DIRECTORY
ACCESS_LOG_FAULT = "{%s}accessLogFault" % ACCESS_LOG
AUTHORIZATIONS_FAULT = "{%s}authorizationFault" % AUTHORIZATIONS


@dataclass
class Request:
    """Any of the requests: the fields a request type does not have stay None."""
    element: object
    cbe_number: str = ""
    ssin: str = None
    quality_code: int = None
    start: datetime.date = None
    end: datetime.date = None
    register: str = None
    sis_card: str = ""
    identity_card: str = ""
    person_data: Names = None
    rows: list = None  # bulkRegister: (ssin, code, start, end, register)
    citizen: str = None  # accessLog: actingFor/citizen
    officer: str = None  # accessLog: actingFor/dataProtectionOfficer
    sector: int = None  # listAuthorizations

    @property
    def proves(self):
        return bool(self.sis_card or self.identity_card or self.person_data)


def _date(text, field):
    try:
        return datetime.date.fromisoformat(text.strip()[:10])
    except (AttributeError, ValueError):
        raise Refusal("MSG00008", "%s %r is not a date" % (field, (text or "")[:20])) from None


def _period(find, start_tag="period/startDate", end_tag="period/endDate"):
    start = _date(find(start_tag), start_tag)
    end_text = find(end_tag)
    end = _date(end_text, end_tag) if end_text else None
    if end is not None and end < start:
        raise Refusal("MSG00008", "the period ends before it starts")
    return start, end


def _int(text):
    return int(text) if text not in (None, "") else None


def parse(element):
    """The request in `element` (validated against the schema before)."""
    r = Request(element, cbe_number=(element.findtext(
        "informationCustomer/customerIdentification/cbeNumber") or "").strip())
    local = etree.QName(element).localname
    if local == "listAuthorizationsRequest":
        r.sector = _int(element.findtext("sector"))
        return r
    if local == "bulkRegisterRequest":
        r.rows = [((x.findtext("ssin") or "").strip(), _int(x.findtext("qualityCode")),
                   *_period(x.findtext), (x.findtext("register") or None))
                  for x in element.findall("registration")]
        return r
    registration_request(r, element.findtext, unregister=local == "unregisterRequest")
    acting = element.find("actingFor")
    if acting is not None:
        r.citizen = (acting.findtext("citizen") or "").strip() or None
        r.officer = (acting.findtext("dataProtectionOfficer") or "").strip() or None
    return r


def registration_request(r, find, unregister=False):
    """Fill `r` (a Request) with a register or unregister request's fields, from
    `find(path)`: the text at the online request's `path`, or None. The batch type REGI
    reads its records with it too."""
    r.ssin = (find("ssin") or "").strip()
    r.quality_code = _int(find("qualityCode"))
    r.register = find("register") or None
    if unregister:
        r.start = _date(find("from"), "from")
    else:
        r.start, r.end = _period(find)
    r.sis_card = (find("proof/sisCardNumber") or "").strip()
    r.identity_card = (find("proof/eidCardNumber") or "").strip()
    if find("proof/personData/lastName") is not None:
        r.person_data = Names(find("proof/personData/lastName") or "",
                              find("proof/personData/firstName") or "", "",
                              find("proof/personData/birthDate") or "")
    return r


def _response(tag, request, ticket, received, replied, code, found, information=()):
    return newstyle.response(tag, request.element, ticket, received, replied, code, found,
                             information)


def _text(parent, tag, value):
    if value is not None:
        etree.SubElement(parent, tag).text = str(value)


def directory_response(operation, request, ticket, received, replied, code, registrations=(),
                       cbe_of=None, information=()):
    """The response of register/unregister/list/consult: status and the registrations
    (registry-free: `cbe_of` names an institution id by its enterprise number, or None to
    leave institutions out)."""
    root = _response("{%s}%sResponse" % (DIRECTORY, operation), request, ticket, received,
                     replied, code, bool(registrations), information)
    for reg in registrations:
        root.append(registration_element(reg, cbe_of))
    return root


def registration_element(reg, cbe_of=None):
    """One registration (directory.Registration) as the responses give it; the batch type
    REGI gives the same element."""
    elt = etree.Element("registration")
    _text(elt, "ssin", reg.ssin)
    _text(elt, "sector", reg.sector)
    _text(elt, "subsector", reg.subsector)
    if cbe_of is not None:
        _text(elt, "institution", cbe_of(reg.institution))
    _text(elt, "qualityCode", reg.quality_code)
    period = etree.SubElement(elt, "period")
    _text(period, "startDate", reg.start.isoformat())
    _text(period, "endDate", reg.end.isoformat() if reg.end else None)
    _text(elt, "register", reg.register)
    return elt


def bulk_response(request, ticket, received, replied, accepted, rejected):
    code = "MSG00000"
    root = _response("{%s}bulkRegisterResponse" % DIRECTORY, request, ticket, received, replied,
                     code, accepted > 0, [("accepted", accepted), ("rejected", len(rejected))])
    _text(root, "accepted", accepted)
    for r in rejected[:10000]:
        elt = etree.SubElement(root, "rejected")
        _text(elt, "index", r.index)
        _text(elt, "ssin", r.ssin)
        _text(elt, "reasonCode", r.code)
        _text(elt, "diagnostic", r.diagnostic[:256])
    return root


def access_log_response(request, ticket, received, replied, accesses):
    root = _response("{%s}accessLogResponse" % ACCESS_LOG, request, ticket, received, replied,
                     "MSG00000", bool(accesses))
    for a in accesses:
        elt = etree.SubElement(root, "access")
        _text(elt, "timestamp", newstyle.xsd_datetime(a["received_at"]))
        _text(elt, "institution", a["institution"][:256])
        _text(elt, "cbeNumber", a["cbe"])
        _text(elt, "service", a["service"])
        _text(elt, "operation", a["operation"])
        _text(elt, "legalContext", a["legal_context"])
        _text(elt, "outcome", a["outcome"])
        _text(elt, "reasonCode", a["reason_code"])
    return root


def authorizations_response(ticket, received, replied, authorizations, exemptions):
    root = etree.Element("{%s}listAuthorizationsResponse" % AUTHORIZATIONS,
                         nsmap={"ns0": AUTHORIZATIONS})
    newstyle.information_cbss(root, ticket, received, replied)
    for a in authorizations:
        elt = etree.SubElement(root, "authorization")
        _text(elt, "id", a.id)
        _text(elt, "deliberation", a.deliberation)
        _text(elt, "deliberationDate", a.deliberation_date.isoformat())
        _text(elt, "title", a.title[:256])
        _text(elt, "sector", a.sector)
        _text(elt, "subsector", a.subsector)
        _text(elt, "service", a.service)
        for group in sorted(a.data_groups):
            _text(elt, "dataGroup", group)
        for context in sorted(a.legal_contexts):
            _text(elt, "legalContext", context)
        for code in sorted(a.quality_codes):
            _text(elt, "qualityCode", code)
        _text(elt, "validFrom", a.valid_from.isoformat())
        _text(elt, "validUntil", a.valid_until.isoformat() if a.valid_until else None)
    for e in exemptions:
        elt = etree.SubElement(root, "exemption")
        _text(elt, "service", e.service)
        _text(elt, "dataGroup", e.data_group)
        _text(elt, "reason", e.reason[:256])
    return root
