"""`kszws call` as an integrator meets it (issue 14): the services and operations listed,
each common mistake answered by one line and exit code 3, replies shown as data (never
`<Element ... at 0x>`), xsd:any fields given as XML, and the exit codes of the README:
0 success, 1 a warning reply, 2 a refusal (classic ReturnCode >= 2 or a SOAP Fault),
3 a transport or usage error. Against a running hub with the National Register."""
import json

import pytest
from lxml import etree

from kszws import calling
from kszws.wire import ssdn
from tests.netfixture import free_port, run_kszws


@pytest.fixture(scope="module")
def hub(classic_net):
    return classic_net


def call(hub, *args, url=True):
    extra = ["--url", hub.url] if url else []
    return run_kszws(hub.settings, "call", *args, *extra)


def one_clear_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("args, says", [
    (("TestConection", "sendTestMessage"), "no service 'TestConection'; did you mean "
                                           "TestConnectionService"),
    (("TestConnectionService", "sendTest"), "no operation 'sendTest' in "
                                            "TestConnectionService; did you mean "
                                            "sendTestMessage?"),
    (("TestConnectionService", "sendTestMessage", "echo=x", "--as", "cpas-brussels"),
     "no institution 'cpas-brussels' (--as); valid: "),
    (("TestConnectionService", "sendTestMessage", "ecko=x"),
     "no field 'ecko' in TestConnectionService.sendTestMessage; did you mean echo?"),
    (("MailboxService", "acknowledge", "id=[ITEM_ID]", "--as", "mutualite-chretienne"),
     "field id: [ITEM_ID] starts like JSON but is not"),
    (("TestConnectionService", "sendTestMessage", "echo"), "'echo' is not FIELD=VALUE"),
    (("KSZBCSSWebServiceConnector", "sendXML", "xmlString=@/no/such/file.xml"),
     "field xmlString: cannot read /no/such/file.xml (No such file or directory)"),
    (("AttestationService", "publishAttestation", "payload=<not xml"),
     "field payload: XML expected"),
    (("AttestationService", "publishAttestation",
      'payload=<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>'),
     "field payload: XML expected (inline or @file.xml): a document type declaration or "
     "entity is present"),  # refused by the hub's own parser: nothing read, nothing sent
    (("MailboxService", "listItems",
      'informationCustomer={"customerIdentification": {"cbeNumbr": "0212310036"}}'),
     "no field 'cbeNumbr' in informationCustomer.customerIdentification; did you mean "
     "cbeNumber?"),  # at any depth of a JSON value, before anything is sent
    (("KSZBCSSWebServiceConnector", "sendXML", "foo=<a/>"),
     "no field 'foo' in KSZBCSSWebServiceConnector.sendXML; valid: xmlString"),
    (("TestConnectionService", "sendTestMessage", "echo=x", "--as"),
     "error: argument --as: expected one argument"),  # argparse's own: 3 too
])
def test_a_mistake_is_one_clear_line_and_exit_3(hub, args, says):
    result = call(hub, *args)
    assert result.returncode == calling.FAILED
    assert says in one_clear_line(result)


def test_a_hub_that_does_not_answer_names_its_url(hub):
    url = "http://127.0.0.1:%d" % free_port()
    result = run_kszws(hub.settings, "call", "TestConnectionService", "sendTestMessage",
                       "echo=x", "--url", url)
    assert result.returncode == calling.FAILED
    line = one_clear_line(result)
    assert url in line and "nothing answers there" in line and "kszws demo" in line


