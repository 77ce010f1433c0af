"""The access point's message service handler in process, on a real store (SQLite, and
PostgreSQL when configured) with real keys: push, duplicate, pull, receipts, and each rule
that refuses a message with its ebMS error, nothing stored. The same over HTTPS:
test_eessi_e2e.py."""
import base64
import datetime
import gzip
import hashlib
from unittest import mock

import pytest
from lxml import etree
from sqlalchemy import func, select
from twisted.internet import defer

from kszws.eessi import ebms, mime, msh, repository, signature
from kszws.eessi.errors import EbmsError
from kszws.registry import load_registry
from kszws.security import keystore
from kszws.security.authn import Transport
from kszws.store import db as db_module
from kszws.store.schema import as4_message
from kszws.wire.ns import DS, EB, WSSE, q
from tests import eessitools
from tests.netfixture import make_project

WORKER = "85073003328"  # a Belgian worker of the demo register (check digits valid)
REPLACED = "85073003427"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("eessi"))
    registry = load_registry(settings)
    repo, catalogue = repository.load(settings, registry)
    return settings, registry, repo, catalogue


def identity_of(path):
    return keystore.load_signing_identity(path)


@pytest.fixture(scope="module")
def keys(project):
    settings, registry, _, _ = project
    return {
        "hub": identity_of(registry.hub.certificates[0]),
        "DE": identity_of(settings.certs_dir / "eessi" / "DE-APDE01.crt"),
        "RSZ": identity_of(registry.institutions["rsz-onss"].certificates[0]),
        "RVA": identity_of(registry.institutions["onem-rva"].certificates[0]),
    }


class Log:
    def __init__(self):
        self.rows = []

    def record(self, exchange):
        self.rows.append(exchange)
        return defer.succeed(len(self.rows))


class Replays:
    def __init__(self):
        self.seen = set()

    def claim(self, token, until):
        new = token not in self.seen
        self.seen.add(token)
        return defer.succeed(new)


def register(ssins):
    """The National Register as the access point asks it: WORKER lives, REPLACED was
    replaced by WORKER, anything else is unknown."""
    current = []
    for ssin in ssins:
        if ssin not in (WORKER, REPLACED):
            return defer.fail(EbmsError("EBMS:0004", "rule: the Belgian PIN %s designates no "
                                                     "person" % ssin))
        current.append(WORKER)
    return defer.succeed(current)


@pytest.fixture
def ap(project, keys, db):
    settings, registry, repo, catalogue = project
    point = msh.AccessPoint(repo, catalogue, msh.build_trust(repo, registry), keys["hub"], db,
                            Log(), Replays(), lambda: eessitools.now(), register,
                            sed_cap=1024 * 1024)
    # No reactor here: the store's work runs in place of in a thread.
    with mock.patch.object(db_module.threads, "deferToThread",
                           lambda f, *a, **k: defer.maybeDeferred(f, *a, **k)):
        yield point


def answer(ap, content_type, body, box="Outbox", transport=None):
    """The handler's Answer, the request sent over TLS with the signer's certificate."""
    if transport is None:
        transport = Transport("127.0.0.1", b"", _signer_der(content_type, body), True)
    fired = []
    ap.handle(box, transport, body, content_type).addBoth(fired.append)
    assert len(fired) == 1 and isinstance(fired[0], msh.Answer), fired
    return fired[0]


def push(ap, signer, sender="DE:101002970", receiver="BE:RSZ01", payload=None,
         compressed=None, message=None, **sed):
    message = message or eessitools.user_message(sender, receiver, eessitools.now())
    payload = payload or eessitools.sed(sender, receiver, **sed)
    return message, answer(ap, *eessitools.package(message, payload, signer,
                                                   compressed=compressed))


def _signer_der(content_type, body):
    try:
        root = etree.fromstring(mime.read(content_type, body).envelope)
        token = root.find(".//{%s}BinarySecurityToken" % WSSE)
        return base64.b64decode(token.text) if token is not None else b""
    except Exception:
        return b""  # garbage: no signature to take the certificate of


def error_of(reply):
    signal = ebms.read(etree.fromstring(reply.body))
    assert signal.kind == "error", signal
    return signal.errors[0]


def rows(db):
    with db.engine.begin() as conn:
        return conn.execute(select(as4_message.c.message_id, as4_message.c.direction,
                                   as4_message.c.state, as4_message.c.mpc)
                            .order_by(as4_message.c.id)).all()


