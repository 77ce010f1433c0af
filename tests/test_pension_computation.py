"""The pension cadastre's deductions, worked by hand (figures of conf/pension_rates.toml,
reference year 2019): each case shows its working, the test asserts every cent."""
import datetime
from pathlib import Path

import pytest

from kszws.sources.pension_cadastre import computation as c

RATES = c.load(Path(__file__).resolve().parent.parent / "conf" / "pension_rates.toml")
OCT_2019 = RATES.period_for(datetime.date(2019, 10, 1))


def month(grosses, family=c.SINGLE):
    return c.compute(grosses, family, OCT_2019)


def figures(m):
    return (m.health_insurance, m.solidarity, m.taxable, m.withholding_rate_bp,
            [(s.health_insurance, s.solidarity, s.withholding) for s in m.shares])


def test_1_single_pension_under_the_threshold():
    # 1,400.00 <= 1,500.36: no health-insurance deduction, no solidarity.
    # Withholding: 12 x 1,400 = 16,800; tax 13,250 x 25 % + 3,550 x 40 % = 4,732.50, less
    # the tax on 8,860 (2,215.00) = 2,517.50; 2,517.50 / 16,800 = 14.985 % -> 14.98 %;
    # 1,400.00 x 14.98 % = 209.72.
    m = month([140000])
    assert figures(m) == (0, 0, 140000, 1498, [(0, 0, 20972)])
    assert m.shares[0].net == 119028


def test_2_deduction_limited_to_what_exceeds_the_threshold():
    # 1,520.00: 3.55 % = 53.96, but 1,520.00 - 1,500.36 = 19.64 only. Taxable 1,500.36;
    # 12 x = 18,004.32; tax 3,312.50 + 4,754.32 x 40 % = 5,214.228 - 2,215 = 2,999.228;
    # / 18,004.32 = 16.658 % -> 16.65 %; 1,500.36 x 16.65 % = 249.809 -> 249.81.
    assert figures(month([152000])) == (1964, 0, 150036, 1665, [(1964, 0, 24981)])


def test_3_two_pensions_crossing_the_threshold_together():
    # 1,000.00 (statutory) + 800.00 (supplementary): each under 1,500.36, together 1,800.00.
    # 3.55 % of 1,800.00 = 63.90 (< 299.64 excess), split 1,000/1,800 -> 35.50, 28.40.
    # Taxable 1,736.10; 12 x = 20,833.20; tax 3,312.50 + 7,583.20 x 40 % = 6,345.78 - 2,215
    # = 4,130.78; / 20,833.20 = 19.828 % -> 19.82 %; 964.50 x 19.82 % = 191.16;
    # 771.60 x 19.82 % = 152.93.
    assert figures(month([100000, 80000])) == (
        6390, 0, 173610, 1982, [(3550, 0, 19116), (2840, 0, 15293)])


def test_4_same_pensions_with_dependants():
    # Threshold 1,778.14: 1,800.00 exceeds it by 21.86 < 63.90 -> 21.86. Split:
    # 2,186 x 1,000/1,800 = 1,214.44 -> 1,214 (remainder .44); 2,186 x 800/1,800 = 971.56
    # -> 971 (remainder .56): the missing cent goes to the larger remainder -> 972.
    m = month([100000, 80000], c.DEPENDANTS)
    assert (m.health_insurance, [s.health_insurance for s in m.shares]) == (2186, [1214, 972])
    assert m.taxable == 177814


def test_5_solidarity_first_corridor():
    # Single 2,650.00: 3.55 % = 94.075 -> 94.08 (half up). Solidarity: above 2,594.45,
    # min(1.5 % x 2,650 = 39.75, 50 % x 55.55 = 27.775 -> 27.78) = 27.78.
    assert figures(month([265000]))[:3] == (9408, 2778, 252814)


def test_6_three_pensions_at_the_two_percent_rate():
    # 2,000 + 700 + 300 = 3,000.00 single. Solidarity at 2,873.57: min(1.5 % = 43.10,
    # 50 % x 279.12 = 139.56) = 43.10; at 3,000: min(2 % = 60.00, 43.10 + 50 % x 126.43 =
    # 106.32) = 60.00. 3.55 % = 106.50. Split exactly 2:0.7:0.3.
    m = month([200000, 70000, 30000])
    assert (m.health_insurance, m.solidarity) == (10650, 6000)
    assert [(s.health_insurance, s.solidarity) for s in m.shares] == [
        (7100, 4000), (2485, 1400), (1065, 600)]


def test_7_solidarity_second_corridor():
    # Single 2,890.00: min(2 % = 57.80, 43.10 + 50 % x 16.43 = 8.215 -> 8.22 = 51.32).
    # 3.55 % = 102.595 -> 102.60.
    assert figures(month([289000]))[:2] == (10260, 5132)


