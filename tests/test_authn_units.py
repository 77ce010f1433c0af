"""Unit tests of security/authn.py, credentials.py and replay.py (issue 22): who the caller
is for each proof, the stored passwords and their files, and the replay cache's claims and
purges. In-process and fast: a small EC PKI, a registry built in the test."""
import base64
import datetime
import hashlib
import ipaddress
import json
import os
import stat
from types import SimpleNamespace

import pytest
from lxml import etree
from sqlalchemy import select

from kszws.registry.model import Institution, Registry, Service
from kszws.security import credentials as creds_mod
from kszws.security import pki, wsse
from kszws.security.authn import (ANONYMOUS, ANONYMOUS_PLAIN_HTTP, Authenticator, Caller,
                                  Transport, build_trust_store)
from kszws.security.credentials import Credentials, issue_passwords, new_password
from kszws.security.keystore import KeyStoreError, load_signing_identity
from kszws.security.replay import PURGE_EVERY, ReplayCache
from kszws.wire import soap
from kszws.wire.reasons import Refusal
from tests.soaptools import request_envelope

T0 = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.timezone.utc)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


# --- replay.py -------------------------------------------------------------------------------

def stored(db):
    from kszws.store.schema import replay_cache

    with db.engine.connect() as conn:
        return {r.token: r.expires_at for r in conn.execute(select(replay_cache))}


def claim(db, cache, items):
    with db.write_transaction() as cursor:
        return cache.apply(cursor, items)


def test_claim_submits_the_token_and_its_expiry_to_the_writer():
    submitted = []
    writer = SimpleNamespace(submit=lambda handler, item: submitted.append((handler, item))
                             or "deferred")
    cache = ReplayCache(None, writer, lambda: T0)
    assert cache.claim("t" * 64, T0) == "deferred"
    assert submitted == [(cache, ("t" * 64, T0))]


def test_a_token_twice_in_one_batch_is_stored_with_its_first_expiry(db):
    cache = ReplayCache(db, None, lambda: T0)
    first, second = T0 + datetime.timedelta(minutes=10), T0 + datetime.timedelta(minutes=20)
    assert claim(db, cache, [("a" * 64, first), ("a" * 64, second)]) == [True, False]
    assert stored(db) == {"a" * 64: first.replace(tzinfo=None)}


def test_the_first_claim_purges_what_expired_before_now(db):
    """The cache starts with a purge due (a worker that restarts cleans up at once), and a
    token expiring exactly now is kept: it could still be valid this instant."""
    early = ReplayCache(db, None, lambda: T0 - datetime.timedelta(minutes=10))
    claim(db, early, [("old" + "0" * 61, T0 - datetime.timedelta(seconds=1)),
                      ("now" + "0" * 61, T0)])
    cache = ReplayCache(db, None, lambda: T0)
    claim(db, cache, [("new" + "0" * 61, T0 + datetime.timedelta(minutes=5))])
    assert sorted(stored(db)) == ["new" + "0" * 61, "now" + "0" * 61]


def test_purges_happen_once_a_minute(db):
    clock = [T0]
    cache = ReplayCache(db, None, lambda: clock[0])
    claim(db, cache, [("a" * 64, T0 + datetime.timedelta(seconds=10))])  # purges, next at +60s
    clock[0] = T0 + PURGE_EVERY - datetime.timedelta(seconds=1)
    claim(db, cache, [("b" * 64, T0 + datetime.timedelta(minutes=5))])
    assert "a" * 64 in stored(db)  # expired, but the next purge is not due yet
    clock[0] = T0 + PURGE_EVERY
    claim(db, cache, [("c" * 64, T0 + datetime.timedelta(minutes=5))])
    assert sorted(stored(db)) == ["b" * 64, "c" * 64]
    assert PURGE_EVERY == datetime.timedelta(seconds=60)


# --- credentials.py --------------------------------------------------------------------------

def test_new_passwords_are_29_letters_and_digits_and_differ():
    passwords = {new_password() for _ in range(20)}
    assert len(passwords) == 20
    for password in passwords:
        assert len(password) == 29
        assert password.isascii() and password.isalnum()


