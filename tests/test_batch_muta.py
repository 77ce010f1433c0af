"""FO.MUTA, the daily file of mutations of an institution on batch (kszws/batch/muta.py),
at the unit level on SQLite (and PostgreSQL with KSZWS_TEST_DATABASE_URL): every item
of the day once, a worker stopped between any two steps neither loses nor doubles one,
the online mailbox shows none of them; and end to end over the real drop box."""
import datetime
import json
import os
from types import SimpleNamespace

import pytest
from lxml import etree
from sqlalchemy import insert, select

from kszws import mailbox
from kszws.batch import signature
from kszws.batch.muta import MutationFiles, day_end, last_closed_day
from kszws.batch.outbox import Outbox
from kszws.batch.processing import RESULT_NS
from kszws.clock import BRUSSELS, naive_utc
from kszws.security import pki
from kszws.store.schema import batch_muta, batch_outfile, mailbox_item, mutation
from tests.conftest import DATABASES, PG_URL

DAY = datetime.date(2026, 11, 30)
MIDNIGHT = datetime.time()
ON_BATCH, ONLINE = "cpas-charleroi", "cpas-eupen"
R = "{%s}" % RESULT_NS


def at(day, hour, minute=0):
    """An aware moment of the hub's local clock."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), BRUSSELS)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def hub(db, tmp_path):
    """What a worker's MutationFiles needs, with the hub's key and certificate."""
    ca_key, ca = pki.make_ca()
    key, cert = pki.issue(ca_key, ca, "kszws-hub")
    pki.write_cert(tmp_path / "hub.crt", cert)
    registry = SimpleNamespace(institutions={
        ON_BATCH: SimpleNamespace(id=ON_BATCH, mutations="batch"),
        ONLINE: SimpleNamespace(id=ONLINE, mutations="mailbox")})
    clock = Clock(at(DAY + datetime.timedelta(days=1), 0, 5))
    out = Outbox(db, tmp_path / "batch", SimpleNamespace(private=key), clock)
    return SimpleNamespace(db=db, registry=registry, clock=clock, out=out,
                           root=tmp_path / "batch", cert=tmp_path / "hub.crt")


def worker(hub, name="worker-1", cls=MutationFiles):
    return cls(hub.db, hub.registry, hub.out, hub.clock, None, name, MIDNIGHT,
               lease_seconds=60)


def add_items(db, institution, made_at, count, first_seq):
    """`count` mutations in `institution`'s mailbox, made at `made_at`: their ids."""
    ids = []
    with db.engine.begin() as conn:
        for seq in range(first_seq, first_seq + count):
            ref = conn.execute(insert(mutation).values(
                source="national-register", seq=seq, kind="address", ssin="70100853190",
                event_date=DAY, payload=json.dumps({"street": "Rue %d" % seq}),
                received_at=naive_utc(made_at))).inserted_primary_key[0]
            ids.append(conn.execute(insert(mailbox_item).values(
                institution=institution, kind=mailbox.MUTATION, ref_id=ref, type="address",
                ssin="70100853190", created_at=naive_utc(made_at))).inserted_primary_key[0])
    return ids


def out_files(hub, institution):
    folder = hub.root / institution / "OUT"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def file_items(hub, institution, name):
    """The mailbox ids a FO.MUTA holds, after checking its FS."""
    path = hub.root / institution / "OUT" / name
    fs = (hub.root / institution / "OUT" / name.replace("FO.", "FS.", 1)).read_bytes()
    signature.verify(fs, signature.digest_file(path), [hub.cert])
    root = etree.parse(str(path)).getroot()
    ids = [int(m.findtext(R + "Id")) for m in root.iter(R + "Mutation")]
    assert int(root.findtext("%sHeader/%sRecordCount" % (R, R))) == len(ids)
    return ids


def unacked(db, institution):
    with db.engine.connect() as conn:
        return set(conn.execute(select(mailbox_item.c.id).where(
            mailbox_item.c.institution == institution,
            mailbox_item.c.acked_at.is_(None))).scalars())


def recorded(db, institution):
    with db.engine.connect() as conn:
        return sorted(conn.execute(select(batch_outfile.c.name).where(
            batch_outfile.c.institution == institution)).scalars())


