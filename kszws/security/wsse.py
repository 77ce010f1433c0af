"""WS-Security 1.1, X.509 token profile: signing, and verification under a strict policy.

One implementation serves both directions: the hub verifies requests and signs replies and
faults with it; kszws's zeep plugin (zeep_wsse.py) signs requests and verifies replies
with it. This module decides WHAT must be signed, which zeep's built-in plugin never
checks, and does the XML-DSig arithmetic itself: exclusive C14N by lxml (libxml2's
xmlC14N, the code xmlsec calls for it), digests by hashlib, RSA and ECDSA by
`cryptography`. xmlsec's SignatureContext.verify did the same work in ~280 us a request
(its transform chain and node sets), against ~70 us here, and its bundled OpenSSL signs
at half the speed of cryptography's. The tests check the signatures kszws makes with
xmlsec (tests/test_security_units.py) and, end to end, with signxml; and kszws's
verification against signatures made by xmlsec (with InclusiveNamespaces as WSS4J writes
them: tests/test_wsse_policy.py) and by WSS4J itself (tests/test_java_peer.py).

The policy (everything else is refused):
- exactly one wsse:Security header, one wsu:Timestamp (inside it) and one ds:Signature;
- the signature has exactly two references, by unique wsu:Id: the SOAP Body of the
  envelope and that Timestamp (an Id found twice anywhere is a wrapping attempt);
- exclusive C14N (with an InclusiveNamespaces PrefixList, as WSS4J sends), RSA-SHA256/384/
  512 or ECDSA-SHA256/384/512, SHA-256/384/512 digests; no other transform;
- the key is a registered certificate (BinarySecurityToken, issuer + serial, or SKI),
  within its validity;
- the Timestamp has Created and Expires, is fresh within the clock skew and not longer
  than the maximum window.
"""
import base64
import binascii
import datetime
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import xmlsec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)
from lxml import etree

from kszws.wire import soap
from kszws.wire.newstyle import xsd_datetime
from kszws.wire.ns import BASE64, DS, SOAP11, WSSE, WSU, X509V3, q
from kszws.wire.reasons import Refusal

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
# What each SignatureMethod verifies with: the key's kind and the hash.
SIGNATURE_HASHES = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": (rsa.RSAPublicKey, hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": (rsa.RSAPublicKey, hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": (rsa.RSAPublicKey, hashes.SHA512),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": (ec.EllipticCurvePublicKey,
                                                            hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": (ec.EllipticCurvePublicKey,
                                                            hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": (ec.EllipticCurvePublicKey,
                                                            hashes.SHA512),
}
DIGEST_METHODS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": hashlib.sha256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashlib.sha384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashlib.sha512,
}
INCLUSIVE_NAMESPACES = "{%s}InclusiveNamespaces" % EXC_C14N
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
    prefixes = inclusive_prefixes(_check_algorithm(signed_info, "CanonicalizationMethod",
                                                   {EXC_C14N: None}))
    method = _check_algorithm(signed_info, "SignatureMethod", SIGNATURE_HASHES).get(
        "Algorithm")
    ids = _id_index(root)
    references = _check_references(ids, signed_info, {body, timestamp})
    replay_until = _check_timestamp(timestamp, policy, now)
    principal, certificate = _signing_certificate(ids, signature, security, trust)
    if not certificate.valid_at(now):
        raise Refusal("SEC00005", "certificate %s valid %s..%s" % (
            certificate.subject, certificate.not_before.isoformat(), certificate.not_after.isoformat()))
    for target, digest, prefix_list, value in references:
        if not hmac.compare_digest(digest(exc_c14n(target, prefix_list)).digest(), value):
            raise Refusal("SEC00002")
    canonical = exc_c14n(signed_info, prefixes)
    check_signature_value(certificate, method, canonical,
                          b64decode(signature.findtext(q(DS, "SignatureValue"))))
    # The replay token is what was signed (the canonical SignedInfo, which holds the digests
    # of the Body and the Timestamp), not the signature value: an ECDSA signature (r, s)
    # has a twin (r, n - s) that verifies as well, and base64 may be spelt with line breaks.
    token = hashlib.sha256(canonical).hexdigest()
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
    """The one `local` child of `parent` (a ds: element), its Algorithm one of `allowed`."""
    element = _child(parent, q(DS, local))
    if element.get("Algorithm") not in allowed:
        raise Refusal("SEC00003", "%s %s is refused" % (local, element.get("Algorithm")))
    return element


