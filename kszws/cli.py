"""The `kszws` command."""
import argparse
import datetime
import gc
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from kszws.batch import names as batch_names
from kszws.config import ConfigError, load_settings


DEMO_TLS_PORT = 8443


# Commands that start, do one thing and end within a second or so: the cyclic garbage
# collector stays off for them. Importing zeep, requests and cryptography creates enough
# objects to trigger dozens of collections, a sixth of a `kszws call`'s CPU; reference
# counting still frees everything else, and the process ends right after.
SHORT_LIVED = {"call", "soapui", "authorizations", "maintenance"}


# Commands that only read: a closed standard output (`| head`) ends them without error.
READERS = {"log", "authorizations", "call", "validate"}


def main(argv=None):
    gc.disable()
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the command's own parser: `kszws call` and `batch` exit 3
        getattr(args, "mistakes", parser).error("unrecognized arguments: %s" % " ".join(extra))
    if args.command not in SHORT_LIVED:
        gc.enable()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    try:
        settings = load_settings(args.conf, args.data_dir, args.database)
        code = args.func(settings, args)
    except ConfigError as exc:
        print("kszws: configuration error: %s" % exc, file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        # `kszws log | head`: the reader has all it wanted. A command that changes data
        # (a directory load) stopped half-way: not a success.
        code = 0 if args.command in READERS else 1
        if code:
            print("kszws %s: standard output closed before the end: stopped" % args.command,
                  file=sys.stderr)
    sys.exit(code or 0)


def _parser():
    p = argparse.ArgumentParser(prog="kszws", description="kszws: the CBSS/KSZ/BCSS hub")
    p.add_argument("--conf", help="configuration folder (default: ./conf or $KSZWS_CONF)")
    p.add_argument("--data-dir", help="data folder (default: from conf/kszws.toml)")
    p.add_argument("--database", help="database URL (default: SQLite in the data folder)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the hub")
    _server_options(s)
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("demo", help="PKI + data + hub + sources on loopback; writes demo.json")
    _server_options(s)
    s.add_argument("--tls-port", type=int,
                   help="also serve HTTPS here, client certificates of the demo CA optional "
                        "(default: [server] tls_port, else %d; 0: no HTTPS)" % DEMO_TLS_PORT)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("source", help="run a reference source institution")
    s.add_argument("name")
    s.add_argument("--port", type=int, help="listen here instead of conf/sources.toml's port")
    s.add_argument("--population", type=int, help="how many synthetic records to seed")
    s.add_argument("--reseed", action="store_true", help="replace the data by a new seed")
    s.add_argument("--wsdl", action="store_true", help="print the generated WSDL and exit")
    s.add_argument("--workers", type=int, help="processes sharing the port")
    s.add_argument("--country", help="foreign-ap: the country of the access point (e.g. DE)")
    s.add_argument("--hub", help="foreign-ap: the Belgian access point's HTTPS base URL")
    s.add_argument("--retry-seconds", type=float, default=2.0,
                   help="foreign-ap: first wait before a failed push is tried again")
    s.set_defaults(func=cmd_source)

    s = sub.add_parser("pki", help="the demo PKI: init; keystore ID and truststore (PKCS#12 "
                       "for SoapUI and Java clients)")
    s.add_argument("action", choices=["init", "keystore", "truststore"])
    s.add_argument("institution", nargs="?", help="keystore: the institution's id")
    s.add_argument("--force", action="store_true", help="init: re-issue every key and certificate")
    s.add_argument("--key-type", default="rsa2048", choices=["rsa2048", "rsa3072", "ec256"])
    s.add_argument("--out", help="keystore, truststore: where to write it (default: "
                   "certs/ID.p12, certs/kszws-truststore.p12)")
    s.add_argument("--password", help="keystore, truststore: its password (default: a new "
                   "one, printed)")
    s.set_defaults(func=cmd_pki)

    s = sub.add_parser("eessi", help="the EESSI access point: send and pull SEDs, the "
                       "channels' backlog, the Institution Repository")
    eessi = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    e = eessi.add_parser("send", help="send a SED (an SBDH document, or a bare SED with --buc)")
    e.add_argument("file")
    e.add_argument("--as", dest="institution", required=True,
                   help="the sending institution: a kszws id (rsz-onss) or an EESSI id")
    e.add_argument("--to", required=True, help="the receiving institution's EESSI id (CC:ID)")
    e.add_argument("--buc", help="the BUC of a bare SED (e.g. LA_BUC_02)")
    e.add_argument("--case", help="the case a later SED belongs to (none: a new case)")
    e.add_argument("--role", choices=["CaseOwner", "CounterParty"],
                   help="the sender's role (default: CaseOwner of a new case, else "
                        "CounterParty)")
    e.add_argument("--url", help="the access point's HTTPS base URL (default: the hub's, or "
                                 "the foreign access point's for a foreign institution)")
    e = eessi.add_parser("pull", help="take the oldest message waiting for an institution")
    e.add_argument("--as", dest="institution", required=True)
    e.add_argument("--ack", action="store_true", help="send the receipt (the legal delivery)")
    e.add_argument("--url")
    eessi.add_parser("status", help="each pull channel's backlog and oldest message (E6)")
    e = eessi.add_parser("institutions", help="the Institution Repository")
    e.add_argument("--buc")
    e.add_argument("--country")
    s.set_defaults(func=cmd_eessi)

    s = sub.add_parser("call", help="a signed call from the command line (alone: the "
                       "services; with a service: its operations and their fields)",
                       description="Exit codes: 0 success, 1 a warning reply (classic "
                       "ReturnCode 1, a batch partly refused), 2 a refusal or error reply "
                       "(classic ReturnCode >= 2, any SOAP Fault, a status NO_RESULT, a "
                       "batch wholly refused), 3 a transport or usage error (a mistake in "
                       "the command line included).")
    s.add_argument("service", nargs="?", help="service name, as in conf/services.toml "
                   "(none: list them)")
    s.add_argument("operation", nargs="?", help="operation of the service (none: list them "
                   "with their fields)")
    s.add_argument("fields", nargs="*", metavar="FIELD=VALUE",
                   help="request fields; a VALUE starting with { or [ is read as JSON, "
                        "@FILE reads the file (e.g. an SSDNRequest for sendXML's xmlString, "
                        "or the XML of an xsd:any field such as an attestation's payload)")
    _command_line_mistakes_exit_3(s)
    s.add_argument("--help-fields", action="store_true",
                   help="show the operation's request structure and exit")
    s.add_argument("--as", dest="institution", help="calling institution id (default: the "
                   "first institution in signature mode)")
    s.add_argument("--anonymous", action="store_true",
                   help="call as nobody (a public service): no signature, no credentials")
    s.add_argument("--url", help="hub base URL (default: from conf/kszws.toml; an "
                   "institution in client-cert mode takes the HTTPS one: [server] tls_port, "
                   "or the running demo's https_url in demo.json)")
    output = s.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the reply as JSON (XML "
                        "content as strings)")
    output.add_argument("--xml", action="store_true", help="print the reply envelope, "
                        "indented")
    s.set_defaults(func=cmd_call)

    s = sub.add_parser("soapui", help="SoapUI projects of the running hub's services, with "
                       "demo requests, test suites and the WS-Security they need")
    s.add_argument("action", choices=["export"])
    _command_line_mistakes_exit_3(s)
    s.add_argument("--as", dest="institution", help="only what this institution does alone, "
                   "signed with its key (default: every test case, each step signed by the "
                   "demo institution whose role it needs)")
    s.add_argument("--out", default="soapui", help="folder to write (default: ./soapui)")
    s.add_argument("--url", help="hub base URL (default: from conf/kszws.toml)")
    s.add_argument("--per-service", action="store_true",
                   help="one project per service instead of one for all")
    s.set_defaults(func=cmd_soapui)

    s = sub.add_parser("validate", help="check messages against the published schemas")
    s.add_argument("files", nargs="+")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("log", help="search the exchange log; `log verify` checks its chain")
    s.add_argument("action", nargs="?", choices=["search", "verify"], default="search")
    s.add_argument("--ticket")
    s.add_argument("--caller", help="institution id")
    s.add_argument("--subject", help="an SSIN or enterprise number the exchange concerned")
    s.add_argument("--service")
    s.add_argument("--outcome", choices=["OK", "REFUSED", "ERROR"])
    s.add_argument("--since", type=_datetime, help="ISO date or date-time (UTC)")
    s.add_argument("--until", type=_datetime)
    s.add_argument("--limit", type=_positive, default=50)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_log)

    s = sub.add_parser("authorizations", help="print the published access authorizations")
    s.add_argument("--sector", type=int, help="only those of this sector")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_authorizations)

    s = sub.add_parser("directory", help="the reference directory: bulk load")
    s.add_argument("action", choices=["load"])
    s.add_argument("file", help="CSV: ssin,quality_code,start_date[,end_date[,register]] "
                                "(a header line is skipped)")
    s.add_argument("--as", dest="institution", required=True,
                   help="the institution whose files these are")
    s.add_argument("--chunk", type=int, default=100_000, help="lines per transaction")
    s.set_defaults(func=cmd_directory)

    s = sub.add_parser("mutation", help="National Register mutations: record one at the "
                       "source, write the source's daily batch file, ingest one at the hub")
    s.add_argument("action", choices=["record", "batch", "ingest"])
    s.add_argument("args", nargs="*", metavar="ARG",
                   help="record: KIND SSIN FIELD=VALUE...; batch: DAY (YYYY-MM-DD); "
                        "ingest: FILE")
    s.add_argument("--date", type=datetime.date.fromisoformat,
                   help="record: the day it happened (default: today)")
    s.add_argument("--output", help="batch: write here instead of standard output")
    s.set_defaults(func=cmd_mutation)

    s = sub.add_parser("batch", help="the batch channel: submit a file over SFTP and wait "
                       "for its answers; the files' status")
    _command_line_mistakes_exit_3(s)
    actions = s.add_subparsers(dest="action", required=True)
    a = actions.add_parser("submit", help="name, sign, upload and trigger a file, then wait "
                           "for its ACRF, result and NOTI (exit 0 all answered, 1 some "
                           "records refused, 2 the file refused, 3 a mistake here or the "
                           "drop box unreachable, 4 no answer in time)")
    _command_line_mistakes_exit_3(a)
    a.add_argument("file", help="the file's body (XML: xsd/Batch/BatchFile.xsd, its header "
                   "naming the type and the sender number)")
    a.add_argument("--as", dest="institution", required=True,
                   help="the sending institution (a [[sender]] of conf/batch.toml)")
    a.add_argument("--type", required=True, help="the file type (IDPR, ...)")
    a.add_argument("--env", choices=sorted(batch_names.ENVIRONMENTS), default="R",
                   help="R production (answers in OUT), T or S test (OUTTEST)")
    a.add_argument("--seq", help="the sequence number (default: the second of the day)")
    a.add_argument("--parts", type=int, default=1, help="send the file in N parts")
    a.add_argument("--out", default=".", help="where the answers are written (default: .)")
    a.add_argument("--no-wait", dest="wait", action="store_false", help="stop after the ACRF")
    a.add_argument("--timeout", type=float, default=3600,
                   help="seconds to wait for the result (default 3600)")
    a.set_defaults(func=cmd_batch)
    a = actions.add_parser("status", help="the files submitted, newest first (reads the "
                           "hub's store)")
    _command_line_mistakes_exit_3(a)
    a.add_argument("--as", dest="institution", help="only this institution's files")
    a.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    a.set_defaults(func=cmd_batch)

    s = sub.add_parser("maintenance", help="put the hub in or out of maintenance (/health 503)")
    s.add_argument("state", choices=["on", "off", "status"])
    s.set_defaults(func=cmd_maintenance)

    s = sub.add_parser("migrate", help="create or upgrade the database schema")
    s.set_defaults(func=cmd_migrate)
    return p


