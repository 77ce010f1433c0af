"""Clients that never finish a request: a body trickled one byte a second (slowloris) is cut
off after the configured read timeout with a 408 fault and its log row, while other clients
are served; an HTTP request Twisted finds malformed (1,000 headers, a broken request line)
gets a fault and a log row instead of a bare 400."""
import socket
import threading
import time

import pytest
import requests

from tests.netfixture import Hub, make_project
from tests.soaptools import Answer, log_row, post, signed

READ_TIMEOUT = 3.0
MAX_CONNECTIONS = 30


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("slow"),
                            settings={"read_timeout_seconds": str(READ_TIMEOUT),
                                      "max_connections": str(MAX_CONNECTIONS)})
    hub = Hub(settings).start()
    yield hub
    hub.stop()


def connect(hub):
    host, port = hub.url.split("//")[1].split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def read_reply(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_a_trickled_body_is_cut_off_while_others_are_served(hub):
    path = "/SOA4520/TestConnectionServiceService/sendTestMessage"
    body = b"<soapenv:Envelope/>" * 10
    sock = connect(hub)
    sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                 b"Content-Length: %d\r\n\r\n" % (path.encode(), len(body)))
    stop = threading.Event()

    def trickle():
        for byte in body:
            if stop.is_set():
                return
            try:
                sock.send(bytes([byte]))
            except OSError:
                return
            time.sleep(1.0)

    started = time.monotonic()
    threading.Thread(target=trickle, daemon=True).start()
    served = 0
    while time.monotonic() - started < READ_TIMEOUT - 0.5:  # meanwhile, others are served
        answer = Answer(post(hub.endpoint(), signed(hub.settings, "cpas-eupen")), hub.settings)
        assert answer.fault is None
        served += 1
    reply = read_reply(sock)
    took = time.monotonic() - started
    stop.set()
    assert served >= 5
    assert READ_TIMEOUT - 0.5 < took < READ_TIMEOUT + 3, took
    head, _, envelope = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    answer = Answer(FakeResponse(408, envelope), hub.settings)
    assert answer.reason == "HTTP0004" and answer.signed
    row = log_row(hub.settings, answer.ticket)
    assert row["outcome"] == "REFUSED" and row["service"] == "TestConnectionService"


def test_a_slow_request_line_is_cut_off_too(hub):
    sock = connect(hub)
    started = time.monotonic()
    sock.sendall(b"PO")  # then nothing: the request line never ends
    reply = read_reply(sock)
    assert time.monotonic() - started < READ_TIMEOUT + 3
    answer = Answer(FakeResponse(408, reply.partition(b"\r\n\r\n")[2]), hub.settings)
    assert answer.reason == "HTTP0004"
    assert log_row(hub.settings, answer.ticket)["service"] == "-"


def test_a_connection_that_sends_nothing_is_closed_without_a_log_row(hub):
    sock = connect(hub)
    started = time.monotonic()
    assert read_reply(sock) == b""
    assert READ_TIMEOUT - 0.5 < time.monotonic() - started < READ_TIMEOUT + 3


def test_idle_sockets_cannot_use_up_the_worker(hub):
    """Beyond max_connections a new connection is closed at once; once the idle ones are
    gone (read deadline), the hub serves again."""
    idle = [connect(hub) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)
        try:
            extra = connect(hub)
            extra.settimeout(2)
            assert extra.recv(1) == b""  # closed by the hub without a word
        except ConnectionResetError:  # or reset (abortConnection), even while connecting
            pass
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.3)
    assert requests.get(hub.url + "/health", timeout=1).status_code == 200


@pytest.mark.parametrize("request_head", [
    b"POST /SOA4520/TestConnectionServiceService/sendTestMessage HTTP/1.1\r\nHost: x\r\n"
    + b"X-Long: " + b"a" * 20000 + b"\r\n\r\n",
    b"POST /SOA4520/TestConnectionServiceService/sendTestMessage HTTP/1.1\r\nHost: x\r\n"
    + b"".join(b"X-Flood-%d: %d\r\n" % (i, i) for i in range(1000)) + b"\r\n",
    b"NOT A REQUEST LINE\r\n\r\n",
])
def test_malformed_http_gets_a_fault_and_a_log_row(hub, request_head):
    sock = connect(hub)
    sock.sendall(request_head)
    head, _, envelope = read_reply(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    answer = Answer(FakeResponse(400, envelope), hub.settings)
    assert answer.reason == "HTTP0005" and answer.signed
    assert log_row(hub.settings, answer.ticket)["outcome"] == "REFUSED"
    assert requests.get(hub.url + "/health", timeout=1).status_code == 200


class FakeResponse:
    """What Answer reads of a requests response, for a reply read off a raw socket."""

    def __init__(self, status, content):
        self.status_code, self.content = status, content


def test_a_tls_handshake_on_the_plain_port_is_answered_at_once(hub):
    """`curl https://` to the plain-HTTP port: answered and closed, not left to hang until
    the read deadline."""
    import ssl

    sock = connect(hub)
    context = ssl.create_default_context()
    started = time.monotonic()
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        context.wrap_socket(sock, server_hostname="localhost")
    assert time.monotonic() - started < 2
