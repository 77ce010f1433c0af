"""The ebMS 3.0 header (eb:Messaging) of EESSI's AS4 messages: read a UserMessage or a
signal (PullRequest, Receipt, Error) out of a SOAP 1.2 envelope, and build the envelopes
kszws sends. Pure lxml; what is checked here is the header's shape (EBMS:0009) and its
fit with EESSI's P-Modes (EBMS:0010); the signature is signature.py's."""
import datetime
import uuid
from dataclasses import dataclass, field

from lxml import etree

from kszws.eessi.errors import EbmsError
from kszws.wire.newstyle import xsd_datetime
from kszws.wire.ns import DS, EB, EBBP, MH, SOAP12, WSA, WSU, q

PARTY_TYPE = "urn:eu:europa:ec:dgempl:eessi:ir"
ROLE = "urn:eu:europa:ec:dgempl:eessi:ir:institution"
SERVICE_TYPE = "urn:eu:europa:ec:dgempl:eessi"
SERVICE = "BusinessMessaging"
ACTION = "Send"
DEFAULT_MPC = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC"
NEXTMSH = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/part2/200811/nextmsh"
ICLOUD = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/part2/200811/icloud"
RECEIPT_ACTION = EB + "oneWay.receipt"
ERROR_ACTION = EB + "oneWay.error"
# The reversed UserMessage of a signal's RoutingInput takes the MPC plus one of these; the
# real traffic shows all three (../shared/eessi/README.md §1.4), so all are accepted.
SIGNAL_MPC_SUFFIXES = (".receipt", ".response", ".error")

MESSAGING = q(EB, "Messaging")
HEADER = q(SOAP12, "Header")
BODY = q(SOAP12, "Body")
ENVELOPE = q(SOAP12, "Envelope")
WSU_ID = q(WSU, "Id")


@dataclass(frozen=True)
class Part:
    href: str  # cid:...
    properties: dict  # PartType, MimeType, CompressionType

    @property
    def content_id(self):
        return self.href[4:]


@dataclass(frozen=True)
class UserMessage:
    message_id: str
    timestamp: datetime.datetime
    from_party: str  # CC:ID
    to_party: str
    conversation_id: str
    parts: tuple = ()
    properties: dict = field(default_factory=dict)  # originalSender, finalRecipient
    mpc: str = DEFAULT_MPC
    ref_to_message_id: str = None
    action: str = ACTION


@dataclass(frozen=True)
class Signal:
    message_id: str
    timestamp: datetime.datetime
    ref_to_message_id: str  # None for a PullRequest
    kind: str  # pull | receipt | error
    mpc: str = None  # of a PullRequest
    references: tuple = ()  # of a Receipt: (URI, digest method, digest value)
    errors: tuple = ()  # of an Error signal: (code, severity, detail)

    @property
    def digests(self):
        """A receipt's non-repudiation digests, {URI: digest value}: what it acknowledges."""
        return {uri: value for uri, _, value in self.references}


def new_message_id():
    return "%s@kszws" % uuid.uuid4()


def messaging(root):
    """The one eb:Messaging header block of an envelope (EBMS:0009 otherwise)."""
    if root.tag != ENVELOPE:
        raise EbmsError("EBMS:0009", "the root element is %s, not a SOAP 1.2 Envelope"
                        % etree.QName(root).localname)
    header = root.find(HEADER)
    found = list(root.iter(MESSAGING))
    if header is None or len(found) != 1 or found[0].getparent() is not header:
        raise EbmsError("EBMS:0009", "expected one eb:Messaging in the SOAP header, found %d"
                        % len(found))
    return found[0]


def read(root):
    """The UserMessage or Signal the envelope carries (one per message: kszws neither
    sends nor accepts bundles)."""
    block = messaging(root)
    children = [c for c in block if isinstance(c.tag, str)]
    if len(children) != 1 or children[0].tag not in (q(EB, "UserMessage"),
                                                      q(EB, "SignalMessage")):
        raise EbmsError("EBMS:0009", "eb:Messaging must hold one UserMessage or one "
                        "SignalMessage")
    if children[0].tag == q(EB, "UserMessage"):
        return _read_user_message(children[0])
    return _read_signal(children[0])


