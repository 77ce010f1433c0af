"""DIMONA and employment relations on the hub (seed §4.13), answered from the employer
directory source (wire/dimona.py):

  DimonaService      for employers (institutions of kind "employer", as themselves):
                     declare (<= 20 declarations, each answered on its own; every SSIN checked
                     against the National Register first), personnelFile (as of a date),
                     consultWorker (the employer access key: only a person who is, or was
                     that year, in its personnel file; with the student quota)
  EmploymentService  for institutions: a person's employment relations, behind the
                     integration check (service Employment in conf/access.toml)
"""
import datetime

import kszws.compat.spyne  # noqa: F401

from spyne import ServiceBase
from twisted.internet import defer
from zeep.helpers import serialize_object

from kszws.hub import dimona, persons
from kszws.clock import local_date
from kszws.services.retrieve_ti import check_customer
from kszws.services.runtime import gateway_endpoint, requested_ssin
from kszws.services.runtime import whole_element_operation as _op
from kszws.wire import dimona as wire


class DimonaService(ServiceBase):
    declare = _op("declare", "declareRequest", "declareResponse")
    personnelFile = _op("personnelFile", "personnelFileRequest", "personnelFileResponse")
    consultWorker = _op("consultWorker", "consultWorkerRequest", "consultWorkerResponse")


class EmploymentService(ServiceBase):
    employmentRelations = _op("employmentRelations", "employmentRelationsRequest",
                              "employmentRelationsResponse")


def _plain(found):
    return [serialize_object(p, dict) for p in found or []]


class DimonaGateway:
    def __init__(self, source, register, access, clock, registry):
        self.source = source  # the employer directory (hub.routing.SourceClient)
        self.register = register  # hub.persons.NationalRegister
        self.access = access
        self.clock = clock
        self.registry = registry

    def answer(self, operation, exchange, element):
        exchange.operation = operation
        return getattr(self, operation)(wire.parse(element), exchange)

    def _employer(self, request, exchange):
        """The employer the call is for (hub.dimona.employer_for: the caller, or the
        employer that mandated it)."""
        employer, detail = dimona.employer_for(self.registry, exchange.institution,
                                               request.cbe_number)
        if detail is not None:
            exchange.detail = detail
        exchange.cbes.add(employer.cbe)
        return employer

    def _reply_periods(self, operation, request, exchange, periods, quota=None, more=None):
        exchange.ssins.update(p["ssin"] for p in periods)
        exchange.replied_at = self.clock()
        intf = wire.EMPLOYMENT_INTF if operation == "employmentRelations" else wire.INTF
        return wire.periods_response("{%s}%sResponse" % (intf, operation), request,
                                     exchange.ticket, exchange.received_at, exchange.replied_at,
                                     periods, quota, more)

    @defer.inlineCallbacks
    def declare(self, request, exchange):
        employer = self._employer(request, exchange)
        exchange.ssins.update(d["ssin"] for d in request.declarations)
        results = yield dimona.declare(self.register, self.source, employer,
                                       request.declarations)
        refused = [r for r in results if not r["accepted"]]
        if refused and len(refused) == len(results):
            exchange.outcome, exchange.reason_code = "REFUSED", refused[0]["reasonCode"]
        exchange.detail = "%d declarations, %d refused" % (len(results), len(refused))
        exchange.replied_at = self.clock()
        return wire.declare_response(request, exchange.ticket, exchange.received_at,
                                     exchange.replied_at, results)

    @defer.inlineCallbacks
    def personnelFile(self, request, exchange):
        employer = self._employer(request, exchange)
        day = request.as_of or local_date(exchange.received_at).isoformat()
        found = _plain((yield self.source.call("personnelFile", employerCbe=employer.cbe,
                                               asOf=day, after=request.after,
                                               maximum=request.max_items + 1)))
        more = len(found) > request.max_items
        return self._reply_periods("personnelFile", request, exchange,
                                   found[:request.max_items], more=more)

    @defer.inlineCallbacks
    def consultWorker(self, request, exchange):
        """The employer access key (seed §4.13), applied by the integration check
        (hub/access.py): a person about whom the employer may ask is one who is or was in its
        personnel file in the year asked; anyone else is refused."""
        employer = self._employer(request, exchange)
        ssin = requested_ssin(request.ssin)
        exchange.ssins.add(ssin)
        exchange.legal_context = "EMPLOYER:PERSONNEL"
        year = request.year or local_date(exchange.received_at).year
        start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
        decision = yield self.access.check(employer, "Employment", ("OwnWorkers",),
                                           exchange.legal_context, ssin, start, end,
                                           local_date(exchange.received_at))
        if not decision.allowed:
            raise decision.refusal
        found = yield self.source.call("employmentRelations", ssin=ssin,
                                       startDate=start.isoformat(), endDate=end.isoformat())
        mine = [p for p in _plain(found) if p["employerCbe"] == employer.cbe]
        quota = None
        if any(p["workerType"] == "student" for p in mine):
            quota = serialize_object((yield self.source.call("studentQuota", ssin=ssin,
                                                             year=year)), dict)
        return self._reply_periods("consultWorker", request, exchange, mine, quota)

    @defer.inlineCallbacks
    def employmentRelations(self, request, exchange):
        institution = exchange.institution
        check_customer(request.cbe_number, institution)
        ssin = requested_ssin(request.ssin)
        exchange.ssins.add(ssin)
        exchange.legal_context = request.legal_context[:64]
        start = datetime.date.fromisoformat(request.start)
        end = datetime.date.fromisoformat(request.end) if request.end else None
        decision = yield self.access.check(institution, "Employment", ("Relations",),
                                           request.legal_context, ssin, start, end,
                                           local_date(exchange.received_at))
        if not decision.allowed:
            raise decision.refusal
        found = yield self.source.call("employmentRelations", ssin=ssin, startDate=request.start,
                                       endDate=request.end)
        return self._reply_periods("employmentRelations", request, exchange, _plain(found))


def _gateway(service, context):
    return DimonaGateway(context.sources[service.route],
                         persons.NationalRegister(context.sources[persons.SOURCE]),
                         context.access, context.clock, context.registry)


dimona_endpoint = gateway_endpoint(DimonaService, "DimonaService", wire.INTF, wire.FAULT,
                                   _gateway)
employment_endpoint = gateway_endpoint(EmploymentService, "EmploymentService",
                                       wire.EMPLOYMENT_INTF, wire.EMPLOYMENT_FAULT, _gateway)