def test_the_right_password_checks_and_others_do_not(tmp_path):
    store = Credentials(tmp_path / "credentials.json")
    store.set("E0207311071", "s3cret")
    assert store.check("E0207311071", "s3cret")
    assert not store.check("E0207311071", "s3creT")
    assert not store.check("E0207311071", "")
    assert not store.check("E0000000097", "s3cret")  # an unknown user
    assert "E0207311071" in store and "E0000000097" not in store


def test_passwords_are_stored_as_a_salted_sha256(tmp_path):
    store = Credentials(tmp_path / "credentials.json")
    store.set("E1", "pässword")
    store.save()
    entry = json.loads((tmp_path / "credentials.json").read_text())["E1"]
    assert len(bytes.fromhex(entry["salt"])) == 16
    assert entry["digest"] == hashlib.sha256(
        bytes.fromhex(entry["salt"]) + "pässword".encode("utf-8")).hexdigest()
    assert "pässword" not in (tmp_path / "credentials.json").read_text()
    store.set("E2", "pässword")
    assert store._entries["E2"]["salt"] != entry["salt"]  # one salt per user


def test_saved_credentials_are_read_back_private_and_rewritten_whole(tmp_path):
    path = tmp_path / "var" / "data" / "credentials.json"  # folders made as needed
    store = Credentials(path)
    for i in range(5):
        store.set("E%d" % i, "password%d" % i)
    store.save()
    store.save()  # again, the folders exist
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = Credentials(path)
    assert again.check("E3", "password3") and not again.check("E3", "password4")
    fewer = Credentials(tmp_path / "other.json")
    fewer.set("E9", "x")
    fewer.path = path
    fewer.save()  # shorter than what was there: nothing of it may remain
    assert set(json.loads(path.read_text())) == {"E9"}


def institution(id_, auth, cbe, certificates=(), kind="institution", addresses=()):
    return Institution(id=id_, name=id_.title(), sector=17, subsector=1, cbe=cbe, auth=auth,
                       certificates=tuple(certificates), sign_replies=True, kind=kind,
                       addresses=tuple(ipaddress.ip_network(a) for a in addresses))


def test_passwords_are_issued_to_basic_institutions_only_and_kept(tmp_path):
    store = Credentials(tmp_path / "credentials.json")
    basic = institution("cpas-liege", "basic", "0207311071")
    signing = institution("cpas-eupen", "signature", "0212310036")
    assert issue_passwords(store, [signing, basic], tmp_path) == ["cpas-liege"]
    clear = tmp_path / "cpas-liege.password"
    text = clear.read_text()
    assert text.endswith("\n") and len(text) == 30
    assert stat.S_IMODE(os.stat(clear).st_mode) == 0o600
    assert not (tmp_path / "cpas-eupen.password").exists()
    assert Credentials(tmp_path / "credentials.json").check("E0207311071", text.strip())
    # Run again: the password is kept ...
    assert issue_passwords(store, [signing, basic], tmp_path) == []
    assert clear.read_text() == text
    # ... unless forced, or its clear text is gone.
    assert issue_passwords(store, [basic], tmp_path, force=True) == ["cpas-liege"]
    renewed = clear.read_text()
    assert renewed != text and store.check("E0207311071", renewed.strip())
    clear.unlink()
    assert issue_passwords(store, [basic], tmp_path) == ["cpas-liege"]
    assert not store.check("E0207311071", renewed.strip())


def test_an_institution_that_keeps_its_password_does_not_stop_the_others(tmp_path):
    store = Credentials(tmp_path / "credentials.json")
    first = institution("cpas-liege", "basic", "0207311071")
    second = institution("cpas-mons", "basic", "0207318001")
    assert issue_passwords(store, [first], tmp_path) == ["cpas-liege"]
    assert issue_passwords(store, [first, second], tmp_path) == ["cpas-mons"]
    assert (tmp_path / "cpas-mons.password").exists() and "E0207318001" in store


def test_a_new_basic_institution_gets_a_password_even_if_a_file_is_there(tmp_path):
    store = Credentials(tmp_path / "credentials.json")
    (tmp_path / "cpas-liege.password").write_text("stale\n")
    basic = institution("cpas-liege", "basic", "0207311071")
    assert issue_passwords(store, [basic], tmp_path) == ["cpas-liege"]
    assert "E0207311071" in store


