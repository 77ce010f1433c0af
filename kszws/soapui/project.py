"""SoapUI's project file (`*-soapui-project.xml`, namespace http://eviware.com/soapui/config)
as SoapUI 5.x saves it: interfaces with their definition cache, a request per operation,
test suites of request steps with assertions, and the WS-Security container (keystores and
outgoing configurations). Element order follows SoapUI's own schema (soapui.xsd)."""
import uuid
from dataclasses import dataclass

from lxml import etree

CON = "http://eviware.com/soapui/config"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSDL_TYPE = "http://schemas.xmlsoap.org/wsdl/"
XSD_TYPE = "http://www.w3.org/2001/XMLSchema"

# What the hub's strict policy accepts (SoapUI's defaults, RSA-SHA1 and SHA-1, it refuses).
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
BST_DIRECT_REFERENCE = 1  # WSS4J's key identifier type: the certificate travels in the message
TIMESTAMP_TTL_SECONDS = 300


@dataclass(frozen=True)
class Operation:
    name: str
    action: str  # the binding's soapAction
    request: str  # the envelope, as SoapUI shows it (property expansions allowed)
    outgoing_wss: str  # the outgoing WS-Security configuration's name, "" for none


@dataclass(frozen=True)
class Interface:
    name: str  # the binding's local name, as SoapUI names an interface
    binding: str  # {namespace}local
    definition: str  # the WSDL's URL
    parts: tuple  # (url, text, type): the WSDL and every schema it imports
    endpoint: str
    operations: tuple  # Operation


@dataclass(frozen=True)
class Assertion:
    kind: str  # "SOAP Response", "Not SOAP Fault", "SOAP Fault", "XPath Match"
    name: str
    path: str = ""  # XPath Match only: "declare namespace ...;" lines, then the XPath
    expected: str = ""


@dataclass(frozen=True)
class RequestStep:
    name: str
    interface: str
    operation: str
    action: str
    endpoint: str
    request: str
    outgoing_wss: str
    assertions: tuple


@dataclass(frozen=True)
class TestCase:
    name: str
    description: str
    steps: tuple


@dataclass(frozen=True)
class TestSuite:
    name: str
    cases: tuple


@dataclass(frozen=True)
class Keystore:
    path: str  # relative to the project's folder (resourceRoot ${projectDir})
    password: str
    alias: str

    @property
    def label(self):
        """How SoapUI names a keystore in a Signature entry: its file name."""
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]


