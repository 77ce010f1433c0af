"""Synthetic employers, Belgian-realistic: companies, non-profits and public employers of
both registers (RSZ/ONSS and RSZPPO/ORPSS), with their NACE activity, joint committees,
child-benefit fund, social secretariat, debts, and a history (moves, changes of joint
committee, of name, employers that stopped). Plus DEMO_EMPLOYERS, fixed, that tests and
the demo know by heart."""
import datetime
import random

from faker import Faker
from sqlalchemy import func, select

from kszws import ids, names
from kszws.sources import geography
from kszws.sources.employer_directory import store

# (legal form code, NL, FR): the common Belgian forms.
LEGAL_FORMS = ("BV/SRL", "NV/SA", "VZW/ASBL", "CV/SC", "VOF/SNC", "EENMANSZAAK/ENTREPRISE")
# (NACE-BEL 2008 code, joint committee usually competent)
ACTIVITIES = (("47.11", "201"), ("56.10", "302"), ("62.01", "200"), ("86.10", "330"),
              ("41.20", "124"), ("88.99", "319.01"), ("10.71", "118"), ("49.41", "140.03"),
              ("85.20", "152.01"), ("81.21", "121"), ("45.20", "112"), ("96.02", "314"))
CHILD_BENEFIT_FUNDS = ("FAMIWAL", "Kids Life", "Infino", "MyFamily", "Parentia", "FONS",
                       "Camille", "Brussels Family")
SOCIAL_SECRETARIATS = ("Securex", "SD Worx", "Partena", "Acerta", "Liantis", "Group S", "")
CATEGORIES = ("000", "010", "026", "038", "054")  # RSZ employer categories (a sample)

# Employers the tests and the demo use. Their histories are fixed: the bakery's joint
# committee changed on 2024-01-01 (118 -> 119), it moved on 2025-07-01.
DEMO_EMPLOYERS = (
    dict(cbe="0403170701", nsso=ids.make_nsso_number(5170701), register="RSZ",
         start="1998-03-01", end=None, history=[
             ("name", "Boulangerie Dupont", "1998-03-01"),
             ("legal_form", "BV/SRL", "1998-03-01"),
             ("street", "Rue Haute", "1998-03-01"), ("house_number", "12", "1998-03-01"),
             ("postal_code", "4700", "1998-03-01"), ("municipality_nis", "63023", "1998-03-01"),
             ("municipality", "Eupen", "1998-03-01"),
             ("street", "Klötzerbahn", "2025-07-01"), ("house_number", "3", "2025-07-01"),
             ("category", "000", "1998-03-01"), ("nace", "10.71", "1998-03-01"),
             ("joint_committees", "118", "1998-03-01"), ("joint_committees", "119", "2024-01-01"),
             ("child_benefit_fund", "FAMIWAL", "1998-03-01"),
             ("social_secretariat", "Securex", "1998-03-01"),
             ("debt_cents", "0", "1998-03-01")]),
    dict(cbe="0403180104", nsso=ids.make_nsso_number(5180104), register="RSZ",
         start="2010-09-01", end=None, history=[
             ("name", "Studentenjob Brugge", "2010-09-01"), ("legal_form", "NV/SA", "2010-09-01"),
             ("street", "Markt", "2010-09-01"), ("house_number", "1", "2010-09-01"),
             ("postal_code", "8000", "2010-09-01"), ("municipality_nis", "31005", "2010-09-01"),
             ("municipality", "Brugge", "2010-09-01"), ("category", "000", "2010-09-01"),
             ("nace", "56.10", "2010-09-01"), ("joint_committees", "302", "2010-09-01"),
             ("child_benefit_fund", "Infino", "2010-09-01"),
             ("social_secretariat", "SD Worx", "2010-09-01"),
             ("debt_cents", "1250000", "2024-05-01")]),
)


