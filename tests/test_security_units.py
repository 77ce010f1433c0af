"""Unit tests of security/wsse.py (issue 22): what wsse.sign writes, read element by
element and checked with verify() and with `cryptography` alone; and what verify() accepts
at the edges of its policy (the clock skew, the window, the algorithms, the ways to name
the key), with the details of its refusals. The refusal branches themselves, one test each,
are in test_wsse_policy.py.

Every certificate here is valid from 2020 to 2040 and every clock reads NOW, so that the
timestamps and the limits are exact values."""
import base64
import datetime
import hashlib
import re

import pytest
import xmlsec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from kszws.security import pki, wsse
from kszws.security.keystore import SigningIdentity, TrustStore, certificate_from_x509
from kszws.wire import soap
from kszws.wire.ns import BASE64, DS, SOAP11, WSSE, WSU, X509V3, q
from kszws.wire.reasons import Refusal
from tests.soaptools import request_envelope, sign_custom

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 3, 4, 5, 6, 7, 89000, tzinfo=UTC)
TTL = datetime.timedelta(minutes=5)
POLICY = wsse.Policy()
XML_NS = "http://www.w3.org/XML/1998/namespace"


def make_identity(ca, name, key):
    ca_key, ca_cert = ca
    key, cert = pki.issue(ca_key, ca_cert, name, name, "0999999999", key=key,
                          not_before=datetime.datetime(2020, 1, 1, tzinfo=UTC),
                          not_after=datetime.datetime(2040, 1, 1, tzinfo=UTC))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    algorithm = (xmlsec.Transform.ECDSA_SHA256 if isinstance(key, ec.EllipticCurvePrivateKey)
                 else xmlsec.Transform.RSA_SHA256)
    return SigningIdentity(private=key, key=xmlsec.Key.from_memory(pem, xmlsec.KeyFormat.PEM),
                           certificate=certificate_from_x509(cert), algorithm=algorithm)


@pytest.fixture(scope="module")
def ca():
    return pki.make_ca("units CA")


@pytest.fixture(scope="module")
def rsa_signer(ca):
    return make_identity(ca, "rsa signer", pki.new_key("rsa2048"))


@pytest.fixture(scope="module")
def ec_signer(ca):
    return make_identity(ca, "ec signer", pki.new_key("ec256"))


@pytest.fixture(scope="module")
def trust(rsa_signer, ec_signer):
    store = TrustStore()
    store.add(rsa_signer.certificate, "rsa")
    store.add(ec_signer.certificate, "ec")
    return store


@pytest.fixture(params=["rsa", "ec"])
def signer(request, rsa_signer, ec_signer):
    return {"rsa": rsa_signer, "ec": ec_signer}[request.param]


def reparse(root):
    """As the other side receives it: serialized, then parsed."""
    return etree.fromstring(soap.serialize(root))


def verify(root, trust, at=NOW, policy=POLICY):
    header, body = soap.split_envelope(root)
    return wsse.verify(root, header, body, policy, trust, at)


def refused(call, code, detail=None):
    with pytest.raises(Refusal) as info:
        call()
    assert info.value.code == code, (info.value.code, info.value.detail)
    if detail is not None:
        assert info.value.detail == detail
    return info.value


def signed(signer, root=None, at=NOW, ttl=TTL, **kw):
    root = root if root is not None else request_envelope("units")
    return reparse(wsse.sign(root, signer, at, ttl, **kw))


class Read:
    """The parts of a signed envelope, found by path from the Envelope."""

    def __init__(self, root):
        self.root = root
        self.header = root.find(soap.HEADER)
        self.body = root.find(soap.BODY)
        self.security = self.header.find(wsse.SECURITY)
        self.token, self.timestamp, self.signature = list(self.security)
        self.signed_info, self.value, self.key_info = list(self.signature)
        self.references = self.signed_info.findall(q(DS, "Reference"))


def exc_c14n(element):
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


