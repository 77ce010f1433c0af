"""What the hub does with questions about persons, on the National Register source:
the rules of OCMWCPASIdentifyPerson and OCMWCPASPerformInvestigation as CBSS applies them
(CONTRACTS.md §3, §5). Results are plain data and SSDN details; wire/ writes the XML."""
from twisted.internet import defer
from zeep.helpers import serialize_object

from kszws import ids, names
from kszws.wire.ssdn import Detail

SOURCE = "national-register"


# The arrays of a source Person: {field: item type}.
_ARRAYS = {"addresses": "Address", "household": "HouseholdMember",
           "civilStates": "CivilState", "occupations": "Occupation", "filiations": "Filiation",
           "documents": "Document", "pastMemberships": "PastMembership"}


def person_record(person):
    """A zeep Person of the source as a dict, its arrays flattened to lists, its names in
    languages to [(lang, name)]."""
    return flattened(serialize_object(person, dict))


def flattened(record):
    """A source Person as plain dicts (zeep's serialize_object, or hub/records.py), its
    arrays flattened to lists, its names in languages to [(lang, name)]."""
    for key, item in _ARRAYS.items():
        record[key] = list((record.get(key) or {}).get(item) or [])
    for holder, key in ([(record, "birthPlaceNames")] +
                        [(a, k) for a in record["addresses"]
                         for k in ("municipalityNames", "streetNames")] +
                        [(e, "placeNames") for e in record["civilStates"] + record["documents"]]):
        holder[key] = _names(holder.get(key))
    return record


def _names(array):
    """[(lang, name)] of a source's LangName array (absent: [])."""
    return [(n["lang"], n["name"]) for n in ((array or {}).get("LangName") or [])
            if n.get("name")]


class NationalRegister:
    def __init__(self, client):
        self.client = client

    def consult(self, ssin, history=False):
        """Deferred: the person's record, or None for an unknown SSIN (the reply read as
        plain dicts by hub/records.py: zeep's objects for one person cost the hub more
        than the rest of an IdentifyPerson)."""
        d = self.client.records("consultPerson", ssin=ssin, history=history)
        return d.addCallback(_consulted)

    def consult_many(self, ssins):
        """Deferred: {ssin: record} of those of `ssins` the register knows (one call; its
        reply of up to a hundred persons read as plain dicts, not zeep's objects)."""
        d = self.client.records("consultPersons", ssins={"string": list(ssins)})
        return d.addCallback(lambda reply: {p["ssin"]: p for p in (
            flattened(x) for x in ((reply or {}).get("consultPersonsResult") or {})
            .get("Person") or [])})

    def households_at(self, ssins, day):
        """Deferred: {ssin: (status, [the others in the household on `day`, an ISO
        date])} of those of `ssins` the register knows (one call, at most 1000)."""
        d = self.client.call("householdsAt", ssins={"string": list(ssins)}, date=day)
        return d.addCallback(lambda lines: dict(_household(line) for line in lines or []))

    def search(self, phonetic):
        d = self.client.call("searchPersons", lastName=phonetic.last_name,
                             firstName=phonetic.first_name or None,
                             middleName=phonetic.middle_name or None,
                             birthDate=phonetic.birth_date, tolerance=phonetic.tolerance,
                             gender=phonetic.gender or None, maximum=phonetic.maximum)
        return d.addCallback(lambda persons: [person_record(p) for p in persons or []])


def _consulted(reply):
    """The record of a consultPerson reply read by hub/records.py, None when not found."""
    result = (reply or {}).get("consultPersonResult") or {}
    return flattened(result["person"]) if result.get("found") else None


def _household(line):
    """(ssin, (status, [the others])) of a line of householdsAt."""
    ssin, status, *others = line.split()
    return ssin, (status, others)


@defer.inlineCallbacks
def resolve(register, raw_ssin, field, history=False):
    """(details, person or None) for the SSIN a request names: its check digits, the person
    it designates (a replaced SSIN is followed to the new one, with a warning), unknown and
    cancelled SSINs refused. `field` names the request field in the details."""
    try:
        ssin = ids.ssin(raw_ssin)
    except ids.InvalidIdentifier:
        return [Detail("31007002", [(field, raw_ssin)])], None
    person = yield register.consult(ssin, history=history)
    details = []
    if person is not None and person["status"] == "replaced" and person["replacedBy"]:
        details.append(Detail("21007005", [("SSIN", ssin), ("New SSIN", person["replacedBy"])]))
        ssin = person["replacedBy"]
        person = yield register.consult(ssin, history=history)
    if person is None:
        return details + [Detail("31007003", [(field, ssin)])], None
    if person["status"] == "cancelled":
        return details + [Detail("31007004", [(field, ssin)])], None
    return details, person


