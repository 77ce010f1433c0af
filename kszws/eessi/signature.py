"""The AS4 signature of EESSI's P-Modes: one WS-Security signature (exclusive C14N,
RSA-SHA256, SHA-256 digests, a BinarySecurityToken reference) covering eb:Messaging, the
(empty) SOAP 1.2 Body and every attachment, the attachments through the SwA profile's
Attachment-Content-Signature-Transform (the digest of the part's content octets).

The XML-DSig arithmetic is wsse.py's (exclusive C14N, digests, the signature over the
canonical SignedInfo); what this module adds are the `cid:` references, whose digests it
computes over the attachments. The policy is the one wsse.py applies to SOAP 1.1 (one
Security header, one Signature, unique ids, known signer within its validity); what it
adds is which parts must be covered. EESSI's signals carry no wsu:Timestamp; when one is
present it must be signed and fresh."""
import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from lxml import etree

from kszws.eessi.ebms import BODY, HEADER, MESSAGING
from kszws.eessi.errors import EbmsError
from kszws.security import wsse
from kszws.wire.ns import BASE64, DS, WSSE, WSU, X509V3, q
from kszws.wire.reasons import Refusal

EXC_C14N = wsse.EXC_C14N
ATTACHMENT_CONTENT = ("http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1"
                      "#Attachment-Content-Signature-Transform")
# wsse.py's reasons, as the ebMS errors an AS4 peer understands.
_AS_EBMS = {"SEC00002": "EBMS:0101", "SEC00004": "EBMS:0101", "SEC00005": "EBMS:0101"}


@dataclass(frozen=True)
class Verified:
    principal: object  # what the trust store registered the certificate for
    certificate: object  # keystore.Certificate
    references: tuple  # the ds:Reference elements, for the receipt's NRR
    token: str  # SHA-256 of the canonical SignedInfo (what was signed)

    @property
    def digests(self):
        """{URI: digest value} of the signed parts: what the receipt must acknowledge."""
        return {r.get("URI"): r.findtext(q(DS, "DigestValue")).strip() for r in self.references}


def verify(root, attachments, trust, now, policy=wsse.Policy()):
    """Check the one signature of a parsed AS4 envelope against its attachments
    ({content id: bytes}); return Verified or raise EbmsError (EBMS:0101 when something
    does not verify, EBMS:0103 when the signature does not follow the policy)."""
    try:
        return _verify(root, attachments, trust, now, policy)
    except Refusal as refusal:
        raise EbmsError(_AS_EBMS.get(refusal.code, "EBMS:0103"),
                        refusal.detail or refusal.reason.diagnostic) from None


def _verify(root, attachments, trust, now, policy):
    header, body = root.find(HEADER), root.find(BODY)
    security = wsse._the_security_header(root, header)
    signature = wsse._the_one(root, wsse.SIGNATURE, security, "Signature")
    signed_info = wsse._child(signature, q(DS, "SignedInfo"))
    c14n = wsse._child(signed_info, q(DS, "CanonicalizationMethod"))
    if c14n.get("Algorithm") != EXC_C14N:
        raise Refusal("SEC00003", "CanonicalizationMethod %s is refused" % c14n.get("Algorithm"))
    method = wsse._check_algorithm(signed_info, "SignatureMethod",
                                   wsse.SIGNATURE_HASHES).get("Algorithm")
    ids = wsse._id_index(root)
    timestamps = [t for t in root.iter(wsse.TIMESTAMP)]
    expected = {_the(root, MESSAGING), body, *timestamps}
    references = _check_references(ids, signed_info, expected, attachments)
    if timestamps:
        timestamp = wsse._the_one(root, wsse.TIMESTAMP, security, "Timestamp")
        wsse._check_timestamp(timestamp, policy, now)
    principal, certificate = wsse._signing_certificate(ids, signature, security, trust)
    if not certificate.valid_at(now):
        raise Refusal("SEC00005", "certificate %s valid %s..%s" % (
            certificate.subject, certificate.not_before.isoformat(),
            certificate.not_after.isoformat()))
    value = wsse.b64decode(signature.findtext(q(DS, "SignatureValue")))
    canonical = wsse.exc_c14n(signed_info, wsse.inclusive_prefixes(c14n))
    wsse.check_signature_value(certificate, method, canonical, value)
    return Verified(principal, certificate, tuple(references),
                    hashlib.sha256(canonical).hexdigest())


def _the(root, tag):
    found = list(root.iter(tag))
    if len(found) != 1:
        raise Refusal("SEC00003", "expected one %s, found %d"
                      % (etree.QName(tag).localname, len(found)))
    return found[0]


