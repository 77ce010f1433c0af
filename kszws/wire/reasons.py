"""Reason codes: the stable identifiers of every outcome the hub reports.

New-style replies and faults carry a `reasonCode` (max 16 characters). CBSS's own codes
(`MSG000xx`, CONTRACTS.md §3) are kept as they are; the codes kszws adds follow the same
eight-character shape with a prefix that names the layer that refused:
HTTP (transport), XML (parsing), SOAP (envelope), SEC (security), SRC (authentic sources),
LOG (exchange log), BAT (the batch channel).
Codes are part of the contract: never renumber, only add.
"""
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: str
    fault_code: str  # SOAP 1.1 faultcode local name: Client (the caller's fault) or Server
    diagnostic: str
    http_status: int = 500
    severity: str = "FATAL"


def _table(*reasons):
    return {r.code: r for r in reasons}


REASONS = _table(
    Reason("MSG00000", "", "Treatment completed successfully.", 200, "INFORMATION"),
    Reason("MSG00003", "Server", "Unexpected internal error occurred"),
    Reason("MSG00008", "Client", "A validation error occurred."),
    # Business statuses of kszws's new-style consultations (status/code), not faults.
    Reason("DAT00001", "", "No data found for this SSIN.", 200, "INFORMATION"),
    Reason("DAT00002", "", "The SSIN has been cancelled; no data are given.", 200, "INFORMATION"),
    Reason("HTTP0001", "Client", "The request must be an HTTP POST of a SOAP 1.1 message.", 405),
    Reason("HTTP0002", "Client", "The Content-Type must be text/xml (SOAP 1.1).", 415),
    Reason("HTTP0003", "Client", "The request body exceeds the size limit.", 413),
    Reason("HTTP0004", "Client", "The request was not received whole within the time limit.",
           408),
    Reason("HTTP0005", "Client", "The HTTP request is malformed (request line, headers or "
                                 "chunked body).", 400),
    Reason("HTTP0006", "Client", "There is no service at this path.", 404),
    Reason("XML00001", "Client", "The message is not well-formed XML."),
    Reason("XML00002", "Client", "Document type declarations (DTD) and entities are refused."),
    Reason("XML00003", "Client", "The message exceeds the nesting or size limits of the parser."),
    Reason("XML00004", "Client", "The message is not correctly encoded (UTF-8 expected)."),
    Reason("XML00005", "Client", "Processing instructions are refused (SOAP 1.1 §3)."),
    Reason("SOAP0001", "Client", "The message is not a SOAP 1.1 envelope with one Body."),
    Reason("SOAP0002", "Client", "The operation is unknown to this endpoint."),
    Reason("SOAP0003", "MustUnderstand", "A header marked mustUnderstand is not understood."),
    Reason("SOAP0004", "VersionMismatch", "The Envelope is not in the SOAP 1.1 namespace "
                                          "(http://schemas.xmlsoap.org/soap/envelope/)."),
    # 401 with a Basic challenge: clients that send credentials only when challenged
    # (suds' HttpAuthenticated, urllib) then authenticate.
    Reason("SEC00001", "Client", "Authentication is required for this endpoint.", 401),
    Reason("SEC00002", "Client", "The signature does not verify (message altered in transit)."),
    Reason("SEC00003", "Client", "The signature does not satisfy the signature policy."),
    Reason("SEC00004", "Client", "The signing certificate is not registered for any institution."),
    Reason("SEC00005", "Client", "The signing certificate is outside its validity period."),
    Reason("SEC00006", "Client", "The Timestamp is missing, expired or not fresh."),
    Reason("SEC00007", "Client", "This message was already received (replay)."),
    Reason("SEC00008", "Client", "The security header is duplicated or malformed."),
    Reason("SEC00009", "Client", "The HTTP Basic credentials are not valid.", 401),
    Reason("SEC00010", "Client", "This institution must sign its requests (WS-Security)."),
    Reason("SEC00011", "Client", "The client certificate is not registered for any institution."),
    Reason("SEC00012", "Client", "The AuthorizedUser of the message is not the authenticated "
                                 "institution."),
    Reason("ACC00001", "Client", "No published authorization allows the institution's sector "
                                 "to receive these data for this legal context."),
    Reason("ACC00002", "Client", "The institution manages no file on this person in the "
                                 "reference directory, in an authorized quality code, for the "
                                 "period asked."),
    Reason("ACC00003", "Client", "The institution may not consult this access log."),
    Reason("DIR00001", "Client", "The person is registered with this exclusive quality code at "
                                 "another institution of the sector for an overlapping period."),
    Reason("DIR00002", "Client", "The proof of authentication does not match the person."),
    Reason("DIR00003", "Client", "The quality code is not valid in the institution's sector."),
    Reason("DIR00004", "", "There was no registration to end.", 200, "INFORMATION"),
    Reason("DIR00005", "Client", "The SSIN is unknown or cancelled in the National Register."),
    Reason("DIR00006", "Client", "The registration overlaps one of the institution with this "
                                 "quality code, or another line of the load."),
    Reason("DIR00007", "Client", "A line of the load is not valid."),
    Reason("DIR00008", "Client", "The institution manages no file on this person in this "
                                 "quality code for this period."),
    Reason("ATT00001", "Client", "The attestation type is unknown."),
    Reason("ATT00002", "Client", "The institution is not the authentic source of this "
                                 "attestation type."),
    Reason("ATT00003", "Client", "The payload does not conform to the schema of its "
                                 "attestation type."),
    Reason("ATT00004", "Client", "This reference was already published by the institution."),
    Reason("ATT00005", "Client", "The institution published no such attestation."),
    Reason("ATT00006", "Client", "The attestation is cancelled."),
    Reason("ATT00007", "Client", "The SSIN is unknown or cancelled in the National Register."),
    Reason("EMP00001", "Client", "The enterprise number is not valid (check digits)."),
    Reason("EMP00002", "Client", "The NSSO number is not valid (check digits)."),
    Reason("EMP00003", "", "No employer is known under this number.", 200, "INFORMATION"),
    Reason("DIM00001", "Client", "The employer is unknown to the employer directory."),
    Reason("DIM00002", "Client", "Unknown action or worker type."),
    Reason("DIM00003", "Client", "The employer is not an active employer on this date."),
    Reason("DIM00004", "Client", "The dates are inconsistent (an end before the start, or "
                                 "missing)."),
    Reason("DIM00005", "Client", "The worker already has an employment period with this "
                                 "employer that overlaps."),
    Reason("DIM00006", "Client", "The student's yearly quota of hours would be exceeded, or "
                                 "the hours are missing."),
    Reason("DIM00007", "Client", "The employer has no such employment period (or it is "
                                 "cancelled)."),
    Reason("DIM00008", "Client", "The SSIN is unknown or cancelled in the National Register."),
    # The pension cadastre (seed §4.7): declarations answered one by one, a message applied
    # whole or not at all.
    Reason("PEN00001", "Client", "The SSIN is not valid (check digits)."),
    Reason("PEN00002", "Client", "The SSIN is unknown, cancelled or replaced in the National "
           "Register."),
    Reason("PEN00003", "Client", "The gross amount is not positive, or above the absurd-amount "
           "limit."),
    Reason("PEN00004", "Client", "The month is malformed or in the future."),
    Reason("PEN00005", "Client", "No deduction rates are configured for that month."),
    Reason("PEN00006", "Client", "This benefit of this payer is already declared for that month "
           "(correct it instead)."),
    Reason("PEN00007", "Client", "Unknown benefit type or family situation, or no benefit "
           "reference."),
    Reason("PEN00008", "Client", "The payer has no declaration in force with this id."),
    Reason("PEN00009", "Client", "Not applied: another item of the message was refused."),
    Reason("SRC00001", "Server", "The authentic source did not answer in time or is unreachable.", 503),
    Reason("SRC00002", "Server", "The authentic source refused the request."),
    Reason("SRC00003", "Server", "The authentic source's reply could not be verified."),
    Reason("LOG00001", "Server", "The exchange could not be logged; it was not processed."),
    Reason("BAT00001", "Server", "The batch file could not be read any more: it is answered "
           "up to its last processed record."),
)


def reason(code):
    return REASONS[code]


class Refusal(Exception):
    """Raised anywhere on the request path to refuse a message with a stable reason code.

    `detail` is for the exchange log and the fault's diagnostic; it must never contain
    personal data of someone other than the caller, nor a stack trace.
    """

    def __init__(self, code, detail=None):
        detail = _xml_text(detail)
        super().__init__(code, detail)
        self.reason = REASONS[code]
        self.detail = detail

    @property
    def code(self):
        return self.reason.code

    def __str__(self):
        return "%s: %s" % (self.code, self.detail or self.reason.diagnostic)


# Characters XML 1.0 cannot carry. A detail often quotes the input (a declared encoding, a
# header name); the fault that carries it must still be writable (the fuzzer found one
# that was not: a NUL in a declared encoding made building the fault itself fail).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(detail):
    return _NOT_XML.sub("\ufffd", detail) if isinstance(detail, str) else detail
