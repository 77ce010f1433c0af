"""Property-based tests of the integration check (hypothesis): random authorizations,
registrations, unregistrations, SSIN replacements and requests, made and decided through
the code the hub runs (directory.register, unregister, follow_replacement on the real store,
SQLite and PostgreSQL; AccessControl.check, its database read run in place of a thread),
compared with a small independent oracle written here. No request allowed that the rules
forbid, none refused that they allow: period edges (open ends, one-day overlaps, an
authorization's first and last day), ended registrations, replaced SSINs, the exclusive
quality code. Explicit examples pin the edges of the direct look-up and of the
authorizations, so that a strict-edge mistake there is caught on every run, not on a lucky
seed. Re-applied by hand, three strict-edge mistakes got past these examples on some or all
seeds: the edges of held_codes through a replaced SSIN and the start edge of an overlapping
registration; tests/test_directory.py pins those (test_held_codes_follow_a_replaced_ssin,
test_registrations_meet_the_period_asked_on_its_edge_days) and catches them every time."""
import datetime
from unittest import mock

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from twisted.internet import defer

from kszws import directory
from kszws.hub import access as access_module
from kszws.hub.access import AccessControl
from kszws.registry.access import AccessPolicy, Authorization, Exemption
from kszws.registry.model import Institution, QualityCode
from kszws.store.schema import registration, replacement

D0 = datetime.date(2026, 1, 1)
NOW = datetime.datetime(2026, 11, 28, 12, tzinfo=datetime.timezone.utc)
SSINS = ["70100853190", "72030512297", "01020300170"]
INSTITUTIONS = [Institution("a-17-1", "A", 17, 1, "0212310036", "signature", (), True),
                Institution("b-17-1", "B", 17, 1, "0207311071", "signature", (), True),
                Institution("c-17-2", "C", 17, 2, "0207312061", "signature", (), True),
                Institution("d-18-0", "D", 18, 0, "0206314050", "signature", (), True)]
SERVICE = "PerformInvestigation"
GROUPS = ["CitizenGroup", "FamilyCompositionGroup", "AddressHistoryGroup"]
CONTEXTS = ["CTX:A", "CTX:B"]
CODES = [0, 1, 2, 902]
EXCLUSIVE = {(17, 2)}  # as conf/quality_codes.toml: the integration income of sector 17

# A short calendar: periods often meet on the same day (the edges the check must get right).
days = st.integers(0, 12).map(lambda n: D0 + datetime.timedelta(days=n))


@st.composite
def periods(draw):
    start = draw(days)
    end = draw(st.one_of(st.none(), st.integers(0, 4).map(
        lambda n: start + datetime.timedelta(days=n))))
    return start, end


@st.composite
def authorizations(draw):
    start = draw(days)
    end = draw(st.one_of(st.none(), st.none(), st.integers(0, 8).map(
        lambda n: start + datetime.timedelta(days=n))))
    return Authorization(
        id="x", deliberation="d/%d" % draw(st.integers(0, 9)), deliberation_date=D0,
        title="t", sector=draw(st.sampled_from([17, 17, 18])),
        subsector=draw(st.sampled_from([None, None, 0, 1, 2])), service=SERVICE,
        data_groups=frozenset(draw(st.sets(st.sampled_from(GROUPS), min_size=1))),
        legal_contexts=frozenset(draw(st.sets(st.sampled_from(CONTEXTS), min_size=1))),
        quality_codes=frozenset(draw(st.sets(st.sampled_from(CODES), min_size=2))),
        valid_from=start, valid_until=end)


@st.composite
def operations(draw):
    """What happens to the directory, in order."""
    kind = draw(st.sampled_from(["register"] * 6 + ["unregister", "replace"]))
    if kind == "register":
        start, end = draw(periods())
        return ("register", draw(st.sampled_from(SSINS)), draw(st.sampled_from(INSTITUTIONS)),
                draw(st.sampled_from(CODES)), start, end)
    if kind == "unregister":
        return ("unregister", draw(st.sampled_from(SSINS)), draw(st.sampled_from(INSTITUTIONS)),
                draw(days), draw(st.one_of(st.none(), st.sampled_from(CODES))))
    old, new = draw(st.permutations(SSINS))[:2]
    return ("replace", old, new)


