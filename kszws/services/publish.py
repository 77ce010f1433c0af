"""Serving the published contracts: the WSDL of wsdl/ and the XSDs it imports.

Clients (SoapUI, zeep, suds, PHP) fetch `<endpoint>?wsdl` and then each schema it imports.
The hub serves the published files themselves, with two rewrites only: soap:address points
at the URL the client used, and every schemaLocation at `<endpoint>?xsd=<name>`.
"""
from collections import OrderedDict
from pathlib import Path

from lxml import etree

XSD = "http://www.w3.org/2001/XMLSchema"
# The URL comes from the client (Host, X-Forwarded-*): a cache per URL must stay bounded, or
# one client naming a new host per request grows the worker without end.
CACHED = 64
SOAP_ADDRESS = "{http://schemas.xmlsoap.org/wsdl/soap/}address"
_LOCATED = ("{%s}import" % XSD, "{%s}include" % XSD, "{%s}redefine" % XSD)


class PublishedContract:
    def __init__(self, wsdl_path):
        self.wsdl_path = Path(wsdl_path).resolve()
        self._wsdl = etree.parse(str(self.wsdl_path))
        self._schemas = {}  # flat name -> (path, parsed tree)
        self._names = {}  # resolved path -> flat name
        self._collect(self._wsdl, self.wsdl_path)
        self._cache = OrderedDict()  # the newest CACHED rewrites, by (document, URL)

    def _collect(self, tree, base):
        for elt in tree.iter(*_LOCATED):
            location = elt.get("schemaLocation")
            if not location or "://" in location:
                continue
            path = (base.parent / location).resolve()
            if path in self._names:
                continue
            name = path.name
            if name in self._schemas:
                raise ValueError("%s: two schemas named %s" % (self.wsdl_path, name))
            self._names[path] = name
            self._schemas[name] = (path, etree.parse(str(path)))
            self._collect(self._schemas[name][1], path)

    @property
    def schema_names(self):
        return sorted(self._schemas)

    def wsdl(self, endpoint_url):
        def build():
            tree = _copy(self._wsdl)
            for address in tree.iter(SOAP_ADDRESS):
                address.set("location", endpoint_url)
            self._relocate(tree, self.wsdl_path, endpoint_url)
            return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
        return self._cached(("wsdl", endpoint_url), build)

    def xsd(self, name, endpoint_url):
        """The schema `name` with its own imports relocated, or None if not published."""
        if name not in self._schemas:
            return None
        def build():
            path, tree = self._schemas[name]
            tree = _copy(tree)
            self._relocate(tree, path, endpoint_url)
            return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
        return self._cached((name, endpoint_url), build)

    def _cached(self, key, build):
        if key in self._cache:
            self._cache.move_to_end(key)
        else:
            self._cache[key] = build()
            if len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        return self._cache[key]

    def _relocate(self, tree, base, endpoint_url):
        for elt in tree.iter(*_LOCATED):
            location = elt.get("schemaLocation")
            if location and "://" not in location:
                name = self._names[(base.parent / location).resolve()]
                elt.set("schemaLocation", "%s?xsd=%s" % (endpoint_url, name))


def _copy(tree):
    return etree.ElementTree(etree.fromstring(etree.tostring(tree)))
