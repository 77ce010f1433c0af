"""Routing to the authentic sources: the hub reaches a source only over SOAP, with zeep,
signing its request and verifying the source's signed reply (security/zeep_wsse.py).

zeep is synchronous (requests underneath), so calls run in a bounded thread pool per
source and come back to the reactor as Deferreds. The alternative, zeep for
(de)serialisation only with Twisted's HTTP client, would save a thread hand-off per call
but re-implement zeep's transport, WS-Security hooks and fault handling; the benchmark
(benchmarks/bench_identify_person.py) measures what the hub adds to a direct call.
Every call has a deadline: requests' connect/read timeout, and a Deferred timeout a little
above it in case a source trickles its answer. Failures become Refusals (SRC000xx) that
each service turns into its own legacy error shape.
"""
import threading

import requests
import zeep
from twisted.internet import threads
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.python.threadpool import ThreadPool
from zeep.exceptions import Fault, SignatureVerificationFailed, TransportError

from kszws.security.keystore import load_certificate
from kszws.security.zeep_wsse import SignedExchange
from kszws.wire.reasons import Refusal


class SourceClient:
    def __init__(self, source, identity, source_certificate, reactor, threads_max=4):
        self.source = source
        self.identity = identity
        self.certificate = source_certificate
        self.reactor = reactor
        self.pool = ThreadPool(minthreads=1, maxthreads=threads_max, name="source-" + source.id)
        self._local = threading.local()

    def start(self):
        self.pool.start()
        self.reactor.addSystemEventTrigger("during", "shutdown", self.pool.stop)

    def _service(self):
        """One zeep client per thread (zeep and requests sessions are not shared)."""
        service = getattr(self._local, "service", None)
        if service is None:
            session = requests.Session()
            session.trust_env = False
            transport = zeep.transports.Transport(session=session,
                                                  timeout=self.source.timeout_seconds,
                                                  operation_timeout=self.source.timeout_seconds)
            client = zeep.Client(self.source.wsdl, transport=transport,
                                 wsse=SignedExchange(self.identity, self.certificate))
            service = client.create_service(next(iter(client.wsdl.bindings)), self.source.url)
            self._local.service = service
        return service

    def call(self, operation, **kwargs):
        """Deferred with the operation's result, or failing with a Refusal."""
        d = threads.deferToThreadPool(self.reactor, self.pool, self._call, operation, kwargs)
        d.addTimeout(self.source.timeout_seconds + 1, self.reactor)
        return d.addErrback(self._refusal)

    def _call(self, operation, kwargs):
        return getattr(self._service(), operation)(**kwargs)

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