def pull_request(signer, mpc, when=None):
    env = ebms.pull_request_envelope(mpc, when or eessitools.now())
    signature.sign(env, {}, signer)
    return mime.write(etree.tostring(env), [])


def receipt_from(signer, message, references, tamper=False):
    env = ebms.receipt_envelope(message, references, eessitools.now())
    if tamper:
        env.find(".//" + q(DS, "DigestValue")).text = base64.b64encode(b"\0" * 32).decode()
    signature.sign(env, {}, signer)
    return mime.write(etree.tostring(env), [])


# --- push ---------------------------------------------------------------------------------

def test_a_foreign_sed_is_received_with_a_signed_receipt_and_waits_in_the_channel(ap, keys, db,
                                                                                    project):
    message, reply = push(ap, keys["DE"], ssins=[WORKER])
    assert reply.status == 200
    receipt_root = etree.fromstring(reply.body)
    trust = keystore.TrustStore()
    trust.add(keys["hub"].certificate, "BE:APBE01")
    assert signature.verify(receipt_root, {}, trust, eessitools.now()).principal == "BE:APBE01"
    receipt = ebms.read(receipt_root)
    assert receipt.kind == "receipt" and receipt.ref_to_message_id == message.message_id
    assert [r[0][:4] for r in receipt.references] == ["#hea", "#bod", "cid:"]
    assert rows(db) == [(message.message_id, "in", "waiting", ebms.mpc_of("BE:RSZ01"))]
    row = ap.exchange_log.rows[-1]
    assert (row.outcome, row.operation, row.caller, row.legal_context) == (
        "OK", "push", "DE:APDE01", "LA_BUC_02")
    assert row.ssins == {WORKER} and "A003" in row.detail and "DE:101002970" in row.detail


def test_a_resent_message_gets_the_first_receipt_and_is_stored_once(ap, keys, db):
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now())
    payload = eessitools.sed("DE:101002970", "BE:RSZ01")
    first = answer(ap, *eessitools.package(message, payload, keys["DE"]))
    again = answer(ap, *eessitools.package(message, payload, keys["DE"]))
    assert again.body == first.body and len(rows(db)) == 1
    assert ap.exchange_log.rows[-1].detail.startswith("duplicate")


def test_a_replaced_ssin_is_logged_as_the_current_one(ap, keys):
    push(ap, keys["DE"], ssins=[REPLACED])
    assert ap.exchange_log.rows[-1].ssins == {WORKER}


def test_a_belgian_sed_for_abroad_is_pending_its_push(ap, keys, db):
    message, reply = push(ap, keys["RSZ"], sender="BE:RSZ01", receiver="DE:101002970")
    assert ebms.read(etree.fromstring(reply.body)).kind == "receipt"
    assert rows(db) == [(message.message_id, "out", "pending", None)]


# --- refusals: an error signal, nothing stored ----------------------------------------------

@pytest.mark.parametrize("sed, code, says", [
    (dict(sed_type="P2000"), "EBMS:0004", "SED P2000 is not allowed in LA_BUC_02"),
    (dict(sed_type="A004"), "EBMS:0004", "SED A004 cannot start a case of LA_BUC_02"),
    (dict(opens=False, case_id="no-such-case"), "EBMS:0004", "case no-such-case is unknown"),
    (dict(buc="P_BUC_01", sed_type="P2000"), "EBMS:0004",
     "does not take part in P_BUC_01 as CounterParty"),
    (dict(buc="NO_BUC", sed_type="A003"), "EBMS:0004", "BUC NO_BUC is not in the catalogue"),
    (dict(ssins=["85073003337"]), "EBMS:0004", "is not a valid SSIN"),
    (dict(ssins=["85073003526"]), "EBMS:0004", "designates no person"),
])
def test_a_sed_that_breaks_a_rule_is_refused_and_not_stored(ap, keys, db, sed, code, says):
    message, reply = push(ap, keys["DE"], **sed)
    assert reply.status == 200
    got = error_of(reply)
    assert got[:2] == (code, "failure") and says in got[2], got
    assert rows(db) == []
    row = ap.exchange_log.rows[-1]
    assert (row.outcome, row.reason_code) == ("REFUSED", code)


def test_a_starter_for_an_existing_case_is_refused(ap, keys, db):
    push(ap, keys["DE"], case_id="case-7")
    _, reply = push(ap, keys["DE"], case_id="case-7")
    assert "case case-7 already exists" in error_of(reply)[2]
    _, reply = push(ap, keys["DE"], case_id="case-7", opens=False, sed_type="A004")
    assert ebms.read(etree.fromstring(reply.body)).kind == "receipt"  # the next SED passes
    assert len(rows(db)) == 2


