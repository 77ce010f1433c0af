"""Building requests the way real clients (and attackers) do, and reading the hub's faults."""
import base64
import datetime
import secrets

import requests
import xmlsec
from lxml import etree

from kszws.hub import exchange_log
from kszws.security import wsse
from kszws.security.keystore import TrustStore, load_certificate, load_signing_identity
from kszws.store import Database
from kszws.wire import soap, xmlparse
from kszws.wire.ns import BASE64, DS, SOAP11, WSSE, WSU, X509V3, q

INTF = "http://kszbcss.fgov.be/intf/TestConnectionServiceService/v1"
ACTION = "http://kszbcss.fgov.be/TestConnectionServiceService/sendTestMessage"
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"%s"' % ACTION}


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def request_envelope(echo="hello"):
    payload = etree.Element(q(INTF, "sendTestMessageRequest"), nsmap={"v1": INTF})
    etree.SubElement(payload, "echo").text = echo
    return soap.envelope(payload)


def identity(settings, name):
    return load_signing_identity(settings.certs_dir / ("%s.crt" % name))


def signed(settings, name, echo="hello", **kw):
    env = request_envelope(echo)
    sign_custom(env, identity(settings, name), **kw)
    return env


def sign_custom(root, ident, when=None, ttl=300, method=xmlsec.Transform.RSA_SHA256,
                digest=xmlsec.Transform.SHA256, key_info="bst", order=("bst", "ts", "sig"),
                targets=("body", "ts"), prefixes=None):
    """wsse.sign with every choice open, for the policy tests. `prefixes`: an
    InclusiveNamespaces PrefixList in every exclusive C14N, as WSS4J writes them."""
    when = when or now()
    header = root.find(soap.HEADER)
    if header is None:
        header = etree.Element(soap.HEADER)
        root.insert(0, header)
    body = root.find(soap.BODY)
    sec = etree.SubElement(header, q(WSSE, "Security"), nsmap={"wsse": WSSE, "wsu": WSU})
    sec.set(q(SOAP11, "mustUnderstand"), "1")
    sfx = secrets.token_hex(6)
    parts = {}
    parts["bst"] = bst = etree.Element(q(WSSE, "BinarySecurityToken"), {
        "EncodingType": BASE64, "ValueType": X509V3, q(WSU, "Id"): "X509-" + sfx})
    bst.text = ident.certificate.bst
    parts["ts"] = ts = etree.Element(q(WSU, "Timestamp"), {q(WSU, "Id"): "TS-" + sfx})
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    etree.SubElement(ts, q(WSU, "Created")).text = when.strftime(fmt)
    etree.SubElement(ts, q(WSU, "Expires")).text = (
        when + datetime.timedelta(seconds=ttl)).strftime(fmt)
    body.set(q(WSU, "Id"), "Body-" + sfx)
    sig = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N, method, ns="ds")
    if prefixes:
        xmlsec.template.transform_add_c14n_inclusive_namespaces(
            sig.find(".//" + q(DS, "CanonicalizationMethod")), prefixes)
    parts["sig"] = sig
    for part in order:
        if part == "bst" and key_info != "bst":
            continue
        sec.append(parts[part])
    ids = {"body": "Body-" + sfx, "ts": "TS-" + sfx}
    for target in targets:
        ref = xmlsec.template.add_reference(sig, digest, uri="#" + ids.get(target, target))
        transform = xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
        if prefixes:
            xmlsec.template.transform_add_c14n_inclusive_namespaces(transform, prefixes)
    ki = xmlsec.template.ensure_key_info(sig)
    str_ = etree.SubElement(ki, q(WSSE, "SecurityTokenReference"))
    cert = ident.certificate
    if key_info == "bst":
        etree.SubElement(str_, q(WSSE, "Reference"), URI="#X509-" + sfx, ValueType=X509V3)
    elif key_info == "ski":
        kid = etree.SubElement(str_, q(WSSE, "KeyIdentifier"), ValueType=wsse.SKI_VALUE_TYPE,
                               EncodingType=BASE64)
        kid.text = base64.b64encode(cert.ski).decode()
    else:
        data = etree.SubElement(str_, q(DS, "X509Data"))
        serial = etree.SubElement(data, q(DS, "X509IssuerSerial"))
        etree.SubElement(serial, q(DS, "X509IssuerName")).text = cert.issuer
        etree.SubElement(serial, q(DS, "X509SerialNumber")).text = str(cert.serial)
    ctx = xmlsec.SignatureContext()
    ctx.key = ident.key
    ctx.register_id(body, "Id", WSU)
    ctx.register_id(ts, "Id", WSU)
    ctx.sign(sig)
    return root


def post(url, data, headers=None, **kw):
    if not isinstance(data, bytes):
        data = soap.serialize(data)
    return requests.post(url, data=data, headers=headers or HEADERS, timeout=30, **kw)


class Answer:
    """A hub reply, parsed: fault code, reason code, ticket, and whether the hub signed it."""

    def __init__(self, response, settings):
        self.status = response.status_code
        self.root = xmlparse.parse(response.content)
        header, self.body = soap.split_envelope(self.root)
        self.fault = self.body.find(soap.FAULT)
        self.reason = self.root.findtext(".//reasonCode")
        self.ticket = self.root.findtext(".//ticketCBSS")
        self.signed = False
        if wsse.security_headers(self.root):
            trust = TrustStore()
            hub_cert = load_certificate(settings.certs_dir / "kszws-hub.crt")
            trust.add(hub_cert, "hub")
            wsse.verify(self.root, header, self.body, wsse.Policy(), trust, now())
            self.signed = True

    @property
    def faultcode(self):
        return self.fault.findtext("faultcode") if self.fault is not None else None


def log_row(settings, ticket):
    db = Database(settings.store_url)
    try:
        rows = exchange_log.search(db, ticket=ticket)
    finally:
        db.dispose()
    return rows[0] if rows else None