# --- wsse.sign: what it writes -----------------------------------------------------------

def test_a_signed_envelope_verifies_as_its_signer(signer, trust):
    verified = verify(signed(signer), trust)
    assert verified.principal == ("rsa" if signer.algorithm == xmlsec.Transform.RSA_SHA256
                                  else "ec")
    assert verified.certificate is signer.certificate


def test_sign_changes_the_envelope_in_place_and_returns_it(rsa_signer, trust):
    root = request_envelope()
    assert wsse.sign(root, rsa_signer, NOW, TTL) is root
    verify(reparse(root), trust)


def test_the_security_header_holds_the_token_the_timestamp_and_the_signature(signer):
    p = Read(signed(signer))
    assert [c.tag for c in p.root] == [soap.HEADER, soap.BODY]
    assert [c.tag for c in p.header] == [wsse.SECURITY]
    assert [c.tag for c in p.security] == [wsse.BST, wsse.TIMESTAMP, wsse.SIGNATURE]
    assert [c.tag for c in p.signature] == [q(DS, "SignedInfo"), q(DS, "SignatureValue"),
                                            q(DS, "KeyInfo")]


def test_an_envelope_without_a_header_gets_one_before_the_body(rsa_signer, trust):
    root = request_envelope()
    root.remove(root.find(soap.HEADER))
    root = signed(rsa_signer, root)
    assert [c.tag for c in root] == [soap.HEADER, soap.BODY]
    verify(root, trust)


def test_the_security_header_goes_after_the_headers_already_there(rsa_signer, trust):
    root = request_envelope()
    etree.SubElement(root.find(soap.HEADER), "{urn:x}Routing").text = "r"
    p = Read(signed(rsa_signer, root))
    assert [c.tag for c in p.header] == ["{urn:x}Routing", wsse.SECURITY]
    verify(p.root, trust)


def test_the_token_is_the_signers_certificate(signer):
    p = Read(signed(signer))
    assert dict(p.token.attrib) == {"EncodingType": BASE64, "ValueType": X509V3,
                                    wsse.WSU_ID: p.token.get(wsse.WSU_ID)}
    assert base64.b64decode(p.token.text) == signer.certificate.der


def test_the_ids_share_one_random_64_bit_suffix(rsa_signer):
    p = Read(signed(rsa_signer))
    suffix = p.token.get(wsse.WSU_ID)[len("X509-"):]
    assert re.fullmatch("[0-9a-f]{16}", suffix), suffix
    assert p.token.get(wsse.WSU_ID) == "X509-" + suffix
    assert p.timestamp.get(wsse.WSU_ID) == "TS-" + suffix
    assert p.body.get(wsse.WSU_ID) == "Body-" + suffix
    assert Read(signed(rsa_signer)).token.get(wsse.WSU_ID) != p.token.get(wsse.WSU_ID)


def test_a_body_keeps_the_id_it_has(rsa_signer, trust):
    root = request_envelope()
    root.find(soap.BODY).set(wsse.WSU_ID, "id-7")
    p = Read(signed(rsa_signer, root))
    assert p.body.get(wsse.WSU_ID) == "id-7"
    assert p.references[0].get("URI") == "#id-7"
    verify(p.root, trust)


def xmlsec_verifies(root, identity):
    """xmlsec's own XML-DSig verification (not kszws's) of a signed envelope: the signature
    kszws writes from text templates must be what an independent implementation reads."""
    ctx = xmlsec.SignatureContext()
    ctx.key = identity.key
    for element in (root.find(soap.BODY), Read(root).timestamp):
        ctx.register_id(element, "Id", WSU)
    ctx.verify(Read(root).signature)  # raises xmlsec.Error when it does not verify
    return True


