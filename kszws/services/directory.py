"""The new-style services around the reference directory (wire/reference_directory.py):

  ReferenceDirectoryService  register (with a proof, as ManageAccess), unregister, list,
                             consult (the other sectors), bulkRegister (an initial load)
  AccessLogService           "who consulted my data" (seed §3.5, §6.2)
  AuthorizationService       the published authorizations (anonymous: they are public)

Business refusals are answered with status NO_RESULT and their DIR000xx code; technical
ones (bad SSIN, not allowed) are SOAP Faults with a CBSSFaultType, as in every new-style
service."""
import datetime

import kszws.compat.spyne  # noqa: F401

from spyne import ServiceBase
from twisted.internet import defer, threads

from kszws import directory
from kszws.hub import exchange_log, persons, registrations
from kszws.clock import local_date, local_day_start
from kszws.services.retrieve_ti import check_customer
from kszws.services.runtime import gateway_endpoint, in_transaction, requested_ssin
from kszws.services.runtime import whole_element_operation as _op
from kszws.wire import reference_directory as wire
from kszws.wire.reasons import Refusal


class ReferenceDirectoryService(ServiceBase):
    register = _op("register", "registerRequest", "registerResponse")
    unregister = _op("unregister", "unregisterRequest", "unregisterResponse")
    list = _op("list", "listRequest", "listResponse")
    consult = _op("consult", "consultRequest", "consultResponse")
    bulkRegister = _op("bulkRegister", "bulkRegisterRequest", "bulkRegisterResponse")


class AccessLogService(ServiceBase):
    consultAccessLog = _op("consultAccessLog", "accessLogRequest", "accessLogResponse")


class AuthorizationService(ServiceBase):
    listAuthorizations = _op("listAuthorizations", "listAuthorizationsRequest",
                             "listAuthorizationsResponse")


class DirectoryGateway:
    def __init__(self, registry, db, clock, register, access):
        self.registry = registry
        self.db = db
        self.clock = clock
        self.register_ = register  # hub.persons.NationalRegister
        self.access = access

    @defer.inlineCallbacks
    def answer(self, operation, exchange, element):
        request = wire.parse(element)
        exchange.operation = operation
        if exchange.institution is not None:
            check_customer(request.cbe_number, exchange.institution)
        if operation in ("register", "unregister", "bulkRegister"):
            registrations.may_register(exchange.institution)
        if request.ssin is not None:
            request.ssin = requested_ssin(request.ssin)
            exchange.ssins.add(request.ssin)
        code, found, information = yield getattr(self, operation)(request, exchange)
        exchange.replied_at = self.clock()
        if operation == "bulkRegister":
            return wire.bulk_response(request, exchange.ticket, exchange.received_at,
                                      exchange.replied_at, *found)
        if operation == "consultAccessLog":
            return wire.access_log_response(request, exchange.ticket, exchange.received_at,
                                            exchange.replied_at, found)
        if operation == "listAuthorizations":
            return wire.authorizations_response(exchange.ticket, exchange.received_at,
                                                exchange.replied_at, *found)
        if code != "MSG00000":
            exchange.outcome = "OK" if code == "DIR00004" else "REFUSED"
            exchange.reason_code = code
        cbe_of = {i.id: i.cbe for i in self.registry.institutions.values()}.get \
            if operation in ("register", "unregister", "list") else None
        return wire.directory_response(operation, request, exchange.ticket,
                                       exchange.received_at, exchange.replied_at, code, found,
                                       cbe_of, information)

    @defer.inlineCallbacks
    def register(self, request, exchange):
        """The checks and the write of hub.registrations, as the batch type REGI makes
        them."""
        institution = exchange.institution
        quality = registrations.quality(self.registry, institution, request.quality_code)
        if quality is None:
            return "DIR00003", [], [("qualityCode", request.quality_code)]
        found = yield registrations.persons_of(self.register_, {request.ssin})
        code, ssin = registrations.proven(request, found)
        if ssin is None:
            return code, [], []
        exchange.ssins.add(ssin)
        if ssin != request.ssin:
            yield self.access.follow_replacement(request.ssin, ssin, exchange.received_at)
        now = self.clock()
        return (yield in_transaction(self.db, lambda conn: registrations.write(
            conn, now, institution, quality, ssin, request)))

    def unregister(self, request, exchange):
        now = self.clock()
        return in_transaction(self.db, lambda conn: registrations.end(
            conn, now, exchange.institution, request))

    @defer.inlineCallbacks
    def list(self, request, exchange):
        """The institution's own registrations on the person (another institution's file
        is not its to see; `consult` gives the other sectors)."""
        institution = exchange.institution
        found = yield in_transaction(self.db, lambda conn: directory.registrations(
            conn, request.ssin, request.start, request.end, institution=institution.id))
        return "MSG00000", found, []

    @defer.inlineCallbacks
    def consult(self, request, exchange):
        """The other sectors that know the person, for an institution that manages a file on
        him in the quality code it names (as ReferenceManager.consult)."""
        institution = exchange.institution

        period = (request.start, request.end)
        found = yield in_transaction(self.db, lambda conn: directory.other_sectors(
            conn, request.ssin, institution, request.quality_code, period, period))
        if found is None:
            return "DIR00008", [], []
        return "MSG00000", found, []

    @defer.inlineCallbacks
    def bulkRegister(self, request, exchange):
        institution = exchange.institution
        codes = {code: q for (sector, code), q in self.registry.quality_codes.items()
                 if sector in (institution.sector, -1)}
        accepted, rejected = yield threads.deferToThread(
            directory.bulk_register, self.db, self.clock(), institution, request.rows, codes)
        exchange.detail = "bulk load: %d accepted, %d rejected" % (accepted, len(rejected))
        return "MSG00000", (accepted, rejected), []

    @defer.inlineCallbacks
    def consultAccessLog(self, request, exchange):
        """Who consulted the person's data: for the citizen himself (his SSIN in actingFor)
        or for a data-protection officer of an institution conf/access.toml names."""
        institution = exchange.institution
        policy = self.registry.access
        if request.citizen is not None:
            if requested_ssin(request.citizen) != request.ssin:
                raise Refusal("ACC00003", "a citizen may ask only about himself")
            exchange.caller_user = request.citizen
        elif institution.id not in policy.data_protection_officers:
            raise Refusal("ACC00003", "%s has no data-protection officer role in "
                          "conf/access.toml" % institution.id)
        else:
            exchange.caller_user = (request.officer or "")[:64] or None
        now = self.clock()
        found = yield threads.deferToThread(consultations, self.db, self.registry, request.ssin,
                                            request.start, request.end, now)
        return "MSG00000", found, []

    def listAuthorizations(self, request, exchange):
        policy = self.registry.access
        chosen = [a for a in policy.authorizations
                  if request.sector is None or a.sector == request.sector]
        return defer.succeed(("MSG00000", (chosen, policy.exemptions), []))


