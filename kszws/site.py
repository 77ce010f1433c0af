"""The hub's Twisted web resources: one per endpoint path, /health, and the request class
that refuses oversized bodies without buffering them.

HTTP only: everything SOAP happens in the hub pipeline (hub/pipeline.py).
"""
import json
import logging
import re
from urllib.parse import unquote

from twisted.internet import threads
from twisted.web import http, resource, server

from kszws.httputil import public_url
from kszws.registry import Service
from kszws.security.authn import Transport
from kszws.wire import newstyle
from kszws.wire.ns import KSZWS_HUB, q

XML = b"text/xml; charset=utf-8"
log = logging.getLogger(__name__)


class LimitedRequest(server.Request):
    """A request whose body is dropped, not stored, once it exceeds the site's limit
    (the resource then answers HTTP0003)."""

    too_large = False
    _received = 0

    def gotLength(self, length):
        super().gotLength(length)
        if length is not None and length > self.channel.site.max_body_bytes:
            self.too_large = True

    def handleContentChunk(self, data):
        if self.too_large:
            return
        self._received += len(data)
        if self._received > self.channel.site.max_body_bytes:
            self.too_large = True
            self.content.seek(0)
            self.content.truncate()
            return
        super().handleContentChunk(data)


class DeadlineChannel(http.HTTPChannel):
    """HTTP/1.1 with a deadline per request: a request has `site.read_timeout` seconds from
    its first byte to its last (the first request of a connection from the connection
    itself). Twisted's own timeout is an idle timeout that every byte resets, so a client
    sending a byte a second (slowloris) would hold a connection for hours. A request too
    slow, or one Twisted finds malformed (request line, more than 500 headers, a line over
    16 KB, a bad chunk), gets a signed fault and its log row, then the connection closes
    (HubSite.refuse_unfinished). A connection that never sent a byte is simply closed: no
    request, no exchange. Beyond `site.max_connections` open connections, a new one is
    closed at once, so that idle sockets cannot use up the worker's file descriptors."""

    _deadline = None
    _given_up = False
    _counted = False
    _received = False  # a byte of the current request has arrived

    def connectionMade(self):
        super().connectionMade()
        if not self.site.admit_connection():
            self._given_up = True
            self.transport.abortConnection()
            return
        self._counted = True
        self._start_deadline()

    def dataReceived(self, data):
        if self._given_up:
            return
        if not self._received and data[:2] == b"\x16\x03":
            # A TLS handshake on the plain-HTTP port (behind TLS the channel sees plain
            # text): answer now, do not wait for a line that never comes.
            self._received = True
            self._give_up("HTTP0005", "a TLS handshake on the plain-HTTP port: use https "
                                      "on the hub's HTTPS port")
            return
        self._received = True
        if self._deadline is None and not self._handlingRequest:
            self._start_deadline()
        super().dataReceived(data)

    def allContentReceived(self):
        self._cancel_deadline()
        self._received = False
        super().allContentReceived()

    def connectionLost(self, reason):
        self._cancel_deadline()
        if self._counted:
            self._counted = False
            self.site.connection_closed()
        super().connectionLost(reason)

    def _respondToBadRequestAndDisconnect(self):
        # Twisted's own answer is a bare "400 Bad Request" with no log row.
        self._give_up("HTTP0005")

    def lineLengthExceeded(self, line):
        # A request line or header over 16 KB: Twisted would just drop the connection.
        self._give_up("HTTP0005")

    def _give_up(self, code, detail=None):
        self._cancel_deadline()
        if self._given_up:
            return
        self._given_up = True
        self.clearLineBuffer()  # ends LineReceiver's loop over what is already buffered
        if code == "HTTP0004" and not self._received:
            self.transport.loseConnection()
            return
        self.transport.pauseProducing()  # nothing more is read from this client
        self.site.refuse_unfinished(self, code, detail)

    def _start_deadline(self):
        self._deadline = self.callLater(self.site.read_timeout, self._give_up, "HTTP0004")

    def _cancel_deadline(self):
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None


