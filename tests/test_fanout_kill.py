"""Durability of the fan-out (mailbox issue, "Done when"): once the hub has acknowledged
mutations to their source, they reach every mailbox they should even if the hub worker is
killed (SIGKILL) in the middle of the fan-out: no item lost, none duplicated. On SQLite and,
with KSZWS_TEST_DATABASE_URL, on PostgreSQL."""
import datetime
import os
import signal
import time

import pytest
from sqlalchemy import text

from kszws.client import hub_client
from kszws.store import Database
from tests.conftest import PG_URL
from tests.netfixture import (Hub, drop_postgres_schema, make_project, postgres_schema_url,
                              register_in_directory, wait_health)

pytestmark = pytest.mark.slow

PERSONS = 150
MUTATIONS = 3000
# Each registered on every person, each authorized for address mutations.
RECEIVERS = ["cpas-eupen", "cpas-liege", "test-lino", "test-quiet", "onem-rva"]


def ssin(n):
    body = "%02d%02d%02d%03d" % (70 + n % 20, 1 + n % 12, 1 + n % 28, 1 + n)
    return body + "%02d" % (97 - int(body) % 97)


def counts(db):
    with db.engine.connect() as conn:
        items = conn.execute(text("SELECT COUNT(*) FROM mailbox_item")).scalar()
        pending = conn.execute(text("SELECT COUNT(*) FROM fanout_pending")).scalar()
    return items, pending


@pytest.mark.parametrize("database", ["sqlite"] + (["postgresql"] if PG_URL else []))
def test_sigkill_during_fan_out_loses_and_duplicates_nothing(tmp_path, database):
    url, schema = postgres_schema_url(PG_URL) if database == "postgresql" else ("", None)
    # Small batches: the fan-out of these mutations takes many transactions to kill amid.
    settings = make_project(tmp_path, database_url=url,
                            settings={"fanout_batch": "5", "fanout_interval_seconds": "0.2"})
    persons = [ssin(n) for n in range(PERSONS)]
    register_in_directory(settings, RECEIVERS, persons, code=1, start=datetime.date(2026, 1, 1))
    db = Database(settings.store_url)
    hub = Hub(settings).start()
    try:
        proxy, _ = hub_client(settings, "MutationService", "national-register", hub.url)
        day = datetime.date(2026, 6, 1)
        for first in range(0, MUTATIONS, 1000):  # acknowledged: the hub holds them now
            reply = proxy.notifyMutations(mutation=[
                {"seq": seq, "kind": "address", "ssin": persons[seq % PERSONS],
                 "eventDate": day, "field": [{"name": "street", "value": "Rue %d" % seq}]}
                for seq in range(first + 1, first + 1001)])
            assert reply["accepted"] == 1000
        deadline = time.monotonic() + 30
        while counts(db)[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        worker = hub.workers_pids()[0]
        os.kill(worker, signal.SIGKILL)
        items_at_kill, pending_at_kill = counts(db)
        assert items_at_kill > 0 and pending_at_kill > 0, "killed amid the fan-out"
        # The supervisor starts a new worker; its fan-out takes up what is left.
        deadline = time.monotonic() + 120
        while counts(db)[1] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert wait_health(hub.url).status_code == 200
        assert worker not in hub.workers_pids()
    finally:
        assert hub.stop() == 0
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT institution, COUNT(*), COUNT(DISTINCT ref_id) FROM mailbox_item"
            " GROUP BY institution ORDER BY institution")).all()
        pending = conn.execute(text("SELECT COUNT(*) FROM fanout_pending")).scalar()
    db.dispose()
    if schema:
        drop_postgres_schema(PG_URL, schema)
    assert pending == 0
    assert [tuple(r) for r in rows] == [(inst, MUTATIONS, MUTATIONS) for inst in sorted(RECEIVERS)]