@st.composite
def requests(draw):
    start, end = draw(periods())
    return (draw(st.sampled_from(INSTITUTIONS)),
            tuple(draw(st.sets(st.sampled_from(GROUPS), min_size=1, max_size=2))),
            draw(st.sampled_from(CONTEXTS)), draw(st.sampled_from(SSINS)), start, end,
            draw(days))


# -- the oracle: plain lists, no SQL, no shared code with kszws.directory ------------------

class Oracle:
    def __init__(self, policy):
        self.policy = policy
        self.rows = []  # [ssin, institution id, code, start, end, in force]
        self.replaced = {}  # old -> new, as the National Register reported

    def current(self, ssin):
        while ssin in self.replaced:  # the SSIN the person now has
            ssin = self.replaced[ssin]
        return ssin

    def register(self, ssin, inst, code, start, end):
        """False when the exclusive rule refuses it (another institution of the sector
        holds the code for an overlapping period)."""
        ssin = self.current(ssin)
        if (inst.sector, code) in EXCLUSIVE and any(
                r[0] == ssin and r[1] != inst.id and SECTOR[r[1]] == inst.sector
                and r[2] == code and r[5] and (end is None or r[3] <= end)
                and (r[4] is None or r[4] >= start) for r in self.rows):
            return False
        self.rows.append([ssin, inst.id, code, start, end, True])
        return True

    def unregister(self, ssin, inst, start, code):
        for row in self.rows:
            if row[0] == ssin and row[1] == inst.id and row[5] and (code is None or row[2] == code) \
                    and (row[4] is None or row[4] >= start):
                if row[3] < start:
                    row[4] = start - datetime.timedelta(days=1)
                else:
                    row[5] = False

    def replace(self, old, new):
        if old in self.replaced or new in self.replaced or old == new:
            return False
        self.replaced[old] = new
        for row in self.rows:  # the person's registrations now live under the new SSIN
            if row[0] == old and row[5]:
                self.rows.append([new] + row[1:])
                row[5] = False
        return True

    def person(self, ssin):
        """Every SSIN of the person `ssin` designates (replacements are one person)."""
        group = {ssin}
        changed = True
        while changed:
            changed = False
            for old, new in self.replaced.items():
                if (old in group) != (new in group):
                    group |= {old, new}
                    changed = True
        return group

    def allowed(self, inst, groups, context, ssin, start, end, day):
        for group in groups:
            auths = [a for a in self.policy.authorizations
                     if a.sector == inst.sector and a.subsector in (None, inst.subsector)
                     and group in a.data_groups and context in a.legal_contexts
                     and a.valid_from <= day and (a.valid_until is None or day <= a.valid_until)]
            if not auths:
                return False
            if any(e.data_group == group for e in self.policy.exemptions):
                continue
            codes = set().union(*(a.quality_codes for a in auths))
            if not any(r[0] in self.person(ssin) and r[1] == inst.id and r[5] and r[2] in codes
                       and (end is None or r[3] <= end) and (r[4] is None or r[4] >= start)
                       for r in self.rows):
                return False
        return True


AUTH = Authorization(
    id="x", deliberation="d/1", deliberation_date=D0, title="t", sector=17, subsector=None,
    service=SERVICE, data_groups=frozenset(GROUPS), legal_contexts=frozenset(CONTEXTS),
    quality_codes=frozenset({0, 1}), valid_from=D0 + datetime.timedelta(days=2),
    valid_until=D0 + datetime.timedelta(days=9))
A, DAY = INSTITUTIONS[0], lambda n: D0 + datetime.timedelta(days=n)
REG = ("register", SSINS[0], A, 1, DAY(3), DAY(5))  # a file from day 3 to day 5


def ask(start, end, day=5):
    return (A, ("CitizenGroup",), "CTX:A", SSINS[0], DAY(start), end and DAY(end), DAY(day))


# derandomize: the same examples on every run, so that the count of allowed and refused
# requests below (proof the property tested something) cannot fall short by chance: a
# random draw once gave 15 allowed of 1,274 and failed mutmut's stats run; this one gives
# 33 of 1,079.
@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(auths=st.lists(authorizations(), min_size=1, max_size=5),
       exempt=st.sets(st.sampled_from(GROUPS), max_size=1),
       ops=st.lists(operations(), max_size=20), asks=st.lists(requests(), min_size=1, max_size=12))
