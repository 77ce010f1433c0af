"""The reference directory (seed §4.2): which institution manages a file on which person, in
which capacity (quality code), for which period. Used to answer ManageAccess and, by the
hub's integration check, to decide whether an institution may receive data on a person.

Functions take a SQLAlchemy connection and run in a thread (never on the reactor). Rows are
never deleted: UNREGISTER ends registrations (end_date, ended_at).
"""
import datetime
import json
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update

from kszws.clock import naive_utc
from kszws.store.schema import registration, replacement

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


def other_sectors(conn, ssin, institution, quality_code, integrated, requested):
    """The registrations of the other sectors on `ssin` during `requested` (start, end), for
    an institution that itself manages a file on the person in `quality_code` during
    `integrated` (start, end); None when it does not."""
    mine = registrations(conn, ssin, *integrated, institution=institution.id)
    if not any(r.quality_code == quality_code for r in mine):
        return None
    return [r for r in registrations(conn, ssin, *requested) if r.sector != institution.sector]


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


def follow_replacement(conn, now, old, new):
    """The National Register replaced SSIN `old` by `new`: the registrations in force on
    `old` move to `new` (the old rows end, kept as history), requests naming `old` find
    them, and earlier replacements pointing to `old` now point to `new`. Idempotent.
    Returns how many registrations moved."""
    if old == new or conn.execute(select(replacement.c.new_ssin).where(
            replacement.c.old_ssin == old)).first() is not None:
        return 0
    now = naive_utc(now)
    conn.execute(replacement.insert().values(old_ssin=old, new_ssin=new, replaced_at=now))
    conn.execute(update(replacement).where(replacement.c.new_ssin == old)
                 .values(new_ssin=new))
    moved = 0
    for r in conn.execute(select(registration).where(
            registration.c.ssin == old, registration.c.ended_at.is_(None))
            .order_by(registration.c.id)).all():  # copied in the order they were made
        # Copied as it is, even beside an overlapping one on the new SSIN: each keeps its
        # own period (the exclusive rule does not apply: it is the same person).
        conn.execute(registration.insert().values(
            ssin=new, sector=r.sector, subsector=r.subsector, institution=r.institution,
            quality_code=r.quality_code, phase=r.phase, register=r.register,
            start_date=r.start_date, end_date=r.end_date, created_at=now, changed_at=now))
        conn.execute(update(registration).where(registration.c.id == r.id)
                     .values(ended_at=now, changed_at=now))
        moved += 1
    return moved


# The integration check's read, in plain DB-API (SQLAlchemy Core costs ~100 us a statement)
# and outside any write lock: a person's registrations at one institution, on the SSIN asked
# or on the one that replaced it.
_HELD_CODES = (
    "SELECT quality_code FROM directory_registration WHERE ssin = ? AND sector = ?"
    " AND institution = ? AND ended_at IS NULL AND (end_date IS NULL OR end_date >= ?)%s"
    " UNION ALL SELECT r.quality_code FROM directory_replacement p"
    " JOIN directory_registration r ON r.ssin = p.new_ssin WHERE p.old_ssin = ?"
    " AND r.sector = ? AND r.institution = ? AND r.ended_at IS NULL"
    " AND (r.end_date IS NULL OR r.end_date >= ?)%s")


def held_codes(db, cursor, ssin, institution, start, end):
    """The quality codes in which `institution` (a registry.Institution) manages a file on
    `ssin` during some part of [start, end] (end None: open), on a DB-API `cursor` of `db`."""
    first = [ssin, institution.sector, institution.id, db.date_param(start)]
    if end is None:
        statement, params = _HELD_CODES % ("", ""), first + first
    else:  # the registration must also start before the period ends
        statement = _HELD_CODES % (" AND start_date <= ?", " AND r.start_date <= ?")
        params = first + [db.date_param(end)] + first + [db.date_param(end)]
    cursor.execute(db.sql(statement), params)
    return {row[0] for row in cursor.fetchall()}


# -- bulk load (an institution's initial load: the CLI and bulkRegister) ---------------------

