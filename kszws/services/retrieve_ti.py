"""RetrieveTIGroupsService v2 (retrieveTI): the National Register information types of a
person (xm25), new style: informationCustomer echoed, informationCBSS, mandatory
legalContext, status DATA_FOUND / NO_DATA_FOUND / NO_RESULT; technical errors are SOAP
Faults with a CBSSFaultType retrieveTIGroupsFault."""
import kszws.compat.spyne  # noqa: F401

from spyne import AnyXml, Application, ServiceBase, rpc
from twisted.internet import defer

from kszws import ids, nis
from kszws.hub import persons
from kszws.hub.customers import check_customer
from kszws.clock import local_date
from kszws.services.runtime import ParsedSoap11, SpyneEndpoint
from kszws.wire import retrieve_ti
from kszws.wire.reasons import Refusal


class RetrieveTIGroupsService(ServiceBase):
    # The whole request element is read by wire.retrieve_ti (its informationCustomer is
    # echoed as sent): it is ctx.in_body_doc; spyne only dispatches.
    @rpc(AnyXml, _body_style="bare", _operation_name="retrieveTI",
         _in_message_name="retrieveTIGroupsRequest",
         _out_message_name="retrieveTIGroupsResponse", _returns=AnyXml)
    def retrieveTI(ctx, _request):
        return ctx.app.gateway.retrieve(ctx.udc, ctx.in_body_doc)


class TIGateway:
    def __init__(self, register, clock, access):
        self.register = register
        self.clock = clock
        self.access = access  # hub.access.AccessControl: the integration check

    @defer.inlineCallbacks
    def retrieve(self, exchange, element):
        query = retrieve_ti.parse(element)
        exchange.legal_context = query.legal_context[:64]
        if not query.legal_context:
            raise Refusal("MSG00008", "legalContext is mandatory")
        check_customer(query.cbe_number, exchange.institution)
        exchange.ssins.add(query.ssin)
        yield self._check(exchange, query)
        information = []
        person = yield self.register.consult(query.ssin, history=query.history)
        if person is not None and person["status"] == "replaced" and person["replacedBy"]:
            information.append(("replacedBy", person["replacedBy"]))
            exchange.ssins.add(person["replacedBy"])
            yield self.access.follow_replacement(query.ssin, person["replacedBy"],
                                                 exchange.received_at)
            person = yield self.register.consult(person["replacedBy"], history=query.history)
        if person is None:
            code = "DAT00001"
        elif person["status"] == "cancelled":
            code, person = "DAT00002", None
        else:
            code = "MSG00000"
        members = []
        if person is not None:  # the other persons the file names, in one call
            others = named_persons(person) - {person["ssin"]}
            if others:
                found = yield self.register.consult_many(sorted(others)[:99])
                members = list(found.values())
                exchange.ssins.update(found)
        exchange.reason_code = code
        exchange.replied_at = self.clock()
        return retrieve_ti.response(query, exchange.ticket, exchange.received_at,
                                    exchange.replied_at, code, person, members=members,
                                    country_name=nis.country_name, information=information)


    @defer.inlineCallbacks
    def _check(self, exchange, query):
        """The integration check, before the source is asked: current data, and the
        history when asked for."""
        try:
            ssin = ids.ssin(query.ssin)
        except ids.InvalidIdentifier:
            raise Refusal("MSG00008", "ssin %r is not a valid SSIN" % query.ssin[:20]) from None
        day = local_date(exchange.received_at)
        groups = ("Current", "History") if query.history else ("Current",)
        decision = yield self.access.check(exchange.institution, "RetrieveTIGroups", groups,
                                           query.legal_context, ssin, day, day, day)
        if not decision.allowed:
            raise decision.refusal


def named_persons(person):
    """The SSINs a file names beside its owner's: household, spouses, parents, heads of
    the households he left."""
    named = {m["ssin"] for m in person["household"]} | {person.get("partnerSsin")}
    named |= {c.get("partnerSsin") for c in person["civilStates"]}
    named |= {f[k] for f in person["filiations"] for k in ("parent1Ssin", "parent2Ssin")}
    named |= {m["headSsin"] for m in person["pastMemberships"]}
    return named - {None, ""}


def endpoint(service, context):
    app = Application([RetrieveTIGroupsService], tns=retrieve_ti.INTF,
                      name="RetrieveTIGroupsService",
                      in_protocol=ParsedSoap11(), out_protocol=ParsedSoap11())
    app.gateway = TIGateway(persons.NationalRegister(context.sources[service.route]),
                            context.clock, context.access)
    return SpyneEndpoint(service, app, retrieve_ti.FAULT)
