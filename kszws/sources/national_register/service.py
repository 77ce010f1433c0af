"""The National Register source's SOAP service (its contract: wsdl/NationalRegisterSource.wsdl).

consultPerson(ssin, history)  -> the whole record: identity, civil state, birth, death,
                                 nationality, cards, addresses (all of them, or the current
                                 one and, for a person abroad, the last in Belgium),
                                 household, and the groups: civil-state history,
                                 occupations, filiations, identity documents, past
                                 households; `found` false for an unknown SSIN.
consultPersons(ssins)          -> the persons of up to 100 SSINs the register knows (one call
                                 where a message names many persons: DIMONA batches)
householdsAt(ssins, date)      -> for each of up to 1000 SSINs the register knows, one
                                 line: the SSIN, its status, then the SSINs of the others
                                 in its household on `date`, separated by spaces
                                 (store.households_at: SOCTAR)
searchPersons(lastName, firstName?, middleName?, birthDate, tolerance?, gender?, maximum?)
                              -> persons whose family name sounds alike, born within the
                                 (possibly incomplete) birth date widened by `tolerance`
                                 years, with their current address.

Database work runs in Twisted's thread pool: the reactor never waits on it.
"""
import datetime
import functools
import hashlib

from spyne import Array, Boolean, ComplexModel, Integer, ServiceBase, Unicode, rpc
from twisted.internet import threads

from kszws import register_codes
from kszws.compat.spyne import plain
from kszws.sources import geography
from kszws.sources.national_register import store

NS = "urn:kszws:source:nationalregister:v1"
DEFAULT_MAXIMUM = 20


class LangName(ComplexModel):
    """A name in one of the official languages (nl, fr, de)."""
    __namespace__ = NS
    _type_info = [("lang", Unicode), ("name", Unicode)]


class Address(ComplexModel):
    __namespace__ = NS
    _type_info = [
        ("kind", Unicode), ("fromDate", Unicode), ("toDate", Unicode),
        ("countryCode", Integer), ("municipalityCode", Integer), ("municipality", Unicode),
        ("postalCode", Unicode), ("street", Unicode), ("houseNumber", Unicode), ("box", Unicode),
        ("diplomaticPost", Integer), ("plainText", Unicode),
        # the names in each official language of the municipality, the street's code
        ("municipalityNames", Array(LangName)), ("streetCode", Integer),
        ("streetNames", Array(LangName)), ("diplomaticPostName", Unicode),
    ]


class HouseholdMember(ComplexModel):
    __namespace__ = NS
    _type_info = [("ssin", Unicode), ("relationship", Integer), ("entryDate", Unicode)]


class CivilState(ComplexModel):
    """A civil state since `fromDate`, with the partner, and the municipality and act
    number under which it was recorded."""
    __namespace__ = NS
    _type_info = [("fromDate", Unicode), ("code", Integer), ("partnerSsin", Unicode),
                  ("placeCode", Integer), ("placeNames", Array(LangName)),
                  ("actNumber", Unicode)]


class Occupation(ComplexModel):
    __namespace__ = NS
    _type_info = [("fromDate", Unicode), ("code", Unicode), ("socialCategory", Integer)]


class Filiation(ComplexModel):
    """The parents an act names: parent 1 the father, parent 2 the mother."""
    __namespace__ = NS
    _type_info = [("fromDate", Unicode), ("typeCode", Unicode), ("parent1Ssin", Unicode),
                  ("parent2Ssin", Unicode)]


class Document(ComplexModel):
    """An identity card, passport or driving licence, issued by a municipality
    (placeCode, placeNames) or a diplomatic post (diplomaticPost, placeNames)."""
    __namespace__ = NS
    _type_info = [("kind", Unicode), ("number", Unicode), ("typeCode", Unicode),
                  ("issuedOn", Unicode), ("expiresOn", Unicode), ("placeCode", Integer),
                  ("diplomaticPost", Integer), ("placeNames", Array(LangName)),
                  ("categories", Unicode)]


