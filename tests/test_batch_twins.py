"""A batch file is answered record by record as its online twin answers the same
question (issue 16, "Done when"): IDPR beside IdentifyPerson by SSIN, on the same 1,000
persons (valid, replaced, cancelled, unknown, with wrong check digits), and a caller
without the authorization refused the same way by both; PENS beside PensionCadastre
declare on 1,000 declarations (each a message of one), refusals included; REGI beside
ReferenceDirectoryService register/unregister and DIMN beside DimonaService.declare, on
1,000 records each, on twin hubs (below: why), senders without the right refused alike;
hostile records, the exchange log and the citizen's access log, the example files."""
import datetime
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from kszws.batch import names
from kszws.hub import exchange_log
from kszws.store import database_from_settings
from kszws.sources.national_register.population import DEMO_PERSONS
from tests.conftest import DATABASES
from tests.netfixture import Source, make_project, start_network, stop_network
from tests.ssdntools import identify, signed_call, ssdn_request
from tests.test_batch_channel import (IPR, RESULT, SFTP, TODAY, acrf_of, batch_body, fetched,
                                      prepare, submit)

pytestmark = pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp client is not installed")

# The online refusal or warning code of IdentifyPerson, as the batch channel's code.
ONLINE_TO_BATCH = {"31007002": "-400010", "31007003": "-400020", "31007004": "-400030",
                   "21007005": "200010", "31008006": "-300010", "31008007": "-300020"}
DEMO_SSINS = {p["ssin"] for p in DEMO_PERSONS}
RSZ_USER = ("0400003056", 12, None)  # RSZ/ONSS: no IdentifyPerson authorization


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    hub = start_network(make_project(tmp_path_factory.mktemp("twins")))
    yield hub
    stop_network(hub)


def thousand_persons(net):
    """1,000 SSINs: the register's (every status), one unknown, one with wrong check
    digits, in a fixed order."""
    register = sqlite3.connect(net.settings.data_dir / "national-register.sqlite")
    known = [row[0] for row in register.execute(
        "SELECT ssin FROM nr_person ORDER BY status != 'active', ssin LIMIT 994")]
    register.close()
    demo = ["60010100172", "55050500169", "70100853190", "38060100133"]
    return demo + known[:994] + ["90010100123", "70100853191"]


def online(net, ssin, user=None, institution="cpas-eupen"):
    """(batch code, the Basic block) of IdentifyPerson by SSIN, online."""
    request = ssdn_request(identify(ssin), caller="cpas-eupen", user=user)
    reply = signed_call(net, request, institution=institution)
    codes = [ONLINE_TO_BATCH[c] for c in reply.summary(0)[2] if c in ONLINE_TO_BATCH]
    basic = reply.root.find(".//{%s}Basic" % IPR)
    return (codes[0] if codes else "000000"), basic


def canonical(element):
    return None if element is None else etree.tostring(element, method="c14n", exclusive=True)


def compare(net, tmp_path, institution, sender, seq, ssins, user=None):
    name = "FI.IDPR.%s.%s.%05d.R" % (sender, TODAY, seq)
    body = batch_body(sender=sender, ssins=ssins)
    submit(net, tmp_path, prepare(net, tmp_path, name, body, signer=institution),
           institution=institution)
    assert acrf_of(net, tmp_path, str(names.parse(name).as_("GO")),
                   institution=institution)[:2] == ([], "1")
    results = fetched(net, tmp_path, "IDPR", name, institution=institution, wait=120)
    batch = [(r.findtext("{%s}Code" % RESULT), r.find(".//{%s}Basic" % IPR))
             for r in results.iter("{%s}Result" % RESULT)]
    with ThreadPoolExecutor(4) as pool:
        twins = list(pool.map(lambda s: online(net, s, user, institution), ssins))
    assert len(batch) == len(twins) == len(ssins)
    for ssin, (code, basic), (online_code, online_basic) in zip(ssins, batch, twins):
        assert code == online_code, ssin
        assert canonical(basic) == canonical(online_basic), ssin
    return [code for code, _ in batch]


def test_idpr_answers_as_identify_person_on_1000_persons(net, tmp_path):
    ssins = thousand_persons(net)
    assert len(ssins) == 1000 and {p["ssin"] for p in DEMO_PERSONS} & set(ssins)
    codes = compare(net, tmp_path, "cpas-eupen", "170001", 80, ssins)
    assert {"000000", "200010", "-400030", "-400020", "-400010"} <= set(codes)


def test_a_caller_without_the_authorization_is_refused_alike(net, tmp_path):
    codes = compare(net, tmp_path, "rsz-onss", "120001", 81,
                    ["70100853190", "72030512297", "70100853191"], user=RSZ_USER)
    assert codes == ["-300010", "-300010", "-300010"]


# -- PENS beside PensionCadastre declare ---------------------------------------------------

ONP = ("onp-rvp", "050001")  # a payer with a drop box (conf/batch.toml)
UNKNOWN = "85073003328"  # valid check digits, not in the National Register


@pytest.fixture(scope="module")
def cadastre(net):
    source = Source(net.settings, name="pension-cadastre").start()
    yield source
    source.stop()


def two_sets_of_persons(net, count):
    """Two disjoint lists of `count` active persons and one of the register's persons that
    are not active (replaced or cancelled)."""
    register = sqlite3.connect(net.settings.data_dir / "national-register.sqlite")
    active = [row[0] for row in register.execute(
        "SELECT ssin FROM nr_person WHERE status = 'active' AND ssin NOT IN %s "
        "ORDER BY ssin DESC LIMIT %d" % (tuple(DEMO_SSINS), 2 * count))]
    inactive = [row[0] for row in register.execute(
        "SELECT ssin FROM nr_person WHERE status != 'active' ORDER BY ssin")]
    register.close()
    assert len(active) == 2 * count and inactive
    return active[:count], active[count:], inactive


