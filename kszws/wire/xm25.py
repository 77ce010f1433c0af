"""The National Register's "information types" (TI / Tx25) in the xm25 shape of the
register (namespace http://www.ibz.rrn.fgov.be/XSD/xm25/rn25Schema), as RetrieveTIGroups
carries them in `rrn_it_implicit`. Written from National Register source records; the
types kszws's source holds: national number (TI000), residences (TI001), names (TI010),
legal main addresses (TI020), nationalities (TI031), birth place (TI100), household
members (TI140) and decease (TI150)."""
from lxml import etree

NS = "http://www.ibz.rrn.fgov.be/XSD/xm25/rn25Schema"
LANGUAGE_CODES = {"fr": "1", "nl": "2", "de": "2"}  # TI001 Language: 1 French, 2 Dutch
FAMILY_ROLES = {1: ("01", {"nl": "Referentiepersoon", "fr": "Personne de référence",
                           "de": "Bezugsperson"}),
                2: ("02", {"nl": "Echtgenoot", "fr": "Conjoint", "de": "Ehepartner"}),
                3: ("03", {"nl": "Kind", "fr": "Enfant", "de": "Kind"})}


# The register's civil-state codes (as IdentifyPerson's CivilState carries them).
CIVIL_STATES = {10: {"nl": "Ongehuwd", "fr": "Célibataire", "de": "Ledig"},
                20: {"nl": "Gehuwd", "fr": "Marié(e)", "de": "Verheiratet"},
                30: {"nl": "Weduwe(naar)", "fr": "Veuf(ve)", "de": "Verwitwet"},
                40: {"nl": "Uit de echt gescheiden", "fr": "Divorcé(e)", "de": "Geschieden"},
                50: {"nl": "Van tafel en bed gescheiden", "fr": "Séparé(e) de corps",
                     "de": "Von Tisch und Bett getrennt"}}


def r(local):
    return "{%s}%s" % (NS, local)


def _sub(parent, local, text=None, **attrib):
    # A group directly under rrn_it_implicit declares r: itself, as the register writes
    # it (each group is a document of its own there); below, the declaration is inherited.
    nsmap = {"r": NS} if etree.QName(parent).namespace != NS else None
    elt = etree.SubElement(parent, r(local), attrib, nsmap=nsmap)
    if text is not None:
        elt.text = str(text)
    return elt


def date(parent, iso, local="Date"):
    """DateType: Century, Year, Month, Day (an incomplete date keeps its 00 parts)."""
    elt = _sub(parent, local)
    year, month, day = (iso or "0000-00-00").split("-")
    _sub(elt, "Century", year[:2])
    _sub(elt, "Year", year[2:])
    _sub(elt, "Month", month)
    _sub(elt, "Day", day)
    return elt


def code_label(parent, local, code, label):
    elt = _sub(parent, local)
    _sub(elt, "Code", code)
    _sub(elt, "Label", label or "")
    return elt


def _street(address_element, address, language):
    """The street as the register gives it: Code (the postal code and the street's number
    in the municipality's list, 8 digits) and Label, in the language asked when the
    municipality has it; a street outside the lists as Graphic text."""
    street = _sub(address_element, "Street")
    code = address.get("streetCode")
    if code is None:
        _sub(street, "Graphic", address.get("street") or "")
        return
    names = dict(address.get("streetNames") or ())
    _sub(street, "Code", "%04d%04d" % (int(address.get("postalCode") or 0) % 10000,
                                       code % 10000))
    _sub(street, "Label", names.get(language) or address.get("street") or "")


def file_info(parent, person, language, history, country_name, members=()):
    """The rrn_it_implicit element (FileInfoType) for `person`. `country_name(nis,
    language)` names countries; `members` are records of the household members."""
    info = etree.SubElement(parent, "rrn_it_implicit")
    known = {m["ssin"]: m for m in members}
    _national_number(_sub(info, "NationalNumber", Type="000", Structure="A1"),
                     person["ssin"], person)
    addresses = person["addresses"] if history else [
        a for a in person["addresses"] if not a.get("toDate")][:1]
    belgian = [a for a in addresses if a.get("municipalityCode")]
    abroad = [a for a in addresses if not a.get("municipalityCode") and a.get("countryCode")]
    if addresses:
        owner = _sub(info, "FileOwner")
        for address in addresses:  # the municipality, or the country for a stay abroad
            residence = _sub(owner, "Residences", Type="001", Structure="A1")
            date(residence, address["fromDate"])
            if address.get("municipalityCode"):
                code_label(residence, "Residence", address["municipalityCode"],
                           address["municipality"])
            else:
                code_label(residence, "Residence", address.get("countryCode") or 0,
                           country_name(address.get("countryCode"), language))
            _sub(residence, "Fusion", "0")
            _sub(residence, "Language", LANGUAGE_CODES.get(person["language"], "2"))
    names = _sub(info, "Names")
    name = _sub(names, "Name", Type="010", Structure="A1")
    date(name, person["registeredOn"] or person["birthDate"])
    _name(name, person)
    if belgian:
        legal = _sub(info, "LegalMainAddresses")
        for address in belgian:
            entry = _sub(legal, "LegalMainAddress", Type="020", Structure="A1")
            date(entry, address["fromDate"])
            elt = _sub(entry, "Address")
            _sub(elt, "ZipCode", address.get("postalCode") or "")
            _street(elt, address, language)
            _sub(elt, "HouseNumber", address.get("houseNumber") or "")
            if address.get("box"):
                _sub(elt, "Box", address["box"])
    if abroad:
        _residence_abroad(info, abroad, language, country_name)
    nationalities = _sub(info, "Nationalities")
    nationality = _sub(nationalities, "Nationality", Type="031", Structure="B1")
    date(nationality, person["birthDate"])
    code_label(nationality, "Nationality", person["nationalityCode"],
               country_name(person["nationalityCode"], language))
    birth = _sub(info, "BirthPlace", Type="100", Structure="A1")
    date(birth, person["birthDate"])
    _sub(birth, "ActNumber", "0")
    place = _sub(birth, "Place1")
    _sub(place, "Code", person["birthPlaceCode"] if person["birthPlaceCode"] is not None else "0")
    _sub(place, "Label", person["birthPlace"] or country_name(person["birthCountryCode"], language))
    _civil_states(info, person, language, known)
    if person["household"]:
        family = _sub(info, "FamilyMembers")
        for member in person["household"]:
            entry = _sub(family, "FamilyMember", Type="140", Structure="A1")
            date(entry, member["entryDate"])
            _family_role(entry, member["relationship"], language)
            if member["ssin"] == person["ssin"]:
                continue  # the file's owner: his role only, as the register writes it
            _national_number(entry, member["ssin"])
            other = known.get(member["ssin"])
            if other is not None:
                _name(entry, other, first_names=False)
        _head_of_family(info, person, language, known)
    if person["deceaseDate"]:
        deceases = _sub(info, "Deceases")
        decease = _sub(deceases, "Decease", Type="150", Structure="A1")
        date(decease, person["deceaseDate"])
        act = _sub(decease, "Decease")
        _sub(act, "ActNumber", "0")
        place = _sub(act, "Place1")
        _sub(place, "Code", person["deceasePlaceCode"] if person["deceasePlaceCode"] else "0")
    _record_dates(info, person)
    return info