def test_the_services_operations_and_fields_are_listed(hub):
    listed = run_kszws(hub.settings, "call")
    assert listed.returncode == 0 and "TestConnectionService" in listed.stdout
    operations = run_kszws(hub.settings, "call", "MailboxService")
    assert "acknowledge(informationCustomer: ns2:InformationCustomerType, id: xsd:long[])" \
        in operations.stdout
    fields = run_kszws(hub.settings, "call", "AttestationService", "publishAttestation",
                       "--help-fields")
    assert fields.returncode == 0
    assert "  period: PeriodType\n    startDate: date\n    endDate?: date" in fields.stdout
    assert "(any XML element: an XML string, or @file.xml)" in fields.stdout
    # allowed values, read from the schemas (zeep keeps none), and sendXML's one field
    kinds = run_kszws(hub.settings, "call", "MailboxService", "listItems", "--help-fields")
    assert "  kind?: KindType (one of: mutation, attestation, pension)\n" in kinds.stdout
    send = run_kszws(hub.settings, "call", "KSZBCSSWebServiceConnector", "sendXML",
                     "--help-fields")
    assert "  xmlString: xsd:string (e.g. xmlString=@request.xml)" in send.stdout
    # a choice reads as one: the enterprise number, or the sector and institution
    assert ("    customerIdentification: OrganizationIdentificationType\n      one of:\n"
            "        - cbeNumber: CbeNumberType\n        - sector: sector\n"
            "          institution: institution\n") in fields.stdout


def test_a_reply_is_shown_as_data_and_as_faithful_json(hub):
    shown = call(hub, "TestConnectionService", "sendTestMessage", "echo=Öcher Straße")
    assert shown.returncode == 0, shown.stderr
    assert "echo: Öcher Straße" in shown.stdout.splitlines()
    as_json = call(hub, "TestConnectionService", "sendTestMessage", "echo=Öcher Straße",
                   "--json")
    assert '"echo": "Öcher Straße"' in as_json.stdout  # UTF-8, no \u escapes
    assert json.loads(as_json.stdout)["echo"] == "Öcher Straße"
    envelope = call(hub, "TestConnectionService", "sendTestMessage", "echo=x", "--xml")
    assert etree.fromstring(envelope.stdout.encode()).tag.endswith("Envelope")


def test_a_fault_is_a_refusal_exit_2_with_its_code(hub):
    customer = '{"customerIdentification": {"cbeNumber": "0212310036"}}'
    result = call(hub, "RetrieveTIGroupsService", "retrieveTI",
                  "informationCustomer=" + customer, "legalContext=PCSA:SOCIAL_INQUIRY",
                  'searchInformation={"ssin": "70100853190"}', "--as", "cpas-eupen")
    assert result.returncode == calling.REFUSED, result.stdout + result.stderr
    assert "ACC00002" in result.stderr and "Traceback" not in result.stderr
    assert "      reasonCode: ACC00002" in result.stderr.splitlines()  # read, not XML
    assert "<reasonCode>" not in result.stderr


def test_a_classic_refusal_is_exit_2_and_shows_its_details(hub):
    examples = hub.settings.project_root / "examples"
    result = call(hub, "KSZBCSSWebServiceConnector", "sendXML",
                  "xmlString=@%s" % (examples / "perform-investigation-charleroi.xml"),
                  "--as", "cpas-charleroi")
    assert result.returncode == calling.REFUSED, result.stdout + result.stderr
    assert "ok=NO, ReturnCode 10000" in result.stdout
    assert "31008007 ERROR:" in result.stdout