def _command_line_mistakes_exit_3(s):
    """`kszws call` documents exit code 2 for a refusal: its command-line mistakes exit 3,
    as its other usage errors do (argparse's own is 2). -v is also taken after the
    command, where people type it."""
    s.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="on an error, the traceback too")
    s.error = lambda message: s.exit(3, "%s: error: %s\n" % (s.prog, message))
    s.set_defaults(mistakes=s)


def _server_options(s):
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, help="processes sharing the port (one per core)")


def _datetime(text):
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an ISO date or date-time (UTC), e.g. "
                                         "2026-12-01 or 2026-12-01T10:00" % text) from None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("%r is not a number of rows (1 or more)" % text)
    return value


# -- serve, demo, source ------------------------------------------------------------------

def cmd_serve(settings, args):
    from kszws import processes

    processes.shared_metrics_directory(settings.data_dir / "metrics")
    from kszws import server

    def announce(base, registry, https_base):
        https = ", https: %s" % https_base if https_base else ""
        print("kszws hub ready: %s (workers: %d%s, database: %s)" % (
            base, args.workers or settings.workers, https, _safe_url(settings.store_url)),
            flush=True)
        for service in registry.services.values():
            print("  %-24s %s%s" % (service.name, base, service.path), flush=True)

    return server.serve(settings, args.host, args.port, args.workers, announce)