def test_the_day_closes_at_the_cutoff_of_the_local_clock():
    assert day_end(DAY, MIDNIGHT) == at(DAY + datetime.timedelta(days=1), 0)
    assert day_end(DAY, datetime.time(22)) == at(DAY, 22)
    assert last_closed_day(at(DAY, 23, 59), MIDNIGHT) == DAY - datetime.timedelta(days=1)
    assert last_closed_day(at(DAY + datetime.timedelta(days=1), 0, 1), MIDNIGHT) == DAY
    assert last_closed_day(at(DAY, 22, 1), datetime.time(22)) == DAY
    assert last_closed_day(at(DAY, 21, 59), datetime.time(22)) == DAY - datetime.timedelta(
        days=1)
    # 00:30 in Brussels on 1 December is still 30 November in UTC: the local day counts
    assert last_closed_day(at(DAY + datetime.timedelta(days=1), 0, 30).astimezone(
        datetime.timezone.utc), MIDNIGHT) == DAY


def test_a_days_file_holds_each_item_once_and_only_the_institutions(hub):
    earlier = add_items(hub.db, ON_BATCH, at(DAY - datetime.timedelta(days=3), 9), 2, 1)
    today = add_items(hub.db, ON_BATCH, at(DAY, 23, 59), 3, 10)
    tomorrow = add_items(hub.db, ON_BATCH, at(DAY + datetime.timedelta(days=1), 0, 1), 1, 20)
    online = add_items(hub.db, ONLINE, at(DAY, 12), 2, 30)
    [name] = worker(hub).run()
    assert name == "FO.MUTA.999999.20261130.00001.R"
    assert out_files(hub, ON_BATCH) == sorted(
        [name, name.replace("FO.", "FS.", 1), name.replace("FO.", "GO.", 1)])
    # everything not delivered made before the cut-off: the days before too, nothing twice
    assert file_items(hub, ON_BATCH, name) == earlier + today
    assert unacked(hub.db, ON_BATCH) == set(tomorrow)
    assert unacked(hub.db, ONLINE) == set(online) and out_files(hub, ONLINE) == []
    assert recorded(hub.db, ON_BATCH) == out_files(hub, ON_BATCH)
    # again, and by another worker: nothing more
    assert worker(hub).run() == [] and worker(hub, "worker-2").run() == []
    # the next day's file carries the next day's item only
    hub.clock.now += datetime.timedelta(days=1)
    [second] = worker(hub, "worker-2").run()
    assert second == "FO.MUTA.999999.20261201.00002.R"
    assert file_items(hub, ON_BATCH, second) == tomorrow and unacked(hub.db, ON_BATCH) == set()


class Stopped(Exception):
    pass


class StopsAfterPlacing(MutationFiles):
    """A worker killed between writing the files to OUT and recording them."""

    def placed(self, row, name):
        raise Stopped()


def test_a_worker_stopped_before_recording_loses_and_doubles_nothing(hub):
    items = add_items(hub.db, ON_BATCH, at(DAY, 10), 4, 1)
    with pytest.raises(Stopped):
        worker(hub, "worker-1", StopsAfterPlacing).run()
    name = "FO.MUTA.999999.20261130.00001.R"
    # the FO and FS are in OUT, but no GO: the institution takes nothing yet
    assert out_files(hub, ON_BATCH) == [name, name.replace("FO.", "FS.", 1)]
    assert unacked(hub.db, ON_BATCH) == set(items) and recorded(hub.db, ON_BATCH) == []
    # another worker leaves the day alone while the first one's lease runs
    assert worker(hub, "worker-2").run() == []
    hub.clock.now += datetime.timedelta(seconds=61)
    assert worker(hub, "worker-2").run() == [name]  # the same name, written again
    assert file_items(hub, ON_BATCH, name) == items
    assert unacked(hub.db, ON_BATCH) == set()
    assert recorded(hub.db, ON_BATCH) == out_files(hub, ON_BATCH)
    assert len(out_files(hub, ON_BATCH)) == 3
    assert worker(hub, "worker-1").run() == []


