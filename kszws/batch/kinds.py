"""The batch types the hub processes, each record through the same checks as its online
twin. A kind gives, for a file, its `context` (read once from the header: the legal
context, the authorization decision) and `judge`s its records a chunk at a time.

    IDPR  a list of SSINs -> the persons' identification data from the National Register
          (the twin: IdentifyPerson by SSIN, its Basic part); one call to the source per
          chunk (consultPersons), never one per person.
"""
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from twisted.internet import threads

from kszws import ids
from kszws.batch.intake import BATCH_NS
from kszws.batch.processing import REFUSALS, RESULT_NS, Judged
from kszws.clock import local_date

XSD = Path(__file__).resolve().parents[2] / "xsd" / "Batch"


def b(local):
    return "{%s}%s" % (BATCH_NS, local)


def r(local):
    return "{%s}%s" % (RESULT_NS, local)


def _text(parent, local, value):
    if value not in (None, ""):
        etree.SubElement(parent, r(local)).text = str(value)


@dataclass
class Context:
    legal_context: str
    decision: object  # hub.access.Decision for the file's caller, service and groups


class PersonIdentification:
    """IDPR: each record names an SSIN; its result is the person's identification (the
    Basic part of IdentifyPerson: names, birth, gender, nationality, the current
    address, the decease), after the same authorization check."""
    type = "IDPR"
    service = "IdentifyPerson"
    groups = ("Basic",)

    def __init__(self, registry, access, register, reactor):
        self.registry, self.access, self.register, self.reactor = (
            registry, access, register, reactor)
        self.schema = etree.XMLSchema(etree.parse(str(XSD / "IDPR.xsd")))

    def context(self, job, header):
        given = header.findtext(b("LegalContext"))
        legal = given if given else self.access.legal_context(job.institution)
        day = local_date(job.received_at)
        decision = self.access.decide(job.institution, self.service, self.groups, legal,
                                      None, day, day, day)
        return Context(legal, decision)

    def judge(self, job, context, chunk):
        judged, asked = {}, {}
        for index, element in chunk:
            if not self.schema.validate(element):
                judged[index] = Judged(index, "-000050", detail=_first_error(self.schema))
                continue
            raw = element.findtext(b("Ssin"))
            try:
                ssin = ids.ssin(raw)
            except ids.InvalidIdentifier:
                judged[index] = Judged(index, "-400010", detail="SSIN %r" % raw[:20])
                continue
            if not context.decision.allowed:
                refusal = context.decision.refusal
                judged[index] = Judged(index, REFUSALS[refusal.code], ssin, reason=refusal.code,
                                       detail=refusal.detail, subjects={ssin})
                continue
            asked[index] = ssin
        found = self._consult(set(asked.values()))
        replaced = {p["replacedBy"] for p in found.values()
                    if p["status"] == "replaced" and p.get("replacedBy")} - set(found)
        if replaced:
            found.update(self._consult(replaced))
        for index, ssin in asked.items():
            judged[index] = self._identified(index, ssin, found)
        return [judged[index] for index, _ in chunk]

    def _consult(self, ssins):
        """{ssin: record} of the source, one call (in the reactor) per hundred SSINs."""
        found = {}
        ordered = sorted(ssins)
        for start in range(0, len(ordered), 100):
            found.update(threads.blockingCallFromThread(
                self.reactor, self.register.consult_many, ordered[start:start + 100]))
        return found

    def _identified(self, index, ssin, found):
        person = found.get(ssin)
        if person is None:
            return Judged(index, "-400020", ssin, subjects={ssin})
        code, new = "000000", None
        if person["status"] == "replaced" and person.get("replacedBy") in found:
            code, new = "200010", person["replacedBy"]
            person = found[new]
        if person["status"] == "cancelled":
            return Judged(index, "-400030", ssin, subjects={ssin})
        return Judged(index, code, ssin, body=identification(person, new),
                      subjects={ssin} | ({new} if new else set()))


def identification(person, new_ssin=None):
    """The Person element of an IDPR result."""
    element = etree.Element(r("Person"))
    _text(element, "Ssin", person["ssin"])
    _text(element, "NewSsin", new_ssin)
    _text(element, "LastName", (person["lastName"] or "").upper())
    _text(element, "FirstNames", (person["firstNames"] or "").upper())
    _text(element, "BirthDate", person["birthDate"])
    _text(element, "Gender", person["gender"])
    _text(element, "Nationality", person["nationalityCode"])
    current = next((a for a in person["addresses"] if not a.get("toDate")), None)
    if current is not None:
        address = etree.SubElement(element, r("Address"))
        _text(address, "Country", current.get("countryCode"))
        _text(address, "Municipality", current.get("municipalityCode"))
        _text(address, "PostalCode", current.get("postalCode"))
        _text(address, "Street", (current.get("street") or "").upper())
        _text(address, "HouseNumber", current.get("houseNumber"))
        _text(address, "Box", current.get("box"))
    _text(element, "DeceaseDate", person["deceaseDate"])
    return element


def _first_error(schema):
    error = schema.error_log.last_error
    return (error.message if error is not None else "not valid")[:200]


def kinds(registry, access, register, reactor):
    """{type: kind} of the types this hub processes."""
    return {"IDPR": PersonIdentification(registry, access, register, reactor)}
