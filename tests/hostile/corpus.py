"""The hostile-input corpus: what an attacker sends to the hub, each case a file that
anyone can replay with curl.

    .venv/bin/python -m tests.hostile.corpus OUT [--project DIR]

writes OUT/<class>/<case>.xml, OUT/index.json (what each case expects) and OUT/replay.sh
(one curl line per case; `HUB=http://127.0.0.1:8080 sh OUT/replay.sh`). DIR is the
project whose certs/ signs (default: this repository, after `kszws pki init`). Signed
cases carry a Timestamp: write them again to replay them more than five minutes later.

Each hostile input is aimed at three targets, unsigned and signed:
  envelope  TestConnectionService: the hostile part in the envelope or its echo
  sendxml   the classic sendXML: the hostile part inside the SSDN request string
  newstyle  RetrieveTIGroupsService: the hostile part inside a new-style payload
"unsigned" is HTTP Basic as cpas-liege (registered, does not sign: the input gets past
authentication to the checks behind it); "signed" is WS-Security as cpas-eupen, the
hostile part signed by it (an insider) or, for comments, inserted after signing (a man in
the middle). The signature attacks exist only signed.

What a case expects (index.json "expect"):
  ["fault", CODE]  a SOAP Fault with this reason code;
  ["ssdn", LEGACY, CODE]  sendXML's legacy refusal, as real CBSS gives it: a 200 whose
                   SSDNReply says NO with the reason code LEGACY (30000002: not a valid
                   SSDNRequest, its detail naming the hub's CODE; 31000002: a service
                   request its schema refuses);
  ["ok", TEXT]     hostile in shape but valid: answered, and the answer carries TEXT whole
                   (a comment inside signed text must not cut it).
Every case, whatever it expects, must leave its row in the exchange log.
"""
import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from kszws.wire.ns import SOAP11, WSSE, WSU
from tests.hostile import attacks

FIFO = "/tmp/kszws-hostile.fifo"  # the corpus test makes it; a parser that opens it blocks
PLACES = [FIFO, "/dev/zero", "/etc/passwd", "/nonexistent/kszws.dtd", "file:///etc/hostname",
          "http://127.0.0.1:9/x.dtd", "ftp://127.0.0.1/x.dtd"]
MARK = "HOSTILEMARK"  # where the hostile part goes
SSIN = "70100853190"  # Max Mustermann of the demo population

TEST_PATH = "/SOA4520/TestConnectionServiceService/sendTestMessage"
SENDXML_PATH = "/connectors/webservice/KSZBCSSWebServiceConnectorPort"
RETRIEVE_PATH = "/SOA4520/RetrieveTIGroupsService/v2/retrieveTI"
TEST_INTF = "http://kszbcss.fgov.be/intf/TestConnectionServiceService/v1"
RETRIEVE_INTF = "http://kszbcss.fgov.be/intf/RetrieveTIGroupsService/v2"
CONNECTOR = "http://ksz-bcss.fgov.be/connectors/WebServiceConnector"
SSDN = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Service"
IPR = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/IdentifyPerson"
XI = "http://www.w3.org/2001/XInclude"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

CALLERS = {  # mode -> (institution, enterprise number: also its SSDN OrgUnit)
    "unsigned": ("cpas-liege", "0207311071"),
    "signed": ("cpas-eupen", "0212310036"),
}
TARGETS = ("envelope", "sendxml", "newstyle")
PATHS = {"envelope": TEST_PATH, "sendxml": SENDXML_PATH, "newstyle": RETRIEVE_PATH}


@dataclass
class Case:
    klass: str
    name: str
    target: str
    mode: str
    body: bytes
    expect: tuple
    content_type: str = "text/xml; charset=utf-8"

    @property
    def file(self):
        return "%s/%s-%s-%s.xml" % (self.klass, self.name, self.target, self.mode)

    @property
    def path(self):
        return PATHS[self.target]


# --- The clean requests, with MARK where the hostile part goes ---------------------------

