"""RetrieveTIGroups v2 (retrieveTI, new style; CONTRACTS.md §1B, §5): the National
Register's information types of one person, for institutions with a legal context."""
from dataclasses import dataclass

from lxml import etree

from kszws.wire import newstyle, xm25
from kszws.wire.reasons import REASONS

INTF = "http://kszbcss.fgov.be/intf/RetrieveTIGroupsService/v2"
REQUEST = "{%s}retrieveTIGroupsRequest" % INTF
RESPONSE = "{%s}retrieveTIGroupsResponse" % INTF
FAULT = "{%s}retrieveTIGroupsFault" % INTF

STATUS_VALUES = {"MSG00000": "DATA_FOUND", "DAT00001": "NO_DATA_FOUND", "DAT00002": "NO_RESULT"}


@dataclass
class Query:
    information_customer: object  # the element, echoed in the response
    legal_context: str
    ssin: str
    language: str
    history: bool
    cbe_number: str  # informationCustomer/customerIdentification/cbeNumber, if given


def parse(element):
    info = element.find("informationCustomer")
    search = element.find("searchInformation")
    return Query(
        information_customer=info,
        legal_context=(element.findtext("legalContext") or "").strip(),
        ssin=(search.findtext("ssin") or "").strip(),
        language=(search.findtext("language") or "fr").strip(),  # the schema's default
        history=(search.findtext("history") or "false").strip() in ("true", "1"),
        cbe_number=(info.findtext("customerIdentification/cbeNumber") or "").strip()
        if info is not None else "")


def response(query, ticket, received, replied, code, person=None, members=(),
             country_name=None, information=()):
    """retrieveTIGroupsResponse: the request's blocks echoed, informationCBSS, status and,
    when found, rrn_it_implicit."""
    root = etree.Element(RESPONSE, nsmap={"ns0": INTF})
    if query.information_customer is not None:
        root.append(newstyle.echo(query.information_customer))
    newstyle.information_cbss(root, ticket, received, replied)
    etree.SubElement(root, "legalContext").text = query.legal_context
    search = etree.SubElement(root, "searchInformation")
    etree.SubElement(search, "ssin").text = query.ssin
    etree.SubElement(search, "language").text = query.language
    etree.SubElement(search, "history").text = "true" if query.history else "false"
    status = etree.SubElement(root, "status")
    etree.SubElement(status, "value").text = STATUS_VALUES[code]
    etree.SubElement(status, "code").text = code
    etree.SubElement(status, "description").text = REASONS[code].diagnostic
    for name, field_value in list(information)[:15]:
        info = etree.SubElement(status, "information")
        etree.SubElement(info, "fieldName").text = name
        etree.SubElement(info, "fieldValue").text = str(field_value)
    if person is not None:
        xm25.file_info(root, person, query.language, country_name, members)
    return root
