"""A batch file is answered record by record as its online twin answers the same
question (issue 16, "Done when"): IDPR beside IdentifyPerson by SSIN, on the same 1,000
persons (valid, replaced, cancelled, unknown, with wrong check digits), and a caller
without the authorization refused the same way by both."""
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import etree

from kszws.batch import names
from kszws.sources.national_register.population import DEMO_PERSONS
from tests.netfixture import make_project, start_network, stop_network
from tests.ssdntools import identify, signed_call, ssdn_request
from tests.test_batch_channel import (IPR, RESULT, SFTP, TODAY, acrf_of, batch_body, fetched,
                                      prepare, submit)

pytestmark = pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp client is not installed")

# The online refusal or warning code of IdentifyPerson, as the batch channel's code.
ONLINE_TO_BATCH = {"31007002": "-400010", "31007003": "-400020", "31007004": "-400030",
                   "21007005": "200010", "31008006": "-300010", "31008007": "-300020"}
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
