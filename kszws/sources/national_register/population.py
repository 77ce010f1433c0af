"""A synthetic population for the National Register source: households of Belgian
residents with Dutch, French, German and foreign names (Faker's name lists), municipalities
with their NIS codes, address histories, civil states with the place and act of each
marriage (and widowhood), occupations, filiations of the children, identity cards (the
current one and the one before), passports and driving licences, deaths, SIS card
numbers, bis numbers of the KSZ registers, and a few replaced and cancelled SSINs.

Deterministic for a given seed: tests and benchmarks regenerate the same persons.
`generate(db, count)` writes `count` persons in batches (a million in a few minutes).
"""
import datetime
import random
from operator import itemgetter

from faker.providers.person import de_DE, es_ES, fr_BE, it_IT, nl_BE, pt_PT, ro_RO, tr_TR

from kszws import names, register_codes
from kszws.sources import geography
from kszws.sources.national_register.store import (HISTORY, address, household_member,
                                                   indexes_deferred, name_key, person)
from kszws.store.db import insert_many

TODAY = datetime.date(2026, 11, 1)  # the population's "now": fixed, so data is reproducible


def _names(module):
    provider = module.Provider
    return (list(provider.last_names), list(provider.first_names_male),
            list(provider.first_names_female))


_MAGHREB = (["El Amrani", "Benali", "El Idrissi", "Bouzid", "Azzouzi", "Haddou", "Belhaj",
             "El Khattabi", "Ouali", "Tahiri"],
            ["Mohamed", "Youssef", "Karim", "Said", "Omar", "Mehdi", "Hamza", "Bilal"],
            ["Fatima", "Khadija", "Naima", "Samira", "Latifa", "Amina", "Salma", "Imane"])
_CONGO = (["Tshibanda", "Kabasele", "Mukendi", "Kalonji", "Mbuyi", "Ilunga", "Kabongo"],
          ["Jean-Claude", "Patrick", "Papy", "Christian", "Dieudonné", "Serge"],
          ["Marie-Claire", "Grâce", "Aline", "Béatrice", "Nadine", "Chantal"])
NAMES = {"nl": _names(nl_BE), "fr": _names(fr_BE), "de": _names(de_DE)}
# Foreign residents: (NIS country, name lists, share)
FOREIGN = ((128, _names(it_IT), 3), (109, _names(es_ES), 1), (123, _names(pt_PT), 1),
           (124, _names(ro_RO), 2), (262, _names(tr_TR), 2), (354, _MAGHREB, 3),
           (223, _CONGO, 1), (129, _names(nl_BE), 2), (111, _names(fr_BE), 2),
           (103, _names(de_DE), 1))


