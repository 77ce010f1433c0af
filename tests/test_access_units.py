"""The integration check (kszws/hub/access.py) piece by piece, against the real store: which
authorizations cover a request and what their refusal says (ACC00001), which data groups a
registration in the directory grants and what the first refused one says (ACC00002), the
exempt groups that need no directory read, the employer access key, the synchronous
decide() and the asynchronous check() giving the same Decision, following an SSIN
replacement, and the attestations an institution may see."""
import datetime
from unittest import mock

import pytest
from twisted.internet import defer

from kszws import directory
from kszws.hub import access as access_module
from kszws.hub.access import AccessControl, Decision, visible_attestations
from kszws.mailbox import attestations
from kszws.registry.access import AccessPolicy, Authorization, Exemption
from kszws.registry.model import AttestationType, Institution, QualityCode
from kszws.wire.reasons import Refusal

D = datetime.date
NOW = datetime.datetime(2026, 11, 28, 12, tzinfo=datetime.timezone.utc)
SSIN, OTHER = "70100853190", "72030512297"
SERVICE = "PerformInvestigation"
CITIZEN, FAMILY, ADDRESS, WAIT = ("CitizenGroup", "FamilyCompositionGroup",
                                  "AddressHistoryGroup", "WaitRegisterGroup")
EUPEN = Institution("cpas-eupen", "Eupen", 17, 1, "0212310036", "signature", (), True)
HERSTAL = Institution("cpas-herstal", "Herstal", 17, 3, "0207312061", "signature", (), True)
NAMUR = Institution("cpas-namur", "Namur", 17, 2, "0207312061", "signature", (), True)
ONEM = Institution("onem-rva", "ONEM", 18, 0, "0206314050", "signature", (), True)
EMPLOYER = Institution("acme", "ACME", 99, 0, "0403170701", "signature", (), True,
                       kind="employer")


def authorization(deliberation, groups, codes, subsector=None, sector=17):
    return Authorization(
        id=deliberation, deliberation=deliberation, deliberation_date=D(2025, 1, 1), title="t",
        sector=sector, subsector=subsector, service=SERVICE, data_groups=frozenset(groups),
        legal_contexts=frozenset({"CTX:A"}), quality_codes=frozenset(codes),
        valid_from=D(2026, 1, 1), valid_until=None)


# CitizenGroup: two authorizations (codes 1 of any sub-sector, 1 or 4 of sub-sector 1);
# FamilyCompositionGroup: code 1; AddressHistoryGroup: code 5, and exempt in EXEMPT;
# WaitRegisterGroup: nobody.
POLICY = AccessPolicy(
    (authorization("d/2", {CITIZEN, FAMILY}, {1}), authorization("d/1", {CITIZEN}, {1, 4}, 1),
     authorization("d/3", {ADDRESS}, {5}), authorization("d/9", {CITIZEN}, {1}, sector=99)),
    classic_contexts={17: "CTX:CLASSIC"})
EXEMPT = AccessPolicy(POLICY.authorizations, (Exemption(SERVICE, ADDRESS, "needed first"),))
DAY = D(2026, 6, 1)


def register(db, institution, code, ssin=SSIN, start=D(2026, 1, 1), end=None):
    with db.engine.begin() as conn:
        directory.register(conn, NOW, ssin, institution,
                           QualityCode(institution.sector, code, "", ""), start, end)


def decided(access, institution, groups, start=D(2026, 1, 1), end=None, ssin=SSIN,
            context="CTX:A"):
    return access.decide(institution, SERVICE, groups, context, ssin, start, end, DAY)


def summary(decision):
    """(granted, (refusal code, detail) or None, deliberations)."""
    refusal = decision.refusal and (decision.refusal.code, decision.refusal.detail)
    return decision.granted, refusal, decision.deliberations


def no_registration(group):
    return ("ACC00002", "no registration on the person in the reference directory for the "
            "period asked with a quality code allowing %s/%s" % (SERVICE, group))


@pytest.fixture
def threads():
    """deferToThread run in place (no reactor here); its calls recorded."""
    calls = []

    def in_place(f, *args, **kw):
        calls.append(f)
        return defer.maybeDeferred(f, *args, **kw)

    with mock.patch.object(access_module.threads, "deferToThread", in_place):
        yield calls


def fired(d):
    out = []
    d.addBoth(out.append)
    assert len(out) == 1 and not isinstance(out[0], Exception), out
    return out[0]


def test_a_decision_is_allowed_only_without_a_refusal():
    assert Decision((CITIZEN,), None, ("d/1",)).allowed
    assert not Decision((), Refusal("ACC00001"), ()).allowed


