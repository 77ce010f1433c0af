"""Running a Spyne application as a hub endpoint.

The hub has already parsed, verified and validated the envelope; Spyne dispatches it to
the operation and deserialises the payload into its models. The parsed tree is handed
over as is (no second parse), and the operation is called here rather than through
spyne's `process_request`, so an exception it raises (a Refusal with its reason code)
reaches the hub instead of being flattened into a generic spyne Fault.

An operation returns the reply payload as an lxml element built by kszws.wire (or a
Deferred of one): the wire formats have one home, and spyne's serialiser, at ~250 us for a
three-field reply, cost more than signing it. The `_returns` model of each @rpc documents
the reply; tests validate every reply against the published schema.
"""
import kszws.compat.spyne  # noqa: F401  (must precede any spyne.server import)

from spyne import BODY_STYLE_BARE, BODY_STYLE_EMPTY, AnyXml, MethodContext, rpc
from spyne.protocol.soap import Soap11
from spyne.server import ServerBase
from twisted.internet import defer, threads

from kszws.store.db import in_transaction  # noqa: F401  (the services import it from here)
from kszws.wire import newstyle, soap
from kszws.wire.reasons import Refusal


class ParsedSoap11(Soap11):
    """Soap11 that takes the envelope the hub already parsed: `ctx.in_document` is set to
    (envelope, None) by SpyneEndpoint.invoke, the shape Soap11's own parser leaves there
    (None: no multiref ids, the hub refuses href/id graphs of SOAP encoding anyway)."""

    def create_in_document(self, ctx, charset=None):
        if ctx.in_document is None:
            raise Refusal("SOAP0001", "no parsed envelope")

    def decompose_incoming_envelope(self, ctx, message=Soap11.REQUEST):
        # The hub has split and validated the envelope (wire.soap.split_envelope, the
        # published schema): take its parts without spyne's XPath and schema passes.
        envelope, _ = ctx.in_document
        header, body = soap.split_envelope(envelope)
        ctx.in_document = envelope
        ctx.in_header_doc = list(header) if header is not None else None
        ctx.in_body_doc = soap.body_payload(body)
        ctx.method_request_string = ctx.in_body_doc.tag
        if ctx.udc is not None:  # a fault echoes it, as CBSS's do
            ctx.udc.customer = ctx.in_body_doc.find("informationCustomer")


class SpyneEndpoint:
    """A hub endpoint backed by a Spyne application (one per service)."""

    def __init__(self, service, application, fault_element, new_ticket=None):
        self.service = service
        self.application = application
        self.server = ServerBase(application)
        self.fault_element = fault_element  # Clark name of the CBSSFaultType detail element
        if new_ticket is not None:
            self.new_ticket = new_ticket  # else the hub's (a UUID)

    def invoke(self, root, exchange):
        ctx = MethodContext(self.server, MethodContext.SERVER)
        ctx.in_document = (root, None)
        ctx.udc = exchange
        ctx, = self.server.generate_contexts(ctx)[:1]
        if ctx.in_error is not None:
            raise Refusal("SOAP0002", _fault_text(ctx.in_error))
        exchange.operation = ctx.descriptor.operation_name or ctx.descriptor.name
        self.server.get_in_object(ctx)
        if ctx.in_error is not None:
            raise Refusal("MSG00008", _fault_text(ctx.in_error))
        d = defer.maybeDeferred(self._call, ctx)
        return d.addCallback(self._envelope, ctx)

    @staticmethod
    def _call(ctx):
        style = ctx.descriptor.body_style
        if style is BODY_STYLE_BARE:
            ctx.in_object = [ctx.in_object]
        elif style is BODY_STYLE_EMPTY:
            ctx.in_object = []
        return ctx.app.call_wrapper(ctx)

    @staticmethod
    def _envelope(payload, ctx):
        ctx.close()
        return soap.envelope(payload)

    def fault_detail(self, refusal, exchange):
        return newstyle.cbss_fault(self.fault_element, refusal.code, exchange.ticket,
                                   exchange.received_at, exchange.replied_at,
                                   refusal.detail or refusal.reason.diagnostic,
                                   customer=exchange.customer)


def _fault_text(fault):
    return (getattr(fault, "faultstring", None) or str(fault))[:200]



def whole_element_operation(name, request, response):
    """A spyne method of a new-style service that hands the whole request element (the
    parsed tree, ctx.in_body_doc) to the application's gateway: `gateway.answer(name,
    exchange, element)`; wire/ reads and writes the XML, spyne only dispatches."""
    def method(ctx, _request):
        return ctx.app.gateway.answer(name, ctx.udc, ctx.in_body_doc)
    method.__name__ = method.__qualname__ = name  # spyne keys its methods by name
    return rpc(AnyXml, _body_style="bare", _operation_name=name, _in_message_name=request,
               _out_message_name=response, _returns=AnyXml)(method)


def requested_ssin(raw):
    """The SSIN a new-style request names, canonical, or MSG00008 (a validation error)."""
    from kszws import ids

    try:
        return ids.ssin(raw or "")
    except ids.InvalidIdentifier:
        raise Refusal("MSG00008", "ssin %r is not a valid SSIN" % (raw or "")[:20]) from None


def gateway_endpoint(service_class, name, tns, fault, make_gateway):
    """The endpoint factory of a new-style service whose operations hand their request
    element to a gateway (whole_element_operation): `make_gateway(service, context)`."""
    from spyne import Application

    def factory(service, context):
        app = Application([service_class], tns=tns, name=name, in_protocol=ParsedSoap11(),
                          out_protocol=ParsedSoap11())
        app.gateway = make_gateway(service, context)
        return SpyneEndpoint(service, app, fault)
    return factory