def cmd_demo(settings, args):
    from kszws import demo, processes

    registry = demo.prepare(settings)
    tls_port = args.tls_port if args.tls_port is not None else settings.tls_port or DEMO_TLS_PORT
    if tls_port:
        settings = demo.with_https(settings, registry, tls_port)
    # The hub's port is chosen first (it may be 0: any free one), so that the sources know
    # where to push their mutations.
    host = args.host or settings.host
    holder = processes.bound_socket(host, settings.port if args.port is None else args.port)
    args.port = holder.getsockname()[1]
    scheme = "https" if settings.main_port_is_https else "http"
    sources = demo.start_sources(settings, registry, processes.base_url(scheme, host, args.port))
    if settings.tls_port:  # EESSI runs over HTTPS only
        sources += demo.start_foreign_access_points(
            settings, registry, processes.base_url("https", host, settings.tls_port))
    # The sources are started: only the hub's workers count in the shared metrics folder.
    processes.shared_metrics_directory(settings.data_dir / "metrics")
    from kszws import server

    started = time.monotonic()

    def announce(base, registry, https_base):
        print("kszws demo: the hub is up in %.1f s" % (time.monotonic() - started), flush=True)
        from kszws import demo_soctar

        demo_soctar.write(settings, registry)  # SOCTAR's lists, from the seeded population
        info = demo.describe(settings, registry, base, https_base)
        print(demo.banner(info, demo.write(settings, info)), flush=True)

    print("kszws demo: starting the hub ...", flush=True)
    try:
        return server.serve(settings, host, args.port, args.workers, announce)
    finally:
        print("kszws demo: stopping the sources ...", flush=True)
        demo.stop_sources(sources)
        holder.close()
        # demo.json describes a running network: gone with it, so that a later `kszws
        # call` does not take a stopped demo's URL
        (settings.data_dir / "demo.json").unlink(missing_ok=True)
        print("kszws demo: stopped (the data stays in %s)" % settings.data_dir, flush=True)


