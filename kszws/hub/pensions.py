"""Payers' declarations to the pension cadastre, judged the same way online
(services/pensions.py, PensionCadastre declare) and by batch (batch/kinds/pens.py, PENS):
the authorization, the National Register's check of every SSIN, the cadastre's verdict,
and the new pensioners announced to the health-insurance sector.

Online a message is applied whole or not at all; a batch record is a message of one
declaration, so a chunk of records goes to the cadastre in one call (declareEach) where
each declaration is judged alone, as it would be in a message of its own.
"""
import datetime

from twisted.internet import defer, threads
from zeep.helpers import serialize_object

from kszws.clock import local_date
from kszws.mailbox import attestations as attestation_store

CADASTRE_SOURCE = "pension-cadastre"  # conf/sources.toml
SERVICE = "PensionCadastre"
DECLARE = "Declare"  # the data group of payers' declarations
CADASTRE_CONTEXT = "PENSION:CADASTRE"
CONTINUITY_TYPE = "new_pensioner"
NOT_IN_REGISTER = "PEN00002"  # the SSIN is not an active person of the National Register
NOT_APPLIED = "PEN00009"  # another item of the message was refused


def plain(found):
    return serialize_object(found, dict) if found is not None else None


def month_start(text):
    """'YYYY-MM' (schema-checked) -> its first day."""
    return datetime.date.fromisoformat(text + "-01") if text else None


def authorize(access, institution, group, legal_context, day, ssin=None, first=None,
              last=None):
    """Deferred[hub.access.Decision]: may `institution` use `group` of the cadastre?"""
    return access.check(institution, SERVICE, (group,), legal_context, ssin, first or day,
                        last, day)


class Declarations:
    """Declarations of payers into the cadastre (dicts in the source's field names: ssin,
    month, benefitReference, benefitType, grossCents, familySituation)."""

    def __init__(self, source, register, db, clock):
        self.source = source  # the pension cadastre (hub.routing.SourceClient)
        self.register = register  # hub.persons.NationalRegister
        self.db, self.clock = db, clock

    @defer.inlineCallbacks
    def declare(self, payer, asked, whole=True):
        """Deferred[[result]]: one dict per declaration of `asked`, in order (index,
        accepted, reasonCode, declarationId, version, newPensioner). `whole`: one message,
        all or nothing (online); else each declaration on its own (batch records). One
        call to the register and one to the cadastre for all of them."""
        known = yield self.register.consult_many(sorted({d["ssin"] for d in asked}))
        unknown = {i for i, d in enumerate(asked)
                   if known.get(d["ssin"], {}).get("status") != "active"}
        if whole and unknown:  # nothing goes to the cadastre: the message is refused whole
            return [_result(i, NOT_IN_REGISTER if i in unknown else NOT_APPLIED)
                    for i in range(len(asked))]
        sent = [d for i, d in enumerate(asked) if i not in unknown]
        found = []
        if sent:
            found = yield self.source.call("declare" if whole else "declareEach",
                                           payer=payer.id,
                                           declarations={"PensionDeclaration": sent})
        outcomes = iter([plain(o) for o in found or []])
        results = []
        for i in range(len(asked)):
            if i in unknown:
                results.append(_result(i, NOT_IN_REGISTER))
                continue
            o = next(outcomes)
            results.append(dict(index=i + 1, accepted=bool(o["accepted"]),
                                reasonCode=o["reasonCode"], declarationId=o["declarationId"],
                                version=o["version"], newPensioner=bool(o["newPensioner"]),
                                ssin=o["ssin"]))
        newcomers = [(r, d) for r, d in zip(results, asked) if r["newPensioner"]]
        if newcomers:
            yield threads.deferToThread(self._announce, newcomers)
        return results

    def _announce(self, newcomers):
        """Continuity of health-insurance cover (seed §4.7): a new pensioner is announced to
        the health-insurance sector - the fan-out delivers it to the insurers that manage a
        file on him (conf/attestations.toml, new_pensioner)."""
        now = self.clock()
        publisher = self.source.source.id  # the cadastre, an institution of its own
        with self.db.engine.begin() as conn:
            # once per person: a batch chunk redone after a stop announces no one twice
            done = attestation_store.published(conn, publisher, {
                "pensioner-%s" % r["ssin"] for r, _ in newcomers})
            for r, d in newcomers:
                if "pensioner-%s" % r["ssin"] in done:
                    continue
                payload = ("<newPensioner xmlns=\"urn:kszws:types:AttestationPayloads:v1\">"
                           "<firstMonth>%s</firstMonth><benefitType>%s</benefitType>"
                           "</newPensioner>" % (d["month"], d["benefitType"]))
                attestation_store.publish(conn, now, publisher, CONTINUITY_TYPE, r["ssin"],
                                          "pensioner-%s" % r["ssin"], month_start(d["month"]),
                                          None, local_date(now), payload)


def _result(i, reason):
    return dict(index=i + 1, accepted=False, reasonCode=reason, declarationId=None,
                version=None, newPensioner=False)
