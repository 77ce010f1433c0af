"""`kszws eessi ...`: an institution's side of the access point, for the demo, tests and
integrators. A Belgian institution (its kszws id or its EESSI id) signs with its own key
and talks to the hub over HTTPS with its certificate; a foreign institution of the demo
goes through its foreign access point (`kszws source foreign-ap`), whose key signs for it.

    send   SED.xml --as INSTITUTION --to CC:ID [--buc B] [--case ID] [--role R]
    pull   --as INSTITUTION [--ack]
    status                          the pull channels' backlog (decision E6)
    institutions [--buc B] [--country C]"""
import datetime
import gzip
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from lxml import etree

from kszws.calling import UsageError
from kszws.client import hub_https_url
from kszws.eessi import ebms, mime, msh, repository, sbdh, signature
from kszws.eessi.errors import EbmsError
from kszws.registry import load_registry
from kszws.security.keystore import key_path_for, load_signing_identity
from kszws.wire.ns import EESSI_SBDH


@dataclass(frozen=True)
class Party:
    institution: object  # repository.Institution
    signer: object  # SigningIdentity
    tls: tuple  # (certificate path, key path)
    base_url: str  # of the access point it talks to
    verify: str  # the CA that issued that access point's TLS certificate


def party(settings, name, url=None):
    """The Party acting as `name` (a kszws id such as rsz-onss, or an EESSI id)."""
    registry = load_registry(settings)
    repo, _ = repository.load(settings, registry)
    if repo is None:
        raise UsageError("this project has no EESSI access point (conf/eessi/repository.toml)")
    inst = repo.institutions.get(name) or repo.by_kszws(name)
    if inst is None:
        raise UsageError("%r is neither an EESSI id nor a kszws institution of the Repository "
                         "(kszws eessi institutions lists them)" % name)
    if inst.kszws is not None:
        cert = Path(registry.institutions[inst.kszws].certificates[0])
        base = url or hub_https_url(settings, "AS4 runs over HTTPS")
        verify = str(settings.certs_dir / "ca.crt")
    else:
        point = repo.access_points[inst.access_point]
        cert = settings.certs_dir / "eessi" / ("%s.crt" % point.id.replace(":", "-"))
        base = url or point.endpoint.split(msh.OUTBOX_PATH)[0]
        verify = point.tls_authorities[0] if point.tls_authorities else True
    return Party(inst, load_signing_identity(cert), (str(cert), str(key_path_for(cert))),
                 base.rstrip("/"), verify)


def post(who, path, content_type, body):
    try:
        return requests.post(who.base_url + path, data=body, cert=who.tls, verify=who.verify,
                             headers={"Content-Type": content_type}, timeout=30)
    except requests.RequestException as exc:
        raise UsageError("%s: %s" % (who.base_url + path, exc)) from None


def document(sed_bytes, sender, receiver, buc=None, case=None, role=None):
    """The payload to send: the file as it is when it holds an SBDH document, else the SED
    wrapped in one (a new case when no case id is given: the sender is its CaseOwner)."""
    root = etree.fromstring(sed_bytes)
    if root.tag == "{%s}StandardBusinessDocument" % EESSI_SBDH:
        return sed_bytes, sbdh.read(sed_bytes)
    if not buc:
        raise UsageError("the file holds a bare SED (%s): say which BUC it belongs to (--buc)"
                         % etree.QName(root).localname)
    opens = case is None
    role = role or ("CaseOwner" if opens else "CounterParty")
    other = "CounterParty" if role == "CaseOwner" else "CaseOwner"
    E = "{%s}" % EESSI_SBDH
    doc = etree.Element(E + "StandardBusinessDocument", nsmap={"sbdh": EESSI_SBDH})
    header = etree.SubElement(doc, E + "StandardBusinessDocumentHeader")
    etree.SubElement(header, E + "HeaderVersion").text = "1.1"
    for side, party_id, its_role in (("Sender", sender, role), ("Receiver", receiver, other)):
        element = etree.SubElement(header, E + side)
        etree.SubElement(element, E + "ContactTypeIdentifier").text = its_role
        etree.SubElement(element, E + "Identifier",
                         Authority=ebms.PARTY_TYPE).text = party_id
    ident = etree.SubElement(header, E + "DocumentIdentification")
    etree.SubElement(ident, E + "CreationDateAndTime").text = \
        datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    etree.SubElement(ident, E + "CaseAction").text = "Start" if opens else "Update"
    etree.SubElement(ident, E + "Type").text = etree.QName(root).localname
    etree.SubElement(ident, E + "InstanceIdentifier").text = str(uuid.uuid4())
    etree.SubElement(ident, E + "TypeVersion").text = "4.2"
    scope = etree.SubElement(header, E + "BusinessScope")
    etree.SubElement(scope, E + "DocumentVersion").text = "1"
    case_element = etree.SubElement(scope, E + "CaseId")
    etree.SubElement(case_element, E + "InstanceIdentifier").text = case or str(uuid.uuid4())
    etree.SubElement(case_element, E + "BusinessServiceName").text = "%s:4.2" % buc
    doc.append(root)
    payload = etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
    return payload, sbdh.read(payload)


