"""The batch channel under attack (issue 16; the findings of an attack run on the first
drop box): a file changed through a handle kept open after its GO, names with a trailing
newline, a file that breaks after a valid header, SFTP packets announcing gigabytes, too
many connections, spool left behind; and the units behind them."""
import socket
import struct
import time
from pathlib import Path

import pytest
import requests
from lxml import etree

from kszws.batch import names, outbox, signature
from kszws.batch.submit import Session, SubmitError
from kszws.hub import exchange_log
from kszws.security import pki
from kszws.store import database_from_settings
from kszws.wire import xm25
from tests.test_batch_channel import box  # noqa: F401 (the drop box and the source)
from tests.test_batch_channel import (EUPEN, RESULT, SFTP, TODAY, acrf_of, batch_body, fetched,
                                      ls, prepare, submit)

pytestmark = pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp client is not installed")


def session(hub, institution=EUPEN):
    from kszws.batch import load
    from kszws.registry import load_registry

    config = load(hub.settings, load_registry(hub.settings))
    return Session("127.0.0.1", config.port, institution,
                   hub.settings.certs_dir / ("%s.ssh" % institution),
                   Path(str(config.host_key) + ".pub")), config


def test_a_file_changed_after_its_go_is_not_what_the_hub_processes(box, tmp_path):
    """The sender keeps its FI open, sends FS and GO, then writes other records through
    the open handle: the hub checks and processes what was there at the GO."""
    name = names.parse("FI.IDPR.170001.%s.00201.R" % TODAY)
    signed = batch_body(ssins=["70100853190"])
    key = pki.read_key(box.settings.certs_dir / "cpas-eupen.key")
    digest = signature.digest_file(_write(tmp_path / "a", signed))
    first, _ = session(box)
    second, _ = session(box)
    try:
        handle = first.sftp.open("/IN/%s" % name, "wb")
        handle.write(signed)
        handle.flush()
        second.put_bytes(signature.sign(key, digest), str(name.as_("FS")))
        second.put_bytes(b"", str(name.as_("GO")))
        assert acrf_of(box, tmp_path, str(name.as_("GO")))[:2] == ([], "1")
        handle.seek(0)
        with pytest.raises(OSError, match="written no further"):  # taken: refused
            handle.write(batch_body(ssins=["72030512297", "01020300170", "85473003317"]))
            handle.flush()
    finally:
        first.close()
        second.close()
    results = fetched(box, tmp_path, "IDPR", str(name))
    assert [r.findtext("{%s}Code" % RESULT) for r in results.iter("{%s}Result" % RESULT)] == [
        "000000"]
    assert "70100853190" in etree.tostring(results).decode()


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("suffix", ["\n", "\r", " ", "\x00"])
def test_a_name_with_a_trailing_character_is_refused_at_the_door(box, suffix):
    client, _ = session(box)
    try:
        with pytest.raises(SubmitError, match="refused"):
            client.put_bytes(b"", "GO.IDPR.170001.%s.00202.R%s" % (TODAY, suffix))
        assert not any(n.startswith("GO.IDPR.170001.%s.00202" % TODAY) for n in
                       client.listdir("IN"))
    finally:
        client.close()


def test_a_file_that_breaks_after_its_header_is_answered_up_to_the_break(box, tmp_path):
    name = "FI.IDPR.170001.%s.00203.R" % TODAY
    body = batch_body(ssins=["70100853190", "72030512297", "01020300170"]).replace(
        b"<b:Record><b:Id>3</b:Id>", b"<b:Record><?pi x?><b:Id>3</b:Id>")
    submit(box, tmp_path, prepare(box, tmp_path, name, body))
    assert acrf_of(box, tmp_path, str(names.parse(name).as_("GO")))[:2] == ([], "1")
    results = fetched(box, tmp_path, "IDPR", name)
    assert [r.findtext("{%s}Id" % RESULT) for r in results.iter("{%s}Result" % RESULT)] == [
        "1", "2"]
    noti = fetched(box, tmp_path, "NOTI", name)
    assert "XML00005" in noti.findtext("{%s}Error" % RESULT)
    rows = exchange_log.search(database_from_settings(box.settings), caller=EUPEN,
                               service="BatchChannel", limit=200)
    assert any(r["ticket"].endswith("-end") and r["reason_code"] == "XML00005" for r in rows)