def ssdn_request(org_unit, ssin):
    """An IdentifyPerson by SSIN, as a CPAS (sector 17, sub-sector 1) sends it."""
    return (
        '<ssdn:SSDNRequest xmlns:ssdn="%s"><ssdn:RequestContext><ssdn:AuthorizedUser>'
        "<ssdn:UserID>00901234567</ssdn:UserID><ssdn:Email>info@example.com</ssdn:Email>"
        "<ssdn:OrgUnit>%s</ssdn:OrgUnit><ssdn:MatrixID>17</ssdn:MatrixID>"
        "<ssdn:MatrixSubID>1</ssdn:MatrixSubID></ssdn:AuthorizedUser><ssdn:Message>"
        "<ssdn:Reference>hostile corpus</ssdn:Reference>"
        "<ssdn:TimeRequest>20261128T120000</ssdn:TimeRequest></ssdn:Message>"
        "</ssdn:RequestContext><ssdn:ServiceRequest>"
        "<ssdn:ServiceId>OCMWCPASIdentifyPerson</ssdn:ServiceId>"
        "<ssdn:Version>20050930</ssdn:Version>"
        '<ipr:IdentifyPersonRequest xmlns:ipr="%s"><ipr:SearchCriteria>'
        "<ipr:SSIN>%s</ipr:SSIN></ipr:SearchCriteria></ipr:IdentifyPersonRequest>"
        "</ssdn:ServiceRequest></ssdn:SSDNRequest>" % (SSDN, org_unit, IPR, ssin))


def clean(target, mode, value=MARK, inner_prolog=""):
    """The request of `target` as text, `value` in its hostile slot (the echo, the SSIN of
    the SSDN string, the SSIN of retrieveTI); `inner_prolog` before the SSDN request."""
    cbe = CALLERS[mode][1]
    if target == "envelope":
        payload = '<v1:sendTestMessageRequest xmlns:v1="%s"><echo>%s</echo>' \
                  "</v1:sendTestMessageRequest>" % (TEST_INTF, value)
    elif target == "newstyle":
        payload = (
            '<v2:retrieveTIGroupsRequest xmlns:v2="%s"><informationCustomer>'
            "<ticket>hostile</ticket><timestampSent>2026-11-28T10:00:00</timestampSent>"
            "<customerIdentification><cbeNumber>%s</cbeNumber></customerIdentification>"
            "</informationCustomer><legalContext>PCSA:SOCIAL_INQUIRY</legalContext>"
            "<searchInformation><ssin>%s</ssin></searchInformation>"
            "</v2:retrieveTIGroupsRequest>" % (RETRIEVE_INTF, cbe, value))
    else:
        inner = escape(inner_prolog + ssdn_request(cbe, MARK)).replace(MARK, escape(value))
        payload = '<web:xmlString xmlns:web="%s">%s</web:xmlString>' % (CONNECTOR, inner)
    return ('<soapenv:Envelope xmlns:soapenv="%s"><soapenv:Header/><soapenv:Body>%s'
            "</soapenv:Body></soapenv:Envelope>" % (SOAP11, payload))


# --- Signing ------------------------------------------------------------------------------

class Signer:
    """Signs as cpas-eupen with the project's demo PKI (tests/soaptools.sign_custom)."""

    def __init__(self, project):
        from kszws.config import load_settings
        from tests.soaptools import identity

        self.settings = load_settings(Path(project) / "conf")
        self.identity = identity(self.settings, CALLERS["signed"][0])

    def sign(self, data):
        from tests.soaptools import sign_custom

        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, huge_tree=True))
        return etree.tostring(sign_custom(root, self.identity))


def signed_if(mode, text, signer):
    data = text.encode("utf-8")
    return signer.sign(data) if mode == "signed" else data


# --- How a hostile part gets into a request: build(target, mode, signer) -> bytes ------

def in_value(fragment):
    """The fragment as the value: XML of the envelope or of retrieveTI; for sendXML, XML
    of the SSDN string (the inner parser meets it). Signed: the insider signs it."""
    return lambda target, mode, signer: signed_if(mode, clean(target, mode, fragment), signer)


def in_value_attribute(attributes, value=SSIN):
    """Attributes on the value's element (echo, the SSDN string's SSIN, ssin)."""
    def build(target, mode, signer):
        text = clean(target, mode, value)
        if target == "envelope":
            text = text.replace("<echo>", "<echo %s>" % attributes, 1)
        elif target == "newstyle":
            text = text.replace("<ssin>", "<ssin %s>" % attributes, 1)
        else:
            text = text.replace("&lt;ipr:SSIN&gt;", "&lt;ipr:SSIN %s&gt;" % escape(
                attributes, {'"': "&quot;"}), 1)
        return signed_if(mode, text, signer)
    return build


def in_header(blocks):
    def build(target, mode, signer):
        text = clean(target, mode, SSIN).replace(
            "<soapenv:Header/>", "<soapenv:Header>%s</soapenv:Header>" % blocks, 1)
        return signed_if(mode, text, signer)
    return build