# The edges, on every run: a registration ending on the first day asked, starting on the
# last day asked, ending the day before; an authorization on its first and last day, and
# the days just outside; an exclusive code taken, then asked by another institution.
@example(auths=[AUTH], exempt=set(), ops=[REG], asks=[
    ask(5, 8), ask(1, 3), ask(6, 9), ask(0, 2), ask(5, None), ask(6, None),
    ask(3, 4, day=2), ask(3, 4, day=9), ask(3, 4, day=1), ask(3, 4, day=10)])
@example(auths=[AUTH], exempt=set(), asks=[ask(4, 4)], ops=[
    ("register", SSINS[0], INSTITUTIONS[1], 2, DAY(0), None),
    ("register", SSINS[0], A, 2, DAY(4), DAY(4)),
    ("register", SSINS[0], A, 1, DAY(4), DAY(4)),
    ("unregister", SSINS[0], A, DAY(4), 1)])
@example(auths=[AUTH], exempt=set(), asks=[ask(4, 4), (A, ("CitizenGroup",), "CTX:A",
                                                       SSINS[1], DAY(4), DAY(4), DAY(5))],
         ops=[REG, ("replace", SSINS[0], SSINS[1]), ("register", SSINS[0], A, 0, DAY(7), None)])
def check_matches_the_oracle(db, auths, exempt, ops, asks):
    with db.engine.begin() as conn:
        conn.execute(delete(registration))
        conn.execute(delete(replacement))
    policy = AccessPolicy(tuple(auths), tuple(Exemption(SERVICE, g, "") for g in exempt))
    oracle, access = Oracle(policy), AccessControl(policy, db)
    with db.engine.begin() as conn:
        for op in ops:
            if op[0] == "register":
                _, ssin, inst, code, start, end = op
                assert _register(conn, ssin, inst, code, start, end) == \
                    oracle.register(ssin, inst, code, start, end), op
            elif op[0] == "unregister":
                _, ssin, inst, start, code = op
                directory.unregister(conn, NOW, ssin, inst, start, code)
                oracle.unregister(ssin, inst, start, code)
            elif oracle.replace(op[1], op[2]):
                directory.follow_replacement(conn, NOW, op[1], op[2])
    for inst, groups, context, ssin, start, end, day in asks:
        decision = _checked(access, inst, groups, context, ssin, start, end, day)
        expected = oracle.allowed(inst, groups, context, ssin, start, end, day)
        assert decision.allowed == expected, (inst.id, groups, context, ssin, start, end, day,
                                              decision.refusal)
        ALLOWED.append(expected)


ALLOWED = []  # what the oracle said, over every example: both answers must occur


def test_integration_check_matches_the_oracle(db):
    """The property, then proof that it tested something: requests both allowed and
    refused among its examples (in the same test, so that it never passes vacuously)."""
    ALLOWED.clear()
    check_matches_the_oracle(db)
    allowed = sum(ALLOWED)
    assert allowed >= 20 and len(ALLOWED) - allowed >= 20, (allowed, len(ALLOWED))


def _checked(access, *request):
    """AccessControl.check as the hub runs it, its directory read run in place of in a
    thread (no reactor here): the Decision it fires with."""
    fired = []
    with mock.patch.object(access_module.threads, "deferToThread",
                           lambda f, *a, **k: defer.maybeDeferred(f, *a, **k)):
        access.check(request[0], SERVICE, *request[1:]).addBoth(fired.append)
    assert len(fired) == 1 and not isinstance(fired[0], Exception), fired
    return fired[0]


SECTOR = {inst.id: inst.sector for inst in INSTITUTIONS}


def _register(conn, ssin, inst, code, start, end):
    """A registration through directory.register, on the SSIN the directory now knows the
    person by (as the hub's services resolve it); False when the exclusive rule refuses."""
    current = conn.execute(select(replacement.c.new_ssin).where(
        replacement.c.old_ssin == ssin)).scalar()
    quality = QualityCode(inst.sector, code, "", "", (inst.sector, code) in EXCLUSIVE)
    try:
        directory.register(conn, NOW, current or ssin, inst, quality, start, end)
    except directory.Conflict:
        return False
    return True
