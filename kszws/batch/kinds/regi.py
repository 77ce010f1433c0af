"""REGI  registrations in the reference directory and their ends, a record each (the twin:
          ReferenceDirectoryService.register and unregister; the checks and the writes are
          hub.registrations', which the online service calls too). Per chunk: one call to
          the National Register for the persons to register (and one for the SSINs that
          replaced some of them), then the chunk's registrations written in the file's
          order (a record may end what an earlier one registered) in the transaction
          that commits the chunk's results: both or neither.
"""
from lxml import etree
from twisted.internet import threads

from kszws import directory, ids
from kszws.batch.intake import BATCH_NS
from kszws.batch.kinds.common import Context, b, first_error, r, schema, text
from kszws.batch.processing import RESULT_NS, Judged
from kszws.hub import registrations
from kszws.hub.access import Decision
from kszws.wire import reference_directory as wire
from kszws.wire.reasons import Refusal

# The online reason code of a record's outcome -> its 6-digit application code
# (processing.CODES says what each means).
CODE_OF = {
    "MSG00000": "000000",
    "ACC00001": "-300010",  # the sender manages no files (an employer, a source)
    "DIR00003": "-300050",  # the quality code is not valid in the sender's sector
    "DIR00001": "-300060",  # the exclusive code is held at another institution of the sector
    "DIR00005": "-400020",  # the SSIN is unknown or cancelled in the National Register
    "DIR00002": "-400050",  # no proof, or it does not match the person
    "DIR00004": "200040",   # nothing to end (an information online, not a refusal)
}
REPLACED = "200010"  # registered on the new SSIN of a replaced one

# The online request's field (wire.reference_directory) -> the record's element.
_FIELDS = {"ssin": "Ssin", "qualityCode": "QualityCode", "register": "Register",
           "from": "From", "period/startDate": "StartDate", "period/endDate": "EndDate",
           "proof/sisCardNumber": "Proof/b:SisCardNumber",
           "proof/eidCardNumber": "Proof/b:EidCardNumber",
           "proof/personData/lastName": "Proof/b:PersonData/b:LastName",
           "proof/personData/firstName": "Proof/b:PersonData/b:FirstName",
           "proof/personData/birthDate": "Proof/b:PersonData/b:BirthDate"}
_NS = {"b": BATCH_NS}


class Registrations:
    """REGI: each record registers the sender on a person (Register: SSIN, quality code,
    period, register, proof) or ends its registrations from a day on (End: SSIN, quality
    code or all, from)."""
    type = "REGI"

    def __init__(self, registry, register, reactor, clock):
        self.registry, self.register = registry, register
        self.reactor, self.clock = reactor, clock
        self.schema = schema("REGI")
        self.cbe_of = {i.id: i.cbe for i in registry.institutions.values()}.get

    def context(self, job, header):
        refusal = None
        try:
            registrations.may_register(job.institution)
        except Refusal as refused:
            refusal = refused
        return Context(header.findtext(b("LegalContext")) or None,
                       Decision((), refusal, ()))

    def judge(self, job, context, chunk):
        judged, asked = {}, {}
        for index, element in chunk:
            if not self.schema.validate(element):
                judged[index] = Judged(index, "-000050", detail=first_error(self.schema))
                continue
            action = next(element.iterchildren(b("Register"), b("End")))
            raw = action.findtext(b("Ssin"))
            if not context.decision.allowed:  # as online: before the SSIN is read
                refusal = context.decision.refusal
                judged[index] = Judged(index, CODE_OF[refusal.code], reason=refusal.code,
                                       detail=refusal.detail)
                continue
            try:
                asked[index] = request(action)
            except ids.InvalidIdentifier:
                judged[index] = Judged(index, "-400010", reason="MSG00008",
                                       detail="SSIN %r" % raw[:20])
            except Refusal as refusal:  # a period that ends before it starts
                judged[index] = Judged(index, "-000050", reason=refusal.code,
                                       detail=refusal.detail)
        found = self._persons(job, asked.values())

        def write(conn):
            """In the chunk's transaction (processing.Job.commit): the writes, in the
            file's order, committed with the results."""
            now = self.clock()
            for index, req in asked.items():
                judged[index] = self._apply(conn, now, job.institution, index, req, found)
            return [judged[index] for index, _ in chunk]
        return write

    def _persons(self, job, requests):
        """The National Register's records of the persons to register, one call."""
        wanted = {q.ssin for q in requests if not q.unregister and registrations.quality(
            self.registry, job.institution, q.quality_code) is not None}
        if not wanted:
            return {}
        return threads.blockingCallFromThread(self.reactor, registrations.persons_of,
                                              self.register, wanted)

    def _apply(self, conn, now, institution, index, req, found):
        if req.unregister:
            code, regs, information = registrations.end(conn, now, institution, req)
            return self._judged(index, req.ssin, code, regs, information, {req.ssin})
        quality = registrations.quality(self.registry, institution, req.quality_code)
        if quality is None:
            return self._judged(index, req.ssin, "DIR00003", [], [], {req.ssin})
        code, ssin = registrations.proven(req, found)
        if ssin is None:
            return self._judged(index, req.ssin, code, [], [], {req.ssin})
        if ssin != req.ssin:  # the directory follows the replacement, as online
            directory.follow_replacement(conn, now, req.ssin, ssin)
        code, regs, information = registrations.write(conn, now, institution, quality, ssin,
                                                      req)
        return self._judged(index, req.ssin, code, regs, information, {req.ssin, ssin})

    def _judged(self, index, ssin, reason, regs, information, subjects):
        info = dict(information)
        code = CODE_OF[reason]
        if reason == "MSG00000" and "ssin" in info:
            code = REPLACED
        return Judged(index, code, ssin, body=self.result(reason, regs, info), reason=reason,
                      subjects=subjects)

    def result(self, reason, regs, info):
        """The body of a REGI result: the online reason code, the new SSIN of a replaced
        one, how many registrations ended, and the sender's registrations on the person
        after the record, each as the online response writes it."""
        body = etree.Element(r("Registration"), nsmap={"r": RESULT_NS})
        text(body, "ReasonCode", reason)
        text(body, "NewSsin", info.get("ssin"))
        text(body, "Ended", info.get("ended"))
        for reg in regs:
            body.append(wire.registration_element(reg, self.cbe_of))
        return body


def request(action):
    """The wire.reference_directory.Request of a record's Register or End element, its SSIN
    canonical (ids.InvalidIdentifier otherwise)."""
    unregister = etree.QName(action).localname == "End"

    def find(path):
        return action.findtext("b:" + _FIELDS[path], namespaces=_NS)
    req = wire.registration_request(wire.Request(None), find, unregister=unregister)
    req.ssin = ids.ssin(req.ssin)
    req.unregister = unregister
    return req
