"""SOAP 1.1 envelopes: taking them apart strictly and building faults."""
from lxml import etree

from kszws.wire.ns import SOAP11, q
from kszws.wire.reasons import Refusal

ENVELOPE = q(SOAP11, "Envelope")
HEADER = q(SOAP11, "Header")
BODY = q(SOAP11, "Body")
FAULT = q(SOAP11, "Fault")
MUST_UNDERSTAND = q(SOAP11, "mustUnderstand")


def split_envelope(root):
    """Return (header or None, body) of a SOAP 1.1 envelope; refuse anything else.

    Exactly one Body and at most one Header, as direct children, Header first: a second
    Body is the classic vehicle of signature-wrapping attacks.
    """
    if root.tag != ENVELOPE:
        name = etree.QName(root)
        if name.localname == "Envelope" and name.namespace:
            # SOAP 1.1 §4.4.1: an Envelope in another namespace (SOAP 1.2's, typically).
            raise Refusal("SOAP0004", "Envelope in namespace %s" % name.namespace[:100])
        raise Refusal("SOAP0001", "root element is %s" % _name(root.tag))
    headers = [c for c in root if c.tag == HEADER]
    bodies = [c for c in root if c.tag == BODY]
    others = [c for c in root if isinstance(c.tag, str) and c.tag not in (HEADER, BODY)]
    if len(bodies) != 1 or len(headers) > 1 or others:
        raise Refusal("SOAP0001", "expected one Body and at most one Header")
    body = bodies[0]
    header = headers[0] if headers else None
    if header is not None and root.index(header) > root.index(body):
        raise Refusal("SOAP0001", "Header after Body")
    return header, body


def body_payload(body):
    """The single element inside the Body (document/literal)."""
    children = [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise Refusal("SOAP0001", "the Body must hold exactly one element")
    return children[0]


def must_understand(header_block):
    return header_block.get(MUST_UNDERSTAND) in ("1", "true")


def envelope(payload=None):
    """A new Envelope with an empty Header and a Body holding `payload`."""
    env = etree.Element(ENVELOPE, nsmap={"soapenv": SOAP11})
    etree.SubElement(env, HEADER)
    body = etree.SubElement(env, BODY)
    if payload is not None:
        body.append(payload)
    return env


def fault(fault_code, fault_string, detail=None):
    """A SOAP 1.1 Fault envelope. `fault_code` is a local name in the SOAP namespace
    (Client, Server, MustUnderstand), `detail` an element or None."""
    elt = etree.Element(FAULT)
    etree.SubElement(elt, "faultcode").text = "soapenv:" + fault_code
    etree.SubElement(elt, "faultstring").text = fault_string
    if detail is not None:
        etree.SubElement(elt, "detail").append(detail)
    return envelope(elt)


def serialize(env):
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def _name(tag):
    return tag if isinstance(tag, str) else "a non-element node"
