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
    assert all(r.fault_code in ("", "Client", "Server", "MustUnderstand", "VersionMismatch")
               for r in REASONS.values())


# --- No I/O for declarations, no processing instructions, comments outside the text ---

def _parse_within(data, seconds=2.0):
    """parse() in a daemon thread: a parser that opened a FIFO would block there for good."""
    import threading

    outcome = []

    def run():
        try:
            outcome.append(xmlparse.parse(data))
        except Exception as exc:  # handed to the test below
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        pytest.fail("parse() blocked: it opened something it was pointed at")
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]


@pytest.fixture()
def fifo(tmp_path):
    import os

    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("template", [
    '<!DOCTYPE a SYSTEM "{path}"><a/>',
    '<!DOCTYPE a PUBLIC "-//kszws//x" "{path}"><a/>',
    '<!DOCTYPE a [<!ENTITY % p SYSTEM "{path}"> %p;]><a/>',
    '<!DOCTYPE a [<!ENTITY e SYSTEM "{path}">]><a>&e;</a>',
    '<!DOCTYPE a [<!ENTITY e SYSTEM "file://{path}">]><a b="&e;"/>',
])
def test_a_declaration_opens_nothing_and_names_nothing(template, fifo, tmp_path):
    """The FIFO would block an opener for good; an existing file and a missing one get the
    very same answer, which names neither and carries none of libxml2's text."""
    existing = tmp_path / "exists.dtd"
    existing.write_text('<!ENTITY leak "secret">')
    answers = set()
    for path in (fifo, existing, tmp_path / "missing.dtd"):
        with pytest.raises(Refusal) as info:
            _parse_within(template.format(path=path).encode())
        answers.add((info.value.code, info.value.detail))
    assert answers == {("XML00002", xmlparse.DECLARATION_REFUSED)}
    assert str(tmp_path) not in xmlparse.DECLARATION_REFUSED


@pytest.mark.parametrize("data", [
    b'<?xml-stylesheet href="/etc/passwd"?><a/>',
    b"<a>x<?php echo 1; ?>y</a>",
    b"<a/><?trailing?>",
])
def test_processing_instructions_are_refused(data):
    with pytest.raises(Refusal) as info:
        xmlparse.parse(data)
    assert info.value.code == "XML00005"


def test_the_xml_declaration_and_pi_lookalikes_in_cdata_are_not_instructions():
    root = xmlparse.parse(b'<?xml version="1.0"?><a><![CDATA[<?xml version="1.0"?><b/>]]></a>')
    assert root.text == '<?xml version="1.0"?><b/>'


@pytest.mark.parametrize("data, text", [
    (b"<a>xsw<!---->battery</a>", "xswbattery"),
    (b"<a>1<!-- one -->2<!-- two -->3</a>", "123"),
    (b"<a><!-- lead -->whole</a>", "whole"),
])
def test_comments_never_cut_text(data, text):
    root = xmlparse.parse(data)
    assert root.text == text and len(root) == 0


def test_a_soap12_envelope_is_a_version_mismatch():
    data = (b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope">'
            b"<e:Body><x/></e:Body></e:Envelope>")
    with pytest.raises(Refusal) as info:
        soap.split_envelope(xmlparse.parse(data))
    assert info.value.code == "SOAP0004"
    assert info.value.reason.fault_code == "VersionMismatch"


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0"' + b" " * 400 + b'encoding="UTF-7"?><a/>',  # padded past a prefix
    b'<?xml version="1.0" encoding="Shift_JIS"?><a/>',
    b"\xff\xfe\x00\x00" + "<a/>".encode("utf-32-le"),  # UTF-32 with its mark...
    "<a/>".encode("utf-32-be"),  # ... and UCS-4 without
    b'<?xml version="1.0"' + b" " * 2000 + b"?><a/>",
])
def test_encodings_outside_the_accepted_ones_are_refused(data):
    with pytest.raises(Refusal) as info:
        xmlparse.parse(data)
    assert info.value.code == "XML00004"


def test_a_declaration_followed_by_a_syntax_error_gets_the_fixed_answer():
    with pytest.raises(Refusal) as info:
        xmlparse.parse(b'<!DOCTYPE x SYSTEM "/etc/passwd"><a><b></a>')
    assert (info.value.code, info.value.detail) == ("XML00002", xmlparse.DECLARATION_REFUSED)


def test_a_refusal_quoting_characters_xml_cannot_carry_still_makes_a_fault():
    """Found by the fuzzer: a NUL in a declared encoding, quoted in the refusal, made
    building the fault itself fail (and the request went unanswered and unlogged)."""
    with pytest.raises(Refusal) as info:
        xmlparse.parse(b'<?xml version="1.0" encoding="UTF\x00\x17-16"?><a/>')
    fault = newstyle.cbss_fault("{urn:x}fault", info.value.code, "t",
                                datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
                                datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
                                info.value.detail)
    assert "\ufffd" in fault.findtext(".//diagnostic")


@pytest.mark.parametrize("codec, mark", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_utf16_with_its_mark_and_its_declaration_is_read(codec, mark):
    document = mark + '<?xml version="1.0" encoding="UTF-16"?><a>é</a>'.encode(codec)
    assert xmlparse.parse(document).text == "é"


def test_parse_takes_bytes_and_says_so():
    with pytest.raises(TypeError, match=r"^parse\(\) takes bytes$"):
        xmlparse.parse("<a/>")
