"""The monthly run (seed §4.7): for every person with a pension in the month, the deductions
on the cumulated amount, and for each payer an attestation with what to withhold on each
benefit it pays.

An attestation is written only when it says something new: the first run of a month writes
one per payer and person; a run after corrections or late declarations writes a new version
only where the figures changed - including an attestation without benefits when a payer's
last benefit for the person was cancelled, so it stops withholding. The hub reads them in
id order (`after`) into the payers' mailboxes.

Plain DB-API on one cursor: ~5 million declarations a month must go through in minutes.
A payer sees only its own benefits and the rates that follow from the total (not the
amounts other payers pay).
"""
import datetime
import json
from itertools import groupby

from kszws.sources.pension_cadastre import computation
from kszws.sources.pension_cadastre.declarations import family_of

CHUNK = 20_000


def payload(month, payer, ssin, result, rows, reference):
    """The attestation of `payer` on `ssin` for `month` (ISO first day) as JSON text."""
    mine = [(row, share) for row, share in zip(rows, result.shares) if row["payer"] == payer] \
        if result else []
    return json.dumps({
        "month": month[:7], "payer": payer, "ssin": ssin, "rates": reference,
        "familySituation": result.family if result else None,
        "withholdingRateBp": result.withholding_rate_bp if result else None,
        "benefits": [{
            "declarationId": row["declaration"], "benefitReference": row["benefit_ref"],
            "benefitType": row["benefit_type"], "pillar": row["pillar"],
            "grossCents": share.gross, "healthInsuranceCents": share.health_insurance,
            "solidarityCents": share.solidarity, "taxableCents": share.taxable,
            "withholdingCents": share.withholding, "netCents": share.net}
            for row, share in mine]}, separators=(",", ":"))


def close_month(db, rates, month, now, progress=None):
    """Compute `month` ('YYYY-MM-01') for everyone and write the attestations that changed.
    Returns (persons, attestations written). progress(persons done, persons in all) after
    each batch."""
    period = rates.period_for(datetime.date.fromisoformat(month))
    if period is None:
        raise ValueError("no rates in conf/pension_rates.toml for %s" % month[:7])
    stamp = db.time_param(now)
    with db.write_transaction() as cur:
        cur.execute(db.sql("SELECT payer, ssin, version, payload FROM pc_attestation"
                           " WHERE month = ? ORDER BY id"), [month])
        latest = {(payer, ssin): (version, hash(text))  # the newest version of each
                  for payer, ssin, version, text in cur.fetchall()}
        total = None
        if progress:
            cur.execute(db.sql("SELECT COUNT(DISTINCT ssin) FROM pc_declaration"
                               " WHERE month = ? AND status = 'active'"), [month])
            total = cur.fetchone()[0]
        cur.execute(db.sql(
            "SELECT ssin, payer, declaration, benefit_ref, benefit_type, pillar, gross_cents,"
            " family FROM pc_declaration WHERE month = ? AND status = 'active'"
            " ORDER BY ssin, declaration"), [month])
        columns = ("ssin", "payer", "declaration", "benefit_ref", "benefit_type", "pillar",
                   "gross_cents", "family")
        writer = cur.connection.cursor()  # PostgreSQL: writing on `cur` drops its result
        persons, written, pending, seen = 0, 0, [], set()
        while True:
            batch = cur.fetchmany(CHUNK * 3)
            if not batch:
                break
            # Rows of a person may straddle two batches: hold back the last person.
            rows = [dict(zip(columns, r)) for r in batch]
            pending.extend(rows)
            if len(batch) == CHUNK * 3:
                last = pending[-1]["ssin"]
                ready = [r for r in pending if r["ssin"] != last]
                pending = [r for r in pending if r["ssin"] == last]
            else:
                ready, pending = pending, []
            out = []
            for ssin, group in groupby(ready, key=lambda r: r["ssin"]):
                group = list(group)
                persons += 1
                result = computation.compute([r["gross_cents"] for r in group],
                                             family_of(group), period)
                for payer in dict.fromkeys(r["payer"] for r in group):
                    seen.add((payer, ssin))
                    _changed(out, latest, month, payer, ssin, result, group,
                             period.reference, stamp)
            written += _write(db, writer, out)
            if progress:
                progress(persons, total)
        if pending:
            raise AssertionError("rows left after the last batch")  # pragma: no cover
        # Payers that had an attestation but no benefit in force any more: an empty one.
        out = []
        for payer, ssin in latest:
            if (payer, ssin) not in seen:
                _changed(out, latest, month, payer, ssin, None, [], period.reference, stamp)
        written += _write(db, writer, out)
    return persons, written


def _changed(out, latest, month, payer, ssin, result, rows, reference, stamp):
    text = payload(month, payer, ssin, result, rows, reference)
    version, digest = latest.get((payer, ssin), (0, None))
    if digest != hash(text):
        out.append((month, payer, ssin, version + 1, text, stamp))


def _write(db, cur, rows):
    if rows:
        cur.executemany(db.sql("INSERT INTO pc_attestation (month, payer, ssin, version,"
                               " payload, created_at) VALUES (?, ?, ?, ?, ?, ?)"), rows)
    return len(rows)


def attestations(conn, after, limit):
    """The attestations with id > `after`, in id order: [(id, month, payer, ssin, version,
    payload)]."""
    from sqlalchemy import select

    from kszws.sources.pension_cadastre.store import attestation as a

    return [tuple(r) for r in conn.execute(
        select(a.c.id, a.c.month, a.c.payer, a.c.ssin, a.c.version, a.c.payload)
        .where(a.c.id > after).order_by(a.c.id).limit(limit))]
