"""Keys and certificates, parsed once and kept ready for xmlsec.

Loading a PEM key costs about as much as a signature (~0.8 ms); every object here is built
at start-up and reused for every message.
"""
import base64
import datetime
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


class KeyStoreError(Exception):
    pass


@dataclass(frozen=True, eq=False)
class Certificate:
    der: bytes
    fingerprint: str  # SHA-256 of the DER, hex
    subject: str  # RFC 4514
    issuer: str
    serial: int
    ski: bytes  # SubjectKeyIdentifier (value of the extension, or SHA-1 of the key)
    not_before: datetime.datetime
    not_after: datetime.datetime
    public_key: object  # cryptography's public key, for verification (wsse.py)

    def valid_at(self, moment):
        return self.not_before <= moment <= self.not_after

    @property
    def bst(self):
        """The certificate as a wsse:BinarySecurityToken text (base64 DER)."""
        return base64.b64encode(self.der).decode("ascii")


def certificate_from_x509(cert):
    der = cert.public_bytes(serialization.Encoding.DER)
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return Certificate(
        der=der,
        fingerprint=hashlib.sha256(der).hexdigest(),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=cert.serial_number,
        ski=ski,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        public_key=cert.public_key(),
    )


def certificate_from_der(der):
    return certificate_from_x509(x509.load_der_x509_certificate(der))


def load_certificate(path):
    try:
        return certificate_from_x509(x509.load_pem_x509_certificate(Path(path).read_bytes()))
    except FileNotFoundError:
        raise KeyStoreError("certificate %s not found (run `kszws pki init`)" % path) from None
    except ValueError as exc:
        raise KeyStoreError("certificate %s is not a PEM certificate: %s" % (path, exc)) from None


def key_path_for(cert_path):
    """Where an institution's private key lives: beside its certificate, .key for .crt."""
    return Path(cert_path).with_suffix(".key")


@dataclass(frozen=True, eq=False)
class SigningIdentity:
    """A private key ready to sign, with its certificate."""
    private: object  # cryptography private key (RSA or EC)
    key: object  # the same key as an xmlsec.Key
    certificate: Certificate
    algorithm: object  # xmlsec.Transform for SignatureMethod

def load_signing_identity(cert_path, key_path=None):
    key_path = key_path or key_path_for(cert_path)
    try:
        pem = Path(key_path).read_bytes()
    except FileNotFoundError:
        raise KeyStoreError("key %s not found (run `kszws pki init`)" % key_path) from None
    # Our own key file, written by `kszws pki init`: OpenSSL's RSA consistency checks
    # (50 ms, a third of a `kszws call`'s start) guard against hostile keys, not ours; a
    # broken key could only make signatures that the peer refuses.
    private = serialization.load_pem_private_key(pem, password=None,
                                                 unsafe_skip_rsa_key_validation=True)
    if isinstance(private, rsa.RSAPrivateKey):
        algorithm = xmlsec.Transform.RSA_SHA256
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        algorithm = xmlsec.Transform.ECDSA_SHA256
    else:
        raise KeyStoreError("key %s: only RSA and EC keys can sign" % key_path)
    certificate = load_certificate(cert_path)
    key = xmlsec.Key.from_memory(pem, xmlsec.KeyFormat.PEM)
    return SigningIdentity(private=private, key=key, certificate=certificate,
                           algorithm=algorithm)


class TrustStore:
    """The registered certificates of the institutions, by every way a signature can point
    at one: the certificate itself (BinarySecurityToken), issuer + serial, or SKI."""

    def __init__(self):
        self._by_fingerprint = {}
        self._by_issuer_serial = {}
        self._by_ski = {}

    def add(self, certificate, principal):
        entry = (principal, certificate)
        self._by_fingerprint[certificate.fingerprint] = entry
        self._by_issuer_serial[(_normal_dn(certificate.issuer), certificate.serial)] = entry
        self._by_ski[certificate.ski] = entry

    def by_der(self, der):
        return self._by_fingerprint.get(hashlib.sha256(der).hexdigest())

    def by_issuer_serial(self, issuer, serial):
        return self._by_issuer_serial.get((_normal_dn(issuer), serial))

    def by_ski(self, ski):
        return self._by_ski.get(ski)

    def __len__(self):
        return len(self._by_fingerprint)


def _normal_dn(dn):
    # Issuer names arrive in RFC 4514 or RFC 2253 spelling with varying spaces; compare
    # attribute sets without whitespace and case.
    parts = [p.strip().replace(" ", "").lower() for p in _RDN_SPLIT.split(dn)]
    return tuple(sorted(p for p in parts if p))


_RDN_SPLIT = re.compile(r"(?<!\\)[,;]")
