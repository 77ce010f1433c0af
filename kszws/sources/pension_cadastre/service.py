"""The pension cadastre source's SOAP service (wsdl/PensionCadastreSource.wsdl).

declare(payer, declarations)      -> one Outcome per declaration (decl.py: a message
correct(payer, corrections)          is applied whole or not at all)
cancel(payer, declarationIds)
consult(ssin, firstMonth, lastMonth?, pillar?) -> the declarations in force, by month
overview(ssin, month)             -> every benefit of the month with its share of every
                                     deduction, and the cumulated figures
closeMonth(month)                 -> the monthly run (monthly.py): persons, attestations
attestations(after, maximum)      -> the attestations to payers with id > after

Only the hub calls it (signed both ways); `payer` is the institution the hub authenticated.
Database work runs in Twisted's thread pool: the reactor never waits on it.
"""
import datetime
import sys

from spyne import Array, Boolean, ComplexModel, Integer, Long, ServiceBase, Unicode, rpc
from twisted.internet import threads

from kszws.progress import Progress
from kszws.sources.pension_cadastre import declarations as decl
from kszws.sources.pension_cadastre import monthly

NS = "urn:kszws:source:pensioncadastre:v1"
MAX_ATTESTATIONS = 5000


class PensionDeclaration(ComplexModel):
    __namespace__ = NS
    _type_info = [("ssin", Unicode), ("month", Unicode), ("benefitReference", Unicode),
                  ("benefitType", Unicode), ("grossCents", Long), ("familySituation", Unicode),
                  ("ticket", Unicode(max_len=40))]  # a batch record's: answered once


class PensionCorrection(ComplexModel):
    __namespace__ = NS
    _type_info = [("declarationId", Integer), ("grossCents", Long),
                  ("familySituation", Unicode)]


class Outcome(ComplexModel):
    __namespace__ = NS
    _type_info = [("index", Integer), ("accepted", Boolean), ("reasonCode", Unicode),
                  ("declarationId", Integer), ("version", Integer), ("ssin", Unicode),
                  ("newPensioner", Boolean)]


class Benefit(ComplexModel):
    __namespace__ = NS
    _type_info = [("declarationId", Integer), ("version", Integer), ("payer", Unicode),
                  ("month", Unicode), ("benefitReference", Unicode), ("benefitType", Unicode),
                  ("pillar", Integer), ("grossCents", Long), ("familySituation", Unicode),
                  ("healthInsuranceCents", Long), ("solidarityCents", Long),
                  ("taxableCents", Long), ("withholdingCents", Long), ("netCents", Long)]


class Overview(ComplexModel):
    __namespace__ = NS
    _type_info = [("month", Unicode), ("found", Boolean), ("familySituation", Unicode),
                  ("rates", Unicode), ("cumulatedGrossCents", Long),
                  ("healthInsuranceCents", Long), ("solidarityCents", Long),
                  ("taxableCents", Long), ("withholdingRateBp", Integer),
                  ("withholdingCents", Long), ("benefits", Array(Benefit))]


class CloseResult(ComplexModel):
    __namespace__ = NS
    _type_info = [("month", Unicode), ("persons", Integer), ("attestations", Integer)]


class PayerAttestation(ComplexModel):
    __namespace__ = NS
    _type_info = [("id", Integer), ("month", Unicode), ("payer", Unicode), ("ssin", Unicode),
                  ("version", Integer), ("payload", Unicode)]


def _fault(text):
    from spyne.model.fault import Fault

    return Fault("Client", text)


def _month(text, field):
    first = decl.month_start(text)
    if first is None:
        raise _fault("%s %r is not a month (YYYY-MM)" % (field, (text or "")[:20]))
    return first.isoformat()


def _outcomes(found, ssins=()):
    ssins = list(ssins) + [None] * (len(found) - len(ssins))
    return [Outcome(index=o.index, accepted=o.accepted, reasonCode=o.reason,
                    declarationId=o.declaration_id, version=o.version, ssin=s,
                    newPensioner=o.new_pensioner) for o, s in zip(found, ssins)]


def benefit(row, share=None, versions=None):
    fields = dict(declarationId=row["declaration"], version=row["version"], payer=row["payer"],
                  month=row["month"][:7], benefitReference=row["benefit_ref"],
                  benefitType=row["benefit_type"], pillar=row["pillar"],
                  grossCents=row["gross_cents"], familySituation=row["family"])
    if share is not None:
        fields.update(healthInsuranceCents=share.health_insurance,
                      solidarityCents=share.solidarity, taxableCents=share.taxable,
                      withholdingCents=share.withholding, netCents=share.net)
    return Benefit(**fields)


