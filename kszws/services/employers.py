"""The employer directory on the hub (seed §4.6), answered from the employer-directory
source (wire/employer_directory.py):

  EmployerDirectoryService  consultEmployer (as of a date, or the whole history) and
                            searchEmployers, for institutions an authorization covers
                            (conf/access.toml, service EmployerDirectory)
  PublicEmployerService     consultPublicEmployer: the public fields as of today, for
                            anyone (anonymous = true in conf/services.toml)
"""
import kszws.compat.spyne  # noqa: F401

from spyne import ServiceBase
from twisted.internet import defer
from zeep.helpers import serialize_object

from kszws import ids
from kszws.clock import local_date
from kszws.services.retrieve_ti import check_customer
from kszws.services.runtime import gateway_endpoint
from kszws.services.runtime import whole_element_operation as _op
from kszws.wire import employer_directory as wire
from kszws.wire.reasons import Refusal

# What anyone may see (seed: public data made available to everyone; §4.14: the debts).
PUBLIC_ATTRIBUTES = ("name", "legal_form", "street", "house_number", "postal_code",
                     "municipality_nis", "municipality", "nace", "debt_cents")


class EmployerDirectoryService(ServiceBase):
    consultEmployer = _op("consultEmployer", "consultEmployerRequest", "consultEmployerResponse")
    searchEmployers = _op("searchEmployers", "searchEmployersRequest", "searchEmployersResponse")


class PublicEmployerService(ServiceBase):
    consultPublicEmployer = _op("consultPublicEmployer", "consultPublicEmployerRequest",
                                "consultPublicEmployerResponse")


def employer_key(request):
    """(cbe, nsso) of the employer asked, checked; one of them is None."""
    if request.cbe:
        try:
            return ids.enterprise_number(request.cbe), None
        except ids.InvalidIdentifier:
            raise Refusal("EMP00001", "cbeNumber %r" % request.cbe[:20]) from None
    try:
        return None, ids.nsso_number(request.nsso or "")
    except ids.InvalidIdentifier:
        raise Refusal("EMP00002", "nssoNumber %r" % (request.nsso or "")[:20]) from None


def as_dict(employer, public=False):
    record = serialize_object(employer, dict)
    attributes = [(a["name"], a["value"], a["validFrom"], a["validUntil"])
                  for a in (record.get("attributes") or {}).get("Attribute") or []]
    if public:
        attributes = [a for a in attributes if a[0] in PUBLIC_ATTRIBUTES]
    return dict(cbe=record["cbe"], nsso=None if public else record["nsso"],
                register=record["register"], start=record["startDate"],
                end=record["endDate"], asOf=record["asOf"], attributes=attributes)


class EmployerGateway:
    def __init__(self, source, access, clock, public=False):
        self.source = source  # hub.routing.SourceClient of the employer directory
        self.access = access
        self.clock = clock
        self.public = public

    def answer(self, operation, exchange, element):
        exchange.operation = operation
        return getattr(self, operation)(wire.parse(element), exchange)

    @defer.inlineCallbacks
    def _authorize(self, request, exchange):
        institution = exchange.institution
        check_customer(request.cbe_number, institution)
        exchange.legal_context = request.legal_context[:64]
        day = local_date(exchange.received_at)
        decision = yield self.access.check(institution, "EmployerDirectory", ("Full",),
                                           request.legal_context, None, day, day, day)
        if not decision.allowed:
            raise decision.refusal

    def _reply(self, operation, request, exchange, code, employers):
        exchange.cbes.update(e["cbe"] for e in employers)
        exchange.replied_at = self.clock()
        intf = wire.PUBLIC_INTF if self.public else wire.INTF
        return wire.response("{%s}%sResponse" % (intf, operation), request, exchange.ticket,
                             exchange.received_at, exchange.replied_at, code, employers)

    @defer.inlineCallbacks
    def consultEmployer(self, request, exchange):
        cbe, nsso = employer_key(request)
        yield self._authorize(request, exchange)
        day = (request.as_of or local_date(exchange.received_at)).isoformat()
        found = yield self.source.call("consultEmployer", cbe=cbe, nsso=nsso,
                                       asOf=None if request.history else day,
                                       history=request.history)
        employers = [as_dict(found.employer)] if found.found else []
        return self._reply("consultEmployer", request, exchange,
                           "MSG00000" if employers else "EMP00003", employers)

    @defer.inlineCallbacks
    def searchEmployers(self, request, exchange):
        yield self._authorize(request, exchange)
        found = yield self.source.call("searchEmployers", name=request.name,
                                       municipalityCode=request.municipality,
                                       maximum=request.max_results)
        employers = [as_dict(e) for e in found or []]
        return self._reply("searchEmployers", request, exchange,
                           "MSG00000" if employers else "EMP00003", employers)

    @defer.inlineCallbacks
    def consultPublicEmployer(self, request, exchange):
        cbe, nsso = employer_key(request)
        found = yield self.source.call("consultEmployer", cbe=cbe, nsso=nsso,
                                       asOf=local_date(exchange.received_at).isoformat(),
                                       history=False)
        employers = [as_dict(found.employer, public=True)] if found.found else []
        return self._reply("consultPublicEmployer", request, exchange,
                           "MSG00000" if employers else "EMP00003", employers)


directory_endpoint = gateway_endpoint(
    EmployerDirectoryService, "EmployerDirectoryService", wire.INTF, wire.FAULT,
    lambda service, context: EmployerGateway(context.sources[service.route], context.access,
                                             context.clock, public=False))
public_endpoint = gateway_endpoint(
    PublicEmployerService, "PublicEmployerService", wire.PUBLIC_INTF, wire.PUBLIC_FAULT,
    lambda service, context: EmployerGateway(context.sources[service.route], context.access,
                                             context.clock, public=True))
