"""TestConnectionService v1 messages (CONTRACTS.md §5; wsdl/TestConnectionService.wsdl)."""
from lxml import etree

from kszws.wire import newstyle
from kszws.wire.ns import TEST_CONNECTION_INTF as INTF
from kszws.wire.ns import q

RESPONSE = q(INTF, "sendTestMessageResponse")
FAULT = q(INTF, "sendTestMessageFault")


def response(ticket, received, replied, echo, certificate_subject):
    """sendTestMessageResponse(informationCBSS, echo, sslCertificate)."""
    elt = etree.Element(RESPONSE, nsmap={"tns": INTF})
    newstyle.information_cbss(elt, ticket, received, replied)
    etree.SubElement(elt, "echo").text = echo
    etree.SubElement(elt, "sslCertificate").text = certificate_subject
    return elt
