"""Mutations end to end, over real HTTP: the National Register source records an address
change, pushes it (signed) to the hub's MutationService; the hub delivers it to the
mailboxes of exactly the institutions registered on the person and authorized; they list,
fetch and acknowledge it through MailboxService; the daily batch file brings nothing twice."""
import datetime
import time

import pytest
import zeep

from kszws.client import hub_client
from tests.netfixture import (make_project, register_in_directory, run_kszws,
                              seed_national_register, start_pushing_network)
from tests.storetools import (assert_refusal_logged, fault_ticket, log_row, reply_ticket,
                              store_unchanged)

MAX = "70100853190"
TODAY = datetime.date.today()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("mutations"))
    seed_national_register(settings)
    register_in_directory(settings, ["cpas-eupen"], [MAX], code=1)
    register_in_directory(settings, ["onem-rva"], [MAX], code=1)
    # Liege's file on Max ended last year: it must not learn of today's change.
    register_in_directory(settings, ["cpas-liege"], [MAX], code=1,
                          start=datetime.date(2020, 1, 1), end=datetime.date(2025, 12, 31))
    hub = start_pushing_network(settings)
    yield hub
    hub.source.stop()
    hub.stop()


def customer(net, institution):
    from kszws.registry import load_registry

    cbe = load_registry(net.settings).institution(institution).cbe
    return {"customerIdentification": {"cbeNumber": cbe}}


def mailbox(net, institution):
    proxy, _ = hub_client(net.settings, "MailboxService", institution, net.url)
    return proxy


def listed(net, institution, **kw):
    reply = mailbox(net, institution).listItems(informationCustomer=customer(net, institution),
                                                **kw)
    return reply["item"]


