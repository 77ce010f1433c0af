"""/health: 200 only when the database answers, the hub's certificate is valid and the hub
is not in maintenance (maintenance itself: tests/test_e2e_hub.py); the sources listed up or
down from background checks, never a 503 for them. And a source stays quiet when the hub
gives up on it."""
import datetime
import os
import signal
import time
import uuid

import pytest
import requests
import sqlalchemy

from tests.netfixture import (Hub, Source, make_project, reissue_certificate, start_network,
                              stop_network)
from tests.soaptools import log_row, post, request_envelope
from tests.ssdntools import Reply, identify, post_basic, ssdn_request


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """The hub and the National Register source (the two other sources are not started);
    the hub checks its sources every half second and gives up on one after a second."""
    settings = make_project(tmp_path_factory.mktemp("health"), source_timeout=1.0,
                            settings={"source_check_seconds": "0.5"})
    hub = start_network(settings)
    yield hub
    stop_network(hub)


def sources_until(hub, source_id, state, timeout=10):
    """/health's body once it lists `source_id` as `state` after a whole round of checks;
    every answer on the way is a 200."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(hub.url + "/health", timeout=5)
        assert response.status_code == 200, response.text
        body = response.json()
        done = body["sources"][source_id] == state and body["sources_checked_at"]
        if done or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_health_lists_each_source_up_or_down_and_stays_200(network):
    body = sources_until(network, "national-register", "up")
    assert body["status"] == "ok"
    assert body["sources"] == {"national-register": "up", "employer-directory": "down",
                               "pension-cadastre": "down"}
    assert body["sources_checked_at"].startswith(str(datetime.date.today().year))
    network.source.stop()
    stopped = time.monotonic()
    body = sources_until(network, "national-register", "down")
    assert body["sources"]["national-register"] == "down" and body["status"] == "ok"
    assert time.monotonic() - stopped < 5
    network.source = Source(network.settings).start()
    assert sources_until(network, "national-register", "up")["sources"]["national-register"] \
        == "up"


def test_a_request_the_hub_gave_up_on_leaves_no_traceback_at_the_source(network):
    """The source is frozen (SIGSTOP) while the hub waits for it: the hub gives up after
    its deadline and closes the connection; thawed, the source finds nobody to answer."""
    sources_until(network, "national-register", "up")
    source = network.source
    os.killpg(source.proc.pid, signal.SIGSTOP)
    try:
        for _ in range(3):
            reply = Reply.of(post_basic(network, ssdn_request(identify("70100853190"))))
            assert reply.summary(0) == ("NO", 10000, ["31000003"])
            assert log_row(network.settings, reply.ticket)["reason_code"] == "SRC00001"
        # A frozen source still has its connections accepted by the kernel; the WSDL
        # check sees that it answers nothing.
        assert sources_until(network, "national-register", "down")["sources"][
            "national-register"] == "down"
    finally:
        os.killpg(source.proc.pid, signal.SIGCONT)
    # Thawed, it answers again (and has by then dealt with the three abandoned requests).
    sources_until(network, "national-register", "up")
    reply = Reply.of(post_basic(network, ssdn_request(identify("70100853190"))))
    assert reply.summary(0)[0] == "YES"
    time.sleep(0.5)
    errors = source.stderr()
    assert "Traceback" not in errors and " ERROR " not in errors, errors[-3000:]


def test_expired_hub_certificate(tmp_path):
    settings = make_project(tmp_path)
    now = datetime.datetime.now(datetime.timezone.utc)
    reissue_certificate(settings, "kszws-hub", "0209300066",
                        not_before=now - datetime.timedelta(days=10),
                        not_after=now - datetime.timedelta(hours=1))
    hub = Hub(settings).start()
    try:
        response = requests.get(hub.url + "/health", timeout=10)
        assert response.status_code == 503
        assert response.json()["certificate"] is False and response.json()["database"] is True
    finally:
        hub.stop()


@pytest.mark.skipif(not os.environ.get("KSZWS_TEST_DATABASE_URL"),
                    reason="KSZWS_TEST_DATABASE_URL is not set")
def test_database_unreachable(tmp_path):
    base = os.environ["KSZWS_TEST_DATABASE_URL"]
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    name = "kszws_health_" + uuid.uuid4().hex[:8]
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE %s" % name)
    url = sqlalchemy.engine.make_url(base).set(database=name).render_as_string(False)
    settings = make_project(tmp_path, database_url=url)
    hub = Hub(settings).start()
    try:
        assert requests.get(hub.url + "/health", timeout=10).status_code == 200
        with admin.connect() as conn:
            conn.exec_driver_sql("ALTER DATABASE %s ALLOW_CONNECTIONS false" % name)
            conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = '%s'" % name)
        response = requests.get(hub.url + "/health", timeout=10)
        assert response.status_code == 503 and response.json()["database"] is False
        # No reply leaves without its log row: with the log unwritable, a call gets a
        # bare LOG00001 fault, no data.
        password = (settings.certs_dir / "cpas-liege.password").read_text().strip()
        call = post(hub.endpoint(), request_envelope("lost?"), auth=("E0207311071", password))
        assert call.status_code == 503
        assert b"could not be logged" in call.content and b"lost?" not in call.content
        with admin.connect() as conn:
            conn.exec_driver_sql("ALTER DATABASE %s ALLOW_CONNECTIONS true" % name)
        assert requests.get(hub.url + "/health", timeout=10).status_code == 200
    finally:
        hub.stop()
        with admin.connect() as conn:
            conn.exec_driver_sql("ALTER DATABASE %s ALLOW_CONNECTIONS true" % name)
            conn.exec_driver_sql("DROP DATABASE %s WITH (FORCE)" % name)
        admin.dispose()
