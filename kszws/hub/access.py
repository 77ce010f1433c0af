"""The integration check (seed §3.5, §4.2): before any personal data moves, the hub checks
(a) that a published authorization lets the caller's sector receive these data groups of
this service in this legal context, and (b) that the caller manages a file on the person,
in the reference directory, in a quality code of that authorization, for the period asked.

Every personal-data endpoint asks `AccessControl.check` before it answers; a refusal is a
`Refusal` with a stable reason code (ACC00001 no authorization, ACC00002 no registration),
which each endpoint writes in its own legacy error shape and the exchange log records.
"""
from dataclasses import dataclass

from twisted.internet import defer, threads

from kszws import directory
from kszws.mailbox import attestations
from kszws.wire.reasons import Refusal

@dataclass(frozen=True)
class Decision:
    granted: tuple  # the data groups that may be answered
    refusal: Refusal  # why the first refused group was refused; None when all are granted
    deliberations: tuple  # the deliberations of the authorizations applied

    @property
    def allowed(self):
        return self.refusal is None


class AccessControl:
    """`employments(ssin, start, end)`: Deferred[set of the enterprise numbers of the
    employers the person worked for in the period] (the employer directory's DIMONA
    periods): for an employer, its employment relations stand in for registrations - the
    employer access key of seed §4.13."""

    def __init__(self, policy, db, employments=None):
        self.policy = policy
        self.db = db
        self.employments = employments

    def legal_context(self, institution, given=None):
        """The request's legal context; classic requests carry none and have their sector's."""
        return given if given is not None else self.policy.classic_context(institution)

    def check(self, institution, service, groups, legal_context, ssin, start, end, day):
        """Deferred[Decision] for `institution` asking `groups` of `service` about `ssin`
        for [start, end] (end None: open) on calendar day `day`. The directory is read in
        a thread, and only when some group needs a registration."""
        wanted = self._covering(institution, service, groups, legal_context, day)
        if isinstance(wanted, Decision) or all(self.policy.exempt(service, g) for g in groups):
            return defer.succeed(wanted if isinstance(wanted, Decision)
                                 else self._decide(wanted, service, set()))
        if institution.kind == "employer":
            return self._employer_key(wanted, institution, service, ssin, start, end)
        d = threads.deferToThread(self.held_codes, ssin, institution, start, end)
        return d.addCallback(lambda held: self._decide(wanted, service, held))

    def _employer_key(self, wanted, employer, service, ssin, start, end):
        """An employer holds a "file" on a person while the person is (or was, within the
        period) in its personnel file; the authorization's quality codes do not apply."""
        if self.employments is None:
            return defer.succeed(Decision((), Refusal("ACC00002", "no employer directory"), ()))

        def decide(employers):
            if employer.cbe in employers:
                return Decision(tuple(wanted), None, tuple(sorted(
                    {a.deliberation for covering in wanted.values() for a in covering})))
            return Decision((), Refusal("ACC00002", (
                "the person is not in the personnel file of %s for the period asked (the "
                "employer access key)" % employer.id)), ())

        return self.employments(ssin, start, end).addCallback(decide)

    def decide(self, institution, service, groups, legal_context, ssin, start, end, day):
        """The same decision, synchronously (benchmarks, tests, the CLI), for institutions:
        an employer's key needs the employer directory, through `check`."""
        if institution is not None and institution.kind == "employer":
            raise ValueError("an employer's access is decided by check(), not decide()")
        wanted = self._covering(institution, service, groups, legal_context, day)
        if isinstance(wanted, Decision):
            return wanted
        held = set() if all(self.policy.exempt(service, g) for g in groups) else \
            self.held_codes(ssin, institution, start, end)
        return self._decide(wanted, service, held)

    def _covering(self, institution, service, groups, legal_context, day):
        """{group: authorizations covering it}, or the refusing Decision (ACC00001)."""
        if institution is None or not groups:
            return Decision((), Refusal("ACC00001", "nothing asked, or nobody asking"), ())
        wanted = {}
        for group in groups:
            covering = self.policy.covering(institution, service, group, legal_context, day)
            if not covering:
                return Decision((), Refusal("ACC00001", (
                    "no authorization lets sector %d.%d receive %s/%s in legal context %r"
                    % (institution.sector, institution.subsector, service, group,
                       legal_context))[:256]), ())
            wanted[group] = covering
        return wanted

    def held_codes(self, ssin, institution, start, end):
        raw = self.db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                return directory.held_codes(self.db, cursor, ssin, institution, start, end)
            finally:
                cursor.close()
        finally:
            raw.close()

    def _decide(self, wanted, service, held):
        granted, used, refusal = [], set(), None
        for group, covering in wanted.items():
            if self.policy.exempt(service, group):
                entitled = covering
            else:
                entitled = [a for a in covering if a.quality_codes & held]
            if entitled:
                granted.append(group)
                used.update(a.deliberation for a in entitled)
            elif refusal is None:
                refusal = Refusal("ACC00002", (
                    "no registration on the person in the reference directory for the period "
                    "asked with a quality code allowing %s/%s" % (service, group)))
        return Decision(tuple(granted), refusal, tuple(sorted(used)))

    def follow_replacement(self, old, new, now):
        """Deferred: the directory follows an SSIN replacement the National Register
        reported (registrations move to the new SSIN)."""
        def follow():
            with self.db.engine.begin() as conn:
                return directory.follow_replacement(conn, now, old, new)
        return threads.deferToThread(follow)


def visible_attestations(db, conn, institution, ssin, types, start, end):
    """The attestations of `types` (registry.AttestationType) on `ssin` that `institution`
    may see for [start, end], or None when it may see none of these types: those of a type
    whose destinations include its sector and in whose quality codes it holds a file on the
    person in the period (the integration check of attestation flows), and those it
    published itself. Runs in a thread, inside `conn`'s transaction."""
    raw = conn.connection.dbapi_connection.cursor()
    try:
        held = directory.held_codes(db, raw, ssin, institution, start, end)
    finally:
        raw.close()
    entitled = [t.code for t in types
                if t.destination_codes(institution.sector, institution.subsector) & held]
    own = [t.code for t in types if t.publisher_sector == institution.sector]
    if not entitled and not own:
        return None
    ssins = {ssin} | set(conn.exec_driver_sql(
        db.sql("SELECT new_ssin FROM directory_replacement WHERE old_ssin = ?"),
        (ssin,)).scalars())
    found = attestations.of_person(conn, ssins, start, end, entitled) if entitled else []
    if own:
        found += [a for a in attestations.of_person(conn, ssins, start, end, own,
                                                    publisher=institution.id)
                  if a.type not in entitled]
    return found