def test_xsd_any_content_goes_in_as_xml_and_comes_out_as_xml(hub, tmp_path):
    """An attestation's payload is given as a file of XML (no zeep `_value_1`), and
    consulting the attestation shows it as indented XML."""
    income = ('<p:integrationIncome xmlns:p="urn:kszws:types:AttestationPayloads:v1">'
              '<category>COHABITANT</category><monthlyAmount>86437</monthlyAmount>'
              '</p:integrationIncome>')
    (tmp_path / "income.xml").write_text(income)
    customer = 'informationCustomer={"customerIdentification": {"cbeNumber": "0212310036"}}'
    anne = "72030512297"  # the demo's Anne Van den Berghe
    examples = hub.settings.project_root / "examples"
    registered = call(hub, "KSZBCSSWebServiceConnector", "sendXML",
                      "xmlString=@%s" % (examples / "manage-access-register-anne.xml"),
                      "--as", "cpas-eupen")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    published = call(hub, "AttestationService", "publishAttestation", customer,
                     "type=integration_income", "ssin=" + anne, "reference=RI-CLI-1",
                     'period={"startDate": "2026-01-01"}', "decisionDate=2025-12-15",
                     "payload=@%s" % (tmp_path / "income.xml"), "--as", "cpas-eupen")
    assert published.returncode == 0, published.stdout + published.stderr
    consulted = call(hub, "AttestationService", "consultAttestations", customer,
                     "ssin=" + anne, 'period={"startDate": "2026-01-01"}', "--as", "cpas-eupen")
    assert consulted.returncode == 0, consulted.stderr
    assert "<Element" not in consulted.stdout and "_value_1" not in consulted.stdout
    assert "<monthlyAmount>86437</monthlyAmount>" in consulted.stdout
    assert "\n        <category>COHABITANT</category>" in consulted.stdout  # indented


def test_classic_exit_codes_follow_the_worst_result_summary():
    import datetime
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

    def reply(*codes):
        result = ssdn.ServiceResult("OCMWCPASIdentifyPerson", "20050930",
                                    [ssdn.Detail(c) for c in codes])
        return etree.tostring(ssdn.reply("T1", now, now, [result])).decode()

    assert calling.classic_summary(reply())[0] == calling.OK
    warning, text = calling.classic_summary(reply("21007005"))
    assert warning == calling.WARNING and "21007005 WARNING:" in text
    assert calling.classic_summary(reply("31007003"))[0] == calling.REFUSED


def test_the_garbage_collector_is_off_only_for_short_lived_commands(tmp_path):
    """`kszws call` and its kind skip the cyclic GC (a sixth of a call's start-up CPU);
    long-running commands keep it."""
    import gc

    from kszws.cli import main

    try:
        for argv, enabled in ((["call"], False),
                              (["--data-dir", str(tmp_path), "log", "--limit", "1"], True)):
            gc.enable()
            with pytest.raises(SystemExit):
                main(argv)
            assert gc.isenabled() == enabled, argv
    finally:
        gc.enable()


def test_url_mistakes_are_explained_and_a_pasted_endpoint_works(hub):
    without_scheme = call(hub, "TestConnectionService", "sendTestMessage", "echo=x",
                          "--url", hub.url.split("://")[1], url=False)
    assert without_scheme.returncode == calling.FAILED
    assert "is not a URL: give the hub's base URL with its scheme" in one_clear_line(
        without_scheme)
    endpoint = hub.url + "/SOA4520/TestConnectionServiceService/sendTestMessage"
    pasted = call(hub, "TestConnectionService", "sendTestMessage", "echo=x", "--url",
                  endpoint, url=False)
    assert pasted.returncode == 0 and "echo: x" in pasted.stdout, pasted.stderr


def test_verbose_after_the_command_shows_the_traceback(hub):
    url = "http://127.0.0.1:%d" % free_port()
    result = run_kszws(hub.settings, "call", "TestConnectionService", "sendTestMessage",
                       "echo=x", "--url", url, "-v")
    assert result.returncode == calling.FAILED
    assert "Traceback" in result.stderr and "ConnectionError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("kszws call: the hub at ")


