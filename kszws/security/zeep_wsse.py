"""A zeep WS-Security plugin that does what zeep's built-in one does not (DESIGN.md):
signs with RSA-SHA256 (or ECDSA) over the Body AND a Timestamp, and verifies the reply
against the hub's PINNED certificate under the same strict policy the hub applies to
requests (wsse.verify), including WHAT was signed.

    client = zeep.Client(wsdl, wsse=SignedExchange(identity, hub_certificate))
"""
import datetime

from zeep.exceptions import SignatureVerificationFailed

from kszws.clock import utcnow
from kszws.security import wsse
from kszws.security.keystore import TrustStore
from kszws.wire import soap
from kszws.wire.reasons import Refusal


class SignedExchange:
    def __init__(self, identity, peer_certificate, policy=None, ttl_seconds=300, clock=utcnow):
        self.identity = identity
        self.policy = policy or wsse.Policy()
        self.ttl = datetime.timedelta(seconds=ttl_seconds)
        self.clock = clock
        self.trust = TrustStore()
        self.trust.add(peer_certificate, "peer")
        self.last_verified = None  # the Verified of the last reply, for callers that log it

    def apply(self, envelope, headers):
        wsse.sign(envelope, self.identity, self.clock(), self.ttl, must_understand=True)
        return envelope, headers

    def verify(self, envelope):
        try:
            header, body = soap.split_envelope(envelope)
            self.last_verified = wsse.verify(envelope, header, body, self.policy, self.trust,
                                             self.clock())
        except Refusal as exc:
            raise SignatureVerificationFailed(str(exc)) from None
        return envelope
