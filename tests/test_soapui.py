"""`kszws soapui export` against a running demo: the projects are valid under SoapUI's own
schema (when ../shared/soapui is there), and every request in them, signed exactly as the
project's WS-Security entries say (tests/soapui_replay.py), gets the answer its test
asserts - twice in a row, since a suite leaves the demo as it found it."""
import json
import signal
import subprocess
import sys

import pytest
import requests
from lxml import etree

from kszws.registry import load_registry
from tests.netfixture import make_project, run_kszws
from tests.soapui_replay import N, SHARED, Project, check, soapui_schema


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("soapui"))
    proc = subprocess.Popen([sys.executable, "-m", "kszws", "--conf", str(project.conf_dir),
                             "demo", "--port", "0", "--tls-port", "0"],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        for line in proc.stdout:
            if "Stop with Ctrl-C" in line:
                break
        info = json.loads((project.data_dir / "demo.json").read_text())
        yield project, info["hub"]["url"]
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.stdout.read()
        proc.wait(30)
    # Stopped, it says so, and its demo.json (which `kszws call` follows) is gone.
    assert "kszws demo: stopped" in rest
    assert not (project.data_dir / "demo.json").exists()


def test_without_url_the_running_demo_is_found(demo, tmp_path):
    """The demo chose its own port (--port 0): `kszws call` and the export follow
    demo.json instead of conf/kszws.toml's port."""
    project, url = demo
    assert ":%d" % project.port not in url
    called = run_kszws(project, "call", "TestConnectionService", "sendTestMessage", "echo=hi")
    assert called.returncode == 0 and "echo: hi" in called.stdout, called.stderr
    exported = run_kszws(project, "soapui", "export", "--out", str(tmp_path),
                         "--per-service")
    assert exported.returncode == 0, exported.stderr
    assert url in (tmp_path / "TestConnectionService-soapui-project.xml").read_text()


def export(project, url, out, *more):
    result = run_kszws(project, "soapui", "export", "--url", url, "--out", str(out), *more)
    return result


def session():
    s = requests.Session()
    s.trust_env = False
    return s


def passed(outcomes):
    found = failures(outcomes)
    assert not found, "\n".join(found)
    return True


def failures(outcomes):
    return ["%s / %s / %s: %s\n%s" % (o.suite, o.case, o.step, o.failures,
                                       o.reply.decode("utf-8", "replace")[-1500:])
            for o in outcomes if o.failures]


def test_one_project_for_all_services_replays_as_it_says(demo, tmp_path):
    project, url = demo
    result = export(project, url, tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "kszws-soapui-project.xml"
    assert "wrote %s" % path in result.stdout
    if SHARED.exists():
        schema = soapui_schema()
        assert schema.validate(etree.parse(str(path))), schema.error_log
    soapui = Project(path)
    registry = load_registry(project)
    # Every operation of every demo service has its request, and its interface its
    # definition cache: the WSDL and each schema it imports, as the hub serves them.
    for name, service in registry.services.items():
        if name == "TestConnectionServiceSigned":  # a test endpoint, no demo data
            continue
        interface, = soapui.root.xpath("con:interface[con:endpoints/con:endpoint=$e]",
                                       namespaces=N, e=url + service.path)
        ops = {op.get("name") for op in interface.findall("con:operation", N)}
        wsdl = requests.get(url + service.path + "?wsdl", timeout=10).text
        assert ops == set(etree.fromstring(wsdl.encode()).xpath(
            "//*[local-name()='binding']/*[local-name()='operation']/@name")), name
        parts = interface.findall("con:definitionCache/con:part", N)
        assert parts[0].findtext("con:content", namespaces=N) == wsdl
        cached = {p.findtext("con:url", namespaces=N) for p in parts}
        for part in parts:  # every schema a part imports is cached too: opens offline
            content = etree.fromstring(part.findtext("con:content", namespaces=N).encode())
            assert set(content.xpath("//@schemaLocation")) <= cached, name
    # Every test step, twice: a suite leaves the demo as it found it.
    for run in (1, 2):
        outcomes = soapui.run(session())
        assert len(outcomes) >= 60
        assert passed(outcomes), run
    refused = [o for o in outcomes if o.status != 200]
    assert {o.status for o in refused} == {401, 500} and len(refused) >= 12
    suites = {s.get("name") for s in soapui.root.findall("con:testSuite", N)}
    assert len(suites) == 14
    for suite in soapui.root.findall("con:testSuite", N):  # a negative case in each
        assert suite.xpath(".//con:assertion[@type='SOAP Fault']", namespaces=N), \
            suite.get("name")
    # Each operation's own request ("Request 1") alone, after the suites: well-formed and
    # signed as the hub wants (no MSG/SEC fault) unless a refusal by design; a business
    # refusal (ACC: the suite closed the file it needs) is the demo's state, not the request.
    by_design = {o.step.split()[0] for o in refused}
    for interface, operation, call in soapui.requests():
        if "#Response#" in call.findtext("con:request", namespaces=N):
            continue  # needs an earlier reply (an id): played within its test case
        outcome = soapui.send(session(), interface, operation, call)
        code = etree.fromstring(outcome.reply).findtext(".//reasonCode") or ""
        assert outcome.status == 200 or operation in by_design or not code.startswith(
            ("MSG", "SEC")), (interface, operation, outcome.reply[-800:])


def test_the_replay_signs_as_the_project_says(demo, tmp_path):
    """A project whose Signature entry asks for SoapUI's defaults (RSA-SHA1, SHA-1) is
    refused by the strict hub: the replay follows the project, not kszws's own signer."""
    project, url = demo
    assert export(project, url, tmp_path).returncode == 0
    soapui = Project(tmp_path / "kszws-soapui-project.xml")
    interface, operation, call = next(
        r for r in soapui.requests() if r[1] == "sendTestMessage")
    assert not soapui.send(session(), interface, operation, call).failures
    for outgoing in soapui.outgoing.values():
        conf = outgoing.find("con:entry[@type='Signature']/con:configuration", N)
        conf.find("signatureAlgorithm").text = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
        conf.find("digestAlgorithm").text = "http://www.w3.org/2000/09/xmldsig#sha1"
    outcome = soapui.send(session(), interface, operation, call)
    assert outcome.status == 500 and b"SEC00" in outcome.reply


def test_per_service_projects_stand_alone(demo, tmp_path):
    project, url = demo
    result = export(project, url, tmp_path, "--per-service")
    assert result.returncode == 0, result.stderr
    files = sorted(tmp_path.glob("*-soapui-project.xml"))
    assert len(files) == 14
    schema = soapui_schema() if SHARED.exists() else None
    for path in files:
        if schema is not None:
            assert schema.validate(etree.parse(str(path))), (path, schema.error_log)
        soapui = Project(path)
        named = {i.get("name") for i in soapui.root.findall("con:interface", N)}
        steps = soapui.root.findall(".//con:testStep/con:config", N)
        assert {s.findtext("con:interface", namespaces=N) for s in steps} <= named
        wss = {r.get("outgoingWss") for r in soapui.root.iter("{%s}request" % N["con"],
                                                               "{%s}call" % N["con"])}
        assert wss - {None} <= set(soapui.outgoing), path
    pensions = Project(tmp_path / "PensionCadastreService-soapui-project.xml")
    assert passed(pensions.run(session()))


def test_as_one_institution(demo, tmp_path):
    project, url = demo
    result = export(project, url, tmp_path, "--as", "mutualite-chretienne")
    assert result.returncode == 0, result.stderr
    soapui = Project(tmp_path / "kszws-soapui-project.xml")
    assert set(soapui.outgoing) == {"sign as mutualite-chretienne"}
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["mutualite-chretienne.p12"]
    assert {s.get("name") for s in soapui.root.findall("con:testSuite", N)} == {
        "TestConnectionService TestSuite", "ReferenceDirectoryService TestSuite",
        "EmploymentService TestSuite", "AuthorizationService TestSuite",
        "PublicEmployerService TestSuite"}
    assert passed(soapui.run(session()))


@pytest.mark.parametrize("args, message", [
    (["--as", "cpas-eupn"], "no institution 'cpas-eupn' (--as); did you mean cpas-eupen"),
    (["--as", "cpas-liege"], "cpas-liege authenticates with basic"),
    (["--url", "http://127.0.0.1:1"], "the hub at http://127.0.0.1:1/"),
])
def test_mistakes_give_one_line_and_write_nothing(demo, tmp_path, args, message):
    project, url = demo
    out = tmp_path / "out"
    result = run_kszws(project, "soapui", "export", "--out", str(out),
                       *(args if "--url" in args else ["--url", url, *args]))
    assert result.returncode == 3
    assert result.stderr.startswith("kszws soapui: " + message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_assertions_fail_when_the_reply_differs():
    """The replay's assertions are not a formality: each fails on the wrong reply."""
    ok = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
          b'<r><status><code>MSG00000</code></status></r></s:Body></s:Envelope>')
    fault = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
             b'<s:Fault><faultstring>no</faultstring><detail><reasonCode>SEC00001'
             b'</reasonCode></detail></s:Fault></s:Body></s:Envelope>')

    def assertion(kind, path="", content=""):
        element = etree.Element("{%s}assertion" % N["con"], type=kind)
        conf = etree.SubElement(element, "{%s}configuration" % N["con"])
        etree.SubElement(conf, "path").text = path
        etree.SubElement(conf, "content").text = content
        return element

    assert check(assertion("Not SOAP Fault"), ok) is None
    assert check(assertion("Not SOAP Fault"), fault)
    assert check(assertion("SOAP Fault"), fault) is None
    assert check(assertion("SOAP Fault"), ok)
    assert check(assertion("SOAP Response"), b"<html/>")
    assert check(assertion("XPath Match", "//status/code", "MSG00000"), ok) is None
    assert check(assertion("XPath Match", "//status/code", "MSG00001"), ok)
    assert check(assertion("XPath Match", "//reasonCode", "SEC00001"), fault) is None


def test_the_readme_tour_pastes(demo, tmp_path):
    """The README's five-minute tour, each line run by a shell as printed (the demo here
    chose its own port and configuration folder: those two are put in)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    tour = readme[readme.index("A five-minute tour"):]
    opening = tour.index("```sh\n") + 6
    block = tour[opening:tour.index("\n```", opening)]
    project, url = demo
    kszws = "%s -m kszws --conf %s" % (sys.executable, project.conf_dir)
    lines = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert len(lines) >= 6
    for line in lines:
        command = line.replace(".venv/bin/kszws", kszws).replace("http://127.0.0.1:8080", url)
        result = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, (line, result.stderr)
        assert result.stdout.strip(), line
        assert "Traceback" not in result.stderr
    assert (tmp_path / "soapui" / "kszws-soapui-project.xml").exists()


class _Hostile:
    """A fake hub on loopback answering every GET with `body(path)` (bytes, or an
    iterator of chunks)."""

    def __init__(self, body):
        import http.server
        import threading

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                data = body(self.path, outer.port)
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.end_headers()
                try:
                    for chunk in ([data] if isinstance(data, bytes) else data):
                        self.wfile.write(chunk)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


WSDL_IMPORTING = ('<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" '
                  'xmlns:xs="http://www.w3.org/2001/XMLSchema"><types><xs:schema>'
                  '<xs:import namespace="urn:x" schemaLocation="%s"/></xs:schema></types>'
                  '</definitions>')


def _endless(path, port):
    if "?wsdl" in path:
        return (WSDL_IMPORTING % "/big.xsd").encode()
    return iter(lambda: b"<a>" + b"x" * 65536, None)


def _chain(path):
    """/sN.xsd imports /sN+1.xsd, for ever."""
    n = int(path[2:].split(".")[0]) if path.startswith("/s") else 0
    return (WSDL_IMPORTING % "/s%d.xsd" % (n + 1)).encode()


@pytest.mark.parametrize("body, says", [
    (lambda path, port: (WSDL_IMPORTING % "http://127.0.0.2:9/secret").encode(),
     "imports http://127.0.0.2:9/secret, outside the hub"),
    (lambda path, port: b'<!DOCTYPE d SYSTEM "file:///etc/passwd"><definitions/>',
     "is not a UTF-8 WSDL or schema kszws reads"),
    (lambda path, port: b"\xff\xfe not xml", "is not a UTF-8 WSDL or schema kszws reads"),
    (_endless, "is larger than 4 MB"),
    (lambda path, port: _chain(path), "imports more than 50 documents"),
])
def test_a_hostile_hub_gets_one_line_and_nothing_written(demo, tmp_path, body, says):
    """What an export fetches is bounded and parsed by the hub's own hardened parser: a
    --url serving another host's schema, a DOCTYPE, bytes that are not UTF-8 XML, an
    endless body, an endless chain of imports: one line, exit 3, nothing written."""
    project, _ = demo
    hostile = _Hostile(body)
    try:
        out = tmp_path / "out"
        result = run_kszws(project, "soapui", "export", "--out", str(out), "--url",
                           "http://127.0.0.1:%d" % hostile.port, timeout=120)
    finally:
        hostile.close()
    assert result.returncode == 3, result.stderr
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1, \
        result.stderr
    assert not out.exists()


def test_secrets_are_written_into_new_files_only(demo, tmp_path):
    """A keystore or project already there (another user's file, 0666, or a symlink to a
    file of theirs) is replaced, never written through: keys and their passwords end up
    in new files readable by their owner only."""
    project, url = demo
    out = tmp_path / "out"
    (out / "keys").mkdir(parents=True)
    planted = out / "keys" / "cpas-eupen.p12"
    planted.write_bytes(b"")
    planted.chmod(0o666)
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (out / "kszws-soapui-project.xml").symlink_to(victim)
    assert export(project, url, out).returncode == 0
    assert victim.read_text() == "untouched"
    for path in (planted, out / "kszws-soapui-project.xml"):
        assert not path.is_symlink() and (path.stat().st_mode & 0o777) == 0o600, path