class HubSite(server.Site):
    protocol = DeadlineChannel
    requestFactory = LimitedRequest
    displayTracebacks = False  # never a stack trace to a caller

    def __init__(self, root, max_body_bytes, read_timeout=30.0, idle_timeout=60.0,
                 max_connections=800):
        # SOAP bodies are never HTML forms: skip Twisted's form parsing, whose Content-Type
        # parsing goes through the email package (~150 us of a ~1 ms request).
        super().__init__(root, parsePOSTFormSubmission=False, timeout=idle_timeout)
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.connections = 0
        self.saturated = False
        self.noisy = False

    def admit_connection(self):
        if self.connections >= self.max_connections:
            if not self.saturated:  # once per episode, not once per refused connection
                log.warning("%d connections open (max_connections): new ones are closed",
                            self.connections)
                self.saturated = True
            return False
        self.connections += 1
        return True

    def connection_closed(self):
        self.connections -= 1
        self.saturated = False

    def log(self, request):
        # The exchange log is the access log; Twisted's per-request line is not needed.
        pass

    def refuse_unfinished(self, channel, code, detail=None):
        """Refuse a request that never arrived whole (too slow, or malformed HTTP): the
        fault is logged and sent, then the connection closes."""
        path = getattr(channel, "_path", None)  # set once the request line has arrived
        endpoint = self.resource.endpoint_at(path) if path is not None else NoEndpoint
        peer = getattr(channel.transport.getPeer(), "host", "") or ""
        transport = Transport(peer=peer, authorization=b"", client_certificate=b"",
                              secure=False)
        if code == "HTTP0004":
            detail = "after %gs" % self.read_timeout
        d = self.resource.hub.refuse(endpoint, transport, code, detail)
        d.addCallback(_send_raw, channel)


def _send_raw(reply, channel):
    """A reply written straight to a connection that has no complete request to answer."""
    if channel.transport is None or not channel.transport.connected:
        return
    head = (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % (reply.status, http.RESPONSES.get(
                reply.status, b"Error"), XML, len(reply.body)))
    channel.transport.write(head + reply.body)
    channel.transport.loseConnection()


def _transport(request):
    return Transport.of(request)


def _send(reply, request):
    if request._disconnected or request.finished:
        return
    request.setResponseCode(reply.status)
    if reply.status == 401:
        request.setHeader(b"www-authenticate", b'Basic realm="kszws"')
    request.setHeader(b"content-type", XML)
    request.setHeader(b"content-length", b"%d" % len(reply.body))
    request.write(reply.body)
    request.finish()


class SoapResource(resource.Resource):
    """One endpoint: POST goes to the hub; GET ?wsdl / ?xsd=NAME serve the contract."""

    isLeaf = True

    def __init__(self, hub, endpoint, contract):
        super().__init__()
        self.hub = hub
        self.endpoint = endpoint
        self.contract = contract

    def render(self, request):
        if request.method == b"POST":
            if request.too_large:
                d = self.hub.refuse(self.endpoint, _transport(request), "HTTP0003",
                                    request_size=request.channel.site.max_body_bytes)
            else:
                request.content.seek(0)
                d = self.hub.handle(self.endpoint, _transport(request), request.content.read(),
                                    request.getHeader(b"content-type") or b"")
        elif request.method == b"GET" and _contract_query(request):
            return self._contract(request)
        else:
            d = self.hub.refuse(self.endpoint, _transport(request), "HTTP0001",
                                "method %s" % _masked(request.method.decode("latin-1")[:16]))
        d.addCallback(_send, request)
        return server.NOT_DONE_YET

    def _contract(self, request):
        url = public_url(request)
        kind, name = _contract_query(request)
        if kind == "wsdl":
            body = self.contract.wsdl(url)
        else:
            body = self.contract.xsd(name, url)
            if body is None:
                request.setResponseCode(404)
                return b"no such schema\n"
        request.setHeader(b"content-type", XML)
        return body


def _contract_query(request):
    """("wsdl", None) for ?wsdl (any case, as SoapUI and .NET send it), ("xsd", NAME) for
    ?xsd=NAME, else None."""
    query = request.uri.partition(b"?")[2].decode("utf-8", "replace")
    if query.lower() == "wsdl":
        return "wsdl", None
    if query.startswith("xsd="):
        return "xsd", query[4:]
    return None


class NoEndpoint:
    """Stands in for an endpoint when a request hits a path where there is none, so that it
    still gets a signed SOAP Fault (with a CBSSFaultType detail) and a log row."""

    service = Service(name="-", path="", wsdl="", signed=False, anonymous=False, route="hub")

    @staticmethod
    def fault_detail(refusal, exchange):
        return newstyle.cbss_fault(q(KSZWS_HUB, "hubFault"), refusal.code, exchange.ticket,
                                   exchange.received_at, exchange.replied_at,
                                   refusal.detail or refusal.reason.diagnostic)