class Generator:
    def __init__(self, seed=1):
        self.rnd = random.Random(seed)
        self.used = set()
        self.household = 0
        self.weights = [m.weight for m in geography.MUNICIPALITIES]
        self.foreign_weights = [share for _, _, share in FOREIGN]

    # -- identifiers -------------------------------------------------------------------

    def ssin(self, birth, gender, bis=False):
        """A free SSIN for this birth date and gender (odd sequence: men, even: women);
        a bis number adds 40 to the month (sex known)."""
        month = birth.month + (40 if bis else 0)
        for _ in range(1000):
            seq = self.rnd.randrange(1, 998)
            if gender and (seq % 2 == 1) != (gender == 1):
                seq += 1
            base = "%02d%02d%02d%03d" % (birth.year % 100, month, birth.day, seq)
            check = 97 - int(("2" if birth.year >= 2000 else "") + base) % 97
            number = "%s%02d" % (base, check)
            if number not in self.used:  # (tests check every one with python-stdnum)
                self.used.add(number)
                return number
        raise RuntimeError("no free SSIN for %s" % birth)

    def card(self, digits):
        body = self.rnd.randrange(10 ** (digits - 3), 10 ** (digits - 2))
        return "%d%02d" % (body, body % 97 or 97)

    # -- people ----------------------------------------------------------------------------

    def birth(self, age_from, age_to):
        days = self.rnd.randrange(age_from * 365, age_to * 365 + 1)
        return TODAY - datetime.timedelta(days=days)

    def name_lists(self, municipality, foreign):
        if foreign is not None:
            return foreign[1]
        return NAMES[municipality.language]

    def household_rows(self):
        """The rows of one new household: {table name: [row, ...]}."""
        self.household += 1
        hid = self.household
        rnd = self.rnd
        town = rnd.choices(geography.MUNICIPALITIES, self.weights)[0]
        foreign = rnd.choices(FOREIGN, self.foreign_weights)[0] if rnd.random() < 0.12 else None
        last_names, male, female = self.name_lists(town, foreign)
        family = rnd.choice(last_names)
        street = rnd.choice(geography.STREETS[town.language])
        number = str(rnd.randrange(1, 250))
        box = str(rnd.randrange(1, 20)) if rnd.random() < 0.2 else None
        moved_in = self.birth(0, 25)
        shape = rnd.random()
        members = []  # (gender, age range, relationship)
        if shape < 0.30:
            members.append((rnd.choice((1, 2)), (20, 95), 1))
        else:
            members += [(1, (22, 85), 1), (2, (22, 85), 2)]
            members += [(rnd.choice((1, 2)), (0, 20), 3) for _ in range(rnd.choice((0, 0, 1, 2, 2, 3)))]
        persons, addresses, memberships = [], [], []
        couple, children = [], []
        for gender, (age_from, age_to), relationship in members:
            born = self.birth(age_from, age_to)
            bis = foreign is not None and rnd.random() < 0.15
            ssin = self.ssin(born, gender, bis)
            first = rnd.choice(male if gender == 1 else female)
            if rnd.random() < 0.3:
                first += " " + rnd.choice(male if gender == 1 else female)
            last = family if relationship != 2 or rnd.random() < 0.2 else rnd.choice(last_names)
            birth_date = born.isoformat()
            if rnd.random() < 0.004:  # a few registers only know the year or the month
                birth_date = birth_date[:5] + ("00-00" if rnd.random() < 0.5 else birth_date[5:8] + "00")
            born_here = foreign is None or relationship == 3
            place = town if born_here else None
            deceased = relationship == 1 and born.year < 1950 and rnd.random() < 0.25
            record = {
                "ssin": ssin, "register": "BCSS_KSZ" if bis else "RN_RR", "status": "active",
                "replaced_by": None, "last_name": last, "first_names": first,
                "middle_name": None, "gender": gender, "birth_date": birth_date,
                "birth_year": born.year,
                "birth_place_nis": place.nis if place else foreign[0],
                "birth_place": place.name if place else None,
                "birth_country_nis": geography.BELGIUM if place else foreign[0],
                "nationality_nis": foreign[0] if foreign and not born_here else geography.BELGIUM,
                "civil_state": 10, "civil_state_date": None, "partner_ssin": None,
                "decease_date": None, "decease_place_nis": None,
                "sis_card": self.card(10) if rnd.random() < 0.8 else None,
                "eid_card": self.card(12) if born.year <= TODAY.year - 12 else None,
                "language": town.language, "household_id": hid,
                "registered_on": max(born, moved_in).isoformat() if bis else born.isoformat(),
            }
            if deceased:
                record["decease_date"] = (TODAY - datetime.timedelta(days=rnd.randrange(30, 3000))).isoformat()
                record["decease_place_nis"] = town.nis
            if relationship in (1, 2) and len(members) > 1:
                couple.append(record)
            elif relationship == 3:
                children.append(record)
            persons.append(record)
            entry = max(born, moved_in)
            memberships.append({"ssin": ssin, "household_id": hid, "relationship": relationship,
                                "entry_date": entry.isoformat()})
            # Residents born abroad appear in the register when they arrive.
            first_known = born if born_here else entry
            addresses += self.address_history(ssin, first_known, entry, town, street, number,
                                              box, record["decease_date"])
        rows = {"nr_person": persons, "nr_address": addresses,
                "nr_household_member": memberships}
        rows.update((table.name, []) for table, _ in HISTORY.values())
        if len(couple) == 2:
            self.marriage(couple, town, rows["nr_civil_state"])
            father, mother = couple if couple[0]["gender"] == 1 else couple[::-1]
            rows["nr_filiation"] += [{"ssin": child["ssin"], "from_date": child["birth_date"],
                                      "type_code": "00", "parent1_ssin": father["ssin"],
                                      "parent2_ssin": mother["ssin"]} for child in children]
        for record in persons:
            self.occupation(record, rows["nr_occupation"])
            self.documents(record, town, rows["nr_document"])
        return rows

    def marriage(self, couple, town, civil_states):
        """The couple married in the household's municipality, under one act; a partner
        who died leaves the other widowed since that day."""
        rnd = self.rnd
        deaths = [int(p["decease_date"][:4]) for p in couple if p["decease_date"]]
        year = min(max(couple[0]["birth_year"], couple[1]["birth_year"]) + rnd.randrange(20, 35),
                   TODAY.year - 1, *(death - 1 for death in deaths))  # married while alive
        day = "%d-%02d-%02d" % (year, rnd.randrange(1, 13), rnd.randrange(1, 29))
        act = "%04d" % rnd.randrange(1, 2000)
        for me, other in ((couple[0], couple[1]), (couple[1], couple[0])):
            me.update(civil_state=20, civil_state_date=day, partner_ssin=other["ssin"])
            civil_states.append({"ssin": me["ssin"], "from_date": day, "code": 20,
                                 "partner_ssin": other["ssin"], "place_nis": town.nis,
                                 "act_number": act})
        for me, other in ((couple[0], couple[1]), (couple[1], couple[0])):
            if other["decease_date"] and not me["decease_date"]:
                me.update(civil_state=30, civil_state_date=other["decease_date"])
                civil_states.append({"ssin": me["ssin"], "from_date": other["decease_date"],
                                     "code": 30, "partner_ssin": other["ssin"],
                                     "place_nis": None, "act_number": None})

    def occupation(self, record, occupations):
        """Six in ten persons of working age have an occupation on file, since their
        twenties."""
        age = TODAY.year - record["birth_year"]
        if not 22 <= age <= 67 or record["decease_date"] or self.rnd.random() >= 0.6:
            return
        since = "%d-%02d-01" % (record["birth_year"] + self.rnd.randrange(20, min(age, 40) + 1),
                                self.rnd.randrange(1, 13))
        occupations.append({"ssin": record["ssin"], "from_date": since,
                            "code": self.rnd.choice(_OCCUPATION_CODES),
                            "social_category": self.rnd.choice((1, 2, 2, 3, 4))})

    def documents(self, record, town, documents):
        """The identity card of each person of 12 or more (its number is the eID number;
        valid ten years, the one before it too from 25), a passport for one adult in
        eight, a driving licence of the old model for half of those who came of age
        before 2013, all issued by the municipality."""
        rnd, ssin, born = self.rnd, record["ssin"], record["birth_year"]
        card_type = "0000" if record["nationality_nis"] == geography.BELGIUM else "0100"
        if record["eid_card"]:
            issued = _years_back(rnd.randrange(0, 3650))
            documents.append(_document(ssin, "identity_card", record["eid_card"], card_type,
                                       issued, 10, town.nis))
            if TODAY.year - born >= 25 and rnd.random() < 0.7:
                before = _plus_years(issued, -10)
                documents.append(_document(ssin, "identity_card", self.card(12), card_type,
                                           before, 10, town.nis))
        if TODAY.year - born < 18:
            return
        if rnd.random() < 0.125:
            number = "%s%06d" % (rnd.choice(("EA", "EB", "EC", "EN")), rnd.randrange(10 ** 6))
            documents.append(_document(ssin, "passport", number, "0",
                                       _years_back(rnd.randrange(0, 2555)), 7, town.nis))
        if rnd.random() < 0.5:
            issued = "%d-%02d-%02d" % (born + rnd.randrange(18, 26), rnd.randrange(1, 13),
                                       rnd.randrange(1, 29))
            if issued < "2013-01-01":  # the old model (TI194) was issued until 2013
                documents.append(_document(
                    ssin, "driving_licence", "%s%06d" % (rnd.choice("ABCDE"), rnd.randrange(10 ** 6)),
                    "00", issued, None, town.nis,
                    categories="01 02" if rnd.random() < 0.15 else "02"))

    def address_history(self, ssin, born, entry, town, street, number, box, died):
        """Earlier addresses elsewhere, then the household's current one."""
        rows = []
        start = born
        for _ in range(self.rnd.choice((0, 0, 1, 1, 2))):
            if (entry - start).days < 400:
                break
            moved = start + datetime.timedelta(days=self.rnd.randrange(200, (entry - start).days))
            other = self.rnd.choice(geography.MUNICIPALITIES)
            rows.append(self._address(ssin, start, moved, other,
                                      self.rnd.choice(geography.STREETS[other.language]),
                                      str(self.rnd.randrange(1, 300)), None))
            start = moved
        end = died
        rows.append(self._address(ssin, start, None, town, street, number, box, end))
        return rows

    @staticmethod
    def _address(ssin, start, end, town, street, number, box, to_date=None):
        return {"ssin": ssin, "kind": "legal", "from_date": start.isoformat(),
                "to_date": to_date or (end.isoformat() if end else None),
                "country_nis": geography.BELGIUM, "municipality_nis": town.nis,
                "municipality": town.name, "postal_code": town.postal_code, "street": street,
                "house_number": number, "box": box, "diplomatic_post": None, "plain_text": None}


