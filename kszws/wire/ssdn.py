"""The classic CBSS "SSDN" envelope (CONTRACTS.md §1A, §3, §5): SSDNRequest in, SSDNReply
out, carried as a string by WebServiceConnector.sendXML.

Replies are written exactly like CBSS's (samples/lino_demo_ipr_*.xml), because a real PHP
client reads them by prefix: default namespace on SSDNReply, `ns1` for Common in
ReplyContext, `ns2` for Common in each ServiceReply, `ns3` for the service body (declared
on the body element), both ResultSummary levels, ok + ReturnCode 0/1/10000.
"""
import secrets
import string
from dataclasses import dataclass, field

from lxml import etree

from kszws.clock import BRUSSELS

SERVICE = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Service"
COMMON = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Common"
PERSON = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Person"
CONNECTOR = "http://ksz-bcss.fgov.be/connectors/WebServiceConnector"

_TICKET_ALPHABET = string.ascii_uppercase + string.digits
DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def s(local):
    return "{%s}%s" % (SERVICE, local)


def c(local):
    return "{%s}%s" % (COMMON, local)


# -- reason codes ---------------------------------------------------------------------------
# CBSS's own codes (CONTRACTS.md §3) and, marked kszws, codes of the same shape for cases
# whose real code is not public. The first digit is the severity (1 information,
# 2 warning, 3 error); never renumber, only add.

INFORMATION, WARNING, ERROR = "INFORMATION", "WARNING", "ERROR"
CODES = {
    "30000001": (ERROR, "At least one service request has generated an error."),
    "20000001": (WARNING, "At least one service request has generated a warning."),
    "31009001": (ERROR, "When the birth date in the phonetic criteria is not a complete date, "
                        "a birth date tolerance must be specified."),
    "31000007": (ERROR, "The expected mandatory argument is not provided or empty."),
    "21007001": (WARNING, "Both a SSIN and Phonetic Criteria were specified. The Phonetic "
                          "Criteria will be ignored."),
    "22007007": (WARNING, "The specified PersonData does not match with the data found for "
                          "this person."),
    "12007001": (INFORMATION, "The identity of the person was successfully validated by the "
                              "system."),
    # kszws
    "30000002": (ERROR, "The request is not a valid SSDNRequest."),
    "31000003": (ERROR, "The authentic source is unavailable; the request was not treated."),
    "31000001": (ERROR, "The service or the version of the service request is unknown."),
    "31000002": (ERROR, "The service request does not conform to its schema."),
    "31007002": (ERROR, "The SSIN is not valid (check digits)."),
    "31007003": (ERROR, "No person is known under this SSIN."),
    "31007004": (ERROR, "This SSIN has been cancelled."),
    "21007005": (WARNING, "This SSIN has been replaced; the person is given under the new "
                          "SSIN."),
    "22007008": (WARNING, "The specified SIS card number does not match with the data found "
                          "for this person."),
    "22007009": (WARNING, "The specified identity card number does not match with the data "
                          "found for this person."),
    "31008001": (ERROR, "The proof of authentication does not match the person."),
    "31008002": (ERROR, "The person is registered with this exclusive quality code at another "
                        "institution of the sector for an overlapping period."),
    "31008003": (ERROR, "The quality code is not valid for the sector."),
    "21008004": (WARNING, "There was no registration to end."),
    "31008005": (ERROR, "The requester manages no file on this person with this quality code "
                        "in the integrated period."),
    # the integration check (kszws ACC00001 / ACC00002)
    "31008006": (ERROR, "No published authorization allows the sector of the requester to "
                        "receive these data."),
    "31008007": (ERROR, "The requester manages no file on this person in the reference "
                        "directory, in an authorized quality code, for this period."),
    "31008009": (ERROR, "The request type is not an attestation type of the catalogue."),
    "21008008": (WARNING, "The Extended data are not given: the requester manages no file on "
                          "this person in an authorized quality code."),
}
RETURN_CODES = {"YES": 0, "WARNING": 1, "NO": 10000}


@dataclass
class Detail:
    code: str
    information: list = field(default_factory=list)  # (FieldName, FieldValue or None)

    @property
    def severity(self):
        return CODES[self.code][0]


def status_of(details):
    """ok attribute value for a list of details: NO on any error, WARNING on any warning."""
    severities = {d.severity for d in details}
    return "NO" if ERROR in severities else "WARNING" if WARNING in severities else "YES"


# -- requests -----------------------------------------------------------------------------

@dataclass
class AuthorizedUser:
    user_id: str
    email: str
    org_unit: str
    matrix_id: int
    matrix_sub_id: int  # None when absent


@dataclass
class ServiceRequest:
    service_id: str
    version: str
    body: object  # the service's request element, or None


@dataclass
class Request:
    user: AuthorizedUser
    reference: str
    time_request: str
    language: str
    services: list


def parse_request(root):
    """An SSDNRequest element (already validated against xsd/SSDN) as a Request."""
    user = root.find("%s/%s" % (s("RequestContext"), s("AuthorizedUser")))
    message = root.find("%s/%s" % (s("RequestContext"), s("Message")))

    def text(parent, local):
        if parent is None:
            return None
        value = parent.findtext(s(local))
        return value.strip() if value is not None else None

    sub = text(user, "MatrixSubID")
    services = []
    for req in root.iterfind(s("ServiceRequest")):
        bodies = [e for e in req if isinstance(e.tag, str)
                  and e.tag not in (s("ServiceId"), s("Version"))]
        services.append(ServiceRequest(text(req, "ServiceId"), text(req, "Version"),
                                       bodies[0] if bodies else None))
    return Request(
        user=AuthorizedUser(text(user, "UserID"), text(user, "Email"), text(user, "OrgUnit"),
                            int(text(user, "MatrixID")), int(sub) if sub else None),
        reference=text(message, "Reference"), time_request=text(message, "TimeRequest"),
        language=text(message, "Language"), services=services)


