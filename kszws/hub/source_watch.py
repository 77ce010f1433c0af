"""Whether each authentic source answers, for /health: checked in the background.

Each hub worker asks every source of conf/sources.toml for its WSDL (`GET URL?wsdl`) every
few seconds with Twisted's non-blocking HTTP client, each check bounded by a short timeout,
and keeps the last answer. /health only reads it: the request path never waits for a
source. A WSDL GET, not a bare TCP connect: a stopped or wedged source process still has
its connections accepted by the kernel, but only a running reactor answers the GET.
A source that is down does not make the hub unusable (its services refuse with SRC00001,
the others work), so it never turns /health to 503: the field is for monitoring.
"""
import logging

from twisted.internet import defer, task
from twisted.web.client import Agent, readBody

log = logging.getLogger("kszws.hub.source_watch")

UP, DOWN, UNKNOWN = "up", "down", "unknown"


class SourceWatch:
    def __init__(self, sources, reactor, clock, interval=5.0, timeout=2.0):
        self.urls = {source.id: source.url + "?wsdl" for source in sources}
        self.state = {source_id: UNKNOWN for source_id in self.urls}
        self.checked_at = None  # when the last round of checks ended
        self.reactor, self.clock = reactor, clock
        self.interval, self.timeout = interval, min(timeout, interval)
        # Agent's default pool is not persistent: every check opens its own connection, so
        # a source that no longer accepts connections is seen as down.
        self.agent = Agent(reactor, connectTimeout=self.timeout)
        self.loop = task.LoopingCall(self.check)
        self.loop.clock = reactor

    def start(self):
        if self.urls:
            self.loop.start(self.interval, now=True).addErrback(
                lambda failure: log.error("source checks stopped: %s", failure.getTraceback()))

    def stop(self):
        if self.loop.running:
            self.loop.stop()

    def status(self):
        """{source id: "up" | "down" | "unknown"} (unknown: not checked yet)."""
        return dict(self.state)

    def check(self):
        """One round: every source at once; the loop waits for the round to end."""
        rounds = [self._check(source_id, url) for source_id, url in self.urls.items()]
        return defer.DeferredList(rounds).addCallback(self._done)

    def _done(self, _):
        self.checked_at = self.clock()

    def _check(self, source_id, url):
        d = self.agent.request(b"GET", url.encode("ascii"))
        d.addCallback(_answered)
        d.addTimeout(self.timeout, self.reactor)
        d.addCallbacks(lambda ok: UP if ok else DOWN, lambda _: DOWN)
        return d.addCallback(self._record, source_id)

    def _record(self, state, source_id):
        if state != self.state[source_id] and self.state[source_id] != UNKNOWN:
            level = logging.INFO if state == UP else logging.WARNING
            log.log(level, "source %s is %s", source_id, state)
        self.state[source_id] = state


def _answered(response):
    """True once the whole WSDL came back with a 200 (a source half-way up answers
    with an error, or not at all)."""
    ok = response.code == 200
    return readBody(response).addCallback(lambda _: ok)
