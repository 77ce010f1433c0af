"""NIS (INS) country codes of Statbel, with Dutch, French and German names: the codes the
National Register uses for countries of birth and nationalities. Reference data shared by
the National Register source (which gives codes) and the hub (which writes labels)."""

BELGIUM = 150

COUNTRIES = {
    150: ("België", "Belgique", "Belgien"),
    129: ("Nederland", "Pays-Bas", "Niederlande"),
    111: ("Frankrijk", "France", "Frankreich"),
    103: ("Duitsland", "Allemagne", "Deutschland"),
    136: ("Estland", "Estonie", "Estland"),
    128: ("Italië", "Italie", "Italien"),
    109: ("Spanje", "Espagne", "Spanien"),
    123: ("Portugal", "Portugal", "Portugal"),
    124: ("Roemenië", "Roumanie", "Rumänien"),
    262: ("Turkije", "Turquie", "Türkei"),
    354: ("Marokko", "Maroc", "Marokko"),
    223: ("Democratische Republiek Congo", "République démocratique du Congo",
          "Demokratische Republik Kongo"),
}

_LANGUAGES = ("nl", "fr", "de")


def country_name(code, language="fr"):
    names = COUNTRIES.get(code)
    if names is None:
        return ""
    return names[_LANGUAGES.index(language)] if language in _LANGUAGES else names[1]
