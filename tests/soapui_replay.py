"""SoapUI's part, played from a project file: check it against SoapUI's own schema, then run
its test suites as SoapUI's test runner does: each request step's envelope with its
property expansions filled in, signed as its outgoing WS-Security configuration says (the
entries, their keystore, algorithms and parts are read from the project, nothing is taken
from kszws), posted to its endpoint, and its assertions evaluated on the reply.

Independent of the hub's own WS-Security code on purpose: signing is xmlsec's template
API driven by the project's entries."""
import base64
import datetime
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
import xmlsec
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from lxml import etree

CON = "http://eviware.com/soapui/config"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
X509V3 = ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0"
          "#X509v3")
BASE64 = ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0"
          "#Base64Binary")
N = {"con": CON}
SHARED = Path(__file__).resolve().parents[2] / "shared" / "soapui"

# xmlsec's transforms by the URI a project names them with.
TRANSFORMS = {t.href: t for t in (getattr(xmlsec.constants, name)
                                  for name in dir(xmlsec.constants)
                                  if name.startswith("Transform"))
              if getattr(t, "href", None)}


def soapui_schema():
    """SoapUI's schema of a project file; libxml2 refuses its one duplicate attribute
    declaration (BaseMockService's `id`, which ModelItem declares already): dropped."""
    doc = etree.parse(str(SHARED / "soapui.xsd"))
    for dup in doc.xpath('//xs:complexType[@name="BaseMockService"]/xs:complexContent/'
                         'xs:extension/xs:attribute[@name="id"]', namespaces={"xs": XS}):
        dup.getparent().remove(dup)
    return etree.XMLSchema(doc)


@dataclass
class Outcome:
    suite: str
    case: str
    step: str
    status: int
    failures: list = field(default_factory=list)
    reply: bytes = b""


