"""`kszws demo`: the whole network on loopback, described in <data_dir>/demo.json."""
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kszws import batch
from kszws.eessi.repository import make_access_point_keys
from kszws.registry import load_registry
from kszws.security import pki
from kszws.security.credentials import Credentials, issue_passwords
from kszws.security.keystore import key_path_for


@contextlib.contextmanager
def step(what):
    """Announce a step of the demo's start and, when it ends, how long it took: the whole
    start takes a minute or more on a fresh checkout (keys, seeded populations)."""
    print("kszws demo: %s ..." % what, flush=True)
    started = time.monotonic()
    yield
    print("kszws demo: %s: done in %.1f s" % (what, time.monotonic() - started), flush=True)


def prepare(settings):
    """Make what the demo needs and does not have yet: PKI, Basic passwords."""
    registry = load_registry(settings)
    with step("the demo PKI (a key and certificate per institution, made once) and the "
              "Basic passwords"):
        pki.init_pki(settings.certs_dir, registry.institutions.values())
        make_access_point_keys(settings)
        batch.make_keys(settings, registry)
        if pki.name_loopback(settings.certs_dir, registry.hub):
            print("re-issued %s (same key): it now names localhost, 127.0.0.1 and ::1 for "
                  "HTTPS" % registry.hub.certificates[0], flush=True)
        issue_passwords(Credentials(settings.data_dir / "credentials.json"),
                        registry.institutions.values(), settings.certs_dir)
    return registry


def with_https(settings, registry, tls_port):
    """The demo's settings with an HTTPS listener on `tls_port` beside plain HTTP: the hub's
    own demo certificate (it names localhost, 127.0.0.1 and ::1), client certificates
    optional and verified against the demo CA (institutions in client-cert mode use it).
    A TLS certificate already set in conf/kszws.toml is kept."""
    if settings.tls_certificate:
        return dataclasses.replace(settings, tls_port=tls_port)
    hub_cert = registry.hub.certificates[0]
    return dataclasses.replace(
        settings, tls_port=tls_port, tls_certificate=str(hub_cert),
        tls_key=str(key_path_for(hub_cert)), tls_client_ca=str(settings.certs_dir / "ca.crt"),
        tls_require_client_certificate=False)


def start_sources(settings, registry, hub_url=None, timeout=600):
    """Every source of conf/sources.toml as a child process (seeded on first start); they
    push what they record to the hub at `hub_url`."""
    env = dict(os.environ, **({"KSZWS_HUB_URL": hub_url} if hub_url else {}))
    return _start(settings, [["source", source.id] for source in registry.sources.values()],
                  env, timeout)


def start_foreign_access_points(settings, registry, hub_https_url, timeout=60):
    """The foreign access points of conf/eessi/repository.toml (`kszws source foreign-ap`),
    pushing to the hub's HTTPS URL."""
    from kszws.eessi import repository

    repo, _ = repository.load(settings, registry)
    if repo is None or not hub_https_url:
        return []
    countries = sorted({p.country for p in repo.access_points.values() if p.endpoint})
    return _start(settings, [["source", "foreign-ap", "--country", c, "--hub", hub_https_url]
                             for c in countries], dict(os.environ), timeout)


def _start(settings, commands, env, timeout):
    """`kszws ARGS...` child processes, each waited for until it prints its ready line."""
    started = []
    for args in commands:
        with step("starting %s (its first start seeds its data)" % " ".join(args[1:4])):
            proc = subprocess.Popen(
                [sys.executable, "-m", "kszws", "--conf", str(settings.conf_dir),
                 "--data-dir", str(settings.data_dir), *args], stdout=subprocess.PIPE,
                text=True, env=env)
            started.append(proc)
            deadline = time.monotonic() + timeout
            for line in proc.stdout:
                print("  " + line.rstrip(), flush=True)
                if "ready" in line or time.monotonic() > deadline:
                    break
            if proc.poll() is not None:
                stop_sources(started)
                raise SystemExit("kszws demo: %s did not start" % " ".join(args[:3]))
        # Keep reading what it prints: a pipe nobody empties would block it at 64 KB.
        threading.Thread(target=_echo, args=(proc.stdout,), daemon=True).start()
    return started