# --- authn.py --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """A demo CA and EC certificates for a few institutions, their registry, the gate."""
    certs = tmp_path_factory.mktemp("authn")
    ca_key, ca_cert = pki.make_ca(key_type="ec256")
    specs = [("kszws-hub", "signature", "0209300066", "hub"),
             ("cpas-eupen", "signature", "0212310036", "institution"),
             ("cpas-liege", "basic", "0207311071", "institution"),
             ("cpas-namur", "client-cert", "0207312061", "institution"),
             ("test-expired", "client-cert", "0207313051", "institution")]
    institutions = {}
    for id_, auth, cbe, kind in specs:
        kw = {}
        if id_ == "test-expired":
            kw = dict(not_before=now() - datetime.timedelta(days=30),
                      not_after=now() - datetime.timedelta(days=1))
        key, cert = pki.issue(ca_key, ca_cert, id_, id_, cbe, key_type="ec256", **kw)
        pki.write_key(certs / ("%s.key" % id_), key)
        pki.write_cert(certs / ("%s.crt" % id_), cert)
        institutions[id_] = institution(id_, auth, cbe, [certs / ("%s.crt" % id_)], kind)
    institutions["cpas-address"] = institution("cpas-address", "address", "0207315031",
                                               addresses=["10.1.2.0/24"])
    registry = Registry(hub=institutions["kszws-hub"], institutions=institutions, services={})
    store = Credentials(certs / "credentials.json")
    store.set("E0207311071", "liege-password")
    store.set("E0212310036", "old-password")  # cpas-eupen's, from before it signed
    trust = build_trust_store(registry)
    gate = Authenticator(registry, trust, store, wsse.Policy(), now)
    identities = {i: load_signing_identity(certs / ("%s.crt" % i)) for i, *_ in specs}
    return SimpleNamespace(registry=registry, trust=trust, gate=gate, ids=identities,
                           certs=certs)


def signed_by(identity):
    root = request_envelope("authn")
    wsse.sign(root, identity, now(), datetime.timedelta(minutes=5))
    return etree.fromstring(soap.serialize(root))


def identify(net, root=None, **transport):
    root = root if root is not None else etree.fromstring(soap.serialize(request_envelope()))
    header, body = soap.split_envelope(root)
    return net.gate.identify(root, header, body, Transport(**transport))


def basic_header(user, password, scheme=b"Basic"):
    return scheme + b" " + base64.b64encode(("%s:%s" % (user, password)).encode())


def refused(call, code, detail=None):
    with pytest.raises(Refusal) as info:
        call()
    assert (info.value.code, info.value.detail) == (code, detail)


def test_the_trust_store_holds_every_registered_certificate(net):
    assert len(net.trust) == 5
    principal, certificate = net.trust.by_der(net.ids["cpas-namur"].certificate.der)
    assert principal is net.registry.institutions["cpas-namur"]


def test_a_missing_certificate_names_its_institution(tmp_path):
    lost = institution("cpas-lost", "signature", "0207399999", [tmp_path / "lost.crt"])
    registry = Registry(hub=lost, institutions={"cpas-lost": lost}, services={})
    with pytest.raises(KeyStoreError) as info:
        build_trust_store(registry)
    assert str(info.value).startswith("institution cpas-lost: certificate ")
    assert "not found" in str(info.value)


def test_a_signed_request_identifies_its_signer(net):
    root = signed_by(net.ids["cpas-eupen"])
    caller = identify(net, root)
    verified = wsse.verify(root, *soap.split_envelope(root), wsse.Policy(), net.trust, now())
    assert caller.institution is net.registry.institutions["cpas-eupen"]
    assert caller.method == "signature" and caller.signed
    assert caller.certificate_subject == net.ids["cpas-eupen"].certificate.subject
    assert caller.replay_token == verified.replay_token
    assert caller.replay_until == verified.replay_until
    assert not caller.plain_http


def test_a_signer_may_also_send_its_own_basic_credentials(net):
    root = signed_by(net.ids["cpas-liege"])
    caller = identify(net, root, authorization=basic_header("E0207311071", "liege-password"))
    assert (caller.institution.id, caller.method) == ("cpas-liege", "signature")


