"""The quality codes (hoedanigheidscodes) of conf/quality_codes.toml: the whole official CBSS
list, every sector, with its labels; a code of the institution's sector (or a universal one)
is accepted, any other refused (31008003 / DIR00003)."""
import re
import unicodedata
from pathlib import Path

import pytest

from kszws.config import load_settings
from kszws.registry import load_registry
from kszws.registry.model import UNIVERSAL
from tests.netfixture import ROOT

CODES = Path(__file__).resolve().parents[2] / "shared" / "cbss" / "codes"
PURPOSES = "lino_purposes_hoedanigheidscodes.txt"
REGISTRY = load_registry(load_settings(ROOT / "conf"))

# The published list's one garbled label (an encoding accident): what conf/ writes instead.
KNOWN_DEFECTS = {"ECART2E": "ÉCARTÉE"}


def published():
    """{(sector, code): (fr, nl)} of the published list: lines "SECTOR CODE FR | NL [| DE]"
    inside the Python string of Lino's source (read as text, never executed); "*" = every
    sector."""
    path = CODES / PURPOSES
    if not path.is_file():
        pytest.skip("../shared/cbss/codes (the official quality-code list) is not present")
    text = path.read_text("utf-8")
    body = text.split('"""')[1]
    codes = {}
    for line in body.splitlines():
        if not line.strip():
            continue
        sector, code, labels = line.split(None, 2)
        fr, nl = [label.strip() for label in labels.split("|")][:2]
        key = (UNIVERSAL if sector == "*" else int(sector), int(code))
        assert key not in codes, "the published list names %s twice" % (key,)
        codes[key] = (fr, nl)
    assert len(codes) > 100  # the parse found the list, not a fragment of it
    return codes


def _normal(label):
    """Compared case-insensitively (conf/ writes the upper-case labels in sentence case),
    with typographic apostrophes as ' and spacing normalised."""
    for wrong, right in KNOWN_DEFECTS.items():
        label = label.replace(wrong, right)
    label = unicodedata.normalize("NFC", label).replace("\u2019", "'")
    label = re.sub(r"\s+", " ", label).strip()
    label = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", label))
    return label.lower()


def _base(char):
    return unicodedata.normalize("NFD", char)[0]


def same_label(ours, official):
    """The same words; accents the upper-case original leaves out may be restored, but an
    accent of the original must be kept."""
    ours, official = _normal(ours), _normal(official)
    if len(ours) != len(official) or any(_base(a) != _base(b) for a, b in zip(ours, official)):
        return False
    return all(a == b for a, b in zip(ours, official) if b != _base(b))


def test_every_published_code_is_known_with_its_labels():
    official = published()
    known = REGISTRY.quality_codes
    missing = sorted(set(official) - set(known))
    assert not missing, "published codes missing from conf/quality_codes.toml: %s" % missing
    extra = sorted(set(known) - set(official))
    assert not extra, "codes of conf/quality_codes.toml not in the published list: %s" % extra
    wrong = []
    for (sector, code), (fr, nl) in sorted(official.items()):
        quality = REGISTRY.quality_code(sector, code)
        assert quality is not None and (quality.sector, quality.code) == (sector, code)
        if not same_label(quality.fr, fr):
            wrong.append((sector, code, "fr", quality.fr, fr))
        if not same_label(quality.nl, nl):
            wrong.append((sector, code, "nl", quality.nl, nl))
    assert not wrong, "labels that differ from the published list: %s" % wrong


def test_label_comparison_is_not_lenient_about_words_or_accents():
    assert same_label("Femme enceinte écartée", "FEMME ENCEINTE ECART2E")
    assert same_label("Dossier bénéficiaire d'une allocation",
                      "DOSSIER BENEFICIAIRE D’UNE ALLOCATION")
    assert not same_label("Personne handicapee (allocation)", "PERSONNE HANDICAPÉE (ALLOCATION)")
    assert not same_label("Dossier en cours", "DOSSIER EN EXAMEN")


def test_every_sector_of_the_codes_is_a_known_sector():
    # The loader refuses a code of an unknown sector; ReferenceManager names the sector of a
    # registration from its entry with sub-sector 0.
    sectors = {sector for sector, _ in REGISTRY.quality_codes} - {UNIVERSAL}
    assert sectors == {1, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
    assert all((sector, 0) in REGISTRY.sectors for sector in sectors)


def test_a_code_of_the_sector_is_accepted_and_another_refused():
    # Registry.quality_code decides 31008003 (ManageAccess) and DIR00003 (register).
    accepted = REGISTRY.quality_code(17, 6)
    assert accepted is not None and accepted.nl == "Persoon tewerkgesteld via OCMW"
    assert REGISTRY.quality_code(17, 902).sector == UNIVERSAL  # universal codes: every sector
    assert REGISTRY.quality_code(17, 401) is None  # no sector has it
    assert REGISTRY.quality_code(17, 10) is None  # sector 1's (and others'), not sector 17's
    assert REGISTRY.quality_code(18, 6) is None
    assert REGISTRY.quality_code(19, 99) is not None


def test_exclusive_codes_follow_the_fraud_rule():
    exclusive = {key for key, q in REGISTRY.quality_codes.items() if q.exclusive}
    # Seed §4.14: the social-assistance rights one CPAS alone grants a person for a period.
    assert exclusive == {(17, 2), (17, 3), (17, 6), (17, 40)}
    never = re.compile(r"examen|premier contact|débiteur|tier|cohabitant|ménage|personnel|"
                       r"collaborateur", re.IGNORECASE)
    assert not [q for q in REGISTRY.quality_codes.values() if q.exclusive and never.search(q.fr)]
