"""The National Register's "information types" (TI / Tx25) in the xm25 shape of the
register (namespace http://www.ibz.rrn.fgov.be/XSD/xm25/rn25Schema), as RetrieveTIGroups
carries them in `rrn_it_implicit`. Written from National Register source records; the
types kszws's source holds: national number (TI000), residences (TI001), names (TI010),
legal main addresses (TI020), residence abroad (TI022), nationalities (TI031),
occupations (TI070), birth place (TI100), filiations (TI110), civil states (TI120),
household members (TI140), heads of family (TI141), decease (TI150), driving licences of
the old model (TI194), identity cards (TI195), passports (TI199), the record's creation
and last update (TI253, TI254). Groups come in the order CBSS writes them; labels in the
language asked (kszws.register_codes)."""
from lxml import etree

from kszws import register_codes as codes

NS = "http://www.ibz.rrn.fgov.be/XSD/xm25/rn25Schema"


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
    parts = ((iso or "") + "-00-00").split("-")  # an incomplete or odd date: 00 parts
    year, month, day = (p if p.isdigit() else "0" for p in parts[:3])
    year, month, day = year.zfill(4)[-4:], month.zfill(2)[-2:], day.zfill(2)[-2:]
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
    postal = "".join(c for c in str(address.get("postalCode") or "") if c.isdigit())
    _sub(street, "Code", "%04d%04d" % (int(postal or 0) % 10000, code % 10000))
    _sub(street, "Label", names.get(language) or address.get("street") or "")


def _entries(info, group, local, type_, structure, items, since="fromDate"):
    """A group of information entries (TI`type_`), absent when there are none: yields
    each item with its entry element, its Date written."""
    if not items:
        return
    parent = _sub(info, group)
    for item in items:
        entry = _sub(parent, local, Type=type_, Structure=structure)
        date(entry, item[since])
        yield entry, item


def _pick(names, language, fallback=""):
    """The name in `language` among [(lang, name)], else the first, else `fallback`."""
    named = dict(names or ())
    return named.get(language) or (names[0][1] if names else fallback) or ""


def file_info(parent, person, language, country_name, members=()):
    """The rrn_it_implicit element (FileInfoType) for `person`, with the addresses the
    source gave (all of them, or the current ones: the request's `history` is the
    source's to apply).
    `country_name(nis, language)` names countries; `members` are the records of the other
    persons the file names (household, spouse, parents, heads of family)."""
    info = etree.SubElement(parent, "rrn_it_implicit")
    known = {m["ssin"]: m for m in members}
    _national_number(_sub(info, "NationalNumber", Type="000", Structure="A1"),
                     person["ssin"], person)
    addresses = person["addresses"]
    belgian = [a for a in addresses if a.get("municipalityCode")]
    abroad = [a for a in addresses if not a.get("municipalityCode") and a.get("countryCode")]
    _residences(info, person, addresses, language, country_name)
    names = _sub(info, "Names")
    name = _sub(names, "Name", Type="010", Structure="A1")
    date(name, person["registeredOn"] or person["birthDate"])
    _name(name, person)
    _legal_main_addresses(info, belgian, language)
    _residence_abroad(info, abroad, language, country_name)
    nationalities = _sub(info, "Nationalities")
    nationality = _sub(nationalities, "Nationality", Type="031", Structure="B1")
    date(nationality, person["birthDate"])
    code_label(nationality, "Nationality", person["nationalityCode"],
               country_name(person["nationalityCode"], language))
    _occupations(info, person.get("occupations") or (), language)
    _birth_place(info, person, language, country_name)
    _filiations(info, person.get("filiations") or (), language, known)
    _civil_states(info, person.get("civilStates") or (), language, known)
    _family_members(info, person, language, known)
    _heads_of_family(info, person, language, known)
    for decease, _ in _entries(info, "Deceases", "Decease", "150", "A1",
                               [person] if person["deceaseDate"] else [], "deceaseDate"):
        act = _sub(decease, "Decease")
        _sub(act, "ActNumber", "0")
        place = _sub(act, "Place1")
        _sub(place, "Code", person["deceasePlaceCode"] if person["deceasePlaceCode"] else "0")
    _documents(info, person.get("documents") or (), language)
    _record_dates(info, person)
    return info


def _residences(info, person, addresses, language, country_name):
    """FileOwner (TI001): the municipality of each address, or the country for a stay
    abroad, newest first."""
    for residence, address in _entries(info, "FileOwner", "Residences", "001", "A1", addresses):
        if address.get("municipalityCode"):
            code_label(residence, "Residence", address["municipalityCode"],
                       _pick(address.get("municipalityNames"), language,
                             address.get("municipality")))
        else:
            code_label(residence, "Residence", address.get("countryCode") or 0,
                       country_name(address.get("countryCode"), language))
        _sub(residence, "Fusion", "0")
        _sub(residence, "Language", codes.FILE_LANGUAGES.get(person["language"], "2"))