def _echo(stream):
    for line in stream:
        print("  " + line.rstrip(), flush=True)


def stop_sources(processes):
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in processes:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def describe(settings, registry, base, https_base=None):
    """Everything the demo offers, machine-readable: the hub's URLs (`https_url`: HTTPS with
    optional client certificates, or None), services, sources, institutions, examples."""
    services = [{
        "name": s.name,
        "endpoint": base + s.path,
        "wsdl": base + s.path + "?wsdl",
        "signed": s.signed,
        "anonymous": s.anonymous,
        "route": s.route,
    } for s in registry.services.values()]
    institutions = []
    for inst in registry.institutions.values():
        cert = inst.certificates[0]
        entry = {
            "id": inst.id, "name": inst.name, "kind": inst.kind, "sector": inst.sector,
            "subsector": inst.subsector, "cbe": inst.cbe, "auth": inst.auth,
            "sign_replies": inst.sign_replies, "certificate": cert,
            "key": str(key_path_for(cert)), "basic": None,
        }
        if inst.auth == "basic":
            password_file = settings.certs_dir / ("%s.password" % inst.id)
            entry["basic"] = {"username": inst.basic_username,
                              "password": password_file.read_text().strip()}
        institutions.append(entry)
    sources = [{"id": src.id, "url": src.url, "wsdl": src.url + "?wsdl",
                "institution": registry.institution(src.id).name}
               for src in registry.sources.values()]
    signer = next((i for i in registry.clients() if i.auth == "signature"), None)
    basic = next((i for i in institutions if i["basic"]), None)
    test = registry.services.get("TestConnectionService")
    example = {}
    if test is not None and signer is not None:
        example["command"] = ("kszws call TestConnectionService sendTestMessage echo=hello "
                              "--as %s --url %s" % (signer.id, base))
    if "KSZBCSSWebServiceConnector" in registry.services and signer is not None:
        examples = settings.project_root / "examples"
        example["identify_person"] = (
            "kszws call KSZBCSSWebServiceConnector sendXML xmlString=@%s --as %s --url %s"
            % (examples / "identify-person-by-ssin.xml", signer.id, base))
        example["identify_person_phonetic"] = (
            "kszws call KSZBCSSWebServiceConnector sendXML xmlString=@%s --as %s --url %s"
            % (examples / "identify-person-phonetic.xml", signer.id, base))
    if "RetrieveTIGroupsService" in registry.services and signer is not None:
        example["retrieve_ti"] = (
            "kszws call RetrieveTIGroupsService retrieveTI "
            "'informationCustomer={\"customerIdentification\": {\"cbeNumber\": \"%s\"}}' "
            "legalContext=PCSA:SOCIAL_INQUIRY "
            "'searchInformation={\"ssin\": \"70100853190\", \"language\": \"nl\"}' "
            "--as %s --url %s" % (signer.cbe, signer.id, base))
    example["walkthrough"] = walkthrough(settings, registry, base)
    example["mailbox_walkthrough"] = mailbox_walkthrough(settings, registry, base)
    example["employer_walkthrough"] = employer_walkthrough(registry, base)
    example["pension_walkthrough"] = pension_walkthrough(registry, base)
    example["eessi_walkthrough"] = eessi_walkthrough(settings, registry) if https_base else []
    example["batch_walkthrough"] = batch_walkthrough(settings, registry)
    example["soctar_walkthrough"] = soctar_walkthrough(settings, registry)
    namur = next((i for i in registry.clients() if i.auth == "client-cert"), None)
    if test is not None and namur is not None and https_base:
        example["client_certificate"] = (
            "kszws call TestConnectionService sendTestMessage echo=hello --as %s --url %s"
            % (namur.id, https_base))
    if test is not None and basic is not None:
        example["curl"] = (
            "curl -s -u %s:%s -H 'Content-Type: text/xml; charset=utf-8' "
            "-H 'SOAPAction: \"http://kszbcss.fgov.be/TestConnectionServiceService/sendTestMessage\"' "
            "--data '<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
            "xmlns:v1=\"http://kszbcss.fgov.be/intf/TestConnectionServiceService/v1\"><soapenv:Body>"
            "<v1:sendTestMessageRequest><echo>hello</echo></v1:sendTestMessageRequest>"
            "</soapenv:Body></soapenv:Envelope>' %s%s" % (
                basic["basic"]["username"], basic["basic"]["password"], base, test.path))
    example = runnable(example, command_prefix(settings))
    return {
        "hub": {"url": base, "https_url": https_base, "health": base + "/health",
                "pid": os.getpid(),  # `kszws call` follows this file while it runs
                "institution": registry.hub.id, "certificate": registry.hub.certificates[0]},
        "ca": str(settings.certs_dir / "ca.crt"),
        "database": settings.store_url if "@" not in settings.store_url else "(postgresql)",
        "services": services,
        "sources": sources,
        "institutions": institutions,
        "example": example,
    }


