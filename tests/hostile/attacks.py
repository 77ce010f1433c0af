"""The signature attacks of the hostile corpus: each starts from a request validly signed
by a registered institution and makes one change an attacker would make (XML signature
wrapping, references and transforms outside the policy, keys that are not the registered
certificate, timestamps outside the window). Each is (name, build(data, signer), code)."""
import copy
import datetime
import functools

import xmlsec
from cryptography.hazmat.primitives import serialization
from lxml import etree

from kszws.security import pki
from kszws.security.keystore import SigningIdentity, certificate_from_x509
from kszws.wire import soap
from kszws.wire.ns import DS, WSSE, WSU, q
from tests.soaptools import sign_custom

SECURITY, TIMESTAMP, SIGNATURE = q(WSSE, "Security"), q(WSU, "Timestamp"), q(DS, "Signature")
BST, WSU_ID = q(WSSE, "BinarySecurityToken"), q(WSU, "Id")
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXC_WITH_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"


@functools.lru_cache(maxsize=1)
def stranger():
    """A key with a certificate from a CA nobody registered."""
    ca_key, ca_cert = pki.make_ca("stranger CA")
    key, cert = pki.issue(ca_key, ca_cert, "stranger", "Stranger", "0999999999")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return SigningIdentity(private=key, key=xmlsec.Key.from_memory(pem, xmlsec.KeyFormat.PEM),
                           certificate=certificate_from_x509(cert),
                           algorithm=xmlsec.Transform.RSA_SHA256)


def signed(data, signer, identity=None, **kw):
    root = etree.fromstring(data)
    sign_custom(root, identity or signer.identity, **kw)
    # Parsed again: lxml's find() misses nodes that xmlsec created (their names are not
    # in the document's dictionary).
    return etree.fromstring(etree.tostring(root))


def attack(change=None, identity=None, **sign):
    """build(data, signer): sign `data` (with `sign` options), then apply `change(root)`."""
    def build(data, signer):
        root = signed(data, signer, identity() if identity else None, **sign)
        if change is not None:
            change(Parts(root))
        return etree.tostring(root)
    return build


