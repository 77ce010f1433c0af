"""SOCTAR, the social energy tariff (issue 16 item 4, seed §4.21), end to end over the
real SFTP drop box: CPAS and the pension service drop their beneficiaries of a quarter
(STBE), the economy ministry its customers (STCU), and the flags come back - through the
customer's own right or a household member's on the quarter's reference date, nothing
else about the beneficiaries, every flag in the exchange log and in the access log of
the person whose right was used."""
import datetime

import pytest

from kszws.batch import names
from kszws.hub import exchange_log
from kszws.registry import load_registry
from kszws.store import database_from_settings
from tests.conftest import DATABASES, PG_URL
from tests.netfixture import (drop_postgres_schema, make_project, postgres_schema_url,
                              start_network, stop_network)
from tests.test_batch_channel import (RESULT, SFTP, TODAY, acrf_of, fetched, prepare,
                                      submit)

pytestmark = pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp client is not installed")

EUPEN, CHARLEROI, PENSIONS, ECONOMY = "cpas-eupen", "cpas-charleroi", "onp-rvp", "fod-economie"
NUMBERS = {EUPEN: "170001", CHARLEROI: "170002", PENSIONS: "050001", ECONOMY: "700001"}
QUARTER = "2026Q3"  # reference date 2026-07-01


def make_ssin(birth, seq):
    base = "%02d%02d%02d%03d" % (birth.year % 100, birth.month, birth.day, seq)
    return "%s%02d" % (base, 97 - int(("2" if birth.year >= 2000 else "") + base) % 97)


def person(n):
    return make_ssin(datetime.date(1960 + n % 40, 1 + n % 12, 1 + n % 28), 500 + n)


# The households of the story (the National Register's household ids 990001...):
A, B = person(1), person(2)  # A customer, B his partner holds RI: A flagged through B
C, D = person(3), person(4)  # D (GRAPA) left C's household on 2026-03-01: C not flagged
F, G = person(5), person(6)  # G (RI) left F's only on 2026-09-01: F flagged (RI)
I, J = person(7), person(8)  # J (RI) moved in with I on 2026-08-01: I not flagged
K = person(9)  # K holds GRAPA himself
L, M = person(10), person(11)  # L holds RI, his partner M GRAPA: L's own right, RI
N = person(12)  # nobody holds anything
UNKNOWN = person(13)  # a valid SSIN the register does not know


def household(db, hid, ssin, relationship, entry="2000-01-01", past=()):
    from kszws.sources.national_register import population

    population.add_person(db, ssin, "Soctar", "Test", "1970-01-01", 1, household_id=hid,
                          relationship=relationship, registered_on=entry,
                          groups={"nr_past_membership": list(past)})


def seed_households(settings):
    from kszws.sources import national_register

    source = load_registry(settings).sources["national-register"]
    db = national_register.database(settings, source)
    household(db, 990001, A, 1)
    household(db, 990001, B, 2)
    household(db, 990002, C, 1)
    household(db, 990012, D, 1, entry="2026-03-01", past=[{
        "head_ssin": C, "relationship": 2, "entry_date": "2000-01-01",
        "leave_date": "2026-03-01"}])
    household(db, 990003, F, 1)
    household(db, 990013, G, 1, entry="2026-09-01", past=[{
        "head_ssin": F, "relationship": 3, "entry_date": "2000-01-01",
        "leave_date": "2026-09-01"}])
    household(db, 990004, I, 1)
    household(db, 990004, J, 2, entry="2026-08-01")
    household(db, 990005, K, 1)
    household(db, 990006, L, 1)
    household(db, 990006, M, 2)
    household(db, 990007, N, 1)
    db.dispose()


@pytest.fixture(scope="module", params=DATABASES)
def net(request, tmp_path_factory):
    """The hub (its drop box) on SQLite, and on PostgreSQL when KSZWS_TEST_DATABASE_URL
    is set; the National Register source with the story's households."""
    url, schema = ("", None) if request.param == "sqlite" else postgres_schema_url(PG_URL)
    settings = make_project(tmp_path_factory.mktemp("soctar"), database_url=url)
    hub = start_network(settings)
    seed_households(settings)
    yield hub
    stop_network(hub)
    if schema:
        drop_postgres_schema(PG_URL, schema)


def beneficiaries(sender, rows, quarter=QUARTER):
    records = "".join(
        "<b:Record><b:Id>%d</b:Id><b:Ssin>%s</b:Ssin><b:Quarter>%s</b:Quarter>"
        "<b:Category>%s</b:Category></b:Record>" % (i, ssin, quarter, category)
        for i, (ssin, category) in enumerate(rows, 1))
    return _batch("STBE", sender, len(rows), records)