def test_the_legal_context_given_or_the_classic_one_of_the_sector():
    access = AccessControl(POLICY, None)
    assert access.legal_context(EUPEN, "CTX:A") == "CTX:A"
    assert access.legal_context(EUPEN, "") == ""  # given, even empty
    assert access.legal_context(EUPEN) == "CTX:CLASSIC"
    assert access.legal_context(ONEM, None) == ""  # a sector without one


def test_nothing_asked_or_nobody_asking_is_refused():
    access = AccessControl(POLICY, None)
    refused = (), ("ACC00001", "nothing asked, or nobody asking"), ()
    assert summary(decided(access, None, (CITIZEN,))) == refused
    assert summary(decided(access, EUPEN, ())) == refused


def test_a_group_no_authorization_covers_is_refused_naming_it():
    access = AccessControl(POLICY, None)  # refused before any directory read
    assert summary(decided(access, EUPEN, (CITIZEN, WAIT))) == ((), (
        "ACC00001", "no authorization lets sector 17.1 receive PerformInvestigation/"
        "WaitRegisterGroup in legal context 'CTX:A'"), ())
    assert summary(decided(access, ONEM, (CITIZEN,)))[1] == (
        "ACC00001", "no authorization lets sector 18.0 receive PerformInvestigation/"
        "CitizenGroup in legal context 'CTX:A'")
    long_context = "CTX:" + "x" * 300
    refusal = decided(access, EUPEN, (CITIZEN,), context=long_context).refusal
    assert refusal.code == "ACC00001" and len(refusal.detail) == 256
    assert refusal.detail.startswith("no authorization lets sector 17.1 receive "
                                     "PerformInvestigation/CitizenGroup in legal context 'CTX:x")


def test_a_registration_in_a_code_of_the_authorization_grants_its_groups(db):
    register(db, EUPEN, 1)
    access = AccessControl(POLICY, db)
    assert summary(decided(access, EUPEN, (FAMILY, CITIZEN))) == (
        (FAMILY, CITIZEN), None, ("d/1", "d/2"))  # each deliberation once, in order


def test_only_the_authorizations_of_the_code_held_are_applied(db):
    register(db, EUPEN, 4)
    access = AccessControl(POLICY, db)
    assert summary(decided(access, EUPEN, (CITIZEN, FAMILY))) == (
        (CITIZEN,), no_registration(FAMILY), ("d/1",))


def test_the_first_refused_group_is_named(db):
    register(db, EUPEN, 4)
    access = AccessControl(POLICY, db)
    assert summary(decided(access, EUPEN, (ADDRESS, FAMILY, CITIZEN))) == (
        (CITIZEN,), no_registration(ADDRESS), ("d/1",))


def test_without_a_registration_in_force_for_the_period_every_group_is_refused(db):
    register(db, EUPEN, 1, end=D(2026, 3, 31))
    register(db, EUPEN, 1, ssin=OTHER)
    register(db, HERSTAL, 1, start=D(2026, 4, 1))
    access = AccessControl(POLICY, db)
    assert summary(decided(access, EUPEN, (CITIZEN,), D(2026, 3, 31), D(2026, 4, 1)))[1] is None
    assert summary(decided(access, EUPEN, (CITIZEN,), D(2026, 4, 1))) == (
        (), no_registration(CITIZEN), ())
    assert summary(decided(access, HERSTAL, (CITIZEN,), D(2026, 1, 1), D(2026, 3, 31))) == (
        (), no_registration(CITIZEN), ())
    assert decided(access, HERSTAL, (CITIZEN,), D(2026, 1, 1), D(2026, 4, 1)).allowed


def test_an_exempt_group_needs_an_authorization_but_no_registration(db):
    register(db, EUPEN, 1)
    access = AccessControl(EXEMPT, db)
    assert summary(decided(access, EUPEN, (ADDRESS, CITIZEN))) == (
        (ADDRESS, CITIZEN), None, ("d/1", "d/2", "d/3"))
    assert summary(decided(access, EUPEN, (ADDRESS, CITIZEN), ssin=OTHER)) == (
        (ADDRESS,), no_registration(CITIZEN), ("d/3",))
    assert summary(decided(access, ONEM, (ADDRESS,)))[1][0] == "ACC00001"  # not authorized
    # only exempt groups: the directory is not read (there is none here)
    assert summary(decided(AccessControl(EXEMPT, None), EUPEN, (ADDRESS,))) == (
        (ADDRESS,), None, ("d/3",))


def test_an_employer_is_decided_by_check_not_decide():
    with pytest.raises(ValueError) as raised:
        decided(AccessControl(POLICY, None), EMPLOYER, (CITIZEN,))
    assert str(raised.value) == "an employer's access is decided by check(), not decide()"