def after_signing(fragment, signed=MARK):
    """The request signed with `signed` as its value, then that value's bytes replaced by
    `fragment`: bytes that cannot be signed because they do not parse, or a man in the
    middle's change to signed text. For sendXML they land in the envelope's xmlString
    text, not inside the SSDN string."""
    if isinstance(fragment, str):
        fragment = fragment.encode("utf-8")

    def build(target, mode, signer):
        data = signed_if(mode, clean(target, mode, signed), signer)
        assert data.count(signed.encode()) == 1, "the value must occur once"
        return data.replace(signed.encode(), fragment)
    return build


def before_root(prolog, value=SSIN):
    """A prolog (DOCTYPE, PI) before the envelope's root, added after signing (it does
    not parse, it cannot be signed); for sendXML, before the SSDN string's root."""
    def build(target, mode, signer):
        if target == "sendxml":
            return signed_if(mode, clean(target, mode, value, inner_prolog=prolog), signer)
        if value == SSIN:
            data = signed_if(mode, clean(target, mode, value), signer)
        else:  # an entity reference: signed clean, put in after
            data = after_signing(value)(target, mode, signer)
        return prolog.encode("utf-8") + data
    return build


def reencoded(transform):
    """The whole (signed) request, its bytes changed by `transform`."""
    return lambda target, mode, signer: transform(
        signed_if(mode, clean(target, mode, SSIN), signer))


# --- The document-level classes ---------------------------------------------------------

@dataclass
class Hostile:
    name: str
    build: object  # (target, mode, signer) -> bytes
    expect: object  # an expectation for every target, or {target: expectation}

    def expectation(self, target):
        return self.expect[target] if isinstance(self.expect, dict) else self.expect


def per_target(envelope, sendxml, newstyle):
    return {"envelope": envelope, "sendxml": sendxml, "newstyle": newstyle}


def refused(code, in_string=True):
    """A fault with `code`; for sendXML, when the hostile part is inside the SSDN string,
    the legacy refusal: 30000002 (not a valid SSDNRequest) naming `code`, or for a
    service request that its schema refuses, 31000002 (as CBSS: 30000001 on the envelope,
    31000002 on the ServiceReply)."""
    legacy = ("ssdn", "31000002") if code == "MSG00008" else ("ssdn", "30000002", code)
    return per_target(("fault", code), legacy if in_string else ("fault", code),
                      ("fault", code))


def bomb_laughs():
    entities = '<!ENTITY l0 "lol">' + "".join(
        '<!ENTITY l%d "%s">' % (i, ("&l%d;" % (i - 1)) * 10) for i in range(1, 10))
    return "<!DOCTYPE x [%s]>" % entities


ANSWERED = ("ok", SSIN)


