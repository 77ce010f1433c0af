"""Names as Belgian registers compare them: folded (accents, case, punctuation), and
phonetic keys that survive particles (Van, De, Le, ...), compound and hyphenated names
and Dutch/French spelling variants. The phonetic code itself is jellyfish's Metaphone;
this module only prepares names the way Belgian registers write them before it is
applied. Shared by the National Register source (search) and the hub (verification)."""
import functools
import re
import unicodedata

import jellyfish

# Particles of Dutch, French and German family names; dropped for the key so that
# "Van den Berghe", "Vandenberghe" and "Berghe" meet.
PARTICLES = ("VANDER", "VANDEN", "VANDE", "VAN", "VON", "VOM", "DER", "DEN", "DE", "DU",
             "DES", "DELLA", "DELLE", "DELA", "LA", "LE", "LES", "TER", "TEN", "TE", "D", "L",
             "ZUM", "ZUR", "DI", "DA", "DOS", "DAS", "EL", "AL", "BEN")
_PREFIXES = ("VANDER", "VANDEN", "VANDE", "VAN", "DELA", "DES", "DE", "DU", "LE", "LA", "D")

# Spelling variants of the same sound in Dutch and French names (order matters).
_VARIANTS = (
    ("EBVR", "EVR"), ("AEU", "U"), ("IJ", "Y"), ("EI", "Y"), ("AE", "A"), ("OE", "U"), ("OU", "U"),
    ("UE", "U"), ("EAU", "O"), ("AU", "O"), ("CK", "K"), ("SCH", "S"), ("PH", "F"),
    ("TH", "T"), ("DT", "T"), ("GH", "G"), ("QU", "K"), ("C", "K"), ("Z", "S"),
    ("W", "V"), ("EE", "E"), ("OO", "O"), ("UU", "U"), ("II", "I"),
)


def fold(text):
    """Upper case, accents removed, anything but letters turned into spaces."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).upper()
    text = text.replace("ß", "SS")
    return re.sub(r"[^A-Z]+", " ", text).strip()


def spellings(last_name):
    """The ways a family name may be written in a register: with and without its
    particles, and with a particle written together split off. 'Desmet' -> {'DESMET',
    'SMET', 'MET'}; 'De Smet' -> {'DESMET', 'SMET'}; 'Van den Berghe' -> {'VANDENBERGHE',
    'BERGHE'}; 'Dupont-Lefèvre' -> {'DUPONTLEFEVRE'}."""
    words = fold(last_name).split()
    if not words:
        return set()
    out = {"".join(words)}
    kept = [w for w in words if w not in PARTICLES]
    if kept:
        out.add("".join(kept))
    for prefix in _PREFIXES:
        if len(kept) == 1 and kept[0].startswith(prefix) and len(kept[0]) - len(prefix) >= 3:
            out.add(kept[0][len(prefix):])
    return out


def phonetic(name):
    """The phonetic key of a name (or of the core of a family name)."""
    text = fold(name).replace(" ", "")
    for old, new in _VARIANTS:
        text = text.replace(old, new)
    text = re.sub(r"(.)\1+", r"\1", text)  # double letters sound single
    text = re.sub(r"([AEIOUY])[ST]$", r"\1", text)  # silent French final s/t (Dubois, Dumont)
    return jellyfish.metaphone(text) if text else ""


@functools.lru_cache(maxsize=65536)
def last_name_keys(last_name):
    """The phonetic keys under which a family name is indexed and searched; two names
    match when their key sets meet. Cached: a population repeats a few thousand names."""
    return frozenset(key for key in map(phonetic, spellings(last_name)) if key)


def first_name_key(first_names):
    """The key of the first of the first names."""
    words = fold(first_names).split()
    return phonetic(words[0]) if words else ""


def similar(a, b, threshold=0.85):
    """Two names are the same for a search when their keys match or they are close in
    spelling (Jaro-Winkler on the folded forms)."""
    fa, fb = fold(a), fold(b)
    if not fa or not fb:
        return False
    if phonetic(fa.split()[0]) == phonetic(fb.split()[0]):
        return True
    return jellyfish.jaro_winkler_similarity(fa, fb) >= threshold
