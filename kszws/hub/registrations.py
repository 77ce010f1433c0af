"""Registering persons in the reference directory and ending registrations, as
ReferenceDirectoryService.register and unregister judge them, for the online service and
the batch type REGI alike: who may register, the quality code of the sector, the person
and the proof checked against the National Register (a replaced SSIN followed to the new
one), then the directory written (kszws.directory). Each step answers the online reason
code (DIR000xx, ACC00001); the batch type maps it to its 6-digit code."""
from twisted.internet import defer

from kszws import directory
from kszws.hub import persons
from kszws.wire.reasons import Refusal


def may_register(institution):
    """Refusal ACC00001 unless `institution` manages files on persons: an employer's "file"
    is its personnel file (the employer access key, hub/access.py), and a source or the hub
    manages none."""
    if institution is None or institution.kind != "institution":
        raise Refusal("ACC00001", "%s does not manage files in the reference directory"
                      % (institution.id if institution is not None else "nobody"))


def quality(registry, institution, code):
    """The registry.QualityCode `code` as valid in the institution's sector, or None
    (DIR00003)."""
    return registry.quality_code(institution.sector, code) if code is not None else None


@defer.inlineCallbacks
def persons_of(register, ssins):
    """Deferred[{ssin: National Register record}] of `ssins` and of the SSINs that replaced
    any of them: two calls at most, however many they are."""
    found = (yield register.consult_many(sorted(ssins))) if ssins else {}
    newer = {p["replacedBy"] for p in found.values()
             if p["status"] == "replaced" and p["replacedBy"]} - set(found)
    if newer:
        found.update((yield register.consult_many(sorted(newer))))
    return found


def proven(request, found):
    """(reason code, the SSIN to register or None) for a register request (wire.
    reference_directory.Request, its SSIN canonical) given `found` (persons_of): the proof
    is required (DIR00002), the person must be known and not cancelled, a replaced SSIN
    followed once to the new one (DIR00005), and every piece of the proof must match him
    (DIR00002; persons.verify, as ManageAccess)."""
    if not request.proves:
        return "DIR00002", None
    person = found.get(request.ssin)
    if person is not None and person["status"] == "replaced" and person["replacedBy"]:
        person = found.get(person["replacedBy"])
    if person is None or person["status"] == "cancelled":
        return "DIR00005", None
    mismatches, _ = persons.verify(request, person)
    if mismatches:
        return "DIR00002", None
    return "MSG00000", person["ssin"]


def write(conn, now, institution, quality_code, ssin, request):
    """(reason code, the institution's registrations on the person in the period,
    information) once the request is proven: registered on `ssin` (the new SSIN of a
    replaced one), or DIR00001 when another institution of the sector holds the exclusive
    code (named by its code only: the other file is not the caller's). Nothing is written
    on a refusal."""
    try:
        directory.register(conn, now, ssin, institution, quality_code, request.start,
                           request.end, request.register or directory.SECONDARY)
    except directory.Conflict as conflict:
        return "DIR00001", [], [("qualityCode", conflict.code)]
    found = directory.registrations(conn, ssin, request.start, request.end,
                                    institution=institution.id)
    return "MSG00000", found, [("ssin", ssin)] if ssin != request.ssin else []


def end(conn, now, institution, request):
    """(reason code, the institution's registrations on the person from the request's
    start on, information) of an unregister: MSG00000 when some ended, DIR00004 when there
    was none to end."""
    ended = directory.unregister(conn, now, request.ssin, institution, request.start,
                                 request.quality_code)
    found = directory.registrations(conn, request.ssin, request.start, None,
                                    institution=institution.id)
    return ("MSG00000" if ended else "DIR00004"), found, [("ended", ended)]
