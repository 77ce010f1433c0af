"""Each spyne 2.14 shim of kszws/compat/spyne.py, with the defect it fixes shown on spyne's
own code (restored from shims.ORIGINALS) over real HTTP."""
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from lxml import etree

SERVER = Path(__file__).with_name("spyne_echo_server.py")
ECHO = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:e="urn:kszws:test:echo"><s:Body><e:echo><e:text>hi</e:text></e:echo>'
        '</s:Body></s:Envelope>')


@pytest.fixture
def echo_server():
    procs = []

    def start(*args):
        proc = subprocess.Popen([sys.executable, str(SERVER), *args], stdout=subprocess.PIPE,
                                text=True)
        procs.append(proc)
        return "http://127.0.0.1:%s/" % proc.stdout.readline().strip()

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def post(url):
    return requests.post(url, data=ECHO, headers={"Content-Type": "text/xml; charset=utf-8"},
                         timeout=10)


def test_twisted_python_constants_alias():
    # Without the shim spyne's Twisted transport does not import on Twisted >= 24.11.
    bare = subprocess.run([sys.executable, "-c", "import spyne.server.twisted"],
                          capture_output=True, text=True)
    assert bare.returncode != 0 and "twisted.python.constants" in bare.stderr
    shimmed = subprocess.run([sys.executable, "-c", "import kszws.compat.spyne; "
                              "import spyne.server.twisted"], capture_output=True, text=True)
    assert shimmed.returncode == 0, shimmed.stderr


def test_soap_post_answers_instead_of_405(echo_server):
    assert post(echo_server("--unpatch", "get_request_method")).status_code == 405
    reply = post(echo_server())
    assert reply.status_code == 200
    assert etree.fromstring(reply.content).findtext(".//{urn:kszws:test:echo}echoResult") == "hi"


def test_get_wsdl_answers_with_the_right_address(echo_server):
    broken = requests.get(echo_server("--unpatch", "_reconstruct_url") + "?wsdl", timeout=10)
    assert broken.status_code == 500
    url = echo_server()
    wsdl = etree.fromstring(requests.get(url + "?wsdl", timeout=10).content)
    address = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == url


def test_closing_a_context_does_not_force_a_full_collection():
    import gc

    import spyne.context
    from spyne import Application, MethodContext, ServiceBase, Unicode, const, rpc
    from spyne.protocol.soap import Soap11
    from spyne.server import ServerBase

    import kszws.compat.spyne as shims

    class Ping(ServiceBase):
        @rpc(_returns=Unicode)
        def ping(ctx):
            return "pong"

    server = ServerBase(Application([Ping], tns="urn:kszws:test:ping", in_protocol=Soap11(),
                                    out_protocol=Soap11()))
    full = []

    def count(phase, info):
        if phase == "start" and info["generation"] == 2:
            full.append(info)

    def close_one():
        spyne.context._LAST_GC_RUN = 0  # "more than a second ago"
        MethodContext(server, MethodContext.SERVER).close()

    gc.callbacks.append(count)
    try:
        const.MIN_GC_INTERVAL = shims.ORIGINALS[(const, "MIN_GC_INTERVAL")]  # spyne's own
        close_one()
        assert len(full) == 1, "spyne forces a full collection when a context closes"
        shims.install()
        assert const.MIN_GC_INTERVAL == float("inf")
        close_one()
        assert len(full) == 1, "with the shim it does not"
    finally:
        gc.callbacks.remove(count)
        shims.install()
