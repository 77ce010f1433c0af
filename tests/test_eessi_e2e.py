"""The EESSI access point over real HTTPS on loopback, with client certificates and real
signatures: a German access point pushes a SED about a Belgian worker, RSZ pulls it and
sends its receipt; duplicates, an empty channel, a broken rule and a tampered attachment
each get their ebMS answer and a log row. The hub runs as `kszws serve` with the
National Register source."""
import gzip

import pytest
import requests
from lxml import etree

from kszws.eessi import ebms, mime, signature
from kszws.hub import exchange_log
from kszws.security import keystore
from kszws.store import Database
from tests import eessitools
from tests.netfixture import free_port, make_project, start_network, stop_network

TLS = {"tls_certificate": '"certs/kszws-hub.crt"', "tls_key": '"certs/kszws-hub.key"',
       "tls_client_ca": '"certs/ca.crt"'}
WORKER = "70100853190"  # Max Mustermann in the demo register
OUTBOX = "/EESSI/BusinessMessaging/v0.0/Outbox/Service.svc"
INBOX = "/EESSI/BusinessMessaging/v0.0/Inbox/Service.svc"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("eessi-e2e"),
                            settings={**TLS, "tls_port": str(free_port())})
    running = start_network(settings)
    yield running
    stop_network(running)


class Party:
    """One side of the AS4 legs: its TLS client certificate and its signing key."""

    def __init__(self, hub, cert_path):
        self.hub = hub
        self.tls = (str(cert_path), str(keystore.key_path_for(cert_path)))
        self.key = keystore.load_signing_identity(cert_path)

    def post(self, path, content_type, body, **kw):
        return requests.post(self.hub.https_url + path, data=body, cert=self.tls,
                             verify=str(self.hub.settings.certs_dir / "ca.crt"),
                             headers={"Content-Type": content_type}, timeout=30, **kw)


@pytest.fixture(scope="module")
def german(hub):
    return Party(hub, hub.settings.certs_dir / "eessi" / "DE-APDE01.crt")


@pytest.fixture(scope="module")
def rsz(hub):
    return Party(hub, hub.settings.certs_dir / "rsz-onss.crt")


def hub_trust(hub):
    from kszws.registry import load_registry
    trust = keystore.TrustStore()
    trust.add(keystore.load_certificate(load_registry(hub.settings).hub.certificates[0]), "BE")
    return trust


def signal_of(reply):
    return ebms.read(etree.fromstring(reply.content))


def log_rows(hub, service="EESSI"):
    db = Database(hub.settings.store_url)
    try:
        return sorted(exchange_log.search(db, service=service), key=lambda r: r["seq"])
    finally:
        db.dispose()


def access_log(hub, ssin):
    import datetime
    from kszws.registry import load_registry
    from kszws.services.directory import consultations
    db = Database(hub.settings.store_url)
    try:
        today = datetime.date.today()
        return consultations(db, load_registry(hub.settings), ssin, today, None,
                             datetime.datetime.now(datetime.timezone.utc))
    finally:
        db.dispose()


def push_from_germany(german, **sed):
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now(),
                                      conversation=sed.get("case_id", "case-1"))
    request = eessitools.package(message, eessitools.sed("DE:101002970", "BE:RSZ01", **sed),
                                 german.key)
    return message, request, german.post(OUTBOX, *request)


def test_a_sed_travels_from_germany_to_rsz_with_receipts_and_log_rows(hub, german, rsz):
    message, sent, reply = push_from_germany(german, case_id="case-e2e-1", ssins=[WORKER])
    assert reply.status_code == 200, reply.content[:500]
    receipt_root = etree.fromstring(reply.content)
    signature.verify(receipt_root, {}, hub_trust(hub), eessitools.now())
    assert ebms.read(receipt_root).ref_to_message_id == message.message_id

    again = german.post(OUTBOX, *sent)  # the German AP resends: the first receipt again
    assert again.content == reply.content

    pull = ebms.pull_request_envelope(ebms.mpc_of("BE:RSZ01"), eessitools.now())
    signature.sign(pull, {}, rsz.key)
    pulled = rsz.post(INBOX, *mime.write(etree.tostring(pull), []))
    assert pulled.status_code == 200
    assert (pulled.headers["Content-Type"], pulled.content) == sent  # byte for byte
    package = mime.read(pulled.headers["Content-Type"], pulled.content)
    trust = keystore.TrustStore()
    trust.add(german.key.certificate, "DE:APDE01")
    verified = signature.verify(etree.fromstring(package.envelope), package.attachments, trust,
                                eessitools.now())

    receipt = ebms.receipt_envelope(message, verified.references, eessitools.now())
    signature.sign(receipt, {}, rsz.key)
    delivered = rsz.post(OUTBOX, *mime.write(etree.tostring(receipt), []))
    assert (delivered.status_code, delivered.content) == (200, b"")

    # (the receipt's own push on to Germany, operation forward, is test_eessi_foreign's)
    rows = [r for r in log_rows(hub) if r["operation"] != "forward"]
    assert [(r["operation"], r["outcome"], r["caller"]) for r in rows[-4:]] == [
        ("push", "OK", "DE:APDE01"), ("push", "OK", "DE:APDE01"),
        ("pull", "OK", "BE:RSZ01"), ("receipt", "OK", "BE:RSZ01")]
    assert rows[-4]["detail"].startswith("received from abroad: DE:101002970 for BE:RSZ01 in "
                                         "case case-e2e-1 (LA_BUC_02 A003)")
    assert rows[-4]["subjects"] == [WORKER]
    # ... so the worker's "who consulted my data" shows it
    assert "EESSI: received from abroad: DE:101002970 for BE:RSZ01 in case case-e2e-1 " \
           "(LA_BUC_02 A003)" in [c["institution"] for c in access_log(hub, WORKER)]


