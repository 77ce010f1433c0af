"""WS-Security over real HTTP on loopback (platform issue, "Done when").

Each hostile request must come back as a SOAP Fault signed by the hub, with its reason
code, and have its row in the exchange log."""
import copy
import datetime

import pytest
import xmlsec
from lxml import etree

from kszws.client import hub_client
from kszws.wire import soap
from kszws.wire.ns import WSSE, WSU, q
from tests.soaptools import Answer, log_row, now, post, request_envelope, signed


def refused(net, data, code, service="TestConnectionService", headers=None):
    answer = Answer(post(net.endpoint(service), data, headers), net.settings)
    assert answer.fault is not None, "expected a SOAP Fault"
    assert answer.reason == code, (answer.reason, etree.tostring(answer.fault))
    assert answer.signed, "every fault is signed by the hub"
    row = log_row(net.settings, answer.ticket)
    assert row is not None, "no exchange-log row for the refused request"
    assert row["reason_code"] == code
    assert row["outcome"] == "REFUSED"
    return answer, row


def test_signed_zeep_call_succeeds_and_reply_signature_verifies(net):
    proxy, history = hub_client(net.settings, "TestConnectionService", "cpas-eupen", net.url)
    result = proxy.sendTestMessage(echo="hello hub")
    assert result.echo == "hello hub"
    assert "0212310036" in result.sslCertificate  # the signer's certificate subject
    # SignedExchange.verify ran on the reply: the hub's pinned certificate, Body + Timestamp.
    reply = history.last_received["envelope"]
    assert reply.find(".//" + q(WSSE, "Security")) is not None
    answer_row = log_row(net.settings, result.informationCBSS.ticketCBSS)
    assert answer_row["outcome"] == "OK" and answer_row["caller"] == "cpas-eupen"
    assert answer_row["signed_request"] and answer_row["signed_reply"]


def test_reply_signature_checked_by_an_independent_implementation(net):
    """signxml (not xmlsec) verifies the hub's reply against the hub's certificate."""
    from signxml import SignatureConfiguration, XMLVerifier

    answer = post(net.endpoint(), signed(net.settings, "cpas-eupen"))
    root = etree.fromstring(answer.content)
    hub_pem = (net.settings.certs_dir / "kszws-hub.crt").read_text()
    verified = XMLVerifier().verify(
        root, x509_cert=hub_pem, id_attribute="Id",
        expect_config=SignatureConfiguration(require_x509=False, expect_references=2))
    tags = {v.signed_xml.tag for v in verified}
    assert tags == {soap.BODY, q(WSU, "Timestamp")}


def test_tampered_body_is_refused(net):
    data = soap.serialize(signed(net.settings, "cpas-eupen", echo="original"))
    refused(net, data.replace(b"original", b"tampered"), "SEC00002")


def test_wrapped_signature_second_body_same_id_is_refused(net):
    env = signed(net.settings, "cpas-eupen", echo="signed")
    body = env.find(soap.BODY)
    # Classic wrapping: move the signed Body into the header, put an evil one in its place
    # with the same wsu:Id.
    wrapper = etree.SubElement(env.find(soap.HEADER), "{urn:evil}Wrapper")
    wrapper.append(copy.deepcopy(body))
    body.find(".//echo").text = "evil"
    refused(net, env, "SEC00003")


def test_wrapped_timestamp_same_id_elsewhere_is_refused(net):
    env = signed(net.settings, "cpas-eupen")
    ts = env.find(".//" + q(WSU, "Timestamp"))
    decoy = etree.SubElement(env.find(soap.HEADER), "{urn:evil}Decoy")
    decoy.set(q(WSU, "Id"), ts.get(q(WSU, "Id")))
    refused(net, env, "SEC00003")


def test_unsigned_request_is_refused(net):
    refused(net, request_envelope(), "SEC00001")
    refused(net, request_envelope(), "SEC00001", service="TestConnectionServiceSigned")


def test_expired_timestamp_is_refused(net):
    old = now() - datetime.timedelta(hours=2)
    refused(net, signed(net.settings, "cpas-eupen", when=old), "SEC00006")


def test_timestamp_from_the_future_is_refused(net):
    later = now() + datetime.timedelta(hours=2)
    refused(net, signed(net.settings, "cpas-eupen", when=later), "SEC00006")


def test_replayed_message_is_refused(net):
    data = soap.serialize(signed(net.settings, "cpas-eupen"))
    first = Answer(post(net.endpoint(), data), net.settings)
    assert first.fault is None
    refused(net, data, "SEC00007")


def test_replay_with_a_respelled_signature_value_is_refused(net):
    env = signed(net.settings, "cpas-eupen")
    first = Answer(post(net.endpoint(), env), net.settings)
    assert first.fault is None
    value = env.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureValue")
    text = "".join(value.text.split())
    value.text = "\n".join(text[i:i + 20] for i in range(0, len(text), 20))
    refused(net, env, "SEC00007")


def test_unknown_certificate_is_refused(net):
    refused(net, signed(net.settings, "stranger"), "SEC00004")


