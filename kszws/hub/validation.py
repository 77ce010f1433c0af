"""Validation of messages against the published contracts (wsdl/ and xsd/).

The hub validates every request payload before acting on it, and `kszws validate FILE`
runs the same check for senders before they send (seed §3.2: quality-check software).
"""
from pathlib import Path

from lxml import etree

from kszws.wire import soap, ssdn
from kszws.wire.ns import q

XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"


class SchemaCatalogue:
    """Global element (Clark name) -> compiled schema, from WSDL inline schemas and XSD files."""

    def __init__(self):
        self._schemas = {}

    @classmethod
    def from_files(cls, wsdl_files=(), xsd_files=()):
        catalogue = cls()
        for path in wsdl_files:
            for schema in etree.parse(str(path)).getroot().iter(q(XSD, "schema")):
                catalogue._add(_standalone(schema), path)
        for path in xsd_files:
            catalogue._add(etree.parse(str(path)).getroot(), path)
        return catalogue

    def _add(self, schema_root, path):
        tns = schema_root.get("targetNamespace")
        names = [q(tns, e.get("name")) if tns else e.get("name")
                 for e in schema_root.findall(q(XSD, "element"))]
        if not names:
            return
        # Re-parse with the file's URL as base so relative schemaLocations resolve.
        doc = etree.fromstring(etree.tostring(schema_root), base_url=Path(path).resolve().as_uri())
        compiled = etree.XMLSchema(doc)
        for name in names:
            self._schemas[name] = compiled

    def elements(self):
        return sorted(self._schemas)

    def knows(self, tag):
        return tag in self._schemas

    def validate(self, element):
        """List of problems ("line N: message"); empty when valid. Unknown element: one problem."""
        schema = self._schemas.get(element.tag)
        if schema is None:
            return ["no published schema declares the element %s" % element.tag]
        if schema.validate(element):
            return []
        return ["line %d: %s" % (e.line, e.message) for e in schema.error_log][:15]


def _standalone(schema):
    """A WSDL's inline xsd:schema as its own document, keeping the namespace declarations
    it inherits from wsdl:definitions (QName values such as type="tns:X" need them)."""
    nsmap = {}
    for ancestor in reversed(list(schema.iterancestors())):
        nsmap.update(ancestor.nsmap)
    nsmap.update(schema.nsmap)
    copy = etree.Element(schema.tag, dict(schema.attrib), nsmap=nsmap)
    for child in schema:
        copy.append(etree.fromstring(etree.tostring(child)))
    return copy


def payload_of(document):
    """The element to validate: the Body payload of a SOAP envelope, or the document itself."""
    if document.tag == soap.ENVELOPE:
        _, body = soap.split_envelope(document)
        return soap.body_payload(body)
    return document


def check_message(catalogue, document, parse):
    """(element checked, problems) for a message as a sender would send it: a SOAP
    envelope, its payload, a classic sendXML whose xmlString holds an SSDNRequest, or an
    SSDNRequest, whose every ServiceRequest body is checked against its own schema.
    `parse` is the hardened parser (bytes -> element)."""
    element = payload_of(document)
    if element.tag == q(ssdn.CONNECTOR, "xmlString"):
        element = parse((element.text or "").strip().encode("utf-8"))
    problems = catalogue.validate(element)
    if not problems and element.tag == ssdn.s("SSDNRequest"):
        for request in element.iterfind(ssdn.s("ServiceRequest")):
            for body in request:
                if isinstance(body.tag, str) and etree.QName(body).namespace != ssdn.SERVICE:
                    problems += ["%s: %s" % (etree.QName(body).localname, p)
                                 for p in catalogue.validate(body)]
    return element, problems

