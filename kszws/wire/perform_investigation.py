"""OCMWCPASPerformInvestigation, version 20080604 (the real schema is
XSD/SSDN/OCMW_CPAS/PerformInvestigation): family composition, citizen data, address
history and wait register of a person, written from National Register source records."""
from dataclasses import dataclass

from lxml import etree

from kszws.wire.ssdn import PERSON, add_text as _add

NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/PerformInvestigation"
SERVICE_ID, VERSION = "OCMWCPASPerformInvestigation", "20080604"
GROUPS = ("FamilyCompositionGroup", "CitizenGroup", "AddressHistoryGroup", "WaitRegisterGroup")


def q(local):
    return "{%s}%s" % (NS, local)


def p(local):
    return "{%s}%s" % (PERSON, local)


@dataclass
class Query:
    ssin: str
    groups: tuple  # the data groups asked (all four when DataGroups is absent)


def parse(element):
    ssin = " ".join((element.findtext(q("SocialSecurityUser")) or "").split())
    groups = element.find(q("DataGroups"))
    if groups is None:
        return Query(ssin, GROUPS)
    asked = tuple(g for g in GROUPS
                  if (groups.findtext(q(g)) or "").strip().lower() in ("true", "1"))
    return Query(ssin, asked)


def reply(person, groups, members):
    """PerformInvestigationReply for `person`; `members` are the records of the household
    members (the person included), for the family composition and citizen groups."""
    root = etree.Element(q("PerformInvestigationReply"), nsmap={"ns3": NS, "ns4": PERSON})
    _add(root, q("SocialSecurityUser"), person["ssin"])
    data = etree.SubElement(root, q("DataGroups"))
    if "FamilyCompositionGroup" in groups:
        family = etree.SubElement(etree.SubElement(data, q("FamilyCompositionGroup")),
                                  q("FamilyComposition"), origin=person["register"])
        entries = person["household"] or [{"ssin": person["ssin"], "relationship": 1,
                                           "entryDate": None}]
        for member in entries[:100]:
            elt = etree.SubElement(family, q("FamilyMember"))
            _add(elt, q("SocialSecurityUser"), member["ssin"])
            _add(elt, q("RelationShip"), member["relationship"])
            _add(elt, q("EntryDate"), member["entryDate"])
    if "CitizenGroup" in groups:
        citizens = etree.SubElement(data, q("CitizenGroup"))
        for member in (members or [person])[:100]:
            citizen(citizens, member)
    if "AddressHistoryGroup" in groups:
        history = etree.SubElement(etree.SubElement(data, q("AddressHistoryGroup")),
                                   q("AddressHistory"))
        _add(history, q("SocialSecurityUser"), person["ssin"])
        legal = [a for a in person["addresses"] if a["kind"] == "legal"]
        if legal:
            addresses = etree.SubElement(history, q("LegalAddresses"))
            for address in legal[:100]:
                standard_address(addresses, q("StandardAddress"), address, person["register"])
    if "WaitRegisterGroup" in groups:
        # The synthetic population holds no asylum seekers: the group names the person only.
        wait = etree.SubElement(etree.SubElement(data, q("WaitRegisterGroup")), q("WaitRegister"))
        _add(wait, q("SocialSecurityUser"), person["ssin"])
    if not len(data):
        root.remove(data)
    return root


def citizen(parent, person):
    elt = etree.SubElement(parent, p("Citizen"), origin=person["register"])
    _add(elt, p("SocialSecurityUser"), person["ssin"])
    legal = etree.SubElement(elt, p("LegalData"))
    name = etree.SubElement(legal, p("Name"))
    _add(name, p("LastName"), person["lastName"])
    _add(name, p("MiddleName"), person["middleName"])
    _add(name, p("FirstName"), person["firstNames"])
    _add(legal, p("Gender"), person["gender"])
    birth = etree.SubElement(legal, p("Birth"))
    _add(birth, p("Date"), person["birthDate"])
    _location(birth, p("Location"), person["birthPlaceCode"], person["birthPlace"])
    if person["civilState"] is not None:
        civil = etree.SubElement(legal, p("CivilState"))
        if person["civilStateDate"]:
            civil.set("modificationDate", person["civilStateDate"])
        _add(civil, p("Code"), person["civilState"])
        if person["partnerSsin"]:
            _add(etree.SubElement(civil, p("Partner")), p("SocialSecurityUser"),
                 person["partnerSsin"])
    if person["deceaseDate"]:
        decease = etree.SubElement(legal, p("Decease"))
        _add(decease, p("Date"), person["deceaseDate"])
        _location(decease, p("Location"), person["deceasePlaceCode"], None)
    current = [a for a in person["addresses"] if not a.get("toDate")]
    if current and not current[0].get("diplomaticPost"):
        info = etree.SubElement(legal, p("AddressInformation"))
        standard_address(etree.SubElement(info, p("LegalAddress")), p("StandardAddress"),
                         current[0], person["register"])
    _location(legal, p("Nationality"), person["nationalityCode"], None)
    return elt


def _location(parent, tag, code, description):
    if code is None and not description:
        return None
    elt = etree.SubElement(parent, tag)
    _add(elt, p("Code"), code)
    _add(elt, p("Description"), description)
    return elt


def standard_address(parent, tag, address, origin):
    """A person:StandardAddressType element (Country, Municipality, Street, HouseNumber, Box)."""
    elt = etree.SubElement(parent, tag, origin=origin)
    if address.get("fromDate"):
        elt.set("modificationDate", address["fromDate"])
    _location(elt, p("Country"), address["countryCode"], None)
    if address.get("municipalityCode") is not None or address.get("municipality"):
        municipality = _location(elt, p("Municipality"), address.get("municipalityCode"),
                                 address.get("municipality"))
        _add(municipality, p("PostalCode"), address.get("postalCode"))
    if address.get("street"):
        _location(elt, p("Street"), None, address["street"])
    _add(elt, p("HouseNumber"), address.get("houseNumber"))
    _add(elt, p("Box"), address.get("box"))
    return elt