def command_prefix(settings):
    """How to type `kszws` so that a printed command works when pasted here: the bare name
    when the shell finds this very command (an activated virtualenv, an installed
    package), else its path (.venv/bin/kszws); with --conf when the demo's configuration
    is not the one a bare command would find."""
    from kszws.config import default_conf_dir

    mine = Path(sys.executable).parent / "kszws"
    found = shutil.which("kszws")
    if found and Path(found).resolve() == mine.resolve():
        prefix = "kszws"
    elif mine.exists():
        prefix = _shorter(mine)
    else:
        prefix = "%s -m kszws" % _shorter(Path(sys.executable))
    if settings.conf_dir.resolve() != default_conf_dir():
        prefix += " --conf %s" % _shorter(settings.conf_dir)
    return prefix


def _shorter(path):
    """`path` relative to the current folder when it lies under it (as typed there)."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def runnable(example, prefix):
    """The example commands with `kszws` as `prefix` (command_prefix)."""
    def fix(value):
        if isinstance(value, str):
            return prefix + value[len("kszws"):] if value.startswith("kszws ") else value
        if isinstance(value, (list, tuple)):
            return [fix(v) for v in value]
        return value
    return {key: fix(value) for key, value in example.items()}


def walkthrough(settings, registry, base):
    """The reference directory and the integration check, step by step: [(what, command)].
    Empty when the demo conf lacks a piece it needs."""
    needed = {"cpas-eupen", "cpas-charleroi"} <= set(registry.institutions) and {
        "KSZBCSSWebServiceConnector", "RetrieveTIGroupsService", "AccessLogService"} <= set(
        registry.services)
    if not needed:
        return []
    examples = settings.project_root / "examples"

    def send(example, institution="cpas-eupen"):
        return ("kszws call KSZBCSSWebServiceConnector sendXML xmlString=@%s --as %s --url %s"
                % (examples / example, institution, base))

    customer = "'informationCustomer={\"customerIdentification\": {\"cbeNumber\": \"%s\"}}'" \
        % registry.institution("cpas-eupen").cbe
    retrieve = ("kszws call RetrieveTIGroupsService retrieveTI %s legalContext=PCSA:SOCIAL_INQUIRY"
                " 'searchInformation={\"ssin\": \"70100853190\"}' --as cpas-eupen --url %s"
                % (customer, base))
    return [
        ("CPAS Eupen has no file on Max Mustermann yet: refused (ACC00002)", retrieve),
        ("CPAS Eupen registers him (ManageAccess REGISTER, proof: his SIS card)",
         send("manage-access-register.xml")),
        ("... and now gets his National Register data", retrieve),
        ("... and his family composition (PerformInvestigation)",
         send("perform-investigation.xml")),
        ("CPAS Charleroi, without a file on him: refused in the legacy shape (31008007)",
         send("perform-investigation-charleroi.xml", "cpas-charleroi")),
        ("CPAS Eupen closes its file (ManageAccess UNREGISTER)",
         send("manage-access-unregister.xml")),
        ("... and is refused from then on (ACC00002)", retrieve),
        ("Who consulted Max's data (asked by a portal acting for Max himself)",
         "kszws call AccessLogService consultAccessLog %s 'actingFor={\"citizen\": "
         "\"70100853190\"}' ssin=70100853190 'period={\"startDate\": \"2026-01-01\"}' "
         "--as cpas-eupen --url %s" % (customer, base)),
    ]


ANNE = "72030512297"
INCOME = ('<p:integrationIncome xmlns:p="urn:kszws:types:AttestationPayloads:v1">'
          '<category>ISOLATED</category><monthlyAmount>125000</monthlyAmount>'
          '</p:integrationIncome>')


def mailbox_walkthrough(settings, registry, base):
    """Mutations and attestations through the mailboxes, step by step: [(what, command)].
    ITEM_ID in a command stands for an item id the step before listed."""
    needed = {"cpas-eupen", "mutualite-chretienne"} <= set(registry.institutions) and {
        "MailboxService", "AttestationService", "ReferenceDirectoryService"} <= set(
        registry.services)
    if not needed:
        return []

    def customer(inst):
        return "'informationCustomer={\"customerIdentification\": {\"cbeNumber\": \"%s\"}}'" \
            % registry.institution(inst).cbe

    def mailbox(inst, extra=""):
        return ("kszws call MailboxService listItems %s%s --as %s --url %s"
                % (customer(inst), extra, inst, base))

    person = ('{\"personData\": {\"lastName\": \"Van den Berghe\", \"firstName\": '
              '\"Anne-Marie\", \"birthDate\": \"1972-03-05\"}}')
    return [
        ("CPAS Eupen registers Anne Van den Berghe (ManageAccess, proof: her identity)",
         "kszws call KSZBCSSWebServiceConnector sendXML xmlString=@%s --as cpas-eupen --url %s"
         % (settings.project_root / "examples" / "manage-access-register-anne.xml", base)),
        ("her health insurer registers her too (ReferenceDirectoryService.register)",
         "kszws call ReferenceDirectoryService register %s ssin=%s qualityCode=1 "
         "'period={\"startDate\": \"2026-01-01\"}' 'proof=%s' --as mutualite-chretienne "
         "--url %s" % (customer("mutualite-chretienne"), ANNE, person, base)),
        ("the National Register records her move; the source pushes it to the hub",
         "kszws mutation record address %s 'street=Rue Haute' house_number=12 "
         "postal_code=4700 municipality=Eupen municipality_nis=63023" % ANNE),
        ("CPAS Eupen's mailbox holds the address change", mailbox("cpas-eupen")),
        ("the health insurer's does not: it is not authorized for mutations (conf/access.toml)",
         mailbox("mutualite-chretienne")),
        ("CPAS Eupen, authentic source of integration income, publishes Anne's attestation",
         "kszws call AttestationService publishAttestation %s type=integration_income "
         "ssin=%s reference=RI-DEMO-1 'period={\"startDate\": \"2026-01-01\"}' "
         "decisionDate=2025-12-15 'payload=%s' --as cpas-eupen --url %s"
         % (customer("cpas-eupen"), ANNE, INCOME, base)),
        ("the health insurer receives it in its mailbox", mailbox("mutualite-chretienne")),
        ("... acknowledges it (ITEM_ID: the item's id above)",
         "kszws call MailboxService acknowledge %s 'id=[ITEM_ID]' --as mutualite-chretienne "
         "--url %s" % (customer("mutualite-chretienne"), base)),
        ("... and it is not delivered again", mailbox("mutualite-chretienne")),
        ("CPAS Eupen did not acknowledge its item: it is delivered again", mailbox("cpas-eupen")),
    ]


CHLOE = "01020300170"


def employer_walkthrough(registry, base):
    """DIMONA, the personnel file, the employer access key and the public employer fields,
    step by step: [(what, command)]."""
    needed = {"studentenjob-brugge", "boulangerie-dupont", "mutualite-chretienne"} <= set(
        registry.institutions) and {"DimonaService", "EmploymentService",
                                    "PublicEmployerService"} <= set(registry.services)
    if not needed:
        return []

    def customer(inst):
        return "'informationCustomer={\"customerIdentification\": {\"cbeNumber\": \"%s\"}}'" \
            % registry.institution(inst).cbe

    def call(service, operation, inst, *fields):
        return "kszws call %s %s %s %s --as %s --url %s" % (
            service, operation, customer(inst), " ".join(fields), inst, base)

    chloe = ('{\"personData\": {\"lastName\": \"Lefèvre\", \"firstName\": \"Chloé\", '
             '\"birthDate\": \"2001-02-03\"}}')
    return [
        ("Studentenjob Brugge declares a student IN for Chloé Lefèvre (DIMONA)",
         call("DimonaService", "declare", "studentenjob-brugge",
              "'declaration=[{\"action\": \"IN\", \"ssin\": \"%s\", \"workerType\": "
              "\"student\", \"startDate\": \"2026-07-01\", \"endDate\": \"2026-07-31\", "
              "\"hours\": 100}]'" % CHLOE)),
        ("... sees her in its personnel file",
         call("DimonaService", "personnelFile", "studentenjob-brugge", "asOf=2026-07-01")),
        ("... and her remaining student quota",
         call("DimonaService", "consultWorker", "studentenjob-brugge", "ssin=%s" % CHLOE,
              "year=2026")),
        ("her health insurer registers her (ReferenceDirectoryService.register)",
         call("ReferenceDirectoryService", "register", "mutualite-chretienne",
              "ssin=%s" % CHLOE, "qualityCode=1",
              "'period={\"startDate\": \"2026-01-01\"}'", "'proof=%s'" % chloe)),
        ("... and sees the employment relation (EmploymentService, authorized)",
         call("EmploymentService", "employmentRelations", "mutualite-chretienne",
              "legalContext=HEALTH:INSURABILITY", "ssin=%s" % CHLOE, "startDate=2026-01-01")),
        ("Boulangerie Dupont, another employer, asking about her is refused (ACC00002)",
         call("DimonaService", "consultWorker", "boulangerie-dupont", "ssin=%s" % CHLOE,
              "year=2026")),
        ("anyone, without authentication, gets the public fields of the employer",
         "kszws call PublicEmployerService consultPublicEmployer "
         "'employer={\"cbeNumber\": \"%s\"}' --anonymous --url %s"
         % (registry.institution("studentenjob-brugge").cbe, base)),
    ]


MAX = "70100853190"


def pension_walkthrough(registry, base):
    """The pension cadastre, step by step: two payers declare for Max, his health insurer
    hears of the new pensioner, the cadastre closes the month and each payer gets its
    attestation, the health insurer consults his pensions: [(what, command)]."""
    needed = {"onp-rvp", "ethias-pensions", "pension-cadastre", "mutualite-chretienne"} <= set(
        registry.institutions) and {"PensionCadastreService", "MailboxService",
                                    "ReferenceDirectoryService"} <= set(registry.services)
    if not needed:
        return []

    def call(service, operation, inst, *fields):
        return "kszws call %s %s %s %s --as %s --url %s" % (
            service, operation, "'informationCustomer={\"customerIdentification\": "
            "{\"cbeNumber\": \"%s\"}}'" % registry.institution(inst).cbe,
            " ".join(fields), inst, base)

    def declaration(ref, kind, gross):
        return ("'declaration=[{\"ssin\": \"%s\", \"month\": \"2019-10\", "
                "\"benefitReference\": \"%s\", \"benefitType\": \"%s\", "
                "\"grossAmount\": %d, \"familySituation\": \"single\"}]'"
                % (MAX, ref, kind, gross))

    max_ = ('{\"personData\": {\"lastName\": \"Mustermann\", \"firstName\": \"Max\", '
            '\"birthDate\": \"1970-10-08\"}}')
    return [
        ("Max's health insurer manages his file (ReferenceDirectoryService.register)",
         call("ReferenceDirectoryService", "register", "mutualite-chretienne", "ssin=%s" % MAX,
              "qualityCode=1", "'period={\"startDate\": \"2019-01-01\"}'",
              "'proof=%s'" % max_)),
        ("ONP/RVP declares his statutory pension of October 2019: 1,000.00 EUR",
         call("PensionCadastreService", "declare", "onp-rvp",
              declaration("RVP-1", "statutory_retirement", 100000))),
        ("Ethias declares his supplementary pension: 800.00 EUR",
         call("PensionCadastreService", "declare", "ethias-pensions",
              declaration("ETH-1", "supplementary_retirement", 80000))),
        ("his health insurer was told of the new pensioner (continuity of cover)",
         "kszws call MailboxService listItems %s kind=attestation --as mutualite-chretienne "
         "--url %s" % ("'informationCustomer={\"customerIdentification\": {\"cbeNumber\": "
                       "\"%s\"}}'" % registry.institution("mutualite-chretienne").cbe, base)),
        ("the cadastre closes October 2019: deductions on the cumulated 1,800.00 EUR",
         call("PensionCadastreService", "closeMonth", "pension-cadastre", "month=2019-10")),
        ("ONP/RVP's mailbox holds its attestation",
         call("MailboxService", "listItems", "onp-rvp", "kind=pension")),
        ("... which says what to withhold on the benefit it pays (ITEM_ID: listed above)",
         call("MailboxService", "fetchItems", "onp-rvp", "'id=[ITEM_ID]'")),
        ("... and Ethias's",
         call("MailboxService", "listItems", "ethias-pensions", "kind=pension")),
        ("the health insurer consults Max's pensions through the hub",
         call("PensionCadastreService", "consult", "mutualite-chretienne",
              "legalContext=HEALTH:INSURABILITY", "ssin=%s" % MAX, "firstMonth=2019-01")),
    ]


def eessi_walkthrough(settings, registry):
    """The German round trip of the EESSI access point: [(what, command)]."""
    from kszws.eessi import repository

    repo, _ = repository.load(settings, registry)
    if repo is None or not {"BE:RSZ01", "DE:101002970"} <= set(repo.institutions):
        return []
    examples = settings.project_root / "examples" / "eessi"
    return [
        ("a German institution sends an A003 (LA_BUC_02, applicable legislation) about Max, "
         "a Belgian worker, to RSZ/ONSS through the German access point",
         "kszws eessi send %s --as DE:101002970 --to BE:RSZ01 --buc LA_BUC_02"
         % (examples / "A003.xml")),
        ("RSZ/ONSS pulls it and sends its receipt (the legal delivery); the receipt travels "
         "back to Germany", "kszws eessi pull --as rsz-onss --ack"),
        ("RSZ/ONSS answers with an A004 in the same case (CASE: printed by the first send)",
         "kszws eessi send %s --as rsz-onss --to DE:101002970 --buc LA_BUC_02 --case CASE"
         % (examples / "A004.xml")),
        ("the German institution pulls it, with its receipt",
         "kszws eessi pull --as DE:101002970 --ack"),
        ("each step in the exchange log, under Max's SSIN",
         "kszws log --service EESSI --subject %s" % MAX),
        ("what waits in each Belgian pull channel (decision E6: at most 24 hours)",
         "kszws eessi status"),
    ]


def batch_walkthrough(settings, registry):
    """A file through the batch channel's SFTP drop box: [(what, command)]. Writes the
    known_hosts file that pins the drop box's host key for OpenSSH's sftp."""
    config = batch.load(settings, registry)
    if config is None or not config.port or "cpas-eupen" not in config.senders:
        return []
    known = settings.data_dir / "known_hosts"
    host_key = Path(str(config.host_key) + ".pub").read_text().split()[:2]
    known.write_text("[127.0.0.1]:%d %s\n" % (config.port, " ".join(host_key)))
    answers = settings.data_dir / "batch-answers"
    return [
        ("CPAS Eupen sends an IDPR file over SFTP (5 SSINs: one replaced, one cancelled, one "
         "with wrong check digits): named, signed, triggered; the ACRF within seconds, then "
         "the result file and the NOTI in %s (exit 1: records refused)" % answers,
         "kszws batch submit %s --as cpas-eupen --type IDPR --out %s" % (
             settings.project_root / "examples" / "batch" / "idpr.xml", answers)),
        ("the files the hub received, with their state", "kszws batch status"),
        ("the file and each of its records in the exchange log",
         "kszws log --service BatchChannel --caller cpas-eupen"),
        ("the drop box with OpenSSH's sftp: CPAS Eupen's folders, its SSH key, no password",
         "echo 'ls -l /OUT' | sftp -b - -i %s -o UserKnownHostsFile=%s -P %d "
         "cpas-eupen@127.0.0.1" % (settings.certs_dir / "cpas-eupen.ssh", known, config.port)),
    ]


# SOCTAR's demo (the lists: kszws/demo_soctar.py): Max is a customer; his partner
# Anne-Marie holds CPAS Eupen's integration income, three CPAS and the pension service
# declare, FOD Economie sends the customers.
SOCTAR_CUSTOMER, SOCTAR_PARTNER = "70100853190", "72030512297"
SOCTAR_SENDERS = ("cpas-eupen", "cpas-liege", "cpas-charleroi", "onp-rvp", "fod-economie")


def soctar_path(folder, institution, kind):
    return folder / ("%s-%s.xml" % (kind.lower(), institution))


def soctar_walkthrough(settings, registry):
    """SOCTAR's quarter: [(what, command)], sending the lists kszws.demo_soctar wrote in
    <data dir>/soctar (the demo writes them once the National Register is seeded)."""
    from kszws.batch import soctar

    config = batch.load(settings, registry)
    folder = settings.data_dir / "soctar"
    if (config is None or not config.port or not (folder / "quarter").exists()
            or not set(SOCTAR_SENDERS) <= set(config.senders)):
        return []
    quarter = (folder / "quarter").read_text().strip()
    answers = settings.data_dir / "soctar-answers"

    def submitted(institution, kind):
        return "kszws batch submit %s --as %s --type %s --out %s" % (
            soctar_path(folder, institution, kind), institution, kind, answers)

    def count(institution, kind):
        return soctar_path(folder, institution, kind).read_bytes().count(b"<b:Record>")

    steps = [("%s declares its %d beneficiaries of %s (STBE: SSIN, quarter, category; "
              "each category checked against conf/soctar.toml)" % (
                  registry.institutions[i].name, count(i, "STBE"), quarter),
              submitted(i, "STBE")) for i in SOCTAR_SENDERS[:4]]
    return steps + [
        ("FOD Economie sends its %d energy customers of %s (STCU: SSIN, supply address); "
         "for each, the hub reads the National Register household on %s and answers a flag "
         "and a category, nothing else" % (count("fod-economie", "STCU"), quarter,
                                            soctar.reference_date(quarter)),
         submitted("fod-economie", "STCU")),
        ("how many customers are flagged", "grep -o 'Flagged>true<' %s/FO.STCU.* | wc -l"
         % answers),
        ("customer 1, Max Mustermann, holds no right himself: flagged through his partner "
         "Anne-Marie's integration income (RI)",
         "grep -ohP 'Id>1</.*?</\\w*:?Result>' %s/FO.STCU.*" % answers),
        ("the flag in Anne-Marie's access log: the ministry's row names her, whose right "
         "was used", "kszws log --service BatchChannel --caller fod-economie --subject %s"
         % SOCTAR_PARTNER),
    ]


def write(settings, info):
    path = settings.data_dir / "demo.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # it holds demo passwords: 0600 from the start, never written through a link
    pki.write_private(path, (json.dumps(info, indent=2, ensure_ascii=False) + "\n")
                      .encode("utf-8"))
    return path


def banner(info, path):
    lines = ["", "kszws demo network is up", "  hub     %s   (health: %s)" % (
        info["hub"]["url"], info["hub"]["health"])]
    if info["hub"]["https_url"]:
        lines.append("  hub     %s   (HTTPS; client certificates of the demo CA, optional)"
                     % info["hub"]["https_url"])
    for s in info["services"]:
        lines.append("  service %-24s %s" % (s["name"], s["endpoint"]))
        lines.append("          %-24s %s" % ("", s["wsdl"]))
    lines.append("  institutions (--as ID):")
    for i in info["institutions"]:
        lines.append("    %-20s %-11s sector %2d.%d  cbe %s  auth %s" % (
            i["id"], i["kind"], i["sector"], i["subsector"], i["cbe"], i["auth"]))
    for src in info["sources"]:
        lines.append("  source  %-24s %s" % (src["id"], src["url"]))
    if "command" in info["example"]:
        lines += ["", "Try a signed call:", "  " + info["example"]["command"]]
    if "identify_person" in info["example"]:
        lines += ["", "Identify a person (classic sendXML, signed): by SSIN (without a file "
                  "on the person: a warning, exit code 1, and no extended data), then by name "
                  "(phonetic):",
                  "  " + info["example"]["identify_person"],
                  "  " + info["example"]["identify_person_phonetic"]]
    if info["example"].get("walkthrough"):
        lines += ["", "The reference directory and the integration check, step by step:"]
        for what, command in info["example"]["walkthrough"]:
            lines += ["  # " + what, "  " + command]
    if info["example"].get("mailbox_walkthrough"):
        lines += ["", "Mutations and attestations through the mailboxes, step by step:"]
        for what, command in info["example"]["mailbox_walkthrough"]:
            lines += ["  # " + what, "  " + command]
    if info["example"].get("employer_walkthrough"):
        lines += ["", "DIMONA, the personnel file and the employer access key, step by step:"]
        for what, command in info["example"]["employer_walkthrough"]:
            lines += ["  # " + what, "  " + command]
    if info["example"].get("eessi_walkthrough"):
        lines += ["", "EESSI: a German SED to RSZ/ONSS and its answer, step by step:"]
        for what, command in info["example"]["eessi_walkthrough"]:
            lines += ["  # " + what, "  " + command]
    if info["example"].get("batch_walkthrough"):
        lines += ["", "Batch: a file through the SFTP drop box, step by step:"]
        for what, command in info["example"]["batch_walkthrough"]:
            lines += ["  # " + what, "  " + command]
    if info["example"].get("soctar_walkthrough"):
        lines += ["", "SOCTAR, the social energy tariff of a quarter, step by step:"]
        for what, command in info["example"]["soctar_walkthrough"]:
            lines += ["  # " + what, "  " + command]
    if info["example"].get("pension_walkthrough"):
        lines += ["", "The pension cadastre, step by step:"]
        for what, command in info["example"]["pension_walkthrough"]:
            lines += ["  # " + what, "  " + command]
    if "client_certificate" in info["example"]:
        lines += ["", "As a legacy client with a TLS client certificate (HTTPS; without --url "
                  "kszws call picks the HTTPS URL by itself):",
                  "  " + info["example"]["client_certificate"]]
    if "curl" in info["example"]:
        lines += ["", "Or, as a legacy HTTP Basic client:", "  " + info["example"]["curl"]]
    lines += ["", "Everything above, machine-readable: %s" % path, "Stop with Ctrl-C.", ""]
    return "\n".join(lines)
