"""Drive the PyPI package `as4` (0.2.0, https://github.com/dbkosky/as4) as a foreign EESSI
access point, for tests/test_eessi_interop.py. It runs ONLY in the package's own virtual
environment (.interop/as4-venv), never inside kszws: it imports nothing of kszws.

The package ships one profile, Peppol, which always encrypts, wraps the payload in the
UN/CEFACT SBDH and names Peppol parties. EESSI signs but does not encrypt, carries its own
SBDH and uses the Institution Repository's parties, so an "eessi" profile is assembled
here from the package's own pieces: its ebMS/WS-Security models, its signed-info, digest
and signature builders (PeppolAS4Message's classmethods), its parser, verifier, receipt
builder and receipt checker (AS4Message, AS4Receipt, AS4SendingExchange,
AS4ReceivingExchange). What the profile changes is listed in PROFILE_NOTES, printed with
every result.

    send   build and sign a SED message, POST it over HTTPS with a client certificate, verify
           the receipt (signature by the expected certificate, NRR digests against what was
           signed); one JSON object on stdout
    serve  an HTTPS receiver (client certificate required): parse and verify each pushed
           message with the package and answer with its signed receipt (or error signal);
           prints {"port": N}, then one JSON object per message received
"""
import argparse
import base64
import gzip
import hashlib
import http.server
import json
import ssl
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import cast

import urllib3
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import BaseModel

from as4 import (AS4BaseCredentials, AS4ExternalParty, AS4InternalCredentials,
                 AS4InternalParty, AS4LocalPrivateKey, AS4PartyIdentity, AS4Profile,
                 AS4ReceivingExchange, AS4References, AS4SendingExchange,
                 ReceiptVerificationError, SecurityPolicy, pinned_certificates)
from as4.core.message import AS4Message
from as4.core.receipt import AS4Receipt
from as4.errors import PayloadPartNotFoundException, SoapPartNotFoundException
from as4.models.common import NAMESPACES
from as4.models.ebms.message_info import MessageId, MessageInfo, Timestamp
from as4.models.ebms.user_message import (Action, CollaborationInfo, ConversationId,
                                          MessageProperties, PartInfo, PartProperties,
                                          PartyFrom, PartyId, PartyInfo, PartyTo,
                                          PayloadInfo, Property, Role, Service, UserMessage)
from as4.models.soap.envelope import Body, Envelope
from as4.models.soap.header import Header
from as4.models.wsse.security import Security
from as4.profiles.peppol.message import PeppolAS4Message
from as4.utils.mime_handler import MIMEHandler

PARTY_TYPE = "urn:eu:europa:ec:dgempl:eessi:ir"
ROLE = "urn:eu:europa:ec:dgempl:eessi:ir:institution"
SERVICE_TYPE = "urn:eu:europa:ec:dgempl:eessi"

PROFILE_NOTES = [
    "encryption off: no xenc:EncryptedKey/EncryptedData and one BinarySecurityToken (the "
    "signer's); the Peppol builder always encrypts and also embeds the receiver's token",
    "payload sent as given (the EESSI SBDH), gzip-compressed; not wrapped in the UN/CEFACT SBDH",
    "eb:PartyId type urn:eu:europa:ec:dgempl:eessi:ir, eb:Role ...:ir:institution (the "
    "package's AS4PartyIdentity always writes the ebMS initiator/responder roles)",
    "no eb:AgreementRef; Service BusinessMessaging/urn:eu:europa:ec:dgempl:eessi, Action Send",
    "MessageProperties originalSender/finalRecipient without @type; PartProperties "
    "PartType=SED, MimeType, CompressionType",
    "receiving: an unencrypted attachment is its own 'decrypted data' (the package checks "
    "cid: digests only against decrypted data, so as shipped it refuses every unencrypted "
    "signed attachment with EBMS:0101 'Cannot resolve signature reference')",
    "receiving: any non-root MIME part with a Content-ID is an attachment (the package's "
    "Peppol unpacking takes only the first application/octet-stream part)",
]


# --- the eessi profile, from the package's pieces -----------------------------------------

class EessiBuilderArgs(BaseModel):
    namespace_map: dict[str, str] = NAMESPACES  # what PeppolAS4Message.get_signature reads
    original_sender: str
    final_recipient: str
    content_id: str = "defaultSED"


def party(cls, identity):
    return cls(party_id=PartyId(value=identity.party_id, type_value=identity.party_type),
               role=Role(value=ROLE))


