"""The FS file: the detached signature of an FI file (or of the hub's FO files).

Format: base64 of a signature over the exact bytes of the file, SHA-256 with the key of
a certificate registered for the sender (RSA PKCS#1 v1.5, or ECDSA for an EC key: the
kinds `kszws pki init` issues). Chosen over a CMS/PKCS#7 detached signature because
- the real channel's FS is a base64 text file (../shared/batch/README.md), and the
  signer's certificates are already registered: a container carrying certificates adds
  nothing the hub would trust;
- it verifies with the cryptography library the hub pins, in one streaming pass
  (incremental hash), whatever the size of the file;
- no ASN.1 container of the sender's making is parsed before the sender is known (CMS
  parsers are attack surface, and cryptography can sign CMS but not verify it).
"""
import base64
import binascii

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

CHUNK = 1 << 20
MAX_FS_BYTES = 4096  # a base64 signature of a 4096-bit key is 684 characters


class BadSignature(ValueError):
    pass


def digest_file(path):
    """SHA-256 of a file, read in chunks (memory flat whatever its size)."""
    h = hashes.Hash(hashes.SHA256())
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.finalize()


def sign(private_key, digest):
    """The FS text for a file of SHA-256 `digest`."""
    prehashed = utils.Prehashed(hashes.SHA256())
    if isinstance(private_key, rsa.RSAPrivateKey):
        raw = private_key.sign(digest, padding.PKCS1v15(), prehashed)
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        raw = private_key.sign(digest, ec.ECDSA(prehashed))
    else:
        raise TypeError("only RSA and EC keys sign batch files")
    return base64.b64encode(raw) + b"\n"


def verify(fs_bytes, digest, certificate_paths):
    """The path of the registered certificate whose key made `fs_bytes` over `digest`;
    BadSignature when none did (or the FS is not a signature at all)."""
    if len(fs_bytes) > MAX_FS_BYTES:
        raise BadSignature("the FS file is larger than a signature")
    try:
        raw = base64.b64decode(b"".join(fs_bytes.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature("the FS file is not base64") from None
    prehashed = utils.Prehashed(hashes.SHA256())
    for path in certificate_paths:
        with open(path, "rb") as fh:
            key = x509.load_pem_x509_certificate(fh.read()).public_key()
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(raw, digest, padding.PKCS1v15(), prehashed)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(raw, digest, ec.ECDSA(prehashed))
            else:
                continue
            return path
        except InvalidSignature:
            continue
    raise BadSignature("the FS is not a signature of this file by a certificate registered "
                       "for the sender")