def test_an_sftp_packet_announcing_gigabytes_closes_the_session(box):
    client, _ = session(box)
    try:
        channel = client.client.get_transport().open_session()
        channel.invoke_subsystem("sftp")
        started = time.monotonic()
        channel.sendall(struct.pack("!L", 0x7FFFFFF0) + b"\x03" + b"x" * 65536)
        channel.settimeout(10)
        while not channel.closed and time.monotonic() - started < 10:
            try:
                if channel.recv(4096) == b"":
                    break
            except socket.timeout:
                break
        assert channel.closed or channel.eof_received
        health = requests.get(box.url + "/health", timeout=5)
        assert health.status_code in (200, 503) and health.elapsed.total_seconds() < 1
    finally:
        client.close()


def test_a_peer_opens_at_most_twenty_connections(box):
    from kszws.batch.dropbox import MAX_PER_PEER

    _, config = session(box)
    sockets = []
    try:
        for _ in range(MAX_PER_PEER + 5):
            sockets.append(socket.create_connection(("127.0.0.1", config.port), timeout=5))
        time.sleep(1)
        closed = 0
        for sock in sockets:
            sock.settimeout(2)
            try:
                banner = sock.recv(64)
            except socket.timeout:
                banner = b"waiting"
            closed += banner == b""
        assert closed >= 5
    finally:
        for sock in sockets:
            sock.close()


def test_a_file_leaves_nothing_in_the_spool(box, tmp_path):
    spool = Path(box.settings.data_dir) / "batch" / "spool"
    before = set(spool.iterdir()) if spool.exists() else set()
    accepted = "FI.IDPR.170001.%s.00204.R" % TODAY
    refused = "FI.IDPR.170001.%s.00205.R" % TODAY
    submit(box, tmp_path, prepare(box, tmp_path, accepted, batch_body()))
    submit(box, tmp_path, prepare(box, tmp_path, refused, batch_body(), sign=False))
    fetched(box, tmp_path, "NOTI", accepted)
    assert acrf_of(box, tmp_path, str(names.parse(refused).as_("GO")))[:2] == (
        ["ACRF-040"], "0")
    deadline = time.monotonic() + 10
    while set(spool.iterdir()) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(spool.iterdir()) - before == set()
    assert ls(box, EUPEN, "/IN") == []


def test_the_hubs_sequence_numbers_never_repeat():
    samples = list(range(1, 200)) + list(range(99_900, 100_100)) + [
        100_000 + 36 ** 4 - 1, 100_000 + 36 ** 4, 100_000 + 26 * 36 ** 4 - 1]
    seqs = [outbox.sequence(n) for n in samples]
    assert len(set(seqs)) == len(seqs)
    assert all(len(s) == 5 and s.isalnum() and s.isupper() or s.isdigit() for s in seqs)
    assert (outbox.sequence(99_999), outbox.sequence(100_000)) == ("99999", "A0000")
    with pytest.raises(ValueError):
        outbox.sequence(100_000 + 26 * 36 ** 4)
    for seq in seqs:  # each one a name of the grammar
        names.parse("FO.ACRF.999999.20261201.%s.R" % seq)


@pytest.mark.parametrize("odd, expected", [
    ("1970", ("19", "70", "00", "00")), ("", ("00", "00", "00", "00")),
    (None, ("00", "00", "00", "00")), ("1970-1x-05", ("19", "70", "00", "05")),
    ("1970-10-08", ("19", "70", "10", "08"))])
def test_an_odd_date_from_the_source_is_written_with_zeros(odd, expected):
    element = xm25.date(etree.Element("x"), odd)
    assert tuple(c.text for c in element) == expected


