"""wire/: hostile-input parsing, SOAP envelopes, faults, new-style blocks."""
import datetime

import pytest
from lxml import etree

from kszws.wire import newstyle, soap, xmlparse
from kszws.wire.reasons import REASONS, Refusal

@pytest.fixture(autouse=True)
def fresh_parser():
    """Each test builds its thread's parser anew: the one cached by an earlier test (or
    by the process a mutation test forked from) would hide what _parser() makes."""
    xmlparse._local.__dict__.pop("parser", None)
    yield


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
    assert refusal_of(data) == ("XML00005", "a processing instruction is present")


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


# --- the encodings, each refusal with its exact wording (xmlparse._check_encoding) --------

def refusal_of(data):
    with pytest.raises(Refusal) as info:
        xmlparse.parse(data)
    return info.value.code, info.value.detail


LE, BE, UTF8_MARK = b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf"


@pytest.mark.parametrize("data, detail", [
    (b"\xff\xfe\x00\x00" + "<a/>".encode("utf-32-le"), "UTF-32 / UCS-4 is not accepted"),
    ("<a/>".encode("utf-16-le"), "UTF-16 without a byte order mark is not accepted"),
    ("<a/>".encode("utf-16-be"), "UTF-16 without a byte order mark is not accepted"),
    (b'<?xml version="1.0"' + b" " * 2000 + b"?><a/>",
     "the XML declaration is longer than 1024 characters"),
    (b'<?xml version="1.0" encoding="UTF-7"?><a/>', "encoding UTF-7 is not accepted"),
    (b'<?xml version="1.0" encoding="' + b"A" * 60 + b'"?><a/>',
     "encoding " + "A" * 40 + " is not accepted"),  # quoted, cut at 40
    (UTF8_MARK + b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>',
     "encoding ISO-8859-1 with a UTF-8 byte order mark is not accepted"),
    (UTF8_MARK + b'<?xml version="1.0" encoding="UTF-7"?><a/>',
     "encoding UTF-7 with a UTF-8 byte order mark is not accepted"),
    (LE + '<?xml version="1.0" encoding="UTF-8"?><a/>'.encode("utf-16-le"),
     "encoding UTF-8 with a UTF-16LE byte order mark is not accepted"),
    (BE + '<?xml version="1.0" encoding="ISO-8859-1"?><a/>'.encode("utf-16-be"),
     "encoding ISO-8859-1 with a UTF-16BE byte order mark is not accepted"),
])
def test_each_encoding_refusal_says_what_it_refused(data, detail):
    assert refusal_of(data) == ("XML00004", detail)


@pytest.mark.parametrize("name", ["UTF-8", "utf8", "US-ASCII", "ascii", "ISO-8859-1", "latin1",
                                  "ISO-8859-15", "windows-1252", "CP1252"])
def test_the_eight_bit_encodings_are_accepted_without_a_mark(name):
    data = ('<?xml version="1.0" encoding="%s"?><a>x</a>' % name).encode("ascii")
    assert xmlparse._check_encoding(data) is None
    assert xmlparse.parse(data).text == "x"


@pytest.mark.parametrize("declaration", ['', '<?xml version="1.0"?>',
                                         '<?xml version="1.0" encoding="UTF-8"?>',
                                         "<?xml version='1.0' encoding='utf8'?>"])
def test_a_utf8_mark_goes_with_utf8_or_no_encoding(declaration):
    assert xmlparse.parse(UTF8_MARK + (declaration + "<a>é</a>").encode()).text == "é"


@pytest.mark.parametrize("mark, codec", [(LE, "utf-16-le"), (BE, "utf-16-be")])
@pytest.mark.parametrize("declaration", ['', '<?xml version="1.0"?>',
                                         '<?xml version="1.0" encoding="UTF-16"?>',
                                         '<?xml version="1.0" encoding="utf-16"?>'])
def test_a_utf16_mark_goes_with_utf16_or_no_encoding(mark, codec, declaration):
    assert xmlparse.parse(mark + (declaration + "<a>é</a>").encode(codec)).text == "é"


@pytest.mark.parametrize("mark, codec, name", [(LE, "utf-16-le", "UTF-16LE"),
                                               (BE, "utf-16-be", "UTF-16BE")])
def test_a_utf16_mark_may_name_its_byte_order(mark, codec, name):
    data = mark + ('<?xml version="1.0" encoding="%s"?><a/>' % name).encode(codec)
    assert xmlparse._check_encoding(data) is None


def test_a_utf16_mark_declaring_an_eight_bit_encoding_is_refused_before_libxml2():
    """Without the byte order mark read, the declaration would be read as Latin-1 and
    an eight-bit encoding pass."""
    data = LE + '<?xml version="1.0" encoding="US-ASCII"?><a/>'.encode("utf-16-le")
    assert refusal_of(data)[1] == "encoding US-ASCII with a UTF-16LE byte order mark is " \
                                  "not accepted"


