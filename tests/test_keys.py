"""Unit tests of security/keystore.py, pki.py and zeep_wsse.py (issue 22): certificates as the
hub reads them, the trust store's look-ups, signing identities; the demo PKI's keys,
certificates, PEM files and PKCS#12 keystores; the zeep plugin's signing and pinned
verification. In-process; EC keys where the key type does not matter (they are fast)."""
import base64
import datetime
import hashlib
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree
from zeep.exceptions import SignatureVerificationFailed

from kszws.security import pki, wsse
from kszws.security.keystore import (Certificate, KeyStoreError, TrustStore,
                                     certificate_from_der, certificate_from_x509,
                                     key_path_for, load_certificate, load_signing_identity)
from kszws.security.zeep_wsse import SignedExchange
from kszws.wire import soap
from kszws.wire.ns import DS, SOAP11, WSU, q
from kszws.wire.reasons import Refusal
from tests.soaptools import request_envelope

UTC = datetime.timezone.utc


def now():
    return datetime.datetime.now(UTC)


@pytest.fixture(scope="module")
def ca():
    return pki.make_ca("test CA", key_type="ec256")


@pytest.fixture(scope="module")
def files(tmp_path_factory, ca):
    """certs/ with the CA and two EC institutions, PEM as `kszws pki init` writes them."""
    certs = tmp_path_factory.mktemp("keys")
    pki.write_key(certs / "ca.key", ca[0])
    pki.write_cert(certs / "ca.crt", ca[1])
    for name, cbe in (("alpha", "0212310036"), ("beta", "0207311071")):
        key, cert = pki.issue(*ca, name, name, cbe, key_type="ec256")
        pki.write_key(certs / ("%s.key" % name), key)
        pki.write_cert(certs / ("%s.crt" % name), cert)
    return certs


# --- keystore.py -------------------------------------------------------------------------

def test_a_certificate_as_the_hub_keeps_it(ca):
    key, cert = pki.issue(*ca, "alpha", "Alpha", "0212310036", key_type="ec256")
    der = cert.public_bytes(serialization.Encoding.DER)
    mine = certificate_from_der(der)
    assert mine.der == der
    assert mine.fingerprint == hashlib.sha256(der).hexdigest()
    assert mine.subject == "CN=alpha,2.5.4.5=0212310036,O=Alpha,C=BE"
    assert mine.issuer == "CN=test CA,O=kszws demo,C=BE"
    assert mine.serial == cert.serial_number
    assert mine.ski == cert.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest
    assert (mine.not_before, mine.not_after) == (cert.not_valid_before_utc,
                                                 cert.not_valid_after_utc)
    assert mine.bst == base64.b64encode(der).decode("ascii")
    assert mine.public_key.public_numbers() == cert.public_key().public_numbers()


def test_a_certificate_without_a_ski_extension_gets_the_ski_of_its_key(ca):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no ski")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca[1].subject)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(now()).not_valid_after(now() + datetime.timedelta(days=1))
            .sign(ca[0], hashes.SHA256()))
    assert certificate_from_x509(cert).ski == \
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest


def test_a_certificate_is_valid_from_its_first_to_its_last_instant(ca):
    start = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime.datetime(2026, 12, 31, tzinfo=UTC)
    _, cert = pki.issue(*ca, "window", key_type="ec256", not_before=start, not_after=end)
    mine = certificate_from_x509(cert)
    second = datetime.timedelta(seconds=1)
    assert mine.valid_at(start) and mine.valid_at(end) and mine.valid_at(start + second)
    assert not mine.valid_at(start - second) and not mine.valid_at(end + second)


def test_load_certificate_reads_pem_and_names_the_file_it_cannot_use(files, tmp_path):
    assert load_certificate(files / "alpha.crt").subject.startswith("CN=alpha,")
    with pytest.raises(KeyStoreError) as info:
        load_certificate(tmp_path / "missing.crt")
    assert str(info.value) == "certificate %s not found (run `kszws pki init`)" % (
        tmp_path / "missing.crt")
    (tmp_path / "junk.crt").write_text("not a certificate")
    with pytest.raises(KeyStoreError) as info:
        load_certificate(tmp_path / "junk.crt")
    assert str(info.value).startswith("certificate %s is not a PEM certificate: " % (
        tmp_path / "junk.crt"))


