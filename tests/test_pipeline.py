"""The hub pipeline in process (hub/pipeline.py), its collaborators replaced where a test
must hold them: the exchange log (a Deferred the test fires), the replay cache, the clock.
What is checked: no reply before its log row; the order of the checks and each refusal's
code and HTTP status; what the exchange row records; which replies are signed."""
import base64
import datetime

import pytest
from lxml import etree
from twisted.internet import defer

from kszws.hub.pipeline import Hub, Reply
from kszws.hub.validation import SchemaCatalogue
from kszws.registry import load_registry
from kszws.security import wsse
from kszws.security.authn import Authenticator, Transport, build_trust_store
from kszws.security.credentials import Credentials
from kszws.security.keystore import TrustStore, load_certificate, load_signing_identity
from kszws.services import ENDPOINTS, EndpointContext
from kszws.wire import soap, xmlparse
from kszws.wire.ns import SOAP11, q
from kszws.wire.reasons import Refusal
from tests.netfixture import make_project
from tests.soaptools import identity, request_envelope, sign_custom

NOW = None  # the module's fixed clock, set when its project is made (see below)


class HeldLog:
    """An exchange log whose writes the test completes (or fails) by hand."""

    def __init__(self):
        self.pending = []  # (exchange, Deferred)

    def record(self, exchange):
        d = defer.Deferred()
        self.pending.append((exchange, d))
        return d

    def commit(self, seq=1):
        exchange, d = self.pending.pop(0)
        d.callback(seq)
        return exchange

    def fail(self):
        exchange, d = self.pending.pop(0)
        d.errback(RuntimeError("disk full"))
        return exchange


class Replays:
    def __init__(self):
        self.seen = set()
        self.until = []

    def claim(self, token, until):
        new = token not in self.seen
        self.seen.add(token)
        self.until.append(until)
        return defer.succeed(new)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    # The clock is fixed after the certificates are made: fixed at import, it fell before
    # their not-before when the suite took more than five minutes to reach this module.
    global NOW
    made = make_project(tmp_path_factory.mktemp("pipeline"))
    NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return made


@pytest.fixture(scope="module")
def parts(project):
    registry = load_registry(project)
    catalogue = SchemaCatalogue.from_files([s.wsdl for s in registry.services.values()],
                                           [s.accept for s in registry.services.values()
                                            if s.accept])
    context = EndpointContext(registry, lambda: NOW, dict.fromkeys(registry.sources),
                              project.project_root)
    service = registry.services["TestConnectionService"]
    endpoint = ENDPOINTS[service.implementation](service, context)
    authenticator = Authenticator(registry, build_trust_store(registry),
                                  Credentials(project.data_dir / "credentials.json"),
                                  wsse.Policy(), lambda: NOW)
    signer = load_signing_identity(registry.hub.certificates[0])
    return registry, catalogue, endpoint, authenticator, signer


@pytest.fixture
def hub(parts):
    registry, catalogue, endpoint, authenticator, signer = parts
    hub = Hub(authenticator, Replays(), HeldLog(), catalogue, signer, lambda: NOW,
              reply_ttl_seconds=120)
    hub.endpoint = endpoint
    return hub


def basic(project, institution="cpas-liege"):
    inst = load_registry(project).institutions[institution]
    password = (project.certs_dir / ("%s.password" % institution)).read_text().strip()
    return b"Basic " + base64.b64encode(("%s:%s" % (inst.basic_username, password)).encode())


def handle(hub, body, authorization=b"", content_type=b"text/xml; charset=utf-8"):
    """hub.handle's Deferred, and the list its result lands in."""
    if not isinstance(body, bytes):
        body = soap.serialize(body)
    got = []
    d = hub.handle(hub.endpoint, Transport(peer="127.0.0.1", authorization=authorization),
                   body, content_type)
    d.addCallback(got.append)
    return got


def answered(hub, *args, **kw):
    """Handle, let the log commit, return (reply, the logged exchange)."""
    got = handle(hub, *args, **kw)
    exchange = hub.exchange_log.commit()
    assert len(got) == 1
    return got[0], exchange


def reason_of(reply):
    return xmlparse.parse(reply.body).findtext(".//reasonCode")


def signed_by_hub(project, reply):
    root = xmlparse.parse(reply.body)
    header, body = soap.split_envelope(root)
    trust = TrustStore()
    trust.add(load_certificate(project.certs_dir / "kszws-hub.crt"), "hub")
    return wsse.verify(root, header, body, wsse.Policy(), trust, NOW)


def signed_request(project, echo="hello"):
    env = request_envelope(echo)
    sign_custom(env, identity(project, "cpas-eupen"), when=NOW)
    return env


# --- No reply before its log row -------------------------------------------------------------