def declarations(persons, inactive, n=1000, ref="R"):
    """`n` declarations over `persons` (taken in order), refusals mixed in by position: an
    unknown SSIN, wrong check digits, a person not active, a month in the future, one
    before the cadastre's first rates, an amount of 0, an unknown benefit type, the
    previous declaration again (a duplicate), and a second benefit for the previous
    person (not a new pensioner)."""
    people, out = iter(persons), []
    for i in range(n):
        d = dict(ssin=None, month="2019-10", benefitReference="%s-%d" % (ref, i),
                 benefitType="statutory_retirement", grossCents=100000 + i,
                 familySituation="single" if i % 2 else "dependants")
        k = i % 25
        if k == 3:
            d["ssin"] = UNKNOWN
        elif k == 5:
            ssin = next(people)
            d["ssin"] = ssin[:9] + "%02d" % ((int(ssin[9:]) + 1) % 98)
        elif k == 7:
            d["ssin"] = inactive[i % len(inactive)]
        elif k == 13:  # the previous declaration again
            d = dict(out[-1])
        elif k == 15:  # a second benefit of the previous person
            d.update(ssin=out[-1]["ssin"], benefitType="supplementary_retirement")
        else:
            d["ssin"] = next(people)
            if k == 9:
                d["month"] = "2099-01"
            elif k == 10:
                d["month"] = "2019-01"
            elif k == 11:
                d["grossCents"] = 0
            elif k == 12 and i % 2:
                d["benefitType"] = "lottery"
        out.append(d)
    return out


def pens_body(sender, items):
    rows = "".join(
        "<b:Record><b:Id>%d</b:Id><b:Ssin>%s</b:Ssin><b:Month>%s</b:Month>"
        "<b:BenefitReference>%s</b:BenefitReference><b:BenefitType>%s</b:BenefitType>"
        "<b:GrossAmount>%d</b:GrossAmount><b:FamilySituation>%s</b:FamilySituation>"
        "</b:Record>" % (i, d["ssin"], d["month"], d["benefitReference"], d["benefitType"],
                         d["grossCents"], d["familySituation"])
        for i, d in enumerate(items, 1))
    return ('<?xml version="1.0" encoding="UTF-8"?><b:Batch xmlns:b="urn:kszws:batch:v1">'
            "<b:Header><b:Type>PENS</b:Type><b:Sender>%s</b:Sender>"
            "<b:RecordCount>%d</b:RecordCount></b:Header><b:Records>%s</b:Records></b:Batch>"
            % (sender, len(items), rows)).encode("utf-8")


def batch_pens(net, tmp_path, institution, sender, seq, items):
    """The PENS results of `items` sent by `institution` through the drop box:
    (reference, [(code, reason, version, newPensioner)])."""
    name = "FI.PENS.%s.%s.%05d.R" % (sender, TODAY, seq)
    submit(net, tmp_path, prepare(net, tmp_path, name, pens_body(sender, items),
                                  signer=institution), institution=institution)
    assert acrf_of(net, tmp_path, str(names.parse(name).as_("GO")),
                   institution=institution)[:2] == ([], "1")
    results = fetched(net, tmp_path, "PENS", name, institution=institution, wait=180)
    found = []
    for r in results.iter("{%s}Result" % RESULT):
        new = r.findtext(".//{%s}NewPensioner" % RESULT)
        found.append((r.findtext("{%s}Code" % RESULT), r.findtext(".//{%s}ReasonCode" % RESULT),
                      r.findtext(".//{%s}Version" % RESULT),
                      None if new is None else new == "true"))
    return results.findtext(".//{%s}Reference" % RESULT), found


def online_pens(net, institution, items):
    """What PensionCadastre declare answers `items`, each a message of its own, in order
    (a declaration's fate may hang on the ones before it: duplicates, new pensioners):
    [(code, reason, version, None)] and the tickets."""
    import zeep

    from kszws.batch.kinds.pens import refused
    from kszws.client import hub_client
    from kszws.registry import load_registry
    from tests.storetools import fault_ticket, reply_ticket

    proxy, _ = hub_client(net.settings, "PensionCadastreService", institution, net.url)
    who = {"customerIdentification": {
        "cbeNumber": load_registry(net.settings).institution(institution).cbe}}
    found, tickets = [], []
    for d in items:
        wire = dict(ssin=d["ssin"], month=d["month"], benefitReference=d["benefitReference"],
                    benefitType=d["benefitType"], grossAmount=d["grossCents"],
                    familySituation=d["familySituation"])
        try:
            reply = proxy.declare(informationCustomer=who, declaration=[wire])
        except zeep.exceptions.Fault as fault:
            reason, ticket = fault_ticket(fault)
            found.append((ONLINE_REFUSALS[reason], reason, None, None))
            tickets.append(ticket)
            continue
        [result] = reply["result"]
        reason = result["reasonCode"]
        found.append(("000000" if result["accepted"] else refused(reason), reason,
                      None if result["version"] is None else str(result["version"]), None))
        tickets.append(reply_ticket(reply))
    return found, tickets


ONLINE_REFUSALS = {"ACC00001": "-300010", "ACC00002": "-300020"}


def cadastre_rows(net, payer, ssins):
    """{ssin: [(month, benefit type, gross, family, status, version)]} the cadastre holds
    of `payer` on `ssins`, and the set of them it counts as pensioners."""
    from sqlalchemy import select

    from kszws.registry import load_registry
    from kszws.sources import pension_cadastre
    from kszws.sources.pension_cadastre.store import declaration, pensioner

    source = load_registry(net.settings).sources["pension-cadastre"]
    db = pension_cadastre.database(net.settings, source)
    rows = {}
    with db.engine.connect() as conn:
        for r in conn.execute(select(declaration).where(
                declaration.c.payer == payer, declaration.c.ssin.in_(ssins))
                .order_by(declaration.c.id)).mappings():
            rows.setdefault(r["ssin"], []).append(
                (r["month"], r["benefit_type"], r["gross_cents"] % 100000, r["family"],
                 r["status"], r["version"]))
        known = set(conn.execute(select(pensioner.c.ssin).where(
            pensioner.c.ssin.in_(ssins))).scalars())
    db.dispose()
    return rows, known