def test_a_worker_stopped_before_the_go_leaves_it_to_the_next(hub):
    items = add_items(hub.db, ON_BATCH, at(DAY, 10), 2, 1)
    out = hub.out
    calls = []

    def give_go(institution, name):
        calls.append(name)
        raise Stopped()
    out.give_go, real = give_go, out.give_go
    with pytest.raises(Stopped):
        worker(hub).run()
    out.give_go = real
    assert unacked(hub.db, ON_BATCH) == set()  # recorded and marked with the file
    with hub.db.engine.connect() as conn:
        assert conn.execute(select(batch_muta.c.state)).scalar() == "recorded"
    name = str(calls[0])
    assert not (hub.root / ON_BATCH / "OUT" / name.replace("FO.", "GO.", 1)).exists()
    assert worker(hub, "worker-2").run() == [name]  # no lease to wait for: just the GO
    assert file_items(hub, ON_BATCH, name) == items
    assert len(out_files(hub, ON_BATCH)) == 3 and worker(hub).run() == []


class LateItem(MutationFiles):
    """A fan-out that began before the cut-off commits its item after the file's items
    were read."""

    def placed(self, row, name):
        self.late = add_items(self.db, ON_BATCH, at(DAY, 23, 59), 1, 99)


def test_an_item_made_late_goes_in_the_next_file(hub):
    items = add_items(hub.db, ON_BATCH, at(DAY, 10), 2, 1)
    late = worker(hub, cls=LateItem)
    [name] = late.run()
    assert file_items(hub, ON_BATCH, name) == items
    assert unacked(hub.db, ON_BATCH) == set(late.late)
    hub.clock.now += datetime.timedelta(days=1)
    [second] = worker(hub).run()
    assert file_items(hub, ON_BATCH, second) == late.late


def test_the_online_mailbox_of_an_institution_on_batch_has_no_mutations(hub):
    batch_inst = hub.registry.institutions[ON_BATCH]
    online_inst = hub.registry.institutions[ONLINE]
    assert mailbox.MUTATION not in mailbox.online_kinds(batch_inst)
    assert mailbox.MUTATION in mailbox.online_kinds(online_inst)
    ids = add_items(hub.db, ON_BATCH, at(DAY, 10), 2, 1)
    with hub.db.engine.begin() as conn:
        kinds = mailbox.online_kinds(batch_inst)
        assert mailbox.items(conn, ON_BATCH, kinds=kinds) == []
        # acknowledging them online changes nothing: they are the file's to deliver
        assert mailbox.acknowledge(conn, ON_BATCH, ids, at(DAY, 11), kinds) == []
    assert unacked(hub.db, ON_BATCH) == set(ids)


# -- end to end: the National Register's pushes, the fan-out, the file over SFTP -----------

MAX = "70100853190"
STREETS = ["Rue Haute", "Grand-Place", "Quai de Sambre"]


@pytest.fixture(scope="module", params=DATABASES)
def muta_net(request, tmp_path_factory):
    """The hub, with CPAS Charleroi on batch for its mutations and CPAS Eupen online, both
    managing a file on Max; the day's file closes a minute after the hub starts (the
    cut-off of the hub's local clock, conf/batch.toml [mutations]); the National Register
    pushes its mutations to the hub. On SQLite, and PostgreSQL when it is set."""
    from tests.netfixture import drop_postgres_schema, make_project, postgres_schema_url, \
        register_in_directory, seed_national_register, start_pushing_network

    url = schema = ""
    if request.param == "postgresql":
        url, schema = postgres_schema_url(PG_URL)
    settings = make_project(tmp_path_factory.mktemp("muta"), database_url=url)
    conf = settings.conf_dir
    text = (conf / "institutions.toml").read_text()
    (conf / "institutions.toml").write_text(text.replace(
        'id = "cpas-charleroi"\n', 'id = "cpas-charleroi"\nmutations = "batch"\n', 1))
    seed_national_register(settings)
    register_in_directory(settings, [ON_BATCH, ONLINE], [MAX], code=1)
    cutoff = datetime.datetime.now(BRUSSELS) + datetime.timedelta(seconds=60)
    text = (conf / "batch.toml").read_text()
    (conf / "batch.toml").write_text(text.replace(
        'cutoff = "00:00"', 'cutoff = "%s"' % cutoff.strftime("%H:%M:%S")).replace(
        "interval_seconds = 60", "interval_seconds = 1"))
    hub = start_pushing_network(settings)
    hub.cutoff = cutoff.replace(microsecond=0)
    yield hub
    hub.source.stop()
    hub.stop()
    if schema:
        drop_postgres_schema(PG_URL, schema)


