"""The reference directory (seed §4.2): which institution manages a file on which person, in
which capacity (quality code), for which period. Used to answer ManageAccess and, by the
hub's integration check, to decide whether an institution may receive data on a person.

Functions take a SQLAlchemy connection and run in a thread (never on the reactor). Rows are
never deleted: UNREGISTER ends registrations (end_date, ended_at).
"""
import datetime
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update

from kszws.clock import naive_utc
from kszws.store.schema import registration

PRIMARY, SECONDARY = "PRIMARY", "SECONDARY"


class Conflict(Exception):
    """An exclusive quality code is held by another institution of the sector."""

    def __init__(self, code, sector, start, end):
        super().__init__("quality code %d of sector %d is held elsewhere from %s to %s"
                         % (code, sector, start, end or "open"))
        self.code, self.sector, self.start, self.end = code, sector, start, end


@dataclass(frozen=True)
class Registration:
    ssin: str
    sector: int
    subsector: int
    institution: str
    quality_code: int
    register: str
    start: datetime.date
    end: datetime.date  # None: open


def _row(r):
    return Registration(r.ssin, r.sector, r.subsector, r.institution, r.quality_code,
                        r.register, r.start_date, r.end_date)


def _overlapping(start, end):
    """Registrations in force (not cancelled by an UNREGISTER) whose [start_date, end_date]
    meets [start, end] (None = open)."""
    clauses = [registration.c.ended_at.is_(None),
               or_(registration.c.end_date.is_(None), registration.c.end_date >= start)]
    if end is not None:
        clauses.append(registration.c.start_date <= end)
    return and_(*clauses)


def registrations(conn, ssin, start, end, sector=None, institution=None, register=None):
    q = select(registration).where(registration.c.ssin == ssin, _overlapping(start, end))
    if sector is not None:
        q = q.where(registration.c.sector == sector)
    if institution is not None:
        q = q.where(registration.c.institution == institution)
    if register in (PRIMARY, SECONDARY):
        q = q.where(registration.c.register == register)
    return [_row(r) for r in conn.execute(q.order_by(registration.c.start_date,
                                                     registration.c.id))]


def register(conn, now, ssin, institution, quality, start, end=None, register_=SECONDARY,
             phase=0):
    """Register `institution` (a registry.Institution) on `ssin` with `quality` (a
    registry.QualityCode) for [start, end]. Refuses with Conflict when the code is exclusive
    and another institution of the sector holds it for an overlapping period. A registration
    of the same institution and code that overlaps is widened, not duplicated."""
    now = naive_utc(now)
    if quality.exclusive:
        held = conn.execute(select(registration).where(
            registration.c.ssin == ssin, registration.c.sector == institution.sector,
            registration.c.quality_code == quality.code,
            registration.c.institution != institution.id, _overlapping(start, end))).first()
        if held is not None:
            raise Conflict(quality.code, institution.sector, held.start_date, held.end_date)
    mine = conn.execute(select(registration).where(
        registration.c.ssin == ssin, registration.c.institution == institution.id,
        registration.c.quality_code == quality.code, _overlapping(start, end))).all()
    if mine:
        first = min([start] + [r.start_date for r in mine])
        ends = [end] + [r.end_date for r in mine]
        last = None if None in ends else max(ends)
        conn.execute(update(registration).where(registration.c.id == mine[0].id).values(
            start_date=first, end_date=last, changed_at=now, register=register_))
        for extra in mine[1:]:  # merged into the first: end it, keep it
            conn.execute(update(registration).where(registration.c.id == extra.id).values(
                end_date=extra.start_date, ended_at=now, changed_at=now))
        return
    conn.execute(registration.insert().values(
        ssin=ssin, sector=institution.sector, subsector=institution.subsector,
        institution=institution.id, quality_code=quality.code, phase=phase,
        register=register_, start_date=start, end_date=end, created_at=now, changed_at=now))


def unregister(conn, now, ssin, institution, start, quality_code=None):
    """End, from `start` on, the registrations of `institution` on `ssin` (of one code, or
    all). Returns how many registrations were ended or shortened."""
    now = naive_utc(now)
    q = select(registration).where(registration.c.ssin == ssin,
                                   registration.c.institution == institution.id,
                                   _overlapping(start, None))
    if quality_code is not None:
        q = q.where(registration.c.quality_code == quality_code)
    changed = 0
    for r in conn.execute(q).all():
        if r.start_date < start:  # it keeps the days before `start`
            values = dict(end_date=start - datetime.timedelta(days=1))
        else:  # it starts inside the unregistered period: it ends entirely
            values = dict(end_date=r.start_date, ended_at=now)
        conn.execute(update(registration).where(registration.c.id == r.id)
                     .values(changed_at=now, **values))
        changed += 1
    return changed
