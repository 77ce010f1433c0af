"""A Java WS-Security client against the hub, as SoapUI and the Java clients of the real
CBSS are: the JDK's XML Signature API with the PKCS#12 keystore and truststore that `kszws
pki keystore` and `kszws pki truststore` write (tests/java/WssClient.java). Skipped where
no JDK is installed."""
import base64
import re
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from kszws.registry import load_registry
from kszws.security import pki
from kszws.wire import soap
from tests import ssdntools
from tests.netfixture import ROOT, make_project, run_kszws, start_network, stop_network
from tests.soaptools import log_row, request_envelope

pytestmark = pytest.mark.skipif(not (shutil.which("javac") and shutil.which("java")
                                     and shutil.which("keytool")),
                                reason="no JDK (javac, java, keytool)")

ACTION = "http://kszbcss.fgov.be/TestConnectionServiceService/sendTestMessage"
KEYSTORE_PASSWORD, TRUSTSTORE_PASSWORD = "keystore-pw", "truststore-pw"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """The hub and the National Register source."""
    hub = start_network(make_project(tmp_path_factory.mktemp("java-net")))
    yield hub
    stop_network(hub)


@pytest.fixture(scope="module")
def java(tmp_path_factory):
    """The client, compiled once; returns the folder of its class."""
    out = tmp_path_factory.mktemp("java")
    subprocess.run(["javac", "-d", str(out), str(ROOT / "tests" / "java" / "WssClient.java")],
                   check=True, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def stores(net):
    """Keystores of two institutions and the truststore, written by the CLI."""
    certs = net.settings.certs_dir
    for inst in ("cpas-eupen", "test-expired"):
        done = run_kszws(net.settings, "pki", "keystore", inst, "--password", KEYSTORE_PASSWORD)
        assert done.returncode == 0, done.stderr
    done = run_kszws(net.settings, "pki", "truststore", "--password", TRUSTSTORE_PASSWORD)
    assert done.returncode == 0, done.stderr
    return certs


def call(net, java, stores, institution, echo, *extra):
    """sendTestMessage(echo) at the signed-only endpoint, through the Java client."""
    path = load_registry(net.settings).services["TestConnectionServiceSigned"].path
    return java_call(net, java, stores, institution, path, ACTION,
                     soap.serialize(request_envelope(echo)), *extra)


def java_call(net, java, stores, institution, path, action, envelope, *extra):
    request = stores.parent / ("request-%s.xml" % institution)
    request.write_bytes(envelope)
    done = subprocess.run(
        ["java", "-cp", str(java), "WssClient", net.url + path, action, str(request),
         str(stores / ("%s.p12" % institution)), KEYSTORE_PASSWORD, institution,
         str(stores / "kszws-truststore.p12"), TRUSTSTORE_PASSWORD, *extra],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(re.findall(r"(?m)^([\w-]+): (.*)$", done.stdout))


def test_the_keystore_holds_the_registered_identity_and_java_reads_both(net, stores):
    with open(stores / "cpas-eupen.p12", "rb") as fh:
        loaded = pkcs12.load_pkcs12(fh.read(), KEYSTORE_PASSWORD.encode())
    registered = pki.read_cert(stores / "cpas-eupen.crt")
    assert loaded.cert.certificate == registered
    assert loaded.cert.friendly_name == b"cpas-eupen"
    assert loaded.key.public_key().public_numbers() == registered.public_key().public_numbers()
    assert [c.certificate for c in loaded.additional_certs] == [pki.read_cert(stores / "ca.crt")]
    assert (stores / "cpas-eupen.p12").stat().st_mode & 0o077 == 0  # like the PEM key
    listing = subprocess.run(["keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore",
                              str(stores / "cpas-eupen.p12"), "-storepass", KEYSTORE_PASSWORD],
                             capture_output=True, text=True, timeout=60)
    assert "Alias name: cpas-eupen" in listing.stdout
    assert "Entry type: PrivateKeyEntry" in listing.stdout
    assert "Certificate chain length: 2" in listing.stdout
    trusted = subprocess.run(["keytool", "-list", "-storetype", "PKCS12", "-keystore",
                              str(stores / "kszws-truststore.p12"), "-storepass",
                              TRUSTSTORE_PASSWORD], capture_output=True, text=True, timeout=60)
    assert re.findall(r"(?m)^([\w-]+), .*trustedCertEntry", trusted.stdout) == \
        ["kszws-ca", "kszws-hub-1"]
    wrong = subprocess.run(["keytool", "-list", "-storetype", "PKCS12", "-keystore",
                            str(stores / "cpas-eupen.p12"), "-storepass", "not-it"],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0


def test_a_java_signed_request_is_answered_with_a_reply_java_verifies(net, java, stores):
    seen = call(net, java, stores, "cpas-eupen", "hallo vanuit Java")
    assert seen["status"] == "200" and seen["fault"] == "false", seen
    assert seen["echo"] == "hallo vanuit Java"
    assert seen["reply-signature"] == "valid" and seen["reply-signer"] == "trusted"
    assert seen["reply-signature-covers-body"] == "true"
    row = log_row(net.settings, seen["ticket"])
    assert row["outcome"] == "OK" and row["caller"] == "cpas-eupen"
    assert row["auth_method"] == "signature" and row["signed_request"] and row["signed_reply"]


def test_a_java_client_calls_the_classic_sendxml(net, java, stores):
    """As the real CBSS's Java clients: IdentifyPerson through sendXML, signed."""
    inner = ssdntools.ssdn_request(ssdntools.identify("70100853190"), caller="cpas-eupen")
    seen = java_call(net, java, stores, "cpas-eupen", ssdntools.PATH,
                     ssdntools.ACTION.strip('"'), ssdntools.envelope(inner))
    assert seen["status"] == "200" and seen["reply-signature"] == "valid", seen
    reply = ssdntools.Reply(base64.b64decode(seen["xmlString"]).decode("utf-8"))
    assert reply.summary() == ("YES", 0, [])
    assert "70100853190" in reply.text and "MUSTERMANN" in reply.text
    assert log_row(net.settings, reply.ticket)["outcome"] == "OK"


def test_java_requests_the_hub_must_refuse(net, java, stores):
    tampered = call(net, java, stores, "cpas-eupen", "signed, then changed", "tamper")
    expired = call(net, java, stores, "test-expired", "an expired certificate")
    sha1 = call(net, java, stores, "cpas-eupen", "SoapUI's default algorithms", "sha1")
    for seen, code in ((tampered, "SEC00002"), (expired, "SEC00005"), (sha1, "SEC00003")):
        assert seen["status"] == "500" and seen["fault"] == "true", seen
        assert seen["reasonCode"] == code
        # Faults are signed too, and Java verifies them.
        assert seen["reply-signature"] == "valid" and seen["reply-signer"] == "trusted"
        row = log_row(net.settings, seen["ticket"])
        assert row["outcome"] == "REFUSED" and row["reason_code"] == code


def test_keystore_command_errors(net):
    unknown = run_kszws(net.settings, "pki", "keystore", "nobody")
    assert unknown.returncode == 2 and "unknown: nobody" in unknown.stderr
    missing = run_kszws(net.settings, "pki", "keystore")
    assert missing.returncode == 2 and "none given" in missing.stderr
    generated = run_kszws(net.settings, "pki", "keystore", "cpas-liege", "--out",
                      str(net.settings.certs_dir / "liege.p12"))
    password = re.search(r"password (\S+)\)", generated.stdout).group(1)
    with open(net.settings.certs_dir / "liege.p12", "rb") as fh:
        assert pkcs12.load_pkcs12(fh.read(), password.encode()).cert.friendly_name == \
            b"cpas-liege"


def test_truststore_without_the_hub_certificate(tmp_path):
    settings = make_project(tmp_path)
    (settings.certs_dir / "kszws-hub.crt").unlink()
    done = run_kszws(settings, "pki", "truststore")
    assert done.returncode == 2 and "kszws pki init" in done.stderr
    assert not (settings.certs_dir / "kszws-truststore.p12").exists()
