"""The classic CBSS transport: WebServiceConnector.sendXML (CONTRACTS.md §1A), at the real
path /connectors/webservice/KSZBCSSWebServiceConnectorPort.

The SOAP body holds one `xmlString`, whose text is an SSDNRequest (escaped or in CDATA,
with or without an XML declaration, prefixed or default namespace); the reply's is an
SSDNReply. Each ServiceRequest of the envelope is answered in its own ServiceReply.
"""
import re

import kszws.compat.spyne  # noqa: F401

from spyne import Application, ServiceBase, Unicode, rpc
from twisted.internet import defer, threads

from kszws import directory, ids
from kszws.hub import persons
from kszws.clock import local_date
from kszws.hub.access import visible_attestations
from kszws.hub.validation import SchemaCatalogue
from kszws.services.runtime import ParsedSoap11, SpyneEndpoint
from kszws.wire import (identify_person, list_of_attestations, manage_access,
                        pension_register, perform_investigation, reference_manager, ssdn,
                        xmlparse)
from kszws.wire.ns import KSZWS_HUB, q
from kszws.wire.reasons import Refusal

# The schema leaves ServiceRequest unbounded; each is a call to a source, so one message of
# thousands would hold the source pool for seconds (batch exists for volumes).
MAX_SERVICE_REQUESTS = 100
_DECLARATION = re.compile(r"^\s*<\?xml\s[^>]*\?>")  # not <?xml-stylesheet ...?>


class WebServiceConnector(ServiceBase):
    @rpc(Unicode, _body_style="bare", _operation_name="sendXML", _in_message_name="xmlString",
         _out_message_name="xmlString", _returns=Unicode)
    def sendXML(ctx, xml_string):
        return ctx.app.gateway.handle(ctx.udc, xml_string or "")