class PastMembership(ComplexModel):
    """A household the person belonged to and left, with its reference person."""
    __namespace__ = NS
    _type_info = [("headSsin", Unicode), ("relationship", Integer), ("entryDate", Unicode),
                  ("leaveDate", Unicode)]


class Person(ComplexModel):
    __namespace__ = NS
    _type_info = [
        ("ssin", Unicode), ("register", Unicode), ("status", Unicode), ("replacedBy", Unicode),
        ("lastName", Unicode), ("firstNames", Unicode), ("middleName", Unicode),
        ("gender", Integer), ("birthDate", Unicode), ("birthPlaceCode", Integer),
        ("birthPlace", Unicode), ("birthCountryCode", Integer), ("nationalityCode", Integer),
        ("civilState", Integer), ("civilStateDate", Unicode), ("partnerSsin", Unicode),
        ("deceaseDate", Unicode), ("deceasePlaceCode", Integer), ("sisCardNumber", Unicode),
        ("eidCardNumber", Unicode), ("language", Unicode), ("registeredOn", Unicode),
        ("addresses", Array(Address)), ("household", Array(HouseholdMember)),
        ("birthPlaceNames", Array(LangName)),  # a Belgian municipality's official names
        # the codes of the names in the register's name table: the last name's, and the
        # first names' in their order, separated by spaces
        ("lastNameCode", Unicode), ("firstNameCodes", Unicode),
        ("civilStates", Array(CivilState)), ("occupations", Array(Occupation)),
        ("filiations", Array(Filiation)), ("documents", Array(Document)),
        ("pastMemberships", Array(PastMembership)),
    ]


HOUSEHOLDS_AT_MAXIMUM = 1000


class ConsultPersonResult(ComplexModel):
    __namespace__ = NS
    _type_info = [("found", Boolean), ("person", Person)]


_PERSON_COLUMNS = {
    "ssin": "ssin", "register": "register", "status": "status", "replacedBy": "replaced_by",
    "lastName": "last_name", "firstNames": "first_names", "middleName": "middle_name",
    "gender": "gender", "birthDate": "birth_date", "birthPlaceCode": "birth_place_nis",
    "birthPlace": "birth_place", "birthCountryCode": "birth_country_nis",
    "nationalityCode": "nationality_nis", "civilState": "civil_state",
    "civilStateDate": "civil_state_date", "partnerSsin": "partner_ssin",
    "deceaseDate": "decease_date", "deceasePlaceCode": "decease_place_nis",
    "sisCardNumber": "sis_card", "eidCardNumber": "eid_card", "language": "language",
    "registeredOn": "registered_on",
}
_ADDRESS_COLUMNS = {
    "kind": "kind", "fromDate": "from_date", "toDate": "to_date", "countryCode": "country_nis",
    "municipalityCode": "municipality_nis", "municipality": "municipality",
    "postalCode": "postal_code", "street": "street", "houseNumber": "house_number",
    "box": "box", "diplomaticPost": "diplomatic_post", "plainText": "plain_text",
}


def _person(record, addresses, household=(), history=True):
    fields = {k: record[c] for k, c in _PERSON_COLUMNS.items()}
    fields["addresses"] = [_address(a) for a in addresses]
    fields["lastNameCode"] = name_code(record["last_name"])
    fields["firstNameCodes"] = " ".join(name_code(n) for n in
                                        (record["first_names"] or "").split())
    birth_town = geography.municipality(record["birth_place_nis"])
    fields["birthPlaceNames"] = _names(birth_town.official_names if birth_town else [])
    fields["household"] = [plain(HouseholdMember, ssin=m["ssin"],
                                 relationship=m["relationship"], entryDate=m["entry_date"])
                           for m in household]
    if "civilStates" in record:  # the groups (store.get_person with groups)
        fields.update(_groups(record if history else current_entries(record)))
    return plain(Person, **fields)


def current_entries(record):
    """The record without what ended, as a file without history gives it: the current
    civil state and occupation, the newest document of each kind, no household left;
    filiations do not end."""
    documents, kinds = [], set()
    for document in record["documents"]:  # newest first
        if document["kind"] not in kinds:
            kinds.add(document["kind"])
            documents.append(document)
    return dict(record, civilStates=record["civilStates"][:1],
                occupations=record["occupations"][:1], documents=documents,
                pastMemberships=[])


