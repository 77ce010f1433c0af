"""DIMN  DIMONA declarations, any number per file, each judged alone (the twin:
          DimonaService.declare; who may declare for which employer, the National Register
          check and the source's answer are hub.dimona's, which the online service calls
          too). Per chunk: one call to the National Register for every SSIN, then one
          declareDimona call per employer (a file of one employer: one call).
"""
from lxml import etree
from twisted.internet import threads

from kszws.batch.kinds.common import Context, b, first_error, r, schema
from kszws.batch.processing import RESULT_NS, Judged
from kszws.hub import dimona
from kszws.wire import dimona as wire
from kszws.wire.reasons import Refusal

# The reason code of a declaration's outcome -> its 6-digit application code
# (processing.CODES says what each means).
CODE_OF = {"SEC00012": "-300010", "MSG00008": "-000050", "DIM00008": "-400020",
           **{"DIM0000%d" % k: "-6000%d0" % k for k in range(1, 8)}}


class DimonaDeclarations:
    """DIMN: each record is a declaration (action IN, OUT, UPDATE or CANCEL, the period id
    of an earlier IN, SSIN, worker type, dates, a student's hours) of the sender, an
    employer, or of the employer EmployerCbe names when the sender is a social secretariat
    it mandated."""
    type = "DIMN"

    def __init__(self, registry, register, source, reactor):
        self.registry, self.register, self.source, self.reactor = (
            registry, register, source, reactor)
        self.schema = schema("DIMN")

    def context(self, job, header):
        return Context(header.findtext(b("LegalContext")) or None, None)

    def judge(self, job, context, chunk):
        judged, asked = {}, {}  # index -> (employer, declaration)
        for index, element in chunk:
            if not self.schema.validate(element):
                judged[index] = Judged(index, "-000050", detail=first_error(self.schema))
                continue
            cbe = (element.findtext(b("EmployerCbe")) or "").strip()
            try:  # as online: the employer before anything of the declaration
                employer, _ = dimona.employer_for(self.registry, job.institution, cbe)
                declaration = wire.declaration(
                    lambda name: element.findtext(b(name[0].upper() + name[1:])))
            except Refusal as refusal:
                judged[index] = Judged(index, CODE_OF[refusal.code], reason=refusal.code,
                                       detail=refusal.detail)
                continue
            asked[index] = (employer, declaration)
        by_employer = {}
        for index, (employer, declaration) in asked.items():
            by_employer.setdefault(employer.id, (employer, []))[1].append((index, declaration))
        for employer, declared in by_employer.values():
            results = threads.blockingCallFromThread(
                self.reactor, dimona.declare, self.register, self.source, employer,
                [d for _, d in declared])
            for (index, declaration), result in zip(declared, results):
                judged[index] = self._judged(index, declaration, result, employer)
        return [judged[index] for index, _ in chunk]

    def _judged(self, index, declaration, result, employer):
        reason = result["reasonCode"] or "MSG00000"
        result = dict(result, index=index)  # the record's number, not the chunk's
        body = etree.Element(r("Declaration"), nsmap={"r": RESULT_NS})
        body.append(wire.declaration_result(result))
        return Judged(index, "000000" if result["accepted"] else CODE_OF[reason],
                      declaration["ssin"], body=body, reason=reason,
                      detail="for employer %s" % employer.id, subjects={declaration["ssin"]})
