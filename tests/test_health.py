"""/health: 200 only when the database answers, the hub's certificate is valid and the hub
is not in maintenance (maintenance itself: tests/test_e2e_hub.py)."""
import datetime
import os
import uuid

import pytest
import requests
import sqlalchemy

from tests.netfixture import Hub, make_project, reissue_certificate
from tests.soaptools import post, request_envelope


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