def test_an_empty_channel_is_a_warning(hub, rsz):
    for _ in range(3):  # whatever earlier tests left waiting is taken first
        pull = ebms.pull_request_envelope(ebms.mpc_of("BE:RSZ01"), eessitools.now())
        signature.sign(pull, {}, rsz.key)
        reply = rsz.post(INBOX, *mime.write(etree.tostring(pull), []))
        if reply.headers["Content-Type"].startswith("application/soap+xml"):
            break
    assert signal_of(reply).errors[0][:2] == ("EBMS:0006", "warning")


def test_a_sed_not_allowed_in_its_buc_is_refused_with_the_rule(hub, german):
    _, _, reply = push_from_germany(german, case_id="case-e2e-2", sed_type="P2000")
    code, severity, detail = signal_of(reply).errors[0]
    assert (reply.status_code, code) == (200, "EBMS:0004")
    assert "SED P2000 is not allowed in LA_BUC_02" in detail
    assert log_rows(hub)[-1]["outcome"] == "REFUSED"


def test_an_unknown_ssin_is_refused_after_asking_the_register(hub, german):
    _, _, reply = push_from_germany(german, case_id="case-e2e-3", ssins=["85073003526"])
    assert "designates no person of the National Register" in signal_of(reply).errors[0][2]


def test_a_tampered_attachment_fails_authentication(hub, german):
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now())
    content_type, body = eessitools.package(
        message, eessitools.sed("DE:101002970", "BE:RSZ01", case_id="case-e2e-4"), german.key)
    package = mime.read(content_type, body)
    forged = gzip.compress(eessitools.sed("DE:101002970", "BE:RSZ01", case_id="case-e2e-5"))
    reply = german.post(OUTBOX, *mime.write(package.envelope,
                                            [("defaultSED", "application/gzip", forged)]))
    assert signal_of(reply).errors[0][0] == "EBMS:0101"


def test_plain_http_is_refused(hub, german):
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now())
    content_type, body = eessitools.package(
        message, eessitools.sed("DE:101002970", "BE:RSZ01", case_id="case-e2e-6"), german.key)
    reply = requests.post(hub.url + OUTBOX, data=body, headers={"Content-Type": content_type},
                          timeout=30)
    assert "TLS with a client certificate" in signal_of(reply).errors[0][2]


def test_an_unknown_party_is_refused(hub, german):
    message = eessitools.user_message("DE:101002970", "BE:NOPE1", eessitools.now())
    request = eessitools.package(message, eessitools.sed("DE:101002970", "BE:NOPE1",
                                                         case_id="case-e2e-7"), german.key)
    code, _, detail = signal_of(german.post(OUTBOX, *request)).errors[0]
    assert code == "EBMS:0004" and "BE:NOPE1 is not in the Institution Repository" in detail


def test_a_sed_inflating_beyond_the_cap_is_refused(hub, german):
    bomb = gzip.compress(b"<a>" + b" " * (9 * 1024 * 1024) + b"</a>")  # cap: 8 MiB
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now())
    request = eessitools.package(message, b"", german.key, compressed=bomb)
    code, _, detail = signal_of(german.post(OUTBOX, *request)).errors[0]
    assert code == "EBMS:0303" and "inflates beyond" in detail


@pytest.mark.parametrize("chunked", [False, True])
def test_a_message_over_the_size_limit_is_refused_unread_with_an_error_signal(hub, german,
                                                                              chunked):
    """A body beyond max_body_bytes (1 MB here) is dropped as it arrives, announced by its
    Content-Length or not (chunked): the sender gets EBMS:0004 signed by the hub, the log
    its row, and nothing is stored."""
    before = len(log_rows(hub))
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now())
    content_type, body = eessitools.package(
        message, eessitools.sed("DE:101002970", "BE:RSZ01"), german.key)
    body += b"\0" * (2 * 1024 * 1024)
    data = iter([body[i:i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    reply = german.post(OUTBOX, content_type, data)
    assert reply.status_code == 200
    root = etree.fromstring(reply.content)
    signature.verify(root, {}, hub_trust(hub), eessitools.now())
    code, severity, detail = ebms.read(root).errors[0]
    assert (code, severity) == ("EBMS:0004", "failure")
    assert "exceeds 1048576 bytes" in detail
    rows = log_rows(hub)
    assert len(rows) == before + 1
    assert (rows[-1]["outcome"], rows[-1]["reason_code"]) == ("REFUSED", "EBMS:0004")
    from sqlalchemy import func, select
    from kszws.store.schema import as4_message
    db = Database(hub.settings.store_url)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(as4_message).where(
                as4_message.c.message_id == message.message_id)).scalar() == 0
    finally:
        db.dispose()


def test_a_get_of_the_outbox_is_an_error_signal_with_its_log_row(hub, german):
    reply = requests.get(hub.https_url + OUTBOX, cert=german.tls, timeout=30,
                         verify=str(hub.settings.certs_dir / "ca.crt"))
    assert ebms.read(etree.fromstring(reply.content)).errors[0][0] == "EBMS:0004"
    assert log_rows(hub)[-1]["detail"].startswith("method GET")
