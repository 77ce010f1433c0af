"""OCMWCPASIdentifyPerson, version 20050930 (CONTRACTS.md §5; the real schema is
XSD/SSDN/OCMW_CPAS/IdentifyPerson): the request read into plain data, the reply written
from person records (dicts with the National Register source's field names)."""
from dataclasses import dataclass

from lxml import etree

from kszws.wire.ssdn import add_text, collapsed


NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/IdentifyPerson"
SERVICE_ID, VERSION = "OCMWCPASIdentifyPerson", "20050930"
MAX_RESULTS = 100  # LimitedLegalData maxOccurs


def q(local):
    return "{%s}%s" % (NS, local)


@dataclass
class Names:
    last_name: str
    first_name: str
    middle_name: str
    birth_date: str


@dataclass
class Phonetic(Names):
    gender: int
    tolerance: int
    maximum: int


@dataclass
class Query:
    ssin: str  # "" when not given
    phonetic: Phonetic  # None when not given
    sis_card: str
    identity_card: str
    person_data: Names  # None when not given

    @property
    def verifies(self):
        return bool(self.sis_card or self.identity_card or self.person_data)


def _text(parent, local):
    return collapsed(parent, q(local))


def _int(parent, local):
    value = _text(parent, local)
    return int(value) if value else None


def parse(element):
    criteria = element.find(q("SearchCriteria"))
    phonetic = criteria.find(q("PhoneticCriteria"))
    verification = element.find(q("VerificationData"))
    data = verification.find(q("PersonData")) if verification is not None else None
    return Query(
        ssin=_text(criteria, "SSIN"),
        phonetic=None if phonetic is None else Phonetic(
            _text(phonetic, "LastName"), _text(phonetic, "FirstName"),
            _text(phonetic, "MiddleName"), _text(phonetic, "BirthDate"),
            _int(phonetic, "Gender"), _int(phonetic, "Tolerance"), _int(phonetic, "Maximum")),
        sis_card=_text(verification, "SISCardNumber"),
        identity_card=_text(verification, "IdentityCardNumber"),
        person_data=None if data is None else Names(
            _text(data, "LastName"), _text(data, "FirstName"), _text(data, "MiddleName"),
            _text(data, "BirthDate")),
    )


def reply(persons, extended):
    """IdentifyPersonReply: one LimitedLegalData per person, each with its Extended block:
    filled when the identity was validated (`extended`), empty otherwise, as CBSS writes
    it (../shared/cbss/samples/lino_demo_ipr_1.xml)."""
    root = etree.Element(q("IdentifyPersonReply"), nsmap={"ns3": NS})
    if not persons:
        return root
    results = etree.SubElement(root, q("SearchResults"))
    for person in persons[:MAX_RESULTS]:
        data = etree.SubElement(results, q("LimitedLegalData"), origin=person["register"])
        _basic(etree.SubElement(data, q("Basic")), person)
        block = etree.SubElement(data, q("Extended"))
        if extended:
            _extended(block, person)
    return root


def basic(person):
    """A person's Basic block alone, as IdentifyPerson gives it: what a batch IDPR result
    carries for each person (the same data as its online twin, nothing more)."""
    element = etree.Element(q("Basic"), nsmap={"ns3": NS})
    _basic(element, person)
    return element


def _add(parent, local, value, **attrib):
    return add_text(parent, q(local), value, **attrib)


def _upper(value):
    """Names and places as CBSS's IdentifyPerson writes them: in capitals."""
    return value.upper() if isinstance(value, str) else value


def _names(parent, local, variants, fallback):
    """One `local` per official language (`lang`), in capitals; the one name the register
    gave, without `lang`, when it has no variants (an address abroad, an old record)."""
    if not variants:
        _add(parent, local, _upper(fallback))
    for lang, name in variants[:5]:
        _add(parent, local, _upper(name), lang=lang)


def _basic(basic, person):
    _add(basic, "SocialSecurityUser", person["ssin"])
    _add(basic, "LastName", _upper(person["lastName"]))
    _add(basic, "FirstName", _upper(person["firstNames"]))
    _add(basic, "MiddleName", _upper(person["middleName"]))
    _add(basic, "BirthDate", person["birthDate"])
    _add(basic, "Gender", person["gender"])
    current = [a for a in person["addresses"] if not a.get("toDate")]
    address = current[0] if current else None
    if address is None:
        return
    if address.get("diplomaticPost"):
        post = etree.SubElement(basic, q("DiplomaticPost"))
        _add(post, "CountryCode", address["countryCode"])
        _add(post, "Post", address["diplomaticPost"])
        # the address as written, its lines (up to three, xm25's Graphic1-3) on one line
        _add(post, "AddressPlainText",
             _upper(" ".join((address.get("plainText") or "").split())[:100]))
        return
    elt = etree.SubElement(basic, q("Address"))
    _add(elt, "CountryCode", address["countryCode"])
    _add(elt, "MunicipalityCode", address["municipalityCode"])
    _names(elt, "Municipality", address.get("municipalityNames"), address["municipality"])
    _add(elt, "PostalCode", address["postalCode"])
    _add(elt, "StreetCode", address.get("streetCode"))
    _names(elt, "Street", address.get("streetNames"), address["street"])
    _add(elt, "HouseNumber", address["houseNumber"])
    _add(elt, "Box", address["box"])


def _extended(ext, person):
    _add(ext, "CivilState", person["civilState"])
    _add(ext, "BirthLocationCode", person["birthPlaceCode"])
    _names(ext, "BirthLocation", person.get("birthPlaceNames"), person["birthPlace"])
    _add(ext, "DeceaseDate", person["deceaseDate"])
    _add(ext, "InscriptionRegister", "1" if person["register"] == "RN_RR" else "2")
    _add(ext, "NationalityCode", person["nationalityCode"])
