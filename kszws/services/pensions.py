"""The pension cadastre on the hub (seed §4.7), answered by the pension cadastre source
(wire/pension_cadastre.py):

  declare, correct, cancel  for payers (authorized for PensionCadastre/Declare): every SSIN
                            checked against the National Register first (PEN00002); a
                            message is applied whole or not at all; a person declared for
                            the first time is notified to the health-insurance sector
                            (attestation type new_pensioner, through the mailboxes)
  consult, overview         a person's pensions / the month's benefits and deductions,
                            behind the integration check (Consult / Overview)
  closeMonth                for the cadastre itself (Close): runs the month, then puts every
                            new attestation in its payer's mailbox, each once
"""
import kszws.compat.spyne  # noqa: F401

from spyne import ServiceBase
from twisted.internet import defer

from kszws import mailbox
from kszws.clock import local_date
from kszws.hub import pensions, persons
from kszws.services.retrieve_ti import check_customer
from kszws.services.runtime import gateway_endpoint, in_transaction, requested_ssin
from kszws.services.runtime import whole_element_operation as _op
from kszws.wire import pension_cadastre as wire

SERVICE, CADASTRE_CONTEXT = pensions.SERVICE, pensions.CADASTRE_CONTEXT
PAGE = 5000  # attestations taken from the cadastre per call (and per transaction)


class PensionCadastreService(ServiceBase):
    declare = _op("declare", "declareRequest", "declareResponse")
    correct = _op("correct", "correctRequest", "correctResponse")
    cancel = _op("cancel", "cancelRequest", "cancelResponse")
    consult = _op("consult", "consultRequest", "consultResponse")
    overview = _op("overview", "overviewRequest", "overviewResponse")
    closeMonth = _op("closeMonth", "closeMonthRequest", "closeMonthResponse")


_plain = pensions.plain


def with_payer_cbe(registry, benefits):
    """The cadastre's benefits (dicts), each with its payer's enterprise number (payerCbe):
    callers know payers by that number, the cadastre by institution id."""
    for b in benefits:
        payer = registry.institutions.get(b["payer"])
        b["payerCbe"] = payer.cbe if payer else None
    return benefits


_month = pensions.month_start


