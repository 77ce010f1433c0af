"""OCMWCPASPensionRegisterConsult, version 20090706 (CONTRACTS.md §6): a person's pensions in
the pension cadastre, for a CPAS. No public schema exists; the request's element names are
those a real client sends (xsd/SSDN/PensionRegisterRequest.xsd is kszws's); the reply
(Penskad_OpenPK_ConsultReply) is kszws's, in the same namespace: one Benefit per
declaration in force, by month."""
import datetime
from dataclasses import dataclass

from lxml import etree

from kszws.wire.ssdn import COMMON

NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/PensionRegister"
SERVICE_ID, VERSION = "OCMWCPASPensionRegisterConsult", "20090706"


def q(local):
    return "{%s}%s" % (NS, local)


@dataclass
class Query:
    ssin: str
    start: datetime.date
    end: datetime.date  # None: open
    pillar: int  # None: both


def parse(element):
    period = element.find(q("Period"))
    start = period.findtext("{%s}StartDate" % COMMON).strip()[:10]
    end = (period.findtext("{%s}EndDate" % COMMON) or "").strip()[:10]
    pillar = (element.findtext(q("RequestedData") + "/" + q("Pillar")) or "").strip()
    return Query((element.findtext(q("TargetSSIN")) or "").strip(),
                 datetime.date.fromisoformat(start),
                 datetime.date.fromisoformat(end) if end else None,
                 int(pillar) if pillar and int(pillar) in (1, 2) else None)


def reply(ssin, benefits):
    """`benefits`: dicts with the cadastre's Benefit fields and payerCbe."""
    root = etree.Element(q("Penskad_OpenPK_ConsultReply"), nsmap={"ns3": NS})
    etree.SubElement(root, q("TargetSSIN")).text = ssin
    for b in benefits:
        elt = etree.SubElement(root, q("Benefit"))
        for field, name in (("month", "Month"), ("payerCbe", "PayerCBE"),
                            ("benefitType", "BenefitType"), ("pillar", "Pillar"),
                            ("grossCents", "GrossAmount"),
                            ("familySituation", "FamilySituation")):
            if b.get(field) is not None:
                etree.SubElement(elt, q(name)).text = str(b[field])
    return root
