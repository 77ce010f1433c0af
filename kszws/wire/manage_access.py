"""OCMWCPASManageAccess, version 20050930 (the real schema is XSD/SSDN/OCMW_CPAS/ManageAccess):
register a person in the reference directory, end a registration, list them."""
import datetime
from dataclasses import dataclass

from lxml import etree

from kszws.wire.identify_person import Names
from kszws.wire.ssdn import CommonPrefixes, c, collapsed

NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAccess"
SERVICE_ID, VERSION = "OCMWCPASManageAccess", "20050930"


def q(local):
    return "{%s}%s" % (NS, local)


@dataclass
class Query:
    ssin: str
    purpose: int  # the quality code; None when not given
    start: datetime.date
    end: datetime.date  # None: open
    action: str  # REGISTER | UNREGISTER | LIST
    register: str  # PRIMARY | SECONDARY | ALL | None
    sis_card: str
    identity_card: str
    person_data: Names  # None when not given (MiddleName is always empty here)

    @property
    def proves(self):
        return bool(self.sis_card or self.identity_card or self.person_data)


def xs_date(text):
    """An xs:date as CBSS writes it, zone suffix allowed (2012-05-24+02:00)."""
    return datetime.date.fromisoformat(text.strip()[:10])


def parse(element):
    period = element.find(q("Period"))
    proof = element.find(q("ProofOfAuthentication"))
    data = proof.find(q("PersonData")) if proof is not None else None
    end = collapsed(period, c("EndDate"))
    purpose = collapsed(element, q("Purpose"))
    return Query(
        ssin=collapsed(element, q("SSIN")), purpose=int(purpose) if purpose else None,
        start=xs_date(collapsed(period, c("StartDate"))), end=xs_date(end) if end else None,
        action=collapsed(element, q("Action")), register=collapsed(element, q("QueryRegister")) or None,
        sis_card=collapsed(proof, q("SISCardNumber")),
        identity_card=collapsed(proof, q("IdentityCardNumber")),
        person_data=None if data is None else Names(
            collapsed(data, q("LastName")), collapsed(data, q("FirstName")), "",
            collapsed(data, q("BirthDate"))))


def reply(query, ssin, registrations, org_unit_of):
    """ManageAccessReply: the request echoed (under the SSIN it was applied to), then the
    registrations (`org_unit_of(institution id)` names each one's OrgUnit)."""
    root = etree.Element(q("ManageAccessReply"), nsmap={"ns3": NS})
    prefixes = CommonPrefixes()
    original = etree.SubElement(root, q("OriginalRequest"))
    etree.SubElement(original, q("SSIN")).text = ssin
    etree.SubElement(original, q("Purpose")).text = str(query.purpose or 0)
    prefixes.period(original, q("Period"), query.start, query.end)
    etree.SubElement(original, q("Action")).text = query.action
    if query.register:
        etree.SubElement(original, q("Register")).text = query.register
    for r in registrations:
        elt = etree.SubElement(root, q("Registrations"))
        etree.SubElement(elt, q("Purpose")).text = str(r.quality_code)
        prefixes.period(elt, q("Period"), r.start, r.end)
        etree.SubElement(elt, q("OrgUnit")).text = org_unit_of(r.institution)
        etree.SubElement(elt, q("Register")).text = r.register
    return root