def _legal_main_addresses(info, addresses, language):
    for entry, address in _entries(info, "LegalMainAddresses", "LegalMainAddress", "020", "A1",
                                   addresses):
        elt = _sub(entry, "Address")
        _sub(elt, "ZipCode", address.get("postalCode") or "")
        _street(elt, address, language)
        _sub(elt, "HouseNumber", address.get("houseNumber") or "")
        if address.get("box"):
            _sub(elt, "Box", address["box"])


def _residence_abroad(info, addresses, language, country_name):
    """ResidenceAbroad (TI022): the diplomatic post the person is known to, the territory
    and the address abroad as written (up to three lines)."""
    for entry, address in _entries(info, "ResidenceAbroad", "ResidenceAbroad", "022", "B1",
                                   addresses):
        outer = _sub(entry, "Address")
        country = address.get("countryCode")
        post = _sub(outer, "PosteDiplomatique")
        _sub(post, "Code", address.get("diplomaticPost") or 0)
        if address.get("diplomaticPostName"):
            _sub(post, "Label", address["diplomaticPostName"])
        code_label(outer, "Territory", country, country_name(country, language))
        inner = _sub(outer, "Address")
        code_label(inner, "Country", country, country_name(country, language))
        lines = (address.get("plainText") or "").splitlines()[:3]
        for number, line in enumerate(lines, 1):
            _sub(inner, "Graphic%d" % number, line)


def _occupations(info, occupations, language):
    """Occupations (TI070): the occupation and its social category."""
    for entry, occupation in _entries(info, "Occupations", "Occupation", "070", "A1",
                                      occupations):
        code_label(entry, "Occupation", occupation["code"],
                   codes.label(codes.OCCUPATIONS, occupation["code"], language))
        category = occupation["socialCategory"]
        code_label(entry, "SocialCategory", category,
                   codes.label(codes.SOCIAL_CATEGORIES, category, language))


def _birth_place(info, person, language, country_name):
    """BirthPlace (TI100), structure A1 as the register writes it for a Belgian
    municipality (CBSS's sample lino_demo_tx25_1.xml: Eupen, A1), the country's code for
    a birth abroad."""
    birth = _sub(info, "BirthPlace", Type="100", Structure="A1")
    date(birth, person["birthDate"])
    _sub(birth, "ActNumber", "00000")
    place = _sub(birth, "Place1")
    _sub(place, "Code", person["birthPlaceCode"] if person["birthPlaceCode"] is not None else "0")
    _sub(place, "Label", _pick(person.get("birthPlaceNames"), language, person["birthPlace"])
         or country_name(person["birthCountryCode"], language))


def _filiations(info, filiations, language, known):
    """Filiations (TI110): the parents the act names, with their numbers and names."""
    for entry, filiation in _entries(info, "Filiations", "Filiation", "110", "C1", filiations):
        code_label(entry, "FiliationType", filiation["typeCode"],
                   codes.label(codes.FILIATION_TYPES, filiation["typeCode"], language))
        for local, ssin in (("Parent1", filiation["parent1Ssin"]),
                            ("Parent2", filiation["parent2Ssin"])):
            parent = known.get(ssin)
            if parent is not None:  # ParentType needs the name: an unknown parent is left out
                element = _sub(entry, local)
                _national_number(element, ssin, parent)
                _name(element, parent)


def _civil_states(info, states, language, known):
    """CivilStates (TI120): each civil state since its date, with the spouse, and the
    place (Lieu) and act number of its record."""
    for entry, state in _entries(info, "CivilStates", "CivilState", "120", "B1", states):
        code = state["code"]
        code_label(entry, "CivilState", code, codes.label(codes.CIVIL_STATES, code, language))
        partner = state.get("partnerSsin")
        if partner:
            spouse = _sub(entry, "Spouse")
            other = known.get(partner)
            _national_number(spouse, partner, other)
            if other is not None:
                _name(spouse, other)
        if state.get("placeCode"):
            code_label(_sub(entry, "Lieu"), "Place1", state["placeCode"],
                       _pick(state.get("placeNames"), language))
        if state.get("actNumber"):
            _sub(entry, "ActNumber", state["actNumber"])


def _family_members(info, person, language, known):
    """FamilyMembers (TI140): the household, the file's owner by his role only."""
    for entry, member in _entries(info, "FamilyMembers", "FamilyMember", "140", "A1",
                                  person["household"], since="entryDate"):
        _family_role(entry, member["relationship"], language)
        if member["ssin"] == person["ssin"]:
            continue
        _national_number(entry, member["ssin"])
        other = known.get(member["ssin"])
        if other is not None:
            _name(entry, other, first_names=False)


