"""The hostile-input corpus (tests/hostile/corpus.py) against a running hub with its National
Register source, on SQLite and on PostgreSQL: each of the 400-odd inputs gets its stable
answer (a signed SOAP Fault with its reason code, sendXML's legacy refusal, or, for input
that is hostile in shape only, a correct answer), its exchange-log row, and leaves the
worker serving (/health 200 within 1 s). The FIFO cases answer within 1 s. At the end the
exchange log's hash chain still verifies."""
import collections
import os
import time

import pytest
import requests

from kszws.hub import exchange_log
from kszws.store import Database
from kszws.wire import soap, ssdn, xmlparse
from tests.conftest import PG_URL
from tests.hostile import corpus
from tests.netfixture import (drop_postgres_schema, make_project, postgres_schema_url,
                              register_in_directory, run_kszws, start_network, stop_network)
from tests.soaptools import Answer

pytestmark = pytest.mark.slow


@pytest.fixture()
def fifo():
    if os.path.exists(corpus.FIFO):
        os.unlink(corpus.FIFO)
    os.mkfifo(corpus.FIFO)
    yield corpus.FIFO
    os.unlink(corpus.FIFO)


def network(tmp_path, database_url=""):
    settings = make_project(tmp_path, database_url=database_url)
    hub = start_network(settings)
    register_in_directory(settings, ["cpas-eupen", "cpas-liege"], [corpus.SSIN])
    return hub


def replay(hub, tmp_path):
    """Write the corpus for this hub's PKI, post every case, check each answer."""
    cases = corpus.write(tmp_path / "corpus", corpus.Signer(hub.settings.conf_dir.parent))
    basic = ("E0207311071", (hub.settings.certs_dir / "cpas-liege.password").read_text().strip())
    tickets, seen, wrong = [], collections.Counter(), []
    for case in cases:
        data = (tmp_path / "corpus" / case["file"]).read_bytes()
        started = time.monotonic()
        response = requests.post(hub.url + case["path"], data=data, timeout=30,
                                 auth=basic if case["mode"] == "unsigned" else None,
                                 headers={"Content-Type": "text/xml; charset=utf-8"})
        took = time.monotonic() - started
        if corpus.FIFO in data.decode("latin-1"):
            assert took < 1.0, "%s took %.2fs" % (case["file"], took)
        assert took < 3.0, "%s took %.2fs" % (case["file"], took)  # never a hang
        try:
            tickets.append(check(case, response, hub.settings))
        except AssertionError as exc:
            wrong.append(str(exc).splitlines()[0])
        health = requests.get(hub.url + "/health", timeout=1.0)
        assert health.status_code == 200, case["file"]
        seen[case["class"]] += 1
    assert not wrong, "%d cases answered otherwise:\n%s" % (len(wrong), "\n".join(wrong))
    return cases, tickets, seen


def check(case, response, settings):
    """The answer `case` expects; returns the ticket of its exchange."""
    kind, code, named = (case["expect"] + [None])[:3]
    what = "%s: %s %s" % (case["file"], response.status_code, response.content[:300])
    if kind == "fault":
        answer = Answer(response, settings)
        assert answer.fault is not None and answer.reason == code and answer.signed, \
            "%s %s %s" % (case["file"], answer.status, answer.reason)
        return answer.ticket
    envelope = xmlparse.parse(response.content)
    body = soap.split_envelope(envelope)[1]
    assert response.status_code == 200 and body.find(soap.FAULT) is None, what
    if case["target"] == "sendxml":
        reply = xmlparse.parse(body.findtext(".//{%s}xmlString" % ssdn.CONNECTOR).encode())
        summary = reply.find("%s/%s" % (ssdn.s("ReplyContext"), ssdn.c("ResultSummary")))
        reasons = [d.text for d in reply.iter(ssdn.c("ReasonCode"))]
        if kind == "ssdn":
            assert summary.get("ok") == "NO" and code in reasons, "%s %s" % (what, reasons)
            assert named is None or named in "".join(reply.itertext()), what
        else:
            assert summary.get("ok") == "YES", what
        return reply.findtext(".//" + ssdn.s("Ticket"))
    if code is not None:  # the whole value, never the part before a comment
        found = body.findtext(".//echo") if case["target"] == "envelope" else \
            body.findtext(".//searchInformation/ssin")
        assert found == code, what
    return body.findtext(".//ticketCBSS")


def assert_logged_and_chained(hub, tickets):
    db = Database(hub.settings.store_url)
    try:
        missing = [t for t in tickets if not exchange_log.search(db, ticket=t)]
    finally:
        db.dispose()
    assert not missing, "no exchange-log row for %d cases" % len(missing)
    verify = run_kszws(hub.settings, "log", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_the_corpus_has_every_class_against_every_target(tmp_path):
    from tests.netfixture import make_project as project

    settings = project(tmp_path / "p")
    cases = corpus.write(tmp_path / "corpus", corpus.Signer(settings.conf_dir.parent))
    assert len(cases) >= 300
    by_class = collections.defaultdict(set)
    for case in cases:
        by_class[case["class"]].add((case["target"], case["mode"]))
    signature_attacks = {"xsw-wrapping", "signed-info", "key-info", "timestamps"}
    for klass, combos in by_class.items():
        modes = {"signed"} if klass in signature_attacks else {"signed", "unsigned"}
        assert combos == {(t, m) for t in corpus.TARGETS for m in modes}, klass
    replayable = (tmp_path / "corpus" / "replay.sh").read_text()
    assert replayable.count("curl ") == len(cases)


def test_hostile_corpus_sqlite(tmp_path, fifo):
    hub = network(tmp_path)
    try:
        cases, tickets, seen = replay(hub, tmp_path)
        assert_logged_and_chained(hub, tickets)
    finally:
        stop_network(hub)
    print("hostile corpus: %d cases %s" % (len(cases), dict(seen)))


@pytest.mark.postgres
def test_hostile_corpus_postgres(tmp_path, fifo):
    if not PG_URL:
        pytest.skip("KSZWS_TEST_DATABASE_URL is not set")
    url, schema = postgres_schema_url(PG_URL)
    hub = network(tmp_path, url)
    try:
        _, tickets, _ = replay(hub, tmp_path)
        assert_logged_and_chained(hub, tickets)
    finally:
        stop_network(hub)
        drop_postgres_schema(PG_URL, schema)
