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
def echo_server(tmp_path):
    """start(*args) runs an echo server and returns its URL; start.stderr() is what the
    last one started wrote to its standard error so far."""
    procs = []

    def start(*args):
        path = tmp_path / ("echo-%d.stderr" % len(procs))
        with open(path, "w") as stderr:
            proc = subprocess.Popen([sys.executable, str(SERVER), *args],
                                    stdout=subprocess.PIPE, stderr=stderr, text=True)
        procs.append(proc)
        start.stderr = path.read_text
        return "http://127.0.0.1:%s/" % proc.stdout.readline().strip()

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def post(url, operation="echo", timeout=10):
    return requests.post(url, data=ECHO.replace("e:echo>", "e:%s>" % operation),
                         headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=timeout)


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


def test_a_reply_nobody_waits_for_any_more_is_dropped_quietly(echo_server):
    """The hub gives up on a slow source and closes the connection: the source must not
    write its reply (and log tracebacks) to the lost connection."""
    def abandon(url):
        for operation in ("slow", "slow_refusal"):  # each answers after a second
            with pytest.raises(requests.Timeout):
                post(url, operation, timeout=0.2)
        # A caller that waits is still answered, and by then both abandoned requests
        # (started earlier, each a second long) have been dealt with.
        reply = post(url, "slow")
        assert reply.status_code == 200 and b"<tns:slowResult>hi<" in reply.content

    abandon(echo_server("--unpatch", "disconnect_guards"))
    noisy = echo_server.stderr()
    assert "'NoneType' object has no attribute 'registerProducer'" in noisy
    assert "Request.finish called on a request after its connection was lost" in noisy
    assert noisy.count("Traceback") >= 3
    url = echo_server()
    abandon(url)
    assert echo_server.stderr() == ""
    refused = post(url, "slow_refusal")  # a caller that waits gets the fault
    assert refused.status_code == 500 and b"TEST0001" in refused.content


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


# -- RecordSoap11: the same XML as Soap11, on every reply the sources publish ---------------

def _source_applications():
    from spyne import Application
    from spyne.protocol.soap import Soap11

    from kszws.compat.spyne import RecordSoap11
    from kszws.sources.employer_directory import service as employers
    from kszws.sources.national_register import service as register
    from kszws.sources.pension_cadastre import service as pensions

    for module, args in ((register, (None,)), (employers, (None,)), (pensions, (None, None))):
        services = [module.service(*args)]
        yield (Application(services, tns=module.NS, name="a", out_protocol=Soap11()),
               Application(services, tns=module.NS, name="b", out_protocol=RecordSoap11()))


APPLICATIONS = list(_source_applications())
REPLIES = [(plain, fast, method.out_message)
           for plain, fast in APPLICATIONS
           for method in plain.interface.service_method_map.values()
           for method in method[:1]]


def _values(member):
    """A strategy for the values spyne would serialise for `member` (None included)."""
    from hypothesis import strategies as st

    one = _one(member)
    if one is None:
        return st.none()
    if member.Attributes.max_occurs > 1:
        one = st.lists(one, max_size=3)
    return st.one_of(st.none(), one)


def _one(member):
    """A strategy for one value of `member` (None when it is not one generated here)."""
    from hypothesis import strategies as st
    from spyne import Boolean, ComplexModelBase, DateTime, Integer, Unicode

    if issubclass(member, Boolean):
        one = st.booleans()
    elif issubclass(member, Integer):
        one = st.integers(-10**12, 10**12)
    elif issubclass(member, Unicode):
        # XML 1.0 text: no control characters, no surrogates.
        one = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
    elif issubclass(member, DateTime):
        one = st.datetimes()
    elif issubclass(member, ComplexModelBase) and getattr(member.Attributes, "_wrapper", False):
        (inner,) = member._type_info.values()  # an array: of records or of simple values
        one = st.lists(_one(inner), max_size=3)
    elif issubclass(member, ComplexModelBase):
        one = _records(member)
    else:
        return None
    return one


def _records(cls):
    from hypothesis import strategies as st

    return st.fixed_dictionaries({k: st.deferred(lambda m=m: _values(m))
                                  for k, m in cls._type_info.items()}).map(lambda kw: cls(**kw))


def _xml(app, cls, inst):
    root = etree.Element("root")
    app.out_protocol.to_parent(None, cls, inst, root, cls.get_namespace(), cls.get_type_name())
    return etree.tostring(root)


@pytest.mark.parametrize("plain, fast, cls", REPLIES,
                         ids=[c.get_type_name() for _, _, c in REPLIES])
def test_record_serialiser_writes_what_spyne_writes(plain, fast, cls):
    from hypothesis import given, settings

    @settings(max_examples=60, deadline=None)
    @given(_records(cls))
    def same(inst):
        assert _xml(fast, cls, inst) == _xml(plain, cls, inst)

    same()


def test_record_serialiser_takes_its_short_cut_on_the_sources_records():
    from kszws.sources.national_register import service as register

    fast = APPLICATIONS[0][1].out_protocol
    for cls in (register.ConsultPersonResult, register.Person, register.Address):
        assert fast._plan(cls) is not None, cls
    assert all(fast._plan(cls) is not None for _, f, cls in REPLIES[:3])


def test_plain_builds_what_spyne_builds():
    """compat.spyne.plain(cls, **fields) gives the instance cls(**fields) gives (every
    member, None where not given) for the records the National Register builds with it,
    and leaves a class with a default member to spyne."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from spyne import ComplexModel, Integer

    from kszws.compat.spyne import plain
    from kszws.sources.national_register import service as register

    spyne_app = APPLICATIONS[0][0]
    for cls in (register.Person, register.Address, register.HouseholdMember,
                register.LangName):
        fields = st.fixed_dictionaries({}, optional={
            k: st.deferred(lambda m=m: _values(m)) for k, m in cls._type_info.items()})

        @settings(max_examples=40, deadline=None)
        @given(fields)
        def same(kw):
            ours, theirs = plain(cls, **kw), cls(**kw)
            assert type(ours) is cls and vars(ours) == vars(theirs)
            assert _xml(spyne_app, cls, ours) == _xml(spyne_app, cls, theirs)

        same()

    class Counted(ComplexModel):
        count = Integer(default=7)

    assert plain(Counted).count == 7
