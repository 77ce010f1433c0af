"""A canonical structural diff of two XML documents, values aside (issue 15): element
order, namespace URIs and prefixes, where each namespace is declared, attribute sets (so
the presence of `lang` variants), and the number and codes of Details with their
Information field names. Repeated siblings (several Residences, two Municipality
variants) are compared by their run: the same element repeated, counted only where the
count is part of the contract (Details, lang variants)."""
from lxml import etree

# Elements whose text is part of the structure: the codes and field names of Details.
TEXT_MATTERS = {"ReasonCode", "FieldName", "Severity", "ServiceId", "Version", "severity",
                "reasonCode", "value", "code"}
# Elements whose repetitions are counted (one Detail per problem).
COUNTED = {"Detail", "Information"}


def declared(element):
    """{prefix: uri} declared on `element` itself (not inherited)."""
    parent = element.getparent()
    inherited = parent.nsmap if parent is not None else {}
    return {p: u for p, u in element.nsmap.items() if inherited.get(p) != u}


def _runs(element):
    """The children as runs of the same tag: [(tag, [elements])]."""
    runs = []
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments, processing instructions
        if runs and runs[-1][0] == child.tag:
            runs[-1][1].append(child)
        else:
            runs.append((child.tag, [child]))
    return runs


def diff(sample, ours, path=""):
    """[difference, ...] between the sample and our element, each a line with its path."""
    here = "%s/%s" % (path, etree.QName(sample).localname)
    out = []
    if sample.tag != ours.tag:
        return ["%s: element %s, ours %s" % (here, sample.tag, ours.tag)]
    if sample.prefix != ours.prefix:
        out.append("%s: prefix %r, ours %r" % (here, sample.prefix, ours.prefix))
    # Where a namespace is declared, below the elements compared; at the top, what is in
    # scope (a sample may be a fragment cut out of a reply, declaring what it inherited).
    where = (lambda e: e.nsmap) if not path else declared
    if where(sample) != where(ours):
        out.append("%s: declares %s, ours %s" % (here, _ns(where(sample)), _ns(where(ours))))
    if set(sample.attrib) != set(ours.attrib):
        out.append("%s: attributes %s, ours %s" % (here, sorted(sample.attrib),
                                                   sorted(ours.attrib)))
    local = etree.QName(sample).localname
    if local in TEXT_MATTERS and (sample.text or "").strip() != (ours.text or "").strip():
        out.append("%s: %r, ours %r" % (here, (sample.text or "").strip(),
                                        (ours.text or "").strip()))
    mine, theirs = _runs(ours), _runs(sample)
    if [t for t, _ in theirs] != [t for t, _ in mine]:
        out.append("%s: children %s, ours %s" % (here, _tags(theirs), _tags(mine)))
    by_tag = dict(mine)
    for tag, elements in theirs:
        if tag not in by_tag:
            continue
        ours_run = by_tag[tag]
        lang = [e.get("lang") for e in elements], [e.get("lang") for e in ours_run]
        if etree.QName(tag).localname in COUNTED or any(lang[0]):
            if len(elements) != len(ours_run):
                out.append("%s/%s: %d of them, ours %d" % (here, etree.QName(tag).localname,
                                                           len(elements), len(ours_run)))
        for theirs_one, ours_one in zip(elements, ours_run):
            out.extend(diff(theirs_one, ours_one, here))
            if etree.QName(tag).localname not in COUNTED:
                break  # a run of data: its first element stands for the others
    return out


def _ns(mapping):
    return "{%s}" % ", ".join("%s=%s" % (p or "(default)", u) for p, u in sorted(
        mapping.items(), key=lambda item: item[0] or ""))


def _tags(runs):
    return "[%s]" % ", ".join(etree.QName(t).localname for t, _ in runs)
