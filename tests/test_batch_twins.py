"""A batch file is answered record by record as its online twin answers the same
question (issue 16, "Done when"): IDPR beside IdentifyPerson by SSIN, on the same 1,000
persons (valid, replaced, cancelled, unknown, with wrong check digits), and a caller
without the authorization refused the same way by both; PENS beside PensionCadastre
declare on 1,000 declarations (each a message of one), refusals included."""
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import etree

from kszws.batch import names
from kszws.hub import exchange_log
from kszws.store import database_from_settings
from kszws.sources.national_register.population import DEMO_PERSONS
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