def test_expired_certificate_is_refused(net):
    refused(net, signed(net.settings, "test-expired"), "SEC00005")


def test_rsa_sha1_signature_is_refused(net):
    env = signed(net.settings, "cpas-eupen", method=xmlsec.Transform.RSA_SHA1)
    answer, _ = refused(net, env, "SEC00003")
    assert "rsa-sha1" in answer.root.findtext(".//diagnostic")


def test_sha1_digests_under_rsa_sha256_are_refused(net):
    env = signed(net.settings, "cpas-eupen", digest=xmlsec.Transform.SHA1)
    answer, _ = refused(net, env, "SEC00003")
    assert "sha1" in answer.root.findtext(".//diagnostic")


def test_second_unsigned_timestamp_is_refused(net):
    env = signed(net.settings, "cpas-eupen")
    security = env.find(".//" + q(WSSE, "Security"))
    extra = etree.SubElement(security, q(WSU, "Timestamp"))
    etree.SubElement(extra, q(WSU, "Created")).text = "2030-01-01T00:00:00Z"
    refused(net, env, "SEC00008")


def test_second_security_header_is_refused(net):
    env = signed(net.settings, "cpas-eupen")
    header = env.find(soap.HEADER)
    header.append(etree.Element(q(WSSE, "Security")))
    refused(net, env, "SEC00008")


def test_dtd_is_refused(net):
    data = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
            + soap.serialize(signed(net.settings, "cpas-eupen")).split(b"?>", 1)[1])
    refused(net, data, "XML00002")


def test_signature_covering_only_the_body_is_refused(net):
    refused(net, signed(net.settings, "cpas-eupen", targets=("body",)), "SEC00003")


def test_mustunderstand_header_not_understood_gets_mustunderstand_fault(net):
    env = signed(net.settings, "cpas-eupen")
    block = etree.SubElement(env.find(soap.HEADER), "{urn:other}Routing")
    block.set(q(soap.SOAP11, "mustUnderstand"), "1")
    answer, _ = refused(net, env, "SOAP0003")
    assert answer.faultcode == "soapenv:MustUnderstand"


@pytest.mark.parametrize("order", [("bst", "ts", "sig"), ("ts", "bst", "sig"),
                                   ("sig", "ts", "bst"), ("bst", "sig", "ts")])
def test_security_header_children_in_any_order(net, order):
    answer = Answer(post(net.endpoint(), signed(net.settings, "cpas-eupen", order=order)),
                    net.settings)
    assert answer.fault is None and answer.signed


@pytest.mark.parametrize("key_info", ["issuer-serial", "ski"])
def test_wss4j_key_references_are_accepted(net, key_info):
    env = signed(net.settings, "cpas-eupen", key_info=key_info)
    answer = Answer(post(net.endpoint(), env), net.settings)
    assert answer.fault is None, etree.tostring(answer.root)


def test_rsa_sha512_is_accepted(net):
    env = signed(net.settings, "cpas-eupen", method=xmlsec.Transform.RSA_SHA512,
                 digest=xmlsec.Transform.SHA512)
    assert Answer(post(net.endpoint(), env), net.settings).fault is None


def test_institution_in_signature_mode_may_not_use_basic(net):
    import requests

    password = (net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    # cpas-liege is in basic mode: fine. Its credentials are not valid for a signer.
    ok = Answer(post(net.endpoint(), request_envelope(), auth=("E0207311071", password)),
                net.settings)
    assert ok.fault is None and not ok.signed
    refused(net, request_envelope(), "SEC00009",
            headers=dict(HEADERS_BASIC, Authorization=requests.auth._basic_auth_str(
                "E0212310036", password)))


def test_signed_endpoint_refuses_basic_callers(net):
    password = (net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    answer = Answer(post(net.endpoint("TestConnectionServiceSigned"), request_envelope(),
                         auth=("E0207311071", password)), net.settings)
    assert answer.reason == "SEC00010" and answer.signed


def test_quiet_institution_gets_unsigned_replies_but_signed_faults(net):
    ok = Answer(post(net.endpoint(), signed(net.settings, "test-quiet")), net.settings)
    assert ok.fault is None and not ok.signed
    old = now() - datetime.timedelta(hours=2)
    refused(net, signed(net.settings, "test-quiet", when=old), "SEC00006")


HEADERS_BASIC = {"Content-Type": "text/xml; charset=utf-8"}


@pytest.mark.parametrize("comment", [b"<!---->", b"<!-- x -->", b"<!--a--><!--b-->"])
def test_a_comment_inserted_into_signed_text_never_shortens_it(net, comment):
    """Exclusive C14N without comments does not sign comments, so the signature still
    verifies; the operation must read the whole signed text ("xswbattery"), not "xsw"."""
    data = soap.serialize(signed(net.settings, "cpas-eupen", echo="xswbattery"))
    cut = data.replace(b"xswbattery", b"xsw" + comment + b"battery")
    answer = Answer(post(net.endpoint(), cut), net.settings)
    assert answer.fault is None
    assert answer.body.findtext(".//echo") == "xswbattery"