def _check_references(ids, signed_info, expected, attachments):
    """Each reference is an element the policy wants signed or an attachment, each
    digest matches; together they cover eb:Messaging, the Body and every attachment."""
    covered, parts, references = set(), set(), []
    for ref in signed_info.findall(q(DS, "Reference")):
        uri = ref.get("URI") or ""
        transforms = ref.findall("%s/%s" % (q(DS, "Transforms"), q(DS, "Transform")))
        algorithms = [t.get("Algorithm") for t in transforms]
        digest = wsse.DIGEST_METHODS[wsse._check_algorithm(ref, "DigestMethod",
                                                           wsse.DIGEST_METHODS).get("Algorithm")]
        if uri.startswith("cid:"):
            cid = uri[4:]
            if cid not in attachments or cid in parts:
                raise Refusal("SEC00003", "reference %s names no attachment, or twice" % uri)
            if algorithms != [ATTACHMENT_CONTENT]:
                raise Refusal("SEC00003", "reference %s: transforms %s refused (the SwA "
                              "Attachment-Content-Signature-Transform only)" % (uri, algorithms))
            data = attachments[cid]
            parts.add(cid)
        elif uri.startswith("#") and len(uri) > 1:
            targets = ids.get(uri[1:], [])
            if len(targets) != 1 or targets[0].get(wsse.WSU_ID) != uri[1:] \
                    or targets[0] not in expected:
                raise Refusal("SEC00003", "reference %s is not the wsu:Id of eb:Messaging, "
                              "the Body or the Timestamp (or is found twice: wrapping)" % uri)
            if algorithms != [EXC_C14N]:
                raise Refusal("SEC00003", "reference %s: transforms %s refused (exclusive "
                              "C14N only)" % (uri, algorithms))
            data = wsse.exc_c14n(targets[0], wsse.inclusive_prefixes(transforms[0]))
            covered.add(targets[0])
        else:
            raise Refusal("SEC00003", "reference %r is neither #id nor cid:" % uri[:64])
        if not hmac.compare_digest(digest(data).digest(),
                                   wsse.b64decode(ref.findtext(q(DS, "DigestValue")))):
            raise Refusal("SEC00002", "the digest of %s does not match" % uri)
        references.append(ref)
    if covered != expected or parts != set(attachments):
        raise Refusal("SEC00003", "the signature must cover eb:Messaging, the Body and every "
                      "attachment (%d attachment(s), %d signed)" % (len(attachments), len(parts)))
    return references


def signed_bytes(envelope, identity):
    """An envelope without attachments (a signal), signed and serialised."""
    sign(envelope, {}, identity)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def sign(root, attachments, identity):
    """Sign an AS4 envelope in place: a Security header (in the SOAP 1.2 header, before
    eb:Messaging is irrelevant to C14N) with a BinarySecurityToken and one signature over
    eb:Messaging, the Body and each attachment ({content id: bytes})."""
    header, body = root.find(HEADER), root.find(BODY)
    block = root.find("%s/%s" % (HEADER, MESSAGING))
    security = etree.SubElement(header, wsse.SECURITY, nsmap={"wsse": WSSE, "wsu": WSU})
    suffix = secrets.token_hex(8)
    token = etree.SubElement(security, wsse.BST, {"EncodingType": BASE64, "ValueType": X509V3,
                                                  wsse.WSU_ID: "X509-" + suffix})
    token.text = identity.certificate.bst
    signature = etree.SubElement(security, wsse.SIGNATURE, nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, q(DS, "SignedInfo"))
    etree.SubElement(signed_info, q(DS, "CanonicalizationMethod"), Algorithm=EXC_C14N)
    is_rsa = identity.algorithm == wsse.RSA_IDENTITY
    etree.SubElement(signed_info, q(DS, "SignatureMethod"),
                     Algorithm=wsse.RSA_SHA256 if is_rsa else wsse.ECDSA_SHA256)
    targets = [("#" + e.get(wsse.WSU_ID), EXC_C14N, wsse.exc_c14n(e)) for e in (block, body)]
    targets += [("cid:" + cid, ATTACHMENT_CONTENT, data) for cid, data in attachments.items()]
    for uri, transform, data in targets:
        ref = etree.SubElement(signed_info, q(DS, "Reference"), URI=uri)
        etree.SubElement(etree.SubElement(ref, q(DS, "Transforms")), q(DS, "Transform"),
                         Algorithm=transform)
        etree.SubElement(ref, q(DS, "DigestMethod"), Algorithm=wsse.SHA256)
        etree.SubElement(ref, q(DS, "DigestValue")).text = base64.b64encode(
            hashlib.sha256(data).digest()).decode("ascii")
    value = etree.SubElement(signature, q(DS, "SignatureValue"))
    key_info = etree.SubElement(signature, q(DS, "KeyInfo"))
    reference = etree.SubElement(etree.SubElement(key_info, wsse.STR), q(WSSE, "Reference"))
    reference.set("URI", "#X509-" + suffix)
    reference.set("ValueType", X509V3)
    value.text = base64.b64encode(wsse._sign_bytes(identity.private, is_rsa,
                                                   wsse.exc_c14n(signed_info))).decode("ascii")
    return root