def announced(net, ssins):
    """The SSINs among `ssins` announced to the health insurers as new pensioners."""
    from sqlalchemy import select

    from kszws.store.schema import attestation

    db = database_from_settings(net.settings)
    with db.engine.connect() as conn:
        found = set(conn.execute(select(attestation.c.ssin).where(
            attestation.c.type == "new_pensioner", attestation.c.ssin.in_(ssins))).scalars())
    db.dispose()
    return found


def test_pens_declares_as_pension_cadastre_declare_on_1000_declarations(net, cadastre,
                                                                         tmp_path):
    """The batch's state changes (the cadastre keeps what it accepts; a declaration sent
    twice is a duplicate), so the twins do not send the same declarations: the batch file
    declares 1,000 for one set of persons, the online twin the same 1,000 for a second,
    disjoint set of persons of the same status, one message per declaration in the file's
    order. Each record's code, reason and version must equal its twin's, and afterwards
    the cadastre must hold for each set the same declarations (month, type, amount,
    family, status, version), count the same persons as pensioners, and the hub must
    have announced the same new pensioners to the health insurers; every record has
    exactly one exchange-log row naming its SSIN."""
    batch_persons, online_persons, inactive = two_sets_of_persons(net, 850)
    batch_items = declarations(batch_persons, inactive, ref="B")
    online_items = declarations(online_persons, inactive, ref="O")
    reference, batch = batch_pens(net, tmp_path, *ONP, 90, batch_items)
    online_, _ = online_pens(net, ONP[0], online_items)
    assert len(batch) == len(online_) == 1000
    for i, (b_, o) in enumerate(zip(batch, online_)):
        assert b_[:3] == o[:3], (i, batch_items[i], online_items[i])
    codes = {code for code, *_ in batch}
    assert {"000000", "-500002", "-500003", "-500004", "-500005", "-500006",
            "-500007"} <= codes, codes
    # the new pensioners: the first declaration of each person that the cadastre took
    taken, firsts = set(), []
    for d, (code, *_rest) in zip(batch_items, batch):
        firsts.append(code == "000000" and d["ssin"] not in taken)
        if code == "000000":
            taken.add(d["ssin"])
    assert [new for *_, new in batch] == [f if c == "000000" else None
                                          for f, (c, *_) in zip(firsts, batch)]
    # the cadastre's state: the same declarations for each set, person by person
    pairs = dict(zip([d["ssin"] for d in batch_items], [d["ssin"] for d in online_items]))
    held_b, known_b = cadastre_rows(net, ONP[0], list(pairs))
    held_o, known_o = cadastre_rows(net, ONP[0], list(pairs.values()))
    assert held_b and {pairs[s]: rows for s, rows in held_b.items()} == held_o
    assert {pairs[s] for s in known_b} == known_o and len(known_b) == len(taken)
    new_b, new_o = announced(net, list(pairs)), announced(net, list(pairs.values()))
    assert new_b == taken and {pairs[s] for s in new_b} == new_o
    # one exchange-log row per record, with its SSIN
    db = database_from_settings(net.settings)
    rows = exchange_log.search(db, caller=ONP[0], service="BatchChannel", limit=5000)
    db.dispose()
    mine = {r["ticket"]: r for r in rows if r["ticket"].startswith(reference + "-")}
    assert len(mine) == 1000
    for i, d in enumerate(batch_items, 1):
        row = mine["%s-%d" % (reference, i)]
        assert row["subjects"] == [d["ssin"]], row
        assert row["reason_code"] == (batch[i - 1][1] or "000000")


def test_pens_from_a_sender_without_the_authorization_is_refused_alike(net, cadastre,
                                                                       tmp_path):
    persons, _, inactive = two_sets_of_persons(net, 5)
    items = declarations(persons[::-1], inactive, n=4, ref="E")
    ssins = [d["ssin"] for d in items]
    before = cadastre_rows(net, "onp-rvp", ssins)
    reference, batch = batch_pens(net, tmp_path, "cpas-eupen", "170001", 91, items)
    online_, tickets = online_pens(net, "cpas-eupen", items)
    assert [b_[:2] for b_ in batch] == [o[:2] for o in online_] == [
        ("-300010", "ACC00001")] * 4
    # nothing reached the cadastre
    assert cadastre_rows(net, "cpas-eupen", ssins) == ({}, before[1])
    assert cadastre_rows(net, "onp-rvp", ssins) == before
    # both logged the refusal, online without reading the SSINs, the batch alike
    from tests.storetools import log_row

    for ticket in tickets + ["%s-%d" % (reference, i) for i in range(1, 5)]:
        row = log_row(net.settings, ticket)
        assert (row["outcome"], row["reason_code"], row["subjects"]) == (
            "REFUSED", "ACC00001", [])


# -- REGI and DIMN: files that change state, beside their online twins -----------------------
#
# A registration or a declaration changes what the next one finds (a registration widened,
# ended, an exclusive code taken; a period opened, a student's quota used), so a batch
# record and its online twin cannot both be sent to one hub: the second would meet the
# first's effect. Each comparison runs on TWIN hubs instead, built alike (the same conf, the
# same National Register and employer directory from the same seeds, the same registrations
# and periods seeded before): the file goes to one, the same records one by one online,
# in the file's order, to the other. Each record must get the same outcome and the same
# result (the registrations after it, or the declaration's result with its period id), and
# the directories and personnel files must end alike.

EMPLOYERS_SOURCE = "employer-directory"
BAKERY, STUDENTS, SECRETARIAT = "boulangerie-dupont", "studentenjob-brugge", "secretariat-social"
SENDER_OF = {"cpas-eupen": "170001", "cpas-charleroi": "170002", BAKERY: "120101",
             STUDENTS: "120102", SECRETARIAT: "120103"}


