"""The `kszws` command: validate, log, maintenance, pki, call, demo."""
import json
import re
import shlex
import signal
import subprocess
import sys
import time

import pytest

from kszws.cli import main
from tests.netfixture import free_port, make_project, run_kszws as run
from tests.soaptools import request_envelope
from kszws.wire import soap


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path)


def test_validate_accepts_a_good_message_and_explains_a_bad_one(project, tmp_path):
    good = tmp_path / "good.xml"
    good.write_bytes(soap.serialize(request_envelope("hi")))
    env = request_envelope("hi")
    env.find(soap.BODY)[0].find("echo").tag = "{urn:wrong}echo"
    bad = tmp_path / "bad.xml"
    bad.write_bytes(soap.serialize(env))
    hostile = tmp_path / "hostile.xml"
    hostile.write_bytes(b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>')
    ok = run(project, "validate", str(good))
    assert ok.returncode == 0 and "valid" in ok.stdout
    ko = run(project, "validate", str(good), str(bad), str(hostile))
    assert ko.returncode == 1
    assert "bad.xml: INVALID" in ko.stdout and "{urn:wrong}echo" in ko.stdout
    assert "hostile.xml: INVALID" in ko.stdout and "XML00002" in ko.stdout


def test_pki_init_is_idempotent(project):
    result = run(project, "pki", "init")
    assert result.returncode == 0 and "nothing to do" in result.stdout


def test_demo_gives_an_older_hub_certificate_the_loopback_names(project):
    """A PKI made before certificates named 127.0.0.1 and ::1: the demo re-issues the hub's
    (same key), as its HTTPS URL is https://127.0.0.1:8443."""
    from kszws import demo
    from kszws.registry import load_registry
    from kszws.security import pki
    from tests.netfixture import reissue_certificate

    hub = load_registry(project).hub
    reissue_certificate(project, "kszws-hub", hub.cbe)  # no subjectAltName at all
    key = pki.read_key(project.certs_dir / "kszws-hub.key")
    assert not pki.names_loopback(pki.read_cert(hub.certificates[0]))
    demo.prepare(project)
    cert = pki.read_cert(hub.certificates[0])
    assert pki.names_loopback(cert)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert not pki.name_loopback(project.certs_dir, hub)  # nothing more to do


def test_unknown_source(project):
    result = run(project, "source", "nowhere")
    assert result.returncode == 2 and "unknown source" in result.stderr


def test_maintenance_flag(project):
    assert "maintenance: on" in run(project, "maintenance", "on").stdout
    assert project.maintenance_flag.exists()
    assert "maintenance: off" in run(project, "maintenance", "off").stdout
    assert not project.maintenance_flag.exists()


def test_log_search_and_verify(project):
    from kszws.hub.exchange import Exchange, new_ticket
    from kszws.hub.exchange_log import ExchangeLog
    from kszws.store import database_from_settings
    from kszws.clock import utcnow

    db = database_from_settings(project)
    db.migrate()
    ticket = new_ticket()
    with db.write_transaction() as cursor:
        ExchangeLog(db, None).apply(cursor, [Exchange(ticket, utcnow(), "TestConnectionService",
                                                      10, replied_at=utcnow(),
                                                      ssins={"85073003328"})])
    found = run(project, "log", "--subject", "85073003328")
    assert found.returncode == 0 and ticket in found.stdout
    assert found.stdout.split()[:3] == ["SEQ", "RECEIVED", "(UTC)"]  # a header row
    as_json = json.loads(run(project, "log", "--ticket", ticket, "--json").stdout)
    assert as_json[0]["ticket"] == ticket
    verified = run(project, "log", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("OK: 1 rows")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE exchange_log SET caller = 'forged'")
    broken = run(project, "log", "verify")
    assert broken.returncode == 1 and "altered" in broken.stdout


def test_demo_starts_and_describes_the_network(project):
    tls_port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kszws", "--conf", str(project.conf_dir),
                             "demo", "--port", "0", "--tls-port", str(tls_port)],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Stop with Ctrl-C" in line:
                break
        text = "".join(lines)
        assert "kszws demo network is up" in text
        info = json.loads((project.data_dir / "demo.json").read_text())
        assert info["hub"]["url"] in text
        names = {i["id"]: i for i in info["institutions"]}
        assert names["cpas-liege"]["basic"]["username"] == "E0207311071"
        assert len(names["cpas-liege"]["basic"]["password"]) == 29
        assert names["cpas-eupen"]["certificate"].endswith("cpas-eupen.crt")
        assert info["services"][0]["wsdl"].endswith("?wsdl")
        printed = re.findall(r"^    (\S+) +\S+ +sector ", text, re.M)
        assert printed == [i["id"] for i in info["institutions"]]  # every one, as in demo.json
        # The ready-to-paste example calls work as printed, pasted in a shell.
        assert "  " + info["example"]["command"] + "\n" in text
        result = pasted(info["example"]["command"])
        assert result.returncode == 0, result.stderr
        assert "echo: hello" in result.stdout.splitlines()
        _client_certificate_over_https(project, info, text, tls_port)
        assert [s["id"] for s in info["sources"]] == ["national-register", "employer-directory",
                                                   "pension-cadastre"]
        # The walkthrough of the reference directory, as printed, in order.
        outcomes = []
        for what, command in info["example"]["walkthrough"]:
            result = pasted(command)
            outcomes.append((result.returncode, result.stdout + result.stderr))
            if "ManageAccess REGISTER" in what:  # while registered: the other examples
                _registered_examples(project, info)
        refused, registered, retrieved, investigated, charleroi, closed, after, seen = outcomes
        assert refused[0] == 2 and "ACC00002" in refused[1]
        assert registered[0] == 0 and "ok=YES" in registered[1]
        assert retrieved[0] == 0 and "  value: DATA_FOUND" in retrieved[1]
        assert investigated[0] == 0 and "ok=YES" in investigated[1]
        assert charleroi[0] == 2 and "31008007 ERROR:" in charleroi[1]
        assert closed[0] == 0 and "ok=YES" in closed[1]
        assert after[0] == 2 and "ACC00002" in after[1]
        assert seen[0] == 0, seen[1]
        outcomes = re.findall(r"^ +(?:- )?outcome: (\S+)$", seen[1], re.M)
        assert outcomes[:3] == ["REFUSED", "OK", "REFUSED"]
        assert set(re.findall(r"^ +(?:- )?institution: (.+)$", seen[1], re.M)) == {
            "CPAS/ÖSHZ Eupen", "CPAS de Charleroi"}
        _mailbox_walkthrough(project, info["example"]["mailbox_walkthrough"])
        _employer_walkthrough(project, info["example"]["employer_walkthrough"])
        _pension_walkthrough(project, info["example"]["pension_walkthrough"])
        _eessi_walkthrough(project, info["example"]["eessi_walkthrough"])
        _batch_walkthrough(info["example"]["batch_walkthrough"])
        _soctar_walkthrough(info["example"]["soctar_walkthrough"])
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def _eessi_walkthrough(project, steps):
    """The German round trip as printed: each command pasted (CASE replaced by the case the
    first send printed); a pull is repeated until what the pushes carry has arrived."""
    def until(command, expected, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            result = pasted(command)
            if expected in result.stdout or time.monotonic() > deadline:
                return result
            time.sleep(0.5)

    send, pull, answer, german_pull, log, status = [command for _, command in steps]
    sent = pasted(send)
    assert sent.returncode == 0 and "receipt" in sent.stdout, sent.stdout + sent.stderr
    case = re.search(r"case (\S+)\)", sent.stdout).group(1)
    pulled = until(pull, "A003 in case %s" % case)
    assert "receipt sent" in pulled.stdout and "70100853190" in pulled.stdout, pulled.stderr
    answered = pasted(answer.replace("CASE", case))
    assert answered.returncode == 0 and "(reply, case %s)" % case in answered.stdout
    received = until(german_pull, "A004 in case %s" % case)
    assert "receipt sent" in received.stdout, received.stdout + received.stderr
    logged = pasted(log)
    assert logged.returncode == 0 and logged.stdout.count("EESSI.push") == 2, logged.stdout
    assert pasted(status).returncode == 0


def _batch_walkthrough(steps):
    """The batch channel's walkthrough as printed: the file answered (two records refused:
    exit 1), its state, its log rows, the drop box seen with OpenSSH's sftp."""
    submit, status, log, sftp = [pasted(command) for _, command in steps]
    assert submit.returncode == 1 and "accepted (ACRF)" in submit.stdout, (
        submit.stdout + submit.stderr)
    assert "      2  000000" in submit.stdout and "      1  -400030" in submit.stdout
    assert status.returncode == 0 and " done " in status.stdout, status.stdout
    assert log.returncode == 0 and log.stdout.count("BatchChannel.IDPR") == 6, log.stdout
    assert sftp.returncode == 0 and "FO.ACRF.999999." in sftp.stdout, sftp.stdout + sftp.stderr


def _soctar_walkthrough(steps):
    """SOCTAR's quarter as printed: four lists of beneficiaries (three CPAS, the pension
    service), the ministry's 1,000 customers answered, some flagged, Max flagged through
    his partner's right, and the flag in her access log."""
    *declared, customers, flagged, max_, log = [pasted(command) for _, command in steps]
    assert len(declared) == 4
    for result in declared:
        assert result.returncode == 0 and "accepted (ACRF)" in result.stdout, (
            result.stdout + result.stderr)
    assert customers.returncode == 0, customers.stdout + customers.stderr
    assert "   1000  000000" in customers.stdout, customers.stdout
    assert 1 < int(flagged.stdout) < 1000, flagged.stdout + flagged.stderr
    assert "Flagged>true<" in max_.stdout and "Category>RI<" in max_.stdout, (
        max_.stdout + max_.stderr)
    assert log.returncode == 0 and log.stdout.count("BatchChannel.STCU") == 1, log.stdout


def _client_certificate_over_https(project, info, text, tls_port):
    """The demo also serves HTTPS; cpas-namur (client-cert) uses it without being told,
    and is told to when given the plain HTTP URL."""
    https_url = "https://127.0.0.1:%d" % tls_port
    assert info["hub"]["https_url"] == https_url and https_url in text
    result = run(project, "call", "TestConnectionService", "sendTestMessage", "echo=namur",
                 "--as", "cpas-namur")
    assert result.returncode == 0, result.stderr
    assert "0207312061" in result.stdout
    printed = pasted(info["example"]["client_certificate"])
    assert printed.returncode == 0, printed.stderr
    refused = run(project, "call", "TestConnectionService", "sendTestMessage", "echo=x",
                  "--as", "cpas-namur", "--url", info["hub"]["url"])
    assert refused.returncode == 3
    assert "only HTTPS carries" in refused.stderr and https_url in refused.stderr


def _mailbox_walkthrough(project, steps):
    """The mailbox walkthrough as printed: an address change reaches exactly the registered
    and authorized institutions, an attestation its health insurer; acknowledged items are
    not delivered again, unacknowledged ones are."""
    def call(command):
        if " call " in command:
            return data_of(project, command)
        result = pasted(command)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def items(command, until=lambda found: True, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            found = call(command).get("item") or []
            if until(found) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    (register, insurer_registers, move, eupen_box, insurer_box, publish, insurer_gets,
     acknowledge, insurer_again, eupen_again) = [command for _, command in steps]
    assert "ok=YES" in pasted(register).stdout
    assert call(insurer_registers)["status"]["code"] == "MSG00000"
    call(move)
    found = items(eupen_box, until=lambda found: found)
    assert [(i["kind"], i["type"], i["ssin"]) for i in found] == [
        ("mutation", "address", "72030512297")]
    assert items(insurer_box) == []  # registered, but not authorized for mutations
    assert call(publish)["status"]["code"] == "MSG00000"
    received = items(insurer_gets, until=lambda found: found)
    assert [(i["kind"], i["type"]) for i in received] == [("attestation", "integration_income")]
    done = call(acknowledge.replace("ITEM_ID", str(received[0]["id"])))
    assert done["acknowledged"] == [received[0]["id"]]
    assert items(insurer_again) == []
    assert [i["id"] for i in items(eupen_again)] == [found[0]["id"]]


def _pension_walkthrough(project, steps):
    """Two payers declare for Max, his health insurer hears of the new pensioner, the month
    is closed and each payer finds its attestation, the health insurer consults."""
    def call(command):
        return data_of(project, command)

    (register, onp, ethias, insurer_box, close, onp_box, onp_reads, ethias_box,
     consult) = [command for _, command in steps]
    assert call(register)["status"]["code"] == "MSG00000"
    assert [r["accepted"] for r in call(onp)["result"]] == [True]
    assert [r["accepted"] for r in call(ethias)["result"]] == [True]
    deadline = time.monotonic() + 30
    while not (news := call(insurer_box)["item"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "new_pensioner" in [i["type"] for i in news]
    closed = call(close)
    assert (closed["persons"], closed["delivered"]) == (1, 2)
    [item] = call(onp_box)["item"]
    [read] = call(onp_reads.replace("ITEM_ID", str(item["id"])))["item"]
    fields = {f["name"]: f["value"] for f in read["field"]}
    assert (fields["withholdingRateBp"], fields["benefit1.withholdingCents"]) == ("1982", "19116")
    assert [i["type"] for i in call(ethias_box)["item"]] == ["pension_deductions"]
    assert [b["grossAmount"] for b in call(consult)["benefit"]] == [100000, 80000]


def _employer_walkthrough(project, steps):
    """An employer declares a student IN, sees her in its personnel file with the remaining
    quota; her health insurer sees the employment relation; another employer is refused;
    anyone gets the public employer fields."""
    declared, staff, worker, registered, relations, other, public = [c for _, c in steps]
    assert data_of(project, declared)["result"][0]["accepted"] is True
    assert [p["ssin"] for p in data_of(project, staff)["period"]] == ["01020300170"]
    quota = data_of(project, worker)["studentQuota"]
    assert (quota["usedHours"], quota["remainingHours"]) == (100, 550)
    assert data_of(project, registered)["status"]["code"] == "MSG00000"
    assert [p["employerCbe"] for p in data_of(project, relations)["period"]] == ["0403180104"]
    refused = pasted(other)
    assert refused.returncode == 2 and "ACC00002" in refused.stderr
    employer = data_of(project, public)["employer"][0]
    names = {a["name"] for a in employer["attribute"]}
    assert "name" in names and "child_benefit_fund" not in names
    assert employer["nssoNumber"] is None


def pasted(command):
    """A command as the demo printed it, run by a shell in the folder the demo runs in."""
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                          timeout=120)


def data_of(project, command):
    """A printed `kszws call` run with --json: its reply as data (as printed, the command
    shows the reply for a person to read)."""
    result = pasted(command + " --json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _registered_examples(project, info):
    for key, expected in (("identify_person", "<ns3:SocialSecurityUser>70100853190<"),
                          ("identify_person_phonetic", ">VAN DEN BERGHE<")):
        result = pasted(info["example"][key])
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout and "ok=YES" in result.stdout
    result = pasted(info["example"]["retrieve_ti"])
    assert result.returncode == 0, result.stderr
    assert "  value: DATA_FOUND" in result.stdout


def test_configuration_error_exit_code(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--conf", str(tmp_path), "migrate"])
    assert info.value.code == 2
    assert "kszws.toml" in capsys.readouterr().err


def test_validate_checks_classic_messages_inside_out(project, tmp_path):
    """An SSDNRequest (bare, or in a sendXML envelope) is checked with its service bodies."""
    from tests.ssdntools import envelope, identify, ssdn_request

    good = tmp_path / "ssdn.xml"
    good.write_text(ssdn_request(identify("70100853190")))
    wrapped = tmp_path / "sendxml.xml"
    wrapped.write_bytes(envelope(ssdn_request(identify("70100853190"))))
    bad = tmp_path / "bad-ssdn.xml"
    bad.write_text(ssdn_request(identify(phonetic={"LastName": "X", "BirthDate": "1970-13-45x"})))
    result = run(project, "validate", str(good), str(wrapped))
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("valid ({http://www.ksz-bcss.fgov.be/XSD/SSDN/Service}SSDNRequest)") == 2
    result = run(project, "validate", str(bad))
    assert result.returncode == 1 and "IdentifyPersonRequest" in result.stdout
    assert "BirthDate" in result.stdout


def test_log_columns_stay_aligned_and_a_closed_pipe_is_no_error(project):
    """Long institution ids widen their column for every row (the columns do not slip);
    `kszws log | head -2` ends quietly."""
    from kszws.clock import utcnow
    from kszws.hub.exchange import Exchange, new_ticket
    from kszws.hub.exchange_log import ExchangeLog
    from kszws.store import database_from_settings

    db = database_from_settings(project)
    db.migrate()
    with db.write_transaction() as cursor:
        ExchangeLog(db, None).apply(cursor, [
            Exchange(new_ticket(), utcnow(), "TestConnectionService", 10, replied_at=utcnow(),
                     caller=caller, operation="sendTestMessage")
            for caller in ["cpas-eupen", "an-institution-with-a-long-identifier"] * 200])
    lines = run(project, "log", "--limit", "400").stdout.splitlines()
    assert len(lines) == 401
    starts = {line.index("TestConnectionService.sendTestMessage") for line in lines[1:]}
    assert len(starts) == 1 and lines[0].index("SERVICE.OPERATION") in starts
    piped = subprocess.run("%s -m kszws --conf %s log --limit 400 | head -2" % (
        sys.executable, project.conf_dir), shell=True, capture_output=True, text=True,
        timeout=60)
    assert len(piped.stdout.splitlines()) == 2 and piped.stderr == ""


def test_a_closed_output_stops_a_load_as_a_failure(project, tmp_path):
    """`kszws directory load ... | head`: the load stopped half-way, and says so (exit 1);
    a reader (`kszws log | head`) ends quietly (tests above)."""
    bad = tmp_path / "bad.csv"
    bad.write_text("".join("9999999999%d,1,2026-01-01\n" % (i % 10) for i in range(5000)))
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", "%s -m kszws --conf %s directory load %s --as "
         "cpas-eupen --chunk 100 | head -1" % (sys.executable, project.conf_dir, bad)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "standard output closed before the end: stopped" in result.stderr
    assert "Traceback" not in result.stderr