def document_classes():
    """class -> [Hostile]"""
    declaration = refused("XML00002")
    not_schema = refused("MSG00008")
    decl = [Hostile("doctype-system-%d" % i, before_root('<!DOCTYPE x SYSTEM "%s">' % place),
                    declaration) for i, place in enumerate(PLACES)]
    decl.append(Hostile("doctype-public", before_root(
        '<!DOCTYPE x PUBLIC "-//kszws//hostile//EN" "%s">' % FIFO), declaration))
    decl += [Hostile("external-entity-%d" % i, before_root(
        '<!DOCTYPE x [<!ENTITY e SYSTEM "%s">]>' % place, value="&e;"), declaration)
        for i, place in enumerate([FIFO, "/dev/zero", "/etc/passwd", "http://127.0.0.1:9/e"])]
    decl += [Hostile("parameter-entity-%d" % i, before_root(
        '<!DOCTYPE x [<!ENTITY %% p SYSTEM "%s"> %%p;]>' % place), declaration)
        for i, place in enumerate([FIFO, "/dev/zero"])]
    decl.append(Hostile("internal-entity", before_root(
        '<!DOCTYPE x [<!ENTITY e "%s">]>' % SSIN, value="&e;"), declaration))
    decl.append(Hostile("doctype-then-syntax-error", before_root(
        '<!DOCTYPE x SYSTEM "%s">' % FIFO, value="<unclosed>"), declaration))
    decl.append(Hostile("undeclared-entity", after_signing("&e;"), refused("XML00002", False)))
    decl += [Hostile("xinclude-%d" % i, in_value(
        '<xi:include xmlns:xi="%s" href="%s" parse="text"/>' % (XI, place)), not_schema)
        for i, place in enumerate([FIFO, "/etc/passwd"])]
    decl += [Hostile("schema-location-%d" % i, in_value_attribute(
        'xmlns:xsi="%s" xsi:schemaLocation="urn:kszws:x %s"' % (XSI, place)), ANSWERED)
        for i, place in enumerate([FIFO, "http://127.0.0.1:9/x.xsd"])]

    too_deep = refused("XML00003", False)
    encoding = refused("XML00004", False)
    return {
        "declarations": decl,
        "entity-bombs": [
            Hostile("billion-laughs", before_root(bomb_laughs(), value="&l9;"), declaration),
            Hostile("quadratic-blowup", before_root(
                '<!DOCTYPE x [<!ENTITY a "%s">]>' % ("a" * 50_000), value="&a;" * 15),
                declaration),
            Hostile("external-and-recursive", before_root(
                '<!DOCTYPE x [<!ENTITY %% p SYSTEM "%s"><!ENTITY a "&a;">]>' % FIFO,
                value="&a;"), declaration),
        ],
        "nesting": [
            Hostile("depth-200", in_value("<a>" * 200 + "</a>" * 200), not_schema),
            Hostile("depth-10000", after_signing("<a>" * 10_000 + "</a>" * 10_000), too_deep),
            Hostile("depth-100000-unclosed", after_signing("<a>" * 100_000), too_deep),
        ],
        "sizes": [
            Hostile("huge-attribute", in_value_attribute('a="%s"' % ("x" * 900_000)),
                    not_schema),
            Hostile("huge-text", in_value("9" * 900_000),
                    per_target(("ok", None), ("ssdn", "31000002"), ("fault", "MSG00008"))),
            Hostile("many-attributes", in_value_attribute(" ".join(
                'a%d="%d"' % (i, i) for i in range(10_000))), not_schema),
            Hostile("many-namespaces", in_value_attribute(" ".join(
                'xmlns:n%d="urn:kszws:%d"' % (i, i) for i in range(10_000))), ANSWERED),
            # 90,000 Id attributes: an XPath union over them took ten seconds once
            Hostile("id-attribute-flood", in_header(
                '<j xmlns="urn:kszws:junk" xmlns:wsu="%s">%s</j>' % (WSU, '<a Id="" ID="" '
                                                                  'wsu:Id=""/>' * 30_000)),
                ANSWERED),
            Hostile("over-the-size-limit", after_signing("9" * 2_000_000),
                    ("fault", "HTTP0003")),
        ],
        "encoding": [
            Hostile("invalid-byte", after_signing(b"\xff\xfe"), encoding),
            Hostile("truncated-sequence", after_signing(b"\xc3("), encoding),
            Hostile("overlong-lt", after_signing(b"\xc0\xbc"), encoding),
            Hostile("utf8-surrogate", after_signing(b"\xed\xa0\x80"), encoding),
            Hostile("nul-in-text", after_signing(b"7010\x0085319"), encoding),
            Hostile("nul-in-tag", after_signing(b"<a\x00b/>"), encoding),
            # not an encoding error: a reference to a character XML forbids (not well-formed)
            Hostile("nul-char-reference", after_signing(b"&#0;"), refused("XML00001", False)),
            Hostile("latin1-undeclared", after_signing("Müller".encode("latin-1")), encoding),
            Hostile("utf16-without-bom", reencoded(
                lambda d: d.decode("utf-8").encode("utf-16-le")), encoding),
            Hostile("utf16-bom-declared-utf8", reencoded(
                lambda d: b"\xff\xfe" + ('<?xml version="1.0" encoding="UTF-8"?>'
                                          + d.decode("utf-8")).encode("utf-16-le")), encoding),
            Hostile("utf8-bom-declared-utf16", reencoded(
                lambda d: b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-16"?>' + d), encoding),
            Hostile("declared-utf7", reencoded(
                lambda d: b'<?xml version="1.0" encoding="UTF-7"?>' + d), encoding),
            Hostile("declaration-padded-past-a-prefix", reencoded(
                lambda d: b'<?xml version="1.0"' + b" " * 400 + b'encoding="UTF-7"?>' + d),
                encoding),
            Hostile("declaration-too-long", reencoded(
                lambda d: b'<?xml version="1.0"' + b" " * 2000 + b"?>" + d), encoding),
            Hostile("utf32-with-bom", reencoded(
                lambda d: b"\xff\xfe\x00\x00" + d.decode("utf-8").encode("utf-32-le")),
                encoding),
            Hostile("ucs4-without-bom", reencoded(
                lambda d: d.decode("utf-8").encode("utf-32-be")), encoding),
            Hostile("second-declaration", before_root(
                '<?xml version="1.0"?><?xml version="1.0" encoding="UTF-7"?>'),
                per_target(("fault", "XML00001"), ("ssdn", "30000002", "XML00004"),
                           ("fault", "XML00001"))),
            Hostile("declared-unknown", reencoded(
                lambda d: b'<?xml version="1.0" encoding="x-kszws-unknown"?>' + d), encoding),
        ],
        "comments-and-pis": [
            Hostile("comment-in-signed-text", after_signing(
                SSIN[:6] + "<!---->" + SSIN[6:], signed=SSIN), ANSWERED),
            Hostile("comments-in-signed-text", after_signing(
                SSIN[:2] + "<!-- a -->" + SSIN[2:5] + "<!--b-->" + SSIN[5:], signed=SSIN),
                ANSWERED),
            Hostile("pi-in-text", in_value(SSIN[:6] + "<?pi x?>" + SSIN[6:]), refused("XML00005")),
            Hostile("pi-before-root", before_root(
                '<?xml-stylesheet type="text/xsl" href="%s"?>' % FIFO), refused("XML00005")),
        ],
        "header-flood": [
            Hostile("1000-headers", in_header("".join(
                '<h%d:x xmlns:h%d="urn:kszws:h%d">%d</h%d:x>' % (i, i, i, i, i)
                for i in range(1000))), ANSWERED),
            Hostile("1000-must-understand", in_header("".join(
                '<h:x xmlns:h="urn:kszws:h" soapenv:mustUnderstand="1">%d</h:x>' % i
                for i in range(1000))), ("fault", "SOAP0003")),
            Hostile("1000-security-headers", in_header(
                '<wsse:Security xmlns:wsse="%s"/>' % WSSE * 1000), ("fault", "SEC00008")),
        ],
    }


# --- Writing ----------------------------------------------------------------------------

def cases(signer):
    found = []
    for klass, hostiles in document_classes().items():
        for hostile in hostiles:
            for target in TARGETS:
                for mode in ("unsigned", "signed"):
                    body = hostile.build(target, mode, signer)
                    found.append(Case(klass, hostile.name, target, mode, body,
                                      hostile.expectation(target)))
    for klass, signed_attacks in attacks.CLASSES.items():
        for name, build, code in signed_attacks:
            for target in TARGETS:
                body = build(clean(target, "signed", value=SSIN).encode("utf-8"), signer)
                found.append(Case(klass, name, target, "signed", body, ("fault", code)))
    return found


def write(out, signer):
    """Write every case under `out`; return the index (what each case expects)."""
    out = Path(out)
    index = []
    lines = ["#!/bin/sh",
             "# Replays the hostile corpus against $HUB (signed cases: within five minutes of",
             "# writing them). CERTS is the project's certs/ (cpas-liege's Basic password).",
             ': "${HUB:=http://127.0.0.1:8080}"', ': "${CERTS:=certs}"',
             'HERE=$(dirname "$0")', 'BASIC="E0207311071:$(cat "$CERTS/cpas-liege.password")"']
    for case in cases(signer):
        path = out / case.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.body)
        index.append({"file": case.file, "class": case.klass, "name": case.name,
                      "target": case.target, "mode": case.mode, "path": case.path,
                      "expect": list(case.expect)})
        lines.append("curl -s -o /dev/null -w '%%{http_code} %s (expects %s)\\n'%s -H %s "
                     '--data-binary @"$HERE/%s" "$HUB%s"' % (
                         case.file, " ".join(str(e) for e in case.expect),
                         ' -u "$BASIC"' if case.mode == "unsigned" else "",
                         shlex.quote("Content-Type: " + case.content_type), case.file,
                         case.path))
    (out / "index.json").write_text(json.dumps(index, indent=1))
    (out / "replay.sh").write_text("\n".join(lines) + "\n")
    return index


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--project", default=str(Path(__file__).resolve().parents[2]))
    args = parser.parse_args(argv)
    index = write(args.out, Signer(args.project))
    print("%d cases written to %s" % (len(index), args.out))


if __name__ == "__main__":
    sys.exit(main())