def test_check_gives_the_decision_of_decide_reading_the_directory_in_a_thread(db, threads):
    register(db, EUPEN, 4)
    access = AccessControl(POLICY, db)
    decision = fired(access.check(EUPEN, SERVICE, (CITIZEN, FAMILY), "CTX:A", SSIN,
                                  D(2026, 1, 1), None, DAY))
    assert summary(decision) == ((CITIZEN,), no_registration(FAMILY), ("d/1",))
    assert threads == [access.held_codes]
    later = fired(access.check(EUPEN, SERVICE, (CITIZEN,), "CTX:A", SSIN, D(2030, 1, 1),
                               D(2030, 1, 2), DAY))
    assert summary(later) == ((CITIZEN,), None, ("d/1",))
    before = fired(access.check(EUPEN, SERVICE, (CITIZEN,), "CTX:A", SSIN, D(2025, 1, 1),
                                D(2025, 12, 31), DAY))
    assert summary(before) == ((), no_registration(CITIZEN), ())


def test_check_refuses_or_grants_exempt_groups_without_reading_the_directory(threads):
    access = AccessControl(EXEMPT, None)
    assert summary(fired(access.check(EUPEN, SERVICE, (WAIT,), "CTX:A", SSIN, D(2026, 1, 1),
                                      None, DAY)))[1][0] == "ACC00001"
    assert summary(fired(access.check(EUPEN, SERVICE, (ADDRESS,), "CTX:A", SSIN,
                                      D(2026, 1, 1), None, DAY))) == ((ADDRESS,), None, ("d/3",))
    assert summary(fired(access.check(None, SERVICE, (ADDRESS,), "CTX:A", SSIN,
                                      D(2026, 1, 1), None, DAY)))[1][0] == "ACC00001"
    assert threads == []


def employments(workers):
    """An employer directory: `workers` {ssin: employers' enterprise numbers}; its calls."""
    calls = []

    def of(ssin, start, end):
        calls.append((ssin, start, end))
        return defer.succeed(set(workers.get(ssin, ())))
    return of, calls


def test_an_employer_sees_the_persons_of_its_personnel_file(threads):
    of, calls = employments({SSIN: {"0403170701", "0207312061"}, OTHER: {"0207312061"}})
    access = AccessControl(POLICY, None, of)
    mine = fired(access.check(EMPLOYER, SERVICE, (CITIZEN,), "CTX:A", SSIN, D(2026, 1, 1),
                              D(2026, 2, 1), DAY))
    assert summary(mine) == ((CITIZEN,), None, ("d/9",))
    other = fired(access.check(EMPLOYER, SERVICE, (CITIZEN,), "CTX:A", OTHER, D(2026, 1, 1),
                               None, DAY))
    assert summary(other) == ((), ("ACC00002", (
        "the person is not in the personnel file of acme for the period asked (the employer "
        "access key)")), ())
    assert calls == [(SSIN, D(2026, 1, 1), D(2026, 2, 1)), (OTHER, D(2026, 1, 1), None)]
    assert threads == []  # the directory of registrations is not read for an employer


def test_an_employer_without_the_employer_directory_is_refused(threads):
    access = AccessControl(POLICY, None)
    assert summary(fired(access.check(EMPLOYER, SERVICE, (CITIZEN,), "CTX:A", SSIN,
                                      D(2026, 1, 1), None, DAY))) == (
        (), ("ACC00002", "no employer directory"), ())


def test_follow_replacement_moves_the_registrations_in_a_thread(db, threads):
    register(db, EUPEN, 1, ssin=SSIN)
    access = AccessControl(POLICY, db)
    assert fired(access.follow_replacement(SSIN, OTHER, NOW)) == 1
    assert len(threads) == 1
    with db.engine.connect() as conn:  # committed
        assert [r.ssin for r in directory.registrations(conn, OTHER, D(2026, 1, 1), None)] \
            == [OTHER]
    assert decided(access, EUPEN, (CITIZEN,), ssin=SSIN).allowed  # the old SSIN finds it


# -- the attestations an institution may see -------------------------------------------------

def attestation_type(code, publisher_sector, destinations):
    return AttestationType(code, code, code, publisher_sector, "basis", "schema.xsd", "{x}e",
                           tuple((s, sub, frozenset(codes)) for s, sub, codes in destinations))


UNEMPLOYMENT = attestation_type("unemployment", 18, [(17, None, {1}), (18, None, {2})])
INCOME = attestation_type("income", 17, [(18, None, {1})])
CHILD = attestation_type("child", 7, [(17, 2, {1})])  # sub-sector 2 of the CPAS only
TYPES = [UNEMPLOYMENT, INCOME, CHILD]


def publish(db, publisher, type_code, reference, ssin=SSIN, start=D(2026, 1, 1), end=None):
    with db.engine.begin() as conn:
        attestations.publish(conn, NOW, publisher, type_code, ssin, reference, start, end,
                             start, "<p/>")


