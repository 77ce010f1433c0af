"""The hub's transport to the sources (hub/routing.KeepAliveTransport): one connection kept
open, replaced when the source closed it while idle, failures raised as requests'
exceptions (which become SRC00001)."""
import http.server
import socket
import threading
import time

import pytest
import requests

from kszws.hub.routing import KeepAliveTransport
from kszws.wire.reasons import Refusal


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server.requests.append((self.client_address, self.headers.get("SOAPAction"), body))
        time.sleep(server.delay)
        reply = server.reply or b"<ok>" + body + b"</ok>"
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
        # A source closing an idle connection without saying so.
        self.close_connection = server.drop_after_reply

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.requests, srv.delay, srv.drop_after_reply, srv.reply = [], 0.0, False, None
    srv.handle_error = lambda *_: None  # a client that gave up: nothing to report
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(srv):
    return "http://127.0.0.1:%d/source/path" % srv.server_address[1]


def post(transport, srv, body=b"x"):
    return transport.post(url(srv), body, {"SOAPAction": '"op"',
                                           "Content-Type": "text/xml; charset=utf-8"})


def test_one_connection_for_many_calls(server):
    transport = KeepAliveTransport(timeout=5)
    replies = [post(transport, server, b"%d" % i) for i in range(5)]
    assert [r.content for r in replies] == [b"<ok>%d</ok>" % i for i in range(5)]
    assert all(r.status_code == 200 for r in replies)
    assert replies[0].headers.get("content-type") == "text/xml; charset=utf-8"
    assert len({peer for peer, _, _ in server.requests}) == 1
    assert {action for _, action, _ in server.requests} == {'"op"'}


def test_a_connection_the_source_dropped_is_replaced(server):
    transport = KeepAliveTransport(timeout=5)
    server.drop_after_reply = True
    first = post(transport, server, b"1")
    time.sleep(0.2)  # the server has closed its end by now
    second = post(transport, server, b"2")
    assert (first.content, second.content) == (b"<ok>1</ok>", b"<ok>2</ok>")
    assert len({peer for peer, _, _ in server.requests}) == 2


def test_a_slow_source_times_out(server):
    server.delay = 1.0
    with pytest.raises(requests.Timeout):
        post(KeepAliveTransport(timeout=0.3), server)


def test_an_unreachable_source():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here once closed
    with pytest.raises(requests.ConnectionError):
        KeepAliveTransport(timeout=2).post("http://127.0.0.1:%d/x" % port, b"x", {})


@pytest.fixture
def tls_server(server, tmp_path):
    """The same server behind TLS, its certificate (for localhost) from a fresh CA."""
    import ssl

    from kszws.security import pki

    ca_key, ca = pki.make_ca()
    key, cert = pki.issue(ca_key, ca, "source", dns_names=("localhost",))
    pki.write_key(tmp_path / "source.key", key)
    pki.write_cert(tmp_path / "source.crt", cert)
    pki.write_cert(tmp_path / "ca.crt", ca)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "source.crt", tmp_path / "source.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server, tmp_path / "ca.crt"


def tls_url(srv):
    return "https://localhost:%d/source/path" % srv.server_address[1]


def test_tls_source_whose_certificate_is_not_trusted_is_refused(tls_server):
    srv, _ = tls_server
    with pytest.raises(requests.ConnectionError) as refused:
        KeepAliveTransport(timeout=5).post(tls_url(srv), b"x", {})
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    assert not srv.requests


def test_tls_source_with_a_trusted_certificate(tls_server, monkeypatch):
    import certifi

    srv, ca = tls_server
    monkeypatch.setattr(certifi, "where", lambda: str(ca))  # as if a public CA had issued it
    transport = KeepAliveTransport(timeout=5)
    replies = [transport.post(tls_url(srv), b"%d" % i, {}) for i in range(3)]
    assert [r.content for r in replies] == [b"<ok>0</ok>", b"<ok>1</ok>", b"<ok>2</ok>"]
    assert len({peer for peer, _, _ in srv.requests}) == 1


@pytest.mark.parametrize("reply", [
    b'<!DOCTYPE x SYSTEM "/etc/passwd"><ok/>',
    b'<!DOCTYPE x SYSTEM "/etc/passwd"><ok><broken></ok>',  # a declaration, then an error
    b'<?xml version="1.0" encoding="UTF-7"?>+ADw-ok/+AD4-',
    b'<?xml-stylesheet href="/etc/passwd"?><ok/>',
])
def test_a_reply_with_a_declaration_never_reaches_zeep(server, reply):
    """zeep's parser leaves file paths to libxml2: such a reply is refused first."""
    server.reply = reply
    with pytest.raises(Refusal) as info:
        post(KeepAliveTransport(timeout=5), server)
    assert info.value.code == "SRC00002"