def _groups(record):
    """The history groups of a record; the civil state from the person row when the
    history holds none (single since birth, or a record older than the history)."""
    states = record["civilStates"] or [{
        "from_date": record["civil_state_date"] or record["birth_date"],
        "code": record["civil_state"],
        "partner_ssin": record["partner_ssin"], "place_nis": None, "act_number": None}]
    return {
        "civilStates": [CivilState(fromDate=c["from_date"], code=c["code"],
                                   partnerSsin=c["partner_ssin"], placeCode=c["place_nis"],
                                   placeNames=_place_names(c["place_nis"]),
                                   actNumber=c["act_number"]) for c in states],
        "occupations": [Occupation(fromDate=o["from_date"], code=o["code"],
                                   socialCategory=o["social_category"])
                        for o in record["occupations"]],
        "filiations": [Filiation(fromDate=f["from_date"], typeCode=f["type_code"],
                                 parent1Ssin=f["parent1_ssin"], parent2Ssin=f["parent2_ssin"])
                       for f in record["filiations"]],
        "documents": [Document(kind=d["kind"], number=d["number"], typeCode=d["type_code"],
                               issuedOn=d["issued_on"], expiresOn=d["expires_on"],
                               placeCode=d["place_nis"], diplomaticPost=d["diplomatic_post"],
                               placeNames=_place_names(d["place_nis"], d["diplomatic_post"]),
                               categories=d["categories"]) for d in record["documents"]],
        "pastMemberships": [PastMembership(headSsin=m["head_ssin"],
                                           relationship=m["relationship"],
                                           entryDate=m["entry_date"], leaveDate=m["leave_date"])
                            for m in record["pastMemberships"]],
    }


def _place_names(nis=None, post=None):
    """A municipality's official names, or a diplomatic post's one name."""
    if post is not None:
        return _names([("", register_codes.DIPLOMATIC_POSTS.get(post, ""))])
    town = geography.municipality(nis) if nis is not None else None
    return _names(town.official_names if town else [])


def _address(row):
    """An address as the register gives it: its names in each official language of the
    municipality (the official lists, by NIS code) and the street's code."""
    fields = {k: row[c] for k, c in _ADDRESS_COLUMNS.items()}
    town = geography.municipality(row["municipality_nis"]) if row["municipality_nis"] else None
    if town is not None:
        fields["municipalityNames"] = _names(town.official_names)
        fields["streetNames"] = _names(geography.street_names(town, row["street"]))
        fields["streetCode"] = geography.STREET_CODES.get(row["street"])
    if row["diplomatic_post"] is not None:
        fields["diplomaticPostName"] = register_codes.DIPLOMATIC_POSTS.get(row["diplomatic_post"])
    return plain(Address, **fields)


def current_addresses(record):
    """The current address (the latest when none is open), and for a person abroad the
    last one in Belgium too: the register keeps it as the legal main address."""
    addresses = record["addresses"]  # newest first
    current = [a for a in addresses if a["to_date"] is None][:1] or addresses[:1]
    if current and current[0]["municipality_nis"] is None:
        current += [a for a in addresses if a["municipality_nis"] is not None][:1]
    return current


def name_code(name):
    """The 8-digit code of a name's spelling in the register's name table. The real table
    is not public: here a stable number per spelling (capitals and spaces aside), so that
    the same name always has the same code, as in the register."""
    if not name:
        return None
    digest = hashlib.blake2b(" ".join(name.upper().split()).encode("utf-8"),
                             digest_size=8).digest()
    return "%08d" % (int.from_bytes(digest, "big") % 10 ** 8)


def _names(pairs):
    return _lang_names(tuple(pairs))


@functools.lru_cache(maxsize=4096)
def _lang_names(pairs):
    """The LangName list of a place's or street's names, built once: the same few
    thousand names recur in every reply (spyne only reads them)."""
    return [LangName(lang=lang, name=name) for lang, name in pairs]