def cmd_source(settings, args):
    from kszws import sources

    if args.name == "foreign-ap":  # the EESSI counterpart, not a source of the hub
        from kszws.eessi import foreign_ap
        return foreign_ap.run(settings, args)
    if args.name not in sources.SOURCES:
        known = ", ".join(sorted(sources.SOURCES) + ["foreign-ap"])
        print("kszws: unknown source %r (known: %s)" % (args.name, known), file=sys.stderr)
        return 2
    return sources.runner(args.name)(settings, args)


# -- pki -----------------------------------------------------------------------------------

def cmd_pki(settings, args):
    from kszws.registry import load_registry
    from kszws.security import pki
    from kszws.security.credentials import Credentials, issue_passwords

    registry = load_registry(settings)
    if args.action == "keystore":
        return _keystore(settings, registry, args)
    if args.action == "truststore":
        return _truststore(settings, registry, args)
    from kszws import batch
    from kszws.eessi.repository import make_access_point_keys

    written = pki.init_pki(settings.certs_dir, registry.institutions.values(),
                           key_type=args.key_type, force=args.force)
    written += make_access_point_keys(settings)
    written += batch.make_keys(settings, registry)
    issued = issue_passwords(Credentials(settings.data_dir / "credentials.json"),
                             registry.institutions.values(), settings.certs_dir, args.force)
    for path in written:
        print("wrote %s" % path)
    for inst in issued:
        print("new HTTP Basic password for %s in %s" % (inst, settings.certs_dir / (inst + ".password")))
    if not written and not issued:
        print("demo PKI complete in %s (nothing to do; --force re-issues)" % settings.certs_dir)
    return 0


def _keystore(settings, registry, args):
    """The institution's key and certificate as PKCS#12, alias = its id, with the CA."""
    import secrets

    from kszws.security import pki
    from kszws.security.keystore import key_path_for

    inst = registry.institutions.get(args.institution or "")
    if inst is None:
        print("kszws: pki keystore needs an institution of conf/institutions.toml (%s)"
              % ("unknown: %s" % args.institution if args.institution else "none given"),
              file=sys.stderr)
        return 2
    cert_path = inst.certificates[0]
    key_path = key_path_for(cert_path)
    if not key_path.exists():
        print("kszws: no private key for %s at %s: only the demo PKI's keys can be exported "
              "(run `kszws pki init`)" % (inst.id, key_path), file=sys.stderr)
        return 2
    out = args.out or str(settings.certs_dir / ("%s.p12" % inst.id))
    password = args.password or secrets.token_urlsafe(15)
    ca = settings.certs_dir / "ca.crt"
    chain = [pki.read_cert(ca)] if ca.exists() else []
    pki.write_keystore(out, inst.id, pki.read_key(key_path), pki.read_cert(cert_path), chain,
                       password)
    _wrote(out, "PKCS#12 keystore, alias %s" % inst.id, args.password, password)
    return 0


def _truststore(settings, registry, args):
    """What a Java client (SoapUI) trusts to verify the hub's signed replies: the hub's
    certificates and the demo CA, as a Java truststore."""
    import secrets

    from kszws.security import pki

    missing = [p for p in registry.hub.certificates if not Path(p).exists()]
    if missing:
        print("kszws: the hub's certificate %s is missing (run `kszws pki init`)" % missing[0],
              file=sys.stderr)
        return 2
    trusted = {"%s-%d" % (registry.hub.id, i): pki.read_cert(path)
               for i, path in enumerate(registry.hub.certificates, 1)}
    ca = settings.certs_dir / "ca.crt"
    if ca.exists():
        trusted["kszws-ca"] = pki.read_cert(ca)
    out = args.out or str(settings.certs_dir / "kszws-truststore.p12")
    password = args.password or secrets.token_urlsafe(15)
    pki.write_truststore(out, trusted, password)
    _wrote(out, "PKCS#12 truststore: %s" % ", ".join(trusted), args.password, password)
    return 0


def _wrote(path, what, given, password):
    print("wrote %s (%s%s)" % (path, what, "" if given else "; password %s" % password))


# -- call ------------------------------------------------------------------------------------

def cmd_call(settings, args):
    from kszws import calling

    try:
        if args.service is None or args.operation is None or args.help_fields:
            print(_call_help(settings, args.service, args.operation))
            return calling.OK
        return _call(settings, args)
    except calling.UsageError as exc:  # nothing was sent, or nothing came back
        if args.verbose:
            traceback.print_exc()
        print("kszws call: %s" % exc, file=sys.stderr)
        return calling.FAILED


