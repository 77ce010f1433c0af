"""A worker killed with SIGKILL under load: every reply a client received has its log row,
and the hash chain still verifies (platform issue, "Done when")."""
import os
import signal
import threading
import time

import pytest
import requests
from sqlalchemy import select

from kszws.hub import exchange_log
from kszws.store import Database
from kszws.store.schema import exchange_log as log_table
from tests.netfixture import Hub, make_project, wait_health
from tests.soaptools import HEADERS, request_envelope
from kszws.wire import soap

pytestmark = pytest.mark.slow


def _ticket(content):
    start = content.find(b"<ticketCBSS>")
    end = content.find(b"</ticketCBSS>")
    return content[start + 12:end].decode() if start >= 0 else None


def load(hub, clients, received, stop, keep_going):
    """Clients posting sendTestMessage (HTTP Basic) until `stop`; each reply's (status,
    ticket) goes to `received`. On a connection error a client carries on with a new
    connection if `keep_going`, else it ends."""
    password = (hub.settings.certs_dir / "cpas-liege.password").read_text().strip()
    body = soap.serialize(request_envelope("load"))
    url = hub.endpoint()

    def client():
        session = requests.Session()
        session.auth = ("E0207311071", password)
        while not stop.is_set():
            try:
                r = session.post(url, data=body, headers=HEADERS, timeout=10)
            except requests.RequestException:
                if not keep_going:
                    return
                session = requests.Session()
                session.auth = ("E0207311071", password)
                continue
            received.append((r.status_code, _ticket(r.content)))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    return threads


def test_sigkill_a_worker_under_load(tmp_path):
    settings = make_project(tmp_path)
    hub = Hub(settings, workers=2).start()
    received, stop = [], threading.Event()
    threads = load(hub, 8, received, stop, keep_going=True)
    try:
        time.sleep(1.5)
        workers = hub.workers_pids()
        assert len(workers) == 2
        before_kill = len(received)
        os.kill(workers[0], signal.SIGKILL)
        time.sleep(2.5)
        stop.set()
        for t in threads:
            t.join()
        assert wait_health(hub.url).status_code == 200
        new_workers = hub.workers_pids()
        assert len(new_workers) == 2 and workers[0] not in new_workers  # restarted
    finally:
        stop.set()
        assert hub.stop() == 0

    assert before_kill > 50 and len(received) > before_kill + 50
    tickets = [t for _, t in received]
    assert None not in tickets, "every reply carries its ticket"
    assert all(status == 200 for status, _ in received)
    db = Database(settings.store_url)
    with db.engine.connect() as conn:
        logged = set(conn.execute(select(log_table.c.ticket)).scalars())
    missing = set(tickets) - logged
    assert not missing, "%d replies without a log row" % len(missing)
    report = exchange_log.verify(db)
    assert report.ok, report.problems
    assert report.rows >= len(tickets)


def test_graceful_shutdown_under_load(tmp_path):
    """SIGTERM: the hub stops accepting, finishes what is in flight, commits the log, exits 0."""
    settings = make_project(tmp_path)
    hub = Hub(settings, workers=2).start()
    received, stop = [], threading.Event()
    threads = load(hub, 6, received, stop, keep_going=False)
    time.sleep(1.0)
    assert hub.stop() == 0
    stop.set()
    for t in threads:
        t.join()
    assert len(received) > 50
    assert all(status == 200 and ticket for status, ticket in received)
    db = Database(settings.store_url)
    with db.engine.connect() as conn:
        logged = set(conn.execute(select(log_table.c.ticket)).scalars())
    assert {t for _, t in received} <= logged
    assert exchange_log.verify(db).ok
