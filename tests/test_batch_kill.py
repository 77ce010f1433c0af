"""A worker killed with SIGKILL in the middle of a batch file (issue 16, deliver 5): after
the restart the file is resumed where its last committed chunk ended; the result file
holds every record exactly once, in order, the exchange log has exactly one row per
record, and the hash chain verifies. And a GO whose worker died before the ACRF: the
next worker examines, logs and acknowledges it."""
import os
import re
import signal
import time

import pytest
from sqlalchemy import func, select

from kszws.batch import names
from kszws.hub import exchange_log
from kszws.store import Database
from kszws.store.schema import batch_file
from kszws.store.schema import exchange_log as log_table
from tests.netfixture import Hub, Source, make_project, seed_national_register, wait_health
from tests.test_batch_channel import (EUPEN, RESULT, SFTP, TODAY, acrf_of, batch_body, fetched,
                                      prepare, submit)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp client is not installed")]

RECORDS = 3000
SSINS = ["70100853190", "72030512297", "60010100172", "01020300170", "85473003317"]


@pytest.fixture
def network(tmp_path):
    settings = make_project(tmp_path / "project")
    box = settings.conf_dir / "batch.toml"
    box.write_text(re.sub(r"(?m)^lease_seconds = \d+", "lease_seconds = 2", box.read_text()))
    seed_national_register(settings)
    source = Source(settings).start()
    hub = Hub(settings, workers=1).start()
    hub.source = source
    yield hub
    hub.stop()
    source.stop()


def file_row(db, name):
    with db.engine.connect() as conn:
        return conn.execute(select(batch_file).where(batch_file.c.name == name)).mappings().first()


def test_a_worker_killed_mid_file_answers_every_record_once(network, tmp_path):
    hub = network
    db = Database(hub.settings.store_url)
    name = "FI.IDPR.170001.%s.00500.R" % TODAY
    go = str(names.parse(name).as_("GO"))
    ssins = [SSINS[i % len(SSINS)] for i in range(RECORDS)]
    submit(hub, tmp_path, prepare(hub, tmp_path, name, batch_body(ssins=ssins)))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it between two chunks, mid-file
        row = file_row(db, go)
        if row is not None and 0 < row["records_done"] < RECORDS / 2:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the file was not seen mid-way: %r" % (row,))
    killed = hub.workers_pids()
    os.kill(killed[0], signal.SIGKILL)
    done_at_kill = row["records_done"]
    assert wait_health(hub.url).status_code == 200  # the worker is back

    results = fetched(hub, tmp_path, "IDPR", name, wait=180)
    ids = [int(r.findtext("{%s}Id" % RESULT)) for r in results.iter("{%s}Result" % RESULT)]
    assert ids == list(range(1, RECORDS + 1))
    assert killed[0] not in hub.workers_pids()  # it was restarted
    row = file_row(db, go)
    assert (row["state"], row["records_done"]) == ("done", RECORDS)
    assert 0 < done_at_kill < RECORDS
    reference = "KSZ%010d" % row["id"]
    with db.engine.connect() as conn:
        tickets = list(conn.execute(select(log_table.c.ticket).where(
            log_table.c.ticket.like(reference + "-%"))).scalars())
    assert len(tickets) == len(set(tickets)) == RECORDS
    report = exchange_log.verify(db)
    assert report.ok, report.problems
    db.dispose()


def test_a_go_left_without_its_acrf_is_acknowledged_by_the_next_worker(network, tmp_path):
    """The worker dies right after recording the GO (simulated: the row left `received`
    and the files left in IN, as a kill between the two steps leaves them)."""
    hub = network
    db = Database(hub.settings.store_url)
    name = "FI.IDPR.170001.%s.00501.R" % TODAY
    files = prepare(hub, tmp_path, name, batch_body())
    # upload FI and FS only, then record the GO as a dying worker would have
    submit(hub, tmp_path, [f for f in files if not f.startswith("GO.")])
    go = names.parse(name).as_("GO")
    inbox = hub.settings.data_dir / "batch" / EUPEN / "IN"
    (inbox / str(go)).write_bytes(b"")
    import datetime

    from sqlalchemy import insert
    with db.engine.begin() as conn:
        conn.execute(insert(batch_file).values(
            institution=EUPEN, name=str(go), type="IDPR", sender="170001", env="R", parts=0,
            spool=str(hub.settings.data_dir / "batch" / "spool" / "dead-worker"),
            state="received", records_done=0,
            received_at=datetime.datetime.utcnow() - datetime.timedelta(minutes=5)))
    errors, code, _, _ = acrf_of(hub, tmp_path, str(go), wait=60)
    assert (errors, code) == ([], "1")
    assert os.listdir(inbox) == []
    fetched(hub, tmp_path, "IDPR", name, wait=60)  # and processed
    db.dispose()


