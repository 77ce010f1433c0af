"""The persons a SED names, checked against the National Register before it is forwarded:
each Belgian SSIN must designate a living record (a replaced SSIN is followed to the
current one), so that the exchange is recorded in that person's access log."""
from twisted.internet import defer

from kszws.eessi.errors import EbmsError
from kszws.hub import persons


def national_register_check(register):
    """ssins -> Deferred[the current SSINs]; EBMS:0004 naming the first SSIN the register
    does not know or has cancelled. `register` is a hub.persons.NationalRegister."""
    @defer.inlineCallbacks
    def check(ssins):
        current = []
        for ssin in ssins:
            _, person = yield persons.resolve(register, ssin, "PIN")
            if person is None:
                raise EbmsError("EBMS:0004", "rule: the Belgian PIN %s designates no person "
                                "of the National Register (unknown or cancelled)" % ssin)
            current.append(person["ssin"])
        return current
    return check