class Project:
    def __init__(self, path):
        self.path = Path(path)
        self.root = etree.parse(str(path)).getroot()
        self.folder = self.path.parent  # resourceRoot ${projectDir}
        self.keystores = {}
        for crypto in self.root.findall("con:wssContainer/con:crypto", N):
            source = crypto.findtext("con:source", namespaces=N)
            label = source.replace("\\", "/").rsplit("/", 1)[-1]
            self.keystores[label] = (self.folder / source,
                                     crypto.findtext("con:password", namespaces=N))
        self.outgoing = {o.findtext("con:name", namespaces=N): o
                         for o in self.root.findall("con:wssContainer/con:outgoing", N)}
        self.actions = {}
        for interface in self.root.findall("con:interface", N):
            for op in interface.findall("con:operation", N):
                self.actions[(interface.get("name"), op.get("name"))] = op.get("action")

    def requests(self):
        """Every interface request ("Request 1" of each operation): (interface, operation,
        request element)."""
        for interface in self.root.findall("con:interface", N):
            for op in interface.findall("con:operation", N):
                for call in op.findall("con:call", N):
                    yield interface.get("name"), op.get("name"), call

    def run(self, session=None):
        """Run every test suite; [Outcome] of every step."""
        session = session or requests.Session()
        outcomes = []
        for suite in self.root.findall("con:testSuite", N):
            for case in suite.findall("con:testCase", N):
                replies = {}
                for step in case.findall("con:testStep", N):
                    config = step.find("con:config", N)
                    interface = config.findtext("con:interface", namespaces=N)
                    operation = config.findtext("con:operation", namespaces=N)
                    request = config.find("con:request", N)
                    outcome = self.send(session, interface, operation, request, replies)
                    outcome.suite, outcome.case, outcome.step = (
                        suite.get("name"), case.get("name"), step.get("name"))
                    replies[step.get("name")] = outcome.reply
                    outcomes.append(outcome)
        return outcomes

    def send(self, session, interface, operation, request, replies=None):
        text = expand(request.findtext("con:request", namespaces=N), replies or {})
        envelope = etree.fromstring(text.encode("utf-8"))
        wss = request.get("outgoingWss")
        if wss:
            self.apply_outgoing(envelope, self.outgoing[wss])
        reply = session.post(request.findtext("con:endpoint", namespaces=N).strip(),
                             data=etree.tostring(envelope, encoding="utf-8"),
                             headers={"Content-Type": "text/xml; charset=UTF-8",
                                      "SOAPAction": '"%s"' % self.actions[(interface,
                                                                           operation)]},
                             timeout=60)
        outcome = Outcome("", "", "", reply.status_code, reply=reply.content)
        for assertion in request.findall("con:assertion", N):
            problem = check(assertion, reply.content)
            if problem:
                outcome.failures.append("%s: %s" % (assertion.get("name"), problem))
        return outcome

    # -- WS-Security, as the outgoing configuration's entries say ---------------------------

    def apply_outgoing(self, envelope, outgoing):
        header = envelope.find("{%s}Header" % SOAP)
        if header is None:
            header = etree.Element("{%s}Header" % SOAP)
            envelope.insert(0, header)
        security = etree.SubElement(header, "{%s}Security" % WSSE, nsmap={"wsse": WSSE,
                                                                          "wsu": WSU})
        if outgoing.get("mustUnderstand") == "true":
            security.set("{%s}mustUnderstand" % SOAP, "1")
        for entry in outgoing.findall("con:entry", N):
            conf = entry.find("con:configuration", N)
            if entry.get("type") == "Timestamp":
                self.timestamp(security, int(conf.findtext("timeToLive")))
            elif entry.get("type") == "Signature":
                self.signature(envelope, security, entry, conf)
            else:
                raise AssertionError("entry type %s not played here" % entry.get("type"))

    @staticmethod
    def timestamp(security, ttl):
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = etree.SubElement(security, "{%s}Timestamp" % WSU,
                                 {"{%s}Id" % WSU: "TS-" + uuid.uuid4().hex})
        for tag, moment in (("Created", now), ("Expires", now + datetime.timedelta(
                seconds=ttl))):
            etree.SubElement(stamp, "{%s}%s" % (WSU, tag)).text = moment.strftime(
                "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)

    def signature(self, envelope, security, entry, conf):
        path, store_password = self.keystores[conf.findtext("crypto")]
        data = path.read_bytes()
        key, cert, _ = pkcs12.load_key_and_certificates(
            data, (entry.get("password") or store_password).encode())
        assert conf.findtext("keyIdentifierType") == "1", "BST direct reference only here"
        token_id = "X509-" + uuid.uuid4().hex
        bst = etree.Element("{%s}BinarySecurityToken" % WSSE, {
            "EncodingType": BASE64, "ValueType": X509V3, "{%s}Id" % WSU: token_id})
        bst.text = base64.b64encode(cert.public_bytes(Encoding.DER)).decode()
        security.insert(0, bst)
        signature = xmlsec.template.create(
            envelope, TRANSFORMS[conf.findtext("signatureCanonicalization")],
            TRANSFORMS[conf.findtext("signatureAlgorithm")])
        security.append(signature)
        ctx = xmlsec.SignatureContext()
        for part_text in [p.text for p in conf.findall("signaturePart")]:
            part = {e.get("key"): e.get("value")
                    for e in etree.fromstring(part_text.encode()).findall("con:entry", N)}
            target = next(envelope.iter("{%s}%s" % (part["namespace"], part["name"])))
            target_id = target.get("{%s}Id" % WSU) or "id-" + uuid.uuid4().hex
            target.set("{%s}Id" % WSU, target_id)
            ctx.register_id(target, "Id", WSU)
            ref = xmlsec.template.add_reference(
                signature, TRANSFORMS[conf.findtext("digestAlgorithm")], uri="#" + target_id)
            xmlsec.template.add_transform(ref, TRANSFORMS[conf.findtext(
                "signatureCanonicalization")])
        key_info = xmlsec.template.ensure_key_info(signature)
        reference = etree.SubElement(etree.SubElement(
            key_info, "{%s}SecurityTokenReference" % WSSE), "{%s}Reference" % WSSE)
        reference.set("URI", "#" + token_id)
        reference.set("ValueType", X509V3)
        ctx.key = xmlsec.Key.from_memory(data, xmlsec.constants.KeyDataFormatPkcs12,
                                         entry.get("password") or store_password)
        ctx.sign(signature)
        assert key is not None


_EXPANSION = re.compile(r"\$\{([^#}]+)#Response#([^}]*)\}")


# SoapUI's dynamic properties (Groovy) that the exported projects use, played in Python.
DYNAMIC = {"${=System.currentTimeMillis()}": lambda: str(int(time.time() * 1000))}


def expand(text, replies):
    """SoapUI's ${STEP#Response#XPATH}: the text XPATH selects in STEP's reply; and its
    dynamic properties (DYNAMIC)."""
    for expression, value in DYNAMIC.items():
        text = text.replace(expression, value())
    def value(match):
        step, path = match.group(1), match.group(2)
        if step not in replies:
            raise AssertionError("expansion of %s: no reply of %r before" % (match.group(0),
                                                                            step))
        found = xpath(etree.fromstring(replies[step]), path)
        return found if isinstance(found, str) else ""
    return _EXPANSION.sub(value, text)


def xpath(root, path):
    """SoapUI's XPath: optional `declare namespace p='uri';` lines, then the expression.
    A node set gives the text of its first node; a boolean 'true'/'false'."""
    namespaces = dict(re.findall(r"declare namespace (\w+)\s*=\s*['\"]([^'\"]+)['\"]\s*;",
                                 path))
    expression = re.sub(r"declare namespace [^;]*;", "", path).strip()
    result = root.xpath(expression, namespaces=namespaces)
    if isinstance(result, bool):
        return "true" if result else "false"
    if isinstance(result, float):
        return str(int(result)) if result.is_integer() else str(result)
    if isinstance(result, list):
        if not result:
            return None
        first = result[0]
        return first if isinstance(first, str) else (first.text or "")
    return str(result)


def check(assertion, reply):
    """What is wrong with `reply` under `assertion`, or None."""
    kind = assertion.get("type")
    try:
        root = etree.fromstring(reply)
    except etree.XMLSyntaxError as exc:
        return "not XML: %s" % exc
    is_envelope = root.tag == "{%s}Envelope" % SOAP
    fault = root.find("{%s}Body/{%s}Fault" % (SOAP, SOAP)) if is_envelope else None
    if kind == "SOAP Response":
        return None if is_envelope else "not a SOAP envelope"
    if kind == "Not SOAP Fault":
        return None if fault is None else "a SOAP Fault: %s" % fault.findtext("faultstring")
    if kind == "SOAP Fault":
        return None if fault is not None else "no SOAP Fault"
    if kind == "XPath Match":
        conf = assertion.find("con:configuration", N)
        got = xpath(root, conf.findtext("path"))
        expected = conf.findtext("content")
        return None if got == expected else "expected %r, got %r" % (expected, got)
    return "assertion type %s not played here" % kind