def test_basic_credentials_identify_the_institution(net):
    caller = identify(net, authorization=basic_header("E0207311071", "liege-password"))
    assert caller == Caller(net.registry.institutions["cpas-liege"], "basic")
    assert not caller.signed and caller.certificate_subject == "" and caller.replay_token == ""
    assert caller.replay_until is None


@pytest.mark.parametrize("header", [
    basic_header("E0207311071", "liege-password", b"basic"),  # RFC 7617: any case
    basic_header("E0207311071", "liege-password", b"BASIC"),
    basic_header("E0207311071", "liege-password") + b"  ",
    b"Basic  " + base64.b64encode(b"E0207311071:liege-password"),
])
def test_basic_credentials_as_clients_spell_them(net, header):
    assert identify(net, authorization=header).institution.id == "cpas-liege"


def test_a_password_may_hold_a_colon_a_user_name_cannot(net):
    """RFC 7617: the user-id ends at the first colon."""
    store = Credentials(net.certs / "colon.json")
    store.set("E0207311071", "pass:word")
    gate = Authenticator(net.registry, net.trust, store, wsse.Policy(), now)
    root = etree.fromstring(soap.serialize(request_envelope()))
    caller = gate.identify(root, *soap.split_envelope(root), Transport(
        authorization=basic_header("E0207311071", "pass:word")))
    assert caller.institution.id == "cpas-liege"


def test_basic_credentials_with_a_stray_character_are_malformed(net):
    encoded = base64.b64encode(b"E0207311071:liege-password")
    refused(lambda: identify(net, authorization=b"Basic " + encoded[:8] + b"*" + encoded[8:]),
            "SEC00009", "malformed Basic credentials")


def test_basic_credentials_are_checked_against_the_credentials_store(net):
    refused(lambda: identify(net, authorization=basic_header("E0207311071", "liege-passwor")),
            "SEC00009")
    # A password still stored for an institution that left basic mode lets nobody in.
    refused(lambda: identify(net, authorization=basic_header("E0212310036", "old-password")),
            "SEC00009")


def test_a_basic_header_without_credentials_is_malformed(net):
    refused(lambda: identify(net, authorization=b"Basic"), "SEC00009")


def test_a_registered_client_certificate_identifies_its_institution(net):
    certificate = net.ids["cpas-namur"].certificate
    caller = identify(net, client_certificate=certificate.der, secure=True)
    assert caller == Caller(net.registry.institutions["cpas-namur"], "client-cert",
                            certificate.subject)


def test_the_client_certificate_validity_is_checked_with_the_gate_clock(net):
    certificate = net.ids["cpas-namur"].certificate
    late = Authenticator(net.registry, net.trust, None, wsse.Policy(),
                         lambda: certificate.not_after + datetime.timedelta(seconds=1))
    root = etree.fromstring(soap.serialize(request_envelope()))
    with pytest.raises(Refusal) as info:
        late.identify(root, *soap.split_envelope(root),
                      Transport(client_certificate=certificate.der))
    assert info.value.code == "SEC00005"
    at_the_end = Authenticator(net.registry, net.trust, None, wsse.Policy(),
                               lambda: certificate.not_after)
    assert at_the_end.identify(root, *soap.split_envelope(root), Transport(
        client_certificate=certificate.der)).method == "client-cert"


def test_basic_credentials_come_before_the_client_certificate(net):
    caller = identify(net, authorization=basic_header("E0207311071", "liege-password"),
                      client_certificate=net.ids["cpas-namur"].certificate.der, secure=True)
    assert caller.institution.id == "cpas-liege"


def test_a_registered_address_identifies_its_institution(net):
    caller = identify(net, peer="10.1.2.3", secure=True)
    assert caller == Caller(net.registry.institutions["cpas-address"], "address")


def test_a_client_certificate_comes_before_the_address(net):
    caller = identify(net, peer="10.1.2.3",
                      client_certificate=net.ids["cpas-namur"].certificate.der, secure=True)
    assert caller.method == "client-cert"


