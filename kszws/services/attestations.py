"""AttestationService (wire/attestation.py): electronic attestations (seed §4.8, §4.9).

Only the authentic source of a type (its `publisher_sector`, conf/attestations.toml)
publishes, updates or cancels it; each version is queued for the fan-out in the same
transaction, to the mailboxes of the destination institutions. Consulting is the
integration check of this flow: a destination institution holding a file on the person in a
destination quality code sees the attestations of that type; the publisher sees its own.
Business refusals are status NO_RESULT with an ATT000xx code; not being entitled to consult
is an ACC00002 fault, as for every personal-data service."""
import kszws.compat.spyne  # noqa: F401

from lxml import etree
from spyne import ServiceBase
from twisted.internet import defer

from kszws import ids
from kszws.hub import persons
from kszws.hub.access import visible_attestations
from kszws.mailbox import attestations as store
from kszws.services.retrieve_ti import check_customer
from kszws.services.runtime import gateway_endpoint, in_transaction
from kszws.services.runtime import whole_element_operation as _op
from kszws.wire import attestation as wire
from kszws.wire.reasons import Refusal


class AttestationService(ServiceBase):
    publishAttestation = _op("publishAttestation", "publishAttestationRequest",
                             "publishAttestationResponse")
    updateAttestation = _op("updateAttestation", "updateAttestationRequest",
                            "updateAttestationResponse")
    cancelAttestation = _op("cancelAttestation", "cancelAttestationRequest",
                            "cancelAttestationResponse")
    consultAttestations = _op("consultAttestations", "consultAttestationsRequest",
                              "consultAttestationsResponse")
    listAttestations = _op("listAttestations", "listAttestationsRequest",
                           "listAttestationsResponse")


class Refused(Exception):
    """A business refusal: answered with status NO_RESULT and its code."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class AttestationGateway:
    def __init__(self, registry, db, clock, register, fanout):
        self.registry = registry
        self.db = db
        self.clock = clock
        self.register = register  # hub.persons.NationalRegister
        self.fanout = fanout
        self._schemas = {}

    @defer.inlineCallbacks
    def answer(self, operation, exchange, element):
        request = wire.parse(element)
        exchange.operation = operation
        check_customer(request.cbe_number, exchange.institution)
        if request.ssin is not None:
            try:
                request.ssin = ids.ssin(request.ssin)
            except ids.InvalidIdentifier:
                raise Refusal("MSG00008", "ssin %r is not a valid SSIN" % request.ssin[:20]) \
                    from None
            exchange.ssins.add(request.ssin)
        try:
            found = yield getattr(self, operation)(request, exchange)
            code = "MSG00000"
        except Refused as refused:
            found, code = [], refused.code
            exchange.outcome, exchange.reason_code = "REFUSED", code
        except store.AttestationError as error:
            found, code = [], error.code
            exchange.outcome, exchange.reason_code = "REFUSED", code
            exchange.detail = error.detail[:256]
        exchange.ssins.update(a.ssin for a in found)
        exchange.replied_at = self.clock()
        cbes = {i.id: i.cbe for i in self.registry.institutions.values()}
        return wire.response(operation + "Response", request, exchange.ticket,
                             exchange.received_at, exchange.replied_at, code, found, cbes.get)


    def _type(self, code, publisher=None):
        known = self.registry.attestation_types.get(code or "")
        if known is None:
            raise Refused("ATT00001")
        if publisher is not None and publisher.sector != known.publisher_sector:
            raise Refused("ATT00002")
        return known

    def _payload(self, type_, element):
        """The payload as stored, after its type's schema accepted it."""
        if element is None or element.tag != type_.element:
            raise Refused("ATT00003")
        schema = self._schemas.get(type_.schema)
        if schema is None:
            schema = self._schemas[type_.schema] = etree.XMLSchema(file=type_.schema)
        payload = etree.fromstring(etree.tostring(element))  # alone, for the schema
        if not schema.validate(payload):
            raise Refused("ATT00003")
        return etree.tostring(payload, encoding="unicode")

    def _queued(self, result):
        if self.fanout is not None:
            self.fanout.kick()
        return result

    @defer.inlineCallbacks
    def publishAttestation(self, request, exchange):
        institution = exchange.institution
        type_ = self._type(request.type, institution)
        payload = self._payload(type_, request.payload)
        _, person = yield persons.resolve(self.register, request.ssin, "ssin")
        if person is None:
            raise Refused("ATT00007")
        ssin, now = person["ssin"], self.clock()  # a replaced SSIN: the person's current one

        def work(conn):
            new_id = store.publish(conn, now, institution.id, type_.code, ssin,
                                   request.reference, request.start, request.end,
                                   request.decision_date, payload)
            return [store.get(conn, new_id)]
        return self._queued((yield in_transaction(self.db, work)))

    @defer.inlineCallbacks
    def updateAttestation(self, request, exchange):
        institution, now = exchange.institution, self.clock()

        def work(conn):
            current = store.get(conn, request.attestation_id or "")
            if current is None or current.publisher != institution.id:
                raise store.AttestationError("ATT00005", "no such attestation")
            payload = self._payload(self._type(current.type, institution), request.payload)
            return [store.update_(conn, now, institution.id, current.id, request.start,
                                  request.end, request.decision_date, payload)]
        return self._queued((yield in_transaction(self.db, work)))

    @defer.inlineCallbacks
    def cancelAttestation(self, request, exchange):
        institution, now = exchange.institution, self.clock()
        found = yield in_transaction(self.db, lambda conn: [store.cancel(
            conn, now, institution.id, request.attestation_id or "")])
        return self._queued(found)

    @defer.inlineCallbacks
    def consultAttestations(self, request, exchange):
        institution = exchange.institution
        types = [self._type(t) for t in request.types] if request.types \
            else list(self.registry.attestation_types.values())

        def read(conn):
            return visible_attestations(self.db, conn, institution, request.ssin, types,
                                        request.start, request.end)
        found = yield in_transaction(self.db, read)
        if found is None:
            raise Refusal("ACC00002", "%s holds no file on the person in a quality code that "
                          "entitles it to these attestations" % institution.id)
        return found

    @defer.inlineCallbacks
    def listAttestations(self, request, exchange):
        """What the institution itself published on the person, cancelled ones included."""
        institution = exchange.institution
        types = [self._type(t).code for t in request.types] if request.types else None
        found = yield in_transaction(self.db, lambda conn: store.of_person(
            conn, {request.ssin}, request.start, request.end, types, publisher=institution.id,
            include_cancelled=True))
        return found


endpoint = gateway_endpoint(
    AttestationService, "AttestationService", wire.INTF, wire.FAULT,
    lambda service, context: AttestationGateway(
        context.registry, context.db, context.clock,
        persons.NationalRegister(context.sources[service.route]), context.fanout))