def _id(*names):
    """A stable id: the same export gives the same file, so re-exports diff cleanly."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "kszws-soapui:" + "/".join(names)))


def _el(parent, tag, text=None, **attrs):
    element = etree.SubElement(parent, "{%s}%s" % (CON, tag),
                               {k.rstrip("_"): str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = etree.CDATA(text) if tag in ("request", "content") else str(text)
    return element


def _settings(parent):
    return _el(parent, "settings")


def document(name, description, interfaces, suites, keystores):
    """The project as an lxml element. `keystores`: {outgoing configuration name:
    Keystore}; each becomes a crypto entry and an outgoing configuration signing the Body
    and a Timestamp with RSA-SHA256, SHA-256 and exclusive C14N, the certificate as a
    BinarySecurityToken."""
    root = etree.Element("{%s}soapui-project" % CON, nsmap={"con": CON}, attrib={
        "id": _id(name), "activeEnvironment": "Default", "name": name,
        "resourceRoot": "${projectDir}", "soapui-version": "5.7.2", "abortOnError": "false",
        "runType": "SEQUENTIAL"})
    _el(root, "description", description)
    _settings(root)
    for interface in interfaces:
        _interface(root, interface)
    for suite in suites:
        _suite(root, suite)
    _el(root, "properties")
    _wss(root, keystores)
    return root


def _interface(root, interface):
    element = _el(root, "interface", type="wsdl", name=interface.name,
                  bindingName=interface.binding, soapVersion="1_1", anonymous="optional",
                  definition=interface.definition, wsaVersion="NONE",
                  id=_id(interface.name))
    element.set("{%s}type" % XSI, "con:WsdlInterface")
    _settings(element)
    cache = _el(element, "definitionCache", type="TEXT", rootPart=interface.definition)
    for url, text, kind in interface.parts:
        part = _el(cache, "part")
        _el(part, "url", url)
        _el(part, "content", text)
        _el(part, "type", kind)
    endpoints = _el(element, "endpoints")
    _el(endpoints, "endpoint", interface.endpoint)
    for op in interface.operations:
        operation = _el(element, "operation", id=_id(interface.name, op.name),
                        isOneWay="false", action=op.action, name=op.name,
                        bindingOperationName=op.name, type="Request-Response", inputName="",
                        receivesAttachments="false", sendsAttachments="false",
                        anonymous="optional")
        _settings(operation)
        if not op.request:  # no demo request for it in this project (--as)
            continue
        call = _el(operation, "call", id=_id(interface.name, op.name, "Request 1"),
                   name="Request 1")
        if op.outgoing_wss:
            call.set("outgoingWss", op.outgoing_wss)
        _request_body(call, interface.endpoint, op.request, op.action, ())


def _request_body(request, endpoint, envelope, action, assertions):
    _settings(request)
    _el(request, "encoding", "UTF-8")
    _el(request, "endpoint", endpoint)
    _el(request, "request", envelope)
    for assertion in assertions:
        _assertion(request, assertion)
    credentials = _el(request, "credentials")
    _el(credentials, "authType", "No Authorization")
    _el(request, "jmsConfig", JMSDeliveryMode="PERSISTENT")
    _el(request, "jmsPropertyConfig")
    _el(request, "wsaConfig", mustUnderstand="NONE", version="200508", action=action)
    _el(request, "wsrmConfig", version="1.2")


def _assertion(parent, assertion):
    element = _el(parent, "assertion", type=assertion.kind, name=assertion.name,
                  id=_id(assertion.kind, assertion.name, assertion.path))
    configuration = _el(element, "configuration")  # the schema wants one, even empty
    if assertion.kind == "XPath Match":
        for tag, text in (("path", assertion.path), ("content", assertion.expected),
                          ("allowWildcards", "false"), ("ignoreNamspaceDifferences", "false"),
                          ("ignoreComments", "false")):
            etree.SubElement(configuration, tag).text = text


def _suite(root, suite):
    element = _el(root, "testSuite", name=suite.name, id=_id(suite.name))
    _settings(element)
    _el(element, "runType", "SEQUENTIAL")
    for case in suite.cases:
        test_case = _el(element, "testCase", id=_id(suite.name, case.name),
                        failOnError="true", failTestCaseOnErrors="true", keepSession="false",
                        maxResults="0", name=case.name, searchProperties="true")
        _el(test_case, "description", case.description)
        _settings(test_case)
        for step in case.steps:
            _step(test_case, suite, case, step)
        _el(test_case, "properties")
    _el(element, "properties")


def _step(test_case, suite, case, step):
    element = _el(test_case, "testStep", type="request", name=step.name,
                  id=_id(suite.name, case.name, step.name))
    _settings(element)
    config = _el(element, "config")
    config.set("{%s}type" % XSI, "con:RequestStep")
    _el(config, "interface", step.interface)
    _el(config, "operation", step.operation)
    request = _el(config, "request", name=step.name, id=_id(suite.name, case.name, step.name,
                                                            "request"))
    if step.outgoing_wss:
        request.set("outgoingWss", step.outgoing_wss)
    _request_body(request, step.endpoint, step.request, step.action, step.assertions)


def _wss(root, keystores):
    container = _el(root, "wssContainer")
    for store in keystores.values():
        crypto = _el(container, "crypto")
        _el(crypto, "source", store.path)
        _el(crypto, "password", store.password)
        _el(crypto, "type", "KEYSTORE")
        _el(crypto, "defaultAlias", store.alias)
        _el(crypto, "aliasPassword", store.password)
    for name, store in keystores.items():
        outgoing = _el(container, "outgoing", mustUnderstand="true")
        _el(outgoing, "name", name)
        timestamp = _el(outgoing, "entry", type="Timestamp")
        _configuration(timestamp, [("timeToLive", str(TIMESTAMP_TTL_SECONDS)),
                                   ("strictTimestamp", "true")])
        signature = _el(outgoing, "entry", type="Signature", username=store.alias,
                        password=store.password)
        _configuration(signature, [
            ("crypto", store.label), ("keyIdentifierType", str(BST_DIRECT_REFERENCE)),
            ("signatureAlgorithm", RSA_SHA256), ("signatureCanonicalization", EXC_C14N),
            ("useSingleCert", "true"), ("digestAlgorithm", SHA256),
            ("signaturePart", _part("Body", SOAP_ENV)),
            ("signaturePart", _part("Timestamp", WSU))])


def _configuration(entry, items):
    configuration = _el(entry, "configuration")
    for tag, text in items:
        child = etree.SubElement(configuration, tag)
        child.text = etree.CDATA(text) if tag == "signaturePart" else text


def _part(name, namespace):
    """A signature part as SoapUI stores a row of its parts table."""
    return ('<xml-fragment xmlns:con="%s">\n'
            '  <con:entry key="id" value=""/>\n'
            '  <con:entry key="name" value="%s"/>\n'
            '  <con:entry key="namespace" value="%s"/>\n'
            '  <con:entry key="enc" value="Element"/>\n'
            '</xml-fragment>' % (CON, name, namespace))


def serialize(root):
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