def twin_hub(tmp_path_factory, name, database):
    """A network with the employer directory; the hub's store on `database` (sqlite, or
    postgresql: a schema of its own on KSZWS_TEST_DATABASE_URL)."""
    from tests.conftest import PG_URL
    from tests.netfixture import Source, postgres_schema_url

    url, schema = postgres_schema_url(PG_URL) if database == "postgresql" else ("", None)
    settings = make_project(tmp_path_factory.mktemp(name), database_url=url)
    employers = Source(settings, name=EMPLOYERS_SOURCE).start()
    try:
        hub = start_network(settings)
    except Exception:
        employers.stop()
        raise
    hub.employers, hub.schema = employers, schema
    return hub


@pytest.fixture(scope="module", params=DATABASES)
def twins(tmp_path_factory, request):
    """(the hub that gets the files, the hub that gets the online calls), built alike; on
    both, cpas-charleroi holds the exclusive code 2 on every other person to whom the REGI
    workload gives that code. On SQLite, and on PostgreSQL when KSZWS_TEST_DATABASE_URL is
    set."""
    from tests.conftest import PG_URL
    from tests.netfixture import drop_postgres_schema, register_in_directory

    hubs = []
    try:
        for name in ("batch-twin", "online-twin"):
            hubs.append(twin_hub(tmp_path_factory, name, request.param))
        active = [p for p in population(hubs[0]) if p["status"] == "active"]
        for hub in hubs:
            register_in_directory(hub.settings, ["cpas-charleroi"],
                                  [p["ssin"] for p in active[3:700:20]], code=2,
                                  start=datetime.date(2025, 1, 1))
        yield tuple(hubs)
    finally:
        for hub in hubs:
            stop_network(hub)
            hub.employers.stop()
            if hub.schema is not None:
                drop_postgres_schema(PG_URL, hub.schema)


def population(hub):
    """The National Register's persons as seeded (tests.netfixture: 2,000 and the demo
    ones, the same in every network), in SSIN order: dicts of the columns a proof needs."""
    register = sqlite3.connect(hub.settings.data_dir / "national-register.sqlite")
    register.row_factory = sqlite3.Row
    rows = [dict(r) for r in register.execute(
        "SELECT ssin, status, replaced_by, last_name, first_names, birth_date, sis_card"
        " FROM nr_person ORDER BY ssin")]
    register.close()
    return rows


def customer_of(hub, institution):
    from kszws.registry import load_registry

    return {"customerIdentification": {
        "cbeNumber": load_registry(hub.settings).institution(institution).cbe}}


def submit_file(hub, tmp_path, institution, kind, seq, records):
    """Submit a file of `records` (XML text each) over SFTP; its result file's root."""
    sender = SENDER_OF[institution]
    name = "FI.%s.%s.%s.%05d.R" % (kind, sender, TODAY, seq)
    body = ('<?xml version="1.0" encoding="UTF-8"?><b:Batch xmlns:b="urn:kszws:batch:v1">'
            "<b:Header><b:Type>%s</b:Type><b:Sender>%s</b:Sender>"
            "<b:RecordCount>%d</b:RecordCount></b:Header><b:Records>%s</b:Records></b:Batch>"
            % (kind, sender, len(records), "".join(
                "<b:Record><b:Id>%d</b:Id>%s</b:Record>" % (i, rec)
                for i, rec in enumerate(records, 1)))).encode("utf-8")
    submit(hub, tmp_path, prepare(hub, tmp_path, name, body, signer=institution),
           institution=institution)
    assert acrf_of(hub, tmp_path, str(names.parse(name).as_("GO")),
                   institution=institution)[:2] == ([], "1")
    return fetched(hub, tmp_path, kind, name, institution=institution, wait=300)


def batch_results(root, body_tag):
    """[(code, body element or None)] of a result file, in the records' order."""
    return [(r.findtext("{%s}Code" % RESULT), r.find("{%s}%s" % (RESULT, body_tag)))
            for r in root.iter("{%s}Result" % RESULT)]


def online_fault(fault):
    detail = fault.detail
    return detail.findtext(".//reasonCode"), detail.findtext(".//diagnostic") or ""


# -- REGI ------------------------------------------------------------------------------------

REGI_CODE = {"MSG00000": "000000", "ACC00001": "-300010", "DIR00003": "-300050",
             "DIR00001": "-300060", "DIR00005": "-400020", "DIR00002": "-400050",
             "DIR00004": "200040"}


def _x(tag, value):
    return "" if value in (None, "") else "<b:%s>%s</b:%s>" % (tag, escape(str(value)), tag)


def regi_record(r):
    """A REGI record's XML from a registration asked (a dict, the online fields)."""
    if r["action"] == "END":
        return "<b:End>%s%s%s</b:End>" % (_x("Ssin", r["ssin"]), _x("QualityCode", r.get("code")),
                                           _x("From", r["start"]))
    proof = r["proof"]
    if "sis" in proof:
        given = _x("SisCardNumber", proof["sis"])
    else:
        given = "<b:PersonData>%s%s%s</b:PersonData>" % (
            _x("LastName", proof["last"]), _x("FirstName", proof.get("first")),
            _x("BirthDate", proof.get("birth")))
    return "<b:Register>%s%s%s%s%s<b:Proof>%s</b:Proof></b:Register>" % (
        _x("Ssin", r["ssin"]), _x("QualityCode", r["code"]), _x("StartDate", r["start"]),
        _x("EndDate", r.get("end")), _x("Register", r.get("register")), given)


def regi_online(proxy, history, hub, institution, r):
    """(batch code, the registration elements) of the online twin of REGI record `r`."""
    import zeep

    try:
        if r["action"] == "END":
            args = {"from": r["start"]}
            if r.get("code") is not None:
                args["qualityCode"] = r["code"]
            proxy.unregister(informationCustomer=customer_of(hub, institution), ssin=r["ssin"],
                             **args)
        else:
            proof = r["proof"]
            given = {"sisCardNumber": proof["sis"]} if "sis" in proof else {"personData": {
                "lastName": proof["last"], "firstName": proof.get("first"),
                "birthDate": proof.get("birth")}}
            period = {"startDate": r["start"]}
            if r.get("end"):
                period["endDate"] = r["end"]
            proxy.register(informationCustomer=customer_of(hub, institution), ssin=r["ssin"],
                           qualityCode=r["code"], period=period, register=r.get("register"),
                           proof=given)
    except zeep.exceptions.Fault as fault:
        code, diagnostic = online_fault(fault)
        if code == "MSG00008":
            return ("-400010" if "SSIN" in diagnostic else "-000050"), []
        return REGI_CODE[code], []
    reply = history.last_received["envelope"].find(".//{*}%sResponse" % (
        "unregister" if r["action"] == "END" else "register"))
    code = REGI_CODE[reply.findtext("status/code")]
    if code == "000000" and any(i.findtext("fieldName") == "ssin"
                                for i in reply.iter("information")):
        code = "200010"
    return code, [canonical(e) for e in reply.findall("registration")]


