"""Keys, certificates and messages for the EESSI tests: real RSA keys issued by a test CA,
AS4 user messages carrying a gzip-compressed SED."""
import datetime
import gzip

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