def wait_for(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("not delivered within %s s" % timeout)


def test_address_change_reaches_exactly_the_registered_and_authorized(net):
    result = run_kszws(net.settings, "mutation", "record", "address", MAX, "street=Rue Haute",
                   "house_number=12", "postal_code=4700", "municipality=Eupen",
                   "municipality_nis=63023", "--date", TODAY.isoformat())
    assert result.returncode == 0, result.stderr
    items = wait_for(lambda: listed(net, "cpas-eupen"))
    assert [(i["type"], i["ssin"], i["eventDate"]) for i in items] == [
        ("address", MAX, TODAY)]
    assert [i["type"] for i in wait_for(lambda: listed(net, "onem-rva"))] == ["address"]
    assert listed(net, "cpas-liege") == [] and listed(net, "test-lino") == []
    # What changed, with fetchItems; then acknowledged, it is not listed again.
    proxy = mailbox(net, "cpas-eupen")
    fetched = proxy.fetchItems(informationCustomer=customer(net, "cpas-eupen"),
                               id=[items[0]["id"]])["item"][0]
    fields = {f["name"]: f["value"] for f in fetched["field"]}
    assert fields["street"] == "Rue Haute" and fields["municipality_nis"] == "63023"
    done = proxy.acknowledge(informationCustomer=customer(net, "cpas-eupen"),
                             id=[items[0]["id"]])
    assert done["acknowledged"] == [items[0]["id"]]
    assert listed(net, "cpas-eupen") == []
    # ONEM did not acknowledge: its item is delivered again.
    assert [i["type"] for i in listed(net, "onem-rva")] == ["address"]
    # The source's register changed too.
    from kszws.registry import load_registry
    from kszws.sources import national_register
    from kszws.sources.national_register import store

    db = national_register.database(net.settings,
                                    load_registry(net.settings).sources["national-register"])
    with db.engine.connect() as conn:
        assert store.current_legal_address(conn, MAX)["street"] == "Rue Haute"
    db.dispose()


def test_every_pull_and_acknowledgement_is_logged(net):
    from kszws.hub import exchange_log
    from kszws.store import Database

    wait_for(lambda: listed(net, "onem-rva"))
    db = Database(net.settings.store_url)
    try:
        rows = exchange_log.search(db, service="MailboxService", limit=500)
        pushes = exchange_log.search(db, service="MutationService", limit=50)
    finally:
        db.dispose()
    operations = {(r["caller"], r["operation"]) for r in rows}
    assert ("cpas-eupen", "listItems") in operations
    assert ("cpas-eupen", "fetchItems") in operations
    assert ("cpas-eupen", "acknowledge") in operations
    # The pulls that gave Max's item name him: "who consulted my data" sees them.
    assert any(MAX in r["subjects"] for r in rows if r["operation"] == "listItems")
    assert any(r["caller"] == "national-register" and r["outcome"] == "OK" for r in pushes)


def test_the_daily_batch_file_brings_nothing_twice(net, tmp_path):
    wait_for(lambda: listed(net, "onem-rva"))  # the push of the first test went through
    batch = tmp_path / "batch.jsonl"
    result = run_kszws(net.settings, "mutation", "batch", TODAY.isoformat(), "--output", str(batch))
    assert result.returncode == 0, result.stderr
    assert batch.read_text().count("\n") >= 1
    ingested = run_kszws(net.settings, "mutation", "ingest", str(batch))
    assert ingested.returncode == 0, ingested.stderr
    assert "0 mutations ingested" in ingested.stdout, ingested.stdout
    assert [i["type"] for i in listed(net, "onem-rva")] == ["address"]


def test_paging_and_filters(net):
    run_kszws(net.settings, "mutation", "record", "civil_state", MAX, "civil_state=30", "--date",
          TODAY.isoformat())
    wait_for(lambda: len(listed(net, "cpas-eupen")) == 1)
    eupen_items = listed(net, "cpas-eupen", type=["civil_state"])
    assert [i["type"] for i in eupen_items] == ["civil_state"]
    # ONEM is not authorized for civil-state mutations.
    assert [i["type"] for i in listed(net, "onem-rva")] == ["address"]
    assert listed(net, "cpas-eupen", type=["address"]) == []  # acknowledged before
    page = mailbox(net, "onem-rva").listItems(informationCustomer=customer(net, "onem-rva"),
                                              maxItems=1)
    assert page["moreItems"] is False and len(page["item"]) == 1


def test_only_a_source_reports_mutations(net):
    """Refused before anything is kept: no mutation, no fan-out, no mailbox item."""
    proxy, _ = hub_client(net.settings, "MutationService", "cpas-eupen", net.url)
    with store_unchanged(net.settings):
        with pytest.raises(zeep.exceptions.Fault) as refused:
            proxy.notifyMutations(mutation=[{"seq": 999, "kind": "death", "ssin": MAX,
                                             "eventDate": TODAY}])
    code, ticket = fault_ticket(refused.value)
    assert code == "SEC00012"
    assert_refusal_logged(net.settings, ticket, "SEC00012")


def test_a_bad_mutation_refuses_the_whole_message(net):
    proxy, _ = hub_client(net.settings, "MutationService", "national-register", net.url)
    with store_unchanged(net.settings):
        with pytest.raises(zeep.exceptions.Fault) as refused:
            proxy.notifyMutations(mutation=[
                {"seq": 1000, "kind": "death", "ssin": MAX, "eventDate": TODAY},
                {"seq": 1001, "kind": "haircut", "ssin": MAX, "eventDate": TODAY}])
        with pytest.raises(zeep.exceptions.Fault) as bad_ssin:
            proxy.notifyMutations(mutation=[
                {"seq": 1000, "kind": "death", "ssin": "70100853191", "eventDate": TODAY}])
    for fault in (refused.value, bad_ssin.value):
        code, ticket = fault_ticket(fault)
        assert code == "MSG00008"
        assert_refusal_logged(net.settings, ticket, "MSG00008")
    # Nothing of either message was kept: seq 1000 is still new.
    reply = proxy.notifyMutations(mutation=[
        {"seq": 1000, "kind": "death", "ssin": "01020300170", "eventDate": TODAY}])
    assert reply["accepted"] == 1


def test_acknowledging_for_another_institution_is_refused_and_changes_nothing(net):
    """ONEM's address item is still unacknowledged (test_paging_and_filters): acknowledged
    under another institution's enterprise number, or a malformed one, it stays so."""
    items = wait_for(lambda: listed(net, "onem-rva"))
    ids = [i["id"] for i in items]
    proxy = mailbox(net, "onem-rva")
    for cbe, code in (("0212310036", "SEC00012"),  # CPAS Eupen's number
                      ("0212310037", "MSG00008")):  # not an enterprise number
        with store_unchanged(net.settings):
            with pytest.raises(zeep.exceptions.Fault) as refused:
                proxy.acknowledge(informationCustomer={"customerIdentification": {
                    "cbeNumber": cbe}}, id=ids)
        got, ticket = fault_ticket(refused.value)
        assert got == code
        assert_refusal_logged(net.settings, ticket, code)
    assert [i["id"] for i in listed(net, "onem-rva")] == ids


def test_acknowledging_items_that_are_not_ones_own_changes_nothing(net):
    """Another institution's item, or an id nobody has: answered with nothing acknowledged,
    and nothing written."""
    onem_items = [i["id"] for i in wait_for(lambda: listed(net, "onem-rva"))]
    proxy = mailbox(net, "cpas-eupen")
    with store_unchanged(net.settings):
        done = proxy.acknowledge(informationCustomer=customer(net, "cpas-eupen"),
                                 id=onem_items + [-1, 2 ** 62])
    assert done["acknowledged"] == []
    row = log_row(net.settings, reply_ticket(done))
    assert row["outcome"] == "OK" and row["detail"].startswith("0 of ")
    assert [i["id"] for i in listed(net, "onem-rva")] == onem_items
