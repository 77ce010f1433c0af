"""The batch channel's drop box and acknowledgements (issue 16, deliver 1-2), with a real
SFTP client: OpenSSH's `sftp` from Debian, over loopback, against the hub's Twisted Conch
drop box; a file named, signed and triggered as an institution does, and the ACRF read
back from OUT."""
import datetime
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from lxml import etree

from kszws.batch import names, signature
from kszws.hub import exchange_log
from kszws.security import pki
from kszws.store import database_from_settings
from tests.netfixture import ROOT, make_project, start_network, stop_network

SFTP = shutil.which("sftp")
pytestmark = pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp client is not installed")

EUPEN, CHARLEROI = "cpas-eupen", "cpas-charleroi"
NUMBERS = {EUPEN: "170001", CHARLEROI: "170002"}
ACRF_XSD = etree.XMLSchema(etree.parse(str(ROOT / "xsd" / "Batch" / "ACRF.xsd")))
TODAY = datetime.date.today().strftime("%Y%m%d")


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """The hub (its drop box) and the National Register source."""
    hub = start_network(make_project(tmp_path_factory.mktemp("batch")))
    yield hub
    stop_network(hub)


def sftp(hub, institution, *commands, key=None):
    """Run `commands` in one OpenSSH sftp session as `institution` (batch mode: the
    session stops at the first command that fails, unless it starts with '-')."""
    from kszws.batch import load
    from kszws.registry import load_registry

    config = load(hub.settings, load_registry(hub.settings))
    key = key or hub.settings.certs_dir / ("%s.ssh" % institution)
    return subprocess.run(
        [SFTP, "-b", "-", "-i", str(key), "-P", str(config.port),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no", "-o", "LogLevel=ERROR",
         "%s@127.0.0.1" % institution],
        input="\n".join(commands) + "\n", capture_output=True, text=True, timeout=60)


def ls(hub, institution, folder):
    """The names in one of the institution's folders, as `sftp ls -1` lists them."""
    result = sftp(hub, institution, "ls -1 %s" % folder)
    assert result.returncode == 0, result.stderr
    return [line.strip().rsplit("/", 1)[-1] for line in result.stdout.splitlines()
            if line.strip() and not line.startswith("sftp>")]


def batch_body(kind="IDPR", sender="170001", records=2, ssins=None,
               context="PCSA:SOCIAL_INQUIRY"):
    ssins = ssins or ["70100853190"] * records
    rows = "".join("<b:Record><b:Id>%d</b:Id><b:Ssin>%s</b:Ssin></b:Record>" % (i, ssin)
                   for i, ssin in enumerate(ssins, 1))
    return ('<?xml version="1.0" encoding="UTF-8"?><b:Batch xmlns:b="urn:kszws:batch:v1">'
            "<b:Header><b:Type>%s</b:Type><b:Sender>%s</b:Sender>"
            "<b:LegalContext>%s</b:LegalContext>"
            "<b:RecordCount>%d</b:RecordCount></b:Header><b:Records>%s</b:Records></b:Batch>"
            % (kind, sender, context, len(ssins), rows)).encode("utf-8")


