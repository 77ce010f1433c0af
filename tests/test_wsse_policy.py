"""The WS-Security policy, branch by branch: every `raise Refusal` of security/wsse.py and
security/authn.py has a test here that starts from a valid request and makes the one change
that must reach that branch (and no earlier one: each test pins the refusal's message, not
only its code). `test_every_refusal_branch_has_a_test` reads both modules and fails when a
branch is added without its test."""
import ast
import base64
import copy
import datetime
import inspect
import os

import pytest
import xmlsec
from lxml import etree

from kszws.config import load_settings
from kszws.registry import load_registry
from kszws.security import authn, pki, wsse
from kszws.security.authn import Authenticator, Transport, build_trust_store
from kszws.security.credentials import Credentials
from kszws.security.keystore import TrustStore, certificate_from_x509
from kszws.wire import soap
from kszws.wire.ns import DS, WSSE, WSU, X509V3, q
from kszws.wire.reasons import Refusal
from tests.hostile.attacks import Parts, stranger
from tests.netfixture import make_project, reissue_certificate
from tests.soaptools import identity as load_identity, request_envelope, sign_custom

POLICY = wsse.Policy()
BRANCHES = {}  # (module, code, message prefix) -> test name


def branch(module, code, message=None):
    """Register the test as the one for this refusal branch."""
    def register(test):
        BRANCHES[(module, code, message)] = test.__name__
        return test
    return register


def refused(call, code, message=None):
    with pytest.raises(Refusal) as info:
        call()
    assert info.value.code == code, (info.value.code, info.value.detail)
    if message is None:
        assert info.value.detail is None, info.value.detail
    else:
        assert (info.value.detail or "").startswith(message.split("%")[0]), info.value.detail
    return info.value


# --- wsse.verify: one valid request, one change each --------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("wsse"))


@pytest.fixture(scope="module")
def signer(project):
    return load_identity(project, "cpas-eupen")


@pytest.fixture(scope="module")
def trust(project):
    return build_trust_store(load_registry(project))


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def signed(signer, **kw):
    """A request signed by `signer`, parsed back from its bytes as the hub receives it."""
    root = request_envelope("policy")
    sign_custom(root, kw.pop("identity", signer), **kw)
    return etree.fromstring(etree.tostring(root))


def verify(root, trust, at=None):
    header, body = soap.split_envelope(root)
    return wsse.verify(root, header, body, POLICY, trust, at or now())


def test_a_valid_request_verifies(signer, trust):
    verified = verify(signed(signer), trust)
    assert verified.principal.id == "cpas-eupen"


def changed(signer, change, **kw):
    root = signed(signer, **kw)
    change(Parts(root))
    return root


@branch("wsse", "SEC00008", "expected exactly one wsse:Security header, found %d")
def test_two_security_headers(signer, trust):
    root = changed(signer, lambda p: p.header.append(etree.Element(wsse.SECURITY)))
    refused(lambda: verify(root, trust), "SEC00008", "expected exactly one wsse:Security")


def test_a_security_header_outside_the_header(signer, trust):
    root = changed(signer, lambda p: p.body.append(p.security))
    refused(lambda: verify(root, trust), "SEC00008", "expected exactly one wsse:Security")


@branch("wsse", "SEC00008", "expected exactly one %s in the Security header, found %d in "
                            "the message")
def test_a_timestamp_outside_the_security_header(signer, trust):
    root = changed(signer, lambda p: p.header.append(p.timestamp))
    refused(lambda: verify(root, trust), "SEC00008", "expected exactly one Timestamp")


def test_a_second_timestamp_in_the_body(signer, trust):
    root = changed(signer, lambda p: soap.body_payload(p.body).append(
        copy.deepcopy(p.timestamp)))
    refused(lambda: verify(root, trust), "SEC00008", "expected exactly one Timestamp")


def test_a_signature_outside_the_security_header(signer, trust):
    root = changed(signer, lambda p: p.header.append(p.signature))
    refused(lambda: verify(root, trust), "SEC00008", "expected exactly one Signature")


