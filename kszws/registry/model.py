"""Who is who on the network: institutions, sectors, services (read from conf/)."""
from dataclasses import dataclass, field

from kszws.registry.access import AccessPolicy

# How an institution proves who it is (CONTRACTS.md §2): WS-Security X.509 signature
# (kszws's strong mode), or the legacy modes real CBSS clients use: HTTP Basic, a TLS client
# certificate, or a registered source address (classic clients, behind TLS).
AUTH_MODES = ("signature", "basic", "client-cert", "address")
MUTATION_CHANNELS = ("mailbox", "batch")  # how an institution receives its mutations


@dataclass(frozen=True)
class Sector:
    code: int
    subsector: int
    abbreviation_nl: str
    name_nl: str
    abbreviation_fr: str
    name_fr: str


UNIVERSAL = -1  # the sector of the quality codes valid in every sector


@dataclass(frozen=True)
class QualityCode:
    sector: int  # UNIVERSAL for 000, 902, 999
    code: int
    nl: str
    fr: str
    exclusive: bool = False  # one institution of the sector at a time (seed §4.14)


@dataclass(frozen=True)
class Institution:
    id: str
    name: str
    sector: int
    subsector: int
    cbe: str  # enterprise number, 10 digits
    auth: str  # one of AUTH_MODES
    certificates: tuple  # paths of the registered certificates (PEM)
    sign_replies: bool
    kind: str = "institution"  # institution | hub | source
    # The organisation units the institution may name in a classic AuthorizedUser/OrgUnit
    # (its own enterprise number, and e.g. those of the entities it answers for).
    org_units: tuple = ()
    addresses: tuple = ()  # ipaddress networks, for auth = "address"
    # Employers (ids) that mandated this institution (a social secretariat) to act for them.
    acts_for: tuple = ()
    # How it receives the mutations of the persons it holds a file on: "mailbox" (online,
    # MailboxService) or "batch" (one FO.MUTA file a day in its drop box, batch/muta.py).
    mutations: str = "mailbox"

    @property
    def basic_username(self):
        # CONTRACTS.md §2: HTTP Basic user names are "E" + the enterprise number.
        return "E" + self.cbe

    @property
    def must_sign(self):
        return self.auth == "signature"


@dataclass(frozen=True)
class Service:
    name: str
    path: str  # HTTP path of the endpoint on the hub
    wsdl: str  # published WSDL, relative to the project root
    signed: bool  # every request must be signed and every reply is signed
    anonymous: bool  # callable without authentication (public data only)
    route: str  # "hub" (answered by the hub itself) or the name of a source
    implementation: str = ""  # the kszws service that answers (default: name)
    accept: str = ""  # a schema more lenient than the WSDL's that requests are checked with


@dataclass(frozen=True)
class Source:
    """An authentic source the hub routes to, reached over SOAP (conf/sources.toml)."""
    id: str  # its institution id (kind = "source")
    host: str  # where `kszws source ID` listens
    port: int
    path: str
    url: str  # where the hub reaches it (default http://host:port/path)
    wsdl: str  # its published contract
    database_url: str  # its own store ("" = SQLite in the data folder)
    timeout_seconds: float  # the hub's deadline for one call
    population: int  # how many synthetic persons/records the demo seeds
    workers: int = 1  # processes sharing its port


@dataclass(frozen=True)
class AttestationType:
    """A kind of electronic attestation (conf/attestations.toml)."""
    code: str
    name_nl: str
    name_fr: str
    publisher_sector: int  # only the authentic source's sector may publish it
    legal_basis: str
    schema: str  # path of the XSD holding the payload element
    element: str  # Clark name of the payload element
    destinations: tuple  # ((sector, subsector or None, frozenset of quality codes), ...)
    classic_code: int = 0  # AttestType/Code of classic ListOfAttestations replies

    def destination_codes(self, sector, subsector):
        """The quality codes that entitle an institution of sector.subsector to receive it."""
        return frozenset().union(*(codes for s, sub, codes in self.destinations
                                   if s == sector and sub in (None, subsector)))


@dataclass(frozen=True)
class Registry:
    hub: Institution
    institutions: dict  # id -> Institution (the hub and sources included)
    services: dict  # name -> Service
    sectors: dict = field(default_factory=dict)  # (code, subsector) -> Sector
    sources: dict = field(default_factory=dict)  # id -> Source
    quality_codes: dict = field(default_factory=dict)  # (sector, code) -> QualityCode
    access: AccessPolicy = field(default_factory=AccessPolicy)  # conf/access.toml
    attestation_types: dict = field(default_factory=dict)  # code -> AttestationType

    def quality_code(self, sector, code):
        """The quality code `code` as valid in `sector` (its own or a universal one), or None."""
        return self.quality_codes.get((sector, code)) or \
            self.quality_codes.get((UNIVERSAL, code))

    def institution(self, institution_id):
        return self.institutions[institution_id]

    def by_basic_username(self, username):
        for inst in self.institutions.values():
            if inst.auth == "basic" and inst.basic_username == username:
                return inst
        return None

    def by_address(self, peer):
        """The institution in `address` mode whose registered networks hold `peer`."""
        import ipaddress

        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return None
        for inst in self.institutions.values():
            if inst.auth == "address" and any(ip in net for net in inst.addresses):
                return inst
        return None

    def clients(self):
        """Institutions that call the hub (not the hub itself nor the sources)."""
        return [i for i in self.institutions.values() if i.kind == "institution"]
