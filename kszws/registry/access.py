"""The published access authorizations (seed §3.5, §4.2), read from conf/access.toml.

An authorization is what a deliberation of the sectoral committee grants: institutions of a
sector (and sub-sector) may receive some data groups of a personal-data service, for some
legal contexts, about persons on whom they manage a file in one of some quality codes,
during a validity period. The hub's integration check (hub/access.py) applies them; this
module only says what they are and which of them cover a request.
"""
import datetime
from dataclasses import dataclass, field

# The personal-data services the integration check guards, each with its data groups: the
# vocabulary authorizations and exemptions are written in. A later service adds itself here.
DATA_SERVICES = {
    # Basic: identification (names, birth, gender); Extended: address, civil state, ...
    "IdentifyPerson": ("Basic", "Extended"),
    "PerformInvestigation": ("FamilyCompositionGroup", "CitizenGroup", "AddressHistoryGroup",
                             "WaitRegisterGroup"),
    "RetrieveTIGroups": ("Current", "History"),
    # The National Register's mutations, pushed to the mailboxes of the institutions that
    # manage a file on the person (seed §4.4): one data group per kind of mutation.
    "Mutations": ("birth", "death", "address", "name", "civil_state", "ssin_replacement"),
    # The employer directory (seed §4.6): Full is every attribute and the NSSO number;
    # anyone gets the public part through PublicEmployerService, without an authorization.
    "EmployerDirectory": ("Full",),
    # A person's employment relations (DIMONA periods, seed §4.13); OwnWorkers: an
    # employer's view of its own workers (the employer access key applies).
    "Employment": ("Relations", "OwnWorkers"),
    # The pension cadastre (seed §4.7): payers' declarations, a person's pensions, the
    # overview of a month (every benefit and deduction), closing a month.
    "PensionCadastre": ("Declare", "Consult", "Overview", "Close"),
    # The social energy tariff (SOCTAR, seed §4.21): institutions declare the beneficiaries
    # of a quarter; the economy ministry receives, per customer, a flag and a category.
    "SocialTariff": ("Beneficiaries", "Flags"),
}
# Services delivered by the hub on its own initiative: no request, so no legal context.
WITHOUT_LEGAL_CONTEXT = ("Mutations",)


@dataclass(frozen=True)
class Authorization:
    id: str
    deliberation: str  # the reference of the deliberation that grants it
    deliberation_date: datetime.date
    title: str
    sector: int
    subsector: int  # None: every sub-sector of the sector
    service: str  # a key of DATA_SERVICES
    data_groups: frozenset
    legal_contexts: frozenset
    quality_codes: frozenset  # of the registrations that entitle a request
    valid_from: datetime.date
    valid_until: datetime.date  # None: open

    def covers(self, institution, service, data_group, legal_context, day):
        return (self.sector == institution.sector
                and self.subsector in (None, institution.subsector)
                and self.service == service and data_group in self.data_groups
                and (service in WITHOUT_LEGAL_CONTEXT or legal_context in self.legal_contexts)
                and self.valid_from <= day
                and (self.valid_until is None or day <= self.valid_until))


@dataclass(frozen=True)
class Exemption:
    """A data group answered without a registration on the person (an authorization is
    still needed), e.g. IdentifyPerson's Basic part, needed in order to register someone."""
    service: str
    data_group: str
    reason: str


@dataclass(frozen=True)
class Embargo:
    """Exchanges in this legal context stay out of "who consulted my data" for `days`."""
    legal_context: str
    days: int
    reason: str


@dataclass(frozen=True)
class AccessPolicy:
    authorizations: tuple = ()
    exemptions: tuple = ()
    # Classic (SSDN) requests carry no legal context: the one a sector's requests have.
    classic_contexts: dict = field(default_factory=dict)  # sector -> legal context
    embargoes: tuple = ()
    # Institutions whose data-protection officer may ask "who consulted" any person.
    data_protection_officers: frozenset = frozenset()

    def covering(self, institution, service, data_group, legal_context, day):
        return [a for a in self.authorizations
                if a.covers(institution, service, data_group, legal_context, day)]

    def exempt(self, service, data_group):
        return any(e.service == service and e.data_group == data_group
                   for e in self.exemptions)

    def classic_context(self, institution):
        return self.classic_contexts.get(institution.sector, "")

    def embargo_days(self, legal_context):
        return max([e.days for e in self.embargoes if e.legal_context == legal_context],
                   default=0)