_OCCUPATION_CODES = sorted(register_codes.OCCUPATIONS)


def _years_back(days):
    return (TODAY - datetime.timedelta(days=days)).isoformat()


def _plus_years(iso, years):
    """An ISO date `years` later (29 February becomes the 28th)."""
    year, rest = int(iso[:4]) + years, iso[4:]
    return "%04d%s" % (year, "-02-28" if rest == "-02-29" else rest)


def _document(ssin, kind, number, type_code, issued, valid_years, place_nis=None, post=None,
              categories=None):
    return {"ssin": ssin, "kind": kind, "number": number, "type_code": type_code,
            "issued_on": issued, "place_nis": place_nis, "diplomatic_post": post,
            "expires_on": _plus_years(issued, valid_years) if valid_years else None,
            "categories": categories}


def _replace_some(persons, generator):
    """Give ~0.2 % of persons a new SSIN (the old one stays, status 'replaced') and cancel
    ~0.1 % (a number given by mistake)."""
    extra = []
    for record in persons:
        roll = generator.rnd.random()
        if record["status"] == "active" and roll < 0.002 and record["decease_date"] is None:
            born = datetime.date.fromisoformat(record["birth_date"].replace("-00", "-01"))
            old = generator.ssin(born, record["gender"])
            extra.append(dict(record, ssin=old, status="replaced", replaced_by=record["ssin"],
                              sis_card=None, eid_card=None, household_id=None))
        elif roll > 0.999:
            record["status"] = "cancelled"
    return extra


