"""The ebMS 3.0 error codes (Core §6.7, AS4 profile §3.6), as the spec's table gives them;
EBMS:0006, the answer to a pull on an empty channel, is the one warning kszws sends."""
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    code: str
    short: str  # shortDescription
    severity: str  # failure | warning
    category: str  # Content | Communication | Unpackaging | Processing
    description: str


def _table(*rows):
    return {row[0]: ErrorKind(*row) for row in rows}


ERRORS = _table(
    ("EBMS:0001", "ValueNotRecognized", "failure", "Content",
     "An element or attribute value is not recognized."),
    ("EBMS:0002", "FeatureNotSupported", "warning", "Content",
     "The feature is not supported."),
    ("EBMS:0003", "ValueInconsistent", "failure", "Content",
     "A value is inconsistent with other content or the P-Mode."),
    ("EBMS:0004", "Other", "failure", "Content", "Other error."),
    ("EBMS:0005", "ConnectionFailure", "failure", "Communication",
     "The transport connection could not be opened."),
    ("EBMS:0006", "EmptyMessagePartitionChannel", "warning", "Communication",
     "There is no message available for pulling from this MPC."),
    ("EBMS:0007", "MimeInconsistency", "failure", "Unpackaging",
     "The use of MIME is inconsistent with the ebMS specification."),
    ("EBMS:0008", "FeatureNotSupported", "failure", "Unpackaging",
     "An element is present or absent inconsistently with this MSH's capabilities."),
    ("EBMS:0009", "InvalidHeader", "failure", "Unpackaging",
     "The ebMS header is not well-formed or not packaged per the rules."),
    ("EBMS:0010", "ProcessingModeMismatch", "failure", "Processing",
     "The ebMS header is not compatible with the P-Mode."),
    ("EBMS:0011", "ExternalPayloadError", "failure", "Content",
     "An external payload reference cannot be resolved."),
    ("EBMS:0101", "FailedAuthentication", "failure", "Processing",
     "The signature could not be validated."),
    ("EBMS:0102", "FailedDecryption", "failure", "Processing",
     "The message could not be decrypted."),
    ("EBMS:0103", "PolicyNoncompliance", "failure", "Processing",
     "The security policy is not satisfied."),
    ("EBMS:0201", "DysfunctionalReliability", "failure", "Processing",
     "The reliability function is not operational."),
    ("EBMS:0202", "DeliveryFailure", "failure", "Communication",
     "Delivery could not be assured despite resending."),
    ("EBMS:0301", "MissingReceipt", "failure", "Communication",
     "No receipt was received for the message."),
    ("EBMS:0302", "InvalidReceipt", "failure", "Communication",
     "The receipt does not match the message (non-repudiation digests)."),
    ("EBMS:0303", "DecompressionFailure", "failure", "Communication",
     "The payload could not be decompressed."),
)


class EbmsError(Exception):
    """An ebMS error to answer with an error signal. `detail` goes into eb:ErrorDetail: it
    says which check refused, never a stack trace or a local path."""

    def __init__(self, code, detail="", ref_to_message_id=None):
        super().__init__("%s: %s" % (code, detail))
        self.kind = ERRORS[code]
        self.detail = detail
        self.ref_to_message_id = ref_to_message_id

    @property
    def code(self):
        return self.kind.code
