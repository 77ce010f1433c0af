"""SOCTAR, the social energy tariff (seed §4.21): its configuration (conf/soctar.toml: the
categories of beneficiaries, who declares each, who sends customer lists), the quarter's
reference date, and the household rule that flags a customer. The batch types that carry
the lists are kinds/soctar.py.

The rule: a customer is flagged for a quarter when he, or someone in his household on the
quarter's reference date (its first day; the National Register's household that day), was
declared a beneficiary for that quarter. The flag names one category: the customer's own
right first, else the right of the household member with the lowest SSIN; among a
person's categories, the first in conf/soctar.toml.
"""
import re
from dataclasses import dataclass

from kszws.config import REQUIRED, ConfigError, read_toml, take

QUARTER = re.compile(r"^([0-9]{4})Q([1-4])$")
_SECTOR = re.compile(r"^([0-9]{1,3})(?:\.([0-9]{1,3}))?$")


@dataclass(frozen=True)
class Category:
    code: str
    title: str
    legal_basis: str
    declared_by: tuple  # ((sector, subsector or None), ...)

    def declarable_by(self, institution):
        return any(institution.sector == sector and sub in (None, institution.subsector)
                   for sector, sub in self.declared_by)


@dataclass(frozen=True)
class SoctarConfig:
    categories: dict  # code -> Category, in the order of the file (the order of the flags)
    customer_senders: frozenset  # institution ids

    def order(self, code):
        return list(self.categories).index(code)


def load(conf_dir, registry):
    """conf/soctar.toml, or None when the project has none."""
    path = conf_dir / "soctar.toml"
    if not path.exists():
        return None
    raw = read_toml(path)
    unknown = set(raw) - {"customers", "category"}
    if unknown:
        raise ConfigError(path, "-", "unknown table(s): %s" % ", ".join(sorted(unknown)))
    customers = take(raw.get("customers", {}), path, "[customers]",
                     {"institutions": (list, REQUIRED)})
    for inst in customers["institutions"]:
        if inst not in registry.institutions:
            raise ConfigError(path, "[customers]", "institution %r is not in "
                              "institutions.toml" % inst)
    categories = {}
    for n, entry in enumerate(raw.get("category", []), 1):
        where = "category #%d" % n
        e = take(entry, path, where, {"code": (str, REQUIRED), "title": (str, REQUIRED),
                                      "legal_basis": (str, REQUIRED),
                                      "declared_by": (list, REQUIRED)})
        if not re.match(r"^[A-Z0-9]{1,16}$", e["code"]) or e["code"] in categories:
            raise ConfigError(path, where, "code must be 1-16 capitals or digits, once")
        sectors = []
        for given in e["declared_by"]:
            match = _SECTOR.match(str(given))
            if match is None:
                raise ConfigError(path, where, "declared_by: %r is not a sector (17 or "
                                  "17.1)" % given)
            sectors.append((int(match.group(1)),
                            int(match.group(2)) if match.group(2) is not None else None))
        categories[e["code"]] = Category(e["code"], e["title"], e["legal_basis"],
                                         tuple(sectors))
    if not categories:
        raise ConfigError(path, "[[category]]", "no category")
    return SoctarConfig(categories, frozenset(customers["institutions"]))


def reference_date(quarter):
    """The quarter's reference date, ISO (2026Q3 -> 2026-07-01), or None for no quarter."""
    match = QUARTER.match(quarter or "")
    if match is None or match.group(1) < "1900":
        return None
    return "%s-%02d-01" % (match.group(1), 3 * int(match.group(2)) - 2)


def flag(customer, members, rights, order):
    """(the holder whose right is used, its category) for a customer with the others in
    his household `members`, or None; `rights` {ssin: categories declared}, `order` the
    rank of a category (SoctarConfig.order)."""
    for holder in [customer] + sorted(members):
        held = rights.get(holder)
        if held:
            return holder, min(held, key=order)
    return None