def test_an_odd_postal_code_from_the_source_still_gives_a_street_code():
    element = etree.Element("{%s}Address" % xm25.NS)
    xm25._street(element, {"postalCode": "B-4700", "streetCode": 3005, "street": "Hauptstraße",
                           "streetNames": []}, "de")
    assert element.findtext("{%s}Street/{%s}Code" % (xm25.NS, xm25.NS)) == "47003005"



@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A drop box with a quota of 7,000 bytes per institution and a 2 s lease."""
    from tests.netfixture import make_project, start_network, stop_network

    settings = make_project(tmp_path_factory.mktemp("quota"))
    conf = settings.conf_dir / "batch.toml"
    text = conf.read_text()
    for key, value in (("max_queued_bytes", "7000"), ("lease_seconds", "2")):
        text = "\n".join(("%s = %s" % (key, value) if line.startswith(key + " ") else line)
                         for line in text.splitlines())
    conf.write_text(text + "\n")
    hub = start_network(settings)
    yield hub
    stop_network(hub)


def test_an_institution_cannot_queue_beyond_its_quota(small, tmp_path):
    """What waits in IN, and what waits accepted but unprocessed, each stays within the
    institution's quota; a file refused for it (ACRF-070) can be sent again later, and
    nothing accepted is lost."""
    from tests.netfixture import Source

    body = batch_body(records=40)  # with its FS: two fit in the quota, three do not
    assert 2 * (len(body) + 400) < 7000 < 3 * len(body)
    big = "FI.IDPR.170001.%s.00301.R" % TODAY
    (tmp_path / big).write_bytes(body * 3)
    put = sftp_put(small, tmp_path, big)
    assert put.returncode != 0 and ls(small, EUPEN, "/IN") == []  # cut, then removed
    small.source.stop()  # accepted files now wait: the source does not answer
    try:
        waiting = []
        for seq in (302, 303):
            name = "FI.IDPR.170001.%s.%05d.R" % (TODAY, seq)
            submit(small, tmp_path, prepare(small, tmp_path, name, body))
            assert acrf_of(small, tmp_path, str(names.parse(name).as_("GO")))[:2] == ([], "1")
            waiting.append(name)
        third = "FI.IDPR.170001.%s.00304.R" % TODAY
        submit(small, tmp_path, prepare(small, tmp_path, third, body))
        assert acrf_of(small, tmp_path, str(names.parse(third).as_("GO")))[:2] == (
            ["ACRF-070"], "0")
    finally:
        small.source = Source(small.settings).start()
    for name in waiting:  # answered once the source is back
        assert len(fetched(small, tmp_path, "IDPR", name, wait=60).findall(
            ".//{%s}Result" % RESULT)) == 40
    again = "FI.IDPR.170001.%s.00305.R" % TODAY
    submit(small, tmp_path, prepare(small, tmp_path, again, body))
    assert acrf_of(small, tmp_path, str(names.parse(again).as_("GO")))[:2] == ([], "1")


def sftp_put(hub, tmp_path, name):
    from tests.test_batch_channel import sftp

    return sftp(hub, EUPEN, "put %s /IN/%s" % (tmp_path / name, name))


def test_files_written_at_once_share_the_quota(small, tmp_path):
    """Three files opened together cannot each take the whole quota (each was told the
    room left when it was opened); the one cut is removed, and TDs empty IN."""
    client, _ = session(small)
    opened = ["FI.IDPR.170001.%s.%05d.R" % (TODAY, seq) for seq in (311, 312, 313)]
    handles = {n: client.sftp.open("/IN/%s" % n, "wb", bufsize=0) for n in opened}
    refused = set()
    try:
        for _ in range(8):  # 8 x 400 bytes each, in turns: 9,600 bytes asked for
            for name, handle in handles.items():
                if name not in refused:
                    try:
                        handle.write(b"x" * 400)
                    except OSError:
                        refused.add(name)
        sizes = {a.filename: a.st_size for a in client.sftp.listdir_attr("/IN")}
        recheck = 7000 // 16
        assert refused and sum(sizes.values()) <= 7000 + len(opened) * recheck, sizes
    finally:
        for handle in handles.values():
            try:
                handle.close()
            except OSError:
                pass
        for name in opened:
            client.put_bytes(b"", str(names.parse(name).as_("TD")))
        client.close()
    assert _in_empty(small)


def test_a_go_and_a_td_get_in_when_in_is_full(small, tmp_path):
    """IN full: an FS is refused, but the GO still gets in (and takes the FI: no
    FS, ACRF-040), as does a TD, so a sender can always empty its IN."""
    for seq, trigger in ((321, "GO"), (322, "TD")):
        name = names.parse("FI.IDPR.170001.%s.%05d.R" % (TODAY, seq))
        (tmp_path / str(name)).write_bytes(b"<" + b"x" * 6999)  # the whole quota
        assert sftp_put(small, tmp_path, str(name)).returncode == 0
        (tmp_path / str(name.as_("FS"))).write_bytes(b"A" * 300)
        assert sftp_put(small, tmp_path, str(name.as_("FS"))).returncode != 0
        (tmp_path / str(name.as_(trigger))).write_bytes(b"")
        assert sftp_put(small, tmp_path, str(name.as_(trigger))).returncode == 0
        if trigger == "GO":
            assert acrf_of(small, tmp_path, str(name.as_("GO")))[0] == ["ACRF-040"]
        assert _in_empty(small)


def test_a_handle_kept_open_after_a_td_writes_no_further(small, tmp_path):
    client, _ = session(small)
    name = names.parse("FI.IDPR.170001.%s.00331.R" % TODAY)
    handle = client.sftp.open("/IN/%s" % name, "wb", bufsize=0)
    try:
        handle.write(b"<x/>")
        client.put_bytes(b"", str(name.as_("TD")))
        assert _in_empty(small)
        with pytest.raises(OSError):
            handle.write(b"y" * 1000)  # into the removed file: refused
    finally:
        try:
            handle.close()
        except OSError:
            pass
        client.close()


def test_a_file_that_fails_every_time_is_answered_not_retried_for_ever(small, tmp_path):
    """An accepted file whose spool is gone fails each attempt (not a source that does
    not answer: that waits): after MAX_ATTEMPTS it is answered as it stands, its NOTI
    saying why, with its log row, and the hub goes on."""
    from kszws.batch.processing import MAX_ATTEMPTS
    from kszws.store.schema import batch_file
    from sqlalchemy import select
    from tests.netfixture import Source

    name = "FI.IDPR.170001.%s.00341.R" % TODAY
    small.source.stop()  # the file waits, accepted
    try:
        submit(small, tmp_path, prepare(small, tmp_path, name, batch_body(records=3)))
        go = str(names.parse(name).as_("GO"))
        assert acrf_of(small, tmp_path, go)[:2] == ([], "1")
        db = database_from_settings(small.settings)
        with db.engine.connect() as conn:
            row = conn.execute(select(batch_file).where(batch_file.c.name == go)).mappings().one()
        import shutil

        shutil.rmtree(row["spool"])  # its files lost (a disk mishap)
    finally:
        small.source = Source(small.settings).start()
    noti = fetched(small, tmp_path, "NOTI", name, wait=60 + 5 * MAX_ATTEMPTS)
    assert "could not be read" in noti.findtext("{%s}Error" % RESULT)
    with db.engine.connect() as conn:
        row = conn.execute(select(batch_file).where(batch_file.c.name == go)).mappings().one()
    assert row["state"] == "done" and row["attempts"] == MAX_ATTEMPTS
    rows = exchange_log.search(db, caller=EUPEN, limit=50)
    assert any(r["reason_code"] == "BAT00001" for r in rows)
    db.dispose()
    again = "FI.IDPR.170001.%s.00342.R" % TODAY  # the hub goes on
    submit(small, tmp_path, prepare(small, tmp_path, again, batch_body(records=3)))
    assert len(fetched(small, tmp_path, "IDPR", again).findall(".//{%s}Result" % RESULT)) == 3


def _in_empty(hub, wait=10):
    deadline = time.monotonic() + wait
    while ls(hub, EUPEN, "/IN") and time.monotonic() < deadline:
        time.sleep(0.2)
    return ls(hub, EUPEN, "/IN") == []