def test_an_unknown_or_expired_party_is_refused(ap, keys, db):
    _, reply = push(ap, keys["DE"], receiver="BE:NOPE1")
    assert "BE:NOPE1 is not in the Institution Repository" in error_of(reply)[2]
    _, reply = push(ap, keys["DE"], sender="DE:101002972", receiver="BE:RVA01",
                    buc="UB_BUC_01", sed_type="U001")
    assert "DE:101002972 is not valid on" in error_of(reply)[2]
    assert rows(db) == []


def test_an_exchange_between_two_belgian_institutions_is_refused(ap, keys, db):
    _, reply = push(ap, keys["RSZ"], sender="BE:RSZ01", receiver="BE:RVA01", buc="H_BUC_01",
                    sed_type="H001")
    assert "not an international exchange" in error_of(reply)[2]
    assert rows(db) == []


def test_a_sed_inflating_beyond_the_cap_is_a_decompression_failure(ap, keys, db):
    bomb = gzip.compress(b"<a>" + b" " * (4 * 1024 * 1024) + b"</a>")
    _, reply = push(ap, keys["DE"], compressed=bomb)
    assert error_of(reply)[0] == "EBMS:0303" and rows(db) == []


def test_a_tampered_attachment_fails_authentication(ap, keys, db):
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now())
    content_type, body = eessitools.package(message, eessitools.sed("DE:101002970",
                                                                     "BE:RSZ01"), keys["DE"])
    package = mime.read(content_type, body)
    forged = gzip.compress(eessitools.sed("DE:101002970", "BE:RSZ01", sed_type="A012"))
    reply = answer(ap, *mime.write(package.envelope,
                                   [("defaultSED", "application/gzip", forged)]))
    code, _, detail = error_of(reply)
    assert code == "EBMS:0101" and "cid:defaultSED" in detail and rows(db) == []
    error = etree.fromstring(reply.body).find(".//" + q(EB, "Error"))
    assert error.get("refToMessageInError") == message.message_id


def test_a_signer_may_not_send_for_another_party(ap, keys, db):
    _, reply = push(ap, keys["RSZ"])  # RSZ's key, a message from the German institution
    assert error_of(reply)[0] == "EBMS:0101" and rows(db) == []


def test_an_internal_error_asks_the_sender_to_resend(ap, keys, db):
    ap.persons = lambda ssins: defer.fail(RuntimeError("register down"))
    _, reply = push(ap, keys["DE"])
    assert reply.status == 503 and error_of(reply)[0] == "EBMS:0201"
    assert ap.exchange_log.rows[-1].outcome == "ERROR" and rows(db) == []


def test_garbage_gets_an_error_signal_and_a_log_row(ap, keys):
    tls = Transport("127.0.0.1", b"", keys["RSZ"].certificate.der, True)
    for content_type, body in [("text/plain", b"hello"),
                               ("application/soap+xml", b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>"),
                               ("application/soap+xml", b"<x/>")]:
        reply = answer(ap, content_type, body, transport=tls)
        assert reply.status == 200 and error_of(reply)[0] in ("EBMS:0007", "EBMS:0009")
    assert [r.outcome for r in ap.exchange_log.rows] == ["REFUSED"] * 3


# --- pull and the receiver's receipt --------------------------------------------------------

def test_the_receiver_pulls_the_message_as_it_arrived_then_the_channel_is_empty(ap, keys, db):
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now())
    sent = eessitools.package(message, eessitools.sed("DE:101002970", "BE:RSZ01"), keys["DE"])
    answer(ap, *sent)
    pulled = answer(ap, *pull_request(keys["RSZ"], ebms.mpc_of("BE:RSZ01")), box="Inbox")
    assert (pulled.content_type, pulled.body) == sent  # byte for byte, signature intact
    assert rows(db)[0][2] == "pulled"
    empty = answer(ap, *pull_request(keys["RSZ"], ebms.mpc_of("BE:RSZ01")), box="Inbox")
    assert error_of(empty)[:2] == ("EBMS:0006", "warning")
    assert ap.exchange_log.rows[-1].outcome == "OK"


def test_only_the_owner_pulls_its_channel(ap, keys):
    reply = answer(ap, *pull_request(keys["RVA"], ebms.mpc_of("BE:RSZ01")), box="Inbox")
    assert error_of(reply)[0] == "EBMS:0010"