class SsdnGateway:
    """Reads an SSDNRequest, answers each ServiceRequest, writes the SSDNReply."""

    def __init__(self, catalogue, register, clock, registry, db, access, pensions=None):
        self.catalogue = catalogue
        self.pensions = pensions  # the pension cadastre (hub.routing.SourceClient), if any
        self.register = register
        self.clock = clock
        self.registry = registry
        self.db = db
        self.access = access  # hub.access.AccessControl: the integration check
        self.handlers = {
            (identify_person.SERVICE_ID, identify_person.VERSION): self.identify_person,
            (perform_investigation.SERVICE_ID, perform_investigation.VERSION):
                self.perform_investigation,
            (manage_access.SERVICE_ID, manage_access.VERSION): self.manage_access,
            (reference_manager.SERVICE_ID, reference_manager.VERSION): self.reference_consult,
            (list_of_attestations.SERVICE_ID, list_of_attestations.VERSION):
                self.list_of_attestations,
        }
        if pensions is not None:
            self.handlers[pension_register.SERVICE_ID, pension_register.VERSION] = \
                self.pension_register

    @defer.inlineCallbacks
    def handle(self, exchange, text):
        root, problems = parse_ssdn_request(self.catalogue, text)
        if problems:
            exchange.outcome, exchange.reason_code = "REFUSED", "30000002"
            exchange.detail = problems[0][:256]
            return self._reply(exchange, [], None, [ssdn.Detail("30000002", [
                ("SSDNRequest", problems[0][:200])])])
        request = ssdn.parse_request(root)
        check_authorized_user(request.user, exchange.institution)
        exchange.caller_user = request.user.user_id
        exchange.legal_context = self.access.legal_context(exchange.institution)
        exchange.operation = ",".join(dict.fromkeys(r.service_id or "?" for r in request.services))[:64]
        exchange.version = ",".join(dict.fromkeys(r.version or "?" for r in request.services))[:16]
        results, failures = [], []
        for service_request in request.services:
            results.append((yield self.answer(service_request, exchange, failures)))
        _note_outcome(exchange, results, failures)
        return self._reply(exchange, results, request)

    def _reply(self, exchange, results, request, details=None):
        exchange.replied_at = self.clock()
        root = ssdn.reply(exchange.ticket, exchange.received_at, exchange.replied_at, results,
                          request, details)
        return ssdn.connector_reply(ssdn.serialize(root).decode("utf-8"))

    @defer.inlineCallbacks
    def answer(self, request, exchange, failures):
        handler = self.handlers.get((request.service_id, request.version))
        if handler is None:
            return ssdn.ServiceResult(request.service_id or "", request.version or "", [
                ssdn.Detail("31000001", [("ServiceId", request.service_id),
                                         ("Version", request.version)])])
        body = request.body
        problems = self.catalogue.validate(body) if body is not None else ["no request body"]
        if problems:
            return ssdn.ServiceResult(request.service_id, request.version, [
                ssdn.Detail("31000002", [("ServiceRequest", problems[0][:200])])])
        try:
            result = yield handler(body, exchange)
        except Refusal as refusal:  # the source failed: the legacy error shape, not a fault
            failures.append(refusal)
            return ssdn.ServiceResult(request.service_id, request.version, [
                ssdn.Detail("31000003", [("Source", refusal.detail)])])
        return result

    @defer.inlineCallbacks
    def identify_person(self, body, exchange):
        """The Basic part needs an authorization; the Extended part (given when the identity
        is validated) also needs a registration on the person."""
        query = identify_person.parse(body)
        result = ssdn.ServiceResult(identify_person.SERVICE_ID, identify_person.VERSION, [])
        if query.ssin:
            exchange.ssins.add(query.ssin)
        decision = yield self._check(exchange, "IdentifyPerson", ("Basic",), None)
        if not decision.allowed:
            result.details.append(_refused(decision.refusal, exchange))
            return result
        details, found, extended = yield _unwrapped(
            persons.identify_person(self.register, query))
        exchange.ssins.update(p["ssin"] for p in found)
        yield self._follow(query.ssin, found, exchange)
        if extended:
            decision = yield self._check(exchange, "IdentifyPerson", ("Extended",),
                                         found[0]["ssin"])
            if not decision.allowed:  # the identity was validated, but not for this caller
                extended = False
                details = [d for d in details if d.code != "12007001"]
                details.append(ssdn.Detail("21008008", [("SSIN", found[0]["ssin"])]))
        result.details[:] = details
        result.body = identify_person.reply(found, extended)
        return result

    def _check(self, exchange, service, groups, ssin):
        day = local_date(exchange.received_at)
        return self.access.check(exchange.institution, service, groups,
                                 exchange.legal_context, ssin, day, day, day)

    @defer.inlineCallbacks
    def _follow(self, asked, found, exchange):
        """A person found under another SSIN than the one asked (replaced): the directory
        follows the replacement."""
        if not asked or len(found) != 1 or found[0]["ssin"] == asked:
            return  # (checked first: the SSIN's check digits cost more than the rest)
        try:
            asked = ids.ssin(asked)
        except ids.InvalidIdentifier:
            return
        if found[0]["ssin"] != asked:
            yield self.access.follow_replacement(asked, found[0]["ssin"], exchange.received_at)

    @defer.inlineCallbacks
    def perform_investigation(self, body, exchange):
        """Every data group asked must pass the integration check, before the source is
        asked anything."""
        query = perform_investigation.parse(body)
        exchange.ssins.add(query.ssin)
        result = ssdn.ServiceResult(perform_investigation.SERVICE_ID,
                                    perform_investigation.VERSION, [])
        if ids.is_ssin(query.ssin):
            decision = yield self._check(exchange, "PerformInvestigation", query.groups,
                                         ids.ssin(query.ssin))
            if not decision.allowed:
                result.details.append(_refused(decision.refusal, exchange))
                return result
        details, person, members = yield _unwrapped(
            persons.perform_investigation(self.register, query))
        yield self._follow(query.ssin, [person] if person else [], exchange)
        exchange.ssins.update(m["ssin"] for m in members)
        reply = None if person is None else \
            perform_investigation.reply(person, query.groups, members)
        return ssdn.ServiceResult(perform_investigation.SERVICE_ID, perform_investigation.VERSION,
                                  details, reply)

    @defer.inlineCallbacks
    def manage_access(self, body, exchange):
        query = manage_access.parse(body)
        institution = exchange.institution
        exchange.ssins.add(query.ssin)
        details, ssin = yield _unwrapped(persons.check_proof(self.register, query))
        quality = None
        if query.purpose is not None:
            quality = self.registry.quality_code(institution.sector, query.purpose)
            if quality is None:
                details.append(ssdn.Detail("31008003", [("Purpose", query.purpose)]))
        elif query.action == "REGISTER":
            details.append(ssdn.Detail("31000007", [("Purpose", None)]))
        if ssdn.status_of(details) == "NO":
            return ssdn.ServiceResult(manage_access.SERVICE_ID, manage_access.VERSION, details)
        exchange.ssins.add(ssin)
        if ssin != ids.ssin(query.ssin):  # the proof named a replaced SSIN
            yield self.access.follow_replacement(ids.ssin(query.ssin), ssin, exchange.received_at)
        now = self.clock()

        def apply():
            with self.db.engine.begin() as conn:
                if query.action == "REGISTER":
                    directory.register(conn, now, ssin, institution, quality, query.start,
                                       query.end, query.register or directory.SECONDARY)
                elif query.action == "UNREGISTER":
                    if not directory.unregister(conn, now, ssin, institution, query.start,
                                                query.purpose):
                        details.append(ssdn.Detail("21008004"))
                mine = query.action != "LIST"
                return directory.registrations(
                    conn, ssin, query.start, query.end, sector=institution.sector,
                    institution=institution.id if mine else None, register=query.register)

        try:
            found = yield threads.deferToThread(apply)
        except directory.Conflict as conflict:
            # Named by its code only: the other institution's file is not the caller's to see.
            return ssdn.ServiceResult(manage_access.SERVICE_ID, manage_access.VERSION, details + [
                ssdn.Detail("31008002", [("Purpose", conflict.code)])])
        org_units = {i.id: i.cbe for i in self.registry.institutions.values()}
        return ssdn.ServiceResult(manage_access.SERVICE_ID, manage_access.VERSION, details,
                                  manage_access.reply(query, ssin, found, org_units.get))

    @defer.inlineCallbacks
    def reference_consult(self, body, exchange):
        """Which other sectors know the person: only for an institution that manages a file
        on him itself, in the quality and integrated period it names."""
        query = reference_manager.parse(body)
        institution = exchange.institution
        result = ssdn.ServiceResult(reference_manager.SERVICE_ID, reference_manager.VERSION, [])
        ssin = _named_ssin(query.ssin, "RequestedSsin", result, exchange)
        if ssin is None:
            return result

        def read():
            with self.db.engine.connect() as conn:
                return directory.other_sectors(
                    conn, ssin, institution, query.quality_code,
                    (query.integrated_start, query.integrated_end), (query.start, query.end))

        found = yield threads.deferToThread(read)
        if found is None:
            result.details.append(ssdn.Detail("31008005", [("RequestedSsin", ssin)]))
            return result
        sectors = self.registry.sectors
        result.body = reference_manager.reply(
            found, lambda code: sectors.get((code, 0)), self.registry.quality_code,
            query.descriptions)
        return result

    @defer.inlineCallbacks
    def list_of_attestations(self, body, exchange):
        """The attestations on the person the CPAS may see (hub/access.py): of the types
        whose destination it is and in which it holds a file on him, and its own."""
        result = ssdn.ServiceResult(list_of_attestations.SERVICE_ID,
                                    list_of_attestations.VERSION, [])
        query = list_of_attestations.parse(body, local_date(exchange.received_at))
        ssin = _named_ssin(query.ssin, "SocialSecurityUser", result, exchange)
        if ssin is None:
            return result
        known = self.registry.attestation_types
        if query.request_type == list_of_attestations.ALL:
            types = list(known.values())
        elif query.request_type.lower() in known:
            types = [known[query.request_type.lower()]]
        else:
            result.details.append(ssdn.Detail("31008009", [("RequestType", query.request_type)]))
            return result
        institution = exchange.institution

        def read():
            with self.db.engine.connect() as conn:
                return visible_attestations(self.db, conn, institution, ssin, types,
                                            query.start, query.end)
        found = yield threads.deferToThread(read)
        if found is None:
            result.details.append(_refused(Refusal("ACC00002"), exchange))
            return result
        cbes = {i.id: i.cbe for i in self.registry.institutions.values()}
        result.body = list_of_attestations.reply(found, known.get, cbes.get)
        return result


    @defer.inlineCallbacks
    def pension_register(self, body, exchange):
        """A person's pensions in the pension cadastre (declarations in force in the period
        asked), behind the integration check (PensionCadastre/Consult)."""
        from zeep.helpers import serialize_object

        from kszws.services.pensions import with_payer_cbe

        result = ssdn.ServiceResult(pension_register.SERVICE_ID, pension_register.VERSION, [])
        query = pension_register.parse(body)
        ssin = _named_ssin(query.ssin, "TargetSSIN", result, exchange)
        if ssin is None:
            return result
        day = local_date(exchange.received_at)
        decision = yield self.access.check(exchange.institution, "PensionCadastre",
                                           ("Consult",), exchange.legal_context, ssin,
                                           query.start, query.end, day)
        if not decision.allowed:
            result.details.append(_refused(decision.refusal, exchange))
            return result
        found = yield self.pensions.call(
            "consult", ssin=ssin, firstMonth=query.start.isoformat()[:7],
            lastMonth=query.end.isoformat()[:7] if query.end else None, pillar=query.pillar)
        benefits = with_payer_cbe(self.registry,
                                  [serialize_object(x, dict) for x in found or []])
        result.body = pension_register.reply(ssin, benefits)
        return result


