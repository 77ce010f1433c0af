"""The CBSS "new style" blocks shared by every service (CONTRACTS.md §1B, §3):
informationCBSS, the status block and CBSSFaultType faults. Local elements are
unqualified; only the top element of a message is namespace-qualified."""
from lxml import etree

from kszws.wire.reasons import REASONS

# The authorCode CBSS puts in its faults (samples/lino_fault_RetrieveTIGroups_v1.xml).
AUTHOR_CODE = "http://www.bcss.fgov.be/en/international/home/index.html"


def xsd_datetime(moment):
    """An aware UTC datetime as xsd:dateTime with milliseconds, like CBSS: 2012-05-23T08:19:09.029Z."""
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def information_cbss(parent, ticket, received, replied):
    info = etree.SubElement(parent, "informationCBSS")
    etree.SubElement(info, "ticketCBSS").text = ticket
    etree.SubElement(info, "timestampReceive").text = xsd_datetime(received)
    etree.SubElement(info, "timestampReply").text = xsd_datetime(replied)
    return info


def message(parent, tag, code, diagnostic=None, information=()):
    """A MessageType element (severity, reasonCode, diagnostic, authorCode, information*)."""
    reason = REASONS[code]
    elt = etree.SubElement(parent, tag)
    etree.SubElement(elt, "severity").text = reason.severity
    etree.SubElement(elt, "reasonCode").text = code
    etree.SubElement(elt, "diagnostic").text = (diagnostic or reason.diagnostic)[:256]
    etree.SubElement(elt, "authorCode").text = AUTHOR_CODE
    for field_name, field_value in list(information)[:15]:
        info = etree.SubElement(elt, "information")
        etree.SubElement(info, "fieldName").text = field_name[:64]
        etree.SubElement(info, "fieldValue").text = str(field_value)[:256]
    return elt


def cbss_fault(tag, code, ticket, received, replied, diagnostic=None, information=(),
               customer=None):
    """A fault detail element of CBSSFaultType: the request's informationCustomer echoed
    when it had one (as CBSS's faults do), informationCBSS, then one detail."""
    elt = etree.Element(tag, nsmap={"tns": tag[1:].split("}")[0]} if tag.startswith("{") else None)
    if customer is not None:
        elt.append(echo(customer))
    information_cbss(elt, ticket, received, replied)
    message(elt, "detail", code, diagnostic, information)
    return elt


def echo(element):
    """A copy of a request's block for the reply, without the namespace declarations it
    only inherited there (the WS-Security utility namespace of a signed Body, say): the
    echo carries what it uses, as CBSS writes it."""
    copy = etree.fromstring(etree.tostring(element))
    etree.cleanup_namespaces(copy)
    return copy


def response(tag, request_element, ticket, received, replied, code, found, information=()):
    """The head of a kszws new-style response `tag`: the request's informationCustomer
    echoed, informationCBSS, and a status: DATA_FOUND / NO_DATA_FOUND when `code` is an
    INFORMATION reason (MSG00000...), NO_RESULT for a business refusal (its code)."""
    root = etree.Element(tag, nsmap={"ns0": tag[1:].split("}")[0]})
    info = request_element.find("informationCustomer")
    if info is not None:
        root.append(echo(info))
    information_cbss(root, ticket, received, replied)
    reason = REASONS[code]
    status = etree.SubElement(root, "status")
    etree.SubElement(status, "value").text = ("DATA_FOUND" if found else "NO_DATA_FOUND") \
        if reason.severity == "INFORMATION" else "NO_RESULT"
    etree.SubElement(status, "code").text = code
    etree.SubElement(status, "description").text = reason.diagnostic
    for name, value in list(information)[:15]:
        item = etree.SubElement(status, "information")
        etree.SubElement(item, "fieldName").text = name
        etree.SubElement(item, "fieldValue").text = str(value)[:256]
    return root