def visible(db, institution, ssin=SSIN, types=TYPES, start=D(2026, 1, 1), end=None):
    with db.engine.begin() as conn:
        found = visible_attestations(db, conn, institution, ssin, types, start, end)
    return found if found is None else [(a.type, a.publisher, a.reference) for a in found]


def test_attestations_of_the_types_its_file_entitles_it_to_and_its_own(db):
    register(db, EUPEN, 1, end=D(2026, 6, 30))
    publish(db, "onem-rva", "unemployment", "u1")
    publish(db, "onem-rva", "unemployment", "u2", start=D(2026, 8, 1))
    publish(db, "cpas-eupen", "income", "i1", start=D(2026, 2, 1))
    publish(db, "cpas-liege", "income", "i2")  # another CPAS's: not Eupen's to see
    publish(db, "fund", "child", "c1")  # for sub-sector 2 only
    publish(db, "onem-rva", "unemployment", "u3", ssin=OTHER)
    assert visible(db, EUPEN) == [("unemployment", "onem-rva", "u1"),
                                  ("unemployment", "onem-rva", "u2"),
                                  ("income", "cpas-eupen", "i1")]
    assert visible(db, EUPEN, start=D(2026, 1, 1), end=D(2026, 1, 31)) == [
        ("unemployment", "onem-rva", "u1")]
    # its file ended before the period: its own publications only
    assert visible(db, EUPEN, start=D(2026, 7, 1)) == [("income", "cpas-eupen", "i1")]
    assert visible(db, EUPEN, types=[UNEMPLOYMENT], start=D(2026, 7, 1)) is None
    assert visible(db, EUPEN, types=[UNEMPLOYMENT], start=D(2026, 7, 1), end=D(2026, 7, 2)) \
        is None


def test_no_attestation_type_to_see_is_none_and_none_published_is_empty(db):
    register(db, EUPEN, 1)
    register(db, NAMUR, 1)
    assert visible(db, EUPEN, types=[CHILD]) is None
    assert visible(db, ONEM, types=[INCOME, CHILD]) is None  # no file, not the publisher
    assert visible(db, EUPEN, types=[UNEMPLOYMENT]) == []
    assert visible(db, ONEM, types=[UNEMPLOYMENT]) == []  # its own type: none published yet
    publish(db, "fund", "child", "c1")
    assert visible(db, NAMUR, types=[CHILD]) == [("child", "fund", "c1")]
    assert visible(db, EUPEN, types=[CHILD]) is None


def test_an_attestation_of_its_own_type_that_it_is_also_entitled_to_is_given_once(db):
    register(db, ONEM, 2)
    publish(db, "onem-rva", "unemployment", "u1")
    publish(db, "other-18", "unemployment", "u2")
    assert visible(db, ONEM, types=[UNEMPLOYMENT]) == [("unemployment", "onem-rva", "u1"),
                                                       ("unemployment", "other-18", "u2")]
    assert visible(db, ONEM, ssin=OTHER, types=[UNEMPLOYMENT]) == []  # no file: its own only


def test_attestations_on_the_ssin_that_replaced_the_one_asked(db):
    register(db, EUPEN, 1, ssin=SSIN)
    with db.engine.begin() as conn:
        directory.follow_replacement(conn, NOW, SSIN, OTHER)
    publish(db, "onem-rva", "unemployment", "u-old", ssin=SSIN)
    publish(db, "onem-rva", "unemployment", "u-new", ssin=OTHER)
    publish(db, "cpas-eupen", "income", "i-new", ssin=OTHER)
    assert visible(db, EUPEN, ssin=SSIN) == [("unemployment", "onem-rva", "u-old"),
                                             ("unemployment", "onem-rva", "u-new"),
                                             ("income", "cpas-eupen", "i-new")]
    assert visible(db, EUPEN, ssin=OTHER) == [("unemployment", "onem-rva", "u-new"),
                                              ("income", "cpas-eupen", "i-new")]


def test_a_file_that_starts_after_the_period_entitles_to_nothing(db):
    register(db, EUPEN, 1, start=D(2026, 8, 1))
    publish(db, "onem-rva", "unemployment", "u1")
    assert visible(db, EUPEN, types=[UNEMPLOYMENT], end=D(2026, 7, 31)) is None
    assert visible(db, EUPEN, types=[UNEMPLOYMENT], end=D(2026, 8, 1)) == [
        ("unemployment", "onem-rva", "u1")]


def test_its_own_publications_only_of_the_types_asked(db):
    publish(db, "cpas-eupen", "income", "i1")
    publish(db, "cpas-eupen", "child", "c1")  # not asked
    assert visible(db, EUPEN, types=[INCOME]) == [("income", "cpas-eupen", "i1")]
