import os

import pytest

from kszws.store import Database
from tests.netfixture import (CBSS, Hub, drop_postgres_schema, make_project,
                              postgres_schema_url, start_network, stop_network)

PG_URL = os.environ.get("KSZWS_TEST_DATABASE_URL", "")

# Every database test runs on SQLite, and on PostgreSQL when KSZWS_TEST_DATABASE_URL is set.
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield "sqlite:///%s" % (tmp_path / "test.sqlite")
        return
    url, schema = postgres_schema_url(PG_URL)
    yield url
    drop_postgres_schema(PG_URL, schema)


@pytest.fixture
def db(database_url):
    database = Database(database_url, "NORMAL")
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def cbss():
    if not CBSS.is_dir():
        pytest.skip("../shared/cbss (the real CBSS contracts) is not present")
    return CBSS


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """A running hub (1 worker, SQLite) for the end-to-end tests of a module."""
    settings = make_project(tmp_path_factory.mktemp("net"))
    hub = Hub(settings).start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def pg_net(tmp_path_factory):
    """The same on PostgreSQL (skipped without KSZWS_TEST_DATABASE_URL)."""
    if not PG_URL:
        pytest.skip("KSZWS_TEST_DATABASE_URL is not set")
    url, schema = postgres_schema_url(PG_URL)
    settings = make_project(tmp_path_factory.mktemp("pgnet"), database_url=url)
    hub = Hub(settings).start()
    yield hub
    hub.stop()
    drop_postgres_schema(PG_URL, schema)


@pytest.fixture(scope="module")
def classic_net(tmp_path_factory):
    """The hub with the National Register source running (seeded: tests/netfixture.py)."""
    hub = start_network(make_project(tmp_path_factory.mktemp("classic")))
    yield hub
    stop_network(hub)
