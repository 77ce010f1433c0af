"""Parsing hostile XML safely.

Every byte that reaches the hub from outside goes through `parse()`. The parser never
loads a DTD, never resolves an entity, never touches the network, keeps libxml2's
default depth and size limits (no `huge_tree`), and any document type declaration is
refused outright, so entity-expansion bombs and XXE have nothing to work with.
"""
import threading

from lxml import etree

from kszws.wire.reasons import Refusal

_local = threading.local()


def _parser():
    # lxml parsers are not thread-safe: one per thread (the reactor thread in practice).
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            huge_tree=False,
            remove_comments=False,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def parse(data):
    """Parse bytes into an element; raise Refusal with an XML00xxx code."""
    if not isinstance(data, bytes):
        raise TypeError("parse() takes bytes")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise Refusal(_classify(str(exc)), _first_line(exc)) from None
    except ValueError as exc:  # e.g. an encoding lxml refuses
        raise Refusal("XML00004", _first_line(exc)) from None
    if root is None:
        raise Refusal("XML00001", "empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise Refusal("XML00002", "document type declaration present")
    return root


def _first_line(exc):
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _classify(message):
    text = message.lower()
    if "entity" in text or "doctype" in text or "dtd" in text:
        return "XML00002"
    if "depth" in text or "huge" in text or "too large" in text or "limit" in text:
        return "XML00003"
    if "encoding" in text or "utf-8" in text or "char 0x" in text or "bytes:" in text:
        return "XML00004"
    return "XML00001"