class PensionGateway:
    def __init__(self, source, register, access, clock, registry, db, fanout):
        self.source = source  # the pension cadastre (hub.routing.SourceClient)
        self.register = register  # hub.persons.NationalRegister
        self.access = access
        self.clock = clock
        self.registry = registry
        self.db = db
        self.fanout = fanout
        self.declarations = pensions.Declarations(source, register, db, clock)

    def answer(self, operation, exchange, element):
        exchange.operation = operation
        request = wire.parse(element)
        check_customer(request.cbe_number, exchange.institution)
        return getattr(self, operation)(request, exchange)

    # -- the integration check ------------------------------------------------------------
    @defer.inlineCallbacks
    def _allowed(self, exchange, group, ssin=None, first=None, last=None):
        exchange.legal_context = exchange.legal_context or CADASTRE_CONTEXT
        decision = yield pensions.authorize(self.access, exchange.institution, group,
                                            exchange.legal_context,
                                            local_date(exchange.received_at), ssin, first,
                                            last)
        if not decision.allowed:
            raise decision.refusal

    def _reply_results(self, operation, request, exchange, results):
        refused = [r for r in results if not r["accepted"]]
        if refused:
            exchange.outcome = "REFUSED"
            exchange.reason_code = next((r["reasonCode"] for r in refused
                                         if r["reasonCode"] != "PEN00009"),
                                        refused[0]["reasonCode"])
        exchange.detail = "%d items, %d refused" % (len(results), len(refused))
        exchange.replied_at = self.clock()
        return wire.results_response(operation, request, exchange.ticket, exchange.received_at,
                                     exchange.replied_at, results)

    # -- payers ---------------------------------------------------------------------------
    @defer.inlineCallbacks
    def declare(self, request, exchange):
        yield self._allowed(exchange, pensions.DECLARE)
        asked = request.declarations
        exchange.ssins.update(d["ssin"] for d in asked)
        results = yield self.declarations.declare(exchange.institution, asked)
        if any(r["newPensioner"] for r in results) and self.fanout is not None:
            self.fanout.kick()  # the new pensioners' attestations, to the health insurers
        return self._reply_results("declare", request, exchange, results)

    @staticmethod
    def _results(outcomes):
        return [dict(index=o["index"], accepted=o["accepted"], reasonCode=o["reasonCode"],
                     declarationId=o["declarationId"], version=o["version"])
                for o in outcomes]

    @defer.inlineCallbacks
    def correct(self, request, exchange):
        yield self._allowed(exchange, "Declare")
        found = yield self.source.call("correct", payer=exchange.institution.id,
                                       corrections={"PensionCorrection": request.corrections})
        return self._reply_results("correct", request, exchange,
                                   self._results([_plain(o) for o in found or []]))

    @defer.inlineCallbacks
    def cancel(self, request, exchange):
        yield self._allowed(exchange, "Declare")
        found = yield self.source.call("cancel", payer=exchange.institution.id,
                                       declarationIds={"integer": request.declaration_ids})
        return self._reply_results("cancel", request, exchange,
                                   self._results([_plain(o) for o in found or []]))

    # -- institutions -----------------------------------------------------------------------
    @defer.inlineCallbacks
    def consult(self, request, exchange):
        ssin = requested_ssin(request.ssin)
        exchange.ssins.add(ssin)
        exchange.legal_context = request.legal_context[:64]
        last = request.last_month
        yield self._allowed(exchange, "Consult", ssin, _month(request.first_month),
                            _month(last) if last else None)
        found = yield self.source.call("consult", ssin=ssin, firstMonth=request.first_month,
                                       lastMonth=last, pillar=request.pillar)
        benefits = with_payer_cbe(self.registry, [_plain(b) for b in found or []])
        exchange.replied_at = self.clock()
        return wire.consult_response(request, exchange.ticket, exchange.received_at,
                                     exchange.replied_at, benefits)

    @defer.inlineCallbacks
    def overview(self, request, exchange):
        ssin = requested_ssin(request.ssin)
        exchange.ssins.add(ssin)
        exchange.legal_context = request.legal_context[:64]
        first = _month(request.month)
        yield self._allowed(exchange, "Overview", ssin, first, first)
        found = _plain((yield self.source.call("overview", ssin=ssin, month=request.month)))
        benefits = (found.get("benefits") or {}).get("Benefit") or []  # a nested Array
        found["benefits"] = with_payer_cbe(self.registry, list(benefits))
        exchange.replied_at = self.clock()
        return wire.overview_response(request, exchange.ticket, exchange.received_at,
                                      exchange.replied_at, found)

    # -- the cadastre -----------------------------------------------------------------------
    @defer.inlineCallbacks
    def closeMonth(self, request, exchange):
        yield self._allowed(exchange, "Close")
        result = _plain((yield self.source.call("closeMonth", month=request.month)))
        delivered = yield self.deliver()
        exchange.detail = "%s: %d persons, %d attestations, %d delivered" % (
            result["month"], result["persons"], result["attestations"], delivered)
        exchange.replied_at = self.clock()
        return wire.close_response(request, exchange.ticket, exchange.received_at,
                                   exchange.replied_at, result["month"], result["persons"],
                                   result["attestations"], delivered)

    @defer.inlineCallbacks
    def deliver(self):
        """Every attestation the cadastre wrote since the last one taken, into the payers'
        mailboxes, a page per transaction; each once (by the cadastre's id)."""
        delivered = 0
        while True:
            after = yield in_transaction(self.db, mailbox.last_pension_attestation)
            page = yield self.source.call("attestations", after=after, maximum=PAGE)
            rows = [(a["id"], a["month"], a["payer"], a["ssin"], a["version"], a["payload"])
                    for a in (_plain(x) for x in page or [])]
            if not rows:
                return delivered
            now = self.clock()
            delivered += yield in_transaction(
                self.db, lambda conn: mailbox.accept_pension_attestations(conn, rows, now))
            if len(rows) < PAGE:
                return delivered


def _gateway(service, context):
    return PensionGateway(context.sources[service.route],
                          persons.NationalRegister(context.sources[persons.SOURCE]),
                          context.access, context.clock, context.registry, context.db,
                          context.fanout)


endpoint = gateway_endpoint(PensionCadastreService, "PensionCadastreService", wire.INTF,
                            wire.FAULT, _gateway)