def customers(sender, ssins, quarter=QUARTER):
    records = "".join(
        "<b:Record><b:Id>%d</b:Id><b:Ssin>%s</b:Ssin><b:Quarter>%s</b:Quarter>"
        "<b:SupplyAddress><b:Street>Rue Haute</b:Street><b:HouseNumber>%d</b:HouseNumber>"
        "<b:PostalCode>1000</b:PostalCode><b:Municipality>Bruxelles</b:Municipality>"
        "</b:SupplyAddress></b:Record>" % (i, ssin, quarter, i)
        for i, ssin in enumerate(ssins, 1))
    return _batch("STCU", sender, len(ssins), records)


def _batch(kind, sender, count, records, context="ENERGY:SOCIAL_TARIFF"):
    return ('<?xml version="1.0" encoding="UTF-8"?><b:Batch xmlns:b="urn:kszws:batch:v1">'
            "<b:Header><b:Type>%s</b:Type><b:Sender>%s</b:Sender>"
            "<b:LegalContext>%s</b:LegalContext>"
            "<b:RecordCount>%d</b:RecordCount></b:Header><b:Records>%s</b:Records></b:Batch>"
            % (kind, NUMBERS[sender], context, count, records)).encode("utf-8")


def send(net, tmp_path, institution, kind, seq, body):
    """The file through the drop box as `institution`: (its FI name, results, NOTI)."""
    name = "FI.%s.%s.%s.%05d.R" % (kind, NUMBERS[institution], TODAY, seq)
    submit(net, tmp_path, prepare(net, tmp_path, name, body, signer=institution),
           institution=institution)
    errors, code = acrf_of(net, tmp_path, str(names.parse(name).as_("GO")),
                           institution=institution)[:2]
    assert (errors, code) == ([], "1")
    return (name, fetched(net, tmp_path, kind, name, institution=institution),
            fetched(net, tmp_path, "NOTI", name, institution=institution))


def codes(results):
    return [r.findtext("{%s}Code" % RESULT) for r in results.iter("{%s}Result" % RESULT)]


def flags(results):
    """[(code, flagged, category)] of an STCU result file, in the input's order."""
    return [(r.findtext("{%s}Code" % RESULT),
             r.findtext("{%s}SocialTariff/{%s}Flagged" % (RESULT, RESULT)),
             r.findtext("{%s}SocialTariff/{%s}Category" % (RESULT, RESULT)))
            for r in results.iter("{%s}Result" % RESULT)]


def rows_of(net, results, caller):
    """{record index: exchange-log row} of a result file's records."""
    reference = results.findtext("{%s}Header/{%s}Reference" % (RESULT, RESULT))
    rows = exchange_log.search(database_from_settings(net.settings), caller=caller,
                               service="BatchChannel", limit=1000)
    return {int(r["ticket"].rsplit("-", 1)[1]): r for r in rows
            if r["ticket"].startswith(reference + "-")}


@pytest.fixture(scope="module")
def round_trip(net, tmp_path_factory):
    """The lists of the quarter, then the ministry's customers: {what: result file}."""
    tmp_path = tmp_path_factory.mktemp("round-trip")
    out = {}
    out["eupen"] = send(net, tmp_path, EUPEN, "STBE", 1, beneficiaries(EUPEN, [
        (B, "RI"), (L, "RI"), (K, "GRAPA"), (N, "XYZ"), ("70100853191", "RI")]))[1]
    out["pensions"] = send(net, tmp_path, PENSIONS, "STBE", 2, beneficiaries(PENSIONS, [
        (K, "GRAPA"), (M, "GRAPA"), (D, "GRAPA")]))[1]
    out["charleroi"] = send(net, tmp_path, CHARLEROI, "STBE", 3, beneficiaries(CHARLEROI, [
        (G, "RI"), (J, "RI")]))[1]
    # N's right is declared for the next quarter only
    out["next"] = send(net, tmp_path, PENSIONS, "STBE", 4, beneficiaries(
        PENSIONS, [(N, "GRAPA")], quarter="2026Q4"))[1]
    name, out["customers"], out["noti"] = send(
        net, tmp_path, ECONOMY, "STCU", 5, customers(ECONOMY, CUSTOMERS))
    out["fi"] = name
    return out


CUSTOMERS = [A, B, C, F, I, K, L, N, UNKNOWN, "70100853191"]


def test_each_beneficiary_is_judged_against_the_categories_its_sender_may_declare(round_trip):
    # a CPAS may not declare the pension service's category, nor one that does not exist
    assert codes(round_trip["eupen"]) == ["000000", "000000", "-700020", "-700010", "-400010"]
    assert codes(round_trip["pensions"]) == ["000000"] * 3
    assert codes(round_trip["charleroi"]) == ["000000"] * 2


