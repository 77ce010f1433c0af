"""HTTPS with optional client certificates: the legacy client-cert mode of real CBSS clients."""
import pytest
import requests

from kszws.client import hub_client
from tests.netfixture import Hub, make_project
from tests.soaptools import HEADERS, Answer, log_row, post, request_envelope

TLS = {"tls_certificate": '"certs/kszws-hub.crt"', "tls_key": '"certs/kszws-hub.key"',
       "tls_client_ca": '"certs/ca.crt"'}


@pytest.fixture(scope="module")
def tls_net(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("tls"), settings=TLS)
    hub = Hub(settings).start()
    hub.url = hub.url.replace("127.0.0.1", "localhost")  # the name in the hub's certificate
    yield hub
    hub.stop()


def cert(settings, name):
    return (str(settings.certs_dir / ("%s.crt" % name)), str(settings.certs_dir / ("%s.key" % name)))


def test_client_certificate_institution(tls_net):
    proxy, _ = hub_client(tls_net.settings, "TestConnectionService", "cpas-namur", tls_net.url)
    result = proxy.sendTestMessage(echo="over tls")
    assert result.echo == "over tls"
    assert "0207312061" in result.sslCertificate  # the client certificate's subject
    row = log_row(tls_net.settings, result.informationCBSS.ticketCBSS)
    assert row["caller"] == "cpas-namur" and row["auth_method"] == "client-cert"


def test_unregistered_client_certificate_is_refused(tls_net):
    ca = str(tls_net.settings.certs_dir / "ca.crt")
    answer = Answer(post(tls_net.endpoint(), request_envelope(), verify=ca,
                         cert=cert(tls_net.settings, "stranger")), tls_net.settings)
    assert answer.reason == "SEC00011" and answer.signed
    assert log_row(tls_net.settings, answer.ticket)["outcome"] == "REFUSED"


def test_no_client_certificate_and_no_credentials(tls_net):
    ca = str(tls_net.settings.certs_dir / "ca.crt")
    answer = Answer(post(tls_net.endpoint(), request_envelope(), verify=ca), tls_net.settings)
    assert answer.reason == "SEC00001"


def test_signature_institution_cannot_fall_back_to_its_tls_certificate(tls_net):
    ca = str(tls_net.settings.certs_dir / "ca.crt")
    answer = Answer(post(tls_net.endpoint(), request_envelope(), verify=ca,
                         cert=cert(tls_net.settings, "cpas-eupen")), tls_net.settings)
    assert answer.reason == "SEC00010"


def test_signed_calls_work_over_tls_too(tls_net):
    proxy, _ = hub_client(tls_net.settings, "TestConnectionService", "cpas-eupen", tls_net.url)
    assert proxy.sendTestMessage(echo="signed over tls").echo == "signed over tls"


def test_plain_http_is_not_served_on_the_tls_port(tls_net):
    with pytest.raises(requests.ConnectionError):
        requests.post(tls_net.endpoint().replace("https:", "http:"), data=b"<x/>",
                      headers=HEADERS, timeout=5)
