"""The hub pipeline: every request to every endpoint goes through `Hub.handle`.

    check transport -> parse (hostile-input safe) -> SOAP envelope -> identify the caller
    (WS-Security / Basic / client certificate) -> endpoint and institution policy
    -> replay cache -> validate against the published schema -> the endpoint's operation
    -> reply (signed when the policy says so; every fault signed)
    -> exchange-log row committed -> only then the reply leaves.

Nothing here blocks: the database is reached through the BatchWriter, the endpoint's
operation may return a Deferred. Refusals are `Refusal` exceptions carrying a stable
reason code; anything else is an internal error (MSG00003) whose details go to the server
log, never to the caller.
"""
import datetime
import logging
from dataclasses import dataclass

from twisted.internet import defer
from twisted.python.failure import Failure

from kszws.hub.exchange import Exchange, new_ticket
from kszws.security import wsse
from kszws.security.authn import Authenticator
from kszws.wire import soap, xmlparse
from kszws.wire.reasons import REASONS, Refusal

log = logging.getLogger(__name__)

SOAP11_CONTENT_TYPES = (b"text/xml",)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    ticket: str


class Hub:
    """`endpoint` objects (services/) provide: `.service` (registry.Service),
    `.invoke(root, exchange) -> Deferred[envelope element]` and
    `.fault_detail(refusal, exchange) -> element or None`."""

    def __init__(self, authenticator, replay, exchange_log, catalogue, signer, clock,
                 reply_ttl_seconds=300):
        self.authenticator = authenticator
        self.replay = replay
        self.exchange_log = exchange_log
        self.catalogue = catalogue
        self.signer = signer
        self.clock = clock
        self.reply_ttl = datetime.timedelta(seconds=reply_ttl_seconds)
        self.in_flight = 0

    def handle(self, endpoint, transport, body, content_type):
        """Deferred[Reply] for one HTTP POST; it never errbacks."""
        exchange = self._exchange(endpoint, transport, len(body))
        try:
            root, payload, caller = self._admit(endpoint, transport, body, content_type,
                                                exchange)
        except Exception:
            d = defer.fail(Failure())
        else:
            d = self._claim(caller)
            d.addCallback(lambda _: self._validate(payload))
            d.addCallback(lambda _: endpoint.invoke(root, exchange))
            d.addCallback(self._reply, endpoint, exchange, caller)
        d.addErrback(self._failed, endpoint, exchange)
        return d.addCallback(self._log_then_release, exchange)

    def refuse(self, endpoint, transport, code, detail=None, request_size=0):
        """Refuse a request before its body is read (wrong method, body too large)."""
        exchange = self._exchange(endpoint, transport, request_size)
        reply = self._fault(endpoint, exchange, Refusal(code, detail))
        return self._log_then_release(reply, exchange)

    def _exchange(self, endpoint, transport, request_size):
        self.in_flight += 1
        # Each endpoint may have its own kind of ticket (classic CBSS: 15 characters).
        ticket = getattr(endpoint, "new_ticket", new_ticket)()
        return Exchange(ticket=ticket, received_at=self.clock(),
                        service=endpoint.service.name, request_size=request_size,
                        peer=transport.peer)

    def _admit(self, endpoint, transport, body, content_type, exchange):
        """The synchronous checks, cheapest first: (envelope, payload, caller) or Refusal."""
        if content_type.split(b";")[0].strip().lower() not in SOAP11_CONTENT_TYPES:
            raise Refusal("HTTP0002", "Content-Type %r" % content_type[:64].decode("latin-1"))
        root = xmlparse.parse(body)
        header, soap_body = soap.split_envelope(root)
        exchange.signed_request = bool(wsse.security_headers(root))
        _check_must_understand(header)
        caller = self.authenticator.identify(root, header, soap_body, transport)
        _note_caller(exchange, caller)
        Authenticator.admit(caller, endpoint.service)
        return root, soap.body_payload(soap_body), caller

    def _claim(self, caller):
        if not caller.replay_token:
            return defer.succeed(None)
        d = self.replay.claim(caller.replay_token, caller.replay_until)

        def claimed(is_new):
            if not is_new:
                raise Refusal("SEC00007")

        return d.addCallback(claimed)

    def _validate(self, payload):
        if not self.catalogue.knows(payload.tag):
            raise Refusal("SOAP0002", "no operation takes %s" % payload.tag)
        problems = self.catalogue.validate(payload)
        if problems:
            raise Refusal("MSG00008", problems[0])

    def _reply(self, envelope, endpoint, exchange, caller):
        exchange.replied_at = exchange.replied_at or self.clock()
        institution = caller.institution
        if endpoint.service.signed or (institution is not None and institution.sign_replies):
            wsse.sign(envelope, self.signer, exchange.replied_at, self.reply_ttl)
            exchange.signed_reply = True
        data = soap.serialize(envelope)
        exchange.reply_size = len(data)
        return Reply(200, data, exchange.ticket)

    def _failed(self, failure, endpoint, exchange):
        """The fault for a refusal or an error; even a fault that cannot be built (an
        endpoint's detail gone wrong) becomes the plain internal-error fault, so that no
        request goes unanswered or unlogged."""
        if failure.check(Refusal):
            try:
                return self._fault(endpoint, exchange, failure.value)
            except Exception:
                failure = Failure()
        log.error("ticket %s: internal error in %s", exchange.ticket, exchange.service,
                  exc_info=(failure.type, failure.value, failure.getTracebackObject()))
        return self._fault(endpoint, exchange,
                           Refusal("MSG00003", "internal error (ticket %s)" % exchange.ticket))

    def _fault(self, endpoint, exchange, refusal):
        """A signed SOAP Fault for `refusal`; every fault is signed, whoever the caller."""
        exchange.refuse(refusal)
        exchange.replied_at = self.clock()
        detail = endpoint.fault_detail(refusal, exchange)
        envelope = soap.fault(refusal.reason.fault_code, refusal.reason.diagnostic, detail)
        wsse.sign(envelope, self.signer, exchange.replied_at, self.reply_ttl)
        exchange.signed_reply = True
        data = soap.serialize(envelope)
        exchange.reply_size = len(data)
        return Reply(refusal.reason.http_status, data, exchange.ticket)

    def _log_then_release(self, reply, exchange):
        """The reply leaves only once its exchange-log row is committed."""
        d = self.exchange_log.record(exchange)

        def logged(_seq):
            self.in_flight -= 1
            return reply

        def not_logged(failure):
            self.in_flight -= 1
            log.error("ticket %s: exchange log write failed (%s); the reply is withheld",
                      exchange.ticket, failure.getErrorMessage())
            reason = REASONS["LOG00001"]
            envelope = soap.fault(reason.fault_code, reason.diagnostic)
            return Reply(503, soap.serialize(envelope), exchange.ticket)

        return d.addCallbacks(logged, not_logged)


def _check_must_understand(header):
    """SOAP 1.1 §4.2.3: a header block marked mustUnderstand that the hub does not process
    must fault. The hub understands exactly one: wsse:Security."""
    if header is None:
        return
    for block in header:
        if isinstance(block.tag, str) and soap.must_understand(block) \
                and block.tag != wsse.SECURITY:
            raise Refusal("SOAP0003", "header %s is not understood" % block.tag)


def _note_caller(exchange, caller):
    exchange.auth_method = caller.method
    exchange.certificate_subject = caller.certificate_subject
    if caller.institution is not None:
        exchange.caller = caller.institution.id
        exchange.institution = caller.institution