def test_the_ministry_gets_a_flag_per_customer_through_the_household(round_trip):
    assert flags(round_trip["customers"]) == [
        ("000000", "true", "RI"),  # A: through his partner B's right
        ("000000", "true", "RI"),  # B: his own
        ("000000", "false", None),  # C: D left the household before the reference date
        ("000000", "true", "RI"),  # F: G was still in his household on 2026-07-01
        ("000000", "false", None),  # I: J moved in after the reference date
        ("000000", "true", "GRAPA"),  # K: his own (the CPAS could not declare it)
        ("000000", "true", "RI"),  # L: his own right first; RI ranks before GRAPA
        ("000000", "false", None),  # N: a right of the next quarter does not count
        ("-400020", None, None), ("-400010", None, None)]
    noti = round_trip["noti"]
    assert {c.get("code"): c.text for c in noti.iter("{%s}Count" % RESULT)} == {
        "000000": "8", "-400020": "1", "-400010": "1"}


def test_nothing_else_about_the_beneficiaries_leaves_the_hub(round_trip):
    from lxml import etree

    results = round_trip["customers"]
    for result in results.iter("{%s}Result" % RESULT):
        body = [e for e in result if e.tag not in ("{%s}Id" % RESULT, "{%s}Code" % RESULT)]
        for element in body:
            assert element.tag == "{%s}SocialTariff" % RESULT
            assert {e.tag for e in element} <= {"{%s}Flagged" % RESULT,
                                                "{%s}Category" % RESULT}
    written = etree.tostring(results).decode()
    for someone in (B, D, G, J, M):  # the beneficiaries who are not customers
        assert someone not in written


def test_every_flag_is_logged_and_in_the_beneficiarys_access_log(net, round_trip):
    from kszws.services.directory import consultations

    rows = rows_of(net, round_trip["customers"], ECONOMY)
    assert sorted(rows) == list(range(1, len(CUSTOMERS) + 1))  # one row per record
    subjects = {i: set(exchange_log.search(database_from_settings(net.settings),
                                           ticket=rows[i]["ticket"])[0]["subjects"])
                for i in rows}
    assert subjects[1] == {A, B}  # A's flag names B, whose right was used
    assert subjects[3] == {C} and subjects[4] == {F, G}
    assert all(rows[i]["operation"] == "STCU" and rows[i]["legal_context"] ==
               "ENERGY:SOCIAL_TARIFF" for i in rows)
    declared = rows_of(net, round_trip["eupen"], EUPEN)
    assert [declared[i]["reason_code"] for i in sorted(declared)] == [
        "000000", "000000", "ACC00001", "-700010", "-400010"]
    registry = load_registry(net.settings)
    now = datetime.datetime.now(datetime.timezone.utc)
    # G is no customer: the ministry's one exchange about him is F's flag, through G
    seen = consultations(database_from_settings(net.settings), registry, G,
                         now.date() - datetime.timedelta(days=1), None, now)
    by_economy = [s for s in seen if s["cbe"] == registry.institutions[ECONOMY].cbe]
    assert [(s["operation"], s["legal_context"]) for s in by_economy] == [
        ("STCU", "ENERGY:SOCIAL_TARIFF")]
    assert exchange_log.verify(database_from_settings(net.settings)).ok


def test_only_the_ministry_may_send_customer_lists(net, tmp_path):
    name = "FI.STCU.170001.%s.00006.R" % TODAY
    submit(net, tmp_path, prepare(net, tmp_path, name, customers(EUPEN, [A, K])))
    results = fetched(net, tmp_path, "STCU", name)
    assert codes(results) == ["-300010", "-300010"]
    assert results.find(".//{%s}SocialTariff" % RESULT) is None


def test_a_list_sent_twice_declares_each_right_once(net, tmp_path):
    from sqlalchemy import func, select

    from kszws.store.schema import soctar_beneficiary

    body = beneficiaries(CHARLEROI, [(person(20), "RI"), (person(20), "ASE")])
    for seq in (7, 8):
        assert codes(send(net, tmp_path, CHARLEROI, "STBE", seq, body)[1]) == ["000000"] * 2
    with database_from_settings(net.settings).engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(soctar_beneficiary).where(
            soctar_beneficiary.c.ssin == person(20))).scalar() == 2


def test_a_list_in_another_legal_context_is_refused_and_nothing_kept(net, tmp_path):
    from sqlalchemy import func, select

    from kszws.store.schema import soctar_beneficiary

    records = ("<b:Record><b:Id>1</b:Id><b:Ssin>%s</b:Ssin><b:Quarter>%s</b:Quarter>"
               "<b:Category>RI</b:Category></b:Record>" % (person(21), QUARTER))
    body = _batch("STBE", EUPEN, 1, records, context="PCSA:SOCIAL_INQUIRY")
    name, results, _ = send(net, tmp_path, EUPEN, "STBE", 9, body)
    assert codes(results) == ["-300010"]
    assert rows_of(net, results, EUPEN)[1]["reason_code"] == "ACC00001"
    with database_from_settings(net.settings).engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(soctar_beneficiary).where(
            soctar_beneficiary.c.ssin == person(21))).scalar() == 0
