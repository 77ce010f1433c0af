"""Routing to the authentic sources: the hub reaches a source only over SOAP, with zeep,
signing its request and verifying the source's signed reply (security/zeep_wsse.py).

zeep is synchronous, so calls run in a bounded thread pool per source and come back to the
reactor as Deferreds. Each pool thread has its own zeep client, whose transport keeps one
HTTP connection to the source open (KeepAliveTransport: http.client instead of requests,
which cost ~1.1 ms more CPU per call). The alternative, zeep for
(de)serialisation only with Twisted's HTTP client, would save a thread hand-off per call
but re-implement zeep's transport, WS-Security hooks and fault handling; the benchmark
(benchmarks/bench_identify_person.py) measures what the hub adds to a direct call.
Every call has a deadline: the connection's socket timeout (connect, each read), and a
Deferred timeout a little above it in case a source trickles its answer. Failures become Refusals (SRC000xx) that
each service turns into its own legacy error shape.
"""
import http.client
import select
import ssl
import threading
from urllib.parse import urlsplit

import certifi
import requests
import zeep
from lxml import etree
from twisted.internet import threads
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.python.threadpool import ThreadPool
from zeep.exceptions import Fault, SignatureVerificationFailed, TransportError
from zeep.loader import parse_xml

from kszws import metrics
from kszws.hub.records import reply_reader
from kszws.security.keystore import load_certificate
from kszws.security.zeep_wsse import SignedExchange
from kszws.wire import xmlparse
from kszws.wire.reasons import Refusal


class KeepAliveTransport(zeep.transports.Transport):
    """zeep's transport, posting over one kept-alive http.client connection (per thread,
    like the zeep client that owns it). A connection the source closed while idle is
    replaced before use, as urllib3 does. TLS is verified against certifi's CA bundle, as
    requests does. Failures are raised as requests' exceptions (SourceClient maps them)."""

    def __init__(self, timeout):
        super().__init__(timeout=timeout, operation_timeout=timeout)
        self._conn = None
        self._peer = None

    def post(self, address, message, headers):
        url = urlsplit(address)
        conn = self._connection(url)
        try:
            conn.request("POST", url.path + ("?" + url.query if url.query else ""),
                         body=message, headers=headers)
            response = conn.getresponse()
            content = response.read()
        except TimeoutError as exc:
            self._close()
            raise requests.Timeout(str(exc)) from None
        except (OSError, http.client.HTTPException) as exc:
            self._close()
            raise requests.ConnectionError("%s: %s" % (type(exc).__name__, exc)) from None
        if response.will_close:
            self._close()
        _refuse_declarations(content)
        return _Response(response.status, content, response.headers)

    def _connection(self, url):
        peer = (url.scheme, url.hostname, url.port)
        if self._conn is not None and (peer != self._peer or _dropped(self._conn.sock)):
            self._close()
        if self._conn is None:
            if url.scheme == "https":
                context = ssl.create_default_context(cafile=certifi.where())
                self._conn = http.client.HTTPSConnection(
                    url.hostname, url.port, timeout=self.operation_timeout, context=context)
            else:
                self._conn = http.client.HTTPConnection(url.hostname, url.port,
                                                        timeout=self.operation_timeout)
            self._peer = peer
        return self._conn

    def _close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _refuse_declarations(content):
    """zeep's own parser would follow a reply's DOCTYPE to a local file (its resolver
    leaves file paths to libxml2): the reply passes the hub's parser first, which opens
    nothing (and zeep is told to refuse DTDs as well). Other parse errors are left to zeep,
    which reports them as it always has."""
    try:
        xmlparse.parse(content)
    except Refusal as refusal:
        if refusal.code in ("XML00002", "XML00004", "XML00005"):
            raise Refusal("SRC00002", "the reply carries %s" % refusal.detail) from None


def _dropped(sock):
    """True if the idle connection's socket is readable: the peer closed it (or sent what
    no request asked for). A connection not opened yet (no socket) is not dropped."""
    if sock is None:
        return False
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


class _Response:
    """What zeep reads of a response: status, body, headers (case-insensitive)."""

    encoding = None

    def __init__(self, status_code, content, headers):
        self.status_code, self.content, self.headers = status_code, content, headers


# Defence in depth behind _refuse_declarations: zeep's own checks on what it parses.
SOURCE_SETTINGS = zeep.Settings(forbid_dtd=True, forbid_entities=True, forbid_external=True)


