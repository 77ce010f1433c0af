"""Units of the batch types that change state (no network): a REGI chunk's writes to the
reference directory are committed in the transaction of its results and log rows, or not
at all, so a chunk judged again after a worker died never meets its own earlier writes."""
import datetime
from types import SimpleNamespace

import pytest
from lxml import etree
from sqlalchemy import func, select

from kszws import directory
from kszws.batch import processing
from kszws.batch.kinds.common import Context
from kszws.batch.kinds.regi import Registrations
from kszws.config import load_settings
from kszws.hub.exchange_log import ExchangeLog
from kszws.registry import load_registry
from kszws.store.schema import batch_file, batch_result
from tests.netfixture import ROOT

REGISTRY = load_registry(load_settings(ROOT / "conf"))
NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
MAX = "70100853190"


class Broken(ExchangeLog):
    def apply(self, cursor, exchanges):
        raise RuntimeError("the worker dies before the chunk is committed")


@pytest.fixture
def job(db, tmp_path):
    """A REGI file being processed (tests/conftest.py's `db`: SQLite, and PostgreSQL when
    KSZWS_TEST_DATABASE_URL is set), cpas-eupen registered on Max beforehand."""
    eupen = REGISTRY.institutions["cpas-eupen"]
    with db.engine.begin() as conn:
        directory.register(conn, NOW, MAX, eupen, REGISTRY.quality_code(17, 1),
                           datetime.date(2026, 1, 1))
        row = conn.execute(batch_file.insert().values(
            institution="cpas-eupen", name="GO.REGI.170001.20261201.00001.R", type="REGI",
            sender="170001", env="R", parts=0, state="running", spool=str(tmp_path),
            received_at=NOW.replace(tzinfo=None), records_done=0, owner="worker-1").returning(
                *batch_file.c)).mappings().first()
    kind = Registrations(REGISTRY, None, None, lambda: NOW)
    processor = SimpleNamespace(db=db, exchange_log=ExchangeLog(db, None), clock=lambda: NOW,
                                lease=datetime.timedelta(seconds=60), worker_id="worker-1",
                                intake=SimpleNamespace(registry=REGISTRY))
    job = processing.Job(dict(row), kind, processor)
    job.context = Context(None, kind.context(job, etree.Element("Header")).decision)
    return job


def in_force(db):
    with db.engine.connect() as conn:
        return directory.registrations(conn, MAX, datetime.date(2026, 6, 1), None)


def results(db):
    with db.engine.connect() as conn:
        return list(conn.execute(select(batch_result.c.idx, batch_result.c.code)))


def end_chunk():
    record = etree.fromstring(
        '<b:Record xmlns:b="urn:kszws:batch:v1"><b:Id>1</b:Id><b:End><b:Ssin>%s</b:Ssin>'
        "<b:From>2026-01-01</b:From></b:End></b:Record>" % MAX)
    return [(1, record)]


def test_a_regi_chunk_that_is_not_committed_writes_nothing(job):
    job.p.exchange_log = Broken(job.db, None)
    with pytest.raises(RuntimeError):
        job.commit(job.kind.judge(job, job.context, end_chunk()), 1)
    assert len(in_force(job.db)) == 1 and results(job.db) == []
    # judged again (as the next worker does): the registration is still there to end
    job.p.exchange_log = ExchangeLog(job.db, None)
    job.commit(job.kind.judge(job, job.context, end_chunk()), 1)
    assert in_force(job.db) == [] and [tuple(r) for r in results(job.db)] == [(1, "000000")]
    with job.db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batch_file).where(
            batch_file.c.records_done == 1)).scalar() == 1
