"""The new-style mailbox services (wire/mailbox.py):

  MutationService  notifyMutations: an authentic source pushes the mutations it recorded;
                   the hub answers once they and their fan-out are committed (the outbox)
  MailboxService   listItems, fetchItems, acknowledge: an institution empties its mailbox
                   (without the mutations, when it receives them by batch: FO.MUTA)

Every call is a row of the exchange log, with the SSINs it concerned."""
import kszws.compat.spyne  # noqa: F401

from spyne import ServiceBase
from twisted.internet import defer

from kszws import mailbox
from kszws.hub.fanout import accept_mutations, mutation_problem
from kszws.services.retrieve_ti import check_customer
from kszws.services.runtime import gateway_endpoint, in_transaction
from kszws.services.runtime import whole_element_operation as _op
from kszws.wire import mailbox as wire
from kszws.wire.reasons import Refusal



class MutationService(ServiceBase):
    notifyMutations = _op("notifyMutations", "notifyMutationsRequest",
                          "notifyMutationsResponse")


class MailboxService(ServiceBase):
    listItems = _op("listItems", "listItemsRequest", "listItemsResponse")
    fetchItems = _op("fetchItems", "fetchItemsRequest", "fetchItemsResponse")
    acknowledge = _op("acknowledge", "acknowledgeRequest", "acknowledgeResponse")


class MailboxGateway:
    def __init__(self, db, clock, fanout):
        self.db = db
        self.clock = clock
        self.fanout = fanout  # server.FanOutLoop: kicked when events are accepted

    def answer(self, operation, exchange, element):
        exchange.operation = operation
        return getattr(self, operation)(element, exchange)


    @defer.inlineCallbacks
    def notifyMutations(self, element, exchange):
        """All or nothing: one bad mutation refuses the message, nothing is kept."""
        source = exchange.institution
        if source is None or source.kind != "source":
            raise Refusal("SEC00012", "only an authentic source reports mutations")
        pushed = wire.parse_mutations(element)
        for m in pushed:
            problem = mutation_problem(m.seq, m.kind, m.ssin)
            if problem:
                raise Refusal("MSG00008", problem)
        exchange.ssins.update(m.ssin for m in pushed)
        now = self.clock()
        accepted, last = yield in_transaction(self.db, lambda conn: accept_mutations(
            conn, source.id, [mailbox.Mutation(m.seq, m.kind, m.ssin, m.event_date, m.data)
                              for m in pushed], now))
        exchange.detail = "%d mutations accepted, %d known; last seq %d" % (
            accepted, len(pushed) - accepted, last)
        if accepted and self.fanout is not None:
            self.fanout.kick()
        exchange.replied_at = self.clock()
        return wire.mutations_response(exchange.ticket, exchange.received_at,
                                       exchange.replied_at, accepted, last)

    @defer.inlineCallbacks
    def listItems(self, element, exchange):
        request = self._mailbox_request(element, exchange)
        kinds = mailbox.online_kinds(exchange.institution)
        if request.kind:
            kinds = [k for k in kinds if k == request.kind]
        found = yield in_transaction(self.db, lambda conn: mailbox.items(
            conn, exchange.institution.id, request.after, kinds, request.types or None,
            request.max_items + 1) if kinds else [])
        more = len(found) > request.max_items
        found = found[:request.max_items]
        exchange.ssins.update(i.ssin for i in found)
        exchange.replied_at = self.clock()
        return wire.list_response(request, exchange.ticket, exchange.received_at,
                                  exchange.replied_at, found, more)

    @defer.inlineCallbacks
    def fetchItems(self, element, exchange):
        request = self._mailbox_request(element, exchange)
        found = yield in_transaction(self.db, lambda conn: mailbox.items(
            conn, exchange.institution.id, kinds=mailbox.online_kinds(exchange.institution),
            limit=len(request.ids), unacknowledged=False, ids=request.ids))
        exchange.ssins.update(i.ssin for i in found)
        exchange.replied_at = self.clock()
        return wire.fetch_response(request, exchange.ticket, exchange.received_at,
                                   exchange.replied_at, found)

    @defer.inlineCallbacks
    def acknowledge(self, element, exchange):
        request = self._mailbox_request(element, exchange)
        now = self.clock()
        done = yield in_transaction(self.db, lambda conn: mailbox.acknowledge(
            conn, exchange.institution.id, request.ids, now,
            mailbox.online_kinds(exchange.institution)))
        exchange.detail = "%d of %d acknowledged" % (len(done), len(set(request.ids)))
        exchange.replied_at = self.clock()
        return wire.acknowledge_response(request, exchange.ticket, exchange.received_at,
                                         exchange.replied_at, done)

    @staticmethod
    def _mailbox_request(element, exchange):
        request = wire.parse_mailbox(element)
        check_customer(request.cbe_number, exchange.institution)
        return request


def _gateway(service, context):
    return MailboxGateway(context.db, context.clock, context.fanout)


mutation_endpoint = gateway_endpoint(MutationService, "MutationService", wire.MUTATIONS,
                                     wire.MUTATIONS_FAULT, _gateway)
mailbox_endpoint = gateway_endpoint(MailboxService, "MailboxService", wire.MAILBOX,
                                    wire.MAILBOX_FAULT, _gateway)
