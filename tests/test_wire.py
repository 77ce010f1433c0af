"""wire/: hostile-input parsing, SOAP envelopes, faults, new-style blocks."""
import datetime

import pytest
from lxml import etree

from kszws.wire import newstyle, soap, xmlparse
from kszws.wire.reasons import REASONS, Refusal

BOMB = (b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<a>&lol3;</a>')


@pytest.mark.parametrize("data, code", [
    (b"<a><b></a>", "XML00001"),
    (b"", "XML00001"),
    (b"not xml at all", "XML00001"),
    (b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "XML00002"),
    (b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>', "XML00002"),
    (b'<!DOCTYPE a SYSTEM "http://example.invalid/a.dtd"><a/>', "XML00002"),
    (BOMB, "XML00002"),
    (b"<a>&undeclared;</a>", "XML00002"),
    (b"<a>" * 5000 + b"</a>" * 5000, "XML00003"),
    (b"<a>\xff\xfe\xc3</a>", "XML00004"),
])
def test_hostile_xml_is_refused_with_a_stable_code(data, code):
    with pytest.raises(Refusal) as info:
        xmlparse.parse(data)
    assert info.value.code == code


def test_xxe_file_content_never_appears():
    data = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/hostname">]><a>&x;</a>'
    with pytest.raises(Refusal):
        xmlparse.parse(data)


def test_declared_encodings_are_honoured():
    root = xmlparse.parse('<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>'.encode("latin-1"))
    assert root.text == "é"


def envelope(inner):
    return xmlparse.parse(('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
                           '%s</s:Envelope>' % inner).encode())


def test_split_envelope():
    header, body = soap.split_envelope(envelope("<s:Header/><s:Body><x/></s:Body>"))
    assert header is not None and soap.body_payload(body).tag == "x"
    header, body = soap.split_envelope(envelope("<s:Body><x/></s:Body>"))
    assert header is None


@pytest.mark.parametrize("inner", [
    "<s:Body/><s:Body/>",
    "<s:Header/><s:Header/><s:Body/>",
    "<s:Body/><s:Header/>",
    "<s:Header/>",
    "<s:Body/><other/>",
])
def test_malformed_envelopes_are_refused(inner):
    with pytest.raises(Refusal) as info:
        soap.split_envelope(envelope(inner))
    assert info.value.code == "SOAP0001"


def test_not_an_envelope():
    with pytest.raises(Refusal) as info:
        soap.split_envelope(xmlparse.parse(b"<Envelope/>"))
    assert info.value.code == "SOAP0001"


def test_body_needs_exactly_one_payload():
    _, body = soap.split_envelope(envelope("<s:Body><a/><b/></s:Body>"))
    with pytest.raises(Refusal):
        soap.body_payload(body)


def test_fault_shape():
    env = soap.fault("Client", "bad", etree.Element("d"))
    f = env.find("%s/%s" % (soap.BODY, soap.FAULT))
    assert f.findtext("faultcode") == "soapenv:Client"
    assert f.findtext("faultstring") == "bad"
    assert f.find("detail/d") is not None


def test_cbss_fault_detail_shape():
    t = datetime.datetime(2012, 5, 23, 8, 19, 9, 29000, tzinfo=datetime.timezone.utc)
    elt = newstyle.cbss_fault("{urn:x}someFault", "MSG00003", "f4b9cabe-e457-4f6b-bfcc-00fe258a9b7f",
                              t, t, information=[("field", "value")])
    assert [c.tag for c in elt] == ["informationCBSS", "detail"]
    assert elt.findtext("informationCBSS/timestampReceive") == "2012-05-23T08:19:09.029Z"
    assert elt.findtext("detail/severity") == "FATAL"
    assert elt.findtext("detail/reasonCode") == "MSG00003"
    assert elt.findtext("detail/information/fieldName") == "field"


def test_reason_codes_are_short_and_unique():
    assert all(len(code) <= 16 for code in REASONS)
    assert all(r.fault_code in ("", "Client", "Server", "MustUnderstand") for r in REASONS.values())