def regi_workload(people):
    """1,000 registrations and ends of cpas-eupen on the register's persons: proofs by
    person data and by SIS card, wrong proofs, a code of another sector, the exclusive
    code (free, or held at Charleroi), periods that widen one another, ends of what an
    earlier record registered and of nothing, replaced, cancelled and unknown SSINs,
    wrong check digits, a period that ends before it starts."""
    active = [p for p in people if p["status"] == "active"]
    others = [p for p in people if p["status"] != "active"]
    day = datetime.date(2026, 1, 1)

    def proof(p, wrong=False):
        if p["sis_card"] and not wrong and len(asked) % 3 == 0:
            return {"sis": p["sis_card"]}
        return {"last": "Nobody" if wrong else p["last_name"],
                "first": (p["first_names"] or "").split(" ")[0] or None,
                "birth": p["birth_date"]}

    asked = []
    for i, p in enumerate(active[:700]):
        kind = i % 10
        r = dict(action="REGISTER", ssin=p["ssin"], code=1, start=day, proof=proof(p))
        if kind == 1:
            r["proof"] = proof(p, wrong=True)
        elif kind == 2:
            r["code"] = 401  # a code of sector 11, not 17
        elif kind == 3:
            r["code"] = 2  # exclusive: held at Charleroi for every tenth person
        elif kind == 4:
            r["end"] = day + datetime.timedelta(days=90)
            r["register"] = "PRIMARY"
        asked.append(r)
        if kind == 4:  # a later, overlapping period of the same code: widened
            asked.append(dict(r, start=day + datetime.timedelta(days=60), end=None,
                              register=None))
        if kind == 5:  # ended from the start: ended entirely
            asked.append(dict(action="END", ssin=p["ssin"], code=1, start=day))
        if kind == 6:  # ended later: keeps the days before
            asked.append(dict(action="END", ssin=p["ssin"], code=None,
                              start=day + datetime.timedelta(days=31)))
        if kind == 7:  # nothing of code 3 to end
            asked.append(dict(action="END", ssin=p["ssin"], code=3, start=day))
    for p in others:  # replaced (followed to the new SSIN) and cancelled
        asked.append(dict(action="REGISTER", ssin=p["ssin"], code=1, start=day,
                          proof={"last": p["last_name"], "birth": p["birth_date"]}))
    asked.append(dict(action="REGISTER", ssin="90010100123", code=1, start=day,
                      proof={"last": "Nobody"}))  # unknown
    asked.append(dict(action="REGISTER", ssin="70100853191", code=1, start=day,
                      proof={"last": "Mustermann"}))  # wrong check digits
    asked.append(dict(action="END", ssin="70100853191", code=1, start=day))
    asked.append(dict(action="REGISTER", ssin=active[0]["ssin"], code=1, start=day,
                      end=day - datetime.timedelta(days=1), proof=proof(active[0])))
    n = 700
    while len(asked) < 1000:  # more persons, registered plainly
        p = active[n]
        asked.append(dict(action="REGISTER", ssin=p["ssin"], code=1, start=day,
                          proof=proof(p)))
        n += 1
    return asked[:1000]


def directory_rows(hub):
    """The registrations of a hub's directory (ids and times aside), sorted."""
    from kszws.store import database_from_settings

    db = database_from_settings(hub.settings)
    try:
        with db.engine.connect() as conn:
            return sorted(tuple(row) for row in conn.exec_driver_sql(
                "SELECT ssin, sector, institution, quality_code, register, start_date,"
                " end_date, ended_at IS NULL FROM directory_registration"))
    finally:
        db.dispose()


def test_regi_answers_as_register_and_unregister_on_1000_records(twins, tmp_path):
    """REGI beside ReferenceDirectoryService register/unregister, on twin hubs (see above):
    1,000 records of cpas-eupen, every outcome; record by record the same code and the
    same registrations after it; both directories end alike."""
    from kszws.client import hub_client

    on_batch, on_line = twins
    people = population(on_batch)
    asked = regi_workload(people)
    assert len(asked) == 1000 and len({r["ssin"] for r in asked}) > 700
    results = batch_results(submit_file(on_batch, tmp_path, "cpas-eupen", "REGI", 101,
                                        [regi_record(r) for r in asked]), "Registration")
    proxy, history = hub_client(on_line.settings, "ReferenceDirectoryService", "cpas-eupen",
                                on_line.url)
    assert len(results) == len(asked)
    for number, (r, (code, body)) in enumerate(zip(asked, results), 1):
        online_code, online_regs = regi_online(proxy, history, on_line, "cpas-eupen", r)
        regs = [canonical(e) for e in body.findall("registration")] if body is not None else []
        assert (code, regs) == (online_code, online_regs), (number, r)
    codes = {code for code, _ in results}
    assert codes == {"000000", "200010", "200040", "-300050", "-300060", "-400010",
                     "-400020", "-400050", "-000050"}, codes
    assert directory_rows(on_batch) == directory_rows(on_line)