def test_a_business_refusal_in_the_status_exits_2(hub):
    """A new-style refusal comes as a status, not a fault: NO_RESULT (a proof that does not
    match), or a batch whose items were all refused, exits 2, a batch partly refused 1."""
    customer = 'informationCustomer={"customerIdentification": {"cbeNumber": "0212310036"}}'
    wrong = call(hub, "ReferenceDirectoryService", "register", customer, "ssin=70100853190",
                 "qualityCode=1", 'period={"startDate": "2026-01-01"}',
                 'proof={"personData": {"lastName": "Musterfrau", "firstName": "Max", '
                 '"birthDate": "1970-10-08"}}', "--as", "cpas-eupen")
    assert wrong.returncode == calling.REFUSED, wrong.stdout + wrong.stderr
    assert "NO_RESULT" in wrong.stdout

    def batch(accepted, refused):
        return {"status": {"value": "DATA_FOUND", "information": [
            {"fieldName": "accepted", "fieldValue": str(accepted)},
            {"fieldName": "refused", "fieldValue": str(refused)}]}}
    assert calling.status_code(batch(0, 1)) == calling.REFUSED
    assert calling.status_code(batch(2, 1)) == calling.WARNING
    assert calling.status_code(batch(1, 0)) == calling.OK
    assert calling.status_code({"echo": "x"}) == calling.OK


def test_log_filters_name_what_exists(hub):
    for args, says in ((["--service", "mailboxservice"], "did you mean MailboxService?"),
                       (["--caller", "cpas-eupn"], "did you mean cpas-eupen")):
        result = run_kszws(hub.settings, "log", *args)
        assert result.returncode == 2 and says in one_clear_line(result)
    for args in (["--limit", "-1"], ["--since", "yesterday"]):
        result = run_kszws(hub.settings, "log", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
    assert run_kszws(hub.settings, "log", "--service", "EESSI").returncode == 0


def test_only_a_running_demo_s_well_formed_loopback_url_is_followed(hub, tmp_path):
    """demo.json steers `kszws call` only while the demo that wrote it runs, and only to a
    loopback http(s) URL: a stale file (the demo killed), a malformed one or one naming
    another host leaves conf/kszws.toml's URL, so that no request and no Basic password
    goes elsewhere."""
    import os

    from kszws.client import hub_url
    from kszws.config import load_settings

    settings = load_settings(str(hub.settings.conf_dir), str(tmp_path), None)
    configured = hub_url(settings)
    stale_pid = 2 ** 22 + 12345  # beyond pid_max: no such process
    for content in ('{"hub": {"url": "http://127.0.0.1:1", "pid": %d}}' % stale_pid,
                    '{"hub": {"url": "http://127.0.0.1:1"}}',  # no pid
                    '{"hub": {"url": 123, "pid": %d}}' % os.getpid(),
                    '{"hub": {"url": "http://10.1.2.3:8080", "pid": %d}}' % os.getpid(),
                    '{"hub": ["x"]}', "[" * 100000, "not json"):
        (tmp_path / "demo.json").write_text(content)
        assert hub_url(settings) == configured, content[:60]
    (tmp_path / "demo.json").write_text('{"hub": {"url": "http://127.0.0.1:1", "pid": %d}}'
                                        % os.getpid())
    assert hub_url(settings) == "http://127.0.0.1:1"


def test_reply_text_cannot_forge_terminal_output():
    """A hostile reply's text (a fault string, a detail value, a data field) reaches the
    terminal with its control characters, line breaks and bidirectional overrides shown
    as \\uXXXX: no forged `kszws call:` line, no cursor move, no reversed text."""
    hostile = "ok\nkszws call: all good\r\u009b2J\u202eevil"
    shown = calling.printable(hostile)
    assert "\n" not in shown and "\r" not in shown and "\u009b" not in shown
    assert "\u202e" not in shown and "\\u000a" in shown and "\\u202e" in shown
    assert calling.printable("x" * 50, 10) == "x" * 10 + " ..."
    assert calling.safe_lines("a: 1\nb: \u009b") == "a: 1\nb: \\u009b"  # lines kept
    detail = etree.fromstring("<detail><reasonCode>X1</reasonCode><diagnostic>line\n"
                              "kszws call: forged</diagnostic></detail>")
    lines = calling.fault_lines(detail).splitlines()
    assert lines == ["  reasonCode: X1", "  diagnostic: line\\u000akszws call: forged"]