class EessiAS4Message(AS4Message):

    @classmethod
    def build_message(cls, payload, *, local_party, remote_party, builder_args, references):
        compressed = gzip.compress(payload)
        cid = builder_args.content_id
        user_message = UserMessage(
            message_info=MessageInfo(timestamp=Timestamp(value=datetime.now(UTC)),
                                     message_id=MessageId(value=references.message_id)),
            party_info=PartyInfo(party_from=party(PartyFrom, local_party.identity),
                                 party_to=party(PartyTo, remote_party.identity)),
            collaboration_info=CollaborationInfo(
                service=Service(value="BusinessMessaging", type_value=SERVICE_TYPE),
                action=Action(value="Send"),
                conversation_id=ConversationId(value=references.conversation_id)),
            message_properties=MessageProperties(properties=[
                Property(name="originalSender", value=builder_args.original_sender),
                Property(name="finalRecipient", value=builder_args.final_recipient)]),
            payload_info=PayloadInfo(part_info=[PartInfo(
                href="cid:" + cid,
                part_properties=PartProperties(properties=[
                    Property(name="PartType", value="SED"),
                    Property(name="MimeType", value="application/xml"),
                    Property(name="CompressionType", value="application/gzip")]))]))
        messaging = PeppolAS4Message.get_messaging(references, user_message)
        body = Body(body_id=references.body_id)
        signed_info = PeppolAS4Message.get_signed_info(references, messaging, body,
                                                       {cid: compressed})
        signature = PeppolAS4Message.get_signature(local_party, builder_args, references,
                                                   signed_info)
        envelope = Envelope(
            header=Header(security=Security(
                binary_security_tokens=[PeppolAS4Message.get_local_binary_security_token(
                    local_party, references)],
                signature=signature), messaging=messaging),
            body=body)
        return cls(soap_envelope=envelope, message_id=references.message_id,
                   messaging_id=references.messaging_id, mime_attachments={cid: compressed},
                   decrypted_data={cid: payload}, profile_name="eessi")

    @classmethod
    def get_decrypted_data(cls, parse_context, security, mime_attachments):
        if security.encrypted_key is None and not parse_context.security_policy.encrypt_required:
            return dict(mime_attachments)
        return super().get_decrypted_data(parse_context, security, mime_attachments)


class EessiAS4Profile(AS4Profile[EessiAS4Message, AS4Receipt, EessiBuilderArgs]):

    @classmethod
    def get_profile_name(cls):
        return "eessi"

    @classmethod
    def message_class(cls):
        return EessiAS4Message

    @classmethod
    def receipt_class(cls):
        return AS4Receipt

    @classmethod
    def build_message(cls, payload, *, local_party, remote_party, builder_args,
                      references=None):
        return EessiAS4Message.build_message(
            payload, local_party=local_party, remote_party=remote_party,
            builder_args=builder_args, references=references or AS4References())

    @classmethod
    def unpack_message(cls, payload):
        message = cast(EmailMessage, MIMEHandler.parser.parsebytes(payload))
        if message.get_content_type() == "application/soap+xml":
            return message.get_payload(decode=True), {}
        if message.get_content_type() != "multipart/related":
            raise SoapPartNotFoundException()
        parts = list(message.iter_parts())
        start = (message.get_param("start") or "").strip("<>")
        root = next((p for p in parts if start and MIMEHandler.get_content_id(p) == start),
                    parts[0] if parts else None)
        if root is None or root.get_content_type() != "application/soap+xml":
            raise SoapPartNotFoundException()
        attachments = {}
        for part in parts:
            if part is root:
                continue
            cid = MIMEHandler.get_content_id(part)
            if not cid:
                raise PayloadPartNotFoundException(detail="a part without Content-ID")
            attachments[cid] = part.get_payload(decode=True)
        return root.get_payload(decode=True), attachments

    @classmethod
    def parse_receipt(cls, payload, expected_signer):
        return AS4Receipt.parse(payload, expected_signer)


Sending = AS4SendingExchange[EessiAS4Message, AS4Receipt, EessiBuilderArgs]
Receiving = AS4ReceivingExchange[EessiAS4Message, AS4Receipt, EessiBuilderArgs]


# --- helpers -----------------------------------------------------------------------------------

def certificate(path):
    with open(path, "rb") as fh:
        return x509.load_pem_x509_certificate(fh.read())


def internal_party(party_id, cert_path, key_path):
    with open(key_path, "rb") as fh:
        key = load_pem_private_key(fh.read(), password=None)
    return AS4InternalParty(
        identity=AS4PartyIdentity(party_id=party_id, party_type=PARTY_TYPE),
        credentials=AS4InternalCredentials(certificate=certificate(cert_path),
                                           private_key=AS4LocalPrivateKey(key)))


def external_party(party_id, cert_path):
    return AS4ExternalParty(
        identity=AS4PartyIdentity(party_id=party_id, party_type=PARTY_TYPE),
        credentials=AS4BaseCredentials(certificate=certificate(cert_path)))


