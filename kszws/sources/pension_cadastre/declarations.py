"""Payers' monthly declarations (seed §4.7): declare, correct, cancel, and what the cadastre
knows of a person's pensions.

A message of a payer is applied whole or not at all: when one of its declarations is
refused, every other one is answered PEN00009 and nothing is written. Each function takes a
SQLAlchemy connection inside the caller's transaction.

Reason codes (wire/reasons.py): PEN00001 invalid SSIN, PEN00003 amount not positive or
absurd, PEN00004 month malformed or in the future, PEN00005 no rates for the month,
PEN00006 duplicate (that benefit of that payer is declared for that month: correct it),
PEN00007 unknown benefit type or family situation, or no benefit reference, PEN00008 no
declaration in force of this payer with that id, PEN00009 not applied (another item of
the message was refused). PEN00002 (unknown to the National Register) is the hub's.
"""
import datetime
from dataclasses import dataclass

from sqlalchemy import and_, insert, select, update

from kszws import ids
from kszws.sources.pension_cadastre import computation
from kszws.sources.pension_cadastre.store import (ACTIVE, CANCELLED, SUPERSEDED, declaration,
                                                  pensioner)

NOT_APPLIED = "PEN00009"


@dataclass
class Declaration:
    ssin: str
    month: str  # YYYY-MM
    benefit_ref: str
    benefit_type: str
    gross_cents: int
    family: str
    ticket: str = None  # the hub's reference of the batch record, if it is one


@dataclass
class Correction:
    declaration_id: int
    gross_cents: int
    family: str


@dataclass
class Outcome:
    index: int  # 1-based, in the message
    accepted: bool
    reason: str = None
    declaration_id: int = None
    version: int = None
    new_pensioner: bool = False


def month_start(text):
    """'YYYY-MM' (or a date in it) -> the date of its first day, or None if malformed."""
    try:
        return datetime.date.fromisoformat((text or "").strip()[:7] + "-01")
    except ValueError:
        return None


def _month_problem(rates, month, today):
    first = month_start(month)
    if first is None or first > today.replace(day=1):
        return "PEN00004"
    if rates.period_for(first) is None:
        return "PEN00005"
    return None


def _amount_problem(rates, gross, family):
    if not isinstance(gross, int) or gross <= 0 or gross > rates.max_gross_cents:
        return "PEN00003"
    if family not in computation.FAMILY_SITUATIONS:
        return "PEN00007"
    return None


def _finish(outcomes):
    """All or nothing: if any item was refused, the accepted ones are not applied."""
    if all(o.accepted for o in outcomes):
        return outcomes, True
    return [o if not o.accepted else Outcome(o.index, False, NOT_APPLIED) for o in outcomes], \
        False


def declare(conn, rates, payer, items, today, now, whole=True):
    """New declarations of `payer`; [Outcome] in order. `whole`: one message, all or
    nothing; else each declaration is applied or refused on its own (a batch of records,
    each a message of one)."""
    outcomes, rows, seen = [], [], set()
    earlier = _declared(conn, payer, {d.ticket for d in items if d.ticket})
    for index, d in enumerate(items, 1):
        if d.ticket in earlier:  # this very record, declared before: answered alike
            outcomes.append(_again(index, earlier[d.ticket]))
            continue
        try:
            d.ssin = ids.ssin(d.ssin or "")
            problem = None
        except ids.InvalidIdentifier:
            problem = "PEN00001"
        problem = (problem or _month_problem(rates, d.month, today)
                   or _amount_problem(rates, d.gross_cents, d.family))
        if problem is None and (d.benefit_type not in rates.benefit_types
                                or not (d.benefit_ref or "").strip()
                                or len(d.benefit_ref) > 64):
            problem = "PEN00007"
        if problem is None:
            month = month_start(d.month).isoformat()
            key = (d.ssin, month, d.benefit_ref)
            if key in seen or conn.execute(select(declaration.c.id).where(
                    declaration.c.payer == payer, declaration.c.ssin == d.ssin,
                    declaration.c.month == month, declaration.c.benefit_ref == d.benefit_ref,
                    declaration.c.status == ACTIVE)).first():
                problem = "PEN00006"
            seen.add(key)
        outcomes.append(Outcome(index, problem is None, problem))
        if problem is None:
            rows.append((outcomes[-1], dict(
                version=1, payer=payer, ssin=d.ssin, month=month, benefit_ref=d.benefit_ref,
                benefit_type=d.benefit_type, pillar=rates.benefit_types[d.benefit_type],
                gross_cents=d.gross_cents, family=d.family, status=ACTIVE, declared_at=now,
                ticket=d.ticket)))
    if whole:
        outcomes, complete = _finish(outcomes)
        if not complete:
            return outcomes
    known = set(conn.execute(select(pensioner.c.ssin).where(
        pensioner.c.ssin.in_({r["ssin"] for _, r in rows}))).scalars())
    for outcome, row in rows:
        new_id = conn.execute(insert(declaration).values(declaration=0, **row)).inserted_primary_key[0]
        conn.execute(update(declaration).where(declaration.c.id == new_id)
                     .values(declaration=new_id))
        outcome.declaration_id, outcome.version = new_id, 1
        if row["ssin"] not in known:
            known.add(row["ssin"])
            outcome.new_pensioner = True
            conn.execute(insert(pensioner).values(ssin=row["ssin"], first_month=row["month"],
                                                  first_payer=payer, declared_at=now,
                                                  first_declaration=new_id))
    return outcomes