def birth_window(birth_date, tolerance):
    """(first year, last year, predicate on a stored birth date) for a CBSS incomplete
    birth date (YYYY-MM-DD, MM and DD may be 00) widened by `tolerance` years."""
    year, month, day = (int(p) for p in birth_date.split("-"))
    tol = max(0, tolerance or 0)
    if month == 0:
        low, high = "%04d-00-00" % (year - tol), "%04d-12-31" % (year + tol)
    elif day == 0:
        low, high = "%04d-%02d-00" % (year - tol, month), "%04d-%02d-31" % (year + tol, month)
    else:
        date = datetime.date(year, month, day)
        low = _shift(date, -tol).isoformat()
        high = _shift(date, tol).isoformat()
    return year - tol, year + tol, lambda stored: low <= stored <= high


def _shift(date, years):
    try:
        return date.replace(year=date.year + years)
    except ValueError:  # 29 February
        return date.replace(year=date.year + years, day=28)


def service(db):
    # Without a database (db None), the service only describes itself (its WSDL).
    reads = db.reader if db is not None else None

    class NationalRegisterService(ServiceBase):
        @rpc(Unicode(min_occurs=1, nillable=False), Boolean, _returns=ConsultPersonResult)
        def consultPerson(ctx, ssin, history):
            def work():
                with reads.connect() as conn:
                    record = store.get_person(conn, ssin)
                if record is None:
                    return ConsultPersonResult(found=False)
                addresses = record["addresses"] if history else current_addresses(record)
                return ConsultPersonResult(found=True, person=_person(
                    record, addresses, record["household"], history=bool(history)))

            return threads.deferToThread(work)

        @rpc(Array(Unicode), _returns=Array(Person))
        def consultPersons(ctx, ssins):
            """Many persons at once (current addresses): those of `ssins` the register
            knows, in any status; at most 100."""
            asked = list(dict.fromkeys(ssins or []))[:100]

            def work():
                with reads.connect() as conn:
                    found = store.get_persons(conn, asked)
                return [_person(found[ssin], current_addresses(found[ssin])[:1],
                                found[ssin]["household"]) for ssin in asked if ssin in found]

            return threads.deferToThread(work)

        @rpc(Array(Unicode), Unicode(min_occurs=1, nillable=False,
                                     pattern=r"[1-2][0-9]{3}-[0-1][0-9]-[0-3][0-9]"),
             _returns=Array(Unicode))
        def householdsAt(ctx, ssins, date):
            """The households on `date` of those of `ssins` the register knows (at most
            1000), in one call: set-based, whatever their number. A line of words per
            person, not a structure: SOCTAR asks a million customers a quarter, and zeep
            built an object per person and per member (a third of the hub's time)."""
            asked = list(dict.fromkeys(ssins or []))[:HOUSEHOLDS_AT_MAXIMUM]

            def work():
                with reads.connect() as conn:
                    found = store.households_at(conn, asked, date)
                return [" ".join([s, found[s][0], *found[s][1]]) for s in asked if s in found]

            return threads.deferToThread(work)

        @rpc(Unicode(min_occurs=1, nillable=False), Unicode, Unicode,
             Unicode(min_occurs=1, nillable=False, pattern=r"[1-2][0-9]{3}-[0-1][0-9]-[0-3][0-9]"),
             Integer, Integer, Integer, _returns=Array(Person))
        def searchPersons(ctx, lastName, firstName, middleName, birthDate, tolerance, gender,
                          maximum):
            first_year, last_year, within = birth_window(birthDate, tolerance)

            def work():
                with reads.connect() as conn:
                    found = store.search(conn, lastName, firstName, first_year, last_year,
                                         gender or None, within,
                                         limit=min(maximum or DEFAULT_MAXIMUM, 100))
                    return [_person(r, [a for a in [store.current_legal_address(conn, r["ssin"])]
                                        if a is not None]) for r in found]

            return threads.deferToThread(work)

    return NationalRegisterService
