"""OCMWCPASListOfAttestations, version 20080317 (CONTRACTS.md §6): the electronic
attestations on a person, for a CPAS. No public schema exists; the element names are those
a real client reads (ListOfAttestationsReply/Attestation: SocialSecurityUser,
CPAS_KBOBCE_code, EntryDate, AttestType(Code, Description "fr / nl"), DecisionDate,
Reference, Status). xsd/SSDN/ListOfAttestationsRequest.xsd is kszws's."""
import datetime
from dataclasses import dataclass

from lxml import etree

from kszws.wire.ssdn import COMMON

NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAttests"
SERVICE_ID, VERSION = "OCMWCPASListOfAttestations", "20080317"
ALL = "ALL"
STATUS = {"active": 1, "cancelled": 2}


def q(local):
    return "{%s}%s" % (NS, local)


@dataclass
class Query:
    ssin: str
    request_type: str  # an attestation type code in capitals, or ALL
    start: datetime.date
    end: datetime.date  # None: open


def parse(element, today):
    """The query; without a SearchPeriod, the ten years up to `today` (as clients assume)."""
    period = element.find(q("SearchPeriod"))
    start = end = None
    if period is not None:
        start = _date(period.findtext("{%s}StartDate" % COMMON))
        end = _date(period.findtext("{%s}EndDate" % COMMON))
    return Query(ssin=(element.findtext(q("SocialSecurityUser")) or "").strip(),
                 request_type=(element.findtext(q("RequestType")) or "").strip(),
                 start=start or today.replace(year=today.year - 10), end=end)


def _date(text):
    return datetime.date.fromisoformat(text.strip()[:10]) if text and text.strip() else None


def reply(attestations, type_of, cbe_of):
    """ListOfAttestationsReply; `type_of(code)` gives the registry.AttestationType,
    `cbe_of(institution id)` its enterprise number."""
    root = etree.Element(q("ListOfAttestationsReply"), nsmap={"ns3": NS})
    for a in attestations:
        kind = type_of(a.type)
        elt = etree.SubElement(root, q("Attestation"))
        etree.SubElement(elt, q("SocialSecurityUser")).text = a.ssin
        etree.SubElement(elt, q("CPAS_KBOBCE_code")).text = cbe_of(a.publisher)
        etree.SubElement(elt, q("EntryDate")).text = a.changed_at.date().isoformat()
        attest = etree.SubElement(elt, q("AttestType"))
        etree.SubElement(attest, q("Code")).text = str(kind.classic_code)
        etree.SubElement(attest, q("Description")).text = "%s / %s" % (kind.name_fr,
                                                                       kind.name_nl)
        etree.SubElement(elt, q("DecisionDate")).text = str(a.decision_date)
        etree.SubElement(elt, q("Reference")).text = a.reference
        etree.SubElement(elt, q("Status")).text = str(STATUS[a.status])
    return root