def online_items(net, institution):
    from kszws.client import hub_client
    from kszws.registry import load_registry

    proxy, _ = hub_client(net.settings, "MailboxService", institution, net.url)
    who = {"customerIdentification": {
        "cbeNumber": load_registry(net.settings).institution(institution).cbe}}
    return proxy.listItems(informationCustomer=who)["item"]


def test_an_institution_on_batch_gets_the_days_mutations_as_one_file(muta_net, tmp_path):
    import time

    from tests.netfixture import run_kszws
    from tests.test_batch_channel import SFTP, ls, sftp

    if SFTP is None:
        pytest.skip("OpenSSH's sftp client is not installed")
    today = datetime.date.today().isoformat()
    for street in STREETS:
        result = run_kszws(muta_net.settings, "mutation", "record", "address", MAX,
                           "street=%s" % street, "--date", today)
        assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 30
    while len(online_items(muta_net, ONLINE)) < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert datetime.datetime.now(BRUSSELS) < muta_net.cutoff, "set-up slower than a minute"
    # Eupen, online, lists them; Charleroi, on batch, does not
    assert [i["type"] for i in online_items(muta_net, ONLINE)] == ["address"] * 3
    assert online_items(muta_net, ON_BATCH) == []
    # once the day is closed: the file in Charleroi's OUT, over SFTP
    day = (muta_net.cutoff - datetime.timedelta(seconds=1)).date().strftime("%Y%m%d")
    deadline = time.monotonic() + (muta_net.cutoff - datetime.datetime.now(BRUSSELS)
                                   ).total_seconds() + 30
    gos = []
    while not gos and time.monotonic() < deadline:
        gos = [n for n in ls(muta_net, ON_BATCH, "/OUT")
               if n.startswith("GO.MUTA.999999.%s." % day)]
        time.sleep(0.5)
    assert len(gos) == 1, ls(muta_net, ON_BATCH, "/OUT")
    fo = gos[0].replace("GO.", "FO.", 1)
    local = tmp_path / fo
    got = sftp(muta_net, ON_BATCH, "get /OUT/%s %s" % (fo, local),
               "get /OUT/%s %s.fs" % (fo.replace("FO.", "FS.", 1), local))
    assert got.returncode == 0, got.stderr
    signature.verify((tmp_path / (fo + ".fs")).read_bytes(), signature.digest_file(local),
                     [muta_net.settings.certs_dir / "kszws-hub.crt"])
    root = etree.parse(str(local)).getroot()
    found = [(m.findtext(R + "Kind"), m.findtext(R + "Ssin"),
              m.find(R + "Field[@name='street']").text) for m in root.iter(R + "Mutation")]
    assert sorted(found) == sorted(("address", MAX, s) for s in STREETS)  # each once
    ids = [int(m.findtext(R + "Id")) for m in root.iter(R + "Mutation")]
    assert len(set(ids)) == 3
    # they are Charleroi's mailbox items, now delivered; still nothing online
    from kszws.store import database_from_settings

    db = database_from_settings(muta_net.settings)
    with db.engine.connect() as conn:
        rows = conn.execute(select(mailbox_item.c.id, mailbox_item.c.acked_at).where(
            mailbox_item.c.institution == ON_BATCH)).all()
    db.dispose()
    assert sorted(r.id for r in rows) == sorted(ids) and all(r.acked_at for r in rows)
    assert online_items(muta_net, ON_BATCH) == []
    # Eupen's still wait in its online mailbox, and it got no file
    assert len(online_items(muta_net, ONLINE)) == 3
    assert not [n for n in ls(muta_net, ONLINE, "/OUT") if ".MUTA." in n]