def _heads_of_family(info, person, language, known):
    """HeadOfFamily (TI141): the reference person of each household the owner belonged
    to without heading it: the current one, and those he left (with DelDate)."""
    memberships = []
    own = next((m for m in person["household"] if m["ssin"] == person["ssin"]), None)
    head = next((m for m in person["household"] if m["relationship"] == 1), None)
    if own is not None and head is not None and head["ssin"] != person["ssin"]:
        memberships.append(dict(own, headSsin=head["ssin"], leaveDate=None))
    memberships += person.get("pastMemberships") or ()
    for entry, membership in _entries(info, "HeadOfFamily", "HeadOfFamily", "141", "A1",
                                      memberships, since="entryDate"):
        if membership["leaveDate"]:
            date(entry, membership["leaveDate"], "DelDate")
        _family_role(entry, membership["relationship"], language)
        other = known.get(membership["headSsin"])
        _national_number(entry, membership["headSsin"], other)
        if other is not None:
            _name(entry, other)


def _documents(info, documents, language):
    """DrivingLicensesOldModel (TI194), IdentityCards (TI195) and Passports (TI199), each
    newest first, issued by a municipality or a diplomatic post."""
    for kind, group, local, type_, structure, write in (
            ("driving_licence", "DrivingLicensesOldModel", "DrivingLicense", "194", "A1",
             _driving_licence),
            ("identity_card", "IdentityCards", "IdentityCard", "195", "F1", _identity_card),
            ("passport", "Passports", "Passport", "199", "B1", _passport)):
        mine = [d for d in documents if d["kind"] == kind]
        for entry, document in _entries(info, group, local, type_, structure, mine, "issuedOn"):
            write(entry, document, language)


def _issuer(document, language):
    """(code, label) of the municipality or the post that issued a document."""
    code = document.get("diplomaticPost") or document.get("placeCode") or 0
    return code, _pick(document.get("placeNames"), language)


def _driving_licence(entry, licence, language):
    code_label(entry, "TypeOfLicense", licence["typeCode"],
               codes.label(codes.LICENCE_TYPES, licence["typeCode"], language))
    categories = _sub(entry, "Categories")
    for category in (licence.get("categories") or "").split():
        code_label(categories, "Category", category, codes.LICENCE_CATEGORIES.get(category, ""))
    _sub(entry, "LicenseNumber", licence["number"])
    code_label(_sub(entry, "Delivery"), "Place", *_issuer(licence, language))


def _identity_card(entry, card, language):
    code_label(entry, "TypeOfCard", card["typeCode"],
               codes.label(codes.CARD_TYPES, card["typeCode"], language))
    _sub(entry, "CardNumber", card["number"])
    code_label(_sub(entry, "Delivery"), "Place", *_issuer(card, language))
    if card.get("expiresOn"):
        date(entry, card["expiresOn"], "ExpiryDate")


def _passport(entry, passport, language):
    code_label(entry, "Status", "0", codes.label(codes.PASSPORT_STATUSES, "0", language))
    ident = _sub(entry, "PassportIdent")
    code_label(ident, "PassportType", passport["typeCode"],
               codes.label(codes.PASSPORT_TYPES, passport["typeCode"], language))
    _sub(ident, "PassportNumber", passport["number"])
    issuer = _sub(entry, "Issuer")
    code, label = _issuer(passport, language)
    code_label(issuer, "PosteDiplomatique" if passport.get("diplomaticPost") else "Place",
               code, label)
    _sub(entry, "RenewalNumber", "00")
    if passport.get("expiresOn"):
        date(entry, passport["expiresOn"], "ExpiryDate")


def _name(parent, person, first_names=True):
    """NameType: the last name and the first names, each with its code in the register's
    name table (0 where the source gave none)."""
    name = _sub(parent, "Name")
    code_label(name, "LastName", person.get("lastNameCode") or "0", person["lastName"])
    if first_names:
        codes_ = (person.get("firstNameCodes") or "").split()
        for i, first in enumerate((person["firstNames"] or "").split()[:14]):
            code_label(name, "FirstName", codes_[i] if i < len(codes_) else "0", first)
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
    role = codes.FAMILY_ROLES.get(relationship, "99")
    code_label(parent, "FamilyRole", role, codes.label(codes.FAMILY_ROLE_LABELS, role, language))


def _record_dates(info, person):
    """CreationDate (TI253) and LastUpdateDate (TI254) of the record: its registration,
    and the latest change it holds (an address, a civil state, a document...)."""
    created = person["registeredOn"] or person["birthDate"]
    changes = [created, person.get("civilStateDate") or "",
               *(a.get("fromDate") or "" for a in person["addresses"]),
               *(c.get("fromDate") or "" for c in person.get("civilStates") or ()),
               *(o.get("fromDate") or "" for o in person.get("occupations") or ()),
               *(d.get("issuedOn") or "" for d in person.get("documents") or ())]
    date(_sub(info, "CreationDate", Type="253", Structure="A1"), created)
    date(_sub(info, "LastUpdateDate", Type="254", Structure="A1"), max(changes))