class Router(resource.Resource):
    """Exact-path routing (CBSS paths have several segments, e.g. /SOA4520/.../sendTestMessage)."""

    isLeaf = True

    def __init__(self, hub):
        super().__init__()
        self.hub = hub
        self.routes = {}

    def add(self, path, child):
        self.routes[path.encode("ascii")] = child

    def endpoint_at(self, path):
        """The endpoint served at `path` (bytes, query ignored), or NoEndpoint."""
        child = self.routes.get(path.partition(b"?")[0].rstrip(b"/") or b"/")
        return getattr(child, "endpoint", NoEndpoint)

    def render(self, request):
        child = self.routes.get(request.path.rstrip(b"/") or b"/")
        if child is not None:
            return child.render(request)
        d = self.hub.refuse(NoEndpoint, _transport(request), "HTTP0006",
                            "no endpoint at %s" % _loggable_path(request.path))
        d.addCallback(_send, request)
        return server.NOT_DONE_YET


def _loggable_path(path):
    """What the log row says of a path where no service is. Anyone can send any path, and
    the log must not become a place to write personal data into (an SSIN however it is
    written, a name): only its first segment, percent-decoded, every digit masked, at
    most 40 characters, and the length of the rest."""
    text = unquote(path.decode("latin-1"), errors="replace")
    first, _, rest = text.lstrip("/").partition("/")
    shown = _masked(first)[:40]
    return "/%s%s" % (shown, " (+%d characters)" % (len(text) - 1 - len(shown))
                      if rest or len(first) > 40 else "")


def _masked(text):
    return re.sub(r"[0-9]", "#", text)


class Metrics(resource.Resource):
    """GET /metrics: the Prometheus exposition (kszws/metrics.py), the database read in a
    thread. Counters only: no personal data."""

    isLeaf = True

    def __init__(self, state):
        super().__init__()
        self.state = state  # metrics.State

    def render_GET(self, request):
        from kszws import metrics

        d = threads.deferToThread(metrics.exposition, self.state)
        d.addCallbacks(self._answer, self._failed, callbackArgs=(request,),
                       errbackArgs=(request,))
        return server.NOT_DONE_YET

    def _answer(self, exposition, request):
        content_type, body = exposition
        if not request._disconnected:
            request.setHeader(b"content-type", content_type.encode())
            request.write(body)
            request.finish()

    def _failed(self, failure, request):
        log.error("/metrics: %s", failure.getErrorMessage())
        if not request._disconnected:
            request.setResponseCode(503)
            request.setHeader(b"content-type", b"text/plain")
            request.write(b"metrics unavailable\n")
            request.finish()


class Health(resource.Resource):
    """GET /health: 200 only when the database answers, the hub's signing certificate is
    valid and the hub is not in maintenance; else 503. The body says which check failed,
    and whether each authentic source answered its last background check (`sources`,
    from hub/source_watch.py): for monitoring only, a source that is down never makes
    /health 503 (the hub still serves everything else)."""

    isLeaf = True

    def __init__(self, db, certificate, maintenance_flag, clock, timeout=2.0, sources=None,
                 eessi=None):
        super().__init__()
        self.db, self.certificate = db, certificate
        self.maintenance_flag, self.clock, self.timeout = maintenance_flag, clock, timeout
        self.sources = sources
        self.eessi = eessi  # now -> the EESSI inbox status (E6), read in the thread

    def render_GET(self, request):
        from twisted.internet import reactor

        d = threads.deferToThread(self._read)
        d.addTimeout(self.timeout, reactor)
        d.addErrback(lambda _: (False, None))
        d.addCallback(self._answer, request)
        return server.NOT_DONE_YET

    def _read(self):
        self.db.ping()
        return True, self.eessi(self.clock()) if self.eessi is not None else None

    def _answer(self, read, request):
        database_ok, eessi = read
        checks = {
            "database": database_ok,
            "certificate": self.certificate.valid_at(self.clock()),
            "maintenance": self.maintenance_flag.exists(),
        }
        healthy = checks["database"] and checks["certificate"] and not checks["maintenance"]
        body = {"status": "ok" if healthy else "unavailable", **checks}
        if self.sources is not None:
            checked = self.sources.checked_at
            body["sources"] = self.sources.status()
            body["sources_checked_at"] = checked.isoformat() if checked else None
        if eessi is not None:  # for monitoring: an E6 alert does not make /health 503
            body["eessi"] = eessi
        if not request._disconnected:
            request.setResponseCode(200 if healthy else 503)
            request.setHeader(b"content-type", b"application/json")
            request.write(json.dumps(body).encode() + b"\n")
            request.finish()
