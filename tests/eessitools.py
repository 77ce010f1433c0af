"""Keys, certificates and messages for the EESSI tests: real RSA keys issued by a test CA,
AS4 user messages carrying a gzip-compressed SED."""
import datetime
import gzip
import uuid

from lxml import etree

from kszws.eessi import ebms, mime, signature
from kszws.security import keystore, pki

SED_PROPERTIES = {"PartType": "SED", "MimeType": "application/xml",
                  "CompressionType": "application/gzip"}


def identity(tmp_path, name, ca=None, **issue):
    """A signing identity (key + certificate written under tmp_path) and its CA."""
    ca_key, ca_cert = ca or pki.make_ca("%s test CA" % name)
    key, cert = pki.issue(ca_key, ca_cert, name, **issue)
    pki.write_key(tmp_path / ("%s.key" % name), key)
    pki.write_cert(tmp_path / ("%s.crt" % name), cert)
    return keystore.load_signing_identity(tmp_path / ("%s.crt" % name)), (ca_key, ca_cert)


def user_message(sender, receiver, now, conversation="case-1", cid="defaultSED"):
    return ebms.UserMessage(
        message_id=ebms.new_message_id(), timestamp=now, from_party=sender,
        to_party=receiver, conversation_id=conversation,
        parts=(ebms.Part("cid:" + cid, dict(SED_PROPERTIES)),),
        properties={"originalSender": sender, "finalRecipient": receiver})


def package(message, payload, signer, compressed=None):
    """(Content-Type, body) of a signed AS4 user message with `payload` gzip-compressed."""
    data = compressed if compressed is not None else gzip.compress(payload)
    env = ebms.user_message_envelope(message)
    cid = message.parts[0].content_id
    signature.sign(env, {cid: data}, signer)
    return mime.write(etree.tostring(env), [(cid, "application/gzip", data)])


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def sed(sender, receiver, sed_type="A003", buc="LA_BUC_02", case_id="case-1", opens=True,
        ssins=(), sender_role="CaseOwner", receiver_role="CounterParty"):
    """An SBDH document (the SED 4.2 layout) holding a SED that names `ssins` as Belgian
    PINs."""
    pins = "".join(
        "<PersonIdentificationNumber><Country>BE</Country>"
        "<PersonIdentificationNumber>%s</PersonIdentificationNumber>"
        "</PersonIdentificationNumber>" % s for s in ssins)
    return ("""<?xml version="1.0" encoding="UTF-8"?>
<sbdh:StandardBusinessDocument xmlns:sbdh="http://eessi.dgempl.ec.europa.eu/namespaces/sbdh">
  <sbdh:StandardBusinessDocumentHeader>
    <sbdh:HeaderVersion>1.1</sbdh:HeaderVersion>
    <sbdh:Sender><sbdh:ContactTypeIdentifier>%(sender_role)s</sbdh:ContactTypeIdentifier>
      <sbdh:Identifier Authority="urn:eu:europa:ec:dgempl:eessi:ir">%(sender)s</sbdh:Identifier>
    </sbdh:Sender>
    <sbdh:Receiver><sbdh:ContactTypeIdentifier>%(receiver_role)s</sbdh:ContactTypeIdentifier>
      <sbdh:Identifier Authority="urn:eu:europa:ec:dgempl:eessi:ir">%(receiver)s</sbdh:Identifier>
    </sbdh:Receiver>
    <sbdh:DocumentIdentification>
      <sbdh:CreationDateAndTime>2026-11-30T10:00:00Z</sbdh:CreationDateAndTime>
      <sbdh:CaseAction>%(action)s</sbdh:CaseAction>
      <sbdh:Type>%(sed_type)s</sbdh:Type>
      <sbdh:InstanceIdentifier>%(document)s</sbdh:InstanceIdentifier>
      <sbdh:TypeVersion>4.2</sbdh:TypeVersion>
    </sbdh:DocumentIdentification>
    <sbdh:BusinessScope>
      <sbdh:DocumentVersion>1</sbdh:DocumentVersion>
      <sbdh:CaseId><sbdh:InstanceIdentifier>%(case_id)s</sbdh:InstanceIdentifier>
        <sbdh:BusinessServiceName>%(buc)s:4.2</sbdh:BusinessServiceName></sbdh:CaseId>
    </sbdh:BusinessScope>
  </sbdh:StandardBusinessDocumentHeader>
  <%(sed_type)s xmlns="http://ec.europa.eu/eessi/ns/4_2/%(sed_type)s">
    <InsuredPerson><PersonIdentification>
      <FamilyName>Peeters</FamilyName><Forename>An</Forename>%(pins)s
    </PersonIdentification></InsuredPerson>
  </%(sed_type)s>
</sbdh:StandardBusinessDocument>""" % dict(
        sender=sender, receiver=receiver, sender_role=sender_role,
        receiver_role=receiver_role, sed_type=sed_type, buc=buc, case_id=case_id,
        action="Start" if opens else "Update", document=uuid.uuid4(),
        pins=pins)).encode("utf-8")