def consultations(db, registry, ssin, start, end, now, limit=1000):
    """Every exchange that concerned `ssin` between the Belgian days `start` and `end`
    (newest first), without those of an embargoed legal context whose embargo runs."""
    since = local_day_start(start)
    until = local_day_start((end or local_date(now)) + datetime.timedelta(days=1))
    out = []
    for row in exchange_log.search(db, subject=ssin, since=since, until=until, limit=limit):
        days = registry.access.embargo_days(row["legal_context"] or "")
        received = row["received_at"].replace(tzinfo=datetime.timezone.utc)
        if days and received + datetime.timedelta(days=days) > now:
            continue
        inst = registry.institutions.get(row["caller"] or "")
        name = inst.name if inst else "(unidentified caller)"
        if row["service"] == "EESSI":  # a SED about the person, to or from abroad
            name = "EESSI: %s" % (row["detail"] or "").split(", message")[0]
        out.append(dict(received_at=received, institution=name, cbe=inst.cbe if inst else None,
                        service=row["service"], operation=row["operation"],
                        legal_context=row["legal_context"], outcome=row["outcome"],
                        reason_code=row["reason_code"]))
    return out




def _gateway(service, context):
    register = persons.NationalRegister(context.sources[service.route]) \
        if service.route != "hub" else None
    return DirectoryGateway(context.registry, context.db, context.clock, register,
                            context.access)


directory_endpoint = gateway_endpoint(ReferenceDirectoryService, "ReferenceDirectoryService",
                                      wire.DIRECTORY, wire.DIRECTORY_FAULT, _gateway)
access_log_endpoint = gateway_endpoint(AccessLogService, "AccessLogService", wire.ACCESS_LOG,
                                       wire.ACCESS_LOG_FAULT, _gateway)
authorization_endpoint = gateway_endpoint(AuthorizationService, "AuthorizationService",
                                          wire.AUTHORIZATIONS, wire.AUTHORIZATIONS_FAULT,
                                          _gateway)
