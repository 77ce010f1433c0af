"""No reply leaves before its exchange-log row is committed, shown deterministically on
SQLite (`make test`), with a real hub process: a log write the database refuses (a trigger)
withholds the reply with LOG00001; a writer stalled on the database lock holds the reply
back until the row is committed; a worker killed at a chosen point of the writer (just
before or just after the commit, KSZWS_FAILPOINT) sends nothing at all."""
import fcntl
import os
import sqlite3
import threading
import time

import pytest
import requests

from kszws.hub import exchange_log
from kszws.store import Database
from tests.netfixture import Hub, make_project, run_kszws
from tests.soaptools import HEADERS, post, request_envelope

pytestmark = pytest.mark.slow


def basic(settings):
    return ("E0207311071", (settings.certs_dir / "cpas-liege.password").read_text().strip())


def database_file(settings):
    return settings.store_url.split("sqlite:///", 1)[1]


def rows(settings):
    db = Database(settings.store_url)
    try:
        return exchange_log.search(db, service="TestConnectionService")
    finally:
        db.dispose()


@pytest.fixture
def hub(tmp_path):
    settings = make_project(tmp_path)
    hub = Hub(settings).start()
    yield hub
    hub.stop()


def test_a_log_write_the_database_refuses_withholds_the_reply(hub):
    with sqlite3.connect(database_file(hub.settings)) as conn:
        conn.execute("CREATE TRIGGER refuse_log BEFORE INSERT ON exchange_log "
                     "WHEN NEW.service = 'TestConnectionService' "
                     "BEGIN SELECT RAISE(ABORT, 'the test refuses this row'); END")
    call = post(hub.endpoint(), request_envelope("secret echo"), auth=basic(hub.settings))
    assert call.status_code == 503 and b"could not be logged" in call.content
    assert b"secret echo" not in call.content  # the operation's answer never left
    assert rows(hub.settings) == []
    with sqlite3.connect(database_file(hub.settings)) as conn:
        conn.execute("DROP TRIGGER refuse_log")
    again = post(hub.endpoint(), request_envelope("secret echo"), auth=basic(hub.settings))
    assert again.status_code == 200 and b"secret echo" in again.content
    assert len(rows(hub.settings)) == 1


def test_a_stalled_log_write_holds_the_reply_until_the_row_is_committed(hub):
    lock = os.open(database_file(hub.settings) + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # the writer of every process takes this lock
    replies = []
    caller = threading.Thread(target=lambda: replies.append(post(
        hub.endpoint(), request_envelope("held"), auth=basic(hub.settings))))
    try:
        caller.start()
        caller.join(2.0)
        assert replies == [], "a reply left while its log row could not be written"
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    caller.join(10)
    assert replies and replies[0].status_code == 200
    assert [r["ticket"] for r in rows(hub.settings)] == [
        replies[0].content.split(b"<ticketCBSS>")[1].split(b"<")[0].decode()]


@pytest.mark.parametrize("point, row_committed", [
    ("writer-before-commit", False), ("writer-after-commit", True)])
def test_a_worker_killed_in_the_writer_sends_no_reply(tmp_path, point, row_committed):
    settings = make_project(tmp_path)
    hub = Hub(settings, env=dict(os.environ, KSZWS_FAILPOINT=point)).start()
    try:
        with pytest.raises(requests.ConnectionError):
            requests.post(hub.endpoint(), data=request_envelope_bytes(), headers=HEADERS,
                          auth=basic(settings), timeout=10)
    finally:
        hub.stop()
    assert len(rows(settings)) == (1 if row_committed else 0)
    verify = run_kszws(settings, "log", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def request_envelope_bytes():
    from kszws.wire import soap

    return soap.serialize(request_envelope("killed"))