def _text(parent, path, what):
    node = parent.find(path, {"eb": EB})
    value = (node.text or "").strip() if node is not None else ""
    if not value:
        raise EbmsError("EBMS:0009", "%s is missing" % what)
    return value


def _timestamp(info):
    text = _text(info, "eb:Timestamp", "MessageInfo/Timestamp")
    try:
        value = datetime.datetime.fromisoformat(_seven_digits(text.replace("Z", "+00:00")))
    except ValueError:
        raise EbmsError("EBMS:0009", "MessageInfo/Timestamp %r is not a dateTime" % text[:40]) \
            from None
    if value.tzinfo is None:  # ebMS Timestamps are UTC (Core §5.2.2.1)
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def _seven_digits(text):
    """.NET writes 7 fractional digits (2017-05-23T08:21:50.3693843Z); Python reads 6."""
    head, dot, rest = text.partition(".")
    if not dot:
        return text
    digits = len(rest) - len(rest.lstrip("0123456789"))
    return head + "." + rest[:min(digits, 6)] + rest[digits:]


def _read_user_message(um):
    info = um.find(q(EB, "MessageInfo"))
    if info is None:
        raise EbmsError("EBMS:0009", "UserMessage/MessageInfo is missing")
    message_id = _text(info, "eb:MessageId", "MessageInfo/MessageId")
    try:
        return _user_message_fields(um, info, message_id)
    except EbmsError as error:
        error.ref_to_message_id = message_id
        raise


def _user_message_fields(um, info, message_id):
    parties = {}
    for side in ("From", "To"):
        ids = um.findall("eb:PartyInfo/eb:%s/eb:PartyId" % side, {"eb": EB})
        if len(ids) != 1:
            raise EbmsError("EBMS:0009", "PartyInfo/%s needs one PartyId" % side)
        if ids[0].get("type") != PARTY_TYPE:
            raise EbmsError("EBMS:0010", "PartyInfo/%s/PartyId type %r is not the EESSI "
                            "Institution Repository's (%s)" % (side, ids[0].get("type"),
                                                               PARTY_TYPE))
        parties[side] = _text(um, "eb:PartyInfo/eb:%s/eb:PartyId" % side, side + " PartyId")
    collaboration = um.find(q(EB, "CollaborationInfo"))
    if collaboration is None:
        raise EbmsError("EBMS:0009", "CollaborationInfo is missing")
    service = collaboration.find(q(EB, "Service"))
    if service is None or (service.text or "").strip() != SERVICE \
            or service.get("type") != SERVICE_TYPE:
        raise EbmsError("EBMS:0010", "Service must be %s of type %s" % (SERVICE, SERVICE_TYPE))
    action = _text(collaboration, "eb:Action", "CollaborationInfo/Action")
    if action not in (ACTION, "Send.response"):
        raise EbmsError("EBMS:0010", "Action %r is not EESSI's Send" % action[:64])
    properties = {}
    for prop in um.iterfind("eb:MessageProperties/eb:Property", {"eb": EB}):
        properties[prop.get("name") or ""] = (prop.text or "").strip()
    parts = []
    for info_ in um.iterfind("eb:PayloadInfo/eb:PartInfo", {"eb": EB}):
        href = info_.get("href") or ""
        if not href.startswith("cid:") or len(href) < 5:
            raise EbmsError("EBMS:0011", "PartInfo href %r is not a cid: attachment (EESSI "
                            "sends the SED as a MIME part)" % href[:64])
        props = {p.get("name") or "": (p.text or "").strip()
                 for p in info_.iterfind("eb:PartProperties/eb:Property", {"eb": EB})}
        parts.append(Part(href, props))
    return UserMessage(
        message_id=message_id, timestamp=_timestamp(info),
        from_party=parties["From"], to_party=parties["To"],
        conversation_id=_text(collaboration, "eb:ConversationId", "ConversationId"),
        parts=tuple(parts), properties=properties, mpc=um.get("mpc") or DEFAULT_MPC,
        ref_to_message_id=(info.findtext(q(EB, "RefToMessageId")) or "").strip() or None,
        action=action)