class Parts:
    """The pieces of a signed envelope an attack moves around."""

    def __init__(self, root):
        self.root = root
        self.header = root.find(soap.HEADER)
        self.body = root.find(soap.BODY)
        self.security = self.header.find(SECURITY)
        self.timestamp = self.security.find(TIMESTAMP)
        self.signature = self.security.find(SIGNATURE)
        self.token = self.security.find(BST)
        self.signed_info = self.signature.find(q(DS, "SignedInfo"))
        self.key_info = self.signature.find(q(DS, "KeyInfo"))

    def body_reference(self):
        return self.signed_info.find("%s[@URI='#%s']" % (q(DS, "Reference"),
                                                          self.body.get(WSU_ID)))

    def add_reference(self, uri):
        ref = etree.SubElement(self.signed_info, q(DS, "Reference"), URI=uri)
        transforms = etree.SubElement(ref, q(DS, "Transforms"))
        etree.SubElement(transforms, q(DS, "Transform"),
                         Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
        etree.SubElement(ref, q(DS, "DigestMethod"),
                         Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
        etree.SubElement(ref, q(DS, "DigestValue")).text = "AAAA"

    def set_transform(self, algorithm, child=None):
        transform = self.body_reference().find("%s/%s" % (q(DS, "Transforms"), q(DS, "Transform")))
        transform.set("Algorithm", algorithm)
        if child is not None:
            transform.append(child)

    def replace_key_info(self, *children):
        for child in list(self.key_info):
            self.key_info.remove(child)
        for child in children:
            self.key_info.append(child)

    def timestamp_field(self, name):
        return self.timestamp.find(q(WSU, name))


def _last_leaf(element):
    while len(element):
        element = element[-1]
    return element


def _wrap_body(p):
    """The signed Body moved into a header wrapper; a new Body with other content."""
    wrapper = etree.SubElement(p.header, "{urn:kszws:attack}Wrapper")
    new_body = etree.Element(soap.BODY)
    for child in p.body:
        new_body.append(copy.deepcopy(child))
    _last_leaf(new_body).text = "attacker's"
    p.root.replace(p.body, new_body)
    wrapper.append(p.body)


def _duplicate_body_id(p):
    etree.SubElement(p.header, "{urn:kszws:attack}Twin", {WSU_ID: p.body.get(WSU_ID)})


def _id_on_another_element(p):
    body_id = p.body.attrib.pop(WSU_ID)
    other = etree.SubElement(p.header, "{urn:kszws:attack}Decoy", {WSU_ID: body_id})
    for child in p.body:
        other.append(copy.deepcopy(child))


def _move(part, where):
    def change(p):
        getattr(p, where).append(getattr(p, part))
    return change


def _second_security(p):
    p.header.append(etree.Element(SECURITY))


def _timestamp_in_body(p):
    soap.body_payload(p.body).append(copy.deepcopy(p.timestamp))


def _alter_body(p):
    leaf = _last_leaf(p.body)
    leaf.text = (leaf.text or "") + "0"


def _xpath_transform(p):
    xpath = etree.Element(q(DS, "XPath"))
    xpath.text = "not(ancestor-or-self::*)"
    p.set_transform(XPATH, xpath)


def _xslt_transform(p):
    style = etree.fromstring(
        '<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0">'
        '<xsl:template match="/"><xsl:copy-of select="document(\'/etc/passwd\')"/>'
        "</xsl:template></xsl:stylesheet>")
    p.set_transform(XSLT, style)


def _no_transform(p):
    ref = p.body_reference()
    ref.remove(ref.find(q(DS, "Transforms")))


def _algorithm(local, algorithm):
    def change(p):
        p.signed_info.find(q(DS, local)).set("Algorithm", algorithm)
    return change


def _key_info_element(local, text=None, **attrs):
    def change(p):
        element = etree.Element(q(DS, local), **attrs)
        element.text = text
        p.replace_key_info(element)
    return change


def _embedded_certificate(p):
    data = etree.Element(q(DS, "X509Data"))
    etree.SubElement(data, q(DS, "X509Certificate")).text = stranger().certificate.bst
    p.replace_key_info(data)


def _unknown_serial(p):
    data = etree.Element(q(DS, "X509Data"))
    serial = etree.SubElement(data, q(DS, "X509IssuerSerial"))
    etree.SubElement(serial, q(DS, "X509IssuerName")).text = "CN=kszws demo CA,O=kszws demo"
    etree.SubElement(serial, q(DS, "X509SerialNumber")).text = "1"
    p.replace_key_info(etree.Element(q(WSSE, "SecurityTokenReference")))
    p.key_info[0].append(data)


def _timestamp(name, value):
    def change(p):
        field = p.timestamp_field(name)
        if value is None:
            p.timestamp.remove(field)
        else:
            field.text = value
    return change


def _expires_before_created(p):
    created = datetime.datetime.strptime(p.timestamp_field("Created").text, "%Y-%m-%dT%H:%M:%SZ")
    p.timestamp_field("Expires").text = (created - datetime.timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _utc(*args):
    return datetime.datetime(*args, tzinfo=datetime.timezone.utc)


CLASSES = {
    "xsw-wrapping": [
        ("body-moved-into-header", attack(_wrap_body), "SEC00003"),
        ("duplicated-body-id", attack(_duplicate_body_id), "SEC00003"),
        ("id-on-another-element", attack(_id_on_another_element), "SEC00003"),
        ("timestamp-outside-security", attack(_move("timestamp", "header")), "SEC00008"),
        ("signature-outside-security", attack(_move("signature", "header")), "SEC00008"),
        ("token-outside-security", attack(_move("token", "header")), "SEC00003"),
        ("second-security-header", attack(_second_security), "SEC00008"),
        ("timestamp-copied-into-body", attack(_timestamp_in_body), "SEC00008"),
        ("body-altered-after-signing", attack(_alter_body), "SEC00002"),
    ],
    "signed-info": [
        ("extra-reference-to-token", attack(lambda p: p.add_reference(
            "#" + p.token.get(WSU_ID))), "SEC00003"),
        ("reference-to-whole-document", attack(lambda p: p.add_reference("")), "SEC00003"),
        ("reference-to-a-file", attack(lambda p: p.add_reference("file:///etc/passwd")),
         "SEC00003"),
        ("reference-to-a-url", attack(lambda p: p.add_reference("http://127.0.0.1:9/x")),
         "SEC00003"),
        ("transform-xpath", attack(_xpath_transform), "SEC00003"),
        ("transform-xslt", attack(_xslt_transform), "SEC00003"),
        ("transform-enveloped-signature", attack(lambda p: p.set_transform(ENVELOPED)),
         "SEC00003"),
        ("transform-inclusive-c14n", attack(lambda p: p.set_transform(C14N)), "SEC00003"),
        ("no-transform", attack(_no_transform), "SEC00003"),
        ("c14n-with-comments", attack(_algorithm("CanonicalizationMethod", EXC_WITH_COMMENTS)),
         "SEC00003"),
        ("signature-method-hmac", attack(_algorithm("SignatureMethod", HMAC_SHA1)), "SEC00003"),
        ("signature-method-rsa-sha1", attack(method=xmlsec.Transform.RSA_SHA1), "SEC00003"),
        ("digest-sha1", attack(digest=xmlsec.Transform.SHA1), "SEC00003"),
    ],
    "key-info": [
        ("unregistered-certificate", attack(identity=stranger), "SEC00004"),
        ("unregistered-ski", attack(identity=stranger, key_info="ski"), "SEC00004"),
        ("unknown-issuer-serial", attack(_unknown_serial), "SEC00004"),
        ("embedded-x509-certificate", attack(_embedded_certificate), "SEC00003"),
        ("retrieval-method", attack(_key_info_element(
            "RetrievalMethod", URI="file:///etc/passwd")), "SEC00003"),
        ("key-name", attack(_key_info_element("KeyName", "cpas-eupen")), "SEC00003"),
        ("key-value", attack(_key_info_element("KeyValue", "AAAA")), "SEC00003"),
    ],
    "timestamps": [
        ("far-in-the-past", attack(when=_utc(2000, 1, 1)), "SEC00006"),
        ("far-in-the-future", attack(when=_utc(2100, 1, 1)), "SEC00006"),
        ("one-day-window", attack(ttl=86400), "SEC00006"),
        ("expires-before-created", attack(_expires_before_created), "SEC00006"),
        ("malformed-created", attack(_timestamp("Created", "yesterday")), "SEC00006"),
        ("no-time-zone", attack(_timestamp("Created", "2026-11-30T12:00:00")), "SEC00006"),
        ("missing-expires", attack(_timestamp("Expires", None)), "SEC00006"),
        ("year-overflow", attack(_timestamp("Expires", "99999-01-01T00:00:00Z")), "SEC00006"),
    ],
}
