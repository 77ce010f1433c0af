import pytest

from kszws import ids


@pytest.mark.parametrize("value", ["85073003328", "850730 033-28", "85.07.30-033.28",
                                   "850730 033=28"])
def test_ssin_display_forms(value):
    assert ids.ssin(value) == "85073003328"


def test_ssin_born_after_2000_and_bis():
    assert ids.ssin_kind("85073003328") == "nn"
    # born in 2001: the check digits are computed over "2" + the first nine digits
    assert ids.ssin("01020300170") == "01020300170"
    assert not ids.is_ssin("01020300171")
    # bis number: month + 40 (sex known when the number was given)
    assert ids.ssin_kind("85473003317") == "bis"


@pytest.mark.parametrize("value", ["85073003329", "1234", "abcdefghijk", ""])
def test_invalid_ssins(value):
    with pytest.raises(ids.InvalidIdentifier):
        ids.ssin(value)


def test_enterprise_numbers():
    assert ids.enterprise_number("0403.170.701") == "0403170701"
    assert ids.enterprise_number("403170701") == "0403170701"
    assert not ids.is_enterprise_number("0403170702")