def test_regi_from_a_sender_that_manages_no_files_is_refused_alike(twins, tmp_path):
    """An employer manages no files in the reference directory (its own key is its
    personnel file): ACC00001 online, -300010 for each record, nothing written."""
    from kszws.client import hub_client

    on_batch, on_line = twins
    person = next(p for p in population(on_batch) if p["status"] == "active")
    asked = [dict(action="REGISTER", ssin=person["ssin"], code=1,
                  start=datetime.date(2026, 1, 1),
                  proof={"last": person["last_name"], "birth": person["birth_date"]}),
             dict(action="END", ssin=person["ssin"], code=None,
                  start=datetime.date(2026, 1, 1)),
             dict(action="REGISTER", ssin="70100853191", code=1,
                  start=datetime.date(2026, 1, 1), proof={"last": "Mustermann"})]
    before = directory_rows(on_batch)
    results = batch_results(submit_file(on_batch, tmp_path, BAKERY, "REGI", 102,
                                        [regi_record(r) for r in asked]), "Registration")
    proxy, history = hub_client(on_line.settings, "ReferenceDirectoryService", BAKERY,
                                on_line.url)
    online = [regi_online(proxy, history, on_line, BAKERY, r)[0] for r in asked]
    assert [code for code, _ in results] == online == ["-300010"] * 3
    assert directory_rows(on_batch) == before


# -- DIMN ------------------------------------------------------------------------------------

BAKERY_CBE, STUDENTS_CBE = "0403170701", "0403180104"
DIMN_CODE = {"SEC00012": "-300010", "DIM00008": "-400020",
             **{"DIM0000%d" % k: "-6000%d0" % k for k in range(1, 8)}}
FIELDS = ("action", "periodId", "ssin", "workerType", "startDate", "endDate", "hours")


def dimn_record(d):
    return _x("EmployerCbe", d["employer"]) + "".join(
        _x(f[0].upper() + f[1:], d.get(f)) for f in FIELDS)


def seed_periods(hub, persons):
    """The bakery declares an ordinary IN for each of `persons` online: their period ids."""
    from kszws.client import hub_client

    proxy, _ = hub_client(hub.settings, "DimonaService", BAKERY, hub.url)
    reply = proxy.declare(informationCustomer=customer_of(hub, BAKERY), declaration=[
        {"action": "IN", "ssin": s, "workerType": "ordinary",
         "startDate": datetime.date(2026, 2, 1)} for s in persons])
    assert all(r["accepted"] for r in reply["result"])
    return [r["periodId"] for r in reply["result"]]


def dimn_workload(people, seeded):
    """1,000 declarations the secretariat sends for the bakery (and a few for an employer
    that did not mandate it): INs accepted, a student over the yearly quota, overlapping
    periods, dates the wrong way round, before the employer existed, no worker type, OUT,
    UPDATE and CANCEL of seeded periods and of a period nobody has, replaced, cancelled
    and unknown SSINs, wrong check digits."""
    active = [p for p in people if p["status"] == "active"]
    others = [p for p in people if p["status"] != "active"]
    day = datetime.date(2026, 3, 1)
    asked = []

    def declared(ssin, **fields):
        asked.append(dict(dict(employer=BAKERY_CBE, action="IN", ssin=ssin,
                               workerType="ordinary", startDate=day), **fields))

    for i, p in enumerate(active[900:1500]):
        kind, ssin = i % 10, p["ssin"]
        if kind == 1:  # 300 then 400 student hours in 2026: the second is over 650
            declared(ssin, workerType="student", hours=300, startDate=datetime.date(2026, 4, 1),
                     endDate=datetime.date(2026, 4, 30))
            declared(ssin, workerType="student", hours=400, startDate=datetime.date(2026, 6, 1),
                     endDate=datetime.date(2026, 6, 30))
        elif kind == 2:  # a second IN that overlaps the first
            declared(ssin)
            declared(ssin, workerType="flexi", startDate=day + datetime.timedelta(days=10))
        elif kind == 3:
            declared(ssin, endDate=day - datetime.timedelta(days=1))
        elif kind == 4:  # the bakery was founded in 1998
            declared(ssin, startDate=datetime.date(1990, 1, 1))
        elif kind == 5:
            declared(ssin, workerType=None)
        elif kind == 6:  # Studentenjob Brugge did not mandate the secretariat
            declared(ssin, employer=STUDENTS_CBE)
        else:
            declared(ssin)
    for k, (ssin, period) in enumerate(seeded):
        action = ("OUT", "UPDATE", "CANCEL", "OUT")[k % 4]
        declared(ssin, action=action, periodId=period if k % 4 != 3 else 999999,
                 workerType="flexi" if action == "UPDATE" else None,
                 startDate=None, endDate=datetime.date(2026, 5, 31) if action == "OUT" else None)
    for p in others:  # replaced and cancelled: DIM00008
        declared(p["ssin"])
    declared("99010190188")  # nobody
    declared("70100853191")  # wrong check digits
    n = 1500
    while len(asked) < 1000:
        declared(active[n]["ssin"])
        n += 1
    return asked[:1000]


def dimn_online(hub, institution, asked):
    """The online twin of each declaration, in order: messages of at most 20 consecutive
    declarations for one employer. [(batch code, (action, accepted, reasonCode, diagnostic,
    periodId) or None)]"""
    import zeep

    from kszws.client import hub_client

    proxy, history = hub_client(hub.settings, "DimonaService", institution, hub.url)
    out, start = [], 0
    while start < len(asked):
        employer, stop = asked[start]["employer"], start + 1
        while stop < len(asked) and stop - start < 20 and asked[stop]["employer"] == employer:
            stop += 1
        message = [{f: d.get(f) for f in FIELDS} for d in asked[start:stop]]
        try:
            proxy.declare(informationCustomer={"customerIdentification": {
                "cbeNumber": employer}}, declaration=message)
        except zeep.exceptions.Fault as fault:
            out += [(DIMN_CODE[online_fault(fault)[0]], None)] * len(message)
        else:
            reply = history.last_received["envelope"].find(".//{*}declareResponse")
            for result in reply.findall("result"):
                outcome = declaration_outcome(result)
                out.append(("000000" if outcome[1] == "true" else DIMN_CODE[outcome[2]],
                            outcome))
        start = stop
    return out


def declaration_outcome(result):
    """A declaration's result element without its index (its place in the message)."""
    return tuple(result.findtext(f) for f in ("action", "accepted", "reasonCode",
                                              "diagnostic", "periodId"))


