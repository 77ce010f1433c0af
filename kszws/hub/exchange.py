"""One exchange through the hub: what the exchange log records about it."""
import uuid
from dataclasses import dataclass, field


def new_ticket():
    """The hub's ticket for a new-style exchange: a UUID (informationCBSS/ticketCBSS)."""
    return str(uuid.uuid4())


@dataclass
class Exchange:
    ticket: str
    received_at: object  # aware UTC datetime
    service: str
    request_size: int
    peer: str = ""
    replied_at: object = None
    caller: str = None  # institution id
    institution: object = None  # the caller's registry.Institution
    caller_user: str = None
    auth_method: str = "anonymous"
    certificate_subject: str = ""
    operation: str = None
    version: str = None
    legal_context: str = None
    outcome: str = "OK"  # OK | REFUSED | ERROR
    reason_code: str = "MSG00000"
    detail: str = None
    reply_size: int = 0
    signed_request: bool = False
    signed_reply: bool = False
    ssins: set = field(default_factory=set)
    cbes: set = field(default_factory=set)
    # the request's informationCustomer (new style), echoed in a fault as CBSS does; not
    # logged
    customer: object = None

    @property
    def seconds(self):
        """Arrival to answer, or None before the answer."""
        if self.replied_at is None:
            return None
        return max(0.0, (self.replied_at - self.received_at).total_seconds())

    @property
    def sector(self):
        """The caller's sector, or None (anonymous, or a foreign access point)."""
        return self.institution.sector if self.institution is not None else None

    def refuse(self, refusal):
        self.outcome = "ERROR" if refusal.reason.fault_code == "Server" else "REFUSED"
        self.reason_code = refusal.code
        self.detail = (refusal.detail or refusal.reason.diagnostic)[:256]
