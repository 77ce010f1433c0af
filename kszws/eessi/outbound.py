"""Pushing abroad: the messages a Belgian institution sent through the Outbox (and the
receipts Belgian institutions give for what they pulled) are pushed to the receiver's
access point, as they came, until it answers with a valid receipt. A failed attempt is
tried again with exponential backoff; after the last one the message is failed and the
sender told through its own pull channel with EBMS:0202 DeliveryFailure. A receipt whose
non-repudiation digests do not match what was sent is EBMS:0302 and tried again; an
error signal from the receiver is final and reaches the sender as it is.

Every attempt is an exchange (service EESSI, operation forward) with its log row. Rows are
claimed with a lease (next_attempt_at moved ahead in a conditional update), so several
workers may run the loop without pushing a message twice at the same time; the receiver
answers a resend with its first receipt. The HTTP call runs in a thread (requests, TLS with
the hub's client certificate, the receiver's CA), never on the reactor."""
import datetime
import logging
import threading

import requests
from sqlalchemy import select, update
from twisted.internet import defer, threads

from kszws.clock import naive_utc
from kszws.eessi import ebms, mime, signature, store
from kszws.eessi.errors import ERRORS, EbmsError
from kszws.hub.exchange import Exchange, new_ticket
from kszws.store.db import in_transaction
from kszws.store.schema import as4_message as t
from kszws.wire import xmlparse
from kszws.wire.reasons import Refusal

log = logging.getLogger(__name__)


