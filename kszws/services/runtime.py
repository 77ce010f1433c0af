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

Most operations take the whole request element (AnyXml) or one string (Unicode): for them
spyne would only dispatch, yet its MethodContext, events and deserialisation cost ~250 us
a call, as much as verifying the request's signature. Those operations are called
directly (`direct_operations`): the payload's tag picks the method spyne would pick, which
gets the same arguments (tests/test_services_runtime.py compares both ways). Any other
operation still goes through spyne.
"""
import kszws.compat.spyne  # noqa: F401  (must precede any spyne.server import)

from spyne import BODY_STYLE_BARE, BODY_STYLE_EMPTY, AnyXml, MethodContext, Unicode, rpc
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
        self.direct = direct_operations(application)
        if new_ticket is not None:
            self.new_ticket = new_ticket  # else the hub's (a UUID)

    def invoke(self, root, exchange):
        payload = soap.body_payload(soap.split_envelope(root)[1])
        operation = self.direct.get(payload.tag)
        if operation is not None:
            return operation.call(self.application, exchange, payload)
        return self.invoke_with_spyne(root, exchange)

    def invoke_with_spyne(self, root, exchange):
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


class DirectCall:
    """What an operation reads of its context when it is called without spyne: the
    application (its gateway, its clock), the exchange (spyne's user data) and the request
    element, under the names spyne's MethodContext gives them."""

    __slots__ = ("app", "udc", "in_body_doc")

    def __init__(self, app, udc, in_body_doc):
        self.app, self.udc, self.in_body_doc = app, udc, in_body_doc


class DirectOperation:
    """One operation called without spyne: `read` turns the request element into the one
    argument spyne would pass (_READERS)."""

    def __init__(self, name, function, read):
        self.name, self.function, self.read = name, function, read

    def call(self, app, exchange, payload):
        exchange.operation = self.name
        exchange.customer = payload.find("informationCustomer")  # as decompose_... does
        d = defer.maybeDeferred(self.function, DirectCall(app, exchange, payload),
                                self.read(payload))
        return d.addCallback(soap.envelope)


# What spyne passes for an argument of each model: for AnyXml, the request element's first
# child (the operations read the whole element, ctx.in_body_doc, instead); for Unicode,
# the element's text (None when it is empty or nil).
_READERS = {AnyXml: lambda element: element[0] if len(element) else None,
            Unicode: lambda element: element.text}


def _model(cls):
    """The spyne model a message class was customised from (the class itself if none)."""
    return getattr(cls, "__orig__", None) or cls


def direct_operations(application):
    """{request element tag: DirectOperation} for the operations of `application` whose
    one argument is the whole request element (AnyXml) or a plain string (Unicode), in
    the bare style: there spyne only dispatches. An element that two methods take, or a
    method with SOAP headers, stays with spyne."""
    found = {}
    for tag, descriptors in application.interface.service_method_map.items():
        if len(descriptors) != 1:
            continue
        descriptor = descriptors[0]
        read = _READERS.get(_model(descriptor.in_message))
        if read is None or descriptor.body_style is not BODY_STYLE_BARE \
                or descriptor.in_header or descriptor.no_ctx or not descriptor.no_self:
            continue
        found[tag] = DirectOperation(descriptor.operation_name or descriptor.name,
                                     descriptor.function, read)
    return found



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
