"""The access point's message service handler: one AS4 request in, one answer out, and
its exchange-log row committed before the answer leaves.

    MIME -> parse (hostile-input safe) -> eb:Messaging -> signature (Institution
    Repository keys) -> who may send this ->
      UserMessage: duplicate? -> SED inflated under a cap -> SBDH -> BUC rules and the
                   persons it names -> stored (in: a Belgian pull channel; out: pending
                   its push abroad) -> signed receipt
      PullRequest: own channel only, fresh, not replayed -> the oldest waiting message
                   as it arrived, or EBMS:0006
      Receipt:     from the receiver (or its access point) -> digests match what was
                   sent -> delivered
      Error:       recorded; a failed push abroad is marked failed

Every refusal is an ebMS error signal, signed, answered with HTTP 200 (a sender's MSH
must not resend a message that was refused); an internal error is EBMS:0201 with 503, so
that it does resend. Nothing here blocks the reactor: the store is reached in threads.
"""
import datetime
import logging
from dataclasses import dataclass

from twisted.internet import defer
from twisted.python.failure import Failure

from kszws.eessi import bucs, ebms, mime, sbdh, signature, store
from kszws.eessi.errors import EbmsError
from kszws.hub.exchange import Exchange, new_ticket
from kszws.security import wsse
from kszws.security.keystore import TrustStore, load_certificate
from kszws.store.db import in_transaction
from kszws.wire import xmlparse
from kszws.wire.reasons import Refusal

log = logging.getLogger(__name__)

SERVICE = "EESSI"
# Where EESSI's reference implementation serves an access point (../shared/eessi §1.2).
OUTBOX_PATH = "/EESSI/BusinessMessaging/v0.0/Outbox/Service.svc"
INBOX_PATH = "/EESSI/BusinessMessaging/v0.0/Inbox/Service.svc"
SED_CAP = 8 * 1024 * 1024  # bytes a SED may inflate to (a 50 KB SED is typical)


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    ticket: str


def build_trust(repository, registry):
    """The keys the access points accept, each for one party: a Belgian institution's
    kszws certificates (principal: its EESSI id), the Belgian access point's (kszws's hub
    certificate) and each foreign access point's ebMS certificates (principal: the access
    point's id)."""
    trust = TrustStore()
    for inst in repository.institutions.values():
        if inst.kszws is not None:
            for path in registry.institutions[inst.kszws].certificates:
                trust.add(load_certificate(path), inst.id)
    for point in repository.access_points.values():
        certificates = point.certificates if point.endpoint else [
            load_certificate(path) for path in registry.hub.certificates]
        for certificate in certificates:
            trust.add(certificate, point.id)
    return trust