@dataclass(frozen=True)
class Rejected:
    index: int  # 1 = the first row given
    ssin: str
    code: str  # DIR000xx
    diagnostic: str


_STAGE_COLUMNS = "idx, ssin, quality_code, start_date, end_date, register"
_OVERLAP = ("r.ended_at IS NULL AND r.start_date <= COALESCE(s.end_date, ?)"
            " AND COALESCE(r.end_date, ?) >= s.start_date")
FAR = datetime.date(9999, 12, 31)
SQLITE_LOAD_CACHE_KB = 1_048_576  # the page cache of a connection that has bulk-loaded


def bulk_register(db, now, institution, rows, quality_codes):
    """Register `institution` on many persons at once: `rows` are (ssin, quality code,
    start, end or None, register or None). Each row is checked like a single REGISTER
    (SSIN check digits, quality code of the sector, period, the exclusive-code rule, no
    overlap with the institution's own registration of the same code, no duplicate in the
    load); the valid rows are inserted in one transaction, set-based, and the others are
    returned as `Rejected` - nothing half-applied. `quality_codes` maps a code to its
    registry.QualityCode for the institution's sector. Returns (accepted, rejected)."""
    staged, rejected = _prepared(db.dialect, rows, quality_codes)
    return _write_load(db, now, institution, staged, rejected, quality_codes)


def bulk_load(db, now, institution, chunks, quality_codes):
    """`bulk_register` for a large load given in chunks (each its own transaction):
    yields (accepted, rejected) per chunk. Chunk k+1 is validated, and made into what the
    database reads (PostgreSQL's COPY text), in a child process while chunk k is written,
    so the load goes at the pace of the slower of the two rather than of their sum: the
    checks hold the GIL, a thread would slow the writer.
    (For the CLI and benchmarks: the child is forked, which a Twisted process must not do.)"""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        return
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        pending = pool.submit(_prepared, db.dialect, first, quality_codes)
        for chunk in chunks:
            ready = pending.result()
            pending = pool.submit(_prepared, db.dialect, chunk, quality_codes)
            yield _write_load(db, now, institution, *ready, quality_codes)
        yield _write_load(db, now, institution, *pending.result(), quality_codes)


def _write_load(db, now, institution, staged, rejected, quality_codes):
    exclusive = sorted(c for c, q in quality_codes.items() if q.exclusive)
    with db.write_transaction() as cur:
        if db.dialect == "sqlite":
            # Registrations arrive in SSIN order of no one's choosing: with SQLite's default
            # 2 MB page cache every index insert of a large directory reads from disk.
            cur.execute("PRAGMA cache_size = -%d" % SQLITE_LOAD_CACHE_KB)
        else:
            # The probes' estimated cost (a join of the whole stage) makes PostgreSQL
            # compile them to machine code first, each time: ~10 ms a statement for nothing.
            cur.execute("SET LOCAL jit = off")
        _stage(db, cur, staged)
        # An SSIN the directory knows as replaced is registered under the new one.
        cur.execute(db.sql(
            "UPDATE kszws_stage SET ssin = (SELECT new_ssin FROM directory_replacement"
            " WHERE old_ssin = kszws_stage.ssin) WHERE ssin IN"
            " (SELECT old_ssin FROM directory_replacement)"))
        far = db.date_param(FAR)
        conflicts = [(i, s, "DIR00006") for i, s in _probe(
            db, cur, " AND r.institution = ?", [institution.sector, far, far, institution.id])]
        if exclusive:  # only the lines of an exclusive code are probed
            conflicts += [(i, s, "DIR00001") for i, s in _probe(
                db, cur, " AND r.institution <> ?", [institution.sector, far, far,
                                                     institution.id],
                "s.quality_code IN (%s)" % ",".join("?" * len(exclusive)), exclusive)]
        if conflicts:
            _unstage(db, cur, sorted({i for i, _, _ in conflicts}))
        stamp = db.time_param(now)
        cur.execute(db.sql(
            "INSERT INTO directory_registration (ssin, sector, subsector, institution,"
            " quality_code, phase, register, start_date, end_date, created_at, changed_at)"
            " SELECT ssin, ?, ?, ?, quality_code, 0, register, start_date, end_date, ?, ?"
            " FROM kszws_stage ORDER BY ssin"),
            [institution.sector, institution.subsector, institution.id, stamp, stamp])
        accepted = cur.rowcount
        cur.execute("DROP TABLE kszws_stage")
        if db.dialect == "postgresql" and accepted >= 10_000:
            # The planner must know the table grew, or the next load's conflict joins
            # become nested scans of it; sampling it again costs ~0.2 s at 10 M rows, so
            # only when it grew by a fifth since the planner last looked.
            cur.execute("SELECT reltuples FROM pg_class WHERE relname = 'directory_registration'"
                        " AND relnamespace = to_regnamespace(current_schema())")
            known = (cur.fetchone() or (0,))[0]
            if known <= 0 or accepted > 0.2 * known:
                cur.execute("ANALYZE directory_registration")
    first = {}  # a line may conflict in both ways: its first reason is given
    for i, ssin, code in conflicts:
        first.setdefault(i, Rejected(i, ssin, code, _BULK_DIAGNOSTICS[code]))
    return accepted, sorted(rejected + list(first.values()), key=lambda r: r.index)