def references_json(references):
    return [r.model_dump() for r in references]


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def package_version():
    from importlib.metadata import version
    return version("as4")


# --- send -------------------------------------------------------------------------------------

def send(args):
    with open(args.sed, "rb") as fh:
        sed = fh.read()
    exchange = Sending(profile=EessiAS4Profile,
                       local_party=internal_party(args.sender, args.cert, args.key),
                       remote_party=external_party(args.receiver, args.peer_cert))
    if args.conversation:
        exchange.identifiers.conversation_id = args.conversation
    headers, body = exchange.build(sed, EessiBuilderArgs(original_sender=args.sender,
                                                         final_recipient=args.receiver))
    if args.dump:
        with open(args.dump, "wb") as fh:
            fh.write(json.dumps(headers).encode() + b"\n" + body)
    pool = urllib3.PoolManager(cert_file=args.cert, key_file=args.key, ca_certs=args.ca,
                               cert_reqs="CERT_REQUIRED")
    reply = pool.request("POST", args.url, body=body, headers=headers, timeout=30.0,
                         retries=False)
    exchange.mark_sent()
    result = {"version": package_version(), "profile": PROFILE_NOTES,
              "message_id": exchange.message_id, "http_status": reply.status,
              "reply_content_type": reply.headers.get("Content-Type"),
              "request_content_type": headers["Content-Type"],
              "signed_references": references_json(exchange.signed_references),
              "reply": base64.b64encode(reply.data).decode()}
    try:
        exchange.receive_signal(reply.data)
        result["verified"] = None
    except ReceiptVerificationError as error:
        result["verified"] = str(error)
    result["state"] = str(exchange.state)
    if exchange.receipt is not None:
        result["acknowledged"] = references_json(exchange.receipt.non_repudiated_references)
        result["errors"] = [[e.error_code, e.severity, e.error_detail.value if e.error_detail
                             else ""] for e in exchange.receipt.errors]
    emit(result)


# --- serve ------------------------------------------------------------------------------------

def serve(args):
    local = internal_party(args.party, args.cert, args.key)
    policy = SecurityPolicy(sign_required=True, encrypt_required=False,
                            signer_resolver=pinned_certificates(
                                *[certificate(p) for p in args.signer_cert]),
                            verify_participants=False)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            exchange = Receiving(profile=EessiAS4Profile, local_party=local)
            exchange.receive({"Content-Type": self.headers.get("Content-Type", "")}, body,
                             security_policy=policy)
            signal_headers, signal = exchange.build_signal()
            self.send_response(200)
            for name, value in signal_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(signal)))
            self.end_headers()
            self.wfile.write(signal)
            message = exchange.message
            error = message.parse_error if message is not None else None
            payloads = {cid: base64.b64encode(data).decode()
                        for cid, data in (message.decrypted_data if message else {}).items()}
            emit({"path": self.path, "state": str(exchange.state),
                  "message_id": exchange.message_id,
                  "error": None if error is None else [error.error_code, error.detail],
                  "from": (exchange.remote_party.identity.party_id
                           if exchange.remote_party else None),
                  "signer": (message.signer_certificate.subject.rfc4514_string()
                             if message is not None and message.signer_certificate else None),
                  "signed_references": references_json(exchange.signed_references),
                  "payloads": payloads,
                  "payload_sha256": {cid: hashlib.sha256(base64.b64decode(v)).hexdigest()
                                     for cid, v in payloads.items()}})

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=args.client_ca)
    context.verify_mode = ssl.CERT_REQUIRED  # EESSI: TLS with a client certificate
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    emit({"port": server.server_address[1], "version": package_version(),
          "profile": PROFILE_NOTES})
    server.serve_forever()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("send")
    s.add_argument("--url", required=True)
    s.add_argument("--cert", required=True, help="signing and TLS client certificate (PEM)")
    s.add_argument("--key", required=True)
    s.add_argument("--ca", required=True, help="CA of the receiver's TLS certificate")
    s.add_argument("--peer-cert", required=True, help="the certificate the receipt is signed by")
    s.add_argument("--sender", required=True)
    s.add_argument("--receiver", required=True)
    s.add_argument("--sed", required=True)
    s.add_argument("--conversation")
    s.add_argument("--dump", help="write the request (headers JSON line + body) here")
    r = commands.add_parser("serve")
    r.add_argument("--party", required=True)
    r.add_argument("--cert", required=True, help="signing and TLS server certificate (PEM)")
    r.add_argument("--key", required=True)
    r.add_argument("--client-ca", required=True)
    r.add_argument("--signer-cert", required=True, action="append",
                   help="a certificate the pushed messages may be signed by (pinned)")
    args = parser.parse_args(argv)
    {"send": send, "serve": serve}[args.command](args)


if __name__ == "__main__":
    main()
