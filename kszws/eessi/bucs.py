"""The BUC catalogue (conf/eessi/bucs.toml) and the business rules the access point checks
on each SED before forwarding it: the parties exist and are valid today, the receiver
takes part in the BUC in the role the SBDH gives it, the SED type belongs to the BUC, a
starter SED opens a new case and a later SED names an existing one. A broken rule is
EBMS:0004 with an ErrorDetail that says which."""
import re
from dataclasses import dataclass

from kszws.config import REQUIRED, ConfigError, read_toml, take
from kszws.eessi.errors import EbmsError

_SED = re.compile(r"^[A-Z]{1,3}[0-9]{3,5}[A-Z]{0,2}$")  # A003, P2000, P10000, U001CB, DA003A
_ADMINISTRATIVE = re.compile(r"^X[0-9]{3}$")  # X001..X100: accepted in every BUC


@dataclass(frozen=True)
class Buc:
    name: str
    starters: frozenset
    seds: frozenset

    def allows(self, sed):
        return sed in self.seds or bool(_ADMINISTRATIVE.match(sed))


def load_bucs(path):
    catalogue = {}
    for name, entry in read_toml(path).items():
        e = take(entry, path, name, {"starters": (list, REQUIRED), "seds": (list, REQUIRED)})
        for sed in e["starters"] + e["seds"]:
            if not isinstance(sed, str) or not _SED.match(sed):
                raise ConfigError(path, name, "%r is not a SED type" % (sed,))
        if not e["starters"] or set(e["starters"]) - set(e["seds"]):
            raise ConfigError(path, name, "the starters must be SED types of the BUC")
        catalogue[name] = Buc(name, frozenset(e["starters"]), frozenset(e["seds"]))
    return catalogue


def check(document, repository, catalogue, day, case_exists):
    """Refuse (EBMS:0004) a SED that breaks a rule. `document` is an sbdh.Document;
    `case_exists(case_id)` says whether the access point has seen that case."""
    def rule(text, *args):
        raise EbmsError("EBMS:0004", "rule: " + text % args)

    for side, party in (("sender", document.sender), ("receiver", document.receiver)):
        inst = repository.institutions.get(party)
        if inst is None:
            rule("the %s %s is not in the Institution Repository", side, party)
        if not inst.valid_on(day):
            rule("the %s %s is not valid on %s", side, party, day.isoformat())
    buc = catalogue.get(document.buc)
    if buc is None:
        rule("BUC %s is not in the catalogue", document.buc)
    receiver = repository.institutions[document.receiver]
    if receiver.country == repository.institutions[document.sender].country:
        rule("sender and receiver are both in %s: not an international exchange",
             receiver.country)
    roles = receiver.bucs.get(buc.name, frozenset())
    if document.receiver_role not in roles:
        rule("the receiver %s does not take part in %s as %s (its roles: %s)",
             document.receiver, buc.name, document.receiver_role,
             ", ".join(sorted(roles)) or "none")
    if not buc.allows(document.sed_type):
        rule("SED %s is not allowed in %s", document.sed_type, buc.name)
    if document.opens_case:
        if document.sed_type not in buc.starters:
            rule("SED %s cannot start a case of %s (starters: %s)", document.sed_type,
                 buc.name, ", ".join(sorted(buc.starters)))
        if case_exists(document.case_id):
            rule("case %s already exists: a starter SED opens a new case", document.case_id)
    elif not case_exists(document.case_id):
        rule("case %s is unknown: a SED other than a starter names an existing case",
             document.case_id)
