"""Sending classic SSDN messages to the hub the way real clients do, and reading replies."""
from xml.sax.saxutils import escape

import requests
from lxml import etree

from kszws.client import hub_client
from kszws.wire import ssdn
from tests.netfixture import CBSS

ACTION = '"http://ksz-bcss.fgov.be/connectors/WebServiceConnector/sendXML"'
IPR = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/IdentifyPerson"
PI = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/PerformInvestigation"
PATH = "/connectors/webservice/KSZBCSSWebServiceConnectorPort"

USERS = {  # AuthorizedUser of each test caller: (OrgUnit, MatrixID, MatrixSubID)
    "cpas-liege": ("0207311071", 17, 1),
    "cpas-eupen": ("0212310036", 17, 1),
    "test-lino": ("0123456789", 17, 1),
}


def ssdn_request(*service_requests, caller="cpas-liege", prefix="ssdn:", language=None,
                 user=None):
    """An SSDNRequest document (text) around ServiceRequest bodies given as
    (ServiceId, Version, body xml)."""
    org_unit, matrix, sub = user or USERS[caller]
    ns = ' xmlns:ssdn="%s"' % ssdn.SERVICE if prefix else ' xmlns="%s"' % ssdn.SERVICE
    p = prefix
    language = "<%sLanguage>%s</%sLanguage>" % (p, language, p) if language else ""
    services = "".join(
        "<{p}ServiceRequest><{p}ServiceId>{sid}</{p}ServiceId><{p}Version>{v}</{p}Version>"
        "{body}</{p}ServiceRequest>".format(p=p, sid=sid, v=v, body=body)
        for sid, v, body in service_requests)
    return (
        "<{p}SSDNRequest{ns}><{p}RequestContext><{p}AuthorizedUser>"
        "<{p}UserID>00901234567</{p}UserID><{p}Email>info@example.com</{p}Email>"
        "<{p}OrgUnit>{org}</{p}OrgUnit><{p}MatrixID>{m}</{p}MatrixID>{sub}"
        "</{p}AuthorizedUser>"
        "<{p}Message><{p}Reference>kszws test</{p}Reference>"
        "<{p}TimeRequest>20261128T120000</{p}TimeRequest>{lang}</{p}Message>"
        "</{p}RequestContext>{services}</{p}SSDNRequest>"
    ).format(p=p, ns=ns, org=org_unit, m=matrix, lang=language, services=services,
             sub="" if sub is None else "<{p}MatrixSubID>{sub}</{p}MatrixSubID>".format(p=p, sub=sub))


def identify(ssin="", phonetic=None, verification=""):
    """An IdentifyPersonRequest body; `phonetic` is a dict of PhoneticCriteria children."""
    criteria = "<ipr:SSIN>%s</ipr:SSIN>" % ssin if ssin else ""
    if phonetic is not None:
        criteria += "<ipr:PhoneticCriteria>%s</ipr:PhoneticCriteria>" % "".join(
            "<ipr:%s>%s</ipr:%s>" % (k, v, k) for k, v in phonetic.items())
    verification = "<ipr:VerificationData>%s</ipr:VerificationData>" % verification \
        if verification else ""
    body = ('<ipr:IdentifyPersonRequest xmlns:ipr="%s"><ipr:SearchCriteria>%s'
            '</ipr:SearchCriteria>%s</ipr:IdentifyPersonRequest>' % (IPR, criteria, verification))
    return ("OCMWCPASIdentifyPerson", "20050930", body)


MAR = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAccess"


def manage(ssin, action, purpose=None, start="2026-01-01", end=None, proof=None,
           register=None):
    """A ManageAccessRequest body; `proof` is the ProofOfAuthentication's inner XML."""
    period = "<common:StartDate>%s</common:StartDate>" % start
    if end:
        period += "<common:EndDate>%s</common:EndDate>" % end
    purpose = "<mar:Purpose>%s</mar:Purpose>" % purpose if purpose is not None else ""
    register = "<mar:QueryRegister>%s</mar:QueryRegister>" % register if register else ""
    body = ('<mar:ManageAccessRequest xmlns:mar="%s" xmlns:common="%s"><mar:SSIN>%s</mar:SSIN>'
            '%s<mar:Period>%s</mar:Period><mar:Action>%s</mar:Action>%s'
            '<mar:ProofOfAuthentication>%s</mar:ProofOfAuthentication></mar:ManageAccessRequest>'
            % (MAR, ssdn.COMMON, ssin, purpose, period, action, register, proof or ""))
    return ("OCMWCPASManageAccess", "20050930", body)


RMF = "http://www.ksz-bcss.fgov.be/XSD/SSDN/ReferenceManagerFacade"


