"""The demo PKI (cryptography): a CA, and a key and certificate per institution.

Generated on each machine by `kszws pki init`, never committed. In production the
certificates come from the real PKI; only `conf/institutions.toml` changes. `kszws pki
keystore ID` packs an institution's key and certificate as PKCS#12 for the tools that want
a keystore (SoapUI, Java clients, browsers).
"""
import contextlib
import datetime
import ipaddress
import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kszws.security.keystore import key_path_for

KEY_TYPES = ("rsa2048", "rsa3072", "ec256")
# The names a demo certificate serves TLS under: clients reach the demo on loopback by
# name or by address, and TLS checks that the certificate names what they dialled.
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")


def new_key(key_type="rsa2048"):
    if key_type == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "rsa3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError("key type must be one of %s" % ", ".join(KEY_TYPES))


def _name(common_name, organization=None, serial_number=None):
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "BE")]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _upto64(organization)))
    if serial_number:
        # The enterprise number, as Belgian government certificates carry it.
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, _upto64(common_name)))
    return x509.Name(attrs)


def _upto64(text):
    """X.520 caps these attributes at 64 (cryptography counts UTF-8 bytes): cut whole
    characters until the text fits."""
    while len(text.encode("utf-8")) > 64:
        text = text[:-1]
    return text


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def make_ca(common_name="kszws demo CA", days=3650, key_type="rsa2048"):
    key = new_key(key_type)
    name = _name(common_name, "kszws demo")
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(ca_key, ca_cert, common_name, organization=None, cbe=None, key=None, days=825,
          not_before=None, not_after=None, dns_names=(), ip_addresses=(),
          key_type="rsa2048"):
    """A leaf certificate for signing (WS-Security), TLS server and TLS client use.
    `not_before`/`not_after` let tests make expired or future certificates."""
    key = key or new_key(key_type)
    now = _now()
    not_before = not_before or now - datetime.timedelta(minutes=5)
    not_after = not_after or now + datetime.timedelta(days=days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization, cbe))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH,
                                              ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    names = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def names_loopback(cert):
    """True if `cert` names every loopback name and address (LOOPBACK_*) for TLS."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    named = set(san.get_values_for_type(x509.DNSName))
    named |= {str(a) for a in san.get_values_for_type(x509.IPAddress)}
    return set(LOOPBACK_NAMES) | set(LOOPBACK_ADDRESSES) <= named


def write_key(path, key):
    write_private(path, key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))


def write_cert(path, cert):
    Path(path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def write_keystore(path, alias, key, cert, chain, password):
    """A PKCS#12 keystore: `key` and `cert` under `alias`, with the `chain` certificates.
    Encrypted with PBES2 (AES-256, PBKDF2) and an HMAC-SHA256 MAC, which Java reads since
    8u301 (SoapUI 5.7 ships Java 17); mode 0600 like the PEM keys."""
    data = pkcs12.serialize_key_and_certificates(alias.encode("utf-8"), key, cert, chain,
                                                 _pkcs12_encryption(password))
    write_private(path, data)


def write_truststore(path, certificates, password):
    """A Java truststore (PKCS#12 whose certificates are trusted entries): `certificates`
    is {alias: certificate}."""
    entries = [pkcs12.PKCS12Certificate(cert, alias.encode("utf-8"))
               for alias, cert in certificates.items()]
    write_private(path, pkcs12.serialize_java_truststore(entries,
                                                          _pkcs12_encryption(password)))


def _pkcs12_encryption(password):
    if not password:
        raise ValueError("a PKCS#12 file needs a password")
    return (serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(100_000)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password.encode("utf-8")))


def write_private(path, data):
    """Write a secret (a key, a keystore) readable by its owner only. Through a new file
    renamed into place: a file or symlink already at `path` (someone else's, 0666, or
    pointing elsewhere) is replaced, never written through, and a reader never sees half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".%s." % path.name)  # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_key(path):
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def read_cert(path):
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def init_pki(certs_dir, institutions, key_type="rsa2048", force=False):
    """Make the CA (once) and a key + certificate for every institution that has none.

    `institutions`: Institution objects (registry). Returns the list of files written."""
    certs_dir = Path(certs_dir)
    certs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    ca_key_path, ca_cert_path = certs_dir / "ca.key", certs_dir / "ca.crt"
    if force or not ca_cert_path.exists():
        ca_key, ca_cert = make_ca(key_type=key_type)
        write_key(ca_key_path, ca_key)
        write_cert(ca_cert_path, ca_cert)
        written += [ca_key_path, ca_cert_path]
        force = True  # a new CA re-issues every certificate
    else:
        ca_key, ca_cert = read_key(ca_key_path), read_cert(ca_cert_path)
    for inst in institutions:
        cert_path = Path(inst.certificates[0])
        key_path = key_path_for(cert_path)
        if cert_path.exists() and key_path.exists() and not force:
            continue
        key, cert = issue(ca_key, ca_cert, inst.name, inst.name, inst.cbe,
                          dns_names=LOOPBACK_NAMES, ip_addresses=LOOPBACK_ADDRESSES,
                          key_type=key_type)
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        write_key(key_path, key)
        write_cert(cert_path, cert)
        written += [key_path, cert_path]
    return written


def init_ssh_keys(certs_dir, owners):
    """An Ed25519 SSH key pair (OpenSSH formats) for each of `owners` (ids) that has none:
    certs/<id>.ssh (private, 0600) and certs/<id>.ssh.pub. The institutions log in to the
    batch drop box with theirs; the hub's (kszws-hub.ssh) is the drop box's host key.
    Returns the files written."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    written = []
    for owner in owners:
        private_path = Path(certs_dir) / ("%s.ssh" % owner)
        public_path = private_path.with_name(private_path.name + ".pub")
        if private_path.exists() and public_path.exists():
            continue
        key = ed25519.Ed25519PrivateKey.generate()
        write_private(private_path, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption()))
        public_path.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            + (" %s\n" % owner).encode("ascii"))
        written += [private_path, public_path]
    return written


def name_loopback(certs_dir, institution):
    """Re-issue `institution`'s certificate, same key and subject, when it does not name
    every loopback name and address (a PKI made before they were added): the demo serves
    HTTPS on 127.0.0.1 with the hub's. Returns True if it was re-issued."""
    cert_path = Path(institution.certificates[0])
    cert = read_cert(cert_path)
    if names_loopback(cert):
        return False
    ca_key, ca_cert = read_key(Path(certs_dir) / "ca.key"), read_cert(Path(certs_dir) / "ca.crt")
    _, cert = issue(ca_key, ca_cert, institution.name, institution.name, institution.cbe,
                    key=read_key(key_path_for(cert_path)), dns_names=LOOPBACK_NAMES,
                    ip_addresses=LOOPBACK_ADDRESSES)
    write_cert(cert_path, cert)
    return True
