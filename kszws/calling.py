"""`kszws call`: what an integrator types, the call, and what they read back.

    kszws call                                   the services
    kszws call SERVICE                           its operations and their fields
    kszws call SERVICE OPERATION --help-fields   the request's structure
    kszws call SERVICE OPERATION FIELD=VALUE...  the call

A mistake is one line naming what is wrong and what is valid (no traceback unless -v).
Exit codes (README): 0 success, 1 a warning reply (classic ReturnCode 1), 2 a refusal or
an error reply (classic ReturnCode >= 2, any SOAP Fault), 3 a transport or usage error.
The zeep client itself is kszws/client.py's."""
import copy
import datetime
import difflib
import json
from pathlib import Path

from lxml import etree

OK, WARNING, REFUSED, FAILED = 0, 1, 2, 3


class UsageError(Exception):
    """Nothing was sent: the message says what is wrong and what would be valid."""


def named(kind, name, known, where=""):
    """known[name]; else UsageError naming the closest names (or all of them)."""
    if name in known:
        return known[name]
    by_case = {k.lower(): k for k in known}
    close = ([by_case[name.lower()]] if name.lower() in by_case else
             difflib.get_close_matches(name, list(known), n=3, cutoff=0.6))
    names = sorted(known)
    hint = ("did you mean %s?" % " or ".join(close) if close else
            "valid: %s%s" % (", ".join(names[:40]), ", ..." if len(names) > 40 else ""))
    raise UsageError("no %s %r%s; %s" % (kind, name, where, hint))


# -- what the user types -------------------------------------------------------------------

