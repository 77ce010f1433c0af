"""The AS4 wire of the EESSI access point, in process: MIME packaging, the ebMS header read
from EESSI's real messages, the signature over eb:Messaging, Body and attachments, and
the receipts' non-repudiation information."""
import base64
import gzip
import hashlib
from pathlib import Path

import pytest
from lxml import etree

from kszws.eessi import ebms, mime, signature
from kszws.eessi.errors import ERRORS, EbmsError
from kszws.security import keystore
from kszws.wire.ns import DS, EB, EBBP, q
from tests import eessitools

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eessi"
NOW = eessitools.now()  # set again once the keys exist (see parties)


@pytest.fixture(scope="module")
def parties(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("as4")
    german, ca = eessitools.identity(tmp, "DE-AP")
    stranger, _ = eessitools.identity(tmp, "stranger")  # another CA, not registered
    trust = keystore.TrustStore()
    trust.add(german.certificate, "DE:101002970")
    # The clock is fixed after the certificates are made: fixed at import, it fell before
    # their not-before when a slow suite took more than five minutes to reach this module.
    global NOW
    NOW = eessitools.now()
    return german, stranger, trust


def signed(parties, payload=b"<sed>A003</sed>"):
    german = parties[0]
    message = eessitools.user_message("DE:101002970", "BE:0206731645", NOW)
    content_type, body = eessitools.package(message, payload, german)
    return message, mime.read(content_type, body)


def verify(parties, package, root=None):
    root = root if root is not None else etree.fromstring(package.envelope)
    return signature.verify(root, package.attachments, parties[2], NOW)


def refused(code, parties, package, root=None):
    with pytest.raises(EbmsError) as caught:
        verify(parties, package, root)
    assert caught.value.code == code, caught.value
    return caught.value.detail


# --- MIME -------------------------------------------------------------------------------

def test_a_package_reads_back_with_its_binary_attachment_intact():
    data = bytes(range(256)) * 40 + b"\r\n--not-a-boundary\r\n"
    content_type, body = mime.write(b"<e/>", [("defaultSED", "application/gzip", data)])
    package = mime.read(content_type, body)
    assert package.envelope == b"<e/>"
    assert package.attachments == {"defaultSED": data}
    assert package.attachment_types == {"defaultSED": "application/gzip"}


def test_a_signal_travels_as_plain_soap_12():
    content_type, body = mime.write(b"<e/>", [])
    assert content_type.startswith("application/soap+xml")
    assert mime.read(content_type, body).attachments == {}


@pytest.mark.parametrize("content_type, body, says", [
    ("text/xml", b"<e/>", "text/xml"),
    ("multipart/related; boundary=b", b"no parts at all", "no parts"),
    ('multipart/related; boundary=b; start="<nope>"',
     b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<e/>\r\n--b--\r\n", "start"),
    ("multipart/related; boundary=b",
     b"--b\r\nContent-Type: text/plain\r\n\r\n<e/>\r\n--b--\r\n", "root part"),
    ("multipart/related; boundary=b",
     b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<e/>\r\n--b\r\n"
     b"Content-Type: application/gzip\r\n\r\nxx\r\n--b--\r\n", "Content-ID"),
])
def test_mime_that_as4_does_not_send_is_ebms_0007(content_type, body, says):
    with pytest.raises(EbmsError) as caught:
        mime.read(content_type, body)
    assert caught.value.code == "EBMS:0007" and says in caught.value.detail


def test_a_flood_of_parts_is_refused():
    parts = [("p%d" % i, "application/gzip", b"x") for i in range(mime.MAX_PARTS + 1)]
    with pytest.raises(EbmsError, match="MIME parts"):
        mime.read(*mime.write(b"<e/>", parts))


# --- the ebMS header of EESSI's real messages ------------------------------------------------

def shared(name):
    path = SHARED / name
    if not path.exists():
        pytest.skip("../shared/eessi/%s is absent" % name)
    return path.read_bytes()


def test_the_real_eessi_receipt_reads_as_a_receipt_with_three_nrr_references():
    signal = ebms.read(etree.fromstring(shared("as4net-eessi-multihop-receipt.xml")))
    assert signal.kind == "receipt"
    assert signal.ref_to_message_id == "bd03149f-0db1-4af9-aa78-a964045ecb86@EESSIDEV09"
    assert [r[0] for r in signal.references] == [
        "#header-44ba18b1-0d37-418f-8717-3b79e31c2c1c",
        "#body-286c1e5a-6b1c-4969-8b97-8b677e8dce97", "cid:defaultSED"]
    assert signal.references[2][2] == "SJczHLj+hF4l2lC5Aa0216lIMfJaGojjUlYyNdR9tR4="
    assert signal.timestamp.microsecond == 303564  # .NET writes 7 digits (.3035649); 6 kept


def test_the_real_eessi_error_signal_reads_from_its_mime_package():
    raw = shared("as4net-eessi-multihop-error-signal.as4").lstrip(b"\xef\xbb\xbf\r\n")
    boundary = raw.split(b"\n", 1)[0].strip()[2:].decode()
    package = mime.read('multipart/related; boundary="%s"' % boundary, raw)
    signal = ebms.read(etree.fromstring(package.envelope))
    assert signal.kind == "error"
    assert signal.errors == (("EBMS:0004", "failure", "this is my other error"),)
    assert signal.ref_to_message_id == "5b09912c-22c5-4424-a21f-d3e9c0b5258a@TESTFX"


def test_a_user_message_reads_back_as_it_was_built():
    message = eessitools.user_message("DE:101002970", "BE:0206731645", NOW)
    assert ebms.read(ebms.user_message_envelope(message)) == message


def envelope_with(change):
    message = eessitools.user_message("DE:101002970", "BE:0206731645", NOW)
    env = ebms.user_message_envelope(message)
    change(env)
    return env


def _set(path, value=None, attribute=None):
    def change(env):
        node = env.find(".//" + path, {"eb": EB})
        if attribute:
            node.set(attribute, value)
        elif value is None:
            node.getparent().remove(node)
        else:
            node.text = value
    return change


@pytest.mark.parametrize("change, code, says", [
    (_set("eb:MessageInfo/eb:Timestamp"), "EBMS:0009", "Timestamp is missing"),
    (_set("eb:MessageInfo/eb:Timestamp", "yesterday"), "EBMS:0009", "not a dateTime"),
    (_set("eb:To/eb:PartyId"), "EBMS:0009", "To needs one PartyId"),
    (_set("eb:From/eb:PartyId", "urn:other", "type"), "EBMS:0010", "PartyId type"),
    (_set("eb:Service", "Other"), "EBMS:0010", "Service must be"),
    (_set("eb:Action", "Delete"), "EBMS:0010", "Action"),
    (_set("eb:ConversationId"), "EBMS:0009", "ConversationId is missing"),
    (_set("eb:PartInfo", "http://example.org/sed.xml", "href"), "EBMS:0011", "cid:"),
])
def test_a_malformed_user_message_is_refused_with_its_code(change, code, says):
    with pytest.raises(EbmsError) as caught:
        ebms.read(envelope_with(change))
    assert caught.value.code == code and says in caught.value.detail
    assert caught.value.ref_to_message_id.endswith("@kszws")  # the error refers to it


def test_two_messaging_headers_are_an_invalid_header():
    env = envelope_with(lambda env: None)
    header = env.find(ebms.HEADER)
    header.append(etree.fromstring(etree.tostring(header.find(ebms.MESSAGING))))
    with pytest.raises(EbmsError, match="found 2"):
        ebms.read(env)


def test_the_error_table_keeps_the_spec_severities():
    assert ERRORS["EBMS:0006"].severity == "warning"  # the normal answer to an empty pull
    assert ERRORS["EBMS:0303"].short == "DecompressionFailure"
    assert {e.severity for c, e in ERRORS.items() if c not in ("EBMS:0002", "EBMS:0006")} \
        == {"failure"}


# --- the signature ------------------------------------------------------------------------

def test_a_signed_message_verifies_and_names_its_signer(parties):
    _, package = signed(parties)
    verified = verify(parties, package)
    assert verified.principal == "DE:101002970"
    assert [r.get("URI")[:4] for r in verified.references] == ["#hea", "#bod", "cid:"]


def test_a_tampered_attachment_fails_authentication(parties):
    _, package = signed(parties)
    package.attachments["defaultSED"] = gzip.compress(b"<sed>A004</sed>")
    assert "cid:defaultSED" in refused("EBMS:0101", parties, package)


def test_a_tampered_header_fails_authentication(parties):
    _, package = signed(parties)
    root = etree.fromstring(package.envelope)
    root.find(".//" + q(EB, "ConversationId")).text = "case-2"
    refused("EBMS:0101", parties, package, root)


def test_a_forged_signature_value_fails_authentication(parties):
    _, package = signed(parties)
    root = etree.fromstring(package.envelope)
    value = root.find(".//" + q(DS, "SignatureValue"))
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 1
    value.text = base64.b64encode(bytes(raw)).decode()
    refused("EBMS:0101", parties, package, root)


def test_an_attachment_outside_the_signature_is_refused(parties):
    _, package = signed(parties)
    package.attachments["extra"] = b"unsigned"
    assert "every attachment" in refused("EBMS:0103", parties, package)


def test_a_reference_to_another_element_is_refused(parties):
    _, package = signed(parties)
    root = etree.fromstring(package.envelope)
    ref = root.find(".//" + q(DS, "Reference"))
    root.find(".//" + q(EB, "UserMessage")).set(
        "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd}Id",
        "um")
    ref.set("URI", "#um")
    refused("EBMS:0103", parties, package, root)


def test_a_wrapped_copy_of_the_messaging_header_is_refused(parties):
    _, package = signed(parties)
    root = etree.fromstring(package.envelope)
    block = root.find(".//" + ebms.MESSAGING)
    root.find(ebms.BODY).append(etree.fromstring(etree.tostring(block)))
    assert "found 2" in refused("EBMS:0103", parties, package, root)


def test_an_attachment_reference_needs_the_swa_content_transform(parties):
    _, package = signed(parties)
    root = etree.fromstring(package.envelope)
    transform = root.find(".//%s[@URI='cid:defaultSED']//%s" % (q(DS, "Reference"),
                                                                  q(DS, "Transform")))
    transform.set("Algorithm", "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1"
                               "#Attachment-Complete-Signature-Transform")
    assert "Attachment-Content" in refused("EBMS:0103", parties, package, root)


def test_an_unregistered_signer_fails_authentication(parties):
    german, stranger, trust = parties
    message = eessitools.user_message("DE:101002970", "BE:0206731645", NOW)
    package = mime.read(*eessitools.package(message, b"<sed/>", stranger))
    refused("EBMS:0101", parties, package)


def test_an_expired_signer_fails_authentication(tmp_path):
    import datetime
    old, _ = eessitools.identity(tmp_path, "old", not_before=NOW - datetime.timedelta(days=9),
                                 not_after=NOW - datetime.timedelta(days=1))
    trust = keystore.TrustStore()
    trust.add(old.certificate, "DE:101002970")
    message = eessitools.user_message("DE:101002970", "BE:0206731645", NOW)
    package = mime.read(*eessitools.package(message, b"<sed/>", old))
    with pytest.raises(EbmsError) as caught:
        signature.verify(etree.fromstring(package.envelope), package.attachments, trust, NOW)
    assert caught.value.code == "EBMS:0101" and "valid" in caught.value.detail


def test_a_message_without_signature_is_a_policy_failure(parties):
    message = eessitools.user_message("DE:101002970", "BE:0206731645", NOW)
    env = ebms.user_message_envelope(message)
    refused("EBMS:0103", parties, mime.Package(etree.tostring(env), {}, {}), env)


def test_the_receipt_copies_the_digests_of_every_signed_part(parties):
    message, package = signed(parties)
    verified = verify(parties, package)
    receipt = ebms.receipt_envelope(message, verified.references, NOW)
    signal = ebms.read(receipt)
    assert signal.kind == "receipt" and signal.ref_to_message_id == message.message_id
    sed_digest = base64.b64encode(hashlib.sha256(package.attachments["defaultSED"]).digest())
    assert signal.references[2] == ("cid:defaultSED", "http://www.w3.org/2001/04/xmlenc#sha256",
                                    sed_digest.decode())
    assert len(receipt.findall(".//" + q(EBBP, "MessagePartNRInformation"))) == 3
    routed = receipt.find(".//{http://docs.oasis-open.org/ebxml-msg/ns/ebms/v3.0/multihop/"
                          "200902/}UserMessage")
    assert routed.get("mpc").endswith("defaultMPC.receipt")
    assert routed.findtext(".//" + q(EB, "Action")) == "Send.response"
    assert routed.findtext(".//%s/%s" % (q(EB, "From"), q(EB, "PartyId"))) == "BE:0206731645"


def test_an_error_signal_carries_code_severity_category_and_reference():
    message = eessitools.user_message("DE:101002970", "BE:0206731645", NOW)
    env = ebms.error_envelope(EbmsError("EBMS:0004", "SED P2000 is not allowed in LA_BUC_02"),
                              NOW, message)
    error = env.find(".//" + q(EB, "Error"))
    assert dict(error.attrib) == {
        "category": "Content", "errorCode": "EBMS:0004", "origin": "ebMS",
        "severity": "failure", "shortDescription": "Other",
        "refToMessageInError": message.message_id}
    assert error.findtext(q(EB, "ErrorDetail")) == "SED P2000 is not allowed in LA_BUC_02"