BULK_CACHE_KIB = 512 * 1024


def generate(db, count, seed=1, batch=20_000, progress=None):
    """Write about `count` persons (whole households) into the source's database."""
    generator = Generator(seed)
    tables = [person, name_key, address, household_member] + [t for t, _ in HISTORY.values()]
    with indexes_deferred(db):
        return _write(db, generator, tables, count, batch, progress)


def _write(db, generator, tables, count, batch, progress):
    written = 0
    while written < count:
        rows = {table.name: [] for table in tables}
        while len(rows["nr_person"]) < min(batch, count - written):
            for name, more in generator.household_rows().items():
                rows[name] += more
        persons = rows["nr_person"]
        persons += _replace_some(persons, generator)
        rows["nr_name_key"] = [{"key": key, "birth_year": p["birth_year"], "ssin": p["ssin"]}
                               for p in persons for key in names.last_name_keys(p["last_name"])]
        # The primary keys stay indexed during the load: rows in key order reach the
        # same B-tree pages one after the other.
        persons.sort(key=itemgetter("ssin"))
        rows["nr_name_key"].sort(key=itemgetter("key", "birth_year", "ssin"))
        with db.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # past a few hundred thousand persons the key indexes outgrow SQLite's
                # default 2 MB page cache
                conn.exec_driver_sql("PRAGMA cache_size = -%d" % BULK_CACHE_KIB)
            for table in tables:
                insert_many(conn, table, rows[table.name])
        written += len(persons)
        if progress:
            progress(written)
    return written


def count_persons(db):
    from sqlalchemy import func, select

    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(person)).scalar()