@pytest.mark.parametrize("body_id", [None, "id-7"])
@pytest.mark.parametrize("must_understand", [False, True])
def test_xmlsec_verifies_what_sign_writes(signer, body_id, must_understand):
    root = request_envelope()
    if body_id:
        root.find(soap.BODY).set(wsse.WSU_ID, body_id)
    p = Read(signed(signer, root, must_understand=must_understand))
    assert xmlsec_verifies(p.root, signer)
    assert p.references[0].get("URI") == "#" + (body_id or p.body.get(wsse.WSU_ID))


@pytest.mark.parametrize("body_id", ["B-1", 'odd &<"\t\n\r> id'])
def test_the_timestamp_and_signed_info_are_written_in_canonical_form(signer, body_id):
    """sign() writes them as text, in the form exclusive C14N gives them (attribute values
    escaped as C14N escapes them): what it digested and signed is what any verifier
    canonicalises."""
    body = request_envelope().find(soap.BODY)
    text = wsse.security_header(exc_c14n(body), body_id, signer, NOW, TTL, "abc")
    written = etree.fromstring(text)
    for element, tag in ((written.find(wsse.TIMESTAMP), "wsu:Timestamp"),
                         (written.find(".//" + q(DS, "SignedInfo")), "ds:SignedInfo")):
        as_written = re.search("<%s .*</%s>" % (tag, tag), text, re.S).group(0)
        assert as_written.encode() == exc_c14n(element)
    assert written.find(".//" + q(DS, "Reference")).get("URI") == "#" + body_id


def test_the_timestamp_runs_from_now_for_the_ttl_in_milliseconds(rsa_signer, trust):
    p = Read(signed(rsa_signer, ttl=datetime.timedelta(seconds=90)))
    assert [c.tag for c in p.timestamp] == [q(WSU, "Created"), q(WSU, "Expires")]
    assert p.timestamp.findtext(q(WSU, "Created")) == "2026-03-04T05:06:07.089Z"
    assert p.timestamp.findtext(q(WSU, "Expires")) == "2026-03-04T05:07:37.089Z"
    verified = verify(p.root, trust)
    assert verified.replay_until == datetime.datetime(2026, 3, 4, 5, 12, 37, 89000, tzinfo=UTC)


