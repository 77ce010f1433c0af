"""WS-Security 1.1, X.509 token profile: signing, and verification under a strict policy.

One implementation serves both directions: the hub verifies requests and signs replies and
faults with it; kszws's zeep plugin (zeep_wsse.py) signs requests and verifies replies
with it. xmlsec does the cryptography; this module decides WHAT must be signed, which
zeep's built-in plugin never checks.

The policy (everything else is refused):
- exactly one wsse:Security header, one wsu:Timestamp (inside it) and one ds:Signature;
- the signature has exactly two references, by unique wsu:Id: the SOAP Body of the
  envelope and that Timestamp (an Id found twice anywhere is a wrapping attempt);
- exclusive C14N, RSA-SHA256/384/512 or ECDSA-SHA256/384/512, SHA-256/384/512 digests;
- the key is a registered certificate (BinarySecurityToken, issuer + serial, or SKI),
  within its validity;
- the Timestamp has Created and Expires, is fresh within the clock skew and not longer
  than the maximum window.
"""
import base64
import binascii
import datetime
import hashlib
import secrets
from dataclasses import dataclass

import xmlsec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from kszws.wire import soap
from kszws.wire.newstyle import xsd_datetime
from kszws.wire.ns import BASE64, DS, SOAP11, WSSE, WSU, X509V3, q
from kszws.wire.reasons import Refusal

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SIGNATURE_METHODS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": xmlsec.Transform.RSA_SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": xmlsec.Transform.RSA_SHA384,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": xmlsec.Transform.RSA_SHA512,
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": xmlsec.Transform.ECDSA_SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": xmlsec.Transform.ECDSA_SHA384,
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": xmlsec.Transform.ECDSA_SHA512,
}
DIGEST_METHODS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": xmlsec.Transform.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": xmlsec.Transform.SHA384,
    "http://www.w3.org/2001/04/xmlenc#sha512": xmlsec.Transform.SHA512,
}
SKI_VALUE_TYPE = ("http://docs.oasis-open.org/wss/2004/01/"
                  "oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier")

SECURITY = q(WSSE, "Security")
TIMESTAMP = q(WSU, "Timestamp")
SIGNATURE = q(DS, "Signature")
BST = q(WSSE, "BinarySecurityToken")
STR = q(WSSE, "SecurityTokenReference")
WSU_ID = q(WSU, "Id")

# Every attribute an XML-DSig implementation might resolve a "#id" reference against. One
# query each: libxml2 merges the node sets of a union (a | b) in time quadratic in their
# sizes, which 40,000 Id attributes turned into ten seconds of one worker.
_ID_ATTRIBUTES = [etree.XPath(path, namespaces={"wsu": WSU,
                                                "xml": "http://www.w3.org/XML/1998/namespace"})
                  for path in ("//@wsu:Id", "//@Id", "//@ID", "//@xml:id")]


def _id_index(root):
    """id value -> the elements carrying it (under any of the id attributes)."""
    index = {}
    for query in _ID_ATTRIBUTES:
        for value in query(root):
            index.setdefault(str(value), []).append(value.getparent())
    return index


@dataclass(frozen=True)
class Policy:
    skew: datetime.timedelta = datetime.timedelta(minutes=5)
    max_ttl: datetime.timedelta = datetime.timedelta(minutes=15)


@dataclass(frozen=True)
class Verified:
    principal: object  # what the trust store registered the certificate for
    certificate: object  # keystore.Certificate
    replay_token: str  # SHA-256 of the signature value
    replay_until: datetime.datetime  # until when a replay could still pass the Timestamp check


def security_headers(root):
    """Every wsse:Security element in the document (there must be at most one)."""
    return list(root.iter(SECURITY))


def verify(root, header, body, policy, trust, now):
    """Verify the one signature of a parsed envelope; return Verified or raise Refusal."""
    security = _the_security_header(root, header)
    timestamp = _the_one(root, TIMESTAMP, security, "Timestamp")
    signature = _the_one(root, SIGNATURE, security, "Signature")
    signed_info = _child(signature, q(DS, "SignedInfo"))
    _check_algorithm(signed_info, "CanonicalizationMethod", {EXC_C14N: None})
    method = _check_algorithm(signed_info, "SignatureMethod", SIGNATURE_METHODS)
    ids = _id_index(root)
    digests = _check_references(ids, signed_info, {body, timestamp})
    replay_until = _check_timestamp(timestamp, policy, now)
    principal, certificate = _signing_certificate(ids, signature, security, trust)
    if not certificate.valid_at(now):
        raise Refusal("SEC00005", "certificate %s valid %s..%s" % (
            certificate.subject, certificate.not_before.isoformat(), certificate.not_after.isoformat()))

    ctx = xmlsec.SignatureContext()
    ctx.key = certificate.public_key
    # Defence in depth: xmlsec itself may apply only the algorithms checked above.
    for transform in (xmlsec.Transform.EXCL_C14N, *{DIGEST_METHODS[d] for d in digests}):
        ctx.enable_reference_transform(transform)
    ctx.enable_signature_transform(xmlsec.Transform.EXCL_C14N)
    ctx.enable_signature_transform(SIGNATURE_METHODS[method])
    ctx.register_id(body, "Id", WSU)
    ctx.register_id(timestamp, "Id", WSU)
    try:
        ctx.verify(signature)
    except xmlsec.Error:
        raise Refusal("SEC00002") from None
    # The replay token is what was signed (the canonical SignedInfo, which holds the digests
    # of the Body and the Timestamp), not the signature value: an ECDSA signature (r, s)
    # has a twin (r, n - s) that verifies as well, and base64 may be spelt with line breaks.
    token = hashlib.sha256(_exc_c14n(signed_info)).hexdigest()
    return Verified(principal, certificate, token, replay_until)


