"""DIMONA (seed §4.13): employers declare each start (IN) and end (OUT) of employment at
once, correct it (UPDATE) or cancel it (CANCEL). Up to 20 declarations a message, each
answered on its own: a refused one writes nothing and does not stop the others. Student
work counts against a yearly quota of hours.

Reason codes (wire/reasons.py): DIM00001 unknown employer, DIM00002 unknown worker type or
action, DIM00003 employer not active on the date, DIM00004 inconsistent dates, DIM00005
overlapping IN, DIM00006 student quota exceeded or hours missing, DIM00007 no such period of
this employer (or already cancelled)."""
import datetime
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update

from kszws.sources.employer_directory.store import employer, employment

ACTIONS = ("IN", "OUT", "UPDATE", "CANCEL")
WORKER_TYPES = ("ordinary", "student", "flexi", "occasional")
# Student work (student@work): hours a year at reduced contributions - 475 until 2022, 600
# in 2023 and 2024, 650 from 2025 (Programme Law of 26 December 2022 and its 2025 change).
STUDENT_QUOTA = {2022: 475, 2023: 600, 2024: 600}
STUDENT_QUOTA_FROM_2025 = 650
MAX_DECLARATIONS = 20  # a message of the hub's online DimonaService (its schema)
# One call of the hub: an online message, or a chunk of a batch DIMN file (100 records).
MAX_PER_CALL = 1000


def student_quota(year):
    return STUDENT_QUOTA.get(year, STUDENT_QUOTA_FROM_2025 if year >= 2025 else 475)


@dataclass(frozen=True)
class Declaration:
    action: str
    ssin: str
    worker_type: str = None
    start: str = None  # ISO dates
    end: str = None
    hours: int = None
    period_id: int = None


@dataclass(frozen=True)
class Result:
    index: int
    action: str
    accepted: bool
    reason: str  # DIM000xx, or "" when accepted
    period_id: int = None


class Refused(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


def declare(conn, now, cbe, declarations):
    """[Result] for each declaration, in order; the accepted ones are written."""
    boss = conn.execute(select(employer).where(employer.c.cbe == cbe)).mappings().first()
    results = []
    for index, d in enumerate(declarations, 1):
        try:
            if boss is None:
                raise Refused("DIM00001")
            period = _APPLY.get(d.action, _unknown)(conn, now, boss, d)
            results.append(Result(index, d.action, True, "", period))
        except Refused as refused:
            results.append(Result(index, d.action, False, refused.code, d.period_id))
    return results


def _unknown(conn, now, boss, d):
    raise Refused("DIM00002")


def _active_on(boss, day):
    return boss["start_date"] <= day and (boss["end_date"] is None or boss["end_date"] >= day)


def _check_period(conn, boss, d, start, end, hours, exclude=None):
    if d.worker_type not in WORKER_TYPES:
        raise Refused("DIM00002")
    if not start or (end and end < start):
        raise Refused("DIM00004")
    if not _active_on(boss, start) or (end and not _active_on(boss, end)):
        raise Refused("DIM00003")
    overlap = select(employment.c.period_id).where(
        employment.c.cbe == boss["cbe"], employment.c.ssin == d.ssin,
        employment.c.status == "active",
        or_(employment.c.end_date.is_(None), employment.c.end_date >= start))
    if end:
        overlap = overlap.where(employment.c.start_date <= end)
    if exclude is not None:
        overlap = overlap.where(employment.c.period_id != exclude)
    if conn.execute(overlap).first() is not None:
        raise Refused("DIM00005")
    if d.worker_type == "student":
        if not hours or hours <= 0:
            raise Refused("DIM00006")
        year = int(start[:4])
        if used_hours(conn, d.ssin, year, exclude) + hours > student_quota(year):
            raise Refused("DIM00006")


def _in(conn, now, boss, d):
    _check_period(conn, boss, d, d.start, d.end, d.hours)
    return conn.execute(employment.insert().values(
        cbe=boss["cbe"], ssin=d.ssin, worker_type=d.worker_type, start_date=d.start,
        end_date=d.end, hours=d.hours if d.worker_type == "student" else None,
        status="active", declared_at=_naive(now), changed_at=_naive(now))
    ).inserted_primary_key[0]


def _own_period(conn, boss, d):
    row = conn.execute(select(employment).where(
        employment.c.period_id == (d.period_id or 0))).mappings().first()
    if row is None or row["cbe"] != boss["cbe"] or row["ssin"] != d.ssin \
            or row["status"] != "active":
        raise Refused("DIM00007")
    return row


def _out(conn, now, boss, d):
    row = _own_period(conn, boss, d)
    if not d.end or d.end < row["start_date"]:
        raise Refused("DIM00004")
    conn.execute(update(employment).where(employment.c.period_id == row["period_id"])
                 .values(end_date=d.end, changed_at=_naive(now)))
    return row["period_id"]


def _update(conn, now, boss, d):
    row = _own_period(conn, boss, d)
    start, end = d.start or row["start_date"], d.end or row["end_date"]
    hours = d.hours if d.hours is not None else row["hours"]
    changed = Declaration(d.action, d.ssin, d.worker_type or row["worker_type"], start, end,
                          hours, row["period_id"])
    _check_period(conn, boss, changed, start, end, hours, exclude=row["period_id"])
    conn.execute(update(employment).where(employment.c.period_id == row["period_id"]).values(
        worker_type=changed.worker_type, start_date=start, end_date=end,
        hours=hours if changed.worker_type == "student" else None, changed_at=_naive(now)))
    return row["period_id"]


def _cancel(conn, now, boss, d):
    row = _own_period(conn, boss, d)
    conn.execute(update(employment).where(employment.c.period_id == row["period_id"])
                 .values(status="cancelled", changed_at=_naive(now)))
    return row["period_id"]


_APPLY = {"IN": _in, "OUT": _out, "UPDATE": _update, "CANCEL": _cancel}


def used_hours(conn, ssin, year, exclude=None):
    """Student hours declared for `ssin` in `year`, every employer together."""
    q = select(func.coalesce(func.sum(employment.c.hours), 0)).where(
        employment.c.ssin == ssin, employment.c.worker_type == "student",
        employment.c.status == "active", employment.c.start_date >= "%04d-01-01" % year,
        employment.c.start_date <= "%04d-12-31" % year)
    if exclude is not None:
        q = q.where(employment.c.period_id != exclude)
    return conn.execute(q).scalar()


def personnel(conn, cbe, day, after=0, limit=None):
    """The employer's active periods in force on `day`, by period id: those after `after`,
    at most `limit` (pages of a large personnel file)."""
    q = select(employment).where(
        employment.c.cbe == cbe, employment.c.status == "active",
        employment.c.start_date <= day, employment.c.period_id > after,
        or_(employment.c.end_date.is_(None), employment.c.end_date >= day)
    ).order_by(employment.c.period_id)
    if limit is not None:
        q = q.limit(limit)
    return [dict(r) for r in conn.execute(q).mappings()]


def relations(conn, ssin, start, end):
    """The person's active periods meeting [start, end] (end None: open)."""
    q = select(employment).where(employment.c.ssin == ssin, employment.c.status == "active",
                                 or_(employment.c.end_date.is_(None),
                                     employment.c.end_date >= start))
    if end:
        q = q.where(employment.c.start_date <= end)
    return [dict(r) for r in conn.execute(q.order_by(employment.c.start_date)).mappings()]


def _naive(now):
    if now.tzinfo is not None:
        now = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return now