def _named_ssin(raw, field, result, exchange):
    """The canonical SSIN a service request names (`field`), now one of the exchange's
    subjects; None, with reason 31007002 added to `result`, when its check digits fail."""
    try:
        ssin = ids.ssin(raw)
    except ids.InvalidIdentifier:
        result.details.append(ssdn.Detail("31007002", [(field, raw)]))
        return None
    exchange.ssins.add(ssin)
    return ssin


def _unwrapped(d):
    """A Deferred whose gatherResults failures (FirstError) carry their first cause."""
    def unwrap(failure):
        if failure.check(defer.FirstError):
            return failure.value.subFailure
        return failure
    return d.addErrback(unwrap)


def _refused(refusal, exchange):
    """The classic detail of an integration-check refusal; the exchange log keeps why."""
    exchange.detail = (refusal.detail or "")[:256]
    code = "31008006" if refusal.code == "ACC00001" else "31008007"
    return ssdn.Detail(code, [("ACC", refusal.code)])


def check_authorized_user(user, institution):
    """The identity in the message must be the one the transport proved (signature, Basic,
    client certificate): the sector (MatrixID/MatrixSubID) and, when given, the OrgUnit."""
    problems = []
    if user.matrix_id != institution.sector:
        problems.append("MatrixID %s is not %s" % (user.matrix_id, institution.sector))
    if user.matrix_sub_id is not None and user.matrix_sub_id != institution.subsector:
        problems.append("MatrixSubID %s is not %s" % (user.matrix_sub_id, institution.subsector))
    if user.org_unit and user.org_unit not in institution.org_units:
        problems.append("OrgUnit %s is not one of %s" % (user.org_unit, institution.id))
    if problems:
        raise Refusal("SEC00012", "; ".join(problems))