def test_a_replayed_or_stale_pull_request_is_refused(ap, keys):
    request = pull_request(keys["RSZ"], ebms.mpc_of("BE:RSZ01"))
    answer(ap, *request, box="Inbox")
    assert "replay" in error_of(answer(ap, *request, box="Inbox"))[2]
    stale = pull_request(keys["RSZ"], ebms.mpc_of("BE:RSZ01"),
                         eessitools.now() - datetime.timedelta(minutes=20))
    assert error_of(answer(ap, *stale, box="Inbox"))[0] == "EBMS:0103"


def test_the_receivers_receipt_marks_the_message_delivered(ap, keys, db):
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now())
    sent = eessitools.package(message, eessitools.sed("DE:101002970", "BE:RSZ01"), keys["DE"])
    answer(ap, *sent)
    pulled = answer(ap, *pull_request(keys["RSZ"], ebms.mpc_of("BE:RSZ01")), box="Inbox")
    package = mime.read(pulled.content_type, pulled.body)
    root = etree.fromstring(package.envelope)
    trust = keystore.TrustStore()
    trust.add(keys["DE"].certificate, "DE:APDE01")
    verified = signature.verify(root, package.attachments, trust, eessitools.now())

    wrong = answer(ap, *receipt_from(keys["RSZ"], message, verified.references, tamper=True))
    assert error_of(wrong)[0] == "EBMS:0302"
    other = answer(ap, *receipt_from(keys["RVA"], message, verified.references))
    assert error_of(other)[0] == "EBMS:0101"
    assert rows(db)[0][2] == "pulled"

    ok = answer(ap, *receipt_from(keys["RSZ"], message, verified.references))
    assert (ok.status, ok.body) == (200, b"")
    delivered, forwarded = rows(db)
    assert delivered[2] == "delivered"
    assert forwarded[1:] == ("out", "pending", None)  # the receipt travels on to Germany
    assert ap.exchange_log.rows[-1].detail == "receipt for %s" % message.message_id


def test_a_receipt_for_no_message_is_refused(ap, keys):
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now())
    reply = answer(ap, *receipt_from(keys["RSZ"], message, []))
    assert error_of(reply)[0] == "EBMS:0003"


def test_as4_needs_tls_with_the_signers_client_certificate(ap, keys, db, project):
    message = eessitools.user_message("DE:101002970", "BE:RSZ01", eessitools.now())
    request = eessitools.package(message, eessitools.sed("DE:101002970", "BE:RSZ01"),
                                 keys["DE"])
    plain = answer(ap, *request, transport=Transport("127.0.0.1", b"", b"", False))
    assert "TLS with a client certificate" in error_of(plain)[2]
    rsz_der = keys["RSZ"].certificate.der  # TLS as RSZ, signed by the German access point
    other = answer(ap, *request, transport=Transport("127.0.0.1", b"", rsz_der, True))
    assert "is neither DE:APDE01's nor its access point's" in error_of(other)[2]
    assert rows(db) == []


def test_a_doctype_inside_the_sed_is_refused_before_anything_is_read(ap, keys, db):
    payload = (b'<!DOCTYPE x SYSTEM "/etc/passwd">'
               + eessitools.sed("DE:101002970", "BE:RSZ01").split(b"?>", 1)[1])
    _, reply = push(ap, keys["DE"], payload=payload)
    code, _, detail = error_of(reply)
    assert code == "EBMS:0004" and "the SED payload is refused" in detail
    assert "passwd" not in detail and rows(db) == []


def test_pulls_of_one_channel_at_once_never_take_the_same_message(db):
    """Institutions pull with several clients at once (the benchmark does): each message
    goes to one of them. On PostgreSQL, without the row lock, two transactions read the
    same oldest row and both take it."""
    import threading

    from kszws.eessi import store
    now = eessitools.now()
    mpc = ebms.mpc_of("BE:RSZ01")
    with db.engine.begin() as conn:
        for i in range(120):
            store.accept(conn, message_id="m%d@test" % i, direction=store.IN, kind="user",
                         sender="DE:101002970", receiver="BE:RSZ01", mpc=mpc,
                         content_type="x", package=b"", digests={}, receipt=None, now=now)
    taken, start = [], threading.Barrier(6)

    def puller():
        start.wait()
        while True:
            with db.engine.begin() as conn:
                found = store.take_next(conn, mpc, now, now - datetime.timedelta(hours=1))
            if found is None:
                return
            taken.append(found.message_id)

    pullers = [threading.Thread(target=puller) for _ in range(6)]
    for p in pullers:
        p.start()
    for p in pullers:
        p.join()
    assert sorted(taken) == sorted("m%d@test" % i for i in range(120))
