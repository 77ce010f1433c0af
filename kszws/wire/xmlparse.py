"""Parsing hostile XML safely.

Every byte that reaches the hub from outside goes through `parse()`: envelopes, the SSDN
string inside `sendXML`, source replies, files. Three rules, all enforced here:

- No I/O, ever. libxml2 reads a DOCTYPE's external subset even with `load_dtd=False`
  (measured: `<!DOCTYPE x SYSTEM "/path">` opens the file, and blocks on a FIFO), and
  consults its XML catalogue. The parser is therefore given a resolver that answers every
  URL libxml2 asks for with an empty document, so nothing is opened, then any document
  type declaration is refused with one fixed answer (XML00002) that names no file and
  carries none of libxml2's text: an attacker learns nothing by pointing it anywhere.
- No processing instructions (SOAP 1.1 §3: a SOAP message must not contain them), XML00005.
- Comments are dropped while parsing. Exclusive C14N without comments (what WS-Security
  signs) leaves them out of the signature, so a comment inserted into a signed text node
  (`xsw<!---->battery`) keeps the signature valid; dropping it joins the text back
  (`xswbattery`), and the application reads exactly the text that was signed.

- Only the encodings SOAP clients use: UTF-8 and UTF-16 (WS-I Basic Profile R4003), with
  a byte order mark that agrees with the declaration, and the 8-bit Latin encodings that
  older PHP clients declare. UTF-7, EBCDIC and their kind are refused (XML00004): they
  exist to smuggle markup past byte-level filters.

libxml2's default depth and size limits stay (no `huge_tree`), so entity bombs and deep
nesting are cut short (XML00003).
"""
import re
import threading

from lxml import etree

from kszws.wire.reasons import Refusal

_local = threading.local()
_PROCESSING_INSTRUCTIONS = etree.XPath("//processing-instruction()")
DECLARATION_REFUSED = "a document type declaration or entity is present"


class _NoExternalAccess(etree.Resolver):
    """Whatever libxml2 wants to load (external subset, external entity, catalogue
    entry): an empty string, never the file or the URL."""

    def resolve(self, url, pubid, context):
        return self.resolve_string("", context)


_BOMS = ((b"\xef\xbb\xbf", "UTF-8"), (b"\xff\xfe", "UTF-16LE"), (b"\xfe\xff", "UTF-16BE"))
# UTF-32 / UCS-4, with or without their mark: how "<" or a BOM starts in four bytes.
_FOUR_BYTE_STARTS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\x00\x00\x00<",
                     b"<\x00\x00\x00", b"\x00\x00<\x00", b"\x00<\x00\x00")
_DECLARATION = re.compile(r"<\?xml\s(.*?)\?>", re.S)
_ENCODING = re.compile(r"""\bencoding\s*=\s*["']([^"']{0,64})["']""")
_LONGEST_DECLARATION = 1024  # characters; longer is padding that hides what it declares
# Without a byte order mark: what the declaration may say (nothing at all means UTF-8).
_EIGHT_BIT = {"UTF-8", "UTF8", "US-ASCII", "ASCII", "ISO-8859-1", "LATIN1", "ISO-8859-15",
              "WINDOWS-1252", "CP1252"}
_SIXTEEN_BIT = {"UTF-16", "UTF-16LE", "UTF-16BE"}


def _check_encoding(data):
    """Refuse an encoding outside the accepted ones, or a byte order mark that the
    declaration contradicts, before libxml2 decodes anything. The whole declaration is
    read, however it is padded."""
    if data[:4] in _FOUR_BYTE_STARTS:
        raise Refusal("XML00004", "UTF-32 / UCS-4 is not accepted")
    bom = next((name for mark, name in _BOMS if data.startswith(mark)), None)
    if bom is None and data[:2] in (b"<\x00", b"\x00<"):
        # XML 1.0 §4.3.3: UTF-16 must begin with its byte order mark.
        raise Refusal("XML00004", "UTF-16 without a byte order mark is not accepted")
    codec = {"UTF-16LE": "utf-16-le", "UTF-16BE": "utf-16-be"}.get(bom, "latin-1")
    head = data[:4 * _LONGEST_DECLARATION].decode(codec, "replace").lstrip("\ufeff\xef\xbb\xbf")
    declared = None
    if head.startswith("<?xml") and head[5:6].isspace():
        match = _DECLARATION.match(head[:_LONGEST_DECLARATION])
        if match is None:
            raise Refusal("XML00004", "the XML declaration is longer than %d characters"
                          % _LONGEST_DECLARATION)
        found = _ENCODING.search(match.group(1))
        declared = found.group(1).upper() if found else None
    if bom in ("UTF-16LE", "UTF-16BE"):
        allowed = {None} | _SIXTEEN_BIT
    elif bom == "UTF-8":
        allowed = {None, "UTF-8", "UTF8"}
    else:
        allowed = {None} | _EIGHT_BIT
    if declared not in allowed:
        raise Refusal("XML00004", "encoding %s%s is not accepted" % (
            declared[:40], " with a %s byte order mark" % bom if bom else ""))