def test_the_reply_waits_for_its_log_row(hub, project):
    got = handle(hub, request_envelope("held"), basic(project))
    assert got == [] and len(hub.exchange_log.pending) == 1
    assert hub.in_flight == 1
    exchange = hub.exchange_log.commit()
    assert got[0].status == 200 and b"held" in got[0].body
    assert hub.in_flight == 0
    assert (exchange.caller, exchange.auth_method, exchange.outcome) == (
        "cpas-liege", "basic", "OK")
    assert exchange.ticket == got[0].ticket and exchange.reply_size == len(got[0].body)
    assert exchange.replied_at == NOW and exchange.operation == "sendTestMessage"


def test_a_failed_log_write_withholds_the_reply(hub, project):
    got = handle(hub, request_envelope("secret"), basic(project))
    hub.exchange_log.fail()
    reply = got[0]
    assert reply.status == 503 and b"secret" not in reply.body
    root = xmlparse.parse(reply.body)
    assert root.findtext(".//faultcode") == "soapenv:Server"
    assert root.findtext(".//faultstring") == \
        "The exchange could not be logged; it was not processed."
    assert hub.in_flight == 0


def test_a_refusal_waits_for_its_log_row_too(hub):
    got = handle(hub, b"<broken")
    assert got == []
    exchange = hub.exchange_log.commit()
    assert reason_of(got[0]) == "XML00001" and exchange.outcome == "REFUSED"
    assert exchange.reason_code == "XML00001"


# --- The checks, their order, their codes ----------------------------------------------

@pytest.mark.parametrize("content_type, code", [
    (b"application/soap+xml", "HTTP0002"),
    (b"text/html", "HTTP0002"),
    (b"", "HTTP0002"),
    (b"TEXT/XML", None),
    (b"text/xml;charset=utf-8", None),
    (b" text/xml ; charset=utf-8", None),
])
def test_content_types(hub, project, content_type, code):
    reply, exchange = answered(hub, request_envelope(), basic(project), content_type)
    assert reason_of(reply) == code
    if code:
        assert reply.status == 415 and exchange.detail.startswith("Content-Type")


def test_the_content_type_is_checked_before_the_body_is_parsed(hub):
    reply, _ = answered(hub, b"<broken", content_type=b"application/json")
    assert reason_of(reply) == "HTTP0002"


def with_header(block, must_understand):
    env = request_envelope()
    header = env.find(soap.HEADER)
    element = etree.SubElement(header, block)
    if must_understand is not None:
        element.set(q(SOAP11, "mustUnderstand"), must_understand)
    return env


@pytest.mark.parametrize("value, code", [("1", "SOAP0003"), ("true", "SOAP0003"),
                                         ("0", None), ("false", None), (None, None)])
def test_must_understand(hub, project, value, code):
    reply, exchange = answered(hub, with_header("{urn:x}Routing", value), basic(project))
    assert reason_of(reply) == code
    if code:
        assert exchange.detail == "header {urn:x}Routing is not understood"
        assert xmlparse.parse(reply.body).findtext(".//faultcode") == "soapenv:MustUnderstand"


def test_must_understand_is_checked_before_the_caller(hub):
    reply, _ = answered(hub, with_header("{urn:x}Routing", "1"), b"Basic bad")
    assert reason_of(reply) == "SOAP0003"


def test_the_security_header_is_understood(hub, project):
    reply, exchange = answered(hub, signed_request(project))
    assert reason_of(reply) is None and exchange.signed_request
    assert exchange.auth_method == "signature" and exchange.caller == "cpas-eupen"


def test_anonymous_is_refused_with_401(hub):
    reply, exchange = answered(hub, request_envelope())
    assert (reply.status, reason_of(reply)) == (401, "SEC00001")
    assert exchange.caller is None and exchange.outcome == "REFUSED"


def test_a_replay_is_refused(hub, project):
    data = soap.serialize(signed_request(project))
    first, _ = answered(hub, data)
    second, exchange = answered(hub, data)
    assert reason_of(first) is None and reason_of(second) == "SEC00007"
    assert exchange.caller == "cpas-eupen"  # who replayed it is known and logged


def test_an_unknown_operation(hub, project):
    env = soap.envelope(etree.Element("{urn:x}notAnOperation"))
    reply, exchange = answered(hub, env, basic(project))
    assert reason_of(reply) == "SOAP0002" and "{urn:x}notAnOperation" in exchange.detail


def test_an_invalid_message(hub, project):
    env = request_envelope()
    env.find(".//echo").addnext(etree.Element("extra"))
    reply, exchange = answered(hub, env, basic(project))
    assert reason_of(reply) == "MSG00008" and exchange.outcome == "REFUSED"