def _call(settings, args):
    import zeep

    from kszws import calling
    from kszws.client import call

    fields = calling.parse_fields(args.fields)
    try:
        result, reply_xml = call(settings, args.service, args.operation, fields,
                                 args.institution, args.url, args.anonymous)
    except zeep.exceptions.Fault as fault:
        print("kszws call: refused: %s %s" % (calling.printable(fault.code or "", 100),
                                              calling.printable(fault.message)),
              file=sys.stderr)
        if fault.detail is not None:
            print(calling.xml_text(fault.detail) if args.xml else
                  calling.fault_lines(fault.detail), file=sys.stderr)
        return calling.REFUSED
    except calling.UsageError:
        raise
    except Exception as exc:  # a reply that is not what the contract says: its signature...
        if args.verbose:
            raise
        print("kszws call: the reply was not accepted: %s: %s" % (
            type(exc).__name__, calling.printable(exc, 300)), file=sys.stderr)
        return calling.REFUSED
    code = calling.status_code(result)
    if isinstance(result, str):  # sendXML: the SSDNReply text
        code, text = calling.classic_summary(result)
    if args.xml:
        print(reply_xml.rstrip())
    elif args.json:
        print(calling.as_json(result))
    else:  # for a person on a terminal: what the hub sent cannot move the cursor
        print(calling.safe_lines(text if isinstance(result, str) else
                                 calling.readable(result)))
    return code


def _call_help(settings, service=None, operation=None):
    """The services; a service's operations with their fields; an operation's request."""
    import zeep

    from kszws import calling
    from kszws.registry import load_registry

    registry = load_registry(settings, client=True)
    if service is None:
        return "services (kszws call SERVICE lists its operations):\n" + "\n".join(
            "  %-28s %s" % (name, s.path) for name, s in sorted(registry.services.items()))
    wsdl = calling.named("service", service, registry.services).wsdl
    client = zeep.Client(wsdl=str(wsdl))
    binding = next(iter(client.wsdl.bindings.values()))
    if operation is None:
        return "%s operations (kszws call %s OPERATION --help-fields for the structure):\n" \
            % (service, service) + "\n".join(
                "  %s(%s)" % (name, op.input.signature(as_output=False))
                for name, op in sorted(binding._operations.items()))
    op = calling.named("operation", operation, binding._operations, " in %s" % service)
    return "%s.%s request:\n%s" % (service, operation,
                                    calling.structure(op, calling.enumerations(client)))


# -- soapui ------------------------------------------------------------------------------------

def cmd_soapui(settings, args):
    from kszws import calling
    from kszws.soapui import export

    try:
        written, keystores = export(settings, args.out, args.institution, args.url,
                                    args.per_service)
    except calling.UsageError as exc:
        if args.verbose:
            traceback.print_exc()
        print("kszws soapui: %s" % exc, file=sys.stderr)
        return calling.FAILED
    for path in written:
        print("wrote %s" % path)
    print("keystore passwords are in the projects (WS-Security configurations, Keystores "
          "tab): %s" % ", ".join(sorted(k.alias for k in keystores.values())))
    print("open in SoapUI 5.x: File > Import Project; run a test suite, or send "
          "\"Request 1\" of an operation")
    return calling.OK


# -- validate ----------------------------------------------------------------------------------

def cmd_validate(settings, args):
    from kszws.hub.validation import SchemaCatalogue, check_message
    from kszws.wire import xmlparse
    from kszws.wire.reasons import Refusal

    root = settings.project_root
    # The published contracts, not the hub's more lenient `accept` schemas: a sender
    # should send what the contract says.
    catalogue = SchemaCatalogue.from_files(
        sorted((root / "wsdl").glob("*.wsdl")),
        sorted(p for p in (root / "xsd").rglob("*.xsd") if not p.name.endswith("-accept.xsd")))
    bad = 0
    for name in args.files:
        element = None
        try:
            element, problems = check_message(catalogue, xmlparse.parse(Path(name).read_bytes()),
                                              xmlparse.parse)
        except Refusal as exc:
            problems = [str(exc)]
        except OSError as exc:
            problems = [str(exc)]
        if problems:
            bad += 1
            print("%s: INVALID" % name)
            for problem in problems:
                print("  %s" % problem)
        else:
            print("%s: valid (%s)" % (name, element.tag))
    return 1 if bad else 0


# -- log, maintenance, migrate ------------------------------------------------------------------

def cmd_log(settings, args):
    from kszws.hub import exchange_log
    from kszws.store import database_from_settings

    db = database_from_settings(settings)
    db.migrate()
    if args.action == "verify":
        report = exchange_log.verify(db)
        for seq, problem in report.problems:
            print("seq %s: %s" % (seq, problem))
        print("%s: %d rows, head at seq %d" % ("OK" if report.ok else "BROKEN", report.rows,
                                               report.head_seq))
        return 0 if report.ok else 1
    problem = _unknown_log_filter(settings, args)
    if problem:  # an empty table would say "nothing happened", not "no such name"
        print("kszws log: %s" % problem, file=sys.stderr)
        return 2
    rows = exchange_log.search(db, ticket=args.ticket, caller=args.caller,
                               subject=args.subject, service=args.service,
                               outcome=args.outcome, since=args.since, until=args.until,
                               limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=1, default=str, ensure_ascii=False))
        return 0
    print(_log_table(rows))
    return 0