def add_person(db, ssin, last_name, first_names, birth_date, gender, municipality_nis=63023,
               street="Gospertstraße", house_number="1", household_id=None, relationship=1,
               box=None, abroad=None, earlier=(), groups=None, **fields):
    """Write one known person (tests, demos) with a current address and, when given, a
    household membership. `fields` override person columns (register, status, cards...);
    `earlier` are (from, to, municipality NIS, street, house number) of former addresses;
    `groups` {table name: [row without ssin]} the history groups (store.HISTORY)."""
    town = geography.municipality(municipality_nis)
    record = {
        "ssin": ssin, "register": "RN_RR", "status": "active", "replaced_by": None,
        "last_name": last_name, "first_names": first_names, "middle_name": None,
        "gender": gender, "birth_date": birth_date, "birth_year": int(birth_date[:4]),
        "birth_place_nis": town.nis, "birth_place": town.name,
        "birth_country_nis": geography.BELGIUM, "nationality_nis": geography.BELGIUM,
        "civil_state": 10, "civil_state_date": None, "partner_ssin": None,
        "decease_date": None, "decease_place_nis": None, "sis_card": None, "eid_card": None,
        "language": town.language, "household_id": household_id,
        "registered_on": birth_date.replace("-00", "-01"),
    }
    record.update(fields)
    since = datetime.date.fromisoformat(record["registered_on"])
    addresses = [Generator._address(ssin, datetime.date.fromisoformat(start),
                                    datetime.date.fromisoformat(end),
                                    geography.municipality(nis), other_street, number, None)
                 for start, end, nis, other_street, number in earlier]
    if earlier:
        since = datetime.date.fromisoformat(earlier[-1][1]) + datetime.timedelta(days=1)
    if abroad is None:
        addresses.append(Generator._address(ssin, since, None, town, street, house_number, box))
    else:  # the last Belgian address's place stays the birth place
        addresses.append({"ssin": ssin, "kind": "abroad", "from_date": since.isoformat(),
                          "to_date": None, "municipality_nis": None, "municipality": None,
                          "postal_code": None, "street": None, "house_number": None,
                          "box": None, **abroad})
    with db.engine.begin() as conn:
        conn.execute(person.insert(), [record])
        conn.execute(name_key.insert(), [{"key": k, "birth_year": record["birth_year"],
                                          "ssin": ssin} for k in names.last_name_keys(last_name)])
        conn.execute(address.insert(), addresses)
        if household_id is not None:
            conn.execute(household_member.insert(), [{
                "ssin": ssin, "household_id": household_id, "relationship": relationship,
                "entry_date": since.isoformat()}])
        for table, _ in HISTORY.values():
            insert_many(conn, table, [dict(row, ssin=ssin)
                                      for row in (groups or {}).get(table.name, ())])
    return record


# Known persons the demo and the tests rely on, beside the random population. The first
# is the person of CBSS's sample request samples/lino_request_IdentifyPerson_ssin.xml.
def _married(day, partner, place, act):
    return {"nr_civil_state": [{"from_date": day, "code": 20, "partner_ssin": partner,
                                "place_nis": place, "act_number": act}]}


