"""The National Register's code tables for the information types kszws holds, each code
with its labels in Dutch, French and German: reference data shared, like kszws.nis, by the
National Register source (which stores codes) and the hub (which writes the labels in the
language asked).

Where CBSS's samples show a code (../shared/cbss/samples/lino_demo_tx25_1.xml: occupation
09617, social category 9, filiation 00, card type 0000, licence type 00 and category 02,
passport status 0 and type 0, the posts 1418 Tallinn and 1262 Helsinki) it is that code;
the register's full lists are not public, the other codes are kszws's own numbering."""

LANGUAGES = ("nl", "fr", "de")


def label(table, code, language):
    """The label of `code` in `language` ("" for an unknown code)."""
    labels = table.get(code)
    if labels is None:
        return ""
    return labels[LANGUAGES.index(language)] if language in LANGUAGES else labels[1]


# TI001 Language of the file: 1 French, 2 Dutch (German-speakers are filed in Dutch).
FILE_LANGUAGES = {"fr": "1", "nl": "2", "de": "2"}

CIVIL_STATES = {10: ("Ongehuwd", "Célibataire", "Ledig"),
                20: ("Gehuwd", "Marié(e)", "Verheiratet"),
                30: ("Weduwe(naar)", "Veuf(ve)", "Verwitwet"),
                40: ("Uit de echt gescheiden", "Divorcé(e)", "Geschieden"),
                50: ("Van tafel en bed gescheiden", "Séparé(e) de corps",
                     "Von Tisch und Bett getrennt")}

# TI140/TI141 the role in the household, by the source's relationship number.
FAMILY_ROLES = {1: "01", 2: "02", 3: "03"}
FAMILY_ROLE_LABELS = {"01": ("Referentiepersoon", "Personne de référence", "Bezugsperson"),
                      "02": ("Echtgenoot", "Conjoint", "Ehepartner"),
                      "03": ("Kind", "Enfant", "Kind")}

OCCUPATIONS = {"09617": ("Programmeur", "Programmeur(euse)", "Programmierer(in)"),
               "02310": ("Leraar", "Enseignant(e)", "Lehrer(in)"),
               "03220": ("Verpleegkundige", "Infirmier(ère)", "Krankenpfleger(in)"),
               "04110": ("Bediende", "Employé(e)", "Angestellte(r)"),
               "05220": ("Verkoper", "Vendeur(euse)", "Verkäufer(in)"),
               "07120": ("Metselaar", "Maçon", "Maurer(in)"),
               "08320": ("Vrachtwagenchauffeur", "Chauffeur de camion", "Lkw-Fahrer(in)"),
               "07230": ("Mecanicien", "Mécanicien(ne)", "Mechaniker(in)"),
               "02210": ("Arts", "Médecin", "Arzt/Ärztin"),
               "05120": ("Kok", "Cuisinier(ère)", "Koch/Köchin")}
# The social category of an occupation; 9 has no label in the register (as in the sample).
SOCIAL_CATEGORIES = {1: ("Arbeider", "Ouvrier", "Arbeiter"),
                     2: ("Bediende", "Employé", "Angestellter"),
                     3: ("Zelfstandige", "Indépendant", "Selbständiger"),
                     4: ("Ambtenaar", "Fonctionnaire", "Beamter"),
                     9: ("", "", "")}

FILIATION_TYPES = {"00": ("Wettig kind", "Enfant légitime", "Eheliches Kind")}

CARD_TYPES = {"0000": ("I.K.", "C.I.", "P.A."),  # the Belgian identity card
              "0100": ("Vr.K.", "C.E.", "A.K.")}  # a foreigner's card
LICENCE_TYPES = {"00": ("Toegek.", "Délivr.", "Zuteil.")}
LICENCE_CATEGORIES = {"01": "A", "02": "B", "03": "C", "04": "D", "05": "E"}
PASSPORT_STATUSES = {"0": ("Afgeg.", "Délivr.", "Austel.")}
PASSPORT_TYPES = {"0": ("Paspoort", "Passeport", "Reisepass")}

# Belgian diplomatic posts (embassies and consulates) by the register's post code.
DIPLOMATIC_POSTS = {1418: "Tallinn", 1262: "Helsinki", 1103: "Berlin", 1111: "Paris",
                    1129: "Den Haag", 1128: "Roma", 1109: "Madrid", 1354: "Rabat",
                    1223: "Kinshasa"}