def test_signed_info_names_exclusive_c14n_and_the_keys_algorithm(signer):
    p = Read(signed(signer))
    assert [c.tag for c in p.signed_info] == [q(DS, "CanonicalizationMethod"),
                                              q(DS, "SignatureMethod"),
                                              q(DS, "Reference"), q(DS, "Reference")]
    assert p.signed_info[0].get("Algorithm") == "http://www.w3.org/2001/10/xml-exc-c14n#"
    expected = {xmlsec.Transform.RSA_SHA256: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                xmlsec.Transform.ECDSA_SHA256:
                    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"}[signer.algorithm]
    assert p.signed_info[1].get("Algorithm") == expected


def test_the_references_are_the_body_then_the_timestamp_with_their_sha256(signer):
    p = Read(signed(signer))
    assert [r.get("URI") for r in p.references] == [
        "#" + p.body.get(wsse.WSU_ID), "#" + p.timestamp.get(wsse.WSU_ID)]
    for ref, target in zip(p.references, (p.body, p.timestamp)):
        assert [c.tag for c in ref] == [q(DS, "Transforms"), q(DS, "DigestMethod"),
                                        q(DS, "DigestValue")]
        assert [t.get("Algorithm") for t in ref[0]] == [
            "http://www.w3.org/2001/10/xml-exc-c14n#"]
        assert ref[1].get("Algorithm") == "http://www.w3.org/2001/04/xmlenc#sha256"
        assert base64.b64decode(ref[2].text) == hashlib.sha256(exc_c14n(target)).digest()


def test_the_key_info_refers_to_the_token(signer):
    p = Read(signed(signer))
    [str_] = list(p.key_info)
    assert str_.tag == wsse.STR
    [reference] = list(str_)
    assert reference.tag == q(WSSE, "Reference")
    assert dict(reference.attrib) == {"URI": "#" + p.token.get(wsse.WSU_ID),
                                      "ValueType": X509V3}


def test_an_rsa_signature_value_is_pkcs1_sha256_of_the_signed_info(rsa_signer):
    p = Read(signed(rsa_signer))
    rsa_signer.private.public_key().verify(base64.b64decode(p.value.text),
                                           exc_c14n(p.signed_info), padding.PKCS1v15(),
                                           hashes.SHA256())


def test_an_ecdsa_signature_value_is_r_then_s_of_32_bytes_each(ec_signer):
    """XML-DSig's form (RFC 4050), not the DER that cryptography returns."""
    p = Read(signed(ec_signer))
    raw = base64.b64decode(p.value.text)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    ec_signer.private.public_key().verify(der, exc_c14n(p.signed_info),
                                          ec.ECDSA(hashes.SHA256()))


def test_must_understand_only_when_asked(rsa_signer, trust):
    assert Read(signed(rsa_signer)).security.get(q(SOAP11, "mustUnderstand")) is None
    p = Read(signed(rsa_signer, must_understand=True))
    assert p.security.get(q(SOAP11, "mustUnderstand")) == "1"
    verify(p.root, trust)


def test_the_usual_prefixes_are_written(rsa_signer):
    """wsse, wsu and ds: the prefixes of the WS-Security and XML-DSig specifications, which
    WSS4J and .NET write too, so that a signed message reads as people expect in a log."""
    text = soap.serialize(signed(rsa_signer)).decode()
    for start in ("<wsse:Security ", "<wsse:BinarySecurityToken ", "<wsu:Timestamp ",
                  "<ds:Signature ", "<ds:SignedInfo>"):
        assert start in text, start


def test_a_body_with_comments_and_unused_outer_namespaces_verifies(rsa_signer, trust):
    """The digests are exclusive C14N without comments, as verify() (xmlsec) computes them:
    namespaces declared on the Envelope and comments in the Body change nothing."""
    env = etree.Element(soap.ENVELOPE, nsmap={"soapenv": SOAP11, "xsd": "urn:unused",
                                              "v1": "urn:unused:v1"})
    etree.SubElement(env, soap.HEADER)
    body = etree.SubElement(env, soap.BODY)
    payload = etree.SubElement(body, "{urn:payload}request")
    payload.append(etree.Comment(" a client's comment "))
    etree.SubElement(payload, "value").text = "1"
    verify(signed(rsa_signer, env), trust)


def test_a_p384_key_signs_with_96_byte_values(ca):
    """The r || s halves are as long as the curve's order (48 bytes for P-384)."""
    identity = make_identity(ca, "p384 signer", ec.generate_private_key(ec.SECP384R1()))
    store = TrustStore()
    store.add(identity.certificate, "p384")
    p = Read(signed(identity))
    assert len(base64.b64decode(p.value.text)) == 96
    assert verify(p.root, store).principal == "p384"


# --- wsse.verify: what it returns -----------------------------------------------------------

def test_the_replay_token_is_the_sha256_of_the_canonical_signed_info(signer, trust):
    p = Read(signed(signer))
    assert verify(p.root, trust).replay_token == hashlib.sha256(
        exc_c14n(p.signed_info)).hexdigest()


def test_a_replay_could_pass_until_the_expiry_plus_the_skew(rsa_signer, trust):
    root = signed(rsa_signer)
    assert verify(root, trust).replay_until == NOW + TTL + datetime.timedelta(minutes=5)
    policy = wsse.Policy(skew=datetime.timedelta(seconds=30))
    assert verify(root, trust, policy=policy).replay_until == NOW + TTL + datetime.timedelta(
        seconds=30)


# --- wsse.verify: the edges of the policy ---------------------------------------------------

def test_the_default_skew_is_five_minutes_for_the_creation(rsa_signer, trust):
    root = signed(rsa_signer)
    five = datetime.timedelta(minutes=5)
    verify(root, trust, at=NOW - five)
    refused(lambda: verify(root, trust, at=NOW - five - datetime.timedelta(milliseconds=1)),
            "SEC00006", "Timestamp created in the future")


def test_the_default_skew_is_five_minutes_for_the_expiry(rsa_signer, trust):
    root = signed(rsa_signer)
    five = datetime.timedelta(minutes=5)
    verify(root, trust, at=NOW + TTL + five)
    later = NOW + TTL + five + datetime.timedelta(milliseconds=1)
    refused(lambda: verify(root, trust, at=later), "SEC00006",
            "Timestamp expired at 2026-03-04T05:11:07.089000+00:00")


def test_the_default_window_is_fifteen_minutes(rsa_signer, trust):
    verify(signed(rsa_signer, ttl=datetime.timedelta(minutes=15)), trust)
    refused(lambda: verify(signed(rsa_signer, ttl=datetime.timedelta(minutes=15, seconds=1)),
                           trust), "SEC00006", "Timestamp window longer than 900s")


def test_a_policy_of_its_own_sets_the_skew_and_the_window(rsa_signer, trust):
    policy = wsse.Policy(skew=datetime.timedelta(seconds=10),
                         max_ttl=datetime.timedelta(minutes=2))
    root = signed(rsa_signer, ttl=datetime.timedelta(minutes=2))
    verify(root, trust, at=NOW - datetime.timedelta(seconds=10), policy=policy)
    refused(lambda: verify(root, trust, at=NOW - datetime.timedelta(seconds=11),
                           policy=policy), "SEC00006", "Timestamp created in the future")
    refused(lambda: verify(signed(rsa_signer, ttl=datetime.timedelta(minutes=3)), trust,
                           policy=policy), "SEC00006", "Timestamp window longer than 120s")


def test_timestamp_values_surrounded_by_white_space_pass_the_timestamp_check(rsa_signer, trust):
    root = request_envelope()
    sign_custom(root, rsa_signer, when=NOW.replace(microsecond=0))
    root = reparse(root)
    for field in Read(root).timestamp:
        field.text = "\n   %s\n  " % field.text
    # The Timestamp changed after signing: its digest no longer matches, which is the
    # refusal that comes after the Timestamp passed.
    refused(lambda: verify(root, trust), "SEC00002")


@pytest.mark.parametrize("text, reason", [
    ("2026-03-04T05:06:07", "no time zone"),
    ("", "Invalid isoformat string: ''"),
])
def test_a_created_without_a_time_zone_or_empty(rsa_signer, trust, text, reason):
    root = signed(rsa_signer)
    Read(root).timestamp[0].text = text
    refused(lambda: verify(root, trust), "SEC00006",
            "Timestamp needs Created and Expires as UTC dateTimes (%s)" % reason)


def test_a_missing_expires_is_named(rsa_signer, trust):
    root = signed(rsa_signer)
    p = Read(root)
    p.timestamp.remove(p.timestamp[1])
    refused(lambda: verify(root, trust), "SEC00006",
            "Timestamp needs Created and Expires as UTC dateTimes (expected one Expires)")


@pytest.mark.parametrize("method, digest", [
    (xmlsec.Transform.RSA_SHA384, xmlsec.Transform.SHA384),
    (xmlsec.Transform.RSA_SHA512, xmlsec.Transform.SHA512),
    (xmlsec.Transform.RSA_SHA256, xmlsec.Transform.SHA512),
])
def test_the_stronger_rsa_algorithms_are_accepted(rsa_signer, trust, method, digest):
    root = request_envelope()
    sign_custom(root, rsa_signer, when=NOW, method=method, digest=digest)
    verify(reparse(root), trust)


@pytest.mark.parametrize("method", [xmlsec.Transform.ECDSA_SHA384,
                                    xmlsec.Transform.ECDSA_SHA512])
def test_the_stronger_ecdsa_algorithms_are_accepted(ec_signer, trust, method):
    root = request_envelope()
    sign_custom(root, ec_signer, when=NOW, method=method, digest=xmlsec.Transform.SHA384)
    verify(reparse(root), trust)


@pytest.mark.parametrize("attribute", ["ID", q(XML_NS, "id"), "Id"])
def test_an_id_twin_under_any_id_attribute_is_wrapping(rsa_signer, trust, attribute):
    root = signed(rsa_signer)
    p = Read(root)
    etree.SubElement(p.header, "{urn:x}Twin", {attribute: p.body.get(wsse.WSU_ID)})
    refused(lambda: verify(root, trust), "SEC00003",
            "reference #%s matches 2 elements (wrapping)" % p.body.get(wsse.WSU_ID))


def test_a_reference_to_no_element(rsa_signer, trust):
    root = signed(rsa_signer)
    Read(root).references[0].set("URI", "#nowhere")
    refused(lambda: verify(root, trust), "SEC00003",
            "reference #nowhere matches 0 elements (wrapping)")


def test_a_reference_without_uri(rsa_signer, trust):
    root = signed(rsa_signer)
    del Read(root).references[0].attrib["URI"]
    refused(lambda: verify(root, trust), "SEC00003", "reference '' is not a same-document #id")


def test_a_bare_hash_is_no_reference(rsa_signer, trust):
    root = signed(rsa_signer)
    Read(root).references[1].set("URI", "#")
    refused(lambda: verify(root, trust), "SEC00003", "reference '#' is not a same-document #id")


def test_a_one_character_id_is_a_reference(rsa_signer, trust):
    root = request_envelope()
    root.find(soap.BODY).set(wsse.WSU_ID, "B")
    verify(signed(rsa_signer, root), trust)


def test_a_body_named_by_another_id_attribute_than_wsu_id(rsa_signer, trust):
    root = request_envelope()
    root = signed(rsa_signer, root)
    p = Read(root)
    p.body.set("Id", p.body.attrib.pop(wsse.WSU_ID))
    refused(lambda: verify(root, trust), "SEC00003",
            "reference #%s is not the wsu:Id of the Body or the Timestamp" % p.body.get("Id"))


def test_a_signature_of_the_body_alone_names_what_it_must_cover(rsa_signer, trust):
    root = signed(rsa_signer)
    p = Read(root)
    p.signed_info.remove(p.references[1])
    refused(lambda: verify(root, trust), "SEC00003",
            "the signature must cover exactly the Body and the Timestamp")


def resign(p, signer):
    """Sign SignedInfo again after its targets changed (RSA-SHA256, as wsse.sign does)."""
    for ref, target in zip(p.references, (p.body, p.timestamp)):
        ref.find(q(DS, "DigestValue")).text = base64.b64encode(
            hashlib.sha256(exc_c14n(target)).digest()).decode()
    p.value.text = base64.b64encode(signer.private.sign(
        exc_c14n(p.signed_info), padding.PKCS1v15(), hashes.SHA256())).decode()


@pytest.mark.parametrize("part", ["body", "timestamp"])
def test_an_un_namespaced_id_beside_the_wsu_id_is_not_what_is_signed(rsa_signer, trust, part):
    """References name the wsu:Id; an element that also carries a plain Id (some toolkits
    add their own) still verifies by its wsu:Id."""
    root = signed(rsa_signer)
    p = Read(root)
    element = getattr(p, part)
    wsu_id = element.attrib.pop(wsse.WSU_ID)
    element.set("Id", "own-" + part)  # first, so that a lookup by local name finds it
    element.set(wsse.WSU_ID, wsu_id)
    resign(p, rsa_signer)
    root = reparse(root)
    assert verify(root, trust).principal == "rsa"


def test_refused_transforms_are_listed(rsa_signer, trust):
    root = signed(rsa_signer)
    p = Read(root)
    p.references[1][0][0].set("Algorithm", "urn:x:t")
    refused(lambda: verify(root, trust), "SEC00003", "reference #%s: transforms ['urn:x:t'] "
            "refused (exclusive C14N only)" % p.timestamp.get(wsse.WSU_ID))


def test_a_refused_algorithm_is_named(rsa_signer, trust):
    root = signed(rsa_signer)
    Read(root).signed_info[1].set("Algorithm", "urn:x:rsa-md5")
    refused(lambda: verify(root, trust), "SEC00003", "SignatureMethod urn:x:rsa-md5 is refused")


def test_a_missing_algorithm_is_refused(rsa_signer, trust):
    root = signed(rsa_signer)
    del Read(root).signed_info[0].attrib["Algorithm"]
    refused(lambda: verify(root, trust), "SEC00003", "CanonicalizationMethod None is refused")


def test_a_signature_without_key_info(rsa_signer, trust):
    root = signed(rsa_signer)
    p = Read(root)
    p.signature.remove(p.key_info)
    refused(lambda: verify(root, trust), "SEC00003", "expected one KeyInfo")


# --- the header, counted --------------------------------------------------------------------

def test_no_security_header(rsa_signer, trust):
    root = request_envelope()
    refused(lambda: verify(root, trust), "SEC00008",
            "expected exactly one wsse:Security header, found 0")


def test_two_security_headers_are_counted(rsa_signer, trust):
    root = signed(rsa_signer)
    etree.SubElement(root.find(soap.HEADER), wsse.SECURITY)
    refused(lambda: verify(root, trust), "SEC00008",
            "expected exactly one wsse:Security header, found 2")


def test_a_security_element_with_no_header_at_all(rsa_signer, trust):
    root = signed(rsa_signer)
    p = Read(root)
    root.remove(p.header)
    p.body.append(p.security)
    refused(lambda: verify(root, trust), "SEC00008",
            "expected exactly one wsse:Security header, found 1")


def test_a_missing_timestamp_is_counted(rsa_signer, trust):
    root = signed(rsa_signer)
    p = Read(root)
    p.security.remove(p.timestamp)
    refused(lambda: verify(root, trust), "SEC00008",
            "expected exactly one Timestamp in the Security header, found 0 in the message")


def test_a_second_signature_is_counted(rsa_signer, trust):
    root = signed(rsa_signer)
    p = Read(root)
    p.body.append(etree.fromstring(etree.tostring(p.signature)))
    refused(lambda: verify(root, trust), "SEC00008",
            "expected exactly one Signature in the Security header, found 2 in the message")


# --- the key --------------------------------------------------------------------------------

def bst_signed(signer):
    root = request_envelope()
    sign_custom(root, signer, when=NOW)
    return reparse(root)


def test_a_token_without_value_type_is_read_as_x509v3(rsa_signer, trust):
    root = bst_signed(rsa_signer)
    del Read(root).token.attrib["ValueType"]
    assert verify(root, trust).principal == "rsa"


def test_a_token_spread_over_lines_is_read(rsa_signer, trust):
    root = bst_signed(rsa_signer)
    token = Read(root).token
    token.text = "\n" + "\n".join(token.text[i:i + 76] for i in range(0, len(token.text), 76))
    assert verify(root, trust).principal == "rsa"


def test_a_token_with_a_character_outside_base64_is_refused(rsa_signer, trust):
    root = bst_signed(rsa_signer)
    token = Read(root).token
    token.text = token.text[:40] + "*" + token.text[40:]
    refused(lambda: verify(root, trust), "SEC00003", "malformed base64 in the key reference")


def test_a_key_reference_without_hash(rsa_signer, trust):
    root = bst_signed(rsa_signer)
    p = Read(root)
    reference = p.key_info.find(".//" + q(WSSE, "Reference"))
    reference.set("URI", p.token.get(wsse.WSU_ID))
    refused(lambda: verify(root, trust), "SEC00003",
            "the key reference %r is not one BinarySecurityToken of the Security header"
            % p.token.get(wsse.WSU_ID))


def test_a_relative_key_reference_is_not_the_token(rsa_signer, trust):
    """Only "#id" names an element of this message; "/X509-..." is a relative URI, even
    though it ends with the token's Id."""
    root = bst_signed(rsa_signer)
    p = Read(root)
    reference = p.key_info.find(".//" + q(WSSE, "Reference"))
    reference.set("URI", "/" + p.token.get(wsse.WSU_ID))
    refused(lambda: verify(root, trust), "SEC00003",
            "the key reference %r is not one BinarySecurityToken of the Security header"
            % ("/" + p.token.get(wsse.WSU_ID)))


def test_a_key_reference_to_no_element(rsa_signer, trust):
    root = bst_signed(rsa_signer)
    Read(root).key_info.find(".//" + q(WSSE, "Reference")).set("URI", "#nowhere")
    refused(lambda: verify(root, trust), "SEC00003",
            "the key reference '#nowhere' is not one BinarySecurityToken of the Security header")


def test_a_key_reference_without_uri(rsa_signer, trust):
    root = bst_signed(rsa_signer)
    del Read(root).key_info.find(".//" + q(WSSE, "Reference")).attrib["URI"]
    refused(lambda: verify(root, trust), "SEC00003",
            "the key reference '' is not one BinarySecurityToken of the Security header")


def test_a_key_identifier_type_is_named(rsa_signer, trust):
    root = request_envelope()
    sign_custom(root, rsa_signer, when=NOW, key_info="ski")
    root = reparse(root)
    root.find(".//" + q(WSSE, "KeyIdentifier")).set("ValueType", "urn:x:thumb")
    refused(lambda: verify(root, trust), "SEC00003", "KeyIdentifier type urn:x:thumb refused")


def test_a_key_identifier_of_the_ski_names_the_signer(ec_signer, trust):
    root = request_envelope()
    sign_custom(root, ec_signer, when=NOW, key_info="ski",
                method=xmlsec.Transform.ECDSA_SHA256)
    assert verify(reparse(root), trust).principal == "ec"


def test_key_info_without_a_certificate_says_what_is_expected(rsa_signer, trust):
    root = bst_signed(rsa_signer)
    key_info = Read(root).key_info
    for child in list(key_info):
        key_info.remove(child)
    etree.SubElement(key_info, q(DS, "KeyName")).text = "rsa signer"
    refused(lambda: verify(root, trust), "SEC00003",
            "KeyInfo names no certificate (BinarySecurityToken reference, SKI or issuer + "
            "serial expected)")


def issuer_serial_signed(signer):
    root = request_envelope()
    sign_custom(root, signer, when=NOW, key_info="issuer-serial")
    return reparse(root)


def test_issuer_and_serial_name_the_signer(rsa_signer, trust):
    assert verify(issuer_serial_signed(rsa_signer), trust).principal == "rsa"


def test_an_issuer_serial_without_serial_is_malformed(rsa_signer, trust):
    root = issuer_serial_signed(rsa_signer)
    serial = root.find(".//" + q(DS, "X509SerialNumber"))
    serial.getparent().remove(serial)
    refused(lambda: verify(root, trust), "SEC00003", "X509IssuerSerial is malformed")


def test_an_issuer_serial_without_issuer_is_unknown(rsa_signer, trust):
    root = issuer_serial_signed(rsa_signer)
    name = root.find(".//" + q(DS, "X509IssuerName"))
    name.getparent().remove(name)
    refused(lambda: verify(root, trust), "SEC00004")


def test_a_certificate_outside_its_validity_is_named(rsa_signer, trust):
    root = signed(rsa_signer, at=datetime.datetime(2040, 1, 1, 0, 1, tzinfo=UTC))
    cert = rsa_signer.certificate
    refused(lambda: verify(root, trust, at=datetime.datetime(2040, 1, 1, 0, 1, tzinfo=UTC)),
            "SEC00005", "certificate %s valid 2020-01-01T00:00:00+00:00..2040-01-01T00:00:00"
            "+00:00" % cert.subject)
    assert "rsa signer" in cert.subject