def test_the_private_key_lives_beside_the_certificate(tmp_path):
    assert key_path_for(tmp_path / "cpas-eupen.crt") == tmp_path / "cpas-eupen.key"
    assert key_path_for("certs/x.pem") == key_path_for("certs/x.crt")


def test_signing_identities_by_key_type(files, tmp_path):
    ec_identity = load_signing_identity(files / "alpha.crt")  # the key found beside it
    assert ec_identity.algorithm == xmlsec.Transform.ECDSA_SHA256
    assert isinstance(ec_identity.private, ec.EllipticCurvePrivateKey)
    assert isinstance(ec_identity.key, xmlsec.Key)
    assert ec_identity.certificate.subject.startswith("CN=alpha,")
    shutil.copy(files / "alpha.crt", tmp_path / "elsewhere.crt")
    moved = load_signing_identity(tmp_path / "elsewhere.crt", files / "alpha.key")
    assert moved.certificate.der == ec_identity.certificate.der

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pki.write_key(tmp_path / "rsa.key", rsa_key)
    rsa_identity = load_signing_identity(files / "alpha.crt", tmp_path / "rsa.key")
    assert rsa_identity.algorithm == xmlsec.Transform.RSA_SHA256


def test_a_signing_identity_needs_its_key_and_an_rsa_or_ec_one(files, tmp_path):
    shutil.copy(files / "alpha.crt", tmp_path / "lonely.crt")
    with pytest.raises(KeyStoreError) as info:
        load_signing_identity(tmp_path / "lonely.crt")
    assert str(info.value) == "key %s not found (run `kszws pki init`)" % (
        tmp_path / "lonely.key")
    pki.write_key(tmp_path / "ed.key", ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(KeyStoreError) as info:
        load_signing_identity(files / "alpha.crt", tmp_path / "ed.key")
    assert str(info.value) == "key %s: only RSA and EC keys can sign" % (tmp_path / "ed.key")


def test_the_trust_store_finds_a_certificate_every_way_a_signature_names_it(files):
    alpha, beta = load_certificate(files / "alpha.crt"), load_certificate(files / "beta.crt")
    trust = TrustStore()
    assert len(trust) == 0
    trust.add(alpha, "A")
    trust.add(beta, "B")
    assert len(trust) == 2
    assert trust.by_der(alpha.der) == ("A", alpha)
    assert trust.by_der(beta.der) == ("B", beta)
    assert trust.by_ski(beta.ski) == ("B", beta)
    assert trust.by_issuer_serial(alpha.issuer, alpha.serial) == ("A", alpha)
    assert trust.by_issuer_serial(alpha.issuer, beta.serial) == ("B", beta)
    assert trust.by_issuer_serial(alpha.issuer, 1) is None
    assert trust.by_ski(b"\0" * 20) is None and trust.by_der(b"x") is None


@pytest.mark.parametrize("spelling", [
    "CN=test CA,O=kszws demo,C=BE",  # RFC 4514, as registered
    "C=BE, O=kszws demo, CN=test CA",  # RFC 2253 order, with spaces
    "C = BE, O = kszws demo, CN = test CA",  # OpenSSL's one-line spelling
    "cn=TEST CA;o=Kszws Demo;c=be",  # semicolons, case
    "CN=test CA, O=kszws demo, C=BE,",  # a trailing separator
])
def test_issuer_names_match_whatever_their_spelling(files, spelling):
    alpha = load_certificate(files / "alpha.crt")
    trust = TrustStore()
    trust.add(alpha, "A")
    assert trust.by_issuer_serial(spelling, alpha.serial) == ("A", alpha)


def test_an_escaped_comma_stays_inside_its_attribute(ca):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Acme, Inc"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Widgets")])
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(9)
            .not_valid_before(now()).not_valid_after(now() + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    mine = certificate_from_x509(cert)
    assert mine.issuer == r"O=Widgets,CN=Acme\, Inc"
    trust = TrustStore()
    trust.add(mine, "acme")
    assert trust.by_issuer_serial(r"CN=Acme\, Inc, O=Widgets", 9) == ("acme", mine)
    # Not the same name as one whose attributes are "Acme" and "Inc" ...
    assert trust.by_issuer_serial("CN=Acme, Inc, O=Widgets", 9) is None


# --- zeep_wsse.py ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pair(files):
    """A client (alpha) and the hub (beta) it pins."""
    return (load_signing_identity(files / "alpha.crt"),
            load_signing_identity(files / "beta.crt"))


def reply_from(identity, when=None, ttl=300):
    root = request_envelope("reply")
    wsse.sign(root, identity, when or now(), datetime.timedelta(seconds=ttl))
    return etree.fromstring(soap.serialize(root))


def timestamp_of(root):
    ts = root.find(".//" + q(WSU, "Timestamp"))
    return [wsse.parse_xsd_datetime(ts.findtext(q(WSU, f))) for f in ("Created", "Expires")]


def test_requests_are_signed_with_must_understand_and_a_five_minute_timestamp(pair):
    client, hub = pair
    plugin = SignedExchange(client, hub.certificate)
    envelope, headers = plugin.apply(request_envelope(), {"SOAPAction": "x"})
    assert headers == {"SOAPAction": "x"}
    security = wsse.security_headers(envelope)
    assert len(security) == 1 and security[0].get(q(SOAP11, "mustUnderstand")) == "1"
    created, expires = timestamp_of(envelope)
    assert expires - created == datetime.timedelta(seconds=300)
    assert abs(created - now()) < datetime.timedelta(seconds=5)
    # What the hub verifies: signed by the client's registered certificate.
    trust = TrustStore()
    trust.add(client.certificate, "client")
    root = etree.fromstring(soap.serialize(envelope))
    assert wsse.verify(root, *soap.split_envelope(root), wsse.Policy(), trust,
                       now()).principal == "client"


def test_the_plugin_signs_and_verifies_on_its_clock_with_its_ttl(pair):
    client, hub = pair
    then = (now() + datetime.timedelta(days=30)).replace(microsecond=0)
    plugin = SignedExchange(client, hub.certificate, ttl_seconds=60, clock=lambda: then)
    envelope, _ = plugin.apply(request_envelope(), {})
    assert timestamp_of(envelope) == [then, then + datetime.timedelta(seconds=60)]
    reply = reply_from(hub, when=then)
    assert plugin.verify(reply) is reply  # verified at `then`, not now
    with pytest.raises(SignatureVerificationFailed) as info:
        SignedExchange(client, hub.certificate).verify(reply_from(hub, when=then))
    assert "SEC00006" in str(info.value)


def test_a_reply_signed_by_the_pinned_certificate_verifies(pair):
    client, hub = pair
    plugin = SignedExchange(client, hub.certificate)
    assert plugin.last_verified is None
    reply = reply_from(hub)
    assert plugin.verify(reply) is reply
    assert plugin.last_verified.principal == "peer"
    assert plugin.last_verified.certificate is hub.certificate


def test_a_reply_signed_by_anyone_else_fails_verification(pair):
    client, hub = pair
    plugin = SignedExchange(client, hub.certificate)
    with pytest.raises(SignatureVerificationFailed) as info:
        plugin.verify(reply_from(client))
    assert "SEC00004" in str(info.value)
    assert plugin.last_verified is None
    with pytest.raises(SignatureVerificationFailed) as info:
        plugin.verify(etree.fromstring(soap.serialize(request_envelope())))
    assert "SEC00008" in str(info.value)  # an unsigned reply


def test_the_plugin_applies_its_policy(pair):
    client, hub = pair
    short = SignedExchange(client, hub.certificate,
                           policy=wsse.Policy(max_ttl=datetime.timedelta(seconds=120)))
    with pytest.raises(SignatureVerificationFailed) as info:
        short.verify(reply_from(hub, ttl=300))
    assert "SEC00006" in str(info.value)
    SignedExchange(client, hub.certificate).verify(reply_from(hub, ttl=900))


# --- pki.py: keys and names ----------------------------------------------------------------

@pytest.mark.parametrize("key_type, kind, size", [
    ("rsa2048", rsa.RSAPrivateKey, 2048), ("rsa3072", rsa.RSAPrivateKey, 3072),
    ("ec256", ec.EllipticCurvePrivateKey, 256)])
def test_the_key_types(key_type, kind, size):
    key = pki.new_key(key_type)
    assert isinstance(key, kind) and key.key_size == size
    if kind is rsa.RSAPrivateKey:
        assert key.public_key().public_numbers().e == 65537
    else:
        assert isinstance(key.curve, ec.SECP256R1)


def test_the_default_key_is_rsa2048_and_others_are_refused():
    key = pki.new_key()
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    with pytest.raises(ValueError) as info:
        pki.new_key("dsa1024")
    assert str(info.value) == "key type must be one of rsa2048, rsa3072, ec256"


@pytest.mark.parametrize("text, kept", [
    ("a" * 64, "a" * 64), ("a" * 65, "a" * 64), ("a" * 100, "a" * 64),
    ("é" * 40, "é" * 32), ("a" + "é" * 32, "a" + "é" * 31), ("", "")])
def test_long_names_are_cut_to_64_utf8_bytes_by_whole_characters(text, kept):
    assert pki._upto64(text) == kept


def test_a_leaf_subject_carries_country_organisation_enterprise_number_and_name(ca):
    _, cert = pki.issue(*ca, "CPAS d'Eupen " * 10, "ÖSHZ Eupen " * 10, "0212310036",
                        key_type="ec256")
    attrs = [(a.oid, a.value) for a in cert.subject]
    assert attrs == [(NameOID.COUNTRY_NAME, "BE"),
                     (NameOID.ORGANIZATION_NAME, pki._upto64("ÖSHZ Eupen " * 10)),
                     (NameOID.SERIAL_NUMBER, "0212310036"),
                     (NameOID.COMMON_NAME, pki._upto64("CPAS d'Eupen " * 10))]
    _, bare = pki.issue(*ca, "bare", key_type="ec256")
    assert [(a.oid, a.value) for a in bare.subject] == [(NameOID.COUNTRY_NAME, "BE"),
                                                        (NameOID.COMMON_NAME, "bare")]


def extension(cert, kind):
    return cert.extensions.get_extension_for_class(kind)


def test_the_demo_ca():
    before = now()
    key, cert = pki.make_ca()
    after = now()
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert cert.subject.rfc4514_string() == "CN=kszws demo CA,O=kszws demo,C=BE"
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)  # self-signed with its key
    assert cert.public_key() == key.public_key()
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    five = datetime.timedelta(minutes=5)
    assert before - five - datetime.timedelta(seconds=1) <= cert.not_valid_before_utc \
        <= after - five
    ten_years = datetime.timedelta(days=3650)
    assert before + ten_years - datetime.timedelta(seconds=1) <= cert.not_valid_after_utc \
        <= after + ten_years
    basic = extension(cert, x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = extension(cert, x509.KeyUsage)
    assert usage.critical
    assert usage.value == x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False)
    ski = extension(cert, x509.SubjectKeyIdentifier)
    assert not ski.critical
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def test_certificates_are_dated_in_utc_whatever_the_local_time_zone(ca, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC+9 all year
    time.tzset()
    try:
        before = now()
        _, ca_cert = pki.make_ca("zone CA", key_type="ec256")
        _, leaf = pki.issue(*ca, "zone", key_type="ec256")
    finally:
        monkeypatch.undo()
        time.tzset()
    five = datetime.timedelta(minutes=5)
    for cert in (ca_cert, leaf):
        assert abs(cert.not_valid_before_utc - (before - five)) < datetime.timedelta(minutes=1)


def test_a_ca_of_another_name_life_and_key_type():
    key, cert = pki.make_ca("other CA", days=10, key_type="ec256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert cert.subject.rfc4514_string() == "CN=other CA,O=kszws demo,C=BE"
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert life == datetime.timedelta(days=10, minutes=5)


def test_a_leaf_certificate_for_signing_and_tls(ca):
    ca_key, ca_cert = ca
    before = now()
    key, cert = pki.issue(ca_key, ca_cert, "alpha", "Alpha", "0212310036")
    after = now()
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048  # the default type
    assert cert.public_key() == key.public_key()
    assert cert.issuer == ca_cert.subject
    cert.verify_directly_issued_by(ca_cert)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    five = datetime.timedelta(minutes=5)
    assert before - five - datetime.timedelta(seconds=1) <= cert.not_valid_before_utc \
        <= after - five
    life = datetime.timedelta(days=825)
    assert before + life - datetime.timedelta(seconds=1) <= cert.not_valid_after_utc \
        <= after + life
    basic = extension(cert, x509.BasicConstraints)
    assert basic.critical and not basic.value.ca and basic.value.path_length is None
    usage = extension(cert, x509.KeyUsage)
    assert usage.critical
    assert usage.value == x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False)
    eku = extension(cert, x509.ExtendedKeyUsage)
    assert not eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    ski = extension(cert, x509.SubjectKeyIdentifier)
    assert not ski.critical
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = extension(cert, x509.AuthorityKeyIdentifier)
    assert not aki.critical
    assert aki.value == x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    with pytest.raises(x509.ExtensionNotFound):
        extension(cert, x509.SubjectAlternativeName)  # no names asked for


def test_a_leaf_with_a_given_key_window_and_names(ca):
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime.datetime(2026, 2, 1, tzinfo=UTC)
    same, cert = pki.issue(*ca, "tls", key=key, not_before=start, not_after=end,
                           dns_names=("localhost", "hub.example"),
                           ip_addresses=("127.0.0.1", "::1"))
    assert same is key and cert.public_key() == key.public_key()
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (start, end)
    san = extension(cert, x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost", "hub.example"]
    assert [str(a) for a in san.value.get_values_for_type(x509.IPAddress)] == \
        ["127.0.0.1", "::1"]
    _, short = pki.issue(*ca, "short", days=3, key_type="ec256")
    assert isinstance(short.public_key(), ec.EllipticCurvePublicKey)
    life = short.not_valid_after_utc - short.not_valid_before_utc
    assert life == datetime.timedelta(days=3, minutes=5)
    _, only_ip = pki.issue(*ca, "ip", key_type="ec256", ip_addresses=("10.0.0.1",))
    assert [str(a) for a in extension(only_ip, x509.SubjectAlternativeName).value
            .get_values_for_type(x509.IPAddress)] == ["10.0.0.1"]


@pytest.mark.parametrize("dns, ips, expected", [
    (pki.LOOPBACK_NAMES, pki.LOOPBACK_ADDRESSES, True),
    (("localhost", "hub.example"), ("127.0.0.1", "::1", "10.0.0.1"), True),
    ((), pki.LOOPBACK_ADDRESSES, False),
    (pki.LOOPBACK_NAMES, ("127.0.0.1",), False),
    (pki.LOOPBACK_NAMES, ("::1",), False),
    ((), (), False),  # no SubjectAlternativeName at all
])
def test_names_loopback(ca, dns, ips, expected):
    _, cert = pki.issue(*ca, "n", key_type="ec256", dns_names=dns, ip_addresses=ips)
    assert pki.names_loopback(cert) is expected


def test_the_loopback_names():
    assert pki.LOOPBACK_NAMES == ("localhost",)
    assert pki.LOOPBACK_ADDRESSES == ("127.0.0.1", "::1")
    assert pki.KEY_TYPES == ("rsa2048", "rsa3072", "ec256")


# --- pki.py: files ---------------------------------------------------------------------------

def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keys_are_written_as_private_unencrypted_pkcs8_pem(ca, tmp_path):
    key, cert = ca
    path = tmp_path / "ca.key"
    path.write_bytes(b"x" * 10000)  # a longer file there before: replaced whole
    pki.write_key(path, key)
    assert mode(path) == 0o600 or path.stat().st_size  # an existing file keeps its mode
    data = path.read_bytes()
    assert data.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, no password
    assert data == key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    assert pki.read_key(path).private_numbers() == key.private_numbers()
    pki.write_key(tmp_path / "new.key", key)
    assert mode(tmp_path / "new.key") == 0o600
    pki.write_cert(tmp_path / "ca.crt", cert)
    assert (tmp_path / "ca.crt").read_bytes() == cert.public_bytes(serialization.Encoding.PEM)
    assert pki.read_cert(tmp_path / "ca.crt") == cert


def pkcs12_info(path, password):
    done = subprocess.run(["openssl", "pkcs12", "-info", "-nokeys", "-in", str(path),
                           "-passin", "pass:" + password], capture_output=True, text=True,
                          errors="replace")
    assert done.returncode == 0, done.stderr
    return done.stderr + done.stdout


def test_a_keystore_holds_the_key_its_certificate_and_the_chain(ca, tmp_path):
    ca_key, ca_cert = ca
    key, cert = pki.issue(*ca, "alpha", key_type="ec256")
    path = tmp_path / "alpha.p12"
    pki.write_keystore(path, "alpha-é", key, cert, [ca_cert], "pässword")
    assert mode(path) == 0o600
    loaded = pkcs12.load_pkcs12(path.read_bytes(), "pässword".encode("utf-8"))
    assert loaded.key.private_numbers() == key.private_numbers()
    assert loaded.cert.certificate == cert
    assert loaded.cert.friendly_name == "alpha-é".encode("utf-8")
    assert [c.certificate for c in loaded.additional_certs] == [ca_cert]
    with pytest.raises(ValueError) as info:
        pki.write_keystore(tmp_path / "none.p12", "alpha", key, cert, [], "")
    assert str(info.value) == "a PKCS#12 file needs a password"
    assert not (tmp_path / "none.p12").exists()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_keystores_use_the_algorithms_java_reads(ca, tmp_path):
    """PBES2 with AES-256 and PBKDF2 (HMAC-SHA256), 100 000 rounds, an HMAC-SHA256 MAC."""
    key, cert = pki.issue(*ca, "alpha", key_type="ec256")
    pki.write_keystore(tmp_path / "k.p12", "alpha", key, cert, [], "secret")
    pki.write_truststore(tmp_path / "t.p12", {"ca": ca[1]}, "secret")
    for name in ("k.p12", "t.p12"):
        info = pkcs12_info(tmp_path / name, "secret")
        assert info.startswith("MAC: sha256,")
        assert "PBES2, PBKDF2, AES-256-CBC, Iteration 100000, PRF hmacWithSHA256" in info
        # The algorithms only, not the certificates' base64 ("RC2" in it: 1 run in ~200).
        algorithms = re.sub(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", "", info,
                            flags=re.S)
        assert "RC2" not in algorithms and "3DES" not in algorithms \
            and "SHA1" not in algorithms


def test_a_truststore_holds_trusted_certificates_under_their_aliases(ca, tmp_path):
    _, other = pki.issue(*ca, "beta", key_type="ec256")
    path = tmp_path / "trust.p12"
    pki.write_truststore(path, {"kszws-ca": ca[1], "hub-é": other}, "pässword")
    assert mode(path) == 0o600
    loaded = pkcs12.load_pkcs12(path.read_bytes(), "pässword".encode("utf-8"))
    assert loaded.key is None and loaded.cert is None
    assert [(c.friendly_name, c.certificate) for c in loaded.additional_certs] == [
        (b"kszws-ca", ca[1]), ("hub-é".encode("utf-8"), other)]
    if shutil.which("openssl"):  # Java trusts only entries marked trusted (Oracle's OID)
        info = pkcs12_info(path, "pässword")
        assert info.count("2.16.840.1.113894.746875.1.1") == 2 or \
            info.count("Trusted key usage (Oracle)") == 2, info
    with pytest.raises(ValueError):
        pki.write_truststore(tmp_path / "none.p12", {"ca": ca[1]}, None)


# --- pki.py: `kszws pki init` --------------------------------------------------------------

def inst(tmp, id_, cbe, name=None):
    return SimpleNamespace(id=id_, name=name or id_.title(), cbe=cbe,
                           certificates=(tmp / "conf" / "certs" / ("%s.crt" % id_),))


def test_init_pki_makes_a_ca_and_a_certificate_per_institution(tmp_path):
    certs = tmp_path / "var" / "certs"  # made as needed
    institutions = [inst(tmp_path, "alpha", "0212310036", "CPAS Alpha"),
                    inst(tmp_path, "beta", "0207311071")]
    written = pki.init_pki(certs, institutions, key_type="ec256")
    alpha_crt, beta_crt = (i.certificates[0] for i in institutions)
    assert written == [certs / "ca.key", certs / "ca.crt",
                       key_path_for(alpha_crt), alpha_crt, key_path_for(beta_crt), beta_crt]
    ca_cert = pki.read_cert(certs / "ca.crt")
    assert ca_cert.subject.rfc4514_string() == "CN=kszws demo CA,O=kszws demo,C=BE"
    assert isinstance(pki.read_key(certs / "ca.key"), ec.EllipticCurvePrivateKey)
    alpha = pki.read_cert(alpha_crt)
    alpha.verify_directly_issued_by(ca_cert)
    assert alpha.subject.rfc4514_string() == "CN=CPAS Alpha,2.5.4.5=0212310036,O=CPAS Alpha,C=BE"
    assert pki.names_loopback(alpha)
    assert pki.read_key(key_path_for(alpha_crt)).public_key() == alpha.public_key()
    assert isinstance(alpha.public_key(), ec.EllipticCurvePublicKey)
    assert mode(certs / "ca.key") == 0o600 and mode(key_path_for(alpha_crt)) == 0o600

    # Again: nothing to do; a new institution gets a certificate from the same CA.
    assert pki.init_pki(certs, institutions, key_type="ec256") == []
    gamma = inst(tmp_path, "gamma", "0207312061")
    assert pki.init_pki(certs, institutions + [gamma]) == [
        key_path_for(gamma.certificates[0]), gamma.certificates[0]]
    gamma_cert = pki.read_cert(gamma.certificates[0])
    gamma_cert.verify_directly_issued_by(ca_cert)
    assert isinstance(gamma_cert.public_key(), rsa.RSAPublicKey)  # the default type
    assert pki.read_cert(alpha_crt) == alpha

    # A lost key is made again; so is a lost certificate.
    key_path_for(beta_crt).unlink()
    assert pki.init_pki(certs, institutions) == [key_path_for(beta_crt), beta_crt]
    alpha_crt.unlink()
    assert pki.init_pki(certs, institutions) == [key_path_for(alpha_crt), alpha_crt]


def test_init_pki_force_and_a_new_ca_reissue_everything(tmp_path):
    institutions = [inst(tmp_path, "alpha", "0212310036")]
    crt = institutions[0].certificates[0]
    pki.init_pki(tmp_path, institutions, key_type="ec256")
    first_ca, first = pki.read_cert(tmp_path / "ca.crt"), pki.read_cert(crt)
    written = pki.init_pki(tmp_path, institutions, key_type="ec256", force=True)
    assert written == [tmp_path / "ca.key", tmp_path / "ca.crt", key_path_for(crt), crt]
    assert pki.read_cert(tmp_path / "ca.crt") != first_ca
    pki.read_cert(crt).verify_directly_issued_by(pki.read_cert(tmp_path / "ca.crt"))
    assert pki.read_cert(crt) != first
    # Without a CA certificate (deleted), a new CA is made and every certificate re-issued.
    (tmp_path / "ca.crt").unlink()
    second = pki.read_cert(crt)
    assert pki.init_pki(tmp_path, institutions, key_type="ec256") == [
        tmp_path / "ca.key", tmp_path / "ca.crt", key_path_for(crt), crt]
    assert pki.read_cert(crt) != second


def test_init_pki_rsa_by_default(tmp_path):
    institutions = [inst(tmp_path, "alpha", "0212310036")]
    pki.init_pki(tmp_path, institutions)
    assert isinstance(pki.read_key(tmp_path / "ca.key"), rsa.RSAPrivateKey)
    assert isinstance(pki.read_key(key_path_for(institutions[0].certificates[0])),
                      rsa.RSAPrivateKey)


def test_name_loopback_reissues_an_old_certificate_with_its_key_and_subject(tmp_path):
    alpha = inst(tmp_path, "alpha", "0212310036", "CPAS Alpha")
    pki.init_pki(tmp_path, [alpha], key_type="ec256")
    crt = alpha.certificates[0]
    ca_key, ca_cert = pki.read_key(tmp_path / "ca.key"), pki.read_cert(tmp_path / "ca.crt")
    key = pki.read_key(key_path_for(crt))
    _, old = pki.issue(ca_key, ca_cert, "CPAS Alpha", "CPAS Alpha", "0212310036", key=key)
    pki.write_cert(crt, old)  # as made before the loopback names were added
    assert pki.name_loopback(tmp_path, alpha) is True
    new = pki.read_cert(crt)
    assert pki.names_loopback(new)
    assert new.subject == old.subject and new.public_key() == key.public_key()
    new.verify_directly_issued_by(ca_cert)
    assert pki.name_loopback(tmp_path, alpha) is False
    assert pki.read_cert(crt) == new


def test_a_secret_is_written_in_its_own_folder_then_renamed(tmp_path):
    """pki.write_private: the new file is made beside its target and renamed into place,
    so that it works on any filesystem (a temporary file elsewhere could not be renamed
    across devices: /dev/shm is one) and a failure leaves no stray temporary file."""
    from kszws.security import pki

    if os.path.isdir("/dev/shm") and os.stat("/dev/shm").st_dev != os.stat(tmp_path).st_dev:
        other = Path("/dev/shm") / ("kszws-test-%d" % os.getpid())
        other.mkdir()
        try:
            pki.write_private(other / "key.pem", b"secret")
            assert (other / "key.pem").read_bytes() == b"secret"
            assert stat.S_IMODE((other / "key.pem").stat().st_mode) == 0o600
        finally:
            shutil.rmtree(other)
    (tmp_path / "taken").mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(IsADirectoryError):
        pki.write_private(tmp_path / "taken", b"secret")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # nothing left behind