def test_a_truncated_utf16_document_is_refused_cleanly():
    """An odd byte at the end: the declaration is still read (undecodable bytes replaced),
    and the document refused with a code, never a Python error."""
    code, _ = refusal_of(LE + "<a/>".encode("utf-16-le") + b"\x00")
    assert code in ("XML00001", "XML00004")


def test_only_byte_order_marks_are_skipped_before_the_declaration():
    """Text before `<?xml` makes it no declaration: the document is malformed (XML00001),
    not judged by the encoding it would declare."""
    assert refusal_of(b'XX<?xml version="1.0" encoding="UTF-7"?><a/>')[0] == "XML00001"


def test_what_only_looks_like_a_declaration_declares_nothing():
    with pytest.raises(Refusal) as info:  # <?xmlfoo is a processing instruction
        xmlparse.parse(b'<?xmlfoo encoding="UTF-7"?><a/>')
    assert info.value.code in ("XML00001", "XML00005")
    assert xmlparse._check_encoding(b'<?xmlfoo encoding="UTF-7"?><a/>') is None


# --- what the parser is made of (xmlparse._parser) ------------------------------------------

def test_the_parser_drops_comments_and_keeps_instructions_to_refuse_them():
    parser = xmlparse._parser()
    assert etree.fromstring(b"<a>x<!-- c -->y</a>", parser).text == "xy"
    assert len(etree.fromstring(b"<a><?pi x?></a>", parser)) == 1


def test_the_parser_is_made_once_per_thread():
    import threading
    first = xmlparse._parser()
    assert xmlparse._parser() is first
    other = []
    thread = threading.Thread(target=lambda: other.append(xmlparse._parser()))
    thread.start()
    thread.join()
    assert other[0] is not first


def test_the_parser_keeps_libxml2s_limits():
    """256 levels, libxml2's default (huge_tree would allow 2,048)."""
    with pytest.raises(etree.XMLSyntaxError, match="depth"):
        etree.fromstring(b"<a>" * 300 + b"</a>" * 300, xmlparse._parser())
    assert refusal_of(b"<a>" * 300 + b"</a>" * 300)[0] == "XML00003"


def test_the_parser_expands_no_entity():
    inner = etree.fromstring(b'<!DOCTYPE a [<!ENTITY e "inner">]><a>&e;</a>', xmlparse._parser())
    assert inner.text is None and "inner" not in "".join(inner.itertext())