def test_nobody_is_anonymous_and_plain_http_says_so(net):
    assert identify(net, peer="10.9.9.9", secure=True) is ANONYMOUS
    assert identify(net, peer="10.9.9.9") is ANONYMOUS_PLAIN_HTTP
    assert identify(net) is ANONYMOUS_PLAIN_HTTP  # the transport's defaults: plain HTTP
    assert Transport() == Transport(peer="", authorization=b"", client_certificate=b"",
                                    secure=False)
    assert (ANONYMOUS.institution, ANONYMOUS.method, ANONYMOUS.plain_http) == \
        (None, "anonymous", False)
    assert (ANONYMOUS_PLAIN_HTTP.method, ANONYMOUS_PLAIN_HTTP.plain_http) == ("anonymous", True)
    assert not ANONYMOUS.signed


def service(**kw):
    fields = dict(name="S", path="/s", wsdl="", signed=False, anonymous=False, route="hub")
    fields.update(kw)
    return Service(**fields)


def test_a_signature_mode_institution_must_sign_even_with_its_tls_certificate(net):
    caller = identify(net, client_certificate=net.ids["cpas-eupen"].certificate.der,
                      secure=True)
    assert caller.method == "client-cert"
    refused(lambda: Authenticator.admit(caller, service()), "SEC00010",
            "cpas-eupen must sign its requests")


def test_the_policies_admit_what_they_allow(net):
    namur = identify(net, client_certificate=net.ids["cpas-namur"].certificate.der,
                     secure=True)
    assert Authenticator.admit(namur, service()) is None
    assert Authenticator.admit(namur, service(anonymous=True)) is None
    refused(lambda: Authenticator.admit(namur, service(signed=True)), "SEC00010",
            "cpas-namur must sign its requests")
    eupen = identify(net, signed_by(net.ids["cpas-eupen"]))
    assert Authenticator.admit(eupen, service(signed=True)) is None
    assert Authenticator.admit(ANONYMOUS_PLAIN_HTTP, service(anonymous=True)) is None


# --- Transport.of: what the HTTP layer tells the hub about a request ------------------------

class _Request:
    """The parts of a twisted.web request that Transport.of reads."""

    def __init__(self, secure, certificate=None, host="192.0.2.7", authorization=None):
        from OpenSSL import crypto
        self._secure, self._host, self._authorization = secure, host, authorization
        peer = None if certificate is None else crypto.X509.from_cryptography(certificate)
        transport = SimpleNamespace(getPeerCertificate=lambda: peer) if secure else \
            SimpleNamespace()
        self.channel = SimpleNamespace(transport=transport)

    def isSecure(self):
        return self._secure

    def getClientAddress(self):
        return SimpleNamespace(host=self._host)

    def getHeader(self, name):
        return self._authorization if name == b"authorization" else None


def test_transport_of_a_tls_request_carries_the_client_certificate_as_der():
    from cryptography.hazmat.primitives.serialization import Encoding
    ca_key, ca = pki.make_ca("transport CA")
    _, cert = pki.issue(ca_key, ca, "client")
    got = Transport.of(_Request(True, cert, authorization=b"Basic eDp5"))
    assert got == Transport(peer="192.0.2.7", authorization=b"Basic eDp5",
                            client_certificate=cert.public_bytes(Encoding.DER), secure=True)


def test_transport_of_a_plain_request_has_no_certificate():
    assert Transport.of(_Request(False)) == Transport(peer="192.0.2.7", secure=False)
    assert Transport.of(_Request(True, None, host=None)) == Transport(secure=True)


def test_a_certificate_counts_only_over_tls():
    """A transport that could show a certificate while the request is not secure: none
    is taken (isSecure decides, not the transport's abilities)."""
    ca_key, ca = pki.make_ca("transport CA")
    _, cert = pki.issue(ca_key, ca, "client")
    request = _Request(True, cert)
    request._secure = False
    assert Transport.of(request).client_certificate == b""


def test_a_peer_without_a_host_is_recorded_as_empty():
    """A UNIX socket's address has no host: the peer is "", never a placeholder."""
    request = _Request(False)
    request.getClientAddress = lambda: SimpleNamespace(name="/run/kszws.sock")
    assert Transport.of(request).peer == ""
