"""TestConnectionService v1: the CBSS liveness probe (CONTRACTS.md §5).

sendTestMessage(echo) -> (informationCBSS, echo, sslCertificate). Real PHP clients call it
before every classic request, with HTTP Basic; kszws answers with the hub's ticket and the
subject of the certificate that authenticated the caller (empty for HTTP Basic).

The spyne models describe the reply; the operation takes the request element (AnyXml)
and reads its echo itself, so that it is called without spyne (services/runtime.py: at
~250 us, spyne's dispatch and deserialisation cost more than this operation's whole work).
The reply is built by kszws.wire.testconnection.
"""
import kszws.compat.spyne  # noqa: F401

from spyne import AnyXml, Application, ComplexModel, DateTime, ServiceBase, Unicode, rpc

from kszws.services.runtime import ParsedSoap11, SpyneEndpoint
from kszws.wire import testconnection
from kszws.wire.ns import TEST_CONNECTION_INTF as INTF
from kszws.wire.ns import TEST_CONNECTION_TYPES as TYPES

# CBSS's new-style schemas have unqualified local elements: sub_ns="" makes spyne write
# them without a namespace.
_local = dict(sub_ns="")


class InformationCBSSType(ComplexModel):
    __namespace__ = TYPES
    _type_info = [
        ("ticketCBSS", Unicode(min_occurs=1, **_local)),
        ("timestampReceive", DateTime(min_occurs=1, **_local)),
        ("timestampReply", DateTime(min_occurs=1, **_local)),
    ]


class SendTestMessageResponseType(ComplexModel):
    __namespace__ = TYPES
    _type_info = [
        ("informationCBSS", InformationCBSSType.customize(**_local)),
        ("echo", Unicode(min_occurs=1, **_local)),
        ("sslCertificate", Unicode(min_occurs=1, **_local)),
    ]


class TestConnectionService(ServiceBase):
    # The request (SendTestMessageRequestType: one echo string) has been validated against
    # the published schema by the hub.
    @rpc(AnyXml, _body_style="bare", _operation_name="sendTestMessage",
         _in_message_name="sendTestMessageRequest", _out_message_name="sendTestMessageResponse",
         _returns=SendTestMessageResponseType)
    def sendTestMessage(ctx, _request):
        exchange = ctx.udc
        exchange.replied_at = ctx.app.clock()
        return testconnection.response(exchange.ticket, exchange.received_at,
                                       exchange.replied_at, ctx.in_body_doc.findtext("echo"),
                                       exchange.certificate_subject)


def endpoint(service, context):
    app = Application([TestConnectionService], tns=INTF, name="TestConnectionServiceService",
                      in_protocol=ParsedSoap11(), out_protocol=ParsedSoap11())
    app.clock = context.clock
    return SpyneEndpoint(service, app, testconnection.FAULT)