def parse_fields(items):
    """FIELD=VALUE arguments -> {field: value}: a VALUE starting with { or [ is JSON,
    @FILE is the file's text, anything else the string itself."""
    fields = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError("%r is not FIELD=VALUE (e.g. echo=hello)" % item)
        if value.startswith("@"):
            try:
                value = Path(value[1:]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError("field %s: cannot read %s (%s)" % (
                    name, value[1:], getattr(exc, "strerror", None) or exc)) from None
        elif value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise UsageError("field %s: %s starts like JSON but is not (%s); write valid "
                                 "JSON (e.g. %s=[42] or %s='{\"key\": \"value\"}')"
                                 % (name, value, exc, name, name)) from None
        fields[name] = value
    return fields


def request_fields(operation):
    """{name: zeep element} of an operation's request (empty for a simple-typed one, such
    as sendXML's one string)."""
    body = operation.input.body
    elements = getattr(body.type, "elements", None)
    return dict(elements) if elements is not None else {}


def structure(operation, values=None):
    """An operation's request as indented `field: type` lines (`?` optional, `[]`
    repeated, `@` an attribute), nested types unfolded: what FIELD=VALUE and JSON take.
    `values`: {type or element name: its allowed values} (enumerations())."""
    fields = request_fields(operation)
    if not fields:
        body = operation.input.body
        name = body.name if body is not None else "FIELD"
        return "  %s: %s (e.g. %s=@request.xml)" % (
            name, operation.input.signature(as_output=False), name)
    lines = []
    for name, element in operation.input.body.type.elements_nested:
        _child(name, element, 1, lines, frozenset(), values or {})
    return "\n".join(lines)


def enumerations(client):
    """{name: [allowed values]} of the enumerated simple types of a zeep client's schemas,
    read from the schema files it loaded (zeep keeps no facets): a named type by its name,
    an anonymous one by the name of the element it types."""
    XS = "{http://www.w3.org/2001/XMLSchema}"
    found = {}
    for document in client.wsdl.types.documents:
        location = getattr(document, "_location", None)
        if not location or "://" in location:
            continue
        try:
            tree = etree.parse(location)
        except (OSError, etree.XMLSyntaxError):
            continue
        for simple in tree.iter(XS + "simpleType"):
            values = [e.get("value") for e in simple.iter(XS + "enumeration")]
            parent = simple.getparent()
            name = simple.get("name") or (parent.get("name") if parent is not None else None)
            if values and name:
                found.setdefault(name, values)
    return found


def _structure(name, element, depth, lines, unfolded, values):
    from zeep.xsd import Any

    pad = "  " * depth
    if isinstance(element, Any):
        lines.append(pad + "(any XML element: an XML string, or @file.xml)")
        return
    kind = element.type
    qname = getattr(kind, "qname", None)
    type_name = qname.localname if qname is not None else "(anonymous)"
    repeated = element.max_occurs == "unbounded" or (element.max_occurs or 1) > 1
    lines.append("%s%s%s%s: %s%s" % (pad, name, "[]" if repeated else "",
                                     "?" if not element.min_occurs else "", type_name,
                                     _one_of(values.get(type_name) or values.get(name))))
    if type_name in unfolded:  # a recursive type: unfolded once
        return
    for attr_name, attr in getattr(kind, "attributes", None) or []:
        attr_type = getattr(getattr(attr, "type", None), "qname", None)
        lines.append("%s  @%s: %s" % (pad, attr_name,
                                      attr_type.localname if attr_type is not None else "?"))
    for child_name, child in getattr(kind, "elements_nested", None) or []:
        _child(child_name, child, depth + 1, lines, unfolded | {type_name}, values)


def _one_of(allowed):
    """" (one of: a, b, c)" for a type's allowed values (the first 12), "" for none."""
    if not allowed:
        return ""
    return " (one of: %s%s)" % (", ".join(allowed[:12]), ", ..." if len(allowed) > 12 else "")


def _child(name, child, depth, lines, unfolded, values):
    """An element, or a choice of elements (e.g. cbeNumber, or sector and institution):
    each option under "one of", so that no alternative reads as required."""
    from zeep.xsd.elements.indicators import Choice, Indicator

    if isinstance(child, Choice):
        lines.append("  " * depth + "one of:")
        for option in child:
            members = list(option.elements) if isinstance(option, Indicator) else [
                (option.attr_name or option.name, option)]
            first = len(lines)
            for member_name, member in members:
                _structure(member_name, member, depth + 2, lines, unfolded, values)
            # an option of a choice is not optional in itself: no "?" on it
            lines[first] = "  " * (depth + 1) + "- " + lines[first].lstrip().replace(
                "?:", ":", 1)
    elif isinstance(child, Indicator):  # a nested sequence or all: its elements in turn
        for member_name, member in child.elements_nested:
            _child(member_name, member, depth, lines, unfolded, values)
    else:
        _structure(name, child, depth, lines, unfolded, values)


def check_fields(service, name, operation, fields):
    """UsageError for a field the request does not have, at any depth of a JSON value
    (informationCustomer's customerIdentification.cbeNumber...), before anything is sent."""
    known = request_fields(operation)
    if not known:
        body = operation.input.body
        only = body.name if body is not None else "xmlString"
        if len(fields) > 1:
            raise UsageError("%s.%s takes one value (e.g. %s=@request.xml), not %d "
                             "fields" % (service, name, only, len(fields)))
        for field in fields:
            named("field", field, {only: None}, " in %s.%s" % (service, name))
        return
    for field, value in fields.items():
        _check_value(field, value, named("field", field, known, " in %s.%s" % (service, name)))


def _check_value(path, value, element):
    """A JSON value against the element it fills: its keys must be the type's fields."""
    if isinstance(value, list):
        for item in value:
            _check_value(path, item, element)
        return
    if not isinstance(value, dict) or element is None or _holds_only_any(element):
        return
    children = dict(getattr(element.type, "elements", None) or [])
    children.update({n: None for n, _ in getattr(element.type, "attributes", None) or []})
    if not children:
        return
    for key, item in value.items():
        child = named("field", key, children, " in %s" % path)
        _check_value("%s.%s" % (path, key), item, child)


def call_arguments(operation, fields):
    """(args, kwargs) for zeep's call of `operation`: an operation whose message is a
    single simple element (sendXML's xmlString) takes its one field's value as is; the
    others take their fields by name, xsd:any fields as XML (any_payloads)."""
    if not getattr(operation.input.body.type, "elements", None):
        return tuple(fields.values()), {}
    return (), any_payloads(operation, fields)


def any_payloads(operation, fields):
    """An xsd:any field (a type holding only `any`, such as an attestation's payload)
    takes an XML string or @file.xml as it is: zeep's `_value_1` stays inside."""
    from kszws.wire import xmlparse

    known = request_fields(operation)
    out = {}
    for field, value in fields.items():
        element = known.get(field)
        if isinstance(value, str) and element is not None and _holds_only_any(element):
            try:
                value = {"_value_1": xmlparse.parse(value.strip().encode("utf-8"))}
            except Exception as exc:
                raise UsageError("field %s: XML expected (inline or @file.xml): %s"
                                 % (field, getattr(exc, "detail", None) or exc)) from None
        out[field] = _xml_strings(value)
    return out


def _holds_only_any(element):
    from zeep.xsd import Any

    children = getattr(element.type, "elements", None) or []
    return len(children) == 1 and isinstance(children[0][1], Any)


def _xml_strings(value):
    """Inside JSON, a string that is an XML element becomes one (an xsd:any deeper down)."""
    if isinstance(value, dict):
        return {k: _xml_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_xml_strings(v) for v in value]
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        from kszws.wire import xmlparse

        return xmlparse.parse(value.encode("utf-8"))
    return value


# -- what the user reads -------------------------------------------------------------------

def plain(value):
    """The reply as JSON-ready data: XML elements (xsd:any content) as XML text, without
    zeep's `_value_1` wrapper around them."""
    if isinstance(value, dict):
        if list(value) == ["_value_1"]:
            return plain(value["_value_1"])
        return {("any" if k.startswith("_value_") else k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if etree.iselement(value):
        return xml_text(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime.datetime):  # as the reply wrote it: ISO, Z for UTC
        text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return str(value)  # dates, decimals


def xml_text(element):
    """An element as indented XML text (a copy is indented: the reply stays as it came)."""
    element = copy.deepcopy(element)
    etree.cleanup_namespaces(element)  # the envelope's declarations a copy carries along
    etree.indent(element)
    return etree.tostring(element, encoding="unicode").strip()


_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}


def printable(text, limit=2000):
    """Text from a reply, safe on a terminal: control characters (C0, C1: cursor moves,
    8-bit escapes), line breaks and bidirectional overrides shown as \\uXXXX, so that a
    hostile reply cannot forge output lines or rewrite what is shown; at most `limit`
    characters."""
    text = str(text)
    cut = len(text) > limit
    text = "".join("\\u%04x" % ord(c) if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or
                   ord(c) in _BIDI else c for c in text[:limit])
    return text + (" ..." if cut else "")


def safe_lines(text):
    """printable() for a multi-line text: each line made safe, the line breaks kept."""
    return "\n".join(printable(line, 1 << 30) for line in str(text).split("\n"))


def fault_lines(detail):
    """A fault's detail as `name: value` lines, one per leaf (reasonCode, diagnostic...),
    indented by depth: what a person reads, where --xml shows the XML."""
    lines = []

    def walk(element, depth):
        children = [c for c in element if isinstance(c.tag, str)]
        name = etree.QName(element).localname
        if children:
            if depth:
                lines.append("%s%s:" % ("  " * depth, name))
            for child in children:
                walk(child, depth + 1)
        else:
            lines.append("%s%s: %s" % ("  " * depth, printable(name, 100),
                                       printable((element.text or "").strip())))
    walk(detail, 0)
    return "\n".join(lines)


def as_json(result):
    return json.dumps(plain(result), indent=2, ensure_ascii=False)


def readable(result):
    """The reply for a person: `name: value` lines, nested records indented, lists as
    `- ` items, XML content indented under its field; empty fields left out."""
    lines = []
    _render(plain(result), 0, lines)
    return "\n".join(lines) if lines else "(an empty reply)"


def _render(value, depth, lines, prefix=""):
    pad = "  " * depth
    if isinstance(value, dict):
        shown = {k: v for k, v in value.items() if v not in (None, [], {}, "")}
        for i, (key, item) in enumerate(shown.items()):
            lead = pad + (prefix if i == 0 else " " * len(prefix)) + key + ":"
            if isinstance(item, (dict, list)) or _is_xml(item):
                lines.append(lead)
                _render(item, depth + 1 + (1 if prefix else 0), lines)
            else:
                lines.append("%s %s" % (lead, item))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                _render(item, depth, lines, prefix="- ")
            elif _is_xml(item):
                lines.append(pad + "-")
                _render(item, depth + 1, lines)
            else:
                lines.append("%s- %s" % (pad, item))
    elif _is_xml(value):
        lines.extend(pad + line for line in value.splitlines())
    else:
        lines.append(pad + str(value))


def _is_xml(value):
    return isinstance(value, str) and value.startswith("<") and value.endswith(">")


# -- classic replies (sendXML: an SSDNReply as a string) ----------------------------------

def status_code(result):
    """The exit code of a new-style reply by its status: a business refusal (NO_RESULT,
    e.g. a proof that does not match) is a refusal; a batch whose items were all refused
    (status information refused > 0, accepted 0) too, partly refused a warning."""
    status = result.get("status") if isinstance(result, dict) else None
    if not isinstance(status, dict):
        return OK
    if status.get("value") == "NO_RESULT":
        return REFUSED
    counts = {}
    for item in status.get("information") or []:
        if isinstance(item, dict) and item.get("fieldName") in ("accepted", "refused"):
            try:
                counts[item["fieldName"]] = int(item.get("fieldValue"))
            except (TypeError, ValueError):
                pass
    if counts.get("refused"):
        return REFUSED if not counts.get("accepted") else WARNING
    return OK


def classic_summary(reply_text):
    """(exit code, readable text) of an SSDNReply: each ResultSummary (ok, ReturnCode, its
    Details with their Information items), then each service's reply as indented XML."""
    from kszws.wire import ssdn, xmlparse

    try:
        root = xmlparse.parse(reply_text.encode("utf-8"))
    except Exception:
        return OK, reply_text  # not an SSDNReply: shown as it came
    lines, worst = [], OK
    for part in [root.find(ssdn.s("ReplyContext")), *root.iterfind(ssdn.s("ServiceReply"))]:
        summary = part.find(ssdn.c("ResultSummary")) if part is not None else None
        if summary is None:
            continue
        ok = summary.get("ok", "")
        worst = max(worst, {"YES": OK, "WARNING": WARNING}.get(ok, REFUSED))
        name = etree.QName(part).localname
        if name == "ServiceReply":
            name = "%s %s" % (part.findtext(ssdn.s("ServiceId")), part.findtext(ssdn.s("Version")))
        lines.append("%s: ok=%s, ReturnCode %s" % (name, ok,
                                                  summary.findtext(ssdn.c("ReturnCode"))))
        for detail in summary.iterfind(ssdn.c("Detail")):
            lines.append("  %s %s: %s" % (detail.findtext(ssdn.c("ReasonCode")),
                                          detail.findtext(ssdn.c("Severity")),
                                          detail.findtext(ssdn.c("Diagnostic"))))
            for info in detail.iterfind(ssdn.c("Information")):
                lines.append("    %s = %s" % (info.findtext(ssdn.c("FieldName")),
                                              info.findtext(ssdn.c("FieldValue"))))
        for body in part:
            if etree.QName(body).namespace not in (ssdn.SERVICE, ssdn.COMMON):
                lines.extend("  " + line for line in xml_text(body).splitlines())
    return worst, "\n".join(lines) or reply_text