def _parser():
    # lxml parsers are not thread-safe: one per thread (the reactor thread in practice).
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=False,  # kept so that they can be refused, not silently dropped
            collect_ids=False,
        )
        parser.resolvers.add(_NoExternalAccess())
        _local.parser = parser
    return parser


def parse(data):
    """Parse bytes into an element; raise Refusal with an XML00xxx code."""
    if not isinstance(data, bytes):
        raise TypeError("parse() takes bytes")
    _check_encoding(data)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        code = _classify(str(exc))
        if code == "XML00002" or _has_declaration(data):
            raise Refusal("XML00002", DECLARATION_REFUSED) from None
        raise Refusal(code, _first_line(exc)) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise Refusal("XML00002", DECLARATION_REFUSED)
    if _PROCESSING_INSTRUCTIONS(root):
        raise Refusal("XML00005", "a processing instruction is present")
    return root


def stream(chunks, tags):
    """Parse a large document given as byte chunks, yielding each finished element whose
    tag is `tags` (Clark notation; or one of them, a tuple) and freeing it once the caller
    is done with it (the next element is asked for): memory
    stays flat whatever the file's size. The same rules as parse(): no I/O, no document
    type declaration (XML00002), no processing instruction (XML00005), comments dropped,
    libxml2's limits kept. The encoding is checked on the first chunk."""
    parser = etree.XMLPullParser(
        events=("start", "end", "pi"), resolve_entities=False, load_dtd=False,
        dtd_validation=False, no_network=True, huge_tree=False, remove_comments=True,
        collect_ids=False)
    parser.resolvers.add(_NoExternalAccess())
    tags = (tags,) if isinstance(tags, str) else tuple(tags)
    first, root = True, None
    try:
        for chunk in _first_whole(chunks, 4 * _LONGEST_DECLARATION):
            if first:
                _check_encoding(chunk)
                if _has_declaration(chunk[:4096]):
                    raise Refusal("XML00002", DECLARATION_REFUSED)
                first = False
            parser.feed(chunk)
            for event, element in parser.read_events():
                if event == "pi":
                    raise Refusal("XML00005", "a processing instruction is present")
                if event == "start":
                    if root is None:
                        root = element
                        if root.getroottree().docinfo.doctype:
                            raise Refusal("XML00002", DECLARATION_REFUSED)
                    continue
                if element.tag in tags:
                    yield element
                    element.clear()
                    parent = element.getparent()
                    if parent is not None:  # drop what was read: siblings before it
                        while element.getprevious() is not None:
                            del parent[0]
        parser.close()
    except etree.XMLSyntaxError as exc:
        code = _classify(str(exc))
        raise Refusal(code, _first_line(exc)) from None


def _first_whole(chunks, size):
    """The chunks, the first of them at least `size` bytes (or the whole document): the
    encoding and declaration checks read the start of a document whole, however small the
    chunks it comes in."""
    chunks = iter(chunks)
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= size:
            break
    if head:
        yield head
    yield from chunks


def _has_declaration(data):
    """A DOCTYPE or ENTITY anywhere in a document that failed to parse: its answer is the
    fixed one, whatever libxml2 tripped over."""
    return any(mark.encode(codec) in data for mark in ("<!DOCTYPE", "<!ENTITY")
               for codec in ("latin-1", "utf-16-le", "utf-16-be"))


def _first_line(exc):
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _classify(message):
    text = message.lower()
    if "entity" in text or "doctype" in text or "dtd" in text or "subset" in text:
        return "XML00002"
    if "depth" in text or "huge" in text or "too large" in text or "limit" in text:
        return "XML00003"
    if "encoding" in text or "utf-8" in text or "char 0x" in text or "bytes:" in text:
        return "XML00004"
    return "XML00001"
