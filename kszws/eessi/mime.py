"""multipart/related for AS4 (SOAP with Attachments): read the parts of a request, write
those of a message. The SOAP 1.2 envelope is the root part (the `start` parameter's part,
else the first); every other part is a payload named by its Content-ID (`cid:` in
eb:PartInfo and in the signature's references)."""
import email.parser
import email.policy
import secrets
from dataclasses import dataclass

from kszws.eessi.errors import EbmsError

SOAP12_TYPE = "application/soap+xml"
MAX_PARTS = 32  # EESSI sends one SED per message; a flood of parts is refused early


@dataclass(frozen=True)
class Package:
    envelope: bytes  # the root part's bytes (the SOAP 1.2 envelope)
    attachments: dict  # Content-ID without <> -> the part's content (transfer-decoded)
    attachment_types: dict  # Content-ID -> Content-Type


def read(content_type, body):
    """A request's HTTP Content-Type and body -> Package; EBMS:0007 when the MIME
    structure is not what AS4 sends."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == SOAP12_TYPE:  # a signal or a PullRequest: no attachment
        return Package(body, {}, {})
    if kind != "multipart/related":
        raise EbmsError("EBMS:0007", "Content-Type %s: AS4 expects multipart/related or %s"
                        % (kind or "(none)", SOAP12_TYPE))
    if any(ord(c) < 32 or ord(c) > 126 for c in content_type):
        raise EbmsError("EBMS:0007", "the Content-Type holds control or non-ASCII characters")
    header = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(header + body)
    parts = message.get_payload()
    if not message.is_multipart() or not isinstance(parts, list) or not parts:
        raise EbmsError("EBMS:0007", "the multipart body has no parts (boundary %r)"
                        % message.get_boundary())
    if len(parts) > MAX_PARTS:
        raise EbmsError("EBMS:0007", "%d MIME parts (at most %d)" % (len(parts), MAX_PARTS))
    start = _cid(message.get_param("start"))
    root = next((p for p in parts if start and _cid(p.get("Content-ID")) == start), None)
    if start and root is None:
        raise EbmsError("EBMS:0007", "no part has the start Content-ID <%s>" % start)
    root = root or parts[0]
    if root.get_content_type() != SOAP12_TYPE:
        raise EbmsError("EBMS:0007", "the root part is %s, not %s"
                        % (root.get_content_type(), SOAP12_TYPE))
    attachments, types = {}, {}
    for part in parts:
        if part is root:
            continue
        if part.is_multipart():
            raise EbmsError("EBMS:0007", "a nested multipart part")
        cid = _cid(part.get("Content-ID"))
        if not cid or cid in attachments:
            raise EbmsError("EBMS:0007", "an attachment without a unique Content-ID (%r)"
                            % (cid or ""))
        attachments[cid] = part.get_payload(decode=True) or b""
        types[cid] = part.get_content_type()
    return Package(root.get_payload(decode=True) or b"", attachments, types)


def _cid(value):
    value = str(value or "").strip()
    return value[1:-1] if value.startswith("<") and value.endswith(">") else value


def write(envelope, attachments):
    """(HTTP Content-Type, body) of a message: the envelope alone as application/soap+xml
    when there is no attachment, else multipart/related with the envelope first and each
    (content_id, content_type, bytes) attachment after it, binary."""
    if not attachments:
        return SOAP12_TYPE + "; charset=utf-8", envelope
    boundary = "kszws-" + secrets.token_hex(16)  # 128 random bits: cannot occur in a part
    delimiter = b"--" + boundary.encode() + b"\r\n"
    chunks = [delimiter, b"Content-Type: application/soap+xml; charset=utf-8\r\n"
              b"Content-ID: <root.message@kszws>\r\nContent-Transfer-Encoding: binary\r\n\r\n",
              envelope, b"\r\n"]
    for cid, kind, content in attachments:
        chunks += [delimiter, ("Content-Type: %s\r\nContent-ID: <%s>\r\n"
                               "Content-Transfer-Encoding: binary\r\n\r\n" % (kind, cid)).encode(),
                   content, b"\r\n"]
    chunks.append(b"--" + boundary.encode() + b"--\r\n")
    content_type = ('multipart/related; boundary="%s"; type="application/soap+xml"; '
                    'start="<root.message@kszws>"' % boundary)
    return content_type, b"".join(chunks)