def employment_rows(hub):
    from tests.storetools import _source_store

    db, _ = _source_store(hub.settings, EMPLOYERS_SOURCE)
    try:
        with db.engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(
                "SELECT period_id, cbe, ssin, worker_type, start_date, end_date, hours, status"
                " FROM ed_employment ORDER BY period_id")]
    finally:
        db.dispose()


def test_dimn_answers_as_declare_on_1000_declarations(twins, tmp_path):
    """DIMN beside DimonaService.declare, on twin hubs (see above): 1,000 declarations a
    social secretariat sends for the bakery, every outcome; record by record the same code
    and the same result (the period id of each accepted one included: both hubs open the
    same periods in the same order); both personnel files end alike."""
    on_batch, on_line = twins
    people = population(on_batch)
    seeded_persons = [p["ssin"] for p in people if p["status"] == "active"][1800:1820]
    periods = seed_periods(on_batch, seeded_persons)
    assert seed_periods(on_line, seeded_persons) == periods
    asked = dimn_workload(people, list(zip(seeded_persons, periods)))
    assert len(asked) == 1000
    results = batch_results(submit_file(on_batch, tmp_path, SECRETARIAT, "DIMN", 201,
                                        [dimn_record(d) for d in asked]), "Declaration")
    online = dimn_online(on_line, SECRETARIAT, asked)
    assert len(results) == len(online) == 1000
    for number, (d, (code, body), (online_code, outcome)) in enumerate(
            zip(asked, results, online), 1):
        mine = declaration_outcome(body.find("result")) if body is not None else None
        assert (code, mine) == (online_code, outcome), (number, d)
    codes = {code for code, _ in results}
    assert codes == {"000000", "-300010", "-400020", "-600020", "-600030", "-600040",
                     "-600050", "-600060", "-600070"}, codes
    assert employment_rows(on_batch) == employment_rows(on_line)


def test_dimn_from_a_sender_that_is_no_employer_is_refused_alike(twins, tmp_path):
    """A CPAS is no employer and was mandated by none: SEC00012 online, -300010 for each
    record, nothing declared."""
    on_batch, on_line = twins
    person = [p for p in population(on_batch) if p["status"] == "active"][1850]["ssin"]
    asked = [dict(employer=None, action="IN", ssin=person, workerType="ordinary",
                  startDate=datetime.date(2026, 3, 1)),
             dict(employer=BAKERY_CBE, action="IN", ssin=person, workerType="ordinary",
                  startDate=datetime.date(2026, 3, 1))]
    before = employment_rows(on_batch)
    results = batch_results(submit_file(on_batch, tmp_path, "cpas-eupen", "DIMN", 202,
                                        [dimn_record(d) for d in asked]), "Declaration")
    online = dimn_online(on_line, "cpas-eupen", [dict(d, employer=d["employer"] or
                                                      "0212310036") for d in asked])
    assert [c for c, _ in results] == [c for c, _ in online] == ["-300010"] * 2
    assert employment_rows(on_batch) == before


# -- REGI and DIMN: focused ------------------------------------------------------------------

def record_rows(hub, reference):
    """{record number: exchange-log row} of a processed file (the hub's reference)."""
    from kszws.hub import exchange_log
    from kszws.store import database_from_settings

    db = database_from_settings(hub.settings)
    try:
        rows = exchange_log.search(db, service="BatchChannel", limit=5000)
        assert exchange_log.verify(db).ok
    finally:
        db.dispose()
    mine = [r for r in rows if r["ticket"].startswith(reference + "-")]
    numbers = [int(r["ticket"].rsplit("-", 1)[1]) for r in mine]
    assert len(numbers) == len(set(numbers)), "a record logged twice"
    return {int(r["ticket"].rsplit("-", 1)[1]): r for r in mine}


def reference_of(root):
    return root.findtext("{%s}Header/{%s}Reference" % (RESULT, RESULT))


def test_hostile_and_malformed_regi_records_get_their_code_and_one_log_row(twins, tmp_path):
    """Injection, markup, controls and oversize in a REGI file's records: each gets its
    code (the SSIN's check digits, the proof, the record's structure), the records after
    them are judged, and each record has one exchange-log row naming its SSIN when it has
    a valid one."""
    on_batch, _ = twins
    person = [p for p in population(on_batch) if p["status"] == "active"][1900]
    good = dict(action="REGISTER", ssin=person["ssin"], code=1, start=datetime.date(2026, 1, 1),
                proof={"last": person["last_name"], "birth": person["birth_date"]})
    records = [
        regi_record(dict(good, ssin="' OR '1'='1")),
        regi_record(dict(good, ssin="\u202e70100853190")),
        regi_record(dict(good, proof={"last": "x'); DROP TABLE directory_registration;--"})),
        regi_record(dict(good, proof={"last": "A" * 300})),  # longer than the schema allows
        regi_record(good).replace("<b:Proof>", "<b:Evil>x</b:Evil><b:Proof>"),
        regi_record(good).replace("<b:QualityCode>1<", "<b:QualityCode>1e9<"),
        "<!-- a comment before the action -->" + regi_record(good),
        "<b:Register/>",
        regi_record(good),
        regi_record(dict(action="END", ssin=person["ssin"], code=1,
                         start=datetime.date(2026, 1, 1))),
    ]
    root = submit_file(on_batch, tmp_path, "cpas-eupen", "REGI", 103, records)
    codes = [code for code, _ in batch_results(root, "Registration")]
    assert codes == ["-400010", "-400010", "-400050", "-000050", "-000050", "-000050",
                     "000000", "-000050", "000000", "000000"]
    rows = record_rows(on_batch, reference_of(root))
    assert sorted(rows) == list(range(1, 11))
    assert [rows[k]["subjects"] for k in range(1, 11)] == [
        [], [], [person["ssin"]], [], [], [], [person["ssin"]], [], [person["ssin"]],
        [person["ssin"]]]
    assert [rows[k]["reason_code"] for k in (3, 7, 9, 10)] == [
        "DIR00002", "MSG00000", "MSG00000", "MSG00000"]
    assert directory_rows(on_batch)  # the directory is still there