def _read_signal(signal):
    info = signal.find(q(EB, "MessageInfo"))
    if info is None:
        raise EbmsError("EBMS:0009", "SignalMessage/MessageInfo is missing")
    message_id = _text(info, "eb:MessageId", "MessageInfo/MessageId")
    ref = (info.findtext(q(EB, "RefToMessageId")) or "").strip() or None
    base = dict(message_id=message_id, timestamp=_timestamp(info), ref_to_message_id=ref)
    pull = signal.find(q(EB, "PullRequest"))
    receipt = signal.find(q(EB, "Receipt"))
    errors = signal.findall(q(EB, "Error"))
    if sum((pull is not None, receipt is not None, bool(errors))) != 1:
        raise EbmsError("EBMS:0009", "a SignalMessage holds one PullRequest, one Receipt or "
                        "Errors", ref)
    if pull is not None:
        return Signal(kind="pull", mpc=pull.get("mpc") or DEFAULT_MPC, **base)
    if receipt is not None:
        if ref is None:
            raise EbmsError("EBMS:0009", "a Receipt needs RefToMessageId", message_id)
        refs = tuple((r.get("URI") or "", _algorithm(r.find(q(DS, "DigestMethod"))),
                      (r.findtext(q(DS, "DigestValue")) or "").strip())
                     for r in receipt.iter(q(DS, "Reference")))
        return Signal(kind="receipt", references=refs, **base)
    return Signal(kind="error", errors=tuple(
        (e.get("errorCode") or "", e.get("severity") or "",
         (e.findtext(q(EB, "ErrorDetail")) or "").strip()) for e in errors), **base)


def _algorithm(element):
    return element.get("Algorithm") or "" if element is not None else ""


# --- building -----------------------------------------------------------------------------

def _envelope():
    env = etree.Element(ENVELOPE, nsmap={"S12": SOAP12, "eb": EB, "wsu": WSU})
    header = etree.SubElement(env, HEADER)
    block = etree.SubElement(header, MESSAGING)
    block.set(q(SOAP12, "mustUnderstand"), "true")
    block.set(WSU_ID, "header-%s" % uuid.uuid4())
    body = etree.SubElement(env, BODY)
    body.set(WSU_ID, "body-%s" % uuid.uuid4())
    return env, header, block


def _message_info(parent, message_id, now, ref=None):
    info = etree.SubElement(parent, q(EB, "MessageInfo"))
    etree.SubElement(info, q(EB, "Timestamp")).text = xsd_datetime(now)
    etree.SubElement(info, q(EB, "MessageId")).text = message_id
    if ref:
        etree.SubElement(info, q(EB, "RefToMessageId")).text = ref


def _user_message_element(parent, tag, message, mpc=None):
    um = etree.SubElement(parent, tag)
    if mpc or message.mpc != DEFAULT_MPC:
        um.set("mpc", mpc or message.mpc)
    _message_info(um, message.message_id, message.timestamp, message.ref_to_message_id)
    party_info = etree.SubElement(um, q(EB, "PartyInfo"))
    for side, party in (("From", message.from_party), ("To", message.to_party)):
        element = etree.SubElement(party_info, q(EB, side))
        etree.SubElement(element, q(EB, "PartyId"), type=PARTY_TYPE).text = party
        etree.SubElement(element, q(EB, "Role")).text = ROLE
    collaboration = etree.SubElement(um, q(EB, "CollaborationInfo"))
    etree.SubElement(collaboration, q(EB, "Service"), type=SERVICE_TYPE).text = SERVICE
    etree.SubElement(collaboration, q(EB, "Action")).text = message.action
    etree.SubElement(collaboration, q(EB, "ConversationId")).text = message.conversation_id
    if message.properties:
        props = etree.SubElement(um, q(EB, "MessageProperties"))
        for name, value in message.properties.items():
            etree.SubElement(props, q(EB, "Property"), name=name).text = value
    if message.parts:
        payload = etree.SubElement(um, q(EB, "PayloadInfo"))
        for part in message.parts:
            info = etree.SubElement(payload, q(EB, "PartInfo"), href=part.href)
            props = etree.SubElement(info, q(EB, "PartProperties"))
            for name, value in part.properties.items():
                etree.SubElement(props, q(EB, "Property"), name=name).text = value
    return um