def _declared(conn, payer, tickets):
    """{ticket: (declaration id, made him a pensioner)} of the payer's declarations that
    came from these batch records."""
    if not tickets:
        return {}
    return {row.ticket: (row.id, row.first_declaration == row.id) for row in conn.execute(
        select(declaration.c.id, declaration.c.ticket, pensioner.c.first_declaration)
        .select_from(declaration.outerjoin(pensioner, pensioner.c.ssin == declaration.c.ssin))
        .where(declaration.c.payer == payer, declaration.c.version == 1,
               declaration.c.ticket.in_(sorted(tickets))))}


def _again(index, earlier):
    """The outcome a record declared before had (its first version's)."""
    declaration_id, new_pensioner = earlier
    return Outcome(index, True, None, declaration_id, 1, new_pensioner)


def _in_force(conn, payer, declaration_id):
    return conn.execute(select(declaration).where(
        declaration.c.declaration == declaration_id, declaration.c.payer == payer,
        declaration.c.status == ACTIVE)).mappings().first()


def correct(conn, rates, payer, items, now):
    """Corrections of the amount and family situation of declarations in force."""
    outcomes, found = [], []
    for index, c in enumerate(items, 1):
        row = _in_force(conn, payer, c.declaration_id) if c.declaration_id else None
        problem = "PEN00008" if row is None or c.declaration_id in {r["declaration"]
                                                                      for r in found if r} \
            else _amount_problem(rates, c.gross_cents, c.family)
        outcomes.append(Outcome(index, problem is None, problem))
        found.append(row if problem is None else None)
    outcomes, whole = _finish(outcomes)
    if not whole:
        return outcomes
    for outcome, c, row in zip(outcomes, items, found):
        conn.execute(update(declaration).where(declaration.c.id == row["id"])
                     .values(status=SUPERSEDED, ended_at=now))
        new = dict(row)
        del new["id"]
        new.update(version=row["version"] + 1, gross_cents=c.gross_cents, family=c.family,
                   status=ACTIVE, declared_at=now, ended_at=None, ticket=None)
        conn.execute(insert(declaration).values(**new))
        outcome.declaration_id, outcome.version = row["declaration"], new["version"]
    return outcomes


def cancel(conn, payer, declaration_ids, now):
    """Cancellations of declarations in force (their history stays)."""
    outcomes, rows = [], []
    for index, declaration_id in enumerate(declaration_ids, 1):
        row = _in_force(conn, payer, declaration_id) if declaration_id else None
        if row is not None and any(r["id"] == row["id"] for r in rows):
            row = None
        outcomes.append(Outcome(index, row is not None, None if row else "PEN00008"))
        rows.append(row)
    outcomes, whole = _finish(outcomes)
    if whole:
        for outcome, row in zip(outcomes, rows):
            conn.execute(update(declaration).where(declaration.c.id == row["id"])
                         .values(status=CANCELLED, ended_at=now))
            outcome.declaration_id, outcome.version = row["declaration"], row["version"]
    return outcomes


# -- what the cadastre knows ---------------------------------------------------------------

def in_force(conn, ssin, first_month, last_month=None, pillar=None):
    """The declarations in force on the person for the months [first, last] (ISO first
    days), by month then declaration: mappings."""
    q = select(declaration).where(declaration.c.ssin == ssin, declaration.c.status == ACTIVE,
                                  declaration.c.month >= first_month)
    if last_month:
        q = q.where(declaration.c.month <= last_month)
    if pillar:
        q = q.where(declaration.c.pillar == pillar)
    return list(conn.execute(q.order_by(declaration.c.month, declaration.c.declaration))
                .mappings())


def family_of(rows):
    """A person's family situation for a month: with dependants if any payer declares it
    (the payers know it from their own files; the more favourable threshold applies)."""
    return computation.DEPENDANTS if any(r["family"] == computation.DEPENDANTS
                                         for r in rows) else computation.SINGLE


def month_of(rates, rows, month):
    """computation.Month for the declarations `rows` of one person and month (or None when
    nothing is in force)."""
    if not rows:
        return None
    period = rates.period_for(datetime.date.fromisoformat(month))
    return computation.compute([r["gross_cents"] for r in rows], family_of(rows), period)


def history(conn, payer, declaration_id):
    """Every version of one of the payer's declarations, oldest first."""
    return list(conn.execute(select(declaration).where(and_(
        declaration.c.declaration == declaration_id, declaration.c.payer == payer))
        .order_by(declaration.c.version)).mappings())
