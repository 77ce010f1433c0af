"""The new-style mailbox contracts kszws designs (xsd/Mailbox/MailboxV1.xsd):
MutationService.notifyMutations (a source pushes its mutations) and MailboxService
(listItems, fetchItems, acknowledge)."""
import datetime
from dataclasses import dataclass

from lxml import etree

from kszws.wire import newstyle
from kszws.wire.reasons import Refusal

MUTATIONS = "urn:kszws:intf:MutationService:v1"
MAILBOX = "urn:kszws:intf:MailboxService:v1"
MUTATIONS_FAULT = "{%s}mutationFault" % MUTATIONS
MAILBOX_FAULT = "{%s}mailboxFault" % MAILBOX


@dataclass(frozen=True)
class PushedMutation:
    seq: int
    kind: str
    ssin: str
    event_date: datetime.date
    data: dict


def parse_mutations(element):
    out = []
    for m in element.findall("mutation"):
        try:
            day = datetime.date.fromisoformat((m.findtext("eventDate") or "").strip()[:10])
        except ValueError:
            raise Refusal("MSG00008", "eventDate of mutation %s is not a date"
                          % m.findtext("seq")) from None
        out.append(PushedMutation(int(m.findtext("seq")), m.findtext("kind").strip(),
                                  m.findtext("ssin").strip(), day, _fields(m)))
    return out


def _fields(parent):
    return {f.findtext("name"): f.findtext("value") for f in parent.findall("field")}


def _add_fields(parent, data):
    for name, value in sorted(data.items())[:50]:
        field = etree.SubElement(parent, "field")
        etree.SubElement(field, "name").text = str(name)[:64]
        if value is not None:
            etree.SubElement(field, "value").text = str(value)[:256]


def mutations_response(ticket, received, replied, accepted, last_seq):
    root = etree.Element("{%s}notifyMutationsResponse" % MUTATIONS, nsmap={"ns0": MUTATIONS})
    newstyle.information_cbss(root, ticket, received, replied)
    etree.SubElement(root, "accepted").text = str(accepted)
    etree.SubElement(root, "lastSeq").text = str(last_seq)
    return root


@dataclass
class MailboxRequest:
    element: object
    cbe_number: str
    kind: str = None
    types: tuple = ()
    after: int = 0
    max_items: int = 100
    ids: tuple = ()


def parse_mailbox(element):
    r = MailboxRequest(element, (element.findtext(
        "informationCustomer/customerIdentification/cbeNumber") or "").strip())
    r.kind = element.findtext("kind") or None
    r.types = tuple(t.text.strip() for t in element.findall("type"))
    r.after = int(element.findtext("after") or 0)
    r.max_items = int(element.findtext("maxItems") or 100)
    r.ids = tuple(int(i.text) for i in element.findall("id"))
    return r


def _response(local, request, ticket, received, replied, found):
    return newstyle.response("{%s}%s" % (MAILBOX, local), request.element, ticket, received,
                             replied, "MSG00000", found)


def _item(parent, item, with_fields):
    elt = etree.SubElement(parent, "item")
    etree.SubElement(elt, "id").text = str(item.id)
    etree.SubElement(elt, "kind").text = item.kind
    etree.SubElement(elt, "type").text = item.type
    etree.SubElement(elt, "ssin").text = item.ssin
    if item.event_date is not None:
        etree.SubElement(elt, "eventDate").text = str(item.event_date)[:10]
    created = item.created_at.replace(tzinfo=datetime.timezone.utc)
    etree.SubElement(elt, "deliveredAt").text = newstyle.xsd_datetime(created)
    if with_fields:
        _add_fields(elt, item.data)


def list_response(request, ticket, received, replied, items, more):
    root = _response("listItemsResponse", request, ticket, received, replied, bool(items))
    for item in items:
        _item(root, item, with_fields=False)
    etree.SubElement(root, "moreItems").text = "true" if more else "false"
    return root


def fetch_response(request, ticket, received, replied, items):
    root = _response("fetchItemsResponse", request, ticket, received, replied, bool(items))
    for item in items:
        _item(root, item, with_fields=True)
    return root


def acknowledge_response(request, ticket, received, replied, ids):
    root = _response("acknowledgeResponse", request, ticket, received, replied, bool(ids))
    for i in ids:
        etree.SubElement(root, "acknowledged").text = str(i)
    return root
