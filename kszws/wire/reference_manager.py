"""ReferenceManager.consult, version 20050525 (CONTRACTS.md §6): which other sectors know
a person, read from the reference directory. No public schema exists; the element names
are those real clients use (xsd/SSDN/ReferenceManagerRequest.xsd is kszws's)."""
import datetime
from dataclasses import dataclass

from lxml import etree

from kszws.wire.ssdn import COMMON, CommonPrefixes

NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/ReferenceManagerFacade"
SERVICE_ID, VERSION = "ReferenceManager.consult", "20050525"


def q(local):
    return "{%s}%s" % (NS, local)


@dataclass
class Query:
    quality_code: int
    ssin: str
    integrated_start: datetime.date
    integrated_end: datetime.date
    start: datetime.date
    end: datetime.date
    descriptions: bool


def _date(parent, local):
    text = parent.findtext("{%s}%s" % (COMMON, local)) if parent is not None else None
    return datetime.date.fromisoformat(text.strip()[:10]) if text and text.strip() else None


def parse(element):
    criteria = element.find(q("ConsultOtherSectorsCriteria"))
    integrated = criteria.find(q("IntegratedPeriod"))
    requested = criteria.find(q("RequestedPeriod"))
    return Query(
        quality_code=int(criteria.findtext(q("QualityCodeRequestor")).strip()),
        ssin=criteria.findtext(q("RequestedSsin")).strip(),
        integrated_start=_date(integrated, "StartDate"), integrated_end=_date(integrated, "EndDate"),
        start=_date(requested, "StartDate"), end=_date(requested, "EndDate"),
        descriptions=(criteria.findtext(q("FetchDescriptions")) or "false").strip() in ("true", "1"))


def reply(consultations, sector_of, quality_of, descriptions):
    """ReferenceManagerReply/ConsultOtherSectorsResult with one Consultation per registration
    of another sector: Sector, QualityCode, Period, and the NL/FR descriptions when asked.
    `sector_of(sector)` and `quality_of(sector, code)` give objects with names."""
    root = etree.Element(q("ReferenceManagerReply"), nsmap={"ns3": NS})
    result = etree.SubElement(root, q("ConsultOtherSectorsResult"))
    prefixes = CommonPrefixes()
    for r in consultations:
        elt = etree.SubElement(result, q("Consultation"))
        etree.SubElement(elt, q("Sector")).text = str(r.sector)
        etree.SubElement(elt, q("QualityCode")).text = str(r.quality_code)
        prefixes.period(elt, q("Period"), r.start, r.end)
        if descriptions:
            sector, quality = sector_of(r.sector), quality_of(r.sector, r.quality_code)
            etree.SubElement(elt, q("SectorDescriptionNl")).text = sector.name_nl if sector else ""
            etree.SubElement(elt, q("SectorDescriptionFr")).text = sector.name_fr if sector else ""
            etree.SubElement(elt, q("QualityCodeDescriptionNl")).text = quality.nl if quality else ""
            etree.SubElement(elt, q("QualityCodeDescriptionFr")).text = quality.fr if quality else ""
    return root
