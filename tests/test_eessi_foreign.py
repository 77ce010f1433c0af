"""Pushing abroad over real HTTPS: the hub and the demo's German access point (`kszws
source foreign-ap`) as two processes with their own keys and stores. A Belgian SED reaches
the German side with a valid receipt; with the German access point down, the hub retries
until it is up; down for good, the Belgian sender finds EBMS:0202 in its pull channel."""
import re
import time

import pytest
import requests
from lxml import etree

from kszws.eessi import ebms, mime, signature
from kszws.hub import exchange_log
from kszws.security import keystore
from kszws.store import Database
from tests import eessitools
from tests.netfixture import (ForeignAccessPoint, free_port, make_project, start_network,
                              stop_network)

TLS = {"tls_certificate": '"certs/kszws-hub.crt"', "tls_key": '"certs/kszws-hub.key"',
       "tls_client_ca": '"certs/ca.crt"'}
OUTBOX = "/EESSI/BusinessMessaging/v0.0/Outbox/Service.svc"
INBOX = "/EESSI/BusinessMessaging/v0.0/Inbox/Service.svc"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("eessi-foreign"), settings={
        **TLS, "tls_port": str(free_port()), "push_interval_seconds": "0.3",
        "first_retry_seconds": "0.5", "max_attempts": "6"})  # 0.5 + 1 + 2 + 4 + 8 s
    running = start_network(settings)
    yield running
    stop_network(running)


def post(settings, url, cert_name, content_type, body, ca="ca.crt"):
    cert = settings.certs_dir / cert_name
    return requests.post(url, data=body, headers={"Content-Type": content_type},
                         cert=(str(cert), str(keystore.key_path_for(cert))),
                         verify=str(settings.certs_dir / ca), timeout=30)


def send_from_rsz(hub, case_id):
    rsz = keystore.load_signing_identity(hub.settings.certs_dir / "rsz-onss.crt")
    message = eessitools.user_message("BE:RSZ01", "DE:101002970", eessitools.now(),
                                      conversation=case_id)
    payload = eessitools.sed("BE:RSZ01", "DE:101002970", case_id=case_id)
    reply = post(hub.settings, hub.https_url + OUTBOX, "rsz-onss.crt",
                 *eessitools.package(message, payload, rsz))
    assert ebms.read(etree.fromstring(reply.content)).kind == "receipt", reply.content[:400]
    return message


def state_of(settings, message_id):
    from sqlalchemy import select
    from kszws.store.schema import as4_message
    db = Database(settings.store_url)
    try:
        with db.engine.connect() as conn:
            return conn.execute(select(as4_message.c.state, as4_message.c.attempts).where(
                as4_message.c.message_id == message_id)).first()
    finally:
        db.dispose()


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("not within %ss" % timeout)


def pull(settings, url, cert_name, mpc, ca="ca.crt"):
    key = keystore.load_signing_identity(settings.certs_dir / cert_name)
    request = ebms.pull_request_envelope(mpc, eessitools.now())
    signature.sign(request, {}, key)
    return post(settings, url + INBOX, cert_name, *mime.write(etree.tostring(request), []),
                ca=ca)


def german_url(settings):
    import re
    text = (settings.conf_dir / "eessi" / "repository.toml").read_text()
    return re.search(r'endpoint = "(https://127\.0\.0\.1:\d+)', text).group(1)


def test_a_belgian_sed_reaches_the_german_side_with_a_valid_receipt(hub):
    german = ForeignAccessPoint(hub.settings, "DE", hub.https_url).start()
    try:
        message = send_from_rsz(hub, "case-out-1")
        wait_for(lambda: state_of(hub.settings, message.message_id)[0] == "delivered")
        got = pull(hub.settings, german_url(hub.settings), "eessi/DE-APDE01.crt",
                   ebms.mpc_of("DE:101002970"), ca="eessi/DE-ca.crt")
        package = mime.read(got.headers["Content-Type"], got.content)
        assert ebms.read(etree.fromstring(package.envelope)).message_id == message.message_id
    finally:
        german.stop()
    db = Database(hub.settings.store_url)
    try:
        rows = exchange_log.search(db, service="EESSI", caller="BE:RSZ01")
    finally:
        db.dispose()
    forward = [r for r in rows if r["operation"] == "forward"]
    assert forward[0]["outcome"] == "OK" and "delivered to DE:APDE01" in forward[0]["detail"]


def test_the_hub_retries_until_the_german_side_is_up(hub):
    message = send_from_rsz(hub, "case-out-2")
    wait_for(lambda: (state_of(hub.settings, message.message_id)[1] or 0) >= 1)
    german = ForeignAccessPoint(hub.settings, "DE", hub.https_url).start()
    try:
        wait_for(lambda: state_of(hub.settings, message.message_id)[0] == "delivered")
    finally:
        german.stop()