def inclusive_prefixes(c14n):
    """The InclusiveNamespaces PrefixList of an exclusive C14N element (a Transform or the
    CanonicalizationMethod; WSS4J sends one), as lxml takes it ("#default" is the
    default namespace); None without one. Any other child is refused: nothing but the
    prefix list may change what exclusive C14N produces."""
    children = [child for child in c14n if isinstance(child.tag, str)]
    if not children:
        return None
    if len(children) != 1 or children[0].tag != INCLUSIVE_NAMESPACES:
        raise Refusal("SEC00003", "%s takes only one InclusiveNamespaces"
                      % etree.QName(c14n).localname)
    return [p if p != "#default" else None
            for p in (children[0].get("PrefixList") or "").split()]


def exc_c14n(element, prefixes=None):
    """The exclusive C14N (without comments) of `element`'s subtree."""
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False,
                          inclusive_ns_prefixes=prefixes)


def check_signature_value(certificate, method, data, value):
    """Raise SEC00002 unless `value` is the SignatureMethod `method`'s signature of `data`
    by `certificate`'s key (ECDSA as XML-DSig writes it: r || s)."""
    kind, hash_ = SIGNATURE_HASHES[method]
    key = certificate.public_key
    if not isinstance(key, kind):
        raise Refusal("SEC00003", "SignatureMethod %s does not fit the certificate's key"
                      % method)
    try:
        if kind is rsa.RSAPublicKey:
            key.verify(value, data, padding.PKCS1v15(), hash_())
        else:
            size = (key.curve.key_size + 7) // 8
            if len(value) != 2 * size:
                raise InvalidSignature
            r, s = int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_()))
    except InvalidSignature:
        raise Refusal("SEC00002") from None


def _check_references(ids, signed_info, expected):
    """[(target element, hash constructor, InclusiveNamespaces prefixes, digest value)] of
    the two references, which must be the Body and the Timestamp (`expected`)."""
    refs = signed_info.findall(q(DS, "Reference"))
    covered, references = set(), []
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
        transforms = ref.findall("%s/%s" % (q(DS, "Transforms"), q(DS, "Transform")))
        if [t.get("Algorithm") for t in transforms] != [EXC_C14N]:
            raise Refusal("SEC00003", "reference %s: transforms %s refused (exclusive C14N "
                          "only)" % (uri, [t.get("Algorithm") for t in transforms]))
        digest = DIGEST_METHODS[_check_algorithm(ref, "DigestMethod", DIGEST_METHODS)
                                .get("Algorithm")]
        references.append((target, digest, inclusive_prefixes(transforms[0]),
                           b64decode(_child(ref, q(DS, "DigestValue")).text)))
        covered.add(target)
    if len(refs) != 2 or covered != expected:
        raise Refusal("SEC00003", "the signature must cover exactly the Body and the Timestamp")
    return references


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
        entry = trust.by_der(b64decode(tokens[0].text, "the key reference"))
    elif str_ is not None and str_.find(q(WSSE, "KeyIdentifier")) is not None:
        ki = str_.find(q(WSSE, "KeyIdentifier"))
        if ki.get("ValueType") != SKI_VALUE_TYPE:
            raise Refusal("SEC00003", "KeyIdentifier type %s refused" % ki.get("ValueType"))
        entry = trust.by_ski(b64decode(ki.text, "the key reference"))
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


def b64decode(text, what="the signature"):
    """Base64 as XML-DSig and WSS write it (line breaks and spaces allowed), or SEC00003."""
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise Refusal("SEC00003", "malformed base64 in %s" % what) from None




RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_IDENTITY = xmlsec.Transform.RSA_SHA256  # keystore.SigningIdentity.algorithm of an RSA key
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def sign(root, identity, now, ttl, must_understand=False):
    """Add a Security header with a BinarySecurityToken and a Timestamp, and sign the Body
    and the Timestamp (exclusive C14N, SHA-256, RSA-SHA256 or ECDSA-SHA256). `root` is an
    Envelope element; changed in place.

    Signing is assembled here from lxml's exclusive C14N (libxml2's, the one xmlsec uses)
    and `cryptography`'s RSA/ECDSA, not with xmlsec.SignatureContext.sign: the RSA-2048
    signature alone costs 440 us in the OpenSSL bundled with the xmlsec wheel against
    250 us in cryptography's, on every reply. The header is written as text and parsed
    once (security_header): the Timestamp and the SignedInfo are written in their
    canonical form, so that they need no C14N, and twenty elements need no building (the
    two cost ~100 us a reply). The tests check every hub signature with xmlsec and with
    signxml."""
    header = root.find(soap.HEADER)
    if header is None:
        header = etree.Element(soap.HEADER)
        root.insert(0, header)
    body = root.find(soap.BODY)
    suffix = secrets.token_hex(8)
    body_id = body.get(WSU_ID) or "Body-" + suffix
    body.set(WSU_ID, body_id)
    header.append(etree.fromstring(security_header(
        exc_c14n(body), body_id, identity, now, ttl, suffix, must_understand)))
    return root


# The Timestamp and the SignedInfo as exclusive C14N writes them (namespace declaration,
# then attributes; no empty-element tags): their digest and signature are computed over
# these very bytes. tests/test_security_units.py compares them with lxml's C14N.
_TIMESTAMP = ('<wsu:Timestamp xmlns:wsu="%s" wsu:Id="TS-{suffix}"><wsu:Created>{created}'
              '</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>' % WSU)
_REFERENCE = ('<ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="%s">'
              '</ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="%s"></ds:DigestMethod>'
              '<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>' % (EXC_C14N, SHA256))
_SIGNED_INFO = ('<ds:SignedInfo xmlns:ds="%s"><ds:CanonicalizationMethod Algorithm="%s">'
                '</ds:CanonicalizationMethod><ds:SignatureMethod Algorithm="{method}">'
                '</ds:SignatureMethod>{references}</ds:SignedInfo>' % (DS, EXC_C14N))
_SECURITY = ('<wsse:Security xmlns:wsse="%s" xmlns:wsu="%s"{must_understand}>'
             '<wsse:BinarySecurityToken EncodingType="%s" ValueType="%s" wsu:Id="X509-{suffix}">'
             '{token}</wsse:BinarySecurityToken>{timestamp}<ds:Signature xmlns:ds="%s">'
             '{signed_info}<ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo>'
             '<wsse:SecurityTokenReference><wsse:Reference URI="#X509-{suffix}" ValueType="%s"/>'
             '</wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature></wsse:Security>'
             % (WSSE, WSU, BASE64, X509V3, DS, X509V3))
_MUST_UNDERSTAND = ' xmlns:soapenv="%s" soapenv:mustUnderstand="1"' % SOAP11


def security_header(body_c14n, body_id, identity, now, ttl, suffix, must_understand=False):
    """The wsse:Security header, as text, that signs a Body whose exclusive C14N is
    `body_c14n` and whose wsu:Id is `body_id`; `suffix` makes the other ids unique."""
    timestamp = _TIMESTAMP.format(suffix=suffix, created=xsd_datetime(now),
                                  expires=xsd_datetime(now + ttl))
    references = "".join(_REFERENCE.format(id=_c14n_attribute(target_id),
                                           digest=_b64e(hashlib.sha256(data).digest()))
                         for target_id, data in ((body_id, body_c14n),
                                                 ("TS-" + suffix, timestamp.encode())))
    is_rsa = identity.algorithm == RSA_IDENTITY
    signed_info = _SIGNED_INFO.format(method=RSA_SHA256 if is_rsa else ECDSA_SHA256,
                                      references=references)
    value = _b64e(_sign_bytes(identity.private, is_rsa, signed_info.encode()))
    return _SECURITY.format(must_understand=_MUST_UNDERSTAND if must_understand else "",
                            suffix=suffix, token=identity.certificate.bst,
                            timestamp=timestamp, signed_info=signed_info, value=value)


def _c14n_attribute(value):
    """An attribute value as C14N escapes it (a wsu:Id of the caller's Body may hold any
    character)."""
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\t", "&#x9;").replace("\n", "&#xA;").replace("\r", "&#xD;"))


def _b64e(data):
    return base64.b64encode(data).decode("ascii")


def _sign_bytes(private, is_rsa, data):
    if is_rsa:
        return private.sign(data, padding.PKCS1v15(), hashes.SHA256())
    # XML-DSig wants ECDSA signatures as r || s, not DER (RFC 4050 / xmldsig-more).
    r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
    size = (private.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")