def generate(db, count, seed=11, progress=None):
    """`count` synthetic employers (the demo ones not counted); progress(done) now and
    then."""
    rnd = random.Random(seed)
    fakers = {lang: Faker(locale) for lang, locale in (("nl", "nl_BE"), ("fr", "fr_BE"),
                                                       ("de", "de_DE"))}
    for lang, fake in fakers.items():
        fake.seed_instance(seed)
    serial = 6_000_000
    pending = []
    with db.engine.begin() as conn:
        for n in range(count):
            while True:
                serial += rnd.randint(1, 40)
                cbe = "0%07d%02d" % (serial, 97 - serial % 97)
                if ids.is_enterprise_number(cbe):
                    break
            place = rnd.choices(geography.MUNICIPALITIES,
                                [m.weight for m in geography.MUNICIPALITIES])[0]
            public = rnd.random() < 0.04
            start = datetime.date(1960, 1, 1) + datetime.timedelta(days=rnd.randrange(23000))
            end = None
            if rnd.random() < 0.08:
                end = start + datetime.timedelta(days=rnd.randrange(200, 9000))
                end = min(end, datetime.date(2026, 10, 31))
            fake = fakers[place.language]
            name = ("%s %s" % ("OCMW" if place.language == "nl" else "CPAS", place.name)) \
                if public else fake.company()
            nace, committee = rnd.choice(ACTIVITIES)
            day = start.isoformat()
            history = [("name", name, day),
                       ("legal_form", "OPENBAAR/PUBLIC" if public else rnd.choice(LEGAL_FORMS),
                        day),
                       ("street", rnd.choice(geography.STREETS[place.language]), day),
                       ("house_number", str(rnd.randint(1, 250)), day),
                       ("postal_code", place.postal_code, day),
                       ("municipality_nis", str(place.nis), day),
                       ("municipality", place.name, day),
                       ("category", rnd.choice(CATEGORIES), day),
                       ("nace", "84.11" if public else nace, day),
                       ("joint_committees", "" if public else committee, day),
                       ("child_benefit_fund", rnd.choice(CHILD_BENEFIT_FUNDS), day),
                       ("social_secretariat", rnd.choice(SOCIAL_SECRETARIATS), day),
                       ("debt_cents", "0", day)]
            if rnd.random() < 0.3:  # a change some years later
                when = start + datetime.timedelta(days=rnd.randrange(365, 8000))
                if when < datetime.date(2026, 11, 1):
                    history.append(rnd.choice((
                        ("joint_committees", "200", when.isoformat()),
                        ("street", rnd.choice(geography.STREETS[place.language]),
                         when.isoformat()),
                        ("social_secretariat", rnd.choice(SOCIAL_SECRETARIATS),
                         when.isoformat()))))
            if rnd.random() < 0.05:
                history.append(("debt_cents", str(rnd.randint(1000, 5_000_000) * 100),
                                "2025-%02d-01" % rnd.randint(1, 12)))
            pending.append(dict(cbe=cbe, nsso=ids.make_nsso_number(serial + 1_000_000),
                                register="RSZPPO" if public else "RSZ",
                                start=start.isoformat(), end=end and end.isoformat(),
                                history=history))
            if len(pending) == 500 or n + 1 == count:
                add_many(conn, pending)
                pending = []
                if progress:
                    progress(n + 1)


def add_demo_employers(db):
    with db.engine.begin() as conn:
        for e in DEMO_EMPLOYERS:
            if store.find(conn, cbe=e["cbe"]) is None:
                add(conn, e)


def add(conn, e):
    """One employer with its history, [(attribute, value, from)]: each value holds until
    the next one of the same attribute."""
    add_many(conn, [e])


def add_many(conn, employers):
    """Several new employers, each table written in one statement (a seeding of 3,000
    took 13 s one statement per attribute)."""
    rows = [_rows(e) for e in employers]
    if rows:
        conn.execute(store.employer.insert(), [r[0] for r in rows])
        conn.execute(store.attribute.insert(), [a for r in rows for a in r[1]])
        conn.execute(store.name_index.insert(), [r[2] for r in rows])


def _rows(e):
    """(employer row, attribute rows, name index row) of a new employer: each attribute's
    values in date order, each valid until the day before the next one."""
    attributes = []
    by_name = {}
    for name, value, day in sorted(e["history"], key=lambda h: (h[0], h[2])):
        by_name.setdefault(name, []).append((day, value))
    for name, values in by_name.items():
        for (day, value), following in zip(values, values[1:] + [None]):
            attributes.append({"cbe": e["cbe"], "name": name, "value": str(value),
                               "valid_from": day, "valid_until": None if following is None
                               else store.day_before(following[0])})
    current = {name: values[-1][1] for name, values in by_name.items()}
    return ({"cbe": e["cbe"], "nsso": e["nsso"], "register": e["register"],
             "start_date": e["start"], "end_date": e["end"]},
            attributes,
            {"cbe": e["cbe"], "folded": names.fold(current["name"]),
             "municipality_nis": int(current["municipality_nis"])})


def count_employers(db):
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(store.employer)).scalar()
