"""GET /metrics and the exchange lines (issue 14, item 4; the E6 alert of issue 13): the
Prometheus exposition of a
hub with two worker processes adds up what both counted, whichever answers the scrape;
state gauges (replay cache, sources, mailboxes, the EESSI backlog) are read when scraped.
The exposition is parsed with prometheus_client's own parser. Each worker also writes one
line per exchange to the configured stream: JSON away from a terminal, without personal
data."""
import datetime
import re

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from kszws import metrics
from tests.netfixture import Hub, make_project, seed_national_register, Source
from tests.soaptools import post, signed
from tests.ssdntools import identify, signed_call, ssdn_request


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("metrics"), settings={
        "exchanges": '"var/exchanges.jsonl"', "format": '"auto"'})
    seed_national_register(settings)
    source = Source(settings).start()
    running = Hub(settings, workers=2).start()
    yield running
    running.stop()
    source.stop()


def scrape(hub):
    reply = requests.get(hub.url + "/metrics", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples, name, **labels):
    return sum(value for (n, lbls), value in samples.items() if n == name
               and all(dict(lbls).get(k) == v for k, v in labels.items()))


def test_the_counters_of_both_workers_add_up_in_every_scrape(hub):
    before = scrape(hub)
    for _ in range(20):  # connections spread over both workers (SO_REUSEPORT)
        assert post(hub.endpoint(), signed(hub.settings, "cpas-eupen")).status_code == 200
    for _ in range(3):  # whichever worker answers the scrape, the same sums
        after = scrape(hub)
        counted = total(after, "kszws_exchanges_total", service="TestConnectionService",
                        outcome="OK", code="MSG00000", sector="17")
        assert counted - total(before, "kszws_exchanges_total",
                               service="TestConnectionService", outcome="OK",
                               code="MSG00000", sector="17") == 20
        assert total(after, "kszws_exchange_seconds_count", service="TestConnectionService") \
            - total(before, "kszws_exchange_seconds_count",
                    service="TestConnectionService") == 20
    assert total(after, "kszws_log_batch_size_sum") - total(before, "kszws_log_batch_size_sum") \
        >= 40  # each signed call: its replay claim and its log row
    assert total(after, "kszws_replay_cache_entries") >= 20
    assert after[("kszws_source_up", (("source", "national-register"),))] in (1.0, -1.0)


def test_a_source_call_and_a_refusal_are_counted_with_their_code(hub):
    before = scrape(hub)
    signed_call(hub, ssdn_request(identify("70100853190"), caller="cpas-eupen"))
    post(hub.endpoint(), b"<not-xml")
    after = scrape(hub)
    assert total(after, "kszws_source_call_seconds_count", source="national-register",
                 operation="consultPerson", outcome="ok") > total(
        before, "kszws_source_call_seconds_count", source="national-register",
        operation="consultPerson", outcome="ok")
    refused = [lbls for (name, lbls), value in after.items() if name ==
               "kszws_exchanges_total" and dict(lbls)["outcome"] == "REFUSED"
               and value > before.get((name, lbls), 0)]
    assert refused and all(re.fullmatch(r"[A-Z]+\d+", dict(lbls)["code"]) for lbls in refused)


def test_no_label_carries_personal_data(hub):
    signed_call(hub, ssdn_request(identify("70100853190"), caller="cpas-eupen"))
    text = requests.get(hub.url + "/metrics", timeout=10).text
    assert "70100853190" not in text and not re.search(r"\b\d{11}\b", text)


def test_the_e6_backlog_and_alert_are_gauges():
    """Decision E6 as metrics: what waits per institution, the oldest's age, the alert."""
    old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=30))
    status = {"alert": True, "channels": [
        {"institution": "BE:RSZ01", "waiting": 3,
         "oldest": old.replace(tzinfo=None).isoformat(timespec="seconds") + "Z",
         "overdue": True}]}
    _, body = metrics.exposition(metrics.State(eessi=lambda now: status, clock=lambda: None,
                                               mailbox=lambda: {"cpas-eupen": 2}))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(body.decode()) for s in f.samples}
    assert samples[("kszws_eessi_inbox_waiting", (("institution", "BE:RSZ01"),))] == 3
    age = samples[("kszws_eessi_inbox_oldest_seconds", (("institution", "BE:RSZ01"),))]
    assert 30 * 3600 - 5 < age < 30 * 3600 + 60
    assert samples[("kszws_eessi_inbox_overdue", ())] == 1
    assert samples[("kszws_mailbox_backlog", (("institution", "cpas-eupen"),))] == 2


def test_each_exchange_is_one_json_line_without_personal_data(hub):
    """[logging] exchanges = a file: not a terminal, so JSON; both workers append."""
    import json
    import time
    path = hub.settings.project_root / "var" / "exchanges.jsonl"
    before = path.read_text().count("\n") if path.exists() else 0
    signed_call(hub, ssdn_request(identify("70100853190"), caller="cpas-eupen"))
    post(hub.endpoint(), b"<not-xml")
    deadline = time.monotonic() + 10
    while path.read_text().count("\n") < before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [json.loads(line) for line in path.read_text().splitlines()[before:]]
    assert [(e["service"], e["outcome"]) for e in lines] == [
        ("KSZBCSSWebServiceConnector", "OK"), ("TestConnectionService", "REFUSED")]
    first = lines[0]
    assert (first["caller"], first["sector"], first["auth"]) == ("cpas-eupen", 17, "signature")
    assert re.fullmatch(r"[A-Z]{3}\d{5}|\d{8}", first["code"]) and first["duration_ms"] > 0
    assert set(first) == {"time", "ticket", "caller", "sector", "auth", "service",
                          "operation", "outcome", "code", "duration_ms", "request_bytes",
                          "reply_bytes"}
    assert "70100853190" not in path.read_text()


def test_the_human_format_is_one_readable_line_and_the_default_on_a_terminal(monkeypatch):
    import io
    import logging
    from kszws.hub import exchange_stream
    from kszws.hub.exchange import Exchange
    now = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)
    exchange = Exchange("T-1", now, "TestConnectionService", 10, caller="cpas-eupen",
                        operation="sendTestMessage",
                        replied_at=now + datetime.timedelta(milliseconds=12.5))
    record = logging.makeLogRecord({"exchange": exchange_stream.fields(exchange)})
    assert exchange_stream.Human().format(record) == (
        "2026-12-01T09:00:00.000+00:00 T-1 cpas-eupen           "
        "TestConnectionService.sendTestMessage OK MSG00000 12.5 ms")
    for terminal, written in ((True, "TestConnectionService.sendTestMessage OK"),
                              (False, '"service":"TestConnectionService"')):
        stream = io.StringIO()
        stream.isatty = lambda: terminal
        monkeypatch.setattr("sys.stderr", stream)
        exchange_stream.configure("stderr", "auto", None)
        try:
            exchange_stream.record(exchange)
        finally:
            exchange_stream.configure("off", "auto", None)
        assert written in stream.getvalue()