def _unknown_log_filter(settings, args):
    """What is wrong with --service or --caller: a name no exchange can have."""
    from kszws.calling import UsageError, named
    from kszws.registry import load_registry

    registry = load_registry(settings, client=True)
    # log rows name a service by its conf name, or "EESSI", "BatchChannel" (the batch
    # channel's files and records) and "-" (no endpoint)
    services = dict.fromkeys(list(registry.services) + ["EESSI", "BatchChannel", "-"])
    try:
        if args.service is not None:
            named("service", args.service, services, " (--service)")
        if args.caller is not None and not args.caller.startswith(("DE:", "BE:")) \
                and ":" not in args.caller:
            named("institution", args.caller, registry.institutions, " (--caller)")
    except UsageError as exc:
        return str(exc)
    return None


def _log_table(rows):
    """The rows as a table with a header, each column as wide as its widest value."""
    header = ("SEQ", "RECEIVED (UTC)", "TICKET", "CALLER", "SERVICE.OPERATION", "OUTCOME",
              "CODE", "SUBJECTS", "DETAIL")
    table = [header] + [(
        str(r["seq"]), r["received_at"].isoformat(timespec="milliseconds"), r["ticket"],
        r["caller"] or "-", "%s.%s" % (r["service"], r["operation"] or "-"), r["outcome"],
        r["reason_code"] or "-", " ".join(r["subjects"]) or "-", r["detail"] or "")
        for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    return "\n".join(" ".join([line[0].rjust(widths[0])] + [
        value.ljust(width) for value, width in zip(line[1:-1], widths[1:])] + [line[-1]])
        .rstrip() for line in table)


def cmd_authorizations(settings, args):
    from kszws.registry import load_registry

    registry = load_registry(settings)
    chosen = [a for a in registry.access.authorizations
              if args.sector is None or a.sector == args.sector]
    if args.json:
        print(json.dumps([dict(a.__dict__, data_groups=sorted(a.data_groups),
                               legal_contexts=sorted(a.legal_contexts),
                               quality_codes=sorted(a.quality_codes)) for a in chosen],
                         indent=1, default=str))
        return 0
    head = ("ID", "DELIBERATION", "OF", "SECTOR", "SERVICE", "DATA GROUPS", "LEGAL CONTEXTS",
            "QUALITY CODES", "VALID")
    rows = [(a.id, a.deliberation, a.deliberation_date.isoformat(),
             "%d.%s" % (a.sector, "*" if a.subsector is None else a.subsector), a.service,
             ", ".join(sorted(a.data_groups)), ", ".join(sorted(a.legal_contexts)),
             " ".join("%03d" % c for c in sorted(a.quality_codes)),
             "%s..%s" % (a.valid_from, a.valid_until or "")) for a in chosen]
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    for e in registry.access.exemptions:
        print("exempt from the registration check: %s/%s (%s)" % (e.service, e.data_group,
                                                                  e.reason))
    return 0


def cmd_directory(settings, args):
    import csv

    from kszws import directory
    from kszws.clock import utcnow
    from kszws.progress import Progress
    from kszws.registry import load_registry
    from kszws.store import database_from_settings

    registry = load_registry(settings)
    inst = registry.institutions.get(args.institution)
    if inst is None or inst.kind != "institution":
        print("kszws: %r is not an institution of institutions.toml" % args.institution,
              file=sys.stderr)
        return 2
    codes = {code: q for (sector, code), q in registry.quality_codes.items()
             if sector in (inst.sector, -1)}
    db = database_from_settings(settings)
    db.migrate()
    try:
        fh = open(args.file, newline="", encoding="utf-8")
    except OSError as exc:
        print("kszws: %s" % exc, file=sys.stderr)
        return 2
    with fh:
        rows = list(csv.reader(fh))
    header = 1 if rows and rows[0] and not rows[0][0].strip()[:1].isdigit() else 0
    lines = [_directory_line(row) for row in rows[header:]]
    chunks = [lines[i:i + args.chunk] for i in range(0, len(lines), args.chunk)]
    accepted, rejected, offset = 0, 0, header
    with Progress("loading %s" % Path(args.file).name, len(lines)) as shown:
        for (n, bad), chunk in zip(directory.bulk_load(db, utcnow(), inst, chunks, codes),
                                   chunks):
            accepted += n
            rejected += len(bad)
            for r in bad:
                print("line %d: %s %s: %s" % (offset + r.index, r.ssin, r.code, r.diagnostic))
            offset += len(chunk)
            shown.update(offset - header)
    print("%d registrations loaded for %s, %d lines refused" % (accepted, inst.id, rejected))
    return 1 if rejected else 0


def _directory_line(line):
    """(ssin, code, start, end, register) of a CSV line; a bad line is kept, to be refused
    with its line number."""
    cells = [c.strip() for c in line] + [""] * 5
    try:
        code = int(cells[1])
        start = datetime.date.fromisoformat(cells[2])
        end = datetime.date.fromisoformat(cells[3]) if cells[3] else None
    except ValueError:
        code, start, end = None, datetime.date.min, None
    return cells[0], code, start, end, cells[4] or None


def cmd_mutation(settings, args):
    from kszws.clock import utcnow
    from kszws.registry import load_registry

    registry = load_registry(settings)
    if args.action == "ingest":
        return _ingest_mutations(settings, registry, args.args)
    from kszws.sources import national_register
    from kszws.sources.national_register import mutations, store

    db = national_register.database(settings, registry.sources[national_register.ID])
    store.migrate(db)
    if args.action == "batch":
        day = datetime.date.fromisoformat(args.args[0]) if args.args else datetime.date.today()
        with db.engine.connect() as conn:
            lines = list(mutations.batch_lines(conn, day))
        text = "".join(line + "\n" for line in lines)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print("%d mutations of %s written to %s" % (len(lines), day, args.output))
        else:
            print(text, end="")
        return 0
    if len(args.args) < 2:
        print("kszws: mutation record KIND SSIN [FIELD=VALUE ...]", file=sys.stderr)
        return 2
    kind, ssin, *fields = args.args
    data = dict(f.partition("=")[::2] for f in fields)
    try:
        with db.engine.begin() as conn:
            seq = mutations.record(conn, kind, ssin, args.date or datetime.date.today(), data,
                                   utcnow())
    except mutations.MutationError as exc:
        print("kszws: %s" % exc, file=sys.stderr)
        return 2
    print("mutation %d recorded: %s of %s (the source pushes it to the hub)" % (seq, kind, ssin))
    return 0


def _ingest_mutations(settings, registry, args):
    """The hub takes in a source's batch file: each mutation once (by sequence number),
    then delivers them to the mailboxes."""
    from kszws import mailbox
    from kszws.clock import utcnow
    from kszws.hub.fanout import FanOut, accept_mutations, mutation_problem
    from kszws.store import database_from_settings

    if len(args) != 1:
        print("kszws: mutation ingest FILE", file=sys.stderr)
        return 2
    batch = []
    try:
        with open(args[0], encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                m = json.loads(line)
                problem = mutation_problem(m["seq"], m["kind"], m["ssin"])
                if problem:
                    raise ValueError(problem)
                batch.append(mailbox.Mutation(int(m["seq"]), m["kind"], m["ssin"],
                                              datetime.date.fromisoformat(m["eventDate"]),
                                              m.get("data") or {}))
    except OSError as exc:
        print("kszws: %s" % exc, file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError) as exc:  # nothing is taken from a bad file
        print("kszws: %s line %d: %s" % (args[0], number, exc), file=sys.stderr)
        return 2
    db = database_from_settings(settings)
    db.migrate()
    now = utcnow()
    with db.engine.begin() as conn:
        accepted, last = accept_mutations(conn, "national-register", batch, now)
    delivered = FanOut(db, registry, settings.fanout_batch).run(now)
    print("%d mutations ingested (%d already known, last seq %d), %d mailbox items delivered"
          % (accepted, len(batch) - accepted, last, delivered))
    return 0


def cmd_eessi(settings, args):
    from kszws.calling import UsageError

    try:
        return _EESSI[args.action](settings, args)
    except UsageError as exc:
        print("kszws eessi %s: %s" % (args.action, exc), file=sys.stderr)
        return 2


def _eessi_send(settings, args):
    from kszws.eessi import client

    doc, message_id, answer = client.send(settings, args.file, args.institution, args.to,
                                          args.buc, args.case, args.role, args.url)
    print("sent %s %s (%s, case %s) from %s to %s, message %s" % (
        doc.buc, doc.sed_type, "new case" if doc.opens_case else "reply", doc.case_id,
        doc.sender, doc.receiver, message_id))
    if answer.kind == "receipt":
        print("receipt %s: the access point has it (NRR over %d parts)"
              % (answer.message_id, len(answer.references)))
        return 0
    for code, severity, detail in answer.errors:
        print("refused: %s (%s) %s" % (code, severity, detail))
    return 1


def _eessi_pull(settings, args):
    from kszws.eessi import client

    doc, payload, acked = client.pull(settings, args.institution, args.ack, args.url)
    if payload is None:
        code, severity, detail = doc.errors[0]
        print("%s (%s): %s%s" % (code, severity, detail, "" if doc.ref_to_message_id is None
                                 else " [about message %s]" % doc.ref_to_message_id))
        return 0 if code == "EBMS:0006" else 1
    print("%s %s in case %s from %s to %s (%s)" % (doc.buc, doc.sed_type, doc.case_id,
                                                 doc.sender, doc.receiver, "receipt sent"
                                                 if acked else "no receipt sent: --ack"))
    sys.stdout.write(payload.decode("utf-8", "replace") + "\n")
    return 0


def _eessi_status(settings, args):
    from kszws.eessi import store
    from kszws.store import database_from_settings

    db = database_from_settings(settings)
    db.migrate()  # a store the hub never opened: nothing waits
    with db.engine.connect() as conn:
        status = store.inbox_status(conn, datetime.datetime.now(datetime.timezone.utc),
                                    datetime.timedelta(hours=settings.eessi_backlog_alert_hours))
    if not status["channels"]:
        print("no message waits in any pull channel")
    for c in status["channels"]:
        print("%-16s %5d waiting, oldest %s%s" % (c["institution"], c["waiting"], c["oldest"],
                                                 "  OVERDUE (E6: > %gh)"
                                                 % settings.eessi_backlog_alert_hours
                                                 if c["overdue"] else ""))
    return 1 if status["alert"] else 0


def _eessi_institutions(settings, args):
    from kszws.eessi import repository
    from kszws.registry import load_registry

    repo, _ = repository.load(settings, load_registry(settings))
    if repo is None:
        print("no conf/eessi/repository.toml", file=sys.stderr)
        return 2
    for inst in repo.select(args.buc, args.country):
        bucs = ", ".join("%s (%s)" % (b, "/".join(sorted(r))) for b, r in sorted(inst.bucs.items())
                         if args.buc is None or b == args.buc)
        print("%-16s %-55s via %s%s" % (inst.id, inst.name[:55], inst.access_point,
                                        "  = kszws %s" % inst.kszws if inst.kszws else ""))
        print("%16s %s" % ("", bucs))
    return 0


_EESSI = {"send": _eessi_send, "pull": _eessi_pull, "status": _eessi_status,
          "institutions": _eessi_institutions}


def cmd_maintenance(settings, args):
    flag = settings.maintenance_flag
    if args.state == "on":
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.write_text("maintenance since %s\n" % datetime.datetime.now().isoformat())
    elif args.state == "off":
        flag.unlink(missing_ok=True)
    print("maintenance: %s" % ("on" if flag.exists() else "off"))
    return 0


def cmd_migrate(settings, args):
    from kszws.store import database_from_settings

    db = database_from_settings(settings)
    db.migrate()
    print("database %s is at the newest schema" % _safe_url(settings.store_url))
    return 0


def _safe_url(url):
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_batch(settings, args):
    from kszws import batch
    from kszws.registry import load_registry

    registry = load_registry(settings)
    config = batch.load(settings, registry)
    if config is None or not config.port:
        print("kszws batch: conf/batch.toml opens no drop box", file=sys.stderr)
        return 2
    if args.action == "status":
        return _batch_status(settings, args)
    return _batch_submit(settings, registry, config, args)


def _batch_submit(settings, registry, config, args):
    from kszws.batch import submit
    from kszws.progress import Progress
    from kszws.security import pki
    from kszws.security.keystore import key_path_for

    sender = config.senders.get(args.institution)
    problem = None
    if sender is None:
        problem = "--as must name a sender of conf/batch.toml (%s)" % ", ".join(config.senders)
    elif not 1 <= args.parts <= batch_names.MAX_PARTS:
        problem = "--parts must be 1-%d" % batch_names.MAX_PARTS
    elif 2 * args.parts > config.max_pending:
        problem = ("--parts %d: the parts and their FS files would be more than the %d "
                   "files /IN takes (max_pending)" % (args.parts, config.max_pending))
    if problem:
        print("kszws batch: %s" % problem, file=sys.stderr)
        return 3
    now = submit.today()
    seq = args.seq or submit.next_seq(now)
    seq = seq.zfill(5) if seq.isdigit() else seq  # --seq 42: 00042
    try:
        name = batch_names.parse("FI.%s.%s.%s.%s.%s" % (args.type, sender.number,
                                                        now.strftime("%Y%m%d"), seq, args.env))
        size = Path(args.file).stat().st_size
        with open(args.file, "rb"):  # readable: said now, not after the login
            pass
        Path(args.out).mkdir(parents=True, exist_ok=True)  # writable: the same
        if not os.access(args.out, os.W_OK):
            raise OSError("--out %s: not writable" % args.out)
        key = pki.read_key(key_path_for(registry.institutions[sender.institution].certificates[0]))
    except (batch_names.BadName, OSError, ValueError) as exc:
        print("kszws batch: %s" % exc, file=sys.stderr)
        return 3
    host = "127.0.0.1" if config.host in ("", "0.0.0.0", "::") else config.host
    try:
        session = submit.Session(host, config.port, sender.institution,
                                 settings.certs_dir / ("%s.ssh" % sender.institution),
                                 Path(str(config.host_key) + ".pub"))
        try:
            with Progress("uploading %s" % name, size) as shown:
                waited = Progress("waiting for the answers", 1, every=30)
                outcome = submit.submit(
                    session, Path(args.file), name, args.parts, key, registry.hub.certificates[0],
                    args.out, wait=args.wait, timeout=args.timeout, progress=shown.update,
                    on_wait=lambda: waited.update(0))
        finally:
            session.close()
    except submit.SubmitError as exc:
        print("kszws batch: %s" % exc, file=sys.stderr)
        return exc.exit_code
    print("\n".join(submit.describe(outcome)))
    if outcome.refused:
        return 2
    return 1 if any(code.startswith("-") for code in outcome.counts) else 0


def _batch_status(settings, args):
    from kszws.batch.intake import stored
    from kszws.store import database_from_settings

    db = database_from_settings(settings)
    rows = stored(db, args.institution, args.limit)
    for row in rows:
        print("%-14s %-36s %-9s %7s/%-7s %s%s" % (
            row["received_at"].isoformat(timespec="seconds"), row["name"], row["state"],
            row["records_done"], row["records_total"] if row["records_total"] is not None
            else "?", row["institution"], "  " + row["errors"] if row["errors"] else ""))
    if not rows:
        print("no batch file%s" % (" from %s" % args.institution if args.institution else ""))
    return 0