@pytest.fixture
def pension_network(network):
    cadastre = Source(network.settings, name="pension-cadastre").start()
    yield network
    cadastre.stop()


def test_a_worker_killed_mid_pens_file_declares_every_record_once(pension_network, tmp_path):
    """PENS changes the cadastre: a chunk the cadastre took but the hub had not committed
    when its worker died is sent again on resume; each record carries its reference, so
    it is answered as the first time (not as a duplicate) and nothing is declared or
    announced twice."""
    import sqlite3

    from kszws.registry import load_registry
    from kszws.sources import pension_cadastre
    from kszws.store.schema import attestation
    from kszws.sources.pension_cadastre.store import declaration
    from tests.test_batch_twins import pens_body

    hub = pension_network
    db = Database(hub.settings.store_url)
    register = sqlite3.connect(hub.settings.data_dir / "national-register.sqlite")
    persons = [r[0] for r in register.execute(
        "SELECT ssin FROM nr_person WHERE status = 'active' ORDER BY ssin LIMIT 1000")]
    register.close()
    items = [dict(ssin=persons[i % len(persons)], month="2019-10",
                  benefitReference="K-%d" % i, benefitType="statutory_retirement",
                  grossCents=100000, familySituation="single") for i in range(RECORDS)]
    name = "FI.PENS.050001.%s.00502.R" % TODAY
    go = str(names.parse(name).as_("GO"))
    submit(hub, tmp_path, prepare(hub, tmp_path, name, pens_body("050001", items),
                                  signer="onp-rvp"), institution="onp-rvp")
    source = load_registry(hub.settings).sources["pension-cadastre"]
    cadastre = pension_cadastre.database(hub.settings, source)

    def held():
        with cadastre.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(declaration).where(
                declaration.c.payer == "onp-rvp")).scalar()
    # kill it when the cadastre has taken a chunk the hub has not committed yet
    deadline, killed = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        row = file_row(db, go)
        done = row["records_done"] if row is not None else 0
        taken = held()
        if 0 < done < RECORDS / 2 and taken > done:
            os.kill(hub.workers_pids()[0], signal.SIGKILL)
            killed = (done, taken)
            break
        time.sleep(0.002)
    assert killed is not None, "the file was not seen in the window: %r" % (row,)
    assert wait_health(hub.url).status_code == 200
    results = fetched(hub, tmp_path, "PENS", name, institution="onp-rvp", wait=180)
    assert file_row(db, go)["records_done"] == RECORDS
    answers = [(int(r.findtext("{%s}Id" % RESULT)), r.findtext("{%s}Code" % RESULT),
                r.findtext(".//{%s}DeclarationId" % RESULT),
                r.findtext(".//{%s}NewPensioner" % RESULT))
               for r in results.iter("{%s}Result" % RESULT)]
    assert [a[0] for a in answers] == list(range(1, RECORDS + 1))
    assert {a[1] for a in answers} == {"000000"}, {a[1] for a in answers}
    assert len({a[2] for a in answers}) == RECORDS  # each its own declaration
    assert [a[3] for a in answers] == ["true"] * len(persons) + ["false"] * (
        RECORDS - len(persons))
    with cadastre.engine.connect() as conn:
        held = conn.execute(select(declaration.c.benefit_ref).where(
            declaration.c.payer == "onp-rvp")).scalars().all()
    cadastre.dispose()
    assert sorted(held) == sorted(d["benefitReference"] for d in items)
    with db.engine.connect() as conn:
        announced = conn.execute(select(attestation.c.ssin).where(
            attestation.c.type == "new_pensioner")).scalars().all()
    assert sorted(announced) == sorted(persons)
    db.dispose()
