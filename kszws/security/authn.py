"""Who is calling: the security gate in front of every service.

A caller proves its identity in one of these ways (CONTRACTS.md §2), tried in this order:
1. a WS-Security signature with a registered certificate (strict policy of wsse.py);
2. HTTP Basic, user "E" + enterprise number, for institutions in `basic` mode;
3. a TLS client certificate registered for an institution in `client-cert` mode;
4. a registered source address, for institutions in `address` mode (classic clients).
Then the endpoint's and the institution's policies decide whether that proof suffices.
"""
import base64
import binascii
import datetime
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import Encoding

from kszws.security import wsse
from kszws.security.keystore import KeyStoreError, TrustStore, load_certificate
from kszws.wire.reasons import Refusal


@dataclass(frozen=True)
class Transport:
    """What the HTTP layer knows about a request."""
    peer: str = ""
    authorization: bytes = b""  # the Authorization header, raw
    client_certificate: bytes = b""  # DER of the TLS client certificate, if any
    secure: bool = False

    @classmethod
    def of(cls, request):
        """What a twisted.web request tells: its peer, Authorization, TLS client cert."""
        get = getattr(request.channel.transport, "getPeerCertificate", None)
        cert = get() if get is not None and request.isSecure() else None
        return cls(peer=getattr(request.getClientAddress(), "host", "") or "",
                   authorization=request.getHeader(b"authorization") or b"",
                   client_certificate=cert.to_cryptography().public_bytes(Encoding.DER)
                   if cert is not None else b"",
                   secure=request.isSecure())


@dataclass(frozen=True)
class Caller:
    institution: object  # registry.Institution, or None when anonymous
    method: str  # signature | basic | client-cert | address | anonymous
    certificate_subject: str = ""
    replay_token: str = ""
    replay_until: datetime.datetime = None
    plain_http: bool = False  # anonymous over plain HTTP: no client certificate could come

    @property
    def signed(self):
        return self.method == "signature"


ANONYMOUS = Caller(None, "anonymous")
ANONYMOUS_PLAIN_HTTP = Caller(None, "anonymous", plain_http=True)

# SEC00001's diagnostic for a caller that proved nothing over plain HTTP: the hub cannot
# know who it is, but a client-certificate institution there has simply missed HTTPS.
PLAIN_HTTP_HINT = ("Authentication is required for this endpoint. Over plain HTTP no TLS "
                   "client certificate can be presented: institutions that authenticate "
                   "with one must call the hub's HTTPS URL.")


def build_trust_store(registry):
    """Load the registered certificate(s) of every institution; errors name the institution."""
    trust = TrustStore()
    for inst in registry.institutions.values():
        for path in inst.certificates:
            try:
                trust.add(load_certificate(path), inst)
            except KeyStoreError as exc:
                raise KeyStoreError("institution %s: %s" % (inst.id, exc)) from None
    return trust


class Authenticator:
    def __init__(self, registry, trust, credentials, policy, clock):
        self.registry = registry
        self.trust = trust
        self.credentials = credentials
        self.policy = policy
        self.clock = clock

    def identify(self, root, header, body, transport):
        """The caller of a parsed request (no policy yet); raise Refusal on a bad proof."""
        if wsse.security_headers(root):
            verified = wsse.verify(root, header, body, self.policy, self.trust, self.clock())
            caller = Caller(verified.principal, "signature", verified.certificate.subject,
                            verified.replay_token, verified.replay_until)
            basic = self._basic(transport)
            if basic is not None and basic.institution is not caller.institution:
                raise Refusal("SEC00009", "HTTP Basic user and signer are different institutions")
            return caller
        basic = self._basic(transport)
        if basic is not None:
            return basic
        if transport.client_certificate:
            entry = self.trust.by_der(transport.client_certificate)
            if entry is None:
                raise Refusal("SEC00011")
            institution, certificate = entry
            if not certificate.valid_at(self.clock()):
                raise Refusal("SEC00005", "client certificate outside its validity period")
            return Caller(institution, "client-cert", certificate.subject)
        institution = self.registry.by_address(transport.peer)
        if institution is not None:
            return Caller(institution, "address")
        return ANONYMOUS if transport.secure else ANONYMOUS_PLAIN_HTTP

    def _basic(self, transport):
        header = transport.authorization
        if not header:
            return None
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            raise Refusal("SEC00009", "only the Basic HTTP authentication scheme is supported")
        try:
            username, sep, password = base64.b64decode(encoded.strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Refusal("SEC00009", "malformed Basic credentials") from None
        institution = self.registry.by_basic_username(username)
        if not sep or institution is None or not self.credentials.check(username, password):
            raise Refusal("SEC00009")
        return Caller(institution, "basic")

    @staticmethod
    def admit(caller, service):
        """Apply the endpoint's and the institution's policy to an identified caller."""
        if caller.institution is None:
            if service.anonymous and not service.signed:
                return
            raise Refusal("SEC00001", PLAIN_HTTP_HINT if caller.plain_http else None)
        if caller.institution.kind == "hub":
            raise Refusal("SEC00004", "the hub's own certificate cannot call the hub")
        if (service.signed or caller.institution.must_sign) and not caller.signed:
            raise Refusal("SEC00010", "%s must sign its requests" % caller.institution.id)
