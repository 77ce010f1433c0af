"""The lists of SOCTAR's demo quarter (`kszws demo`; the steps: demo.soctar_walkthrough),
made from the National Register source's population once it is seeded. A module of its
own: it reads the source's database, which the client side (soapui, through demo.py)
may not reach.

Three CPAS and the pension service declare beneficiaries, FOD Economie sends 1,000
customers: Max Mustermann and the reference persons of the population's first
households. In every fifth of those households someone holds a right (a CPAS's RI in
turn, or the pension service's GRAPA), and Anne-Marie, Max's partner, holds CPAS Eupen's
RI: Max, who holds none himself, is flagged through her right."""
import datetime

from kszws.demo import SOCTAR_CUSTOMER as CUSTOMER, SOCTAR_PARTNER as PARTNER, \
    SOCTAR_SENDERS as SENDERS, soctar_path as path


def write(settings, registry, customers=1000, today=None):
    """The lists in <data dir>/soctar for the current quarter (its name in `quarter`),
    unless the project has no SOCTAR or none of the senders."""
    from kszws import batch
    from kszws.batch import soctar

    config = batch.load(settings, registry)
    if (config is None or not set(SENDERS) <= set(config.senders)
            or soctar.load(settings.conf_dir, registry) is None
            or "national-register" not in registry.sources):
        return None
    today = today or datetime.date.today()
    quarter = "%dQ%d" % (today.year, (today.month - 1) // 3 + 1)
    folder = settings.data_dir / "soctar"
    folder.mkdir(parents=True, exist_ok=True)
    numbers = {i: config.senders[i].number for i in SENDERS}
    for (institution, kind), body in lists(settings, registry, quarter, customers,
                                           numbers).items():
        path(folder, institution, kind).write_bytes(body)
    (folder / "quarter").write_text(quarter + "\n")
    return folder


def households(settings, registry):
    """[[ssin, ...]] of the population's households (not the known persons'), the
    reference person first, active persons only."""
    from sqlalchemy import select

    from kszws.sources import national_register
    from kszws.sources.national_register.store import household_member, person

    db = national_register.database(settings, registry.sources["national-register"])
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(
                select(household_member.c.household_id, household_member.c.ssin,
                       household_member.c.relationship)
                .join(person, person.c.ssin == household_member.c.ssin)
                .where(person.c.status == "active", household_member.c.household_id < 900000)
                .order_by(household_member.c.household_id, household_member.c.relationship,
                          household_member.c.ssin)).all()
    finally:
        db.dispose()
    found = {}
    for household, ssin, relationship in rows:
        found.setdefault(household, []).append((relationship, ssin))
    return [[ssin for _, ssin in members] for members in found.values()
            if members[0][0] == 1]


def lists(settings, registry, quarter, customers, numbers):
    """{(institution, type): file body} of the demo's quarter."""
    heads = households(settings, registry)[:customers - 1]
    rights = {i: [] for i in SENDERS[:4]}
    rights["cpas-eupen"].append((PARTNER, "RI"))
    for n, members in enumerate(heads):
        if n % 5 == 0:
            holder = members[-1]  # the last member: a child or partner when there is one
            institution = SENDERS[(n // 5) % 4]
            rights[institution].append((holder, "GRAPA" if institution == "onp-rvp" else "RI"))
    out = {(i, "STBE"): batch_file("STBE", numbers[i], [
        beneficiary(ssin, quarter, category) for ssin, category in held])
        for i, held in rights.items()}
    out[("fod-economie", "STCU")] = batch_file("STCU", numbers["fod-economie"], [
        customer(ssin, quarter, n) for n, ssin in enumerate(
            [CUSTOMER] + [members[0] for members in heads], 1)])
    return out


def beneficiary(ssin, quarter, category):
    """The inside of an STBE record (xsd/Batch/STBE.xsd)."""
    return ("<b:Ssin>%s</b:Ssin><b:Quarter>%s</b:Quarter><b:Category>%s</b:Category>"
            % (ssin, quarter, category))


def customer(ssin, quarter, number):
    """The inside of an STCU record (xsd/Batch/STCU.xsd), a made-up supply address."""
    return ("<b:Ssin>%s</b:Ssin><b:Quarter>%s</b:Quarter><b:SupplyAddress><b:Street>Rue "
            "Haute</b:Street><b:HouseNumber>%d</b:HouseNumber><b:PostalCode>1000"
            "</b:PostalCode><b:Municipality>Bruxelles</b:Municipality></b:SupplyAddress>"
            % (ssin, quarter, number))


def batch_file(kind, sender, records):
    """A whole file of the batch channel (xsd/Batch/BatchFile.xsd), one record a line."""
    rows = "".join("<b:Record><b:Id>%d</b:Id>%s</b:Record>\n" % (n, record)
                   for n, record in enumerate(records, 1))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<b:Batch xmlns:b="urn:kszws:batch:v1">'
            "<b:Header><b:Type>%s</b:Type><b:Sender>%s</b:Sender>"
            "<b:LegalContext>ENERGY:SOCIAL_TARIFF</b:LegalContext>"
            "<b:RecordCount>%d</b:RecordCount></b:Header>\n<b:Records>\n%s</b:Records>"
            "</b:Batch>\n" % (kind, sender, len(records), rows)).encode("utf-8")
