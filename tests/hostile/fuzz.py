"""Coverage-guided fuzzing of the hub's admission path (atheris, i.e. libFuzzer on Python):
parse -> SOAP envelope -> WS-Security -> caller and endpoint policy -> schema validation
-> for sendXML, the SSDN string's own parse and schema -> the signed fault the hub would
send for a refusal. The same steps, in the same order, as Hub.handle (hub/pipeline.py),
without the replay cache and the database, so that nothing but the checks is measured.

    .venv/bin/python -m tests.hostile.fuzz [--seconds 60]

Seeds: the hostile corpus (tests/hostile/corpus.py, written afresh for a throw-away
project with its own PKI, so that its signed cases are inside their Timestamp window) and
every file of tests/hostile/found/. The run fails (exit 1) on a crash (any exception but a
Refusal), an input that takes over 1 s, or a refusal whose answer is not a SOAP Fault
carrying its code; libFuzzer then leaves the input in tests/hostile/found/. Commit it:
tests/test_fuzz_found.py replays every file there, so the bug stays fixed.
"""
import argparse
import base64
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["kszws"]):
    from kszws.clock import utcnow
    from kszws.hub.pipeline import Hub
    from kszws.hub.validation import SchemaCatalogue
    from kszws.registry import load_registry
    from kszws.security import wsse
    from kszws.security.authn import Authenticator, Transport, build_trust_store
    from kszws.security.credentials import Credentials
    from kszws.security.keystore import load_signing_identity
    from kszws.services import EndpointContext, ENDPOINTS
    from kszws.services.classic import parse_ssdn_request
    from kszws.wire import soap, ssdn, xmlparse
    from kszws.wire.reasons import Refusal

FOUND = Path(__file__).resolve().parent / "found"
DICTIONARY = Path(__file__).resolve().parent / "xml.dict"
TARGET_SERVICES = ("TestConnectionService", "KSZBCSSWebServiceConnector",
                   "RetrieveTIGroupsService")


class Admission:
    """The hub's synchronous checks for one project (conf/, certs/)."""

    def __init__(self, settings):
        registry = load_registry(settings)
        authenticator = Authenticator(registry, build_trust_store(registry),
                                      Credentials(settings.data_dir / "credentials.json"),
                                      wsse.Policy(), utcnow)
        self.catalogue = SchemaCatalogue.from_files(
            [s.wsdl for s in registry.services.values()],
            [s.accept for s in registry.services.values() if s.accept])
        self.hub = Hub(authenticator, None, None, self.catalogue,
                       load_signing_identity(registry.hub.certificates[0]), utcnow)
        context = EndpointContext(registry, utcnow, dict.fromkeys(registry.sources),
                                  settings.project_root)
        self.endpoints = [ENDPOINTS[registry.services[name].implementation](
            registry.services[name], context) for name in TARGET_SERVICES]
        self.classic = self.endpoints[1]
        password = (settings.certs_dir / "cpas-liege.password").read_text().strip()
        self.basic = b"Basic " + base64.b64encode(("E0207311071:" + password).encode())

    def endpoint_for(self, data):
        """The endpoint a case was written for (the corpus names it by its payload)."""
        if b"xmlString" in data:
            return self.endpoints[1]
        if b"retrieveTIGroupsRequest" in data:
            return self.endpoints[2]
        return self.endpoints[0]

    def run(self, data):
        """Admit `data` or refuse it; raise AssertionError if the refusal's answer is not
        a SOAP Fault with its code. Any other exception is a bug."""
        endpoint = self.endpoint_for(data)
        signed = b"Security" in data
        transport = Transport(peer="192.0.2.1", authorization=b"" if signed else self.basic,
                              client_certificate=b"", secure=False)
        exchange = self.hub._exchange(endpoint, transport, len(data))
        try:
            _, payload, _ = self.hub._admit(endpoint, transport, data, b"text/xml", exchange)
            self.hub._validate(payload)
            if endpoint is self.classic and payload.tag == q_xml_string():
                parse_ssdn_request(endpoint.application.gateway.catalogue, payload.text or "")
        except Refusal as refusal:
            reply = self.hub._fault(endpoint, exchange, refusal)
            root = xmlparse.parse(reply.body)
            body = soap.split_envelope(root)[1]
            assert body.find(soap.FAULT) is not None, "the answer is not a SOAP Fault"
            assert root.findtext(".//reasonCode") == refusal.code, "the Fault lost its code"


def q_xml_string():
    return "{%s}xmlString" % ssdn.CONNECTOR


def seeds(project, into):
    """The corpus, written for `project`, plus what earlier runs found."""
    from tests.hostile import corpus

    corpus.write(into, corpus.Signer(project))
    for found in FOUND.glob("*"):
        if found.is_file() and found.name != "README.md":
            shutil.copy(found, into / ("found-" + found.name))
    return into


def flat(folder):
    """libFuzzer reads seed folders flat: one folder of files."""
    out = folder.parent / (folder.name + "-flat")
    out.mkdir()
    for i, path in enumerate(sorted(p for p in folder.rglob("*") if p.suffix == ".xml")):
        shutil.copy(path, out / ("%04d-%s" % (i, path.name)))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description="fuzz the hub's admission path")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--max-len", type=int, default=65536)
    args, libfuzzer = parser.parse_known_args(argv)
    from tests.netfixture import make_project

    work = Path(tempfile.mkdtemp(prefix="kszws-fuzz-"))
    settings = make_project(work / "project")
    admission = Admission(settings)
    seed_dir = flat(seeds(settings.conf_dir.parent, work / "seeds"))
    learned = work / "learned"
    learned.mkdir()
    FOUND.mkdir(exist_ok=True)
    atheris.Setup([sys.argv[0], "-max_total_time=%d" % args.seconds, "-timeout=1",
                   "-rss_limit_mb=4096", "-max_len=%d" % args.max_len,
                   "-artifact_prefix=%s/" % FOUND, "-dict=%s" % DICTIONARY,
                   "-print_final_stats=1", *libfuzzer,
                   str(learned), str(seed_dir)], admission.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