def incomplete(date):
    return date.endswith("-00")


@defer.inlineCallbacks
def identify_person(register, query):
    """(details, persons, extended) for an IdentifyPerson query."""
    details = []
    if query.ssin:
        if query.phonetic is not None:  # named: the criteria ignored for the SSIN
            details.append(Detail("21007001", [("Phonetic Criteria", None)]))
        found, person = yield resolve(register, query.ssin, "SSIN")
        details += found
        if person is None:
            return details, [], False
        mismatches, validated = verify(query, person)
        details += mismatches
        if validated:  # and Extended follows from this alone
            details.append(Detail("12007001", [("SSIN", person["ssin"])]))
        return details, [person], validated
    phonetic = query.phonetic
    if phonetic is None:
        return [Detail("31000007", [("Search Criteria", None)])], [], False
    # Every problem of the criteria, each in its Detail, not only the first (the schema
    # already requires a BirthDate of the right form).
    problems = []
    if not phonetic.last_name:
        problems.append(Detail("31000007", [("Phonetic Criteria: Last Name", None)]))
    if incomplete(phonetic.birth_date) and phonetic.tolerance is None:
        problems.append(Detail("31009001", [
            ("Phonetic Criteria: Birth Date", phonetic.birth_date),
            ("Phonetic Criteria: Birth Date Tolerance", None)]))
    if problems:
        return problems, [], False
    persons = yield register.search(phonetic)
    return details, persons, False


def verify(query, person):
    """(the details of every piece of VerificationData that does not match the person,
    whether the identity is validated). As the schema says, one piece that matches
    validates it: a SIS card that matches and a birth date that differs give both the
    mismatch warning and the validation."""
    out, matched = [], False
    if query.sis_card:
        if query.sis_card != (person["sisCardNumber"] or ""):
            out.append(Detail("22007008", [("SIS Card Number", query.sis_card)]))
        else:
            matched = True
    if query.identity_card:
        if query.identity_card != (person["eidCardNumber"] or ""):
            out.append(Detail("22007009", [("Identity Card Number", query.identity_card)]))
        else:
            matched = True
    data = query.person_data
    if data is not None:
        if person_data_matches(data, person):
            matched = True
        else:  # each field compared, with the value the request gave
            out.append(Detail("22007007", [
                ("Person Data: %s" % name, value) for name, value in (
                    ("Last Name", data.last_name), ("First Name", data.first_name),
                    ("Middle Name", data.middle_name), ("Birth Date", data.birth_date))
                if value]))
    return out, matched


def person_data_matches(data, person):
    """PersonData matches when every part given matches: family name (accents, case and
    punctuation aside), the first name as one of the first names, and the birth date in
    each of its known parts (00 = unknown)."""
    if not data.last_name or names.fold(data.last_name) != names.fold(person["lastName"]):
        return False
    if data.first_name:
        given = names.fold(data.first_name).split()
        known = names.fold(person["firstNames"] or "").split()
        if not given or given[0] not in known:
            return False
    if data.birth_date:
        for asked, real in zip(data.birth_date.split("-"), person["birthDate"].split("-")):
            if asked.strip("0") and real.strip("0") and asked != real:
                return False
    return True


@defer.inlineCallbacks
def perform_investigation(register, query):
    """(details, person, members) for a PerformInvestigation query."""
    details, person = yield resolve(register, query.ssin, "SocialSecurityUser", history=True)
    if person is None:
        return details, None, []
    members = [person]
    if "CitizenGroup" in query.groups:
        others = [m["ssin"] for m in person["household"] if m["ssin"] != person["ssin"]]
        found = yield defer.gatherResults([register.consult(s) for s in others[:99]],
                                          consumeErrors=True)
        members += [m for m in found if m is not None]
    return details, person, members


@defer.inlineCallbacks
def check_proof(register, query):
    """(details, SSIN to use) for a ManageAccess query: the person must exist and the
    ProofOfAuthentication (SIS card, eID card or PersonData) must match it."""
    if not query.proves:
        return [Detail("31000007", [("ProofOfAuthentication", None)])], None
    details, person = yield resolve(register, query.ssin, "SSIN")
    if person is None:
        return details, None
    mismatches, _ = verify(query, person)
    if mismatches:  # a proof must match in every piece given
        return details + [Detail("31008001")], None
    return details, person["ssin"]
