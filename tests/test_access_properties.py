"""Property-based tests of the integration check (hypothesis): random authorizations,
registrations, unregistrations, SSIN replacements and requests, the hub's decision
(AccessControl.decide on the real store, SQLite and PostgreSQL) compared with a small
independent oracle written here. No request allowed that the rules forbid, none refused that
they allow: period edges (open ends, one-day overlaps), ended registrations, replaced SSINs."""
import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from kszws import directory
from kszws.hub.access import AccessControl
from kszws.registry.access import AccessPolicy, Authorization, Exemption
from kszws.registry.model import Institution
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

    def register(self, ssin, inst, code, start, end):
        while ssin in self.replaced:  # registered under the SSIN the person now has
            ssin = self.replaced[ssin]
        self.rows.append([ssin, inst.id, code, start, end, True])

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


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(auths=st.lists(authorizations(), min_size=1, max_size=5),
       exempt=st.sets(st.sampled_from(GROUPS), max_size=1),
       ops=st.lists(operations(), max_size=20), asks=st.lists(requests(), min_size=1, max_size=12))
def test_integration_check_matches_the_oracle(db, auths, exempt, ops, asks):
    with db.engine.begin() as conn:
        conn.execute(delete(registration))
        conn.execute(delete(replacement))
    policy = AccessPolicy(tuple(auths), tuple(Exemption(SERVICE, g, "") for g in exempt))
    oracle, access = Oracle(policy), AccessControl(policy, db)
    with db.engine.begin() as conn:
        for op in ops:
            if op[0] == "register":
                _, ssin, inst, code, start, end = op
                _insert(conn, ssin, inst, code, start, end)
                oracle.register(ssin, inst, code, start, end)
            elif op[0] == "unregister":
                _, ssin, inst, start, code = op
                directory.unregister(conn, NOW, ssin, inst, start, code)
                oracle.unregister(ssin, inst, start, code)
            elif oracle.replace(op[1], op[2]):
                directory.follow_replacement(conn, NOW, op[1], op[2])
    for inst, groups, context, ssin, start, end, day in asks:
        decision = access.decide(inst, SERVICE, groups, context, ssin, start, end, day)
        expected = oracle.allowed(inst, groups, context, ssin, start, end, day)
        assert decision.allowed == expected, (inst.id, groups, context, ssin, start, end, day,
                                              decision.refusal)
        ALLOWED.append(expected)


ALLOWED = []  # what the oracle said, over every example: both answers must occur


def test_the_examples_allow_and_refuse():
    """Run after the property: it must have seen requests allowed and refused, or it
    tested nothing."""
    if ALLOWED:
        allowed = sum(ALLOWED)
        assert allowed >= 20 and len(ALLOWED) - allowed >= 20, (allowed, len(ALLOWED))


def _insert(conn, ssin, inst, code, start, end):
    """A registration as a fact (no merging, no exclusive rule: those are tested elsewhere);
    on the SSIN the directory now knows the person by, as the hub's services do."""
    current = conn.execute(replacement.select().where(replacement.c.old_ssin == ssin)).first()
    conn.execute(registration.insert().values(
        ssin=current.new_ssin if current else ssin, sector=inst.sector,
        subsector=inst.subsector, institution=inst.id, quality_code=code, phase=0,
        register="SECONDARY", start_date=start, end_date=end, created_at=NOW.replace(tzinfo=None),
        changed_at=NOW.replace(tzinfo=None)))