_BULK_DIAGNOSTICS = {
    "DIR00001": "exclusive quality code held at another institution of the sector",
    "DIR00003": "quality code not valid in the sector",
    "DIR00006": "overlaps a registration of the institution with this code, or another "
                "line of the load",
    "DIR00007": "invalid line",
}


def _probe(db, cur, condition, params, lines="1 = 1", line_params=()):
    """(idx, ssin) of the staged lines (those of `lines`) that meet a registration in force
    of the same person, sector and quality code, overlapping, and `condition`. One index
    probe per line whatever the planner's statistics say: PostgreSQL gets a LATERAL ...
    LIMIT 1 (with stale statistics it once joined the other way round, minutes per chunk);
    SQLite's planner probes the (SSIN, sector) index by itself. The stage is in SSIN order, so the
    probes walk the index in order."""
    probe = ("SELECT 1 FROM directory_registration r WHERE r.ssin = s.ssin AND r.sector = ?"
             " AND r.quality_code = s.quality_code AND " + _OVERLAP + condition)
    if db.dialect == "postgresql":
        statement = ("SELECT s.idx, s.ssin FROM (SELECT * FROM kszws_stage s WHERE %s) s,"
                     " LATERAL (%s LIMIT 1) hit" % (lines, probe))
    else:
        statement = "SELECT s.idx, s.ssin FROM kszws_stage s WHERE %s AND EXISTS (%s)" % (
            lines, probe)
    cur.execute(db.sql(statement), list(line_params) + params)
    return cur.fetchall()


def _unstage(db, cur, indexes):
    """Drop the staged lines of `indexes` (line numbers), in one statement however many."""
    if db.dialect == "postgresql":
        cur.execute("DELETE FROM kszws_stage WHERE idx IN (SELECT unnest(%s::integer[]))",
                    [indexes])
    else:
        cur.execute("DELETE FROM kszws_stage WHERE idx IN (SELECT value FROM json_each(?))",
                    [json.dumps(indexes)])


def _prepared(dialect, rows, quality_codes):
    """_validated's (lines to stage, rejected), the lines as `_stage` writes them for
    `dialect`: PostgreSQL's COPY text (bytes), or SQLite's parameter rows, dates as ISO text.
    Made in bulk_load's child: this is per-line Python work taken off the writer."""
    staged, rejected = _validated(rows, quality_codes)
    if dialect == "postgresql":
        # Every field is a number, a canonical SSIN, a date or PRIMARY/SECONDARY: nothing
        # that COPY's text format would have to escape.
        return "".join([
            "%d\t%s\t%d\t%s\t%s\t%s\n" % (i, s, c, start.isoformat(),
                                          end.isoformat() if end else "\\N", r)
            for i, s, c, start, end, r in staged]).encode(), rejected
    return [(i, s, c, start.isoformat(), end.isoformat() if end else None, r)
            for i, s, c, start, end, r in staged], rejected