def test_the_resolver_answers_with_an_empty_document(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    parser = etree.XMLParser(load_dtd=True, resolve_entities=True, no_network=True)
    parser.resolvers.add(xmlparse._NoExternalAccess())
    root = etree.fromstring(('<!DOCTYPE a [<!ENTITY e SYSTEM "%s">]><a>&e;</a>'
                             % secret.as_uri()).encode(), parser)
    assert "SECRET" not in etree.tostring(root).decode()


# --- libxml2's errors, classified (xmlparse._classify, _first_line, _has_declaration) ----

@pytest.mark.parametrize("message, code", [
    ("Entity 'x' not defined", "XML00002"),
    ("StartTag: invalid element name, DOCTYPE", "XML00002"),
    ("Validation failed: no DTD found", "XML00002"),
    ("internal error: external subset", "XML00002"),
    ("Excessive depth in document: 256", "XML00003"),
    ("xmlSAX2Characters: huge text node", "XML00003"),
    ("Resource too large", "XML00003"),
    ("Memory allocation limit exceeded", "XML00003"),
    ("Unsupported encoding: X", "XML00004"),
    ("Input is not proper UTF-8, indicate encoding !", "XML00004"),
    ("PCDATA invalid Char value 0x1", "XML00001"),
    ("xmlParseCharRef: invalid xmlChar value 0", "XML00001"),
    ("CData section not finished: Char 0x0 out of allowed range", "XML00004"),
    ("Invalid bytes in character encoding", "XML00004"),
    ("Bytes: 0xFF 0xFE 0xC3 0x3C", "XML00004"),
    ("Opening and ending tag mismatch: b line 1 and a", "XML00001"),
    ("", "XML00001"),
])
def test_libxml2_messages_map_to_stable_codes(message, code):
    assert xmlparse._classify(message) == code


def test_each_keyword_alone_decides():
    """Every word is enough by itself, in any case (no word leans on another)."""
    for words, code in ((("entity", "doctype", "dtd", "subset"), "XML00002"),
                        (("depth", "huge", "too large", "limit"), "XML00003"),
                        (("encoding", "utf-8", "char 0x", "bytes:"), "XML00004")):
        for word in words:
            assert xmlparse._classify("x %s y" % word.upper()) == code, word


def test_a_syntax_error_is_answered_with_libxml2s_first_line_cut_at_200():
    assert refusal_of(b"<a><b></a>") == (
        "XML00001", "Opening and ending tag mismatch: b line 1 and a, line 1, column 11 "
        "(<string>, line 1)")
    assert xmlparse._first_line(ValueError("one\ntwo")) == "one"
    assert xmlparse._first_line(ValueError("x" * 300)) == "x" * 200
    assert xmlparse._first_line(ValueError()) == "ValueError"


def test_an_undeclared_entity_gets_the_fixed_answer_not_libxml2s():
    assert refusal_of(b"<a>&undeclared;</a>") == ("XML00002", xmlparse.DECLARATION_REFUSED)


@pytest.mark.parametrize("data", [
    b'<!ENTITY x "y"><a/>',  # an ENTITY without its DOCTYPE, a syntax error
    LE + '<!DOCTYPE a [ <a/>'.encode("utf-16-le"),
    BE + '<!DOCTYPE a [ <a/>'.encode("utf-16-be"),
    LE + '<a><!ENTITY x "y"></a>'.encode("utf-16-le"),
    BE + '<a><!ENTITY x "y"></a>'.encode("utf-16-be"),
])
def test_a_declaration_in_a_broken_document_gets_the_fixed_answer(data):
    assert refusal_of(data) == ("XML00002", xmlparse.DECLARATION_REFUSED)
    assert xmlparse._has_declaration(data)


# --- xmlparse.stream: a large document in chunks, with parse()'s rules -------------------

STREAMED = (b"<?xml version='1.0' encoding='UTF-8'?><file xmlns='urn:f'><head>h</head>"
            b"<r><id>1</id></r><!-- a comment --><r><id>2</id></r><r><id>3</id></r></file>")


def chunks_of(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


def streamed(data, tags="{urn:f}r", size=7):
    """(tag, id text, the siblings before it: (tag, emptied)) of each element stream()
    yields."""
    out = []
    for element in xmlparse.stream(chunks_of(data, size), tags):
        before = [(etree.QName(e).localname, len(e) == 0 and e.text is None)
                  for e in element.itersiblings(preceding=True)]
        out.append((etree.QName(element).localname, element.findtext("{urn:f}id"), before))
    return out


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_stream_yields_each_element_of_the_tag_whatever_the_chunks(size):
    assert [i for _, i, _ in streamed(STREAMED, size=size)] == ["1", "2", "3"]


def test_stream_takes_several_tags_and_frees_what_was_read():
    found = streamed(STREAMED, ("{urn:f}head", "{urn:f}r"))
    assert [(tag, i) for tag, i, _ in found] == [("head", None), ("r", "1"), ("r", "2"),
                                                  ("r", "3")]
    # before each element, only the one yielded last is left, and it was emptied
    assert [before for _, _, before in found] == [[], [("head", True)], [("r", True)],
                                                  [("r", True)]]


def test_stream_clears_an_element_once_the_next_is_asked_for():
    elements = xmlparse.stream(chunks_of(STREAMED, 16), "{urn:f}r")
    first = next(elements)
    assert first.findtext("{urn:f}id") == "1"
    next(elements)
    assert len(first) == 0 and first.text is None


@pytest.mark.parametrize("data, code, same_detail", [
    (b"<!DOCTYPE f [<!ENTITY x 'y'>]><f>&x;</f>", "XML00002", True),
    (b"<f><?php echo 1 ?></f>", "XML00005", True),
    (b"<f><r></f>", "XML00001", False),  # libxml2's words differ between its two parsers
    (b"\x00\x00\x00<\x00\x00\x00f", "XML00004", True),
])
def test_stream_refuses_what_parse_refuses(data, code, same_detail):
    with pytest.raises(Refusal) as streamed_refusal:
        list(xmlparse.stream(chunks_of(data, 5), "r"))
    with pytest.raises(Refusal) as parsed_refusal:
        xmlparse.parse(data)
    assert streamed_refusal.value.code == parsed_refusal.value.code == code
    if same_detail:
        assert streamed_refusal.value.detail == parsed_refusal.value.detail


def test_stream_refuses_a_doctype_however_it_is_cut():
    data = b"<?xml version='1.0'?>\n<!DOCTYPE f SYSTEM 'file:///etc/passwd'><f/>"
    for size in (1, 3, 64):
        with pytest.raises(Refusal) as info:
            list(xmlparse.stream(chunks_of(data, size), "f"))
        assert info.value.code == "XML00002", size


def test_stream_of_an_unfinished_document_is_refused():
    with pytest.raises(Refusal) as info:
        list(xmlparse.stream([b"<f><r>1</r>"], "r"))
    assert info.value.code == "XML00001"
