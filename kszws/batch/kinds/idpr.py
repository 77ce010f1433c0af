"""IDPR  a list of SSINs -> the persons' identification data from the National Register
          (the twin: IdentifyPerson by SSIN; each result carries its Basic block, written
          by the same code); one call to the source per chunk (consultPersons), never one
          per person.
"""
from concurrent.futures import Future
from dataclasses import dataclass

from lxml import etree
from twisted.internet import defer

from kszws import ids
from kszws.batch.kinds.common import Context, b, first_error, named, r, schema, text
from kszws.batch.processing import REFUSALS, RESULT_NS, Judged
from kszws.clock import local_date
from kszws.wire import identify_person


@dataclass
class Asked:
    """A chunk between prepare and judge: its records' order, those already judged, the
    SSINs asked {index: ssin}, and the source's answer to come."""
    order: list
    judged: dict
    asked: dict
    found: Future


class PersonIdentification:
    """IDPR: each record names an SSIN; its result is the person's identification (the
    Basic part of IdentifyPerson: SSIN, names, birth date, gender, the current address or
    diplomatic post), after the same authorization check."""
    type = "IDPR"
    service = "IdentifyPerson"
    groups = ("Basic",)

    def __init__(self, registry, access, register, reactor):
        self.registry, self.access, self.register, self.reactor = (
            registry, access, register, reactor)
        self.schema = schema("IDPR")
        self.timeout = register.client.source.timeout_seconds * 2 + 5  # beyond its own

    def context(self, job, header):
        given = header.findtext(b("LegalContext"))
        legal = given if given else self.access.legal_context(job.institution)
        day = local_date(job.received_at)
        decision = self.access.decide(job.institution, self.service, self.groups, legal,
                                      None, day, day, day)
        return Context(legal, decision)

    def prepare(self, job, context, chunk):
        """The records' own checks, then the source asked for the SSINs that pass them
        (processing.Job judges the chunk before while the source answers)."""
        judged, asked = {}, {}
        for index, element in chunk:
            if not self.schema.validate(element):
                judged[index] = Judged(index, "-000050", detail=first_error(self.schema))
                continue
            raw = element.findtext(b("Ssin"))
            if not context.decision.allowed:  # as online: before the SSIN is even read
                refusal = context.decision.refusal
                judged[index] = Judged(index, REFUSALS[refusal.code], reason=refusal.code,
                                       detail=refusal.detail, subjects=named(raw))
                continue
            try:
                ssin = ids.ssin(raw)
            except ids.InvalidIdentifier:
                judged[index] = Judged(index, "-400010", detail="SSIN %r" % raw[:20])
                continue
            asked[index] = ssin
        return Asked([index for index, _ in chunk], judged, asked,
                     self._consult(set(asked.values())))

    def judge(self, job, context, prepared):
        judged, asked = prepared.judged, prepared.asked
        found = prepared.found.result(timeout=self.timeout)
        replaced = {p["replacedBy"] for p in found.values()
                    if p["status"] == "replaced" and p.get("replacedBy")} - set(found)
        if replaced:
            found.update(self._consult(replaced).result(timeout=self.timeout))
        for index, ssin in asked.items():
            judged[index] = self._identified(index, ssin, found)
        return [judged[index] for index in prepared.order]

    def _consult(self, ssins):
        """A future of {ssin: record}: the source asked (from the reactor) in one call
        per hundred SSINs."""
        future = Future()
        ordered = sorted(ssins)

        def ask():
            d = defer.gatherResults([self.register.consult_many(ordered[i:i + 100])
                                     for i in range(0, len(ordered), 100)],
                                    consumeErrors=True)
            d.addCallbacks(lambda parts: future.set_result(
                {k: v for part in parts for k, v in part.items()}),
                lambda failure: future.set_exception(_first(failure)))
        self.reactor.callFromThread(ask)
        return future

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
    """The body of an IDPR result: IdentifyPerson's Basic block of the person (the new
    SSIN first, for a replaced one)."""
    body = etree.Element(r("Person"), nsmap={"r": RESULT_NS})
    text(body, "NewSsin", new_ssin)
    body.append(identify_person.basic(person))
    return body


def _first(failure):
    """The exception of a failed gatherResults: the first call's own (a Refusal)."""
    if isinstance(failure.value, defer.FirstError):
        return failure.value.subFailure.value
    return failure.value