def user_message_envelope(message):
    env, _, block = _envelope()
    _user_message_element(block, q(EB, "UserMessage"), message)
    return env


def _routing(header, message, action, suffix):
    """The multi-hop headers of a signal about `message`: wsa:To the I-Cloud, the action,
    and the reversed UserMessage in mh:RoutingInput (From and To swapped, Send.response,
    the MPC with its suffix), as EESSI's access points route signals back."""
    etree.SubElement(header, q(WSA, "To"), {q(SOAP12, "role"): NEXTMSH}).text = ICLOUD
    etree.SubElement(header, q(WSA, "Action")).text = action
    routing = etree.Element(q(MH, "RoutingInput"), {q(WSA, "IsReferenceParameter"): "true",
                                                   q(SOAP12, "role"): NEXTMSH},
                            nsmap={"mh": MH, "wsa": WSA})
    header.insert(0, routing)
    reversed_ = UserMessage(
        message_id=message.message_id, timestamp=message.timestamp,
        from_party=message.to_party, to_party=message.from_party,
        conversation_id=message.conversation_id, parts=message.parts,
        properties=message.properties, action="Send.response")
    _user_message_element(routing, q(MH, "UserMessage"), reversed_,
                          mpc=message.mpc + suffix)


def receipt_envelope(message, references, now):
    """A non-repudiation receipt for `message` (a UserMessage): one
    ebbp:MessagePartNRInformation per reference of the sender's signature, each a copy of
    its ds:Reference (AS4 profile §5.1.8)."""
    env, header, block = _envelope()
    block.set(q(SOAP12, "role"), NEXTMSH)
    _routing(header, message, RECEIPT_ACTION, ".receipt")
    signal = etree.SubElement(block, q(EB, "SignalMessage"))
    _message_info(signal, new_message_id(), now, message.message_id)
    nri = etree.SubElement(etree.SubElement(signal, q(EB, "Receipt")),
                           q(EBBP, "NonRepudiationInformation"), nsmap={"ebbp": EBBP})
    for reference in references:
        part = etree.SubElement(nri, q(EBBP, "MessagePartNRInformation"))
        copy = etree.fromstring(etree.tostring(reference))  # a copy, not a move
        etree.cleanup_namespaces(copy)
        part.append(copy)
    return env


def error_envelope(error, now, message=None):
    """An ebMS error signal; with the UserMessage it is about, routed back multi-hop."""
    env, header, block = _envelope()
    if message is not None:
        block.set(q(SOAP12, "role"), NEXTMSH)
        _routing(header, message, ERROR_ACTION, ".error")
    signal = etree.SubElement(block, q(EB, "SignalMessage"))
    ref = error.ref_to_message_id or (message.message_id if message is not None else None)
    _message_info(signal, new_message_id(), now, ref)
    kind = error.kind
    attributes = {"category": kind.category, "errorCode": kind.code, "origin": "ebMS",
                  "severity": kind.severity, "shortDescription": kind.short}
    if ref:
        attributes["refToMessageInError"] = ref
    element = etree.SubElement(signal, q(EB, "Error"), attributes)
    description = etree.SubElement(element, q(EB, "Description"))
    description.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    description.text = kind.description
    if error.detail:
        etree.SubElement(element, q(EB, "ErrorDetail")).text = error.detail[:512]
    return env


def pull_request_envelope(mpc, now):
    env, _, block = _envelope()
    signal = etree.SubElement(block, q(EB, "SignalMessage"))
    _message_info(signal, new_message_id(), now)
    etree.SubElement(signal, q(EB, "PullRequest"), mpc=mpc)
    return env


def mpc_of(institution):
    """The pull channel of an institution (EESSI: defaultMPC/<its CC:ID>)."""
    return "%s/%s" % (DEFAULT_MPC, institution)