def _residence_abroad(info, addresses, language, country_name):
    """ResidenceAbroad (IT022): the diplomatic post the person is known to, the territory
    and the address abroad as written."""
    group = _sub(info, "ResidenceAbroad")
    for address in addresses:
        entry = _sub(group, "ResidenceAbroad", Type="022", Structure="B1")
        date(entry, address["fromDate"])
        outer = _sub(entry, "Address")
        country = address.get("countryCode")
        _sub(_sub(outer, "PosteDiplomatique"), "Code", address.get("diplomaticPost") or 0)
        code_label(outer, "Territory", country, country_name(country, language))
        inner = _sub(outer, "Address")
        code_label(inner, "Country", country, country_name(country, language))
        if address.get("plainText"):
            _sub(inner, "Graphic1", address["plainText"])


def _name(parent, person, first_names=True):
    """NameType: the last name and the first names, each with its code in the register's
    name table (0 where the source gave none)."""
    name = _sub(parent, "Name")
    code_label(name, "LastName", person.get("lastNameCode") or "0", person["lastName"])
    if first_names:
        codes = (person.get("firstNameCodes") or "").split()
        for i, first in enumerate((person["firstNames"] or "").split()[:14]):
            code_label(name, "FirstName", codes[i] if i < len(codes) else "0", first)
    return name


def _national_number(parent, ssin, person=None):
    """NationalNumberType: the number, and the birth date and sex when the record is
    known."""
    number = _sub(parent, "NationalNumber")
    _sub(number, "NationalNumber", ssin)
    if person is not None:
        date(number, person["birthDate"])
        if person["gender"] in (1, 2):
            _sub(number, "Sex", person["gender"])
    return number


def _family_role(parent, relationship, language):
    role, labels = FAMILY_ROLES.get(relationship, ("99", {}))
    code_label(parent, "FamilyRole", role, labels.get(language, ""))


def _civil_states(info, person, language, known):
    """CivilStates (IT120): the current civil state since its date, with the spouse."""
    code = person.get("civilState")
    if code is None:
        return
    states = _sub(info, "CivilStates")
    state = _sub(states, "CivilState", Type="120", Structure="B1")
    date(state, person.get("civilStateDate") or person["birthDate"])
    code_label(state, "CivilState", code, CIVIL_STATES.get(code, {}).get(language, ""))
    partner = person.get("partnerSsin")
    if partner:
        spouse = _sub(state, "Spouse")
        other = known.get(partner)
        _national_number(spouse, partner, other)
        if other is not None:
            _name(spouse, other)


def _head_of_family(info, person, language, known):
    """HeadOfFamily (IT141): the reference person of the household, when it is someone
    else (a file owner who heads his household has his role in FamilyMembers)."""
    own = next((m for m in person["household"] if m["ssin"] == person["ssin"]), None)
    head = next((m for m in person["household"] if m["relationship"] == 1), None)
    if own is None or head is None or head["ssin"] == person["ssin"]:
        return
    group = _sub(info, "HeadOfFamily")
    entry = _sub(group, "HeadOfFamily", Type="141", Structure="A1")
    date(entry, own["entryDate"])
    _family_role(entry, own["relationship"], language)
    other = known.get(head["ssin"])
    _national_number(entry, head["ssin"], other)
    if other is not None:
        _name(entry, other, first_names=False)


def _record_dates(info, person):
    """CreationDate (IT253) and LastUpdateDate (IT254) of the record: its registration,
    and the latest change it holds (an address, the civil state)."""
    created = person["registeredOn"] or person["birthDate"]
    changes = [created, person.get("civilStateDate") or "",
               *(a.get("fromDate") or "" for a in person["addresses"])]
    date(_sub(info, "CreationDate", Type="253", Structure="A1"), created)
    date(_sub(info, "LastUpdateDate", Type="254", Structure="A1"), max(changes))
