"""PENS  a pension payer's monthly declarations to the pension cadastre, one declaration
          a record (the twin: PensionCadastre declare, a message of that one declaration):
          the same authorization, the same National Register check and the same
          cadastre's verdict (hub/pensions.py); one call to the register and one to the
          cadastre per chunk, each record applied or refused on its own.
"""
from lxml import etree
from twisted.internet import threads

from kszws.batch.kinds.common import Context, b, first_error, r, schema, text
from kszws.batch.processing import REFUSALS, RESULT_NS, Judged
from kszws.clock import local_date
from kszws.hub import pensions

ACCEPTED = "000000"


def refused(reason):
    """The application code of a declaration the hub or the cadastre refuses: -5000NN for
    PEN000NN (processing.CODES)."""
    return "-5" + reason[-5:]


class PensionDeclarations:
    """PENS: each record declares one benefit a payer paid a person for a month; its
    result says whether the cadastre took it (its declaration id and version, and whether
    the person is a new pensioner, announced to the health insurers) or why not."""
    type = "PENS"

    def __init__(self, registry, access, declarations, reactor):
        self.registry, self.access, self.declarations, self.reactor = (
            registry, access, declarations, reactor)
        self.schema = schema("PENS")

    def context(self, job, header):
        legal = header.findtext(b("LegalContext")) or pensions.CADASTRE_CONTEXT
        decision = threads.blockingCallFromThread(
            self.reactor, pensions.authorize, self.access, job.institution, pensions.DECLARE,
            legal, local_date(job.received_at))
        return Context(legal, decision)

    def judge(self, job, context, chunk):
        judged, asked = {}, {}
        for index, element in chunk:
            if not self.schema.validate(element):
                judged[index] = Judged(index, "-000050", detail=first_error(self.schema))
            elif not context.decision.allowed:  # as online: before any SSIN is read
                refusal = context.decision.refusal
                judged[index] = Judged(index, REFUSALS[refusal.code], reason=refusal.code,
                                       detail=refusal.detail, body=outcome(dict(
                                           accepted=False, reasonCode=refusal.code,
                                           declarationId=None, version=None)))
            else:  # the record's reference: redone after a stop, it is answered alike
                asked[index] = dict(declaration(element),
                                    ticket="%s-%d" % (job.reference, index))
        if asked:
            results = threads.blockingCallFromThread(
                self.reactor, self.declarations.declare, job.institution,
                list(asked.values()), False)
            for (index, asked_), result in zip(asked.items(), results):
                judged[index] = _judged(index, asked_["ssin"], result)
        return [judged[index] for index, _ in chunk]


def declaration(element):
    """A record as the cadastre's declaration (its field names)."""
    return dict(ssin=element.findtext(b("Ssin")), month=element.findtext(b("Month")),
                benefitReference=element.findtext(b("BenefitReference")),
                benefitType=element.findtext(b("BenefitType")),
                grossCents=int(element.findtext(b("GrossAmount"))),
                familySituation=element.findtext(b("FamilySituation")))


def _judged(index, ssin, result):
    code = ACCEPTED if result["accepted"] else refused(result["reasonCode"])
    return Judged(index, code, ssin, body=outcome(result), reason=result["reasonCode"],
                  subjects={ssin})


def outcome(result):
    """The body of a PENS result: the cadastre's reason, or the declaration's id and
    version and whether the person is a new pensioner."""
    body = etree.Element(r("Declaration"), nsmap={"r": RESULT_NS})
    text(body, "ReasonCode", result["reasonCode"])
    text(body, "DeclarationId", result["declarationId"])
    text(body, "Version", result["version"])
    if result["accepted"]:
        text(body, "NewPensioner", "true" if result["newPensioner"] else "false")
    return body