class SourceClient:
    def __init__(self, source, identity, source_certificate, reactor, threads_max=4):
        self.source = source
        self.identity = identity
        self.certificate = source_certificate
        self.reactor = reactor
        self.pool = ThreadPool(minthreads=1, maxthreads=threads_max, name="source-" + source.id)
        self._local = threading.local()
        self._readers = {}  # {operation: hub/records.py reader of its reply}

    def start(self):
        self.pool.start()
        self.reactor.addSystemEventTrigger("during", "shutdown", self.pool.stop)

    def _service(self):
        """One zeep client per thread (zeep clients and their connections are not shared)."""
        service = getattr(self._local, "service", None)
        if service is None:
            transport = KeepAliveTransport(self.source.timeout_seconds)
            client = zeep.Client(self.source.wsdl, transport=transport,
                                 wsse=SignedExchange(self.identity, self.certificate),
                                 settings=SOURCE_SETTINGS)
            service = client.create_service(next(iter(client.wsdl.bindings)), self.source.url)
            self._local.service = service
        return service

    def call(self, operation, **kwargs):
        """Deferred with the operation's result, or failing with a Refusal."""
        return self._in_pool(self._call, operation, kwargs)

    def records(self, operation, **kwargs):
        """Deferred with the operation's reply as plain dicts (hub/records.py: what
        zeep.helpers.serialize_object gives of zeep's result, read ten times faster), or
        failing with a Refusal. For large replies: a batch's hundred persons."""
        return self._in_pool(self._records, operation, kwargs)

    def _in_pool(self, function, operation, kwargs):
        done = metrics.source_call(self.source.id, operation)
        d = threads.deferToThreadPool(self.reactor, self.pool, function, operation, kwargs)
        d.addTimeout(self.source.timeout_seconds + 1, self.reactor)
        d.addCallbacks(lambda result: done("ok") or result,
                       lambda failure: done("failed") or failure)
        return d.addErrback(self._refusal)

    def _call(self, operation, kwargs):
        return getattr(self._service(), operation)(**kwargs)

    def _records(self, operation, kwargs):
        """zeep sends the request and hands back the raw reply; the checks zeep's own
        process_reply makes are made here (a status without content, the XML under
        SOURCE_SETTINGS, the signature, a Fault), and the reader reads the response."""
        service = self._service()
        client, binding = service._client, service._binding
        with client.settings(raw_response=True):
            response = getattr(service, operation)(**kwargs)
        if response.status_code != 200 and not response.content:
            raise TransportError("%s answered HTTP %d without content" % (
                self.source.id, response.status_code))
        envelope = parse_xml(response.content, client.transport, settings=client.settings)
        client.wsse.verify(envelope)
        body = envelope.find("{%s}Body" % etree.QName(envelope).namespace)
        if body is None or not len(body):
            raise TransportError("%s answered %s without a response" % (
                self.source.id, operation))
        if response.status_code != 200 or etree.QName(body[0]).localname == "Fault":
            binding.process_error(envelope, binding.get(operation))  # raises zeep's Fault
        return self._reader(service, operation)(body[0])

    def _reader(self, service, operation):
        if operation not in self._readers:  # compiled once, from the WSDL
            self._readers[operation] = reply_reader(service._binding._operations[operation])
        return self._readers[operation]

    def _refusal(self, failure):
        name = self.source.id
        if failure.check(Refusal):
            return failure
        if failure.check(requests.Timeout, DeferredTimeout):
            raise Refusal("SRC00001", "%s did not answer within %gs" % (
                name, self.source.timeout_seconds))
        if failure.check(requests.ConnectionError, TransportError):
            raise Refusal("SRC00001", "%s is unreachable" % name)
        if failure.check(SignatureVerificationFailed):
            raise Refusal("SRC00003", "%s: %s" % (name, failure.getErrorMessage()[:150]))
        if failure.check(Fault):
            raise Refusal("SRC00002", "%s: %s" % (name, failure.value.message[:150]))
        raise Refusal("SRC00002", "%s: %s" % (name, failure.getErrorMessage()[:150]))


def source_clients(registry, identity, reactor):
    """A started SourceClient for every source of the registry."""
    clients = {}
    for source in registry.sources.values():
        cert = load_certificate(registry.institution(source.id).certificates[0])
        clients[source.id] = SourceClient(source, identity, cert, reactor)
        clients[source.id].start()
    return clients
