"""The hub's Prometheus metrics (GET /metrics), one home for their names.

Counters and histograms are recorded where things happen: every exchange when its log row
is handed to the writer (hub/exchange_log.py), every call to an authentic source
(hub/routing.py), every group commit of the exchange log (store/writer.py). The hub's
workers are separate processes: prometheus_client's multiprocess mode keeps their figures
in files of one folder (processes.shared_metrics_directory, set before the workers fork)
and /metrics adds them up, whichever worker answers the scrape.

Gauges of state (mailbox and EESSI backlogs, the replay cache, sources up or down) are read
when scraped (`State`), not kept: they are what the database and the source watch say now.
No label carries personal data: institutions, services and codes only.

The list, for dashboards, is in the README ("Metrics").
"""
import os
import time

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.core import GaugeMetricFamily

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

EXCHANGES = Counter(
    "kszws_exchanges_total", "Exchanges answered by the hub (each has its log row)",
    ["service", "operation", "sector", "outcome", "code"])
EXCHANGE_SECONDS = Histogram(
    "kszws_exchange_seconds", "Time from a request's arrival to its answer",
    ["service"], buckets=LATENCY_BUCKETS)
SOURCE_CALL_SECONDS = Histogram(
    "kszws_source_call_seconds", "Calls of the hub to an authentic source",
    ["source", "operation", "outcome"], buckets=LATENCY_BUCKETS)
LOG_COMMIT_SECONDS = Histogram(
    "kszws_log_commit_seconds", "One group commit of the writer (exchange log, replay cache)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))
LOG_BATCH_SIZE = Histogram(
    "kszws_log_batch_size", "Writes committed together by one group commit",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))


def exchange_answered(exchange):
    """Count an exchange and its latency (called with its log row)."""
    sector = exchange.sector
    EXCHANGES.labels(exchange.service or "-", exchange.operation or "-",
                     "-" if sector is None else str(sector),
                     exchange.outcome, exchange.reason_code or "-").inc()
    if exchange.seconds is not None:
        EXCHANGE_SECONDS.labels(exchange.service or "-").observe(exchange.seconds)


def source_call(source, operation):
    """Start timing a source call: returns a function to call with the outcome."""
    started = time.monotonic()

    def done(outcome):
        SOURCE_CALL_SECONDS.labels(source, operation, outcome).observe(
            time.monotonic() - started)
    return done


def group_commit(seconds, size):
    LOG_COMMIT_SECONDS.observe(seconds)
    LOG_BATCH_SIZE.observe(size)


class State:
    """The gauges read at scrape time. Each reader returns what it measures now:
    `mailbox()` -> {institution: unacknowledged items}, `replay()` -> cache entries,
    `eessi(now)` -> eessi.store.inbox_status, `sources()` -> {source: up, down or unknown}.
    Runs in a thread (it reads the database)."""

    def __init__(self, mailbox=None, replay=None, eessi=None, sources=None, clock=None):
        self.mailbox, self.replay, self.eessi = mailbox, replay, eessi
        self.sources, self.clock = sources, clock

    def collect(self):
        if self.mailbox is not None:
            family = GaugeMetricFamily("kszws_mailbox_backlog",
                                       "Mailbox items not yet acknowledged",
                                       labels=["institution"])
            for institution, count in sorted(self.mailbox().items()):
                family.add_metric([institution], count)
            yield family
        if self.replay is not None:
            yield GaugeMetricFamily("kszws_replay_cache_entries",
                                    "Signed requests remembered against replay",
                                    value=self.replay())
        if self.sources is not None:
            family = GaugeMetricFamily("kszws_source_up", "1 when the authentic source "
                                       "answered its last check, 0 when not, -1 unknown",
                                       labels=["source"])
            for source, state in sorted(self.sources().items()):
                family.add_metric([source], {"up": 1, "down": 0}.get(state, -1))
            yield family
        if self.eessi is not None:
            yield from _eessi_families(self.eessi(self.clock()))


def _eessi_families(status):
    """Decision E6: what waits in each Belgian pull channel, and the alert."""
    waiting = GaugeMetricFamily("kszws_eessi_inbox_waiting", "EESSI messages waiting for "
                                "an institution's receipt", labels=["institution"])
    oldest = GaugeMetricFamily("kszws_eessi_inbox_oldest_seconds", "Age of the oldest "
                               "message waiting in an institution's pull channel",
                               labels=["institution"])
    now = time.time()
    for channel in status["channels"]:
        waiting.add_metric([channel["institution"]], channel["waiting"])
        since = _epoch(channel["oldest"])
        oldest.add_metric([channel["institution"]], max(0.0, now - since))
    yield waiting
    yield oldest
    yield GaugeMetricFamily("kszws_eessi_inbox_overdue", "1 when a message waits longer "
                            "than the E6 limit (backlog_alert_hours)",
                            value=1 if status["alert"] else 0)


def _epoch(iso_z):
    import datetime
    return datetime.datetime.fromisoformat(iso_z.replace("Z", "+00:00")).timestamp()


def exposition(state=None):
    """(content type, body) of a scrape: the counters of every worker, then `state`."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:  # one process (tests in process, tools)
        registry = CollectorRegistry()
        registry.register(_Default())
    if state is not None:
        registry.register(state)
    # The text format every Prometheus reads (0.0.4), not the newer 1.0.0 older ones refuse.
    return CONTENT_TYPE_PLAIN_0_0_4, generate_latest(registry)


class _Default:
    def collect(self):
        return REGISTRY.collect()
