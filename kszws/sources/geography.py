"""Where the synthetic population lives: Belgian municipalities with their NIS (INS) codes,
postal codes, official names and language region, and street names. Countries: kszws.nis."""
from dataclasses import dataclass

from kszws import nis


@dataclass(frozen=True)
class Municipality:
    nis: int
    postal_code: str
    name_nl: str
    name_fr: str
    language: str  # nl | fr | de: the register's language for the inhabitants
    weight: int  # relative population, for sampling

    @property
    def name(self):
        return self.name_nl if self.language in ("nl", "de") else self.name_fr

    @property
    def in_brussels(self):
        return self.nis // 1000 == 21  # the arrondissement of Brussels-Capital

    @property
    def official_names(self):
        """[(language, name)] in each official language of the municipality, as the
        register gives them: Dutch and French in Brussels, German and French in the
        German-speaking area (name_nl holds the German name there), one elsewhere."""
        if self.in_brussels:
            return [("nl", self.name_nl), ("fr", self.name_fr)]
        if self.language == "de":
            return [("de", self.name_nl), ("fr", self.name_fr)]
        return [(self.language, self.name)]


MUNICIPALITIES = (
    Municipality(11002, "2000", "Antwerpen", "Anvers", "nl", 53),
    Municipality(12025, "2800", "Mechelen", "Malines", "nl", 9),
    Municipality(13040, "2300", "Turnhout", "Turnhout", "nl", 5),
    Municipality(24062, "3000", "Leuven", "Louvain", "nl", 10),
    Municipality(23088, "1800", "Vilvoorde", "Vilvorde", "nl", 4),
    Municipality(31005, "8000", "Brugge", "Bruges", "nl", 12),
    Municipality(34022, "8500", "Kortrijk", "Courtrai", "nl", 8),
    Municipality(35013, "8400", "Oostende", "Ostende", "nl", 7),
    Municipality(41002, "9300", "Aalst", "Alost", "nl", 9),
    Municipality(44021, "9000", "Gent", "Gand", "nl", 27),
    Municipality(46021, "9100", "Sint-Niklaas", "Saint-Nicolas", "nl", 8),
    Municipality(71016, "3600", "Genk", "Genk", "nl", 7),
    Municipality(71022, "3500", "Hasselt", "Hasselt", "nl", 8),
    Municipality(21001, "1070", "Anderlecht", "Anderlecht", "fr", 12),
    Municipality(21004, "1000", "Brussel", "Bruxelles", "fr", 19),
    Municipality(21009, "1050", "Elsene", "Ixelles", "fr", 9),
    Municipality(21012, "1080", "Sint-Jans-Molenbeek", "Molenbeek-Saint-Jean", "fr", 10),
    Municipality(21015, "1030", "Schaarbeek", "Schaerbeek", "fr", 13),
    Municipality(21016, "1180", "Ukkel", "Uccle", "fr", 8),
    Municipality(25112, "1300", "Waver", "Wavre", "fr", 3),
    Municipality(52011, "6000", "Charleroi", "Charleroi", "fr", 20),
    Municipality(53053, "7000", "Bergen", "Mons", "fr", 10),
    Municipality(55022, "7100", "La Louvière", "La Louvière", "fr", 8),
    Municipality(57081, "7500", "Doornik", "Tournai", "fr", 7),
    Municipality(62063, "4000", "Luik", "Liège", "fr", 20),
    Municipality(62096, "4100", "Seraing", "Seraing", "fr", 6),
    Municipality(63079, "4800", "Verviers", "Verviers", "fr", 6),
    Municipality(81001, "6700", "Aarlen", "Arlon", "fr", 3),
    Municipality(92094, "5000", "Namen", "Namur", "fr", 11),
    Municipality(63023, "4700", "Eupen", "Eupen", "de", 2),
    Municipality(63040, "4720", "Kelmis", "La Calamine", "de", 1),
    Municipality(63061, "4730", "Raeren", "Raeren", "de", 1),
    Municipality(63067, "4780", "Sankt Vith", "Saint-Vith", "de", 1),
)

STREETS = {
    "nl": ("Kerkstraat", "Stationsstraat", "Dorpsstraat", "Molenstraat", "Nieuwstraat",
           "Schoolstraat", "Kapelstraat", "Beekstraat", "Markt", "Veldstraat", "Lindenlaan",
           "Koning Albertlaan", "Brugsesteenweg", "Groenstraat", "Hoogstraat"),
    "fr": ("Rue de la Station", "Rue de l'Église", "Grand-Rue", "Rue du Moulin",
           "Avenue Louise", "Chaussée de Bruxelles", "Rue des Écoles", "Place du Marché",
           "Rue Haute", "Boulevard Émile Jacqmain", "Rue de la Loi", "Rue Saint-Gilles",
           "Avenue des Tilleuls", "Rue du Château", "Rue Neuve"),
    "de": ("Hauptstraße", "Kirchstraße", "Bahnhofstraße", "Aachener Straße", "Gospertstraße",
           "Klosterstraße", "Neustraße", "Bergstraße", "Marktplatz", "Herbesthaler Straße"),
}

# The Dutch names of the French street names, for Brussels, where a street has both.
STREETS_NL_OF_FR = {
    "Rue de la Station": "Stationsstraat", "Rue de l'Église": "Kerkstraat",
    "Grand-Rue": "Grote Straat", "Rue du Moulin": "Molenstraat", "Avenue Louise": "Louizalaan",
    "Chaussée de Bruxelles": "Brusselsesteenweg", "Rue des Écoles": "Schoolstraat",
    "Place du Marché": "Marktplein", "Rue Haute": "Hoogstraat",
    "Boulevard Émile Jacqmain": "Emile Jacqmainlaan", "Rue de la Loi": "Wetstraat",
    "Rue Saint-Gilles": "Sint-Gillisstraat", "Avenue des Tilleuls": "Lindenlaan",
    "Rue du Château": "Kasteelstraat", "Rue Neuve": "Nieuwstraat",
}
# Each street name's code in the register's street list (codes are per municipality in
# the register; here one list serves every municipality of a language).
STREET_CODES = {name: 1000 * (1 + i) + j for i, lang in enumerate(("nl", "fr", "de"))
                for j, name in enumerate(STREETS[lang], 1)}

BELGIUM = nis.BELGIUM


# The language of each street name of the lists.
STREET_LANGUAGES = {name: lang for lang, streets in STREETS.items() for name in streets}


def street_names(town, street):
    """[(language, name)] of `street` in `town`: both names in Brussels, else its one name
    in the language it is written in (a mutation may put a French name in Eupen); [] for a
    street not in the lists (a mutation may record any street)."""
    if town is None or street not in STREET_CODES:
        return []
    if town.in_brussels and street in STREETS_NL_OF_FR:
        return [("nl", STREETS_NL_OF_FR[street]), ("fr", street)]
    return [(STREET_LANGUAGES[street], street)]


def municipality(nis):
    return _BY_NIS.get(nis)


_BY_NIS = {m.nis: m for m in MUNICIPALITIES}
