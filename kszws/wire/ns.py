"""XML namespaces of the wire formats (one table, imported everywhere)."""

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DS = "http://www.w3.org/2000/09/xmldsig#"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

# CBSS "new style" (CONTRACTS.md §1B)
CBSS_COMMON_V3 = "http://kszbcss.fgov.be/types/common/v3"
TEST_CONNECTION_INTF = "http://kszbcss.fgov.be/intf/TestConnectionServiceService/v1"
TEST_CONNECTION_TYPES = "http://kszbcss.fgov.be/types/TestConnectionService/v1"

# kszws's own: faults of the hub itself (no endpoint at the path), CBSSFaultType.
KSZWS_HUB = "urn:kszws:hub:v1"


def q(ns, local):
    """Clark notation: {ns}local."""
    return "{%s}%s" % (ns, local)

# AS4 / ebMS 3.0 (the EESSI access point, kszws/eessi/): SOAP 1.2, the ebMS core and its
# multi-hop extension, ebBP signals (non-repudiation receipts), WS-Addressing.
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
EB = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
EBBP = "http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0"
MH = "http://docs.oasis-open.org/ebxml-msg/ns/ebms/v3.0/multihop/200902/"
WSA = "http://www.w3.org/2005/08/addressing"
EESSI_SBDH = "http://eessi.dgempl.ec.europa.eu/namespaces/sbdh"