class Outbound:
    def __init__(self, db, repository, trust, signer, tls_identity, exchange_log, clock,
                 first_retry=60.0, max_attempts=8, timeout=30.0, batch=16, endpoints=None):
        self.db = db
        self.repository = repository
        self.trust = trust
        self.signer = signer  # the access point's key: it signs the EBMS:0202 it sends
        self.tls_identity = tls_identity  # (certificate path, key path) for TLS
        self.exchange_log = exchange_log
        self.clock = clock
        self.first_retry = datetime.timedelta(seconds=first_retry)
        self.max_attempts = max_attempts
        self.timeout = timeout
        # A claimed message is not claimed again for longer than one attempt can take; a
        # worker killed during its attempt leaves it to be pushed again after that.
        self.lease = datetime.timedelta(seconds=timeout + 5)
        self.batch = batch
        # {access point id: (Outbox URL, CA path)} for access points the repository gives no
        # endpoint: the Belgian one, as the demo's foreign access point reaches it.
        self.endpoints = endpoints or {}
        self.running = None
        self.again = False  # more is due than the run under way took: run once more
        self._sessions = threading.local()  # one keep-alive HTTPS session per thread

    def start(self, interval=5.0, reactor=None):
        """Push what is due every `interval` seconds (and what a killed worker left)."""
        from twisted.internet import task
        self.loop = task.LoopingCall(self._tick)
        if reactor is not None:
            self.loop.clock = reactor
        self.loop.start(interval, now=True)

    def stop(self):
        if getattr(self, "loop", None) is not None and self.loop.running:
            self.loop.stop()
        return self.running or defer.succeed(None)

    def _tick(self):
        self.run_once().addErrback(lambda f: log.error("EESSI push loop: %s",
                                                       f.getTraceback()))

    def kick(self):
        """A message was accepted for abroad: push it now rather than at the next tick."""
        self._tick()

    def run_once(self):
        """Deferred[number of messages attempted]: push what is due; one run at a time. A
        kick during a run, or a full batch, runs it once more when it ends."""
        if self.running is not None:
            self.again = True
            return defer.succeed(0)
        self.again = False
        self.running = in_transaction(self.db, self._claim)
        self.running.addCallback(self._push_all)

        def done(result):
            self.running = None
            if self.again or result == self.batch:
                self._tick()
            return result
        return self.running.addBoth(done)

    def _claim(self, conn):
        now = naive_utc(self.clock())
        due = conn.execute(select(t.c.id, t.c.next_attempt_at).where(
            t.c.direction == store.OUT, t.c.state == store.PENDING, t.c.next_attempt_at <= now)
            .order_by(t.c.next_attempt_at, t.c.id).limit(self.batch)).all()
        claimed = []
        for row in due:
            moved = conn.execute(update(t).where(t.c.id == row.id,
                                                 t.c.next_attempt_at == row.next_attempt_at)
                                 .values(next_attempt_at=now + self.lease))
            if moved.rowcount == 1:
                claimed.append(row.id)
        return [store.by_id(conn, i) for i in claimed]

    def _push_all(self, messages):
        return defer.gatherResults([self._push(m) for m in messages],
                                   consumeErrors=True).addCallback(len)

    @defer.inlineCallbacks
    def _push(self, message):
        exchange = Exchange(ticket=new_ticket(), received_at=self.clock(), service="EESSI",
                            request_size=len(message.package), operation="forward",
                            caller=message.sender)
        point = self._access_point_of(message.receiver)
        exchange.peer = point.id if point else ""
        try:
            if point is None:
                raise EbmsError("EBMS:0003", "no access point for %s" % message.receiver)
            status, content_type, body = yield threads.deferToThread(
                self._post, point, message)
            self._check_answer(point, message, status, content_type, body)
        except _Retry as retry:
            yield self._attempt_failed(message, exchange, retry.error, final=False)
        except EbmsError as error:
            yield self._attempt_failed(message, exchange, error, final=True)
        except Exception:
            log.exception("pushing %s", message.message_id)
            yield self._attempt_failed(message, exchange,
                                       EbmsError("EBMS:0004", "internal error (ticket %s)"
                                                 % exchange.ticket), final=False)
        else:
            yield in_transaction(self.db, lambda conn: store.mark_delivered(
                conn, message.message_id, self.clock()))
            exchange.detail = "%s %s delivered to %s" % (message.kind, message.message_id,
                                                         point.id)
            yield self._logged(exchange)

    def _access_point_of(self, receiver):
        inst = self.repository.institutions.get(receiver)
        return self.repository.access_points.get(inst.access_point) if inst else None

    def _post(self, point, message):
        endpoint, verify = self.endpoints.get(point.id) or (
            point.endpoint, point.tls_authorities[0] if point.tls_authorities else True)
        session = getattr(self._sessions, "session", None)
        if session is None:  # a TLS handshake per push would cost more than the push
            session = self._sessions.session = requests.Session()
        try:
            reply = session.post(endpoint, data=message.package,
                                 headers={"Content-Type": message.content_type},
                                 cert=self.tls_identity, verify=verify, timeout=self.timeout)
        except requests.RequestException as exc:
            raise _Retry(EbmsError("EBMS:0005", "%s: %s" % (endpoint,
                                                            type(exc).__name__))) from None
        return reply.status_code, reply.headers.get("Content-Type", ""), reply.content

    def _check_answer(self, point, message, status, content_type, body):
        if status >= 500 and not body:
            raise _Retry(EbmsError("EBMS:0005", "HTTP %d from %s" % (status, point.id)))
        if message.kind != "user":  # a forwarded receipt: any 2xx is taken
            if 200 <= status < 300:
                return
            raise _Retry(EbmsError("EBMS:0005", "HTTP %d from %s" % (status, point.id)))
        try:
            package = mime.read(content_type, body)
            root = xmlparse.parse(package.envelope)
            answer = ebms.read(root)
            verified = signature.verify(root, package.attachments, self.trust, self.clock())
        except (EbmsError, Refusal) as exc:
            raise _Retry(EbmsError("EBMS:0302", "the answer of %s is no valid receipt (%s)"
                                   % (point.id, getattr(exc, "detail", exc)))) from None
        if verified.principal != point.id:
            raise _Retry(EbmsError("EBMS:0302", "the receipt is signed by %s, not %s"
                                   % (verified.principal, point.id)))
        if isinstance(answer, ebms.Signal) and answer.kind == "error":
            code, _, detail = answer.errors[0]
            if status >= 500 or code == "EBMS:0201":  # the receiver asks for a resend
                raise _Retry(EbmsError("EBMS:0005", "%s answered %s" % (point.id, code)))
            raise EbmsError(code if code in ERRORS else "EBMS:0004",
                            "%s refused it: %s" % (point.id, detail))
        if not isinstance(answer, ebms.Signal) or answer.kind != "receipt" \
                or answer.ref_to_message_id != message.message_id:
            raise _Retry(EbmsError("EBMS:0302", "the answer of %s is not a receipt for %s"
                                   % (point.id, message.message_id)))
        if answer.digests != message.digests:
            raise _Retry(EbmsError("EBMS:0302", "the receipt's digests do not match what "
                                   "was sent"))

    @defer.inlineCallbacks
    def _attempt_failed(self, message, exchange, error, final):
        attempts = message.attempts + 1
        final = final or attempts >= self.max_attempts
        now = self.clock()
        exchange.outcome, exchange.reason_code = "ERROR", error.code
        exchange.detail = "%s %s, attempt %d: %s" % (message.kind, message.message_id,
                                                     attempts, error.detail)
        if not final:
            wait = self.first_retry * (2 ** (attempts - 1))
            yield in_transaction(self.db, lambda conn: store.retry_later(
                conn, message.id, attempts, now + wait, error.detail))
        else:
            told = error if error.code != "EBMS:0005" and error.code != "EBMS:0302" else \
                EbmsError("EBMS:0202", "not delivered to %s after %d attempts (last: %s)"
                          % (message.receiver, attempts, error.detail))
            told.ref_to_message_id = message.message_id
            yield in_transaction(self.db, lambda conn: self._fail(conn, message, attempts,
                                                                  told, now))
            exchange.reason_code = told.code
        yield self._logged(exchange)

    def _fail(self, conn, message, attempts, error, now):
        """Mark the message failed and tell its sender, in one transaction."""
        store.retry_later(conn, message.id, attempts, None, error.detail, failed=True)
        if message.kind != "user" or self.repository.institutions.get(
                message.sender) is None:
            return
        body = signature.signed_bytes(ebms.error_envelope(error, now), self.signer)
        store.accept(conn, message_id=ebms.new_message_id(), direction=store.IN, kind="error",
                     sender=message.receiver, receiver=message.sender,
                     mpc=ebms.mpc_of(message.sender), content_type=mime.SOAP12_TYPE,
                     package=body, digests={}, receipt=None, now=now)

    def _logged(self, exchange):
        exchange.replied_at = self.clock()
        return self.exchange_log.record(exchange).addErrback(
            lambda f: log.error("exchange log write failed for %s: %s", exchange.ticket,
                                f.getErrorMessage()))


class _Retry(Exception):
    def __init__(self, error):
        super().__init__(error.detail)
        self.error = error