def test_an_internal_error_is_a_server_fault_with_the_ticket(hub, project, monkeypatch):
    monkeypatch.setattr(hub.endpoint, "invoke", lambda root, exchange: defer.fail(
        KeyError("secret internals")))
    reply, exchange = answered(hub, request_envelope(), basic(project))
    assert reason_of(reply) == "MSG00003" and reply.status == 500
    assert b"secret internals" not in reply.body and exchange.ticket.encode() in reply.body
    assert exchange.outcome == "ERROR"


def test_an_error_before_the_pipeline_runs_is_a_server_fault(hub, project, monkeypatch):
    def broken(*args):
        raise ZeroDivisionError("in admission")
    monkeypatch.setattr(hub.authenticator, "identify", broken)
    reply, exchange = answered(hub, request_envelope(), basic(project))
    assert reason_of(reply) == "MSG00003" and exchange.outcome == "ERROR"


def test_refuse_without_a_body(hub):
    got = []
    hub.refuse(hub.endpoint, Transport(peer="10.0.0.1"), "HTTP0003", request_size=123).addCallback(
        got.append)
    exchange = hub.exchange_log.commit()
    assert (got[0].status, reason_of(got[0])) == (413, "HTTP0003")
    assert exchange.request_size == 123 and exchange.peer == "10.0.0.1"
    assert exchange.service == "TestConnectionService"


# --- Signing ------------------------------------------------------------------------------

def test_every_fault_is_signed_with_the_reply_ttl(hub, project):
    reply, exchange = answered(hub, b"<broken")
    signed_by_hub(project, reply)
    assert exchange.signed_reply
    root = xmlparse.parse(reply.body)
    created = root.findtext(".//{%s}Created" % wsse.WSU)
    expires = root.findtext(".//{%s}Expires" % wsse.WSU)
    assert (wsse.parse_xsd_datetime(expires) - wsse.parse_xsd_datetime(created)) == \
        datetime.timedelta(seconds=120)


def test_a_reply_is_signed_when_the_institution_wants_it(hub, project):
    reply, exchange = answered(hub, signed_request(project))
    signed_by_hub(project, reply)
    assert exchange.signed_reply


def test_a_reply_is_unsigned_when_neither_the_institution_nor_the_service_wants_it(
        hub, project):
    assert not load_registry(project).institutions["cpas-liege"].sign_replies
    reply, exchange = answered(hub, request_envelope(), basic(project))
    assert not wsse.security_headers(xmlparse.parse(reply.body))
    assert not exchange.signed_reply and not exchange.signed_request


def test_a_signed_service_signs_every_reply(hub, project, monkeypatch):
    monkeypatch.setattr(hub.endpoint, "service", hub.endpoint.service.__class__(
        **{**hub.endpoint.service.__dict__, "signed": True}))
    reply, _ = answered(hub, signed_request(project))
    signed_by_hub(project, reply)


def test_reply_is_a_frozen_record():
    reply = Reply(200, b"x", "t")
    with pytest.raises(Exception):
        reply.status = 500


def test_a_fault_that_cannot_be_built_becomes_the_internal_error_fault(hub, monkeypatch):
    original = hub.endpoint.fault_detail

    def broken(refusal, exchange):
        if refusal.code != "MSG00003":
            raise ValueError("an endpoint's detail gone wrong")
        return original(refusal, exchange)
    monkeypatch.setattr(hub.endpoint, "fault_detail", broken)
    reply, exchange = answered(hub, b"<broken")
    assert reason_of(reply) == "MSG00003" and exchange.reason_code == "MSG00003"


# --- What the row and the server log keep -------------------------------------------------

def test_the_request_size_is_recorded(hub, project):
    body = soap.serialize(request_envelope("sized"))
    _, exchange = answered(hub, body, basic(project))
    assert exchange.request_size == len(body)


def test_a_refusal_without_a_body_keeps_its_detail(hub):
    got = []
    hub.refuse(hub.endpoint, Transport(), "HTTP0001", "method GET").addCallback(got.append)
    exchange = hub.exchange_log.commit()
    assert exchange.detail == "method GET" and exchange.request_size == 0


def test_two_signed_requests_are_two_claims(hub, project):
    first, _ = answered(hub, signed_request(project, "one"))
    second, _ = answered(hub, signed_request(project, "two"))
    assert reason_of(first) is None and reason_of(second) is None
    assert len(hub.replay.seen) == 2
    # kept until the Timestamp could no longer pass: Expires (NOW + 300 s) + the skew
    assert hub.replay.until == [NOW + datetime.timedelta(seconds=600)] * 2


