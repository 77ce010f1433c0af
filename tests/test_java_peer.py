"""The Java peer of the benchmark (benchmarks/peers/java/, WSS4J on the JDK's HTTP server):
it answers a request signed by a trusted institution with a reply kszws's own verifier
accepts (signed by the peer's key, the Body and the Timestamp covered), and refuses with a
SOAP Fault and HTTP 500 a request whose signature does not verify or whose signer it does
not trust. Skipped where the JDK or Debian's WSS4J jars are absent."""
import pytest

from benchmarks.bench_testconnection import ACTION, PAYLOAD, request_body
from benchmarks.peers.java import peer
from benchmarks.wrkdriver import sign_all
from tests.netfixture import make_project
from tests.soaptools import Answer, post

ABSENT = peer.missing()
pytestmark = pytest.mark.skipif(ABSENT is not None, reason=str(ABSENT))

HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"%s"' % ACTION}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """The project's PKI and the peer built and started with the hub's identity, trusting
    cpas-eupen only."""
    tmp = tmp_path_factory.mktemp("java-peer")
    settings = make_project(tmp / "project")
    keystore, truststore = peer.write_stores(settings.certs_dir, tmp)
    running = peer.JavaPeer(peer.build(tmp / "build"), keystore, truststore,
                            tmp / "peer.stderr").start()
    yield settings, running
    running.stop()


def signed(settings, institution):
    return sign_all(settings.certs_dir / ("%s.crt" % institution), [request_body()])[0]


def test_a_signed_request_gets_the_echo_signed_by_the_peer(net):
    settings, running = net
    response = post(running.url + "/echo", signed(settings, "cpas-eupen"), HEADERS)
    assert response.status_code == 200, response.text
    answer = Answer(response, settings)  # verifies with kszws.security.wsse.verify
    assert answer.signed and answer.fault is None
    assert answer.root.findtext(".//echo") == PAYLOAD
    assert "0212310036" in answer.root.findtext(".//sslCertificate")  # cpas-eupen's CBE


def test_a_tampered_request_is_refused_with_a_fault(net):
    settings, running = net
    good = signed(settings, "cpas-eupen")
    tampered = good.replace(b"kszws benchmark payload", b"kszws benchmark pAyload", 1)
    assert tampered != good
    response = post(running.url + "/echo", tampered, HEADERS)
    assert response.status_code == 500
    answer = Answer(response, settings)
    assert answer.fault is not None and not answer.signed


@pytest.mark.parametrize("signer", ["stranger", "kszws-hub"])
def test_a_signer_outside_the_truststore_is_refused(net, signer):
    """`stranger` holds a certificate from the same CA, and kszws-hub is the peer's own
    identity (in its keystore): neither is in the truststore."""
    settings, running = net
    response = post(running.url + "/echo", signed(settings, signer), HEADERS)
    assert response.status_code == 500
    assert Answer(response, settings).fault is not None