# -- replies ----------------------------------------------------------------------------------

def new_ticket():
    """A CBSS ticket: 15 upper-case alphanumerics (e.g. THTTMHHP49DGQ9V)."""
    return "".join(secrets.choice(_TICKET_ALPHABET) for _ in range(15))


def t_datetime(moment):
    """common:t_DateTimeUTC, yyyyMMddThhmmss, in Belgian local time as CBSS writes it."""
    return moment.astimezone(BRUSSELS).strftime("%Y%m%dT%H%M%S")


@dataclass
class ServiceResult:
    service_id: str
    version: str
    details: list  # of Detail
    body: object = None  # the service's reply element (built with prefix ns3), or None


def result_summary(parent, prefix, details):
    ok = status_of(details)
    summary = etree.SubElement(parent, c("ResultSummary"), ok=ok, nsmap={prefix: COMMON})
    etree.SubElement(summary, c("ReturnCode")).text = str(RETURN_CODES[ok])
    for detail in details[:30]:
        elt = etree.SubElement(summary, c("Detail"))
        severity, diagnostic = CODES[detail.code]
        etree.SubElement(elt, c("Severity")).text = severity
        etree.SubElement(elt, c("ReasonCode")).text = detail.code
        etree.SubElement(elt, c("Diagnostic")).text = diagnostic
        etree.SubElement(elt, c("AuthorCodeList")).text = "CBSS"
        for name, value in detail.information[:5]:
            info = etree.SubElement(elt, c("Information"))
            etree.SubElement(info, c("FieldName")).text = name
            if value is not None:
                etree.SubElement(info, c("FieldValue")).text = str(value)
    return summary


def envelope_details(results):
    """The ReplyContext-level detail that sums up the service replies."""
    status = status_of([d for r in results for d in r.details])
    return [Detail("30000001")] if status == "NO" else \
        [Detail("20000001")] if status == "WARNING" else []


def reply(ticket, received, replied, results, request=None, details=None):
    """The SSDNReply element. `details` (envelope level) defaults to the summary of the
    service results; `request` (None when it could not be read) is echoed."""
    root = etree.Element(s("SSDNReply"), nsmap={None: SERVICE})
    context = etree.SubElement(root, s("ReplyContext"))
    result_summary(context, "ns1", envelope_details(results) if details is None else details)
    if request is not None:
        user = etree.SubElement(context, s("AuthorizedUser"))
        u = request.user
        for local, value in (("UserID", u.user_id), ("Email", u.email), ("OrgUnit", u.org_unit),
                             ("MatrixID", u.matrix_id), ("MatrixSubID", u.matrix_sub_id)):
            if value is not None:
                etree.SubElement(user, s(local)).text = str(value)
    message = etree.SubElement(context, s("Message"))
    if request is not None and request.reference is not None:
        etree.SubElement(message, s("Reference")).text = request.reference
    etree.SubElement(message, s("Ticket")).text = ticket
    if request is not None and request.time_request:
        etree.SubElement(message, s("TimeRequest")).text = request.time_request
    etree.SubElement(message, s("TimeReceive")).text = t_datetime(received)
    etree.SubElement(message, s("TimeResponse")).text = t_datetime(replied)
    for result in results:
        service = etree.SubElement(root, s("ServiceReply"))
        result_summary(service, "ns2", result.details)
        etree.SubElement(service, s("ServiceId")).text = result.service_id
        etree.SubElement(service, s("Version")).text = result.version
        if result.body is not None and status_of(result.details) != "NO":
            service.append(result.body)
    return root


def collapsed(parent, tag):
    """The text of `parent`'s child `tag`, whitespace collapsed (xs:whiteSpace collapse);
    "" when the parent or the child is absent."""
    value = parent.findtext(tag) if parent is not None else None
    return " ".join(value.split()) if value else ""


def add_text(parent, tag, value, **attrib):
    """A child `tag` holding `value`, or nothing when the value is None or empty."""
    if value is None or value == "":
        return None
    elt = etree.SubElement(parent, tag, **attrib)
    elt.text = str(value)
    return elt


class CommonPrefixes:
    """Prefixes for SSDN Common elements inside a service body, declared on each element
    as CBSS's (JAXB) replies do: ns4, ns5, ns6, ... (samples/
    lino_fragment_ManageAccess_ServiceReply_register.xml). A real PHP client tells a
    Period's StartDate from its EndDate by these distinct prefixes."""

    def __init__(self, first=4):
        self.next = first

    def element(self, parent, local, text):
        prefix = "ns%d" % self.next
        self.next += 1
        elt = etree.SubElement(parent, c(local), nsmap={prefix: COMMON})
        elt.text = text
        return elt

    def period(self, parent, tag, start, end):
        period = etree.SubElement(parent, tag)
        self.element(period, "StartDate", start.isoformat())
        if end is not None:
            self.element(period, "EndDate", end.isoformat())
        return period


def serialize(root):
    return DECLARATION + etree.tostring(root, encoding="UTF-8")


def connector_reply(text):
    """The sendXML reply payload: <xmlString> in the connector namespace, holding the
    SSDNReply as (escaped) text."""
    elt = etree.Element("{%s}xmlString" % CONNECTOR, nsmap={"tns": CONNECTOR})
    elt.text = text
    return elt