def _note_outcome(exchange, results, failures):
    """The exchange-log outcome of an SSDN exchange: the worst of its service replies; a
    source that failed is named by its SRC000xx code."""
    details = [d for r in results for d in r.details]
    if failures:
        exchange.outcome, exchange.reason_code = "ERROR", failures[0].code
        exchange.detail = (failures[0].detail or "")[:256]
        return
    errors = [d for d in details if d.severity == ssdn.ERROR]
    warnings = [d for d in details if d.severity == ssdn.WARNING]
    if errors:
        exchange.outcome, exchange.reason_code = "REFUSED", errors[0].code
    elif warnings:
        exchange.reason_code = warnings[0].code


def parse_ssdn_request(catalogue, text):
    """(SSDNRequest element, []) for the string of a sendXML, or (None, [problem]): the
    string goes through the same hostile-input parser as the envelope, then its schema."""
    # The string was decoded by the SOAP layer: a declared encoding no longer holds.
    text = _DECLARATION.sub("", text, count=1)
    if _DECLARATION.match(text):  # a second one would make the parser decode it anew
        return None, ["XML00004: the string has two XML declarations"]
    try:
        root = xmlparse.parse(text.encode("utf-8"))
    except Refusal as refusal:
        return None, ["%s: %s" % (refusal.code, refusal.detail)]
    if root.tag != ssdn.s("SSDNRequest"):
        return None, ["the document is not an SSDNRequest"]
    if len(root.findall(ssdn.s("ServiceRequest"))) > MAX_SERVICE_REQUESTS:
        return None, ["more than %d ServiceRequests in one message" % MAX_SERVICE_REQUESTS]
    return root, catalogue.validate(root)


def endpoint(service, context):
    root = context.project_root / "xsd" / "SSDN"
    catalogue = SchemaCatalogue.from_files(xsd_files=[
        root / "SSDNRequest.xsd", root / "IdentifyPersonRequest.xsd",
        root / "PerformInvestigationRequest.xsd", root / "ManageAccessRequest.xsd",
        root / "ReferenceManagerRequest.xsd", root / "ListOfAttestationsRequest.xsd",
        root / "PensionRegisterRequest.xsd"])
    app = Application([WebServiceConnector], tns=ssdn.CONNECTOR, name="KSZBCSSWebServiceConnector",
                      in_protocol=ParsedSoap11(), out_protocol=ParsedSoap11())
    app.gateway = SsdnGateway(catalogue, persons.NationalRegister(context.sources[service.route]),
                              context.clock, context.registry, context.db, context.access,
                              context.sources.get("pension-cadastre"))
    return SpyneEndpoint(service, app, q(KSZWS_HUB, "hubFault"), new_ticket=ssdn.new_ticket)
