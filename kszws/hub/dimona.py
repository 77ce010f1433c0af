"""DIMONA declarations as the hub judges them, for the online DimonaService.declare and the
batch type DIMN alike: who may declare for which employer, every SSIN checked against the
National Register first (one call for all of them), then the employer directory source's
declareDimona for the rest (one call per employer), each declaration answered on its own."""
from twisted.internet import defer
from zeep.helpers import serialize_object

from kszws.hub.customers import check_customer
from kszws.wire.reasons import Refusal


def employer_for(registry, caller, cbe_number):
    """(the employer a declaration is for, the detail to log or None): the caller itself
    (an institution of kind employer), or the employer `cbe_number` names when the caller
    is a social secretariat it mandated (acts_for in institutions.toml). Refusal
    SEC00012 for anyone else."""
    if caller is not None and caller.kind == "employer":
        check_customer(cbe_number, caller)
        return caller, None
    employer = next((i for i in registry.institutions.values()
                     if i.kind == "employer" and i.cbe == cbe_number), None)
    if caller is None or employer is None or employer.id not in caller.acts_for:
        raise Refusal("SEC00012", "DIMONA is for employers and the social secretariats they "
                      "mandated")
    return employer, "for employer %s" % employer.id


@defer.inlineCallbacks
def declare(register, source, employer, declarations):
    """Deferred[[result dict: index, action, accepted, reasonCode, periodId]] for
    `declarations` (dicts: action, periodId, ssin, workerType, startDate, endDate, hours)
    of `employer`, in order. A person unknown to the National Register, cancelled or
    replaced is refused (DIM00008: declared under the current SSIN); the others go to the
    source in one call."""
    results, forwarded = [None] * len(declarations), []
    known = yield register.consult_many(sorted({d["ssin"] for d in declarations}))
    for index, d in enumerate(declarations):
        person = known.get(d["ssin"])
        if person is None or person["status"] != "active":
            results[index] = dict(index=index + 1, action=d["action"], accepted=False,
                                  reasonCode="DIM00008", periodId=d["periodId"])
        else:
            forwarded.append((index, d))
    if forwarded:
        answered = yield source.call(
            "declareDimona", employerCbe=employer.cbe,
            declarations={"DimonaDeclaration": [d for _, d in forwarded]})
        for (index, _), r in zip(forwarded, [serialize_object(a, dict) for a in answered or []]):
            results[index] = dict(index=index + 1, action=r["action"], accepted=r["accepted"],
                                  reasonCode=r["reasonCode"], periodId=r["periodId"])
    return results