def consult_sectors(ssin, quality, integrated=("2026-01-01", "2026-12-31"),
                    requested=("2020-01-01", "2030-12-31"), descriptions=True):
    """A ReferenceManagerRequest body, as the PHP client writes it."""
    period = "<common:StartDate>%s</common:StartDate><common:EndDate>%s</common:EndDate>"
    body = ("<ReferenceManagerRequest xmlns='%s' xmlns:common='%s'><ConsultOtherSectorsCriteria>"
            "<QualityCodeRequestor>%s</QualityCodeRequestor><RequestedSsin>%s</RequestedSsin>"
            "<IntegratedPeriod>%s</IntegratedPeriod><RequestedPeriod>%s</RequestedPeriod>"
            "<FetchDescriptions>%s</FetchDescriptions></ConsultOtherSectorsCriteria>"
            "</ReferenceManagerRequest>" % (RMF, ssdn.COMMON, quality, ssin,
                                            period % integrated, period % requested,
                                            "true" if descriptions else "false"))
    return ("ReferenceManager.consult", "20050525", body)


def investigate(ssin, groups=None):
    data = "" if groups is None else "<pi:DataGroups>%s</pi:DataGroups>" % "".join(
        "<pi:%s>true</pi:%s>" % (g, g) for g in groups)
    body = ('<pi:PerformInvestigationRequest xmlns:pi="%s"><pi:SocialSecurityUser>%s'
            '</pi:SocialSecurityUser>%s</pi:PerformInvestigationRequest>' % (PI, ssin, data))
    return ("OCMWCPASPerformInvestigation", "20080604", body)


def envelope(inner, cdata=False):
    text = "<![CDATA[%s]]>" % inner if cdata else escape(inner)
    return ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:web="%s"><soapenv:Body><web:xmlString>%s</web:xmlString></soapenv:Body>'
            '</soapenv:Envelope>' % (ssdn.CONNECTOR, text)).encode("utf-8")


def post_basic(net, inner, cdata=False):
    """As the PHP client: HTTP Basic (cpas-liege), the raw envelope."""
    password = (net.settings.certs_dir / "cpas-liege.password").read_text().strip()
    return requests.post(net.url + PATH, data=envelope(inner, cdata), timeout=30,
                         auth=("E0207311071", password),
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": ACTION})


class Reply:
    """An SSDNReply, with its raw text (prefixes matter to real clients)."""

    def __init__(self, text):
        self.text = text
        self.root = etree.fromstring(text.encode("utf-8"))

    @classmethod
    def of(cls, response):
        assert response.status_code == 200, response.text[:1000]
        xml = etree.fromstring(response.content).find(".//{%s}xmlString" % ssdn.CONNECTOR)
        return cls(xml.text)

    def summary(self, index=None):
        """(ok, ReturnCode, [reason codes]) of the envelope, or of ServiceReply `index`."""
        parent = self.root.find(ssdn.s("ReplyContext")) if index is None else \
            self.root.findall(ssdn.s("ServiceReply"))[index]
        summary = parent.find(ssdn.c("ResultSummary"))
        return (summary.get("ok"), int(summary.findtext(ssdn.c("ReturnCode"))),
                [d.findtext(ssdn.c("ReasonCode")) for d in summary.findall(ssdn.c("Detail"))])

    def service_replies(self):
        return self.root.findall(ssdn.s("ServiceReply"))

    @property
    def ticket(self):
        return self.root.findtext(".//" + ssdn.s("Ticket"))


def signed_call(net, inner, institution="cpas-eupen"):
    proxy, _ = hub_client(net.settings, "KSZBCSSWebServiceConnector", institution, net.url)
    return Reply(proxy.sendXML(inner))


def original_schema(*service_roots):
    """A schema for whole SSDNReplies from CBSS's ORIGINAL XSDs (../shared/cbss): a wrapper
    importing Service/NamespaceRoot.xsd and each service's root (SSDNReply.xsd has a strict
    xs:any)."""
    xsd = CBSS / "XSD" / "SSDN"
    imports = [(ssdn.SERVICE, xsd / "Service" / "NamespaceRoot.xsd")]
    imports += [(ns, xsd / path) for ns, path in service_roots]
    wrapper = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">%s</xs:schema>' % "".join(
        '<xs:import namespace="%s" schemaLocation="%s"/>' % (ns, path.as_uri())
        for ns, path in imports))
    return etree.XMLSchema(etree.fromstring(wrapper.encode()))


IDENTIFY_ROOT = (IPR, "OCMW_CPAS/IdentifyPerson/NamespaceRoot.xsd")
MANAGE_ROOT = (MAR, "OCMW_CPAS/ManageAccess/NamespaceRoot.xsd")
# The real PerformInvestigation/NamespaceRoot.xsd names a file that does not exist
# (PerformInvestigationReply.xsd; the file is PerformInvetigationReply.xsd): import that.
INVESTIGATE_ROOT = (PI, "OCMW_CPAS/PerformInvestigation/PerformInvetigationReply.xsd")