def prepare(hub, tmp_path, name, body, signer=EUPEN, parts=1, sign=True):
    """The files of a submission in `tmp_path`: the FI (or its parts), their FS signed
    with `signer`'s key, and the GO. Returns their names, GO last."""
    key = pki.read_key(hub.settings.certs_dir / ("%s.key" % signer))
    whole = names.parse(name)
    pieces = [body] if parts == 1 else [body[i * len(body) // parts:(i + 1) * len(body) // parts]
                                        for i in range(parts)]
    files = []
    for number, piece in enumerate(pieces, 1):
        fi = whole if parts == 1 else whole.as_("FI", parts=parts, part=number)
        (tmp_path / str(fi)).write_bytes(piece)
        files.append(str(fi))
        if sign:
            fs = fi.as_("FS")
            (tmp_path / str(fs)).write_bytes(signature.sign(key, signature.digest_file(
                tmp_path / str(fi))))
            files.append(str(fs))
    go = whole.as_("GO")
    (tmp_path / str(go)).write_bytes(b"")
    return files + [str(go)]


def submit(hub, tmp_path, files, institution=EUPEN):
    puts = ["put %s /IN/%s" % (tmp_path / f, f) for f in files]
    result = sftp(hub, institution, *puts)
    assert result.returncode == 0, result.stderr


def acrf_of(hub, tmp_path, go_name, institution=EUPEN, folder="OUT", wait=20, skip=()):
    """The ACRF answering `go_name` (other than the FO files in `skip`), fetched over SFTP
    once its GO is there: (errors, result code, ACRF element, its FO's name)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        present = [n for n in ls(hub, institution, "/" + folder) if "ACRF" in n]
        for name in (n for n in present if n.startswith("GO.ACRF.")):
            fo = name.replace("GO.", "FO.", 1)
            if fo in skip:
                continue
            local = tmp_path / ("fetched-" + fo)
            got = sftp(hub, institution, "get /%s/%s %s" % (folder, fo, local),
                       "get /%s/%s %s" % (folder, fo.replace("FO.", "FS.", 1),
                                          str(local) + ".fs"))
            assert got.returncode == 0, got.stderr
            root = etree.fromstring(local.read_bytes())
            if root.findtext("Form/FileReference/FileName") != go_name:
                continue
            assert ACRF_XSD.validate(root), ACRF_XSD.error_log
            # the ACRF is signed by the hub (FS), like its online replies
            hub_cert = hub.settings.certs_dir / "kszws-hub.crt"
            signature.verify(Path(str(local) + ".fs").read_bytes(),
                             signature.digest_file(local), [hub_cert])
            return ([e.text for e in root.iter("ErrorID")],
                    root.findtext("Form/ReceptionResult/ResultCode"), root, fo)
        time.sleep(0.3)
    raise AssertionError("no ACRF for %s within %d s" % (go_name, wait))


def test_a_signed_file_gets_a_positive_acrf_within_seconds(box, tmp_path):
    name = "FI.IDPR.170001.%s.00001.R" % TODAY
    files = prepare(box, tmp_path, name, batch_body())
    started = time.monotonic()
    submit(box, tmp_path, files)
    errors, code, root, fo = acrf_of(box, tmp_path, str(names.parse(name).as_("GO")))
    assert (errors, code) == ([], "1")
    assert time.monotonic() - started < 10
    assert fo.startswith("FO.ACRF.999999.")
    # the files left IN (the institution can no longer change them); its row is logged
    assert ls(box, EUPEN, "/IN") == []
    rows = exchange_log.search(database_from_settings(box.settings), caller=EUPEN,
                               service="BatchChannel")
    assert [(r["operation"], r["outcome"], r["reason_code"]) for r in rows][:1] == [
        ("IDPR", "OK", "ACRF-000")]


CASES = ["bad signature", "unknown type", "another institution's sender number",
         "no signature", "header of another type", "a doctype in the header"]


@pytest.mark.parametrize("case, expected", [
    ("bad signature", ["ACRF-088"]),
    ("unknown type", ["ACRF-011"]),
    ("another institution's sender number", ["ACRF-010"]),
    ("no signature", ["ACRF-040"]),
    ("header of another type", ["ACRF-050"]),
    ("a doctype in the header", ["ACRF-050"]),
])
def test_a_negative_acrf_names_each_problem(box, tmp_path, case, expected):
    seq = "%05d" % (10 + list(CASES).index(case))
    kind = "ABCD" if case == "unknown type" else "IDPR"
    sender = NUMBERS[CHARLEROI] if case.startswith("another") else NUMBERS[EUPEN]
    name = "FI.%s.%s.%s.%s.R" % (kind, sender, TODAY, seq)
    body = batch_body(kind="REGI" if case == "header of another type" else kind, sender=sender)
    if case == "a doctype in the header":
        body = body.replace(b"?>", b'?><!DOCTYPE b:Batch SYSTEM "/etc/passwd">', 1)
    files = prepare(box, tmp_path, name, body, signer=CHARLEROI if case == "bad signature"
                    else EUPEN, sign=case != "no signature")
    submit(box, tmp_path, files)
    errors, code, _, _ = acrf_of(box, tmp_path, str(names.parse(name).as_("GO")))
    assert (errors, code) == (expected, "0")



def test_a_sequence_number_serves_once_per_day_and_environment(box, tmp_path):
    name = "FI.IDPR.170001.%s.00002.R" % TODAY
    go = str(names.parse(name).as_("GO"))
    submit(box, tmp_path, prepare(box, tmp_path, name, batch_body()))
    errors, code, _, first = acrf_of(box, tmp_path, go)
    assert (errors, code) == ([], "1")
    again = tmp_path / "again"
    again.mkdir()
    submit(box, again, prepare(box, again, name, batch_body(records=3)))
    assert acrf_of(box, again, go, skip={first})[:2] == (["ACRF-020"], "0")


def test_a_file_in_three_parts(box, tmp_path):
    name = "FI.IDPR.170001.%s.00003.T" % TODAY
    files = prepare(box, tmp_path, name, batch_body(records=30), parts=3)
    assert [f for f in files if f.startswith("FI.")] == [
        "FI.IDPR.170001.%s.00003.T.3.%d" % (TODAY, k) for k in (1, 2, 3)]
    submit(box, tmp_path, files)
    # a test environment: the answer is in OUTTEST
    assert acrf_of(box, tmp_path, str(names.parse(name).as_("GO")), folder="OUTTEST")[:2] == (
        [], "1")
    # a part missing: refused whole
    name = "FI.IDPR.170001.%s.00004.T" % TODAY
    files = prepare(box, tmp_path, name, batch_body(records=30), parts=3)
    submit(box, tmp_path, [f for f in files if ".3.2" not in f])
    assert acrf_of(box, tmp_path, str(names.parse(name).as_("GO")), folder="OUTTEST")[:2] == (
        ["ACRF-031"], "0")


def test_td_cancels_a_file_waiting_for_its_go(box, tmp_path):
    name = names.parse("FI.IDPR.170001.%s.00005.R" % TODAY)
    files = prepare(box, tmp_path, str(name), batch_body())
    (tmp_path / str(name.as_("TD"))).write_bytes(b"")
    submit(box, tmp_path, [f for f in files if not f.startswith("GO.")] + [str(name.as_("TD"))])
    deadline = time.monotonic() + 10
    while ls(box, EUPEN, "/IN") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ls(box, EUPEN, "/IN") == []


def test_an_institution_sees_only_its_own_folders(box, tmp_path):
    local, fetched = tmp_path / "x", tmp_path / "fetched"
    local.write_bytes(b"x")
    waiting = "FI.IDPR.170001.%s.00098.R" % TODAY  # uploaded, its GO not sent
    assert sftp(box, EUPEN, "put %s /IN/%s" % (local, waiting)).returncode == 0
    # Charleroi's OUT holds a file: Eupen cannot reach it, however it writes the path
    charleroi = Path(box.settings.data_dir) / "batch" / CHARLEROI / "OUT"
    charleroi.mkdir(parents=True, exist_ok=True)
    (charleroi / ("FO.ACRF.999999.%s.00001.R" % TODAY)).write_bytes(b"theirs")
    assert ls(box, EUPEN, "/") == ["IN", "OUT", "OUTTEST"]
    refused = {
        "another's folder": "ls /../%s/OUT" % CHARLEROI,
        "dot-dot": "get /OUT/../../%s/OUT/FO.ACRF.999999.%s.00001.R %s" % (
            CHARLEROI, TODAY, fetched),
        "another's folder by name": "get /%s/OUT/FO.ACRF.999999.%s.00001.R %s" % (
            CHARLEROI, TODAY, fetched),
        "write into OUT": "put %s /OUT/FI.IDPR.170001.%s.00099.R" % (local, TODAY),
        "a name outside the grammar": "put %s /IN/notes.txt" % local,
        "an FO from an institution": "put %s /IN/FO.ACRF.170001.%s.00099.R" % (local, TODAY),
        "a folder": "mkdir /IN/sub",
        "a symlink": "symlink /OUT /IN/link",
        "a rename": "rename /IN/a /IN/b",
        "read IN": "get /IN/%s %s" % (waiting, fetched),
        "overwrite a file in IN": "put %s /IN/%s" % (local, waiting),
        "attributes": "chmod 777 /IN/%s" % waiting,
        "delete from IN": "rm /IN/%s" % waiting,
    }
    for what, command in refused.items():
        result = sftp(box, EUPEN, command)
        assert result.returncode != 0, what
        assert "Permission denied" in result.stderr or "not found" in result.stderr, (
            what, result.stderr)
        assert not fetched.exists(), what
    assert ls(box, EUPEN, "/IN") == [waiting]


def test_an_answer_is_deleted_only_once_fetched(box, tmp_path):
    name = "FI.IDPR.170001.%s.00006.R" % TODAY
    go = str(names.parse(name).as_("GO"))
    submit(box, tmp_path, prepare(box, tmp_path, name, batch_body()))
    errors, code, root, fo = acrf_of(box, tmp_path, go)
    gone_fo = sftp(box, EUPEN, "rm /OUT/%s" % fo)
    assert gone_fo.returncode == 0, gone_fo.stderr  # fetched by acrf_of
    go_file = fo.replace("FO.", "GO.", 1)
    assert sftp(box, EUPEN, "rm /OUT/%s" % go_file).returncode != 0  # never fetched
    assert sftp(box, EUPEN, "get /OUT/%s %s" % (go_file, tmp_path / "go"),
                "rm /OUT/%s" % go_file).returncode == 0


def test_a_symlink_in_a_folder_is_not_followed(box, tmp_path):
    out = Path(box.settings.data_dir) / "batch" / EUPEN / "OUT"
    (out / ("FO.ACRF.999999.%s.99999.R" % TODAY)).symlink_to("/etc/hostname")
    result = sftp(box, EUPEN, "get /OUT/FO.ACRF.999999.%s.99999.R %s" % (TODAY, tmp_path / "h"))
    assert result.returncode != 0 and not (tmp_path / "h").exists()


def test_no_password_and_no_stranger_key(box, tmp_path):
    stranger = tmp_path / "stranger.ssh"
    pki.init_ssh_keys(tmp_path, ["stranger"])
    assert sftp(box, EUPEN, "ls /", key=stranger).returncode != 0
    assert sftp(box, "nobody", "ls /", key=box.settings.certs_dir / "cpas-eupen.ssh").returncode != 0
    # the key of one institution does not open another's account
    assert sftp(box, CHARLEROI, "ls /", key=box.settings.certs_dir / "cpas-eupen.ssh"
                ).returncode != 0


HEADER_FACETS = {  # each facet of xsd/Batch/BatchFile.xsd, broken in a header
    "Type pattern": (b"<b:Type>IDPR</b:Type>", b"<b:Type>idpr</b:Type>"),
    "Sender pattern": (b"<b:Sender>170001</b:Sender>", b"<b:Sender>17000</b:Sender>"),
    "LegalContext maxLength": (b"PCSA:SOCIAL_INQUIRY</b:LegalContext>",
                               b"P" * 65 + b"</b:LegalContext>"),
}


def test_every_header_facet_is_refused_by_the_acrf(box, tmp_path):
    xsd = etree.parse(str(ROOT / "xsd" / "Batch" / "BatchFile.xsd"))
    facets = {"%s %s" % (el.getparent().getparent().getparent().get("name"),
                         etree.QName(el).localname)
              for el in xsd.iter("{http://www.w3.org/2001/XMLSchema}pattern",
                                 "{http://www.w3.org/2001/XMLSchema}maxLength")}
    assert facets == set(HEADER_FACETS)
    for seq, (facet, (good, bad)) in enumerate(sorted(HEADER_FACETS.items()), 40):
        name = "FI.IDPR.170001.%s.%05d.R" % (TODAY, seq)
        body = batch_body()
        assert good in body
        folder = tmp_path / str(seq)
        folder.mkdir()
        submit(box, folder, prepare(box, folder, name, body.replace(good, bad)))
        assert acrf_of(box, folder, str(names.parse(name).as_("GO")))[:2] == (
            ["ACRF-050"], "0"), facet


RESULT = "urn:kszws:batch:result:v1"
IPR = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/IdentifyPerson"


def fetched(hub, tmp_path, kind, reference_name, institution=EUPEN, folder="OUT", wait=30):
    """The FO file of `kind` (IDPR, NOTI) answering the file `reference_name`, once its GO
    is in the folder: its root element."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for go in [n for n in ls(hub, institution, "/" + folder)
                   if n.startswith("GO.%s." % kind)]:
            fo = go.replace("GO.", "FO.", 1)
            local = tmp_path / ("got-" + fo)
            got = sftp(hub, institution, "get /%s/%s %s" % (folder, fo, local),
                       "get /%s/%s %s.fs" % (folder, fo.replace("FO.", "FS.", 1), local))
            assert got.returncode == 0, got.stderr
            signature.verify(Path("%s.fs" % local).read_bytes(), signature.digest_file(local),
                             [hub.settings.certs_dir / "kszws-hub.crt"])
            root = etree.fromstring(local.read_bytes())
            if root.findtext(".//{%s}FileName" % RESULT) == reference_name:
                return root
        time.sleep(0.3)
    raise AssertionError("no FO.%s for %s within %d s" % (kind, reference_name, wait))


