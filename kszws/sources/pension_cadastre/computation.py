"""The pension cadastre's computation (seed §4.7): the deductions on a person's pensions of
one month, on the CUMULATED gross amount of every benefit, then split over the benefits.

Integers only: amounts in euro cents, rates in basis points (355 = 3.55 %). The figures and
their legal sources are in conf/pension_rates.toml; the rules here are:

  health insurance  rate x total, but never more than what the total exceeds the threshold
                    by (the deduction does not bring the total below it); nothing at or
                    below the threshold
  solidarity        in the bracket [from, next from): min(rate x total, c(from) + corridor x
                    (total - from)), c(from) the contribution at `from` under the bracket
                    below (0 for the first): the corridor keeps the pension from falling
                    below the threshold, and smooths the step to the next rate
  withholding rate  the average rate of the yearly income tax on 12 x the month's taxable
                    amount (total - both deductions), less the tax on the tax-free sum,
                    truncated to the basis point; each benefit's withholding is that rate on
                    its own taxable amount
  split             each deduction over the benefits in proportion to their gross, by the
                    largest-remainder method (ties: the benefit declared first), so the
                    shares add up to the total to the cent

Every product is rounded half up to the cent (`percent`).
"""
import datetime
import tomllib
from dataclasses import dataclass

SINGLE, DEPENDANTS = "single", "dependants"
FAMILY_SITUATIONS = (SINGLE, DEPENDANTS)


def percent(cents, bp):
    """`bp` hundredths of a percent of `cents`, rounded half up to the cent."""
    return (cents * bp * 2 + 10_000) // 20_000


@dataclass(frozen=True)
class Bracket:
    from_cents: int
    rate_bp: int


@dataclass(frozen=True)
class Period:
    valid_from: datetime.date
    valid_until: datetime.date
    reference: str
    health_rate_bp: int
    health_threshold: dict  # family situation -> cents
    corridor_bp: int
    solidarity_brackets: dict  # family situation -> (Bracket, ...) ascending
    tax_free_cents: int
    tax_brackets: tuple  # (Bracket, ...) ascending, the first from 0
    sources: dict  # deduction -> its legal source

    def covers(self, month):
        """Whether the month (a date, its first day) lies in the period."""
        return self.valid_from <= month <= self.valid_until


@dataclass(frozen=True)
class Rates:
    periods: tuple
    benefit_types: dict  # type -> pillar
    max_gross_cents: int

    def period_for(self, month):
        return next((p for p in self.periods if p.covers(month)), None)


class RatesError(ValueError):
    pass


def load(path):
    """conf/pension_rates.toml, checked: a bad figure stops the cadastre at start."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        periods = tuple(_period(p) for p in raw["period"])
        types = {str(k): int(v) for k, v in raw["benefit_types"].items()}
        limit = int(raw["limits"]["max_gross_cents"])
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RatesError("%s: %s" % (path, exc)) from None
    if any(pillar not in (1, 2) for pillar in types.values()):
        raise RatesError("%s: a benefit type's pillar is 1 or 2" % path)
    ordered = sorted(periods, key=lambda p: p.valid_from)
    for before, after in zip(ordered, ordered[1:]):
        if after.valid_from <= before.valid_until:
            raise RatesError("%s: periods %s and %s overlap" % (path, before.reference,
                                                                after.reference))
    return Rates(tuple(ordered), types, limit)


def _brackets(rows):
    brackets = tuple(Bracket(int(r["from_cents"]), int(r["rate_bp"])) for r in rows)
    if not brackets or any(b.from_cents >= c.from_cents for b, c in zip(brackets, brackets[1:])):
        raise ValueError("brackets must be given in ascending order")
    return brackets


def _period(raw):
    health, solidarity, tax = raw["health_insurance"], raw["solidarity"], raw["withholding"]
    start, end = raw["valid_from"], raw["valid_until"]
    if start.day != 1 or end < start:
        raise ValueError("a period starts on the first of a month and ends after it starts")
    period = Period(
        start, end, str(raw["reference"]), int(health["rate_bp"]),
        {SINGLE: int(health["threshold_single_cents"]),
         DEPENDANTS: int(health["threshold_dependants_cents"])},
        int(solidarity["corridor_bp"]),
        {SINGLE: _brackets(solidarity["brackets_single"]),
         DEPENDANTS: _brackets(solidarity["brackets_dependants"])},
        int(tax["tax_free_cents"]), _brackets(tax["brackets"]),
        {"health_insurance": health["legal_source"], "solidarity": solidarity["legal_source"],
         "withholding": tax["legal_source"]})
    if period.tax_brackets[0].from_cents != 0:
        raise ValueError("the income-tax scale starts at 0")
    return period


# -- the three deductions on the cumulated amount ---------------------------------------------

def health_insurance(total, family, period):
    threshold = period.health_threshold[family]
    if total <= threshold:
        return 0
    return min(percent(total, period.health_rate_bp), total - threshold)


def solidarity(total, family, period):
    contribution = 0  # the contribution at the lower bound of the bracket being applied
    brackets = period.solidarity_brackets[family]
    for index, bracket in enumerate(brackets):
        if total <= bracket.from_cents:
            break
        upper = brackets[index + 1].from_cents if index + 1 < len(brackets) else None
        at = min(total, upper) if upper is not None else total
        value = min(percent(at, bracket.rate_bp),
                    contribution + percent(at - bracket.from_cents, period.corridor_bp))
        if upper is None or total <= upper:
            return value
        contribution = value
    return contribution


def _tax_units(cents, brackets):
    """Income tax on `cents` under the scale, in cents x 10,000 (exact)."""
    units = 0
    for index, bracket in enumerate(brackets):
        if cents <= bracket.from_cents:
            break
        upper = brackets[index + 1].from_cents if index + 1 < len(brackets) else cents
        units += (min(cents, upper) - bracket.from_cents) * bracket.rate_bp
    return units


def withholding_rate(taxable, period):
    """Basis points to withhold on each benefit, from the month's cumulated taxable amount."""
    yearly = 12 * taxable
    if yearly <= 0:
        return 0
    units = _tax_units(yearly, period.tax_brackets) - _tax_units(
        min(period.tax_free_cents, yearly), period.tax_brackets)
    return max(0, units) // yearly


def split(total, weights):
    """`total` over `weights` in proportion, largest remainder first (ties: the earlier);
    the parts add up to `total`."""
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in remainders[:total - sum(parts)]:
        parts[i] += 1
    return parts


@dataclass(frozen=True)
class Share:
    """One benefit's part of the month's deductions."""
    gross: int
    health_insurance: int
    solidarity: int
    taxable: int
    withholding: int

    @property
    def net(self):
        return self.taxable - self.withholding


@dataclass(frozen=True)
class Month:
    """A person's month: the cumulated figures and one Share per benefit, in order."""
    family: str
    total_gross: int
    health_insurance: int
    solidarity: int
    taxable: int
    withholding_rate_bp: int
    shares: tuple

    @property
    def withholding(self):
        return sum(s.withholding for s in self.shares)


def compute(grosses, family, period):
    """The month of a person receiving these gross amounts (cents, in declaration order)."""
    total = sum(grosses)
    health = health_insurance(total, family, period)
    solid = solidarity(total, family, period)
    taxable = total - health - solid
    rate = withholding_rate(taxable, period)
    shares = []
    for gross, h, s in zip(grosses, split(health, grosses), split(solid, grosses)):
        own = gross - h - s
        shares.append(Share(gross, h, s, own, percent(own, rate)))
    return Month(family, total, health, solid, taxable, rate, tuple(shares))