class AccessPoint:
    def __init__(self, repository, catalogue, trust, signer, db, exchange_log, replay, clock,
                 persons, sed_cap=SED_CAP, policy=wsse.Policy(), require_tls=True,
                 home="BE", redeliver_after=600.0):
        self.repository = repository
        self.catalogue = catalogue
        self.trust = trust
        self.signer = signer
        self.db = db
        self.exchange_log = exchange_log
        self.replay = replay
        self.clock = clock
        self.persons = persons  # ssins -> Deferred[the SSINs, replaced ones followed]
        self.sed_cap = sed_cap
        self.policy = policy
        # EESSI runs every leg over TLS with a client certificate; tests of the handler
        # alone may pass require_tls=False.
        self.require_tls = require_tls
        self.home = home  # the country whose institutions pull from this access point
        # A pulled message whose receipt has not come is offered again after this: the
        # answer to the pull may have been lost (a connection cut, a worker killed).
        self.redeliver_after = datetime.timedelta(seconds=redeliver_after)
        # Called when a message (or a receipt) was stored for a push abroad: the pusher
        # (eessi/outbound.py) takes it at once instead of at its next tick.
        self.on_outbound = lambda: None

    # -- the request -----------------------------------------------------------------------

    def handle(self, box, transport, body, content_type):
        """Deferred[Answer] for one HTTP POST to the Outbox or the Inbox (`transport`: an
        authn.Transport); never errbacks."""
        exchange = Exchange(ticket=new_ticket(), received_at=self.clock(), service=SERVICE,
                            request_size=len(body), peer=transport.peer, operation=box)
        ref = None  # the message an error is about, once its header is read
        try:
            self._require_tls(transport)  # before any parsing: the cheapest refusal first
            package, message, verified = self._admit(body, content_type, exchange)
            ref = message.message_id
            self._check_tls(transport, verified, message)
            d = self._dispatch((content_type, body), package, message, verified, exchange)
        except Exception:
            d = defer.fail(Failure())
        d.addErrback(lambda failure: self._failed(failure, exchange, ref))
        return d.addCallback(self._log_then_answer, exchange)

    def _admit(self, body, content_type, exchange):
        package = mime.read(content_type, body)
        try:
            root = xmlparse.parse(package.envelope)
        except Refusal as refusal:
            raise EbmsError("EBMS:0009", "the SOAP part is refused: %s"
                            % (refusal.detail or refusal.reason.diagnostic)) from None
        message = ebms.read(root)
        exchange.detail = "message %s" % message.message_id
        try:
            verified = signature.verify(root, package.attachments, self.trust, self.clock(),
                                        self.policy)
        except EbmsError as error:
            error.ref_to_message_id = message.message_id
            raise
        exchange.signed_request = True
        exchange.auth_method = "signature"
        exchange.caller = verified.principal
        exchange.certificate_subject = verified.certificate.subject
        return package, message, verified

    def _require_tls(self, transport):
        if self.require_tls and not (transport.secure and transport.client_certificate):
            raise EbmsError("EBMS:0103", "AS4 is served over TLS with a client certificate")

    def _check_tls(self, transport, verified, message):
        """The TLS client is the signer, or the access point forwarding for it."""
        if not self.require_tls:
            return
        entry = self.trust.by_der(transport.client_certificate)
        signer = self.repository.institutions.get(verified.principal)
        allowed = {verified.principal, signer.access_point if signer else None}
        if entry is None or entry[0] not in allowed:
            raise EbmsError("EBMS:0103", "the TLS client certificate is neither %s's nor its "
                            "access point's" % verified.principal, message.message_id)

    def refuse(self, box, transport, detail):
        """Answer a request refused before its body was read (too large)."""
        exchange = Exchange(ticket=new_ticket(), received_at=self.clock(), service=SERVICE,
                            request_size=0, peer=transport.peer, operation=box)
        d = defer.fail(EbmsError("EBMS:0004", detail))
        d.addErrback(lambda failure: self._failed(failure, exchange, None))
        return d.addCallback(self._log_then_answer, exchange)

    def _dispatch(self, raw, package, message, verified, exchange):
        if isinstance(message, ebms.UserMessage):
            exchange.operation = "push"
            return self._push(raw, package, message, verified, exchange)
        exchange.operation = message.kind
        if message.kind == "pull":
            return self._pull(message, verified, exchange)
        if message.kind == "receipt":
            return self._receipt(raw, message, verified, exchange)
        return self._error_signal(message, verified, exchange)

    # -- push: a user message ----------------------------------------------------------------

    @defer.inlineCallbacks
    def _push(self, raw, package, message, verified, exchange):
        """Store a user message as it arrived (`raw`: its Content-Type and body, delivered
        byte for byte on a pull) and answer with the signed receipt."""
        self._check_signer_sends_for(verified.principal, message.from_party, message)
        document = self._document(package, message)
        receiver = self.repository.institutions.get(document.receiver)
        inbound = receiver is not None and receiver.country == self.home
        # Worded for the person's access log ("who consulted my data"), which shows it.
        story = ("received from abroad: %s for %s" % (document.sender, document.receiver)
                 if inbound else
                 "sent abroad to %s by %s" % (document.receiver, document.sender))
        exchange.detail = "%s in case %s (%s %s), message %s" % (
            story, document.case_id, document.buc, document.sed_type, message.message_id)
        exchange.legal_context = document.buc
        ssins = yield self.persons(document.ssins)
        exchange.ssins.update(ssins)
        receipt = self._signed(ebms.receipt_envelope(message, verified.references, self.clock()))
        digests = verified.digests
        today = self.clock().date()

        def work(conn):
            first = store.find(conn, message.message_id)
            if first is not None:
                return first
            bucs.check(document, self.repository, self.catalogue, today,
                       lambda case: store.case_exists(conn, case))
            store.accept(conn, message_id=message.message_id,
                         direction=store.IN if inbound else store.OUT, kind="user",
                         sender=document.sender, receiver=document.receiver,
                         mpc=ebms.mpc_of(document.receiver) if inbound else None,
                         buc=document.buc, sed_type=document.sed_type,
                         case_id=document.case_id, content_type=raw[0], package=raw[1],
                         digests=digests, receipt=receipt, now=self.clock())
            return None

        first = yield in_transaction(self.db, work)
        if first is not None:  # a resent message: the first receipt again, never twice
            if first.sender != message.from_party:
                raise EbmsError("EBMS:0003", "MessageId already used by another sender",
                                message.message_id)
            exchange.detail = "duplicate: " + exchange.detail
            receipt = first.receipt
        elif not inbound:
            self.on_outbound()
        exchange.signed_reply = True
        return Answer(200, mime.SOAP12_TYPE + "; charset=utf-8", receipt, exchange.ticket)

    def _check_signer_sends_for(self, principal, party, message):
        """A message is signed by the institution it is from or by that institution's
        access point (EESSI's multi-hop: the access point forwards it as it came)."""
        inst = self.repository.institutions.get(party)
        if inst is None:
            raise EbmsError("EBMS:0004", "rule: the sender %s is not in the Institution "
                            "Repository" % party, message.message_id)
        if principal not in (inst.id, inst.access_point):
            raise EbmsError("EBMS:0101", "the signer %s may not send for %s (the Repository "
                            "lists it and %s)" % (principal, party, inst.access_point),
                            message.message_id)

    def _document(self, package, message):
        """The SBDH Document of a user message's one SED part."""
        seds = [p for p in message.parts if p.properties.get("PartType") == "SED"]
        if len(message.parts) != 1 or len(seds) != 1:
            raise EbmsError("EBMS:0004", "rule: an EESSI message carries exactly one SED part "
                            "(PartType SED), found %d part(s)" % len(message.parts),
                            message.message_id)
        part = seds[0]
        if part.content_id not in package.attachments:
            raise EbmsError("EBMS:0011", "PartInfo %s names no MIME part" % part.href,
                            message.message_id)
        if part.properties.get("CompressionType") != "application/gzip":
            raise EbmsError("EBMS:0303", "the SED part must be gzip-compressed "
                            "(CompressionType application/gzip)", message.message_id)
        try:
            document = sbdh.read(sbdh.inflate(package.attachments[part.content_id],
                                              self.sed_cap))
        except EbmsError as error:
            error.ref_to_message_id = message.message_id
            raise
        if (document.sender, document.receiver) != (message.from_party, message.to_party):
            raise EbmsError("EBMS:0003", "the SBDH names %s -> %s, the ebMS header %s -> %s"
                            % (document.sender, document.receiver, message.from_party,
                               message.to_party), message.message_id)
        return document

    # -- pull ------------------------------------------------------------------------------

    @defer.inlineCallbacks
    def _pull(self, signal, verified, exchange):
        own = self._channel_for(signal.mpc, verified.principal)
        if own is None:
            raise EbmsError("EBMS:0010", "%s may pull only its own channel %s"
                            % (verified.principal, ebms.mpc_of(verified.principal)),
                            signal.message_id)
        now = self.clock()
        if abs(now - signal.timestamp) > self.policy.skew:
            raise EbmsError("EBMS:0103", "the PullRequest's Timestamp %s is not within %ds of "
                            "now" % (signal.timestamp.isoformat(),
                                     self.policy.skew.total_seconds()), signal.message_id)
        fresh = yield self.replay.claim(verified.token, signal.timestamp + 2 * self.policy.skew)
        if not fresh:
            raise EbmsError("EBMS:0103", "this PullRequest was already received (replay)",
                            signal.message_id)
        found = yield in_transaction(self.db, lambda conn: store.take_next(
            conn, own, now, now - self.redeliver_after))
        if found is None:
            raise EbmsError("EBMS:0006", "channel %s is empty" % own, signal.message_id)
        exchange.detail = "delivered message %s from %s" % (found.message_id, found.sender)
        return Answer(200, found.content_type, found.package, exchange.ticket)

    def _channel_for(self, mpc, principal):
        """The pull channel `mpc` if `principal` may pull it: an institution its own, an
        access point those of the home institutions it serves (the demo's foreign one)."""
        if mpc == ebms.mpc_of(principal):
            return mpc
        owner = self.repository.institutions.get(mpc.rpartition("/")[2])
        if owner is not None and owner.country == self.home and mpc == ebms.mpc_of(owner.id) \
                and owner.access_point == principal:
            return mpc
        return None

    # -- signals about a message -------------------------------------------------------------

    @defer.inlineCallbacks
    def _receipt(self, raw, signal, verified, exchange):
        """The receiver's receipt: the message is delivered (E6). A receipt for a message
        that came from abroad travels on to the sender's access point, as it came."""
        found = yield self._referred(signal, verified)
        if signal.digests != found.digests:
            raise EbmsError("EBMS:0302", "the receipt's digests do not match message %s as "
                            "it was sent" % found.message_id, signal.message_id)

        def work(conn):
            changed = store.mark_delivered(conn, found.message_id, self.clock())
            if changed and found.direction == store.IN:
                store.accept(conn, message_id=signal.message_id, direction=store.OUT,
                             kind="receipt", sender=found.receiver, receiver=found.sender,
                             content_type=raw[0], package=raw[1], digests={}, receipt=None,
                             now=self.clock())
            return changed

        changed = yield in_transaction(self.db, work)
        if changed and found.direction == store.IN:
            self.on_outbound()
        exchange.detail = "receipt for %s%s" % (found.message_id,
                                                "" if changed else " (again)")
        return Answer(200, mime.SOAP12_TYPE, b"", exchange.ticket)

    @defer.inlineCallbacks
    def _error_signal(self, signal, verified, exchange):
        found = yield self._referred(signal, verified)
        exchange.detail = "error %s for %s" % (
            " ".join(code for code, _, _ in signal.errors), found.message_id)
        return Answer(200, mime.SOAP12_TYPE, b"", exchange.ticket)

    @defer.inlineCallbacks
    def _referred(self, signal, verified):
        """The stored message a receipt or an error is about, if the signer is its
        receiver (a Belgian institution) or the receiver's access point."""
        found = yield in_transaction(self.db, lambda conn: store.find(
            conn, signal.ref_to_message_id))
        if found is None:
            raise EbmsError("EBMS:0003", "RefToMessageId %s names no message of this access "
                            "point" % signal.ref_to_message_id, signal.message_id)
        receiver = self.repository.institutions.get(found.receiver)
        if receiver is None or verified.principal not in (receiver.id, receiver.access_point):
            raise EbmsError("EBMS:0101", "%s is not the receiver of message %s"
                            % (verified.principal, found.message_id), signal.message_id)
        return found

    # -- answers -----------------------------------------------------------------------------

    def _signed(self, envelope):
        return signature.signed_bytes(envelope, self.signer)

    def _failed(self, failure, exchange, ref):
        if failure.check(EbmsError):
            error = failure.value
            status = 200
        else:
            log.error("ticket %s: internal error in the EESSI access point", exchange.ticket,
                      exc_info=(failure.type, failure.value, failure.getTracebackObject()))
            error = EbmsError("EBMS:0201", "internal error (ticket %s): resend later"
                              % exchange.ticket)
            status = 503
        error.ref_to_message_id = error.ref_to_message_id or ref
        exchange.outcome = "REFUSED" if status == 200 else "ERROR"
        if error.code == "EBMS:0006":
            exchange.outcome = "OK"  # an empty channel is the normal answer to a pull
        exchange.reason_code = error.code
        exchange.detail = ("%s %s" % (error.detail, exchange.detail or ""))[:256]
        body = self._signed(ebms.error_envelope(error, self.clock()))
        exchange.signed_reply = True
        return Answer(status, mime.SOAP12_TYPE + "; charset=utf-8", body, exchange.ticket)

    def _log_then_answer(self, answer, exchange):
        exchange.replied_at = self.clock()
        exchange.reply_size = len(answer.body)
        d = self.exchange_log.record(exchange)

        def not_logged(failure):
            log.error("ticket %s: exchange log write failed (%s); the answer is withheld",
                      exchange.ticket, failure.getErrorMessage())
            return Answer(503, "text/plain", b"", exchange.ticket)

        return d.addCallbacks(lambda _seq: answer, not_logged)
