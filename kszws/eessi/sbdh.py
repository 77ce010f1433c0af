"""The SED payload: inflate it under a cap, parse it as hostile XML, and read its EESSI
Standard Business Document Header (not GS1's): parties and their roles, SED type, case id,
BUC, whether it opens a case, and the Belgian persons it names (PINs of country BE).

Two header layouts are read (../shared/eessi/README.md §1.5): the 2017 one (ContactInformation,
BusinessScope/Scope with BusinessServiceName "BUC:version:New") and the 4.2 one
(ContactTypeIdentifier, DocumentIdentification/CaseAction, BusinessScope/CaseId)."""
import zlib
from dataclasses import dataclass

from kszws import ids
from kszws.eessi.errors import EbmsError
from kszws.eessi.repository import ROLES
from kszws.wire import xmlparse
from kszws.wire.ns import EESSI_SBDH
from kszws.wire.reasons import Refusal

OPENING_ACTIONS = {"new", "start"}
NS = {"s": EESSI_SBDH}


@dataclass(frozen=True)
class Document:
    sender: str
    sender_role: str
    receiver: str
    receiver_role: str
    sed_type: str
    document_id: str
    case_id: str
    buc: str
    opens_case: bool
    ssins: tuple  # the Belgian persons named (SSINs with valid check digits)


def inflate(data, cap):
    """gzip-decompress a payload, refusing (EBMS:0303) more than `cap` bytes out, a broken
    stream, or trailing garbage."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error as exc:
        raise EbmsError("EBMS:0303", "the payload is not a gzip stream (%s)" % exc) from None
    if len(out) > cap or inflater.unconsumed_tail:
        raise EbmsError("EBMS:0303", "the payload inflates beyond %d bytes" % cap)
    if not inflater.eof or inflater.unused_data:
        raise EbmsError("EBMS:0303", "the gzip stream is truncated or followed by other data")
    return out


def read(payload):
    """The Document of a decompressed SED payload; EBMS:0004 when it cannot be read."""
    try:
        root = xmlparse.parse(payload)
    except Refusal as refusal:
        raise EbmsError("EBMS:0004", "the SED payload is refused: %s"
                        % (refusal.detail or refusal.reason.diagnostic)) from None
    if root.tag != "{%s}StandardBusinessDocument" % EESSI_SBDH:
        raise EbmsError("EBMS:0004", "the payload is not an EESSI StandardBusinessDocument")
    header = _one(root, "s:StandardBusinessDocumentHeader")
    sender, sender_role = _party(header, "Sender")
    receiver, receiver_role = _party(header, "Receiver")
    identification = _one(header, "s:DocumentIdentification")
    case_id, service, action = _scope(header, identification)
    buc, _, rest = service.partition(":")
    action = action or rest.rpartition(":")[2]
    return Document(
        sender=sender, sender_role=sender_role, receiver=receiver, receiver_role=receiver_role,
        sed_type=_text(identification, "s:Type"),
        document_id=_text(identification, "s:InstanceIdentifier"),
        case_id=case_id, buc=buc, opens_case=action.lower() in OPENING_ACTIONS,
        ssins=_belgian_persons(root))


def _one(parent, path):
    found = parent.findall(path, NS)
    if len(found) != 1:
        raise EbmsError("EBMS:0004", "SBDH: expected one %s, found %d"
                        % (path.split(":")[-1], len(found)))
    return found[0]


def _text(parent, path):
    value = (_one(parent, path).text or "").strip()
    if not value or len(value) > 128:
        raise EbmsError("EBMS:0004", "SBDH: %s is empty or too long" % path.split(":")[-1])
    return value


def _party(header, side):
    party = _one(header, "s:" + side)
    identifier = _text(party, "s:Identifier")
    role = party.findtext("s:ContactTypeIdentifier", None, NS) \
        or party.findtext("s:ContactInformation/s:ContactTypeIdentifier", None, NS) or ""
    # 2017's samples spell "Counterparty"; the Repository's role is CounterParty.
    role = next((r for r in ROLES if r.lower() == role.strip().lower()), role.strip())
    if role not in ROLES:
        raise EbmsError("EBMS:0004", "SBDH: the %s's role %r is neither %s"
                        % (side.lower(), role[:40], " nor ".join(ROLES)))
    return identifier, role


def _scope(header, identification):
    """(case id, business service name, case action or "") of either layout."""
    case = header.find("s:BusinessScope/s:CaseId", NS)
    if case is not None:  # SED 4.2
        return (_text(case, "s:InstanceIdentifier"), _text(case, "s:BusinessServiceName"),
                identification.findtext("s:CaseAction", "", NS).strip())
    scope = _one(header, "s:BusinessScope/s:Scope")
    return (_text(scope, "s:InstanceIdentifier"),
            _text(scope, "s:BusinessService/s:BusinessServiceName"), "")


def _belgian_persons(root):
    """The SSINs of the PINs the SED gives for Belgium. A Belgian PIN that is not an SSIN is
    refused: forwarded, it would name nobody in the access log."""
    found = []
    for pin in root.iter("{*}PersonIdentificationNumber"):
        if (pin.findtext("{*}Country") or "").strip() != "BE":
            continue
        value = (pin.findtext("{*}PersonIdentificationNumber") or "").strip()
        try:
            ssin = ids.ssin(value)
        except ids.InvalidIdentifier:
            raise EbmsError("EBMS:0004", "rule: the Belgian PIN %r is not a valid SSIN"
                            % value[:20]) from None
        if ssin not in found:
            found.append(ssin)
    return tuple(found)
