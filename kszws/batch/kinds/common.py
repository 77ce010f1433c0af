"""What the batch types share: the namespaces' element names, a file's context, the
record schemas (xsd/Batch/{TYPE}.xsd)."""
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from kszws import ids
from kszws.batch.intake import BATCH_NS
from kszws.batch.processing import RESULT_NS

XSD = Path(__file__).resolve().parents[3] / "xsd" / "Batch"


def b(local):
    """An element name of the input files."""
    return "{%s}%s" % (BATCH_NS, local)


def r(local):
    """An element name of the result files."""
    return "{%s}%s" % (RESULT_NS, local)


def text(parent, local, value):
    """A result element holding `value`, unless there is none."""
    if value not in (None, ""):
        etree.SubElement(parent, r(local)).text = str(value)


def schema(type_):
    """The XML schema of one record of a type."""
    return etree.XMLSchema(etree.parse(str(XSD / ("%s.xsd" % type_))))


def first_error(schema):
    error = schema.error_log.last_error
    return (error.message if error is not None else "not valid")[:200]


@dataclass
class Context:
    """What a file's records share, read once from its header."""
    legal_context: str
    decision: object  # hub.access.Decision for the file's caller, service and groups


def named(raw):
    """The SSIN a refused record names, as the online twins log it: {ssin}, or none."""
    try:
        return {ids.ssin(raw)}
    except ids.InvalidIdentifier:
        return set()