def service(db, rates, today=datetime.date.today):
    def _declare(payer, declarations, whole):
        asked = [decl.Declaration(d.ssin, d.month, d.benefitReference, d.benefitType,
                                  d.grossCents, d.familySituation, d.ticket)
                 for d in (declarations or [])]

        def work():
            with db.engine.begin() as conn:
                found = decl.declare(conn, rates, payer, asked, today(),
                                     datetime.datetime.utcnow(), whole)
            return _outcomes(found, [d.ssin for d in asked])

        return threads.deferToThread(work)

    class PensionCadastreService(ServiceBase):
        @rpc(Unicode(min_occurs=1, nillable=False), Array(PensionDeclaration),
             _returns=Array(Outcome))
        def declare(ctx, payer, declarations):
            """A payer's message: applied whole or not at all."""
            return _declare(payer, declarations, True)

        @rpc(Unicode(min_occurs=1, nillable=False), Array(PensionDeclaration),
             _returns=Array(Outcome))
        def declareEach(ctx, payer, declarations):
            """Declarations each applied or refused on its own (the batch channel's
            records, each a message of one), in one transaction."""
            return _declare(payer, declarations, False)

        @rpc(Unicode(min_occurs=1, nillable=False), Array(PensionCorrection),
             _returns=Array(Outcome))
        def correct(ctx, payer, corrections):
            asked = [decl.Correction(c.declarationId, c.grossCents, c.familySituation)
                     for c in (corrections or [])]

            def work():
                with db.engine.begin() as conn:
                    return _outcomes(decl.correct(conn, rates, payer, asked,
                                                          datetime.datetime.utcnow()))

            return threads.deferToThread(work)

        @rpc(Unicode(min_occurs=1, nillable=False), Array(Integer), _returns=Array(Outcome))
        def cancel(ctx, payer, declarationIds):
            def work():
                with db.engine.begin() as conn:
                    return _outcomes(decl.cancel(conn, payer, list(declarationIds or []),
                                                         datetime.datetime.utcnow()))

            return threads.deferToThread(work)

        @rpc(Unicode(min_occurs=1, nillable=False), Unicode(min_occurs=1, nillable=False),
             Unicode, Integer, _returns=Array(Benefit))
        def consult(ctx, ssin, firstMonth, lastMonth, pillar):
            first = _month(firstMonth, "firstMonth")
            last = _month(lastMonth, "lastMonth") if lastMonth else None

            def work():
                with db.engine.connect() as conn:
                    return [benefit(r) for r in decl.in_force(conn, ssin, first, last,
                                                                      pillar)]

            return threads.deferToThread(work)

        @rpc(Unicode(min_occurs=1, nillable=False), Unicode(min_occurs=1, nillable=False),
             _returns=Overview)
        def overview(ctx, ssin, month):
            first = _month(month, "month")

            def work():
                with db.engine.connect() as conn:
                    rows = decl.in_force(conn, ssin, first, first)
                result = decl.month_of(rates, rows, first)
                if result is None:
                    return Overview(month=first[:7], found=False, benefits=[])
                period = rates.period_for(datetime.date.fromisoformat(first))
                return Overview(
                    month=first[:7], found=True, familySituation=result.family,
                    rates=period.reference, cumulatedGrossCents=result.total_gross,
                    healthInsuranceCents=result.health_insurance,
                    solidarityCents=result.solidarity, taxableCents=result.taxable,
                    withholdingRateBp=result.withholding_rate_bp,
                    withholdingCents=result.withholding,
                    benefits=[benefit(r, s) for r, s in zip(rows, result.shares)])

            return threads.deferToThread(work)

        @rpc(Unicode(min_occurs=1, nillable=False), _returns=CloseResult)
        def closeMonth(ctx, month):
            first = _month(month, "month")
            if rates.period_for(datetime.date.fromisoformat(first)) is None:
                raise _fault("no rates for %s in conf/pension_rates.toml" % first[:7])

            def work():
                shown = None

                def progress(done, total):  # in the source's output, beside its log
                    nonlocal shown
                    shown = shown or Progress("closing %s" % first[:7], total, sys.stdout)
                    shown.update(done)

                persons, written = monthly.close_month(db, rates, first,
                                                       datetime.datetime.utcnow(), progress)
                if shown:
                    shown.finish()
                return CloseResult(month=first[:7], persons=persons, attestations=written)

            return threads.deferToThread(work)

        @rpc(Integer, Integer, _returns=Array(PayerAttestation))
        def attestations(ctx, after, maximum):
            limit = min(maximum or 1000, MAX_ATTESTATIONS)

            def work():
                with db.engine.connect() as conn:
                    return [PayerAttestation(id=i, month=m[:7], payer=p, ssin=s, version=v,
                                             payload=text)
                            for i, m, p, s, v, text in monthly.attestations(conn, after or 0,
                                                                            limit)]

            return threads.deferToThread(work)

    return PensionCadastreService
