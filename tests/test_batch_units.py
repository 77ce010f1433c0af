"""The batch channel's file-name grammar and FS signature, alone."""
import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kszws.batch import names, signature
from kszws.security import pki


@pytest.mark.parametrize("text", [
    "FI.DMFA.006400.20070423.00001.R.4.1", "FO.ACRF.999999.20070423.00001.R",
    "FS.IDPR.170001.20261201.24AZG.T", "GO.IDPR.170001.20261201.00001.S",
    "TD.IDPR.170001.20261201.00001.R"])
def test_names_of_the_grammar_read_and_write_back(text):
    assert str(names.parse(text)) == text


@pytest.mark.parametrize("text, why", [
    ("XX.IDPR.170001.20261201.00001.R", "prefix"),
    ("FI.IDPR.170001.20261201.00001.X", "environment"),
    ("FI.IDPR.170001.20261301.00001.R", "not a date"),
    ("FI.IDPR.17001.20261201.00001.R", "does not follow"),
    ("FI.IDPR.170001.20261201.00001.R.3.4", "part 4 of 3"),
    ("FI.IDPR.170001.20261201.00001.R.3.0", "part 0 of 3"),
    ("FI.IDPR.170001.20261201.00001.R.", "does not follow"),
    ("../FI.IDPR.170001.20261201.00001.R", "does not follow"),
    ("FI.idpr.170001.20261201.00001.R", "does not follow"),
    ("FI.IDPR.170001.20261201.00001.R" + "x" * 100, "not a batch file name"),
])
def test_names_outside_the_grammar_say_why(text, why):
    with pytest.raises(names.BadName, match=why):
        names.parse(text)


def test_a_part_and_its_whole():
    part = names.parse("FI.DMFA.006400.20070423.00001.R.4.2")
    assert str(part.as_("FS")) == "FS.DMFA.006400.20070423.00001.R.4.2"
    assert str(part.whole.as_("GO")) == "GO.DMFA.006400.20070423.00001.R"
    assert part.key == ("006400", datetime.date(2007, 4, 23), "00001", "R")


@pytest.mark.parametrize("make", [lambda: pki.new_key("rsa2048"), lambda: pki.new_key("ec256")])
def test_the_fs_verifies_with_the_signer_certificate_only(tmp_path, make):
    ca_key, ca = pki.make_ca()
    key, cert = pki.issue(ca_key, ca, "signer", key=make())
    other_key, other = pki.issue(ca_key, ca, "other")
    pki.write_cert(tmp_path / "signer.crt", cert)
    pki.write_cert(tmp_path / "other.crt", other)
    body = tmp_path / "FI"
    body.write_bytes(b"<b/>" * 100_000)
    fs = signature.sign(key, signature.digest_file(body))
    assert signature.verify(fs, signature.digest_file(body),
                            [tmp_path / "other.crt", tmp_path / "signer.crt"]) == (
        tmp_path / "signer.crt")
    with pytest.raises(signature.BadSignature):
        signature.verify(fs, signature.digest_file(body), [tmp_path / "other.crt"])
    body.write_bytes(b"<b/>" * 100_000 + b" ")  # one byte more
    with pytest.raises(signature.BadSignature):
        signature.verify(fs, signature.digest_file(body), [tmp_path / "signer.crt"])
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))


@pytest.mark.parametrize("fs", [b"not base64 !", b"A" * 5000, b""])
def test_an_fs_that_is_no_signature_is_refused(tmp_path, fs):
    ca_key, ca = pki.make_ca()
    _, cert = pki.issue(ca_key, ca, "signer")
    pki.write_cert(tmp_path / "signer.crt", cert)
    with pytest.raises(signature.BadSignature):
        signature.verify(fs, b"\0" * 32, [tmp_path / "signer.crt"])


@pytest.mark.parametrize("example, kind", [("idpr.xml", "IDPR"), ("pens.xml", "PENS")])
def test_the_examples_hold_to_their_schemas(example, kind):
    from lxml import etree

    from kszws.batch.kinds.common import XSD, schema

    root = etree.parse(str(XSD.parents[1] / "examples" / "batch" / example)).getroot()
    envelope = etree.XMLSchema(etree.parse(str(XSD / "BatchFile.xsd")))
    assert envelope.validate(root), envelope.error_log
    assert root.findtext("{urn:kszws:batch:v1}Header/{urn:kszws:batch:v1}Type") == kind
    record = schema(kind)
    records = list(root.iter("{urn:kszws:batch:v1}Record"))
    assert len(records) == int(root.findtext(".//{urn:kszws:batch:v1}RecordCount")) > 0
    assert all(record.validate(r) for r in records), record.error_log