def send(settings, path, as_, to, buc=None, case=None, role=None, url=None):
    """Send a SED; (the Document sent, the message id, the access point's answer)."""
    who = party(settings, as_, url)
    try:
        payload, doc = document(Path(path).read_bytes(), who.institution.id, to, buc, case,
                                role)
    except (OSError, etree.XMLSyntaxError) as exc:
        raise UsageError("%s: %s" % (path, exc)) from None
    except EbmsError as error:
        raise UsageError("%s: %s" % (path, error.detail)) from None
    message = ebms.UserMessage(
        message_id=ebms.new_message_id(), timestamp=datetime.datetime.now(datetime.timezone.utc),
        from_party=who.institution.id, to_party=to, conversation_id=doc.case_id,
        parts=(ebms.Part("cid:defaultSED", {"PartType": "SED", "MimeType": "application/xml",
                                            "CompressionType": "application/gzip"}),),
        properties={"originalSender": who.institution.id, "finalRecipient": to})
    compressed = gzip.compress(payload)
    env = ebms.user_message_envelope(message)
    signature.sign(env, {"defaultSED": compressed}, who.signer)
    reply = post(who, msh.OUTBOX_PATH, *mime.write(
        etree.tostring(env), [("defaultSED", "application/gzip", compressed)]))
    return doc, message.message_id, _signal(reply)


def _signal(reply):
    try:
        return ebms.read(etree.fromstring(reply.content))
    except (etree.XMLSyntaxError, EbmsError, ValueError):
        raise UsageError("HTTP %d: not an ebMS answer: %r" % (reply.status_code,
                                                              reply.content[:200])) from None


def pull(settings, as_, ack=False, url=None):
    """Pull the oldest message of the institution's channel: (what came: a Document and
    its SED bytes, or the error signal; whether a receipt was sent)."""
    who = party(settings, as_, url)
    request = ebms.pull_request_envelope(ebms.mpc_of(who.institution.id),
                                         datetime.datetime.now(datetime.timezone.utc))
    signature.sign(request, {}, who.signer)
    reply = post(who, msh.INBOX_PATH, *mime.write(etree.tostring(request), []))
    package = mime.read(reply.headers.get("Content-Type", ""), reply.content)
    root = etree.fromstring(package.envelope)
    message = ebms.read(root)
    if isinstance(message, ebms.Signal):
        return message, None, False
    verified = signature.verify(root, package.attachments, _trust(settings),
                                datetime.datetime.now(datetime.timezone.utc))
    payload = sbdh.inflate(package.attachments[message.parts[0].content_id], 64 * 2 ** 20)
    if ack:
        receipt = ebms.receipt_envelope(message, verified.references,
                                        datetime.datetime.now(datetime.timezone.utc))
        signature.sign(receipt, {}, who.signer)
        answer = post(who, msh.OUTBOX_PATH, *mime.write(etree.tostring(receipt), []))
        if answer.status_code != 200 or answer.content:
            raise UsageError("the receipt was refused: %s" % _signal(answer).errors)
    return sbdh.read(payload), payload, ack


def _trust(settings):
    """Who may have signed what an institution pulls: every party of the Repository."""
    from kszws.eessi.msh import build_trust
    registry = load_registry(settings)
    repo, _ = repository.load(settings, registry)
    return build_trust(repo, registry)