def test_8_dependants_raise_the_solidarity_threshold():
    # 2,650.00 with dependants: under 2,999.51, no solidarity; 3.55 % = 94.08 still.
    assert figures(month([265000], c.DEPENDANTS))[:2] == (9408, 0)


def test_9_dependants_second_corridor():
    # 3,300.00 with dependants: at 3,287.31 min(1.5 % = 49.31, 50 % x 287.80) = 49.31;
    # at 3,300: min(2 % = 66.00, 49.31 + 50 % x 12.69 = 6.345 -> 6.35 = 55.66) = 55.66.
    # 3.55 % = 117.15.
    assert figures(month([330000], c.DEPENDANTS))[:2] == (11715, 5566)


def test_10_a_correction_changes_the_bracket():
    # 2,000 + 600 = 2,600.00: solidarity min(39.00, 50 % x 5.55 = 2.78) = 2.78, split
    # 2.78 x 2,000/2,600 = 2.138 -> 2.14 and 0.64. Corrected to 2,000 + 900 = 2,900.00:
    # min(58.00, 43.10 + 50 % x 26.43 = 13.22 -> 56.32) = 56.32.
    before, after = month([200000, 60000]), month([200000, 90000])
    assert (before.solidarity, [s.solidarity for s in before.shares]) == (278, [214, 64])
    assert after.solidarity == 5632


def test_11_a_cancellation_leaves_one_pension():
    # The 900.00 cancelled: 2,000.00 alone, no solidarity, 3.55 % = 71.00.
    assert figures(month([200000]))[:2] == (7100, 0)


def test_12_no_withholding_under_the_tax_free_sum():
    # 700.00: 12 x = 8,400 < 8,860: the rate is 0.
    assert figures(month([70000])) == (0, 0, 70000, 0, [(0, 0, 0)])


@pytest.mark.parametrize("gross, expected", [(150036, 0), (150037, 1), (150100, 64),
                                             (155600, 5524)])
def test_health_insurance_at_the_threshold(gross, expected):
    # At the threshold nothing; one cent over: one cent; 1,556.00: 3.55 % = 55.238 -> 55.24,
    # under the 55.64 excess.
    assert c.health_insurance(gross, c.SINGLE, OCT_2019) == expected


def test_the_net_never_falls_below_the_thresholds():
    for total in range(149000, 340000, 7):
        for family in c.FAMILY_SITUATIONS:
            health = c.health_insurance(total, family, OCT_2019)
            solid = c.solidarity(total, family, OCT_2019)
            threshold = OCT_2019.health_threshold[family]
            assert total - health >= min(total, threshold)
            first = OCT_2019.solidarity_brackets[family][0].from_cents
            assert total - solid >= min(total, first)


def test_rounding_is_half_up_to_the_cent():
    assert c.percent(265000, 355) == 9408  # 9,407.5
    assert c.percent(12643, 5000) == 6322  # 6,321.5
    assert c.percent(12642, 5000) == 6321
    assert c.percent(1, 4999) == 0 and c.percent(1, 5000) == 1


def test_split_adds_up_and_breaks_ties_by_order():
    assert c.split(100, [1, 1, 1]) == [34, 33, 33]
    assert c.split(2, [1, 1, 1]) == [1, 1, 0]
    assert c.split(0, [5, 7]) == [0, 0]
    for total in (1, 7, 9999, 123457):
        for weights in ([3, 3, 3, 3], [1, 2, 3], [100000, 1], [7]):
            assert sum(c.split(total, weights)) == total


def test_a_month_without_rates_has_no_period():
    assert RATES.period_for(datetime.date(2019, 2, 1)) is None
    assert RATES.period_for(datetime.date(2020, 1, 1)) is None
    assert RATES.period_for(datetime.date(2019, 3, 1)) is OCT_2019


def test_every_figure_names_its_legal_source():
    for period in RATES.periods:
        assert set(period.sources) == {"health_insurance", "solidarity", "withholding"}
        assert all("Art" in source for source in period.sources.values())


def test_bad_rates_files_are_refused(tmp_path):
    good = (Path(__file__).resolve().parent.parent / "conf" / "pension_rates.toml").read_text()
    block = good[good.index("\n[[period]]") + 1:good.index("# The benefits payers declare")]
    overlapping = good.replace(block, block + block.replace("2019-03-01", "2019-12-01"))
    for text, problem in [(good.replace("rate_bp = 355", "rate_bp = \"x\""), "invalid"),
                          (overlapping, "overlap"),
                          (good.replace("supplementary_retirement = 2",
                                        "supplementary_retirement = 3"), "pillar")]:
        path = tmp_path / "rates.toml"
        path.write_text(text)
        with pytest.raises(c.RatesError, match=problem):
            c.load(path)
