"""What every reference source shares: a Spyne application served by spyne's own Twisted
resource (kszws.compat.spyne makes it work), behind the same strict WS-Security policy as
the hub (security/wsse.py): only the hub, signing with its registered certificate, may
call a source, and every reply and fault of a source is signed with the source's key.

Hooks (DESIGN.md, "known ground truths"): a Soap11 subclass verifies the parsed envelope in
create_in_document; the method_return_document / method_exception_document events sign.
Replies are written by RecordSoap11 (kszws/compat/spyne.py), spyne's XML without its cost.
"""
import datetime

from kszws.compat.spyne import RecordSoap11  # (before spyne.server.twisted)

from spyne import Application
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.server.twisted import TwistedWebResource

from kszws import gctuning
from kszws.clock import utcnow
from kszws.security import wsse
from kszws.wire import soap, xmlparse
from kszws.wire.reasons import Refusal


class ReplayMemory:
    """Signature values seen within their Timestamp window (a source is one process)."""

    def __init__(self, clock=utcnow):
        self.clock = clock
        self._seen = {}

    def claim(self, token, until):
        now = self.clock()
        if len(self._seen) > 100_000:
            self._seen = {t: u for t, u in self._seen.items() if u > now}
        if token in self._seen and self._seen[token] > now:
            return False
        self._seen[token] = until
        return True


class SignedSoap11(Soap11):
    """Soap11 that parses hostile input safely and accepts only a signed request from a
    certificate of its trust store (the hub's)."""

    def __init__(self, trust, policy, replay, clock=utcnow, **kwargs):
        super().__init__(**kwargs)
        self.trust, self.policy, self.replay, self.clock = trust, policy, replay, clock

    def create_in_document(self, ctx, charset=None):
        method = ctx.transport.get_request_method()
        if method != "POST":
            raise Fault("Client.HTTP0001", "the request must be an HTTP POST")
        data = b"".join(bytes(chunk) for chunk in ctx.in_string)
        try:
            root = xmlparse.parse(data)
            header, body = soap.split_envelope(root)
            verified = wsse.verify(root, header, body, self.policy, self.trust, self.clock())
            if not self.replay.claim(verified.replay_token, verified.replay_until):
                raise Refusal("SEC00007")
        except Refusal as refusal:
            raise Fault("Client." + refusal.code, str(refusal)) from None
        ctx.in_document = (root, {})


def application(services, tns, name, identity, trust, policy=None, ttl_seconds=300,
                clock=utcnow):
    """A Spyne application whose requests must be signed by a trusted caller and whose
    replies and faults are signed with `identity`."""
    policy = policy or wsse.Policy()
    in_protocol = SignedSoap11(trust, policy, ReplayMemory(clock), clock)
    app = Application(services, tns=tns, name=name, in_protocol=in_protocol,
                      out_protocol=RecordSoap11())
    ttl = datetime.timedelta(seconds=ttl_seconds)

    def sign(ctx):
        if ctx.out_document is not None:
            wsse.sign(ctx.out_document, identity, clock(), ttl)

    app.event_manager.add_listener("method_return_document", sign)
    app.event_manager.add_listener("method_exception_document", sign)
    return app


def resource(app):
    return TwistedWebResource(app)


def run_worker(build_resource, host, port, ready_fd, on_start=None):
    """One source worker process: its own reactor and store connection. `on_start(reactor)`
    starts what else the worker does (e.g. pushing mutations)."""
    from twisted.internet import reactor
    from twisted.web.server import Site

    from kszws import processes

    # SOAP bodies are never HTML forms: no form parsing (see site.HubSite).
    site = Site(build_resource(), parsePOSTFormSubmission=False)
    site.displayTracebacks = False
    processes.listen(reactor, host, port, site)
    processes.worker_signals(reactor)
    if on_start is not None:
        on_start(reactor)
    gctuning.tune()
    processes.ready(ready_fd)
    reactor.run(installSignalHandlers=False)