def test_each_record_is_answered_in_order_with_its_code(box, tmp_path):
    """IDPR: a valid SSIN, one with wrong check digits, a replaced one (answered for the
    new), a cancelled one, one nobody has, and a record that is not a record: every one
    answered, in the input's order, and each in the exchange log with its SSIN."""
    ssins = ["70100853190", "70100853191", "60010100172", "55050500169", "90010100123",
             "70100853190"]
    body = batch_body(ssins=ssins).replace(
        b"<b:Record><b:Id>6</b:Id>", b"<b:Record><b:Id>6</b:Id><b:Extra/>").replace(
        b"<b:RecordCount>6<", b"<b:RecordCount>7<")  # a header that miscounts
    name = "FI.IDPR.170001.%s.00070.R" % TODAY
    submit(box, tmp_path, prepare(box, tmp_path, name, body))
    assert acrf_of(box, tmp_path, str(names.parse(name).as_("GO")))[:2] == ([], "1")
    results = fetched(box, tmp_path, "IDPR", name)
    got = [(r.findtext("{%s}Id" % RESULT), r.findtext("{%s}Code" % RESULT),
            r.findtext(".//{%s}SocialSecurityUser" % IPR))
           for r in results.iter("{%s}Result" % RESULT)]
    assert got == [("1", "000000", "70100853190"), ("2", "-400010", None),
                   ("3", "200010", "60010100370"), ("4", "-400030", None),
                   ("5", "-400020", None), ("6", "-000050", None)]
    person = results.find("{%s}Result/{%s}Person" % (RESULT, RESULT))
    assert person.findtext("{%s}Basic/{%s}LastName" % (IPR, IPR)) == "MUSTERMANN"
    assert results.findall("{%s}Result" % RESULT)[2].findtext(
        "{%s}Person/{%s}NewSsin" % (RESULT, RESULT)) == "60010100370"
    noti = fetched(box, tmp_path, "NOTI", name)
    assert {c.get("code"): c.text for c in noti.iter("{%s}Count" % RESULT)} == {
        "000000": "1", "-400010": "1", "200010": "1", "-400030": "1", "-400020": "1",
        "-000050": "1"}
    assert noti.findtext("{%s}Warning" % RESULT) == (
        "the header declared 7 records, the file held 6")
    reference = results.findtext("{%s}Header/{%s}Reference" % (RESULT, RESULT))
    rows = exchange_log.search(database_from_settings(box.settings), caller=EUPEN,
                               service="BatchChannel", limit=500)
    mine = sorted((int(r["ticket"].rsplit("-", 1)[1]), r["reason_code"]) for r in rows
                  if r["ticket"].startswith(reference + "-"))
    assert mine == [(1, "000000"), (2, "-400010"), (3, "200010"), (4, "-400030"),
                    (5, "-400020"), (6, "-000050")]
    assert exchange_log.verify(database_from_settings(box.settings)).ok


