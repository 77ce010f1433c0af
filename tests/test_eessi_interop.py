"""Interoperability of kszws's EESSI access point with an AS4 implementation it did not
write: the PyPI package `as4` 0.2.0 (https://github.com/dbkosky/as4), installed in its own
virtual environment (.interop/as4-venv, pinned by tests/interop/as4-requirements.txt) and
driven as a subprocess by tests/interop/as4_driver.py. kszws never imports it.

(a) the package, as the German access point, builds and signs a SED message, pushes it over
    HTTPS with the German client certificate to the hub's Outbox (`kszws serve`), and
    verifies the hub's receipt: signed by the hub's certificate, NRR digests equal to what
    it signed. RSZ then pulls the message byte for byte as the package sent it.
(b) kszws's building blocks (ebms, signature, mime) push a SED, signed with the hub's key,
    to an HTTPS receiver run with the package; kszws verifies the package's receipt
    (signature, NRR digests against the references it sent).

Skipped only when the package cannot be installed (no network)."""
import base64
import datetime
import fcntl
import gzip
import hashlib
import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from lxml import etree

from kszws.eessi import ebms, mime, signature
from kszws.registry import load_registry
from kszws.security import keystore
from kszws.wire.ns import DS, q
from tests import eessitools
from tests.netfixture import ROOT, free_port, make_project, start_network, stop_network

HERE = Path(__file__).resolve().parent / "interop"
DRIVER = HERE / "as4_driver.py"
REQUIREMENTS = HERE / "as4-requirements.txt"
VENV = ROOT / ".interop" / "as4-venv"
TLS = {"tls_certificate": '"certs/kszws-hub.crt"', "tls_key": '"certs/kszws-hub.key"',
       "tls_client_ca": '"certs/ca.crt"'}
OUTBOX = "/EESSI/BusinessMessaging/v0.0/Outbox/Service.svc"
INBOX = "/EESSI/BusinessMessaging/v0.0/Inbox/Service.svc"
WORKER = "70100853190"  # Max Mustermann in the demo register
GERMAN_INSTITUTION = "DE:101002970"


# --- the package's own environment ------------------------------------------------------

def _venv_python():
    """The python of .interop/as4-venv with the pinned requirements, made once (under a lock:
    parallel test processes share it); pytest.skip when pip cannot install them."""
    python = VENV / "bin" / "python"
    stamp = VENV / "installed-requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "as4-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text() == wanted:
            return python
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True,
                       capture_output=True, timeout=300)
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
             "--timeout", "30", "--retries", "2", "-r", str(REQUIREMENTS)],
            capture_output=True, text=True, timeout=900)
        if installed.returncode != 0:
            said = (installed.stderr or installed.stdout).strip().splitlines()
            pytest.skip("the as4 package cannot be installed (no network?): %s"
                        % " / ".join(said[-2:])[-400:])
        stamp.write_text(wanted)
    return python


@pytest.fixture(scope="module")
def as4_python():
    return _venv_python()


def driver(python, *args, timeout=120):
    """Run the driver to completion; its one JSON result."""
    run = subprocess.run([str(python), str(DRIVER), *map(str, args)], capture_output=True,
                         text=True, timeout=timeout)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