def test_the_reply_time_is_the_operation_s_own(parts, project):
    """The endpoint stamps its reply (timestampReply); the pipeline must not stamp it anew."""
    registry, catalogue, endpoint, authenticator, signer = parts
    ticks = iter(NOW + datetime.timedelta(seconds=s) for s in range(100))
    hub = Hub(authenticator, Replays(), HeldLog(), catalogue, signer, lambda: next(ticks))
    got = []
    hub.handle(endpoint, Transport(authorization=basic(project)),
               soap.serialize(request_envelope()), b"text/xml").addCallback(got.append)
    exchange = hub.exchange_log.commit()
    stamped = xmlparse.parse(got[0].body).findtext(".//timestampReply")
    assert wsse.parse_xsd_datetime(stamped.replace("Z", "+00:00")) == exchange.replied_at


def test_an_internal_error_goes_to_the_server_log_with_its_ticket(hub, project, monkeypatch,
                                                                  caplog):
    monkeypatch.setattr(hub.endpoint, "invoke", lambda root, exchange: defer.fail(
        KeyError("secret internals")))
    with caplog.at_level("ERROR", logger="kszws.hub.pipeline"):
        reply, exchange = answered(hub, request_envelope(), basic(project))
    assert exchange.detail == "internal error (ticket %s)" % exchange.ticket
    record, = caplog.records
    assert exchange.ticket in record.getMessage() and "TestConnectionService" in \
        record.getMessage()
    assert record.exc_info and record.exc_info[0] is KeyError  # the traceback, for us only


def test_a_failed_log_write_is_reported_with_its_ticket(hub, project, caplog):
    got = handle(hub, request_envelope(), basic(project))
    with caplog.at_level("ERROR", logger="kszws.hub.pipeline"):
        exchange = hub.exchange_log.fail()
    assert got[0].ticket == exchange.ticket
    message = caplog.records[0].getMessage()
    assert exchange.ticket in message and "disk full" in message


# --- what the exchange records, exactly (mutation survivors of hub/pipeline.py) -------------

def test_a_signed_call_records_its_certificate_subject_and_institution(hub, project, parts):
    registry = parts[0]
    reply, exchange = answered(hub, signed_request(project))
    assert reply.status == 200
    assert exchange.institution is registry.institutions["cpas-eupen"]
    assert exchange.certificate_subject == load_certificate(
        project.certs_dir / "cpas-eupen.crt").subject


def test_replies_live_300_seconds_unless_configured(parts, project):
    registry, catalogue, endpoint, authenticator, signer = parts
    default = Hub(authenticator, Replays(), HeldLog(), catalogue, signer, lambda: NOW)
    default.endpoint = endpoint
    reply, _ = answered(default, b"<broken")
    root = xmlparse.parse(reply.body)
    lifetime = wsse.parse_xsd_datetime(root.findtext(".//{%s}Expires" % wsse.WSU)) - \
        wsse.parse_xsd_datetime(root.findtext(".//{%s}Created" % wsse.WSU))
    assert lifetime == datetime.timedelta(seconds=300)


def test_a_wrong_content_type_is_quoted_up_to_64_characters(hub):
    content_type = b"application/" + b"x" * 100
    _, exchange = answered(hub, b"<a/>", content_type=content_type)
    assert exchange.detail == "Content-Type %r" % content_type[:64].decode()


def test_exchanges_in_flight_are_counted_one_by_one(hub, project):
    handle(hub, request_envelope("one"), basic(project))
    handle(hub, request_envelope("two"), basic(project))
    assert hub.in_flight == 2
    hub.exchange_log.commit()
    assert hub.in_flight == 1
    hub.exchange_log.commit()
    assert hub.in_flight == 0


def test_an_endpoint_may_make_its_own_tickets(hub, project):
    hub.endpoint.new_ticket = lambda: "OWN-TICKET-1"
    try:
        reply, exchange = answered(hub, request_envelope(), basic(project))
    finally:
        del hub.endpoint.new_ticket
    assert exchange.ticket == reply.ticket == "OWN-TICKET-1"


def test_a_fault_carries_the_reasons_diagnostic_size_and_ticket(hub):
    from kszws.wire.reasons import REASONS
    reply, exchange = answered(hub, b"<broken")
    root = xmlparse.parse(reply.body)
    assert root.findtext(".//faultstring") == REASONS["XML00001"].diagnostic
    assert exchange.reply_size == len(reply.body) and reply.ticket == exchange.ticket


def test_the_refusal_details_name_what_was_wrong(hub, project):
    env = soap.envelope(etree.Element("{urn:x}notAnOperation"))
    _, exchange = answered(hub, env, basic(project))
    assert exchange.detail == "no operation takes {urn:x}notAnOperation"
    env = request_envelope()
    env.find(".//echo").addnext(etree.Element("extra"))
    _, exchange = answered(hub, env, basic(project))
    assert exchange.reason_code == "MSG00008" and "extra" in exchange.detail
