"""The acknowledgement of receipt (FO.ACRF): the hub's answer, within seconds of a GO,
to the formal checks of a submitted file (name, sender number, type, parts, signatures,
sequence, the header's schema). Its shape follows the real ACRF of the social-security
batch channel (../shared/batch/README.md); xsd/Batch/ACRF.xsd is kszws's own schema of
it. ResultCode 1: received and formally correct, processing follows; 0: refused, with
one ErrorID per problem, and nothing of the file is processed.

The ErrorIDs are kszws's catalogue: the real list is not public; ACRF-088 (an invalid
signature) is the one code the README's real ACRF shows."""
from lxml import etree

XSI = "http://www.w3.org/2001/XMLSchema-instance"

ERRORS = {
    "ACRF-001": "the GO names a part: it must name the whole file (no .NPARTS.PART)",
    "ACRF-010": "the sender number in the file name is not the sender's",
    "ACRF-011": "unknown file type",
    "ACRF-020": "the sequence number was already used by this sender on this date and "
                "environment",
    "ACRF-030": "no FI file for this GO",
    "ACRF-031": "the parts of the file are incomplete or inconsistent",
    "ACRF-040": "an FI file has no FS signature file",
    "ACRF-088": "the signature is not valid for a certificate registered for the sender",
    "ACRF-050": "the header is not valid (well-formed XML, xsd/Batch/BatchFile.xsd, the "
                "type and the sender of the file name)",
    "ACRF-060": "the GO file must be empty",
    "ACRF-070": "the institution's files waiting to be processed exceed its quota "
                "(max_queued_bytes): send it again once earlier files are answered",
    "ACRF-099": "the hub could not read the file (its reason is in the hub's log)",
}


def document(go_name, reference, errors, now):
    """The ACRF body for the file that `go_name` started: `errors` [ErrorID], none for a
    positive acknowledgement; `reference` the hub's reference of the file; `now` an aware
    datetime."""
    root = etree.Element("ACRF", nsmap={"xsi": XSI})
    root.set("{%s}noNamespaceSchemaLocation" % XSI, "ACRF.xsd")
    form = etree.SubElement(root, "Form")
    for tag, text in (("Identification", "ACRF001"),
                      ("FormCreationDate", now.strftime("%Y-%m-%d")),
                      ("FormCreationHour", now.strftime("%H:%M:%S.") + "%03d" % (
                          now.microsecond // 1000)),
                      ("AttestationStatus", "0"), ("TypeForm", "PA")):
        etree.SubElement(form, tag).text = text
    ref = etree.SubElement(form, "FileReference")
    etree.SubElement(ref, "FileName").text = str(go_name)
    etree.SubElement(ref, "ReferenceOrigin").text = "2"
    etree.SubElement(ref, "ReferenceNbr").text = reference
    result = etree.SubElement(form, "ReceptionResult")
    etree.SubElement(result, "ResultCode").text = "0" if errors else "1"
    for error in errors:
        etree.SubElement(result, "ErrorID").text = error
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