def _the_security_header(root, header):
    found = security_headers(root)
    if len(found) != 1 or header is None or found[0].getparent() is not header:
        raise Refusal("SEC00008", "expected exactly one wsse:Security header, found %d"
                      % len(found))
    return found[0]


def _the_one(root, tag, parent, what):
    found = list(root.iter(tag))
    if len(found) != 1 or found[0].getparent() is not parent:
        raise Refusal("SEC00008", "expected exactly one %s in the Security header, found %d in the "
                      "message" % (what, len(found)))
    return found[0]


def _child(parent, tag):
    found = parent.findall(tag)
    if len(found) != 1:
        raise Refusal("SEC00003", "expected one %s" % etree.QName(tag).localname)
    return found[0]


def _check_algorithm(parent, local, allowed):
    algorithm = _child(parent, q(DS, local)).get("Algorithm")
    if algorithm not in allowed:
        raise Refusal("SEC00003", "%s %s is refused" % (local, algorithm))
    return algorithm


def _check_references(ids, signed_info, expected):
    refs = signed_info.findall(q(DS, "Reference"))
    covered, digests = set(), []
    for ref in refs:
        uri = ref.get("URI") or ""
        if not uri.startswith("#") or len(uri) < 2:
            raise Refusal("SEC00003", "reference %r is not a same-document #id" % uri)
        targets = ids.get(uri[1:], [])
        if len(targets) != 1:
            raise Refusal("SEC00003", "reference %s matches %d elements (wrapping)"
                          % (uri, len(targets)))
        target = targets[0]
        if target.get(WSU_ID) != uri[1:] or target not in expected:
            raise Refusal("SEC00003", "reference %s is not the wsu:Id of the Body or the "
                          "Timestamp" % uri)
        transforms = [t.get("Algorithm") for t in ref.iterfind("%s/%s" % (
            q(DS, "Transforms"), q(DS, "Transform")))]
        if transforms != [EXC_C14N]:
            raise Refusal("SEC00003", "reference %s: transforms %s refused (exclusive C14N "
                          "only)" % (uri, transforms))
        digests.append(_check_algorithm(ref, "DigestMethod", DIGEST_METHODS))
        covered.add(target)
    if len(refs) != 2 or covered != expected:
        raise Refusal("SEC00003", "the signature must cover exactly the Body and the Timestamp")
    return digests


def parse_xsd_datetime(text):
    value = datetime.datetime.fromisoformat((text or "").strip())
    if value.tzinfo is None:
        raise ValueError("no time zone")
    return value


def _check_timestamp(timestamp, policy, now):
    try:
        created = parse_xsd_datetime(_child(timestamp, q(WSU, "Created")).text)
        expires = parse_xsd_datetime(_child(timestamp, q(WSU, "Expires")).text)
    except (Refusal, ValueError) as exc:
        raise Refusal("SEC00006", "Timestamp needs Created and Expires as UTC dateTimes (%s)"
                      % getattr(exc, "detail", exc)) from None
    if created > now + policy.skew:
        raise Refusal("SEC00006", "Timestamp created in the future")
    if expires < now - policy.skew:
        raise Refusal("SEC00006", "Timestamp expired at %s" % expires.isoformat())
    if expires <= created:
        raise Refusal("SEC00006", "Timestamp expires before it is created")
    if expires - created > policy.max_ttl:
        raise Refusal("SEC00006", "Timestamp window longer than %ds" % policy.max_ttl.total_seconds())
    return expires + policy.skew


