"""Every endpoint serves its published WSDL (wsdl/), address and schema locations aside;
the National Register source serves exactly the WSDL published for it."""
import requests
from lxml import etree

from kszws.registry import load_registry
from kszws.services.publish import PublishedContract

SOAP_ADDRESS = "{http://schemas.xmlsoap.org/wsdl/soap/}address"


def _without_locations(xml):
    root = etree.fromstring(xml)
    for elt in root.iter():
        for attr in ("location", "schemaLocation"):
            elt.attrib.pop(attr, None)
    return etree.tostring(root, method="c14n")


XS = "{http://www.w3.org/2001/XMLSchema}"


def _normalized(xml):
    """A generated WSDL without locations, each schema's declarations in a fixed order:
    Spyne writes them in an order that may change from run to run (it keeps them in sets)."""
    root = etree.fromstring(_without_locations(xml))
    for schema in root.iter(XS + "schema"):
        for child in sorted(schema, key=lambda c: etree.tostring(c, method="c14n")):
            schema.append(child)
    return etree.tostring(root, method="c14n")


def test_hub_endpoints_serve_their_published_wsdl(classic_net):
    for service in load_registry(classic_net.settings).services.values():
        url = classic_net.url + service.path
        served = requests.get(url + "?wsdl", timeout=10).content
        assert served == PublishedContract(service.wsdl).wsdl(url), service.name
        with open(service.wsdl, "rb") as fh:
            assert _without_locations(served) == _without_locations(fh.read()), service.name


def test_source_serves_the_published_wsdl(classic_net):
    source = load_registry(classic_net.settings).sources["national-register"]
    served = requests.get(source.url + "?wsdl", timeout=10).content
    with open(source.wsdl, "rb") as fh:
        published = fh.read()
    assert _normalized(served) == _normalized(published), (
        "the National Register source's WSDL changed: regenerate wsdl/NationalRegisterSource.wsdl "
        "with `kszws source national-register --wsdl`")


def test_the_rewrite_cache_stays_bounded_whatever_hosts_clients_name():
    """The address comes from the client (Host, X-Forwarded-Host): 2,000 invented hosts
    must not keep 2,000 rewritten WSDLs in the worker."""
    from pathlib import Path

    from kszws.services import publish

    contract = PublishedContract(Path(__file__).resolve().parents[1] / "wsdl" /
                                 "TestConnectionService.wsdl")
    for i in range(2000):
        url = "http://host-%d.example/x" % i
        assert url.encode() in contract.wsdl(url)
    assert len(contract._cache) == publish.CACHED


def test_a_forwarded_port_that_is_not_ascii_digits_is_ignored():
    from kszws.httputil import public_url

    class Request:
        path = uri = b"/p"

        def __init__(self, port):
            self.headers = {b"x-forwarded-port": port}

        def getHeader(self, name):
            return self.headers.get(name)

        def getRequestHostname(self):
            return b"hub.example"

        def isSecure(self):
            return False

        def getHost(self):
            return type("Address", (), {"port": 8080})()

    assert public_url(Request("\u00b2".encode("latin-1"))) == "http://hub.example:8080/p"
    assert public_url(Request(b"99999")) == "http://hub.example:8080/p"
    assert public_url(Request(b"8443")) == "http://hub.example:8443/p"