def _validated(rows, quality_codes):
    """(rows to stage, rejected): per-row checks, then duplicates within the load. The
    rows to stage are in the order of their person (SSIN), code and start."""
    from kszws import ids

    staged, rejected = [], []
    this_year = datetime.date.today().year
    for index, (raw_ssin, code, start, end, register_) in enumerate(rows, 1):
        if plain_ssin(raw_ssin, this_year):
            ssin = raw_ssin
        else:  # stdnum decides, and says why not
            try:
                ssin = ids.ssin(raw_ssin)
            except ids.InvalidIdentifier as exc:
                rejected.append(Rejected(index, str(raw_ssin)[:20], "DIR00007",
                                         str(exc)[:200]))
                continue
        if code not in quality_codes:
            rejected.append(Rejected(index, ssin, "DIR00003", _BULK_DIAGNOSTICS["DIR00003"]))
            continue
        if end is not None and end < start:
            rejected.append(Rejected(index, ssin, "DIR00007", "the period ends before it starts"))
            continue
        if register_ not in (None, PRIMARY, SECONDARY):
            rejected.append(Rejected(index, ssin, "DIR00007", "register is PRIMARY or SECONDARY"))
            continue
        staged.append((index, ssin, code, start, end, register_ or SECONDARY))
    staged.sort(key=lambda r: (r[1], r[2], r[3]))
    kept, last = [], None
    for row in staged:  # sorted by person, code, start: an overlap is with the previous one
        if last is not None and last[1:3] == row[1:3] and (last[4] is None or last[4] >= row[3]):
            rejected.append(Rejected(row[0], row[1], "DIR00006", _BULK_DIAGNOSTICS["DIR00006"]))
            if last[4] is not None and (row[4] is None or row[4] > last[4]):
                last = row  # the later end decides what the next rows overlap
            continue
        kept.append(row)
        last = row
    return kept, rejected


def plain_ssin(value, this_year):
    """True when `value` is a str of 11 ASCII digits that ids.ssin accepts as it is: the
    rules of python-stdnum's be.nn and be.bis for that form (month 0-12, or 20-32 and 40-52
    for a bis number; check digits 97 - the first nine mod 97, or of 2 and the first nine
    for a person born in 2000 or later, up to `this_year`), in a sixth of the time; a bulk
    load checks millions. False for anything else, which ids.ssin then checks itself and
    explains. tests/test_directory.py holds it to ids.ssin on every month and both
    centuries."""
    if type(value) is not str or len(value) != 11 or not (value.isascii() and value.isdigit()):
        return False
    month = int(value[2:4])
    if 12 < month < 20 or 32 < month < 40 or month > 52:
        return False
    body, check = int(value[:9]), int(value[9:])
    return 97 - body % 97 == check or (int(value[:2]) + 2000 <= this_year
                                       and 97 - (2_000_000_000 + body) % 97 == check)


def _stage(db, cur, staged):
    """The lines to load in a temporary table, in the order _prepared gives them (by SSIN):
    a table without a key, each line appended."""
    if db.dialect == "postgresql":
        cur.execute("CREATE TEMP TABLE kszws_stage (idx integer, ssin varchar(11),"
                    " quality_code integer, start_date date, end_date date,"
                    " register varchar(10)) ON COMMIT DROP")
        with cur.copy("COPY kszws_stage (%s) FROM STDIN" % _STAGE_COLUMNS) as copy:
            copy.write(staged)
        return
    cur.execute("CREATE TEMP TABLE kszws_stage (idx INTEGER, ssin TEXT,"
                " quality_code INTEGER, start_date TEXT, end_date TEXT, register TEXT)")
    cur.executemany("INSERT INTO kszws_stage (%s) VALUES (?, ?, ?, ?, ?, ?)" % _STAGE_COLUMNS,
                    staged)