DEMO_PERSONS = [
    dict(ssin="70100853190", last_name="Mustermann", first_names="Max Moritz",
         birth_date="1970-10-08", gender=1, sis_card="1234567897", eid_card="591000123456",
         household_id=900001, civil_state=20, civil_state_date="1996-05-18",
         partner_ssin="72030512297", groups=dict(
             _married("1996-05-18", "72030512297", 63023, "0041"),
             nr_occupation=[{"from_date": "1994-09-01", "code": "02310", "social_category": 4}],
             nr_document=[
                 _document(None, "identity_card", "591000123456", "0000", "2019-03-14", 10,
                           63023),
                 _document(None, "identity_card", "590123456771", "0000", "2009-03-02", 10,
                           63023),
                 _document(None, "driving_licence", "A071842", "00", "1989-04-11", None,
                           63023, categories="02")])),
    dict(ssin="72030512297", last_name="Van den Berghe", first_names="Anne-Marie",
         birth_date="1972-03-05", gender=2, household_id=900001, relationship=2,
         civil_state=20, civil_state_date="1996-05-18", partner_ssin="70100853190",
         groups=_married("1996-05-18", "70100853190", 63023, "0041")),
    dict(ssin="01020300170", last_name="Lefèvre", first_names="Chloé", birth_date="2001-02-03",
         gender=2, municipality_nis=62063, street="Rue de la Station"),
    dict(ssin="85473003317", last_name="Öztürk", first_names="Ayşe", birth_date="1985-07-30",
         gender=2, register="BCSS_KSZ", nationality_nis=262),
    dict(ssin="60010100172", last_name="Janssens", first_names="Jan", birth_date="1960-01-01",
         gender=1, status="replaced", replaced_by="60010100370"),
    dict(ssin="60010100370", last_name="Janssens", first_names="Jan", birth_date="1960-01-01",
         gender=1),
    dict(ssin="55050500169", last_name="Dupont", first_names="Pierre", birth_date="1955-05-05",
         gender=1, status="cancelled"),
    # Living abroad, known to a Belgian diplomatic post (as the real reply in
    # ../shared/cbss/samples/lino_demo_ipr_1.xml).
    dict(ssin="38060100133", last_name="Mustermann", first_names="Max Moritz",
         birth_date="1938-06-01", gender=1, sis_card="1234567806",
         abroad=dict(country_nis=103, diplomatic_post=1103,
                     plain_text="Wilhelm-Busch-Str. 15\nBerlin\nDeutschland")),
    # The situation of CBSS's sample reply ../shared/cbss/samples/lino_demo_tx25_1.xml:
    # born in Eupen, a son in his father's household until 1996, married in Eupen in
    # 2000, a programmer, living in Estonia since 2001 (known to the post in Tallinn,
    # which issued his identity card; his passport from the post in Helsinki).
    dict(ssin="68070201346", last_name="Kaiser", first_names="Peter Paul",
         birth_date="1968-07-02", gender=1, household_id=900011, civil_state=20,
         civil_state_date="2000-10-07", partner_ssin="68442700251",
         earlier=[("1968-07-02", "2001-10-17", 63023, "Hauptstraße", "21")],
         abroad=dict(country_nis=136, diplomatic_post=1418,
                     plain_text="Narva mnt 5\n10117 Tallinn\nESTONIA"),
         groups=dict(
             _married("2000-10-07", "68442700251", 63023, "0098"),
             nr_occupation=[{"from_date": "2000-10-07", "code": "09617", "social_category": 9}],
             nr_filiation=[{"from_date": "1968-07-02", "type_code": "00",
                            "parent1_ssin": "33072102191", "parent2_ssin": "34080402246"}],
             nr_past_membership=[{"head_ssin": "33072102191", "relationship": 3,
                                  "entry_date": "1968-07-02", "leave_date": "1996-10-30"}],
             nr_document=[
                 _document(None, "driving_licence", "A043127", "00", "1987-02-06", None,
                           63023, categories="02"),
                 _document(None, "identity_card", "591413288107", "0000", "2021-10-26", 10,
                           post=1418),
                 _document(None, "passport", "EC516439", "0", "2022-09-23", 7, post=1262)])),
    dict(ssin="33072102191", last_name="Kaiser", first_names="Michel Victor",
         birth_date="1933-07-21", gender=1, household_id=900010, civil_state=20,
         civil_state_date="1960-04-23", partner_ssin="34080402246",
         groups=_married("1960-04-23", "34080402246", 63023, "0012")),
    dict(ssin="34080402246", last_name="Ausdemwald", first_names="Anneliese",
         birth_date="1934-08-04", gender=2, household_id=900010, relationship=2,
         civil_state=20, civil_state_date="1960-04-23", partner_ssin="33072102191",
         groups=_married("1960-04-23", "33072102191", 63023, "0012")),
    dict(ssin="68442700251", last_name="Kasemets", first_names="Kati", birth_date="1968-04-27",
         gender=2, register="BCSS_KSZ", nationality_nis=136, birth_place_nis=136,
         birth_place=None, birth_country_nis=136, civil_state=20, civil_state_date="2000-10-07",
         partner_ssin="68070201346", abroad=dict(country_nis=136, diplomatic_post=1418,
                                                 plain_text="Narva mnt 5\n10117 Tallinn"),
         groups=_married("2000-10-07", "68070201346", 63023, "0098")),
    # Born and living in Brussels: the municipality, street and birth place in Dutch and
    # French, a box number.
    dict(ssin="90041506248", last_name="Peeters", first_names="Sofie", birth_date="1990-04-15",
         gender=2, municipality_nis=21004, street="Rue Haute", house_number="12", box="3"),
]


def add_demo_persons(db):
    """Write the demo persons that are not there yet."""
    from sqlalchemy import select

    with db.engine.connect() as conn:
        present = set(conn.execute(select(person.c.ssin).where(
            person.c.ssin.in_([p["ssin"] for p in DEMO_PERSONS]))).scalars())
    for known in DEMO_PERSONS:
        if known["ssin"] not in present:
            add_person(db, **known)