def test_a_file_outside_the_authorizations_is_refused_record_by_record(box, tmp_path):
    name = "FI.IDPR.170001.%s.00071.R" % TODAY
    body = batch_body(ssins=["70100853190", "72030512297"], context="ONEM:UNEMPLOYMENT_RIGHTS")
    submit(box, tmp_path, prepare(box, tmp_path, name, body))
    results = fetched(box, tmp_path, "IDPR", name)
    assert [r.findtext("{%s}Code" % RESULT) for r in results.iter("{%s}Result" % RESULT)] == [
        "-300010", "-300010"]
    assert results.find(".//{%s}Person" % RESULT) is None  # nothing about the persons


def test_kszws_batch_submit_names_signs_uploads_and_waits(box, tmp_path):
    """The CLI as an institution uses it: one command, the answers written beside, the
    counts per code printed; exit 1 when some records were refused."""
    from tests.netfixture import run_kszws

    body = tmp_path / "persons.xml"
    body.write_bytes(batch_body(ssins=["70100853190", "70100853191", "72030512297"]))
    result = run_kszws(box.settings, "batch", "submit", str(body), "--as", EUPEN, "--type",
                       "IDPR", "--seq", "00090", "--parts", "2", "--out", str(tmp_path))
    assert result.returncode == 1, result.stderr  # one record refused (-400010)
    assert "FI.IDPR.170001.%s.00090.R accepted (ACRF)" % TODAY in result.stdout
    assert "      2  000000" in result.stdout and "      1  -400010" in result.stdout
    assert sorted(p.name.split(".")[1] for p in tmp_path.glob("FO.*")) == [
        "ACRF", "IDPR", "NOTI"]
    # the same sequence again: refused by the ACRF, exit 2, the reason in words
    again = run_kszws(box.settings, "batch", "submit", str(body), "--as", EUPEN, "--type",
                      "IDPR", "--seq", "00090", "--out", str(tmp_path))
    assert again.returncode == 2 and "ACRF-020 the sequence number was already used" in (
        again.stdout), again.stdout + again.stderr
    status = run_kszws(box.settings, "batch", "status", "--as", EUPEN)
    assert status.returncode == 0
    assert "GO.IDPR.170001.%s.00090.R" % TODAY in status.stdout and "done" in status.stdout
    # mistakes: one line, exit 3
    for wrong in (["--as", "nobody", "--type", "IDPR", str(body)],
                  ["--as", EUPEN, str(body)],  # no --type
                  ["--as", EUPEN, "--type", "idpr", str(body)],
                  ["--as", EUPEN, "--type", "IDPR", str(tmp_path / "missing.xml")],
                  ["--as", EUPEN, "--type", "IDPR", "--parts", "101", str(body)],  # > 200 files
                  ["--as", EUPEN, "--type", "IDPR", "--out", "/proc/nope", str(body)],
                  ["--as", EUPEN, "--type", "IDPR", str(body), str(body)]):
        mistake = run_kszws(box.settings, "batch", "submit", *wrong)
        assert mistake.returncode == 3 and len(mistake.stderr.strip().splitlines()) == 1, (
            wrong, mistake.stderr)


def test_kszws_batch_says_a_wrong_action_and_an_unreachable_drop_box_in_one_line(box, tmp_path):
    """Exit 3 as `kszws call`: a mistake on the command line, or no drop box to log in to
    (conf/batch.toml pointing at a port where nothing listens)."""
    from tests.netfixture import free_port, run_kszws

    wrong = run_kszws(box.settings, "batch", "stat")
    assert wrong.returncode == 3 and "invalid choice" in wrong.stderr
    conf = box.settings.conf_dir / "batch.toml"
    saved = conf.read_text()
    body = tmp_path / "persons.xml"
    body.write_bytes(batch_body())
    try:
        conf.write_text(saved.replace("port = %s" % _port(saved), "port = %d" % free_port(), 1))
        down = run_kszws(box.settings, "batch", "submit", str(body), "--as", EUPEN, "--type",
                         "IDPR", "--out", str(tmp_path))
    finally:
        conf.write_text(saved)
    assert down.returncode == 3 and "cannot log in to the drop box" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1, down.stderr


def _port(conf_text):
    import re

    return re.search(r"^port = (\d+)", conf_text, re.M).group(1)