def _signing_certificate(ids, signature, security, trust):
    key_info = _child(signature, q(DS, "KeyInfo"))
    str_ = key_info.find(STR)
    entry = None
    if str_ is not None and str_.find(q(WSSE, "Reference")) is not None:
        uri = str_.find(q(WSSE, "Reference")).get("URI") or ""
        tokens = ids.get(uri[1:], []) if uri.startswith("#") else []
        if len(tokens) != 1 or tokens[0].tag != BST or tokens[0].getparent() is not security:
            raise Refusal("SEC00003", "the key reference %r is not one BinarySecurityToken "
                          "of the Security header" % uri)
        if tokens[0].get("ValueType") not in (X509V3, None):
            raise Refusal("SEC00003", "BinarySecurityToken is not an X509v3 certificate")
        entry = trust.by_der(_b64(tokens[0].text))
    elif str_ is not None and str_.find(q(WSSE, "KeyIdentifier")) is not None:
        ki = str_.find(q(WSSE, "KeyIdentifier"))
        if ki.get("ValueType") != SKI_VALUE_TYPE:
            raise Refusal("SEC00003", "KeyIdentifier type %s refused" % ki.get("ValueType"))
        entry = trust.by_ski(_b64(ki.text))
    else:
        serial = key_info.find(".//%s" % q(DS, "X509IssuerSerial"))
        if serial is None:
            raise Refusal("SEC00003", "KeyInfo names no certificate (BinarySecurityToken "
                          "reference, SKI or issuer + serial expected)")
        try:
            entry = trust.by_issuer_serial(serial.findtext(q(DS, "X509IssuerName")) or "",
                                           int(serial.findtext(q(DS, "X509SerialNumber"))))
        except (TypeError, ValueError):
            raise Refusal("SEC00003", "X509IssuerSerial is malformed") from None
    if entry is None:
        raise Refusal("SEC00004")
    return entry


def _b64(text):
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise Refusal("SEC00003", "malformed base64 in the key reference") from None




RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def sign(root, identity, now, ttl, must_understand=False):
    """Add a Security header with a BinarySecurityToken and a Timestamp, and sign the Body
    and the Timestamp (exclusive C14N, SHA-256, RSA-SHA256 or ECDSA-SHA256). `root` is an
    Envelope element; changed in place.

    Signing is assembled here from lxml's exclusive C14N (libxml2's, the one xmlsec uses)
    and `cryptography`'s RSA/ECDSA, not with xmlsec.SignatureContext.sign: the RSA-2048
    signature alone costs 440 us in the OpenSSL bundled with the xmlsec wheel against
    250 us in cryptography's, on every reply. Verification stays with xmlsec (verify());
    a mistake here can only produce signatures that fail it, which the tests would see
    (they check every hub signature with xmlsec and with signxml)."""
    header = root.find(soap.HEADER)
    if header is None:
        header = etree.Element(soap.HEADER)
        root.insert(0, header)
    body = root.find(soap.BODY)
    security = etree.SubElement(header, SECURITY, nsmap={"wsse": WSSE, "wsu": WSU})
    if must_understand:
        security.set(q(SOAP11, "mustUnderstand"), "1")
    suffix = secrets.token_hex(8)
    token = etree.SubElement(security, BST, {"EncodingType": BASE64, "ValueType": X509V3,
                                             WSU_ID: "X509-" + suffix})
    token.text = identity.certificate.bst
    timestamp = etree.SubElement(security, TIMESTAMP, {WSU_ID: "TS-" + suffix})
    etree.SubElement(timestamp, q(WSU, "Created")).text = xsd_datetime(now)
    etree.SubElement(timestamp, q(WSU, "Expires")).text = xsd_datetime(now + ttl)
    body_id = body.get(WSU_ID) or "Body-" + suffix
    body.set(WSU_ID, body_id)

    signature = etree.SubElement(security, SIGNATURE, nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, q(DS, "SignedInfo"))
    etree.SubElement(signed_info, q(DS, "CanonicalizationMethod"), Algorithm=EXC_C14N)
    is_rsa = identity.algorithm == xmlsec.Transform.RSA_SHA256
    etree.SubElement(signed_info, q(DS, "SignatureMethod"),
                     Algorithm=RSA_SHA256 if is_rsa else ECDSA_SHA256)
    for target, target_id in ((body, body_id), (timestamp, "TS-" + suffix)):
        ref = etree.SubElement(signed_info, q(DS, "Reference"), URI="#" + target_id)
        transforms = etree.SubElement(ref, q(DS, "Transforms"))
        etree.SubElement(transforms, q(DS, "Transform"), Algorithm=EXC_C14N)
        etree.SubElement(ref, q(DS, "DigestMethod"), Algorithm=SHA256)
        etree.SubElement(ref, q(DS, "DigestValue")).text = _b64e(
            hashlib.sha256(_exc_c14n(target)).digest())
    value = etree.SubElement(signature, q(DS, "SignatureValue"))
    key_info = etree.SubElement(signature, q(DS, "KeyInfo"))
    reference = etree.SubElement(etree.SubElement(key_info, STR), q(WSSE, "Reference"))
    reference.set("URI", "#X509-" + suffix)
    reference.set("ValueType", X509V3)
    value.text = _b64e(_sign_bytes(identity.private, is_rsa, _exc_c14n(signed_info)))
    return root


def _exc_c14n(element):
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _b64e(data):
    return base64.b64encode(data).decode("ascii")


def _sign_bytes(private, is_rsa, data):
    if is_rsa:
        return private.sign(data, padding.PKCS1v15(), hashes.SHA256())
    # XML-DSig wants ECDSA signatures as r || s, not DER (RFC 4050 / xmldsig-more).
    r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
    size = (private.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")
