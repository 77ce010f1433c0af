"""hub/records.py reads a source's large replies as zeep would, ten times faster; the
hub's SourceClient.records still checks everything zeep checks (signature, Fault)."""
import sqlite3

import pytest
from lxml import etree
from zeep.exceptions import Fault, SignatureVerificationFailed
from zeep.helpers import serialize_object

from kszws.hub.records import reply_reader
from tests.netfixture import Source, make_project, seed_national_register, source_client

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("records"))
    seed_national_register(settings)
    running = Source(settings, workers=1).start()
    client = source_client(settings)
    register = sqlite3.connect(settings.data_dir / "national-register.sqlite")
    ssins = [row[0] for row in register.execute("SELECT ssin FROM nr_person ORDER BY ssin")]
    register.close()
    yield client, ssins
    running.stop()


def test_the_reader_gives_what_zeep_gives_on_every_person(source):
    """Every person of the register (every status, abroad, with households, names in
    several languages), a hundred per reply as the batch asks them."""
    client, ssins = source
    service = client._service()
    operation = service._binding._operations["consultPersons"]
    read = reply_reader(operation)
    compared = 0
    for start in range(0, len(ssins), 100):
        with service._client.settings(raw_response=True):
            raw = service.consultPersons(ssins={"string": ssins[start:start + 100]})
        envelope = etree.fromstring(raw.content)
        by_zeep = [serialize_object(p, dict) for p in operation.process_reply(envelope)]
        mine = read(envelope.find("{%s}Body" % SOAP)[0])["consultPersonsResult"]["Person"]
        assert _plain(mine) == _plain(by_zeep)
        compared += len(mine)
    assert compared == len(ssins) > 2000


def test_records_through_the_client_as_the_hub_calls_it(source):
    client, ssins = source
    reply = client._records("consultPersons", {"ssins": {"string": ssins[:5]}})
    assert [p["ssin"] for p in reply["consultPersonsResult"]["Person"]] == ssins[:5]
    assert reply == client._records("consultPersons", {"ssins": {"string": ssins[:5]}})


def test_a_tampered_reply_is_still_refused(source, monkeypatch):
    """The reader never sees a reply whose signature does not verify."""
    client, ssins = source
    transport = client._service()._client.transport
    post = transport.post

    def tampered(*args, **kwargs):
        response = post(*args, **kwargs)
        response.content = response.content.replace(ssins[0][-4:].encode(), b"0000", 1)
        return response

    monkeypatch.setattr(transport, "post", tampered)
    with pytest.raises(SignatureVerificationFailed):
        client._records("consultPersons", {"ssins": {"string": ssins[:1]}})


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_a_fault_is_raised_as_zeep_raises_it(source):
    client, _ = source
    with pytest.raises(Fault):  # the source's schema refuses the date
        client._records("searchPersons", {"lastName": "Janssens", "birthDate": "1960"})


@pytest.mark.parametrize("history", [False, True])
def test_consult_person_read_as_zeep_reads_it_on_every_person(source, history):
    """consultPerson (IdentifyPerson, PerformInvestigation): the whole record, with the
    history groups (civil states, occupations, filiations, documents, past households)
    that consultPersons does not give, and the hub's record of it (persons.flattened)."""
    from kszws.hub.persons import _consulted, person_record

    client, ssins = source
    service = client._service()
    operation = service._binding._operations["consultPerson"]
    read = reply_reader(operation)
    for ssin in ssins[::4] + ["00000000097"]:  # a quarter, and one it does not know
        with service._client.settings(raw_response=True):
            raw = service.consultPerson(ssin=ssin, history=history)
        envelope = etree.fromstring(raw.content)
        by_zeep = operation.process_reply(envelope)
        mine = read(envelope.find("{%s}Body" % SOAP)[0])
        expected = person_record(by_zeep.person) if by_zeep.found else None
        assert _plain(_consulted(mine)) == _plain(expected), ssin
