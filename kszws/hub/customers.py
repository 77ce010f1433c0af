"""The customer a request names (informationCustomer/customerIdentification/cbeNumber)
against the institution that sent it: shared by the online services and the batch types."""
from kszws import ids
from kszws.wire.reasons import Refusal


def check_customer(cbe_number, institution):
    """A customerIdentification/cbeNumber must name the authenticated institution."""
    if not cbe_number:
        return
    try:
        number = ids.enterprise_number(cbe_number)
    except ids.InvalidIdentifier:
        raise Refusal("MSG00008", "customerIdentification/cbeNumber %r is not an enterprise "
                      "number" % cbe_number[:20]) from None
    if number not in institution.org_units:
        raise Refusal("SEC00012", "cbeNumber %s is not %s" % (number, institution.id))