def test_hostile_and_malformed_dimn_records_get_their_code_and_one_log_row(twins, tmp_path):
    """The same for DIMN, sent by the bakery itself: an SSIN that is not one (the online
    schema's shape), hours beyond an int, another employer's number (SEC00012), a number
    that is no enterprise number (MSG00008), a record without its action; then a good
    declaration is still accepted."""
    on_batch, _ = twins
    ssin = [p for p in population(on_batch) if p["status"] == "active"][1901]["ssin"]
    good = dict(employer=None, action="IN", ssin=ssin, workerType="ordinary",
                startDate=datetime.date(2026, 3, 1))
    records = [dimn_record(dict(good, ssin="'; DROP TABLE--")),
               dimn_record(dict(good, workerType="student", hours=99999999999)),
               dimn_record(dict(good, employer=STUDENTS_CBE)),
               dimn_record(dict(good, employer="0403170702")),  # check digits wrong
               dimn_record(dict(good, action=None)),
               dimn_record(good)]
    root = submit_file(on_batch, tmp_path, BAKERY, "DIMN", 203, records)
    results = batch_results(root, "Declaration")
    assert [code for code, _ in results] == [
        "-000050", "-000050", "-300010", "-000050", "-000050", "000000"]
    assert results[-1][1].findtext("result/periodId")
    rows = record_rows(on_batch, reference_of(root))
    assert sorted(rows) == list(range(1, 7))
    assert rows[6]["subjects"] == [ssin] and rows[6]["outcome"] == "OK"
    assert [rows[k]["reason_code"] for k in (3, 4)] == ["SEC00012", "MSG00008"]


def test_the_citizen_sees_a_batch_registration_and_declaration_as_online_ones(twins, tmp_path):
    """AccessLogService for the citizen himself: on the batch hub the registration and the
    declaration made by file are there, by the institution that sent them, as on the online
    hub the same ones made online (service and operation say which channel)."""
    from kszws.client import hub_client

    on_batch, on_line = twins
    person = [p for p in population(on_batch) if p["status"] == "active"][1902]
    regi = dict(action="REGISTER", ssin=person["ssin"], code=1,
                start=datetime.date(2026, 1, 1),
                proof={"last": person["last_name"], "birth": person["birth_date"]})
    dimn = dict(employer=BAKERY_CBE, action="IN", ssin=person["ssin"],
                workerType="ordinary", startDate=datetime.date(2026, 3, 1))
    submit_file(on_batch, tmp_path, "cpas-eupen", "REGI", 104, [regi_record(regi)])
    submit_file(on_batch, tmp_path, SECRETARIAT, "DIMN", 204, [dimn_record(dimn)])
    proxy, history = hub_client(on_line.settings, "ReferenceDirectoryService", "cpas-eupen",
                                on_line.url)
    assert regi_online(proxy, history, on_line, "cpas-eupen", regi)[0] == "000000"
    assert dimn_online(on_line, SECRETARIAT, [dimn])[0][0] == "000000"

    def seen(hub):
        proxy, _ = hub_client(hub.settings, "AccessLogService", "cpas-eupen", hub.url)
        reply = proxy.consultAccessLog(
            informationCustomer=customer_of(hub, "cpas-eupen"),
            actingFor={"citizen": person["ssin"]}, ssin=person["ssin"],
            period={"startDate": datetime.date.today()})
        return sorted((a["institution"], a["service"], a["operation"], a["outcome"])
                      for a in reply["access"] if a["operation"] != "consultAccessLog")

    by_file, online = seen(on_batch), seen(on_line)
    names_ = {i for i, *_ in online}
    assert {i for i, *_ in by_file} == names_ and len(names_) == 2
    assert sorted((s, o, r) for _, s, o, r in by_file) == sorted(
        [("BatchChannel", "DIMN", "OK"), ("BatchChannel", "REGI", "OK")])
    assert sorted((s, o, r) for _, s, o, r in online) == sorted(
        [("DimonaService", "declare", "OK"), ("ReferenceDirectoryService", "register", "OK")])


@pytest.mark.parametrize("kind", ["IDPR", "REGI", "DIMN"])
def test_the_example_files_hold_their_schemas(kind):
    """examples/batch/{kind}.xml: the envelope by BatchFile.xsd, each record by its type's."""
    from kszws.batch.kinds.common import XSD, schema

    root = etree.parse(str(XSD.parents[1] / "examples" / "batch" / ("%s.xml" % kind.lower())))
    envelope = etree.XMLSchema(etree.parse(str(XSD / "BatchFile.xsd")))
    assert envelope.validate(root), envelope.error_log
    records = root.findall(".//{urn:kszws:batch:v1}Record")
    assert records and root.findtext(".//{urn:kszws:batch:v1}RecordCount") == str(len(records))
    record = schema(kind)
    for element in records:
        assert record.validate(element), record.error_log


@pytest.mark.parametrize("example, institution, expected", [
    ("regi.xml", "cpas-eupen", ["000000", "000000", "200010", "-400050", "000000", "-400010"]),
    ("dimn.xml", STUDENTS, ["000000", "000000", "-400020", "-600070"]),
])
def test_the_example_files_are_answered_as_their_comments_say(twins, tmp_path, example,
                                                               institution, expected):
    """`kszws batch submit examples/batch/...` as the README shows it: exit 1 (some records
    refused) and each record's code as the file's comments say."""
    from tests.netfixture import run_kszws

    on_batch, _ = twins
    kind = example.split(".")[0].upper()
    result = run_kszws(on_batch.settings, "batch", "submit",
                       str(on_batch.settings.project_root / "examples" / "batch" / example),
                       "--as", institution, "--type", kind, "--seq", "00300",
                       "--out", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    [answer] = tmp_path.glob("FO.%s.*" % kind)
    root = etree.parse(str(answer)).getroot()
    assert [r.findtext("{%s}Code" % RESULT) for r in root.iter("{%s}Result" % RESULT)] == (
        expected)