@branch("wsse", "SEC00003", "expected one %s")
def test_signed_info_missing(signer, trust):
    root = changed(signer, lambda p: p.signature.remove(p.signed_info))
    refused(lambda: verify(root, trust), "SEC00003", "expected one SignedInfo")


@branch("wsse", "SEC00003", "%s %s is refused")
def test_inclusive_canonicalization_is_refused(signer, trust):
    root = changed(signer, lambda p: p.signed_info.find(q(DS, "CanonicalizationMethod")).set(
        "Algorithm", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"))
    refused(lambda: verify(root, trust), "SEC00003", "CanonicalizationMethod ")


def test_rsa_sha1_is_refused(signer, trust):
    root = signed(signer, method=xmlsec.Transform.RSA_SHA1)
    refused(lambda: verify(root, trust), "SEC00003", "SignatureMethod ")


def test_sha1_digest_is_refused(signer, trust):
    root = signed(signer, digest=xmlsec.Transform.SHA1)
    refused(lambda: verify(root, trust), "SEC00003", "DigestMethod ")


@branch("wsse", "SEC00003", "reference %r is not a same-document #id")
def test_a_reference_to_a_file(signer, trust):
    root = changed(signer, lambda p: p.body_reference().set("URI", "file:///etc/passwd"))
    refused(lambda: verify(root, trust), "SEC00003", "reference 'file:///etc/passwd' is not")


def test_a_reference_to_the_whole_document(signer, trust):
    root = changed(signer, lambda p: p.body_reference().set("URI", ""))
    refused(lambda: verify(root, trust), "SEC00003", "reference '' is not a same-document")


@branch("wsse", "SEC00003", "reference %s matches %d elements (wrapping)")
def test_an_id_found_twice(signer, trust):
    root = changed(signer, lambda p: etree.SubElement(
        p.header, "{urn:x}Twin", {wsse.WSU_ID: p.body.get(wsse.WSU_ID)}))
    refused(lambda: verify(root, trust), "SEC00003", "reference #Body-")


def test_an_id_under_another_attribute_counts_as_a_twin(signer, trust):
    root = changed(signer, lambda p: etree.SubElement(
        p.header, "{urn:x}Twin", {"Id": p.body.get(wsse.WSU_ID)}))
    error = refused(lambda: verify(root, trust), "SEC00003", "reference #Body-")
    assert "matches 2 elements" in error.detail


@branch("wsse", "SEC00003", "reference %s is not the wsu:Id of the Body or the Timestamp")
def test_a_reference_to_the_token(signer, trust):
    root = changed(signer, lambda p: p.body_reference().set("URI", "#" + p.token.get(
        wsse.WSU_ID)))
    refused(lambda: verify(root, trust), "SEC00003", "reference #X509-")


def test_the_body_id_moved_to_another_element(signer, trust):
    def move(p):
        body_id = p.body.attrib.pop(wsse.WSU_ID)
        etree.SubElement(p.header, "{urn:x}Decoy", {wsse.WSU_ID: body_id})
    root = changed(signer, move)
    refused(lambda: verify(root, trust), "SEC00003", "reference #Body-")


@branch("wsse", "SEC00003", "reference %s: transforms %s refused (exclusive C14N only)")
@pytest.mark.parametrize("transforms", [
    [],  # no transform at all
    ["http://www.w3.org/2000/09/xmldsig#enveloped-signature"],
    ["http://www.w3.org/TR/1999/REC-xpath-19991116"],
    [wsse.EXC_C14N, wsse.EXC_C14N],
])
def test_transforms_other_than_one_exclusive_c14n(signer, trust, transforms):
    def change(p):
        ref = p.body_reference()
        holder = ref.find(q(DS, "Transforms"))
        for old in list(holder):
            holder.remove(old)
        for algorithm in transforms:
            etree.SubElement(holder, q(DS, "Transform"), Algorithm=algorithm)
    root = changed(signer, change)
    refused(lambda: verify(root, trust), "SEC00003", "reference #Body-")


@branch("wsse", "SEC00003", "the signature must cover exactly the Body and the Timestamp")
def test_the_timestamp_not_signed(signer, trust):
    root = signed(signer, targets=("body",))
    refused(lambda: verify(root, trust), "SEC00003", "the signature must cover exactly")


def test_the_body_signed_twice(signer, trust):
    root = signed(signer, targets=("body", "ts", "body"))
    refused(lambda: verify(root, trust), "SEC00003", "the signature must cover exactly")


@branch("wsse", "SEC00006", "Timestamp needs Created and Expires as UTC dateTimes (%s)")
@pytest.mark.parametrize("field, value", [
    ("Created", "yesterday"), ("Created", "2026-11-30T12:00:00"), ("Expires", None),
    ("Created", None), ("Expires", "99999-01-01T00:00:00Z")])
def test_malformed_timestamps(signer, trust, field, value):
    def change(p):
        element = p.timestamp_field(field)
        if value is None:
            p.timestamp.remove(element)
        else:
            element.text = value
    root = changed(signer, change)
    refused(lambda: verify(root, trust), "SEC00006", "Timestamp needs Created and Expires")


@branch("wsse", "SEC00006", "Timestamp created in the future")
def test_created_beyond_the_skew(signer, trust):
    root = signed(signer, when=now() + POLICY.skew + datetime.timedelta(seconds=30), ttl=60)
    refused(lambda: verify(root, trust), "SEC00006", "Timestamp created in the future")


def test_created_within_the_skew_is_accepted(signer, trust):
    root = signed(signer, when=now() + POLICY.skew - datetime.timedelta(seconds=30), ttl=60)
    verify(root, trust)


@branch("wsse", "SEC00006", "Timestamp expired at %s")
def test_expired_beyond_the_skew(signer, trust):
    root = signed(signer, when=now() - datetime.timedelta(minutes=10), ttl=60)
    refused(lambda: verify(root, trust), "SEC00006", "Timestamp expired at")


@branch("wsse", "SEC00006", "Timestamp expires before it is created")
def test_expires_before_created(signer, trust):
    root = signed(signer, when=now(), ttl=-60)
    refused(lambda: verify(root, trust), "SEC00006", "Timestamp expires before it is created")


def test_expires_equal_to_created(signer, trust):
    root = signed(signer, when=now(), ttl=0)
    refused(lambda: verify(root, trust), "SEC00006", "Timestamp expires before it is created")


@branch("wsse", "SEC00006", "Timestamp window longer than %ds")
def test_a_one_day_timestamp(signer, trust):
    root = signed(signer, ttl=86400)
    refused(lambda: verify(root, trust), "SEC00006", "Timestamp window longer than 900s")


def test_the_longest_window_is_accepted_one_second_more_is_not(signer, trust):
    verify(signed(signer, ttl=int(POLICY.max_ttl.total_seconds())), trust)
    refused(lambda: verify(signed(signer, ttl=int(POLICY.max_ttl.total_seconds()) + 1), trust),
            "SEC00006", "Timestamp window longer than")


@branch("wsse", "SEC00003", "the key reference %r is not one BinarySecurityToken of the "
                            "Security header")
def test_a_token_outside_the_security_header(signer, trust):
    root = changed(signer, lambda p: p.header.append(p.token))
    refused(lambda: verify(root, trust), "SEC00003", "the key reference '#X509-")


def test_a_key_reference_to_the_body(signer, trust):
    root = changed(signer, lambda p: p.key_info.find(".//" + q(WSSE, "Reference")).set(
        "URI", "#" + p.body.get(wsse.WSU_ID)))
    refused(lambda: verify(root, trust), "SEC00003", "the key reference '#Body-")


@branch("wsse", "SEC00003", "BinarySecurityToken is not an X509v3 certificate")
def test_a_token_of_another_type(signer, trust):
    root = changed(signer, lambda p: p.token.set("ValueType", "urn:x:PKCS7"))
    refused(lambda: verify(root, trust), "SEC00003", "BinarySecurityToken is not an X509v3")


@branch("wsse", "SEC00003", "KeyIdentifier type %s refused")
def test_a_key_identifier_that_is_not_a_ski(signer, trust):
    root = signed(signer, key_info="ski")
    root.find(".//" + q(WSSE, "KeyIdentifier")).set("ValueType", "urn:x:Thumbprint")
    refused(lambda: verify(root, trust), "SEC00003", "KeyIdentifier type urn:x:Thumbprint")


@branch("wsse", "SEC00003", "KeyInfo names no certificate (BinarySecurityToken reference, "
                            "SKI or issuer + serial expected)")
@pytest.mark.parametrize("local", ["KeyName", "RetrievalMethod", "KeyValue"])
def test_key_info_forms_outside_the_policy(signer, trust, local):
    root = changed(signer, lambda p: p.replace_key_info(etree.Element(q(DS, local))))
    refused(lambda: verify(root, trust), "SEC00003", "KeyInfo names no certificate")


def test_an_embedded_certificate_is_not_a_registered_one(signer, trust):
    def embed(p):
        data = etree.Element(q(DS, "X509Data"))
        etree.SubElement(data, q(DS, "X509Certificate")).text = signer.certificate.bst
        p.replace_key_info(data)
    root = changed(signer, embed)
    refused(lambda: verify(root, trust), "SEC00003", "KeyInfo names no certificate")


@branch("wsse", "SEC00003", "X509IssuerSerial is malformed")
def test_a_malformed_issuer_serial(signer, trust):
    root = signed(signer, key_info="issuer-serial")
    root.find(".//" + q(DS, "X509SerialNumber")).text = "twelve"
    refused(lambda: verify(root, trust), "SEC00003", "X509IssuerSerial is malformed")


def test_issuer_serial_and_ski_of_the_registered_certificate_verify(signer, trust):
    verify(signed(signer, key_info="issuer-serial"), trust)
    verify(signed(signer, key_info="ski"), trust)


@branch("wsse", "SEC00004")
@pytest.mark.parametrize("key_info", ["bst", "ski"])
def test_a_certificate_nobody_registered(signer, trust, key_info):
    root = signed(signer, identity=stranger(), key_info=key_info)
    refused(lambda: verify(root, trust), "SEC00004")


def test_an_unknown_serial_of_a_known_issuer(signer, trust):
    root = signed(signer, key_info="issuer-serial")
    root.find(".//" + q(DS, "X509SerialNumber")).text = "1"
    refused(lambda: verify(root, trust), "SEC00004")


@branch("wsse", "SEC00003", "malformed base64 in %s")
def test_a_token_that_is_not_base64(signer, trust):
    root = changed(signer, lambda p: setattr(p.token, "text", "not*base64"))
    refused(lambda: verify(root, trust), "SEC00003", "malformed base64 in the key reference")


@pytest.mark.parametrize("where", ["DigestValue", "SignatureValue"])
def test_a_digest_or_signature_that_is_not_base64(signer, trust, where):
    root = changed(signer, lambda p: setattr(p.signature.find(".//" + q(DS, where)), "text",
                                             "not*base64"))
    refused(lambda: verify(root, trust), "SEC00003", "malformed base64 in the signature")


@pytest.mark.parametrize("which", [0, 1])
def test_a_digest_of_another_content(signer, trust, which):
    """Each reference's digest is checked: the Body's and the Timestamp's."""
    def other(p):
        value = p.signature.findall(".//" + q(DS, "DigestValue"))[which]
        value.text = base64.b64encode(b"\0" * 32).decode()
    refused(lambda: verify(changed(signer, other), trust), "SEC00002")


@branch("wsse", "SEC00003", "SignatureMethod %s does not fit the certificate's key")
def test_an_ecdsa_method_with_an_rsa_key(signer, trust):
    root = changed(signer, lambda p: p.signed_info.find(q(DS, "SignatureMethod")).set(
        "Algorithm", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"))
    refused(lambda: verify(root, trust), "SEC00003", "SignatureMethod ")


INCLUSIVE = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
             'xmlns:x="urn:x"><s:Body><v1:sendTestMessageRequest xmlns:v1="%s"><echo>'
             'x:qname</echo></v1:sendTestMessageRequest></s:Body></s:Envelope>'
             % "http://kszbcss.fgov.be/intf/TestConnectionServiceService/v1")


def test_inclusive_namespaces_are_part_of_what_was_signed(signer, trust):
    """WSS4J lists prefixes that exclusive C14N must keep (an InclusiveNamespaces
    PrefixList) in each reference's transform and in the CanonicalizationMethod; here "x",
    used only in text, and "s", unused inside SignedInfo. Signed by xmlsec that way, the
    request verifies only if both lists are applied."""
    root = etree.fromstring(INCLUSIVE)
    sign_custom(root, signer, prefixes=["x", "s"])
    root = etree.fromstring(etree.tostring(root))
    verify(root, trust)
    body = root.find(soap.BODY)
    signed_info = root.find(".//" + q(DS, "SignedInfo"))
    assert wsse.exc_c14n(body, ["x"]) != wsse.exc_c14n(body)  # the lists change the digest
    assert wsse.exc_c14n(signed_info, ["s"]) != wsse.exc_c14n(signed_info)


@pytest.mark.parametrize("where", ["CanonicalizationMethod", "Transform"])
def test_inclusive_namespaces_changed_after_signing(signer, trust, where):
    root = etree.fromstring(INCLUSIVE)
    sign_custom(root, signer, prefixes=["x", "s"])
    root = etree.fromstring(etree.tostring(root))
    for inclusive in root.find(".//" + q(DS, where)):
        inclusive.set("PrefixList", "s")
    refused(lambda: verify(root, trust), "SEC00002")


@branch("wsse", "SEC00003", "%s takes only one InclusiveNamespaces")
@pytest.mark.parametrize("where", ["CanonicalizationMethod", "Transform"])
def test_anything_else_in_an_exclusive_c14n_is_refused(signer, trust, where):
    root = changed(signer, lambda p: p.signed_info.find(".//" + q(DS, where)).append(
        etree.Element(q(DS, "XPath"))))
    refused(lambda: verify(root, trust), "SEC00003", where + " takes only one")


def test_two_inclusive_namespaces_are_refused(signer, trust):
    root = etree.fromstring(INCLUSIVE)
    sign_custom(root, signer, prefixes=["x"])
    root = etree.fromstring(etree.tostring(root))
    method = root.find(".//" + q(DS, "CanonicalizationMethod"))
    method.append(copy.deepcopy(method[0]))
    refused(lambda: verify(root, trust), "SEC00003", "CanonicalizationMethod takes only one")


@branch("wsse", "SEC00005", "certificate %s valid %s..%s")
def test_a_registered_certificate_outside_its_validity(project, trust):
    expired = load_identity(project, "test-expired")
    root = signed(None, identity=expired)
    refused(lambda: verify(root, trust), "SEC00005", "certificate ")


@branch("wsse", "SEC00002")
def test_a_body_changed_after_signing(signer, trust):
    root = changed(signer, lambda p: setattr(p.body.find(".//echo"), "text", "other"))
    refused(lambda: verify(root, trust), "SEC00002")


def test_a_signature_value_changed(signer, trust):
    def flip(p):
        value = p.signature.find(q(DS, "SignatureValue"))
        raw = bytearray(base64.b64decode(value.text))
        raw[0] ^= 1
        value.text = base64.b64encode(bytes(raw)).decode()
    root = changed(signer, flip)
    refused(lambda: verify(root, trust), "SEC00002")


def test_the_replay_token_ignores_line_breaks_in_the_signature_value(signer, trust):
    root = signed(signer)
    first = verify(root, trust).replay_token
    value = root.find(".//" + q(DS, "SignatureValue"))
    value.text = "\n".join(value.text[i:i + 64] for i in range(0, len(value.text), 64))
    assert verify(root, trust).replay_token == first


def test_the_ecdsa_twin_of_a_signature_is_the_same_replay_token():
    """(r, s) and (r, n - s) both verify: the replay token must be what was signed, else a
    replayed message with the twin signature would look new."""
    ca_key, ca_cert = pki.make_ca("ec CA", key_type="ec256")
    key, cert = pki.issue(ca_key, ca_cert, "ec signer", "EC", "0999999999", key_type="ec256")
    from cryptography.hazmat.primitives import serialization
    from kszws.security.keystore import SigningIdentity

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    ec_identity = SigningIdentity(private=key, key=xmlsec.Key.from_memory(
        pem, xmlsec.KeyFormat.PEM), certificate=certificate_from_x509(cert),
        algorithm=xmlsec.Transform.ECDSA_SHA256)
    trust = TrustStore()
    trust.add(ec_identity.certificate, "ec")
    root = etree.fromstring(soap.serialize(wsse.sign(request_envelope(), ec_identity, now(),
                                                     datetime.timedelta(minutes=5))))
    first = verify(root, trust).replay_token
    value = root.find(".//" + q(DS, "SignatureValue"))
    raw = base64.b64decode(value.text)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 n
    value.text = base64.b64encode(r + (order - s).to_bytes(32, "big")).decode()
    assert verify(root, trust).replay_token == first


# --- authn: the caller, and the endpoint's and institution's policies -----------------------

@pytest.fixture(scope="module")
def gate(project):
    registry = load_registry(project)
    return Authenticator(registry, build_trust_store(registry),
                         Credentials(project.data_dir / "credentials.json"), POLICY, now)


def basic(project, institution, password=None):
    user = "E" + load_registry(project).institutions[institution].cbe
    password = password or (project.certs_dir / ("%s.password" % institution)).read_text().strip()
    return b"Basic " + base64.b64encode(("%s:%s" % (user, password)).encode())


def identify(gate, root=None, **transport):
    root = root if root is not None else etree.fromstring(soap.serialize(request_envelope()))
    header, body = soap.split_envelope(root)
    return gate.identify(root, header, body, Transport(**transport))


@branch("authn", "SEC00009", "HTTP Basic user and signer are different institutions")
def test_signed_by_one_institution_with_the_basic_credentials_of_another(project, gate, signer):
    refused(lambda: identify(gate, signed(signer), authorization=basic(project, "cpas-liege")),
            "SEC00009", "HTTP Basic user and signer are different")


@branch("authn", "SEC00009", "only the Basic HTTP authentication scheme is supported")
def test_a_bearer_token(gate):
    refused(lambda: identify(gate, authorization=b"Bearer abc"), "SEC00009",
            "only the Basic HTTP authentication scheme")


@branch("authn", "SEC00009", "malformed Basic credentials")
@pytest.mark.parametrize("encoded", [b"not base64!", base64.b64encode(b"\xff\xfe:x")])
def test_malformed_basic_credentials(gate, encoded):
    refused(lambda: identify(gate, authorization=b"Basic " + encoded), "SEC00009",
            "malformed Basic credentials")


@branch("authn", "SEC00009")
@pytest.mark.parametrize("case", ["wrong password", "unknown user", "no colon"])
def test_wrong_basic_credentials(project, gate, case):
    header = {"wrong password": basic(project, "cpas-liege", "wrong"),
              "unknown user": b"Basic " + base64.b64encode(b"E0000000097:x"),
              "no colon": b"Basic " + base64.b64encode(b"E0207311071")}[case]
    refused(lambda: identify(gate, authorization=header), "SEC00009")


def test_right_basic_credentials(project, gate):
    caller = identify(gate, authorization=basic(project, "cpas-liege"))
    assert (caller.institution.id, caller.method) == ("cpas-liege", "basic")


@branch("authn", "SEC00011")
def test_an_unregistered_client_certificate(gate):
    der = base64.b64decode(stranger().certificate.bst)
    refused(lambda: identify(gate, client_certificate=der, secure=True), "SEC00011")


@branch("authn", "SEC00005", "client certificate outside its validity period")
def test_an_expired_client_certificate(project, gate):
    der = base64.b64decode(load_identity(project, "test-expired").certificate.bst)
    refused(lambda: identify(gate, client_certificate=der, secure=True), "SEC00005",
            "client certificate outside its validity period")


def service(**kw):
    from kszws.registry import Service

    fields = dict(name="S", path="/s", wsdl="", signed=False, anonymous=False, route="hub")
    fields.update(kw)
    return Service(**fields)


@branch("authn", "SEC00001", "PLAIN_HTTP_HINT")
def test_anonymous_over_plain_http_is_told_about_https(gate):
    caller = identify(gate)
    error = refused(lambda: Authenticator.admit(caller, service()), "SEC00001", "Authentication")
    assert "HTTPS" in error.detail


@branch("authn", "SEC00001")
def test_anonymous_over_https(gate):
    caller = identify(gate, secure=True)
    refused(lambda: Authenticator.admit(caller, service()), "SEC00001")


def test_anonymous_may_call_an_anonymous_service_but_not_a_signed_one(gate):
    caller = identify(gate, secure=True)
    Authenticator.admit(caller, service(anonymous=True))
    refused(lambda: Authenticator.admit(caller, service(anonymous=True, signed=True)),
            "SEC00001")


@branch("authn", "SEC00004", "the hub's own certificate cannot call the hub")
def test_the_hub_calling_itself(project, gate):
    hub = load_identity(project, "kszws-hub")
    caller = identify(gate, signed(None, identity=hub))
    assert caller.institution.kind == "hub"
    refused(lambda: Authenticator.admit(caller, service()), "SEC00004", "the hub's own")


@branch("authn", "SEC00010", "%s must sign its requests")
def test_basic_on_a_signed_service(project, gate):
    caller = identify(gate, authorization=basic(project, "cpas-liege"))
    refused(lambda: Authenticator.admit(caller, service(signed=True)), "SEC00010",
            "cpas-liege must sign")
    Authenticator.admit(caller, service())


# --- The inventory --------------------------------------------------------------------------

def refusal_branches(module, name):
    """(name, code, message prefix) of every `raise Refusal(...)` in `module`: the message's
    string constant (of a % template, its left side), the name of a constant message, or
    None for none."""
    found = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                and getattr(node.exc.func, "id", None) == "Refusal"):
            continue
        code = node.exc.args[0].value
        messages = [None]
        if len(node.exc.args) > 1:
            messages = _messages(node.exc.args[1])
        found.update((name, code, m) for m in messages)
    return found


def _messages(node):
    if isinstance(node, ast.Constant):
        return [node.value]
    if isinstance(node, ast.BinOp):  # "template %s" % (...)
        return _messages(node.left)
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.IfExp):  # HINT if ... else None
        return _messages(node.body) + _messages(node.orelse)
    raise AssertionError("an unexpected refusal message: %s" % ast.dump(node))


@pytest.mark.skipif("MUTANT_UNDER_TEST" in os.environ,
                    reason="under mutmut the modules' source is its rewritten copy")
def test_every_refusal_branch_has_a_test():
    branches = refusal_branches(wsse, "wsse") | refusal_branches(authn, "authn")
    untested = branches - set(BRANCHES)
    assert not untested, "refusal branches without a test: %s" % sorted(untested, key=str)
    stale = set(BRANCHES) - branches
    assert not stale, "tests for branches that no longer exist: %s" % sorted(stale, key=str)