def test_down_for_good_the_sender_is_told_delivery_failure(hub):
    message = send_from_rsz(hub, "case-out-3")
    wait_for(lambda: state_of(hub.settings, message.message_id)[0] == "failed")
    for _ in range(5):  # earlier tests may have left the channel other signals
        reply = pull(hub.settings, hub.https_url, "rsz-onss.crt", ebms.mpc_of("BE:RSZ01"))
        signal = ebms.read(etree.fromstring(reply.content))
        if signal.kind == "error" and signal.errors[0][0] != "EBMS:0006":
            break
    assert signal.errors[0][0] == "EBMS:0202"
    assert signal.ref_to_message_id == message.message_id
    assert "after 6 attempts" in signal.errors[0][2]


@pytest.fixture(scope="module")
def idle_hub(tmp_path_factory):
    """A hub whose push loop ticks once an hour: only the kick of an accepted message
    (eessi/msh.py on_outbound) can push anything in time."""
    settings = make_project(tmp_path_factory.mktemp("eessi-kick"), settings={
        **TLS, "tls_port": str(free_port()), "push_interval_seconds": "3600"})
    running = start_network(settings)
    yield running
    stop_network(running)


def test_what_is_accepted_for_abroad_is_pushed_at_once_both_ways(idle_hub):
    hub = idle_hub
    german = ForeignAccessPoint(hub.settings, "DE", hub.https_url).start()
    try:
        # Belgium -> Germany: the hub's pusher, woken by the accepted SED.
        message = send_from_rsz(hub, "case-kick-1")
        wait_for(lambda: state_of(hub.settings, message.message_id)[0] == "delivered", 15)
        # Germany -> Belgium: a German institution's SED, through the German access point
        # (its pusher woken the same way); RSZ pulls it, and its receipt, woken again,
        # travels on to Germany.
        rc, out, err = kszws(hub.settings, "eessi", "send",
                             str(hub.settings.project_root / "examples" / "eessi" / "A003.xml"),
                             "--as", "DE:101002970", "--to", "BE:RSZ01", "--buc", "LA_BUC_02")
        assert rc == 0, out + err
        case = re.search(r"case (\S+)\)", out).group(1)

        def pulled():
            rc, out, err = kszws(hub.settings, "eessi", "pull", "--as", "rsz-onss", "--ack")
            return out if "A003 in case %s" % case in out else None
        assert "receipt sent" in wait_for(pulled, 15)
        receipt = wait_for(lambda: _forwarded_receipt(hub.settings), 15)
        assert receipt == "delivered"
    finally:
        german.stop()


def _forwarded_receipt(settings):
    """'delivered' once the hub forwarded a receipt abroad (this hub's only one)."""
    db = Database(settings.store_url)
    try:
        rows = exchange_log.search(db, service="EESSI", limit=500)
    finally:
        db.dispose()
    return "delivered" if any(r["operation"] == "forward" and r["outcome"] == "OK"
                              and r["detail"].startswith("receipt ") for r in rows) else None


def kszws(settings, *args):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "kszws", "--conf", str(settings.conf_dir),
                           *args], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_the_german_round_trip_by_the_cli(hub):
    """The demo's story: DE sends an A003 about a Belgian worker to RSZ, RSZ pulls it (its
    receipt travels back), answers with an A004 in the same case, the German side pulls
    it with a valid receipt; the worker's log rows show each step."""
    import re
    examples = hub.settings.project_root / "examples" / "eessi"
    german = ForeignAccessPoint(hub.settings, "DE", hub.https_url).start()
    try:
        rc, out, err = kszws(hub.settings, "eessi", "send", str(examples / "A003.xml"), "--as",
                             "DE:101002970", "--to", "BE:RSZ01", "--buc", "LA_BUC_02")
        assert rc == 0, out + err
        case = re.search(r"case (\S+)\)", out).group(1)
        first = re.search(r"message (\S+)", out).group(1)

        def pulled():
            rc, out, err = kszws(hub.settings, "eessi", "pull", "--as", "rsz-onss", "--ack")
            return out if "A003 in case %s" % case in out else None
        out = wait_for(pulled)
        assert "receipt sent" in out and "70100853190" in out
        wait_for(lambda: state_of(hub.settings, first)[0] == "delivered")

        rc, out, err = kszws(hub.settings, "eessi", "send", str(examples / "A004.xml"), "--as",
                             "rsz-onss", "--to", "DE:101002970", "--buc", "LA_BUC_02",
                             "--case", case)
        assert rc == 0 and "(reply, case %s)" % case in out, out + err
        answer = re.search(r"message (\S+)", out).group(1)
        wait_for(lambda: state_of(hub.settings, answer)[0] == "delivered")

        def pulled_in_germany():
            rc, out, err = kszws(hub.settings, "eessi", "pull", "--as", "DE:101002970", "--ack")
            return out if "A004 in case %s" % case in out else None
        assert "receipt sent" in wait_for(pulled_in_germany)
    finally:
        german.stop()
    db = Database(hub.settings.store_url)
    try:
        rows = exchange_log.search(db, subject="70100853190", service="EESSI")
    finally:
        db.dispose()
    pushes = [r["detail"] for r in rows if r["operation"] == "push" and r["outcome"] == "OK"]
    assert [d.split(" in case")[0] for d in pushes] == [
        "sent abroad to DE:101002970 by BE:RSZ01",  # newest first
        "received from abroad: DE:101002970 for BE:RSZ01"]