class Receiver:
    """`as4_driver.py serve`: the package's HTTPS receiver, read line by line."""

    def __init__(self, python, *args):
        self.process = subprocess.Popen([str(python), str(DRIVER), "serve", *map(str, args)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self.next()
        self.url = "https://127.0.0.1:%d%s" % (self.ready["port"], OUTBOX)

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout=60):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None:
            self.stop()
            pytest.fail("the as4 receiver said nothing: %s" % self.process.stderr.read()[-3000:])
        return json.loads(line)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


# --- the hub --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hub(as4_python, tmp_path_factory):  # as4_python first: no hub is started to be skipped
    settings = make_project(tmp_path_factory.mktemp("eessi-interop"),
                            settings={**TLS, "tls_port": str(free_port())})
    running = start_network(settings)
    yield running
    stop_network(running)


@pytest.fixture(scope="module")
def paths(hub):
    certs = hub.settings.certs_dir
    german = certs / "eessi" / "DE-APDE01.crt"
    hub_cert = Path(load_registry(hub.settings).hub.certificates[0])
    return {"german": german, "german_key": keystore.key_path_for(german),
            "german_ca": certs / "eessi" / "DE-ca.crt", "ca": certs / "ca.crt",
            "hub": hub_cert, "hub_key": keystore.key_path_for(hub_cert),
            "rsz": certs / "rsz-onss.crt"}


def comparable(references):
    return sorted((r["uri"], tuple(r["transform_algorithms"]), r["digest_algorithm"],
                   r["digest_value"]) for r in references)


# --- (a) the package pushes to kszws -------------------------------------------------------------

def push_with_as4(as4_python, hub, paths, tmp_path, case_id, peer_cert=None, **sed):
    sed_file, dump = tmp_path / ("%s.xml" % case_id), tmp_path / ("%s.request" % case_id)
    sed_file.write_bytes(eessitools.sed(GERMAN_INSTITUTION, "BE:RSZ01", case_id=case_id, **sed))
    result = driver(as4_python, "send", "--url", hub.https_url + OUTBOX,
                    "--cert", paths["german"], "--key", paths["german_key"], "--ca", paths["ca"],
                    "--peer-cert", peer_cert or paths["hub"], "--sender", GERMAN_INSTITUTION,
                    "--receiver", "BE:RSZ01", "--sed", sed_file, "--conversation", case_id,
                    "--dump", dump)
    headers, body = dump.read_bytes().split(b"\n", 1)
    return result, (json.loads(headers)["Content-Type"], body)


def test_the_as4_package_pushes_a_sed_and_verifies_the_hubs_receipt(as4_python, hub, paths,
                                                                      tmp_path):
    result, sent = push_with_as4(as4_python, hub, paths, tmp_path, "case-interop-1",
                                 ssins=[WORKER])
    assert result["version"] == "0.2.0"
    assert result["http_status"] == 200, base64.b64decode(result["reply"])[:600]
    assert (result["errors"], result["verified"], result["state"]) == ([], None, "acknowledged")
    signed = comparable(result["signed_references"])
    assert [uri for uri, *_ in signed if not uri.startswith("#")] == ["cid:defaultSED"]
    assert len(signed) == 3  # eb:Messaging, Body, the SED part
    assert comparable(result["acknowledged"]) == signed  # NRR: exactly what was signed

    # The hub's own view: a push by the German access point, the worker its subject, and
    # RSZ pulls the message byte for byte as the package built it.
    rsz = (str(paths["rsz"]), str(keystore.key_path_for(paths["rsz"])))
    pull = ebms.pull_request_envelope(ebms.mpc_of("BE:RSZ01"), eessitools.now())
    signature.sign(pull, {}, keystore.load_signing_identity(paths["rsz"]))
    content_type, body = mime.write(etree.tostring(pull), [])
    pulled = requests.post(hub.https_url + INBOX, data=body, cert=rsz, verify=str(paths["ca"]),
                           headers={"Content-Type": content_type}, timeout=30)
    assert (pulled.headers["Content-Type"], pulled.content) == sent
    package = mime.read(*sent)
    trust = keystore.TrustStore()
    trust.add(keystore.load_certificate(paths["german"]), "DE:APDE01")
    verified = signature.verify(etree.fromstring(package.envelope), package.attachments, trust,
                                eessitools.now())
    assert verified.principal == "DE:APDE01"
    assert gzip.decompress(package.attachments["defaultSED"]).startswith(b"<?xml")


def test_the_as4_package_refuses_a_receipt_from_another_signer(as4_python, hub, paths,
                                                               tmp_path):
    """The package's receipt check is real: expecting the German certificate, the hub's
    receipt is refused."""
    result, _ = push_with_as4(as4_python, hub, paths, tmp_path, "case-interop-2",
                              peer_cert=paths["german"])
    assert result["state"] != "acknowledged"
    assert "Receipt is signed by" in result["verified"]


def test_the_hub_answers_the_packages_refused_sed_with_an_error_it_reads(as4_python, hub, paths,
                                                                        tmp_path):
    result, _ = push_with_as4(as4_python, hub, paths, tmp_path, "case-interop-3",
                              sed_type="P2000")
    assert result["state"] == "rejected"
    code, severity, detail = result["errors"][0]
    assert (code, severity) == ("EBMS:0004", "failure")
    assert "SED P2000 is not allowed in LA_BUC_02" in detail


# --- (b) kszws pushes to the package ------------------------------------------------------------

@pytest.fixture(scope="module")
def receiver(as4_python, paths):
    running = Receiver(as4_python, "--party", "DE:APDE01", "--cert", paths["german"],
                       "--key", paths["german_key"], "--client-ca", paths["ca"],
                       "--signer-cert", paths["hub"])
    yield running
    running.stop()


def push_with_kszws(receiver, paths, tamper=False):
    hub_key = keystore.load_signing_identity(paths["hub"])
    message = eessitools.user_message("BE:RSZ01", GERMAN_INSTITUTION, eessitools.now())
    sed = eessitools.sed("BE:RSZ01", GERMAN_INSTITUTION, sed_type="A009", buc="LA_BUC_04")
    content_type, body = eessitools.package(message, sed, hub_key)
    if tamper:
        package = mime.read(content_type, body)
        forged = gzip.compress(sed.replace(b"Peeters", b"Janssens"))
        content_type, body = mime.write(package.envelope,
                                        [("defaultSED", "application/gzip", forged)])
    reply = requests.post(receiver.url, data=body, headers={"Content-Type": content_type},
                          cert=(str(paths["hub"]), str(paths["hub_key"])),
                          verify=str(paths["german_ca"]), timeout=30)
    return message, sed, (content_type, body), reply


def test_kszws_pushes_a_sed_to_the_package_and_verifies_its_receipt(receiver, paths):
    message, sed, sent, reply = push_with_kszws(receiver, paths)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/soap+xml")
    received = receiver.next()
    assert (received["state"], received["error"]) == ("received", None)
    assert received["message_id"] == message.message_id
    assert received["from"] == "BE:RSZ01"
    assert base64.b64decode(received["payloads"]["defaultSED"]) == sed  # inflated by it

    root = etree.fromstring(reply.content)
    trust = keystore.TrustStore()
    trust.add(keystore.load_certificate(paths["german"]), "DE:APDE01")
    assert signature.verify(root, {}, trust, eessitools.now()).principal == "DE:APDE01"
    signal = ebms.read(root)
    assert (signal.kind, signal.ref_to_message_id) == ("receipt", message.message_id)
    sent_envelope = etree.fromstring(mime.read(*sent).envelope)
    sent_references = {(r.get("URI"), r.find(q(DS, "DigestMethod")).get("Algorithm"),
                        r.findtext(q(DS, "DigestValue")).strip())
                       for r in sent_envelope.iter(q(DS, "Reference"))}
    assert len(sent_references) == 3
    assert set(signal.references) == sent_references  # NRR: every part, as kszws signed it


def test_the_package_refuses_a_tampered_sed_from_kszws(receiver, paths):
    message, _, _, reply = push_with_kszws(receiver, paths, tamper=True)
    received = receiver.next()
    assert received["state"] == "rejected"
    assert received["error"][0] == "EBMS:0101"
    root = etree.fromstring(reply.content)
    trust = keystore.TrustStore()
    trust.add(keystore.load_certificate(paths["german"]), "DE:APDE01")
    signature.verify(root, {}, trust, eessitools.now())  # its error signal is signed too
    signal = ebms.read(root)
    assert (signal.kind, signal.ref_to_message_id) == ("error", message.message_id)
    assert signal.errors[0][0] == "EBMS:0101"


# --- the package's wire, recorded (runs without the package) ------------------------------------

RECORDED = HERE / "recorded"
RECORDED_AT = datetime.datetime(2026, 12, 1, 4, 35, tzinfo=datetime.timezone.utc)


def recorded(name):
    headers, body = (RECORDED / name).read_bytes().split(b"\n", 1)
    return json.loads(headers)["Content-Type"], body


def recorded_signer():
    trust = keystore.TrustStore()
    trust.add(keystore.load_certificate(RECORDED / "as4-signer.crt"), "DE:APDE01")
    return trust


def test_kszws_reads_and_verifies_the_packages_recorded_message():
    """The package's framing: no `start` parameter and no Content-ID on the root part, the
    SED part application/octet-stream without Content-Transfer-Encoding, a Body wsu:Id that
    is a bare UUID, a wsse:Security with S12:mustUnderstand, ds:Signature with an Id."""
    content_type, body = recorded("as4-user-message.mime")
    assert "start=" not in content_type
    package = mime.read(content_type, body)
    assert package.attachment_types == {"defaultSED": "application/octet-stream"}
    root = etree.fromstring(package.envelope)
    message = ebms.read(root)
    assert (message.from_party, message.to_party, message.action) == (
        GERMAN_INSTITUTION, "BE:RSZ01", "Send")
    assert message.properties == {"originalSender": GERMAN_INSTITUTION,
                                  "finalRecipient": "BE:RSZ01"}
    assert message.parts[0].properties == eessitools.SED_PROPERTIES
    verified = signature.verify(root, package.attachments, recorded_signer(), RECORDED_AT)
    assert [r.get("URI") for r in verified.references][-1] == "cid:defaultSED"
    assert b"LA_BUC_02" in gzip.decompress(package.attachments["defaultSED"])


def test_kszws_verifies_the_packages_recorded_receipt_against_what_it_sent():
    sent = etree.fromstring(mime.read(*recorded("kszws-user-message.mime")).envelope)
    receipt = etree.fromstring((RECORDED / "as4-receipt.xml").read_bytes())
    signature.verify(receipt, {}, recorded_signer(), RECORDED_AT)
    signal = ebms.read(receipt)
    assert signal.kind == "receipt"
    assert signal.ref_to_message_id == ebms.read(sent).message_id
    assert set(signal.references) == {
        (r.get("URI"), r.find(q(DS, "DigestMethod")).get("Algorithm"),
         r.findtext(q(DS, "DigestValue")).strip()) for r in sent.iter(q(DS, "Reference"))}
