"""HTTPS with optional client certificates: the legacy client-cert mode of real CBSS clients,
on the hub's only port (tls_certificate) or on a second one beside plain HTTP (tls_port, as
`kszws demo` serves it)."""
import datetime
import socket
import ssl

import pytest
import requests

from kszws.calling import UsageError
from kszws.client import hub_client
from kszws.security import pki
from tests.netfixture import Hub, free_port, make_project, reissue_certificate
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


# -- The demo's way: plain HTTP on the main port, HTTPS on `tls_port` beside it ---------------

EXPIRED_CLIENT_CERT = '''
[[institution]]
id = "test-namur-expired"
name = "Client-certificate institution whose certificate has expired"
sector = 17
subsector = 1
cbe = "0201733076"
auth = "client-cert"
'''


@pytest.fixture(scope="module")
def two_ports(tmp_path_factory):
    """A hub as `kszws demo` runs it: plain HTTP on its port and the same services over
    HTTPS on tls_port, client certificates optional and checked against the demo CA."""
    settings = make_project(tmp_path_factory.mktemp("tls-port"),
                            settings={**TLS, "tls_port": str(free_port())},
                            institutions=EXPIRED_CLIENT_CERT)
    now = datetime.datetime.now(datetime.timezone.utc)
    reissue_certificate(settings, "test-namur-expired", "0201733076",
                        not_before=now - datetime.timedelta(days=30),
                        not_after=now - datetime.timedelta(days=1))
    hub = Hub(settings).start()
    yield hub
    hub.stop()


def test_the_https_port_is_announced_and_named_by_the_hub_certificate(two_ports):
    assert two_ports.url.startswith("http://127.0.0.1:")
    assert two_ports.https_url == "https://127.0.0.1:%d" % two_ports.settings.tls_port
    # The demo certificate names the address dialled: verified TLS straight to 127.0.0.1.
    ca = str(two_ports.settings.certs_dir / "ca.crt")
    assert requests.get(two_ports.https_url + "/health", verify=ca, timeout=10).status_code == 200
    assert requests.get(two_ports.url + "/health", timeout=10).status_code == 200


def test_client_certificate_institution_picks_https_by_itself(two_ports):
    """No URL given: conf/kszws.toml's tls_port (the demo's: its demo.json, tests/test_cli.py)."""
    proxy, _ = hub_client(two_ports.settings, "TestConnectionService", "cpas-namur")
    result = proxy.sendTestMessage(echo="no --url")
    assert result.echo == "no --url" and "0207312061" in result.sslCertificate
    row = log_row(two_ports.settings, result.informationCBSS.ticketCBSS)
    assert (row["caller"], row["auth_method"]) == ("cpas-namur", "client-cert")
    # Everyone else keeps the plain HTTP port (the test hub's is a free one: given here).
    proxy, _ = hub_client(two_ports.settings, "TestConnectionService", "cpas-eupen",
                          two_ports.url)
    assert proxy.sendTestMessage(echo="signed").echo == "signed"


def test_client_certificate_institution_refuses_a_plain_http_url(two_ports):
    with pytest.raises(UsageError) as refused:
        hub_client(two_ports.settings, "TestConnectionService", "cpas-namur", two_ports.url)
    assert "cpas-namur authenticates with a TLS client certificate" in str(refused.value)
    assert two_ports.https_url in str(refused.value)


def test_plain_http_without_credentials_says_client_certificates_need_https(two_ports):
    response = post(two_ports.endpoint(), request_envelope())
    answer = Answer(response, two_ports.settings)
    assert (response.status_code, answer.reason) == (401, "SEC00001")
    assert "must call the hub's HTTPS URL" in response.text
    assert "HTTPS URL" in log_row(two_ports.settings, answer.ticket)["detail"]


def test_https_without_a_client_certificate(two_ports):
    """No certificate is not a TLS error (they are optional): the hub refuses the call."""
    ca = str(two_ports.settings.certs_dir / "ca.crt")
    response = post(https_endpoint(two_ports), request_envelope(), verify=ca)
    assert Answer(response, two_ports.settings).reason == "SEC00001"
    assert "HTTPS URL" not in response.text


def test_a_client_certificate_of_another_ca_fails_the_handshake(two_ports, tmp_path):
    """The TLS layer verifies a presented certificate against the demo CA: one that another
    CA issued ends the handshake (alert "unknown ca"), before any HTTP, so no SEC00011
    and no log row: the hub never learns what was asked."""
    other_key, other_ca = pki.make_ca("another CA")
    key, cert = pki.issue(other_key, other_ca, "CPAS de Namur", "CPAS de Namur", "0207312061")
    pki.write_key(tmp_path / "namur.key", key)
    pki.write_cert(tmp_path / "namur.crt", cert)
    foreign = (str(tmp_path / "namur.crt"), str(tmp_path / "namur.key"))
    assert "unknown ca" in tls12_handshake(two_ports, foreign).lower()
    with pytest.raises(requests.exceptions.ConnectionError):  # TLS 1.3: see tls12_handshake
        post(https_endpoint(two_ports), request_envelope(), verify=ca_of(two_ports),
             cert=foreign)


def test_an_expired_client_certificate_fails_the_handshake(two_ports):
    """Expired, though the demo CA issued it and an institution registered it: OpenSSL's
    verification checks the validity period, so the handshake ends (alert "certificate
    expired") and the hub's own SEC00005 check is never reached over TLS."""
    expired = cert(two_ports.settings, "test-namur-expired")
    assert "certificate expired" in tls12_handshake(two_ports, expired).lower()
    with pytest.raises(requests.exceptions.ConnectionError):
        post(https_endpoint(two_ports), request_envelope(), verify=ca_of(two_ports),
             cert=expired)


def tls12_handshake(hub, client_cert):
    """Shake hands with the HTTPS port in TLS 1.2, presenting `client_cert` (crt, key): the
    error's text, or "" if the handshake succeeds. In TLS 1.2 the server's verdict on a
    client certificate arrives within the handshake; in TLS 1.3 (what requests speaks) it
    comes after, so the client may see only the connection closing (EOF), not the alert."""
    context = ssl.create_default_context(cafile=ca_of(hub))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(*client_cert)
    port = int(hub.https_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            context.wrap_socket(sock, server_hostname="127.0.0.1").close()
        except (ssl.SSLError, ConnectionError) as exc:
            return str(exc)
    return ""


def ca_of(hub):
    return str(hub.settings.certs_dir / "ca.crt")


def test_refused_handshakes_leave_the_hub_serving_and_quiet(two_ports):
    """(Runs after the refused handshakes above.)"""
    proxy, _ = hub_client(two_ports.settings, "TestConnectionService", "cpas-namur")
    assert proxy.sendTestMessage(echo="still here").echo == "still here"
    assert "Traceback" not in two_ports.stderr()


def https_endpoint(hub, service="TestConnectionService"):
    return hub.endpoint(service).replace(hub.url, hub.https_url)
