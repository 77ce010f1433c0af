"""Reading a source's large replies fast: a zeep type compiled, once, into a reader of its
XML that gives the very dicts `serialize_object(type.parse_xmlelement(node), dict)` gives.

Why: on a batch file the hub asks the National Register for 100 persons per call, and
zeep's generic deserialisation of such a reply (a value object per element, each built
through its signature checks) cost the hub four times what the source spends producing
it (benchmarks/bench_batch.py, py-spy: 61% of the hub's CPU). The reader walks the same
declarations zeep read from the WSDL, so the shape cannot drift from the contract;
tests/test_records.py compares both on every person of a population.

Only what the sources' contracts use is supported: sequences of simple-typed or complex
elements, repeated or not, nillable. A type with anything else (attributes, choices,
any) is refused when compiled, not misread.
"""
from zeep.xsd.elements import Element
from zeep.xsd.elements.indicators import Sequence

class Unsupported(TypeError):
    """The type uses a construct the reader does not read (use zeep's own parse)."""


def compile_reader(xsd_type):
    """A function: an element of `xsd_type` -> its dict (None for a nil element)."""
    if xsd_type.attributes:
        raise Unsupported("%s has attributes" % xsd_type.name)
    if not isinstance(xsd_type._element, Sequence):
        raise Unsupported("%s is not a sequence" % xsd_type.name)
    fields = {}  # tag: (name, repeated, read one child)
    for name, element in xsd_type.elements:
        if not isinstance(element, Element):
            raise Unsupported("%s.%s is a %s" % (xsd_type.name, name, type(element).__name__))
        if hasattr(element.type, "elements"):
            read = compile_reader(element.type)
        else:
            read = _simple(element.type)
        fields[element.qname.text] = (name, element.max_occurs != 1, read)
    names = [name for name, _, _ in fields.values()]
    repeated = [name for name, many, _ in fields.values() if many]

    def reader(node):
        if len(node) == 0 and not node.attrib:
            return None  # as zeep: an empty element is no value (with xsi:nil it is one)
        record = dict.fromkeys(names)
        for name in repeated:
            record[name] = []
        for child in node:
            field = fields.get(child.tag)
            if field is None:
                continue  # zeep too ignores what the type does not declare
            name, many, read = field
            if many:
                record[name].append(read(child))
            else:
                record[name] = read(child)
        return record

    return reader


def _simple(xsd_type):
    """A reader of a simple-typed element, with zeep's conversion of its text."""
    def read(node):
        if node.text is None:
            return None
        try:
            return xsd_type.pythonvalue(node.text)
        except (TypeError, ValueError):  # as zeep: an unreadable value is None
            return None
    return read


def reply_reader(operation):
    """A reader of the response element of a zeep operation: its dict."""
    element = operation.output.body
    return compile_reader(element.type)
