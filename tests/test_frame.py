"""The breast frame and clock against a table worked by hand (CONVENTIONS §1-2, DOMAIN §4)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ductree.errors import InputError
from ductree.frame import (
    bf_to_lps, clock_difference_h, clock_of_point, clock_to_direction, depth_third, format_clock,
    locate_point, lps_to_bf, mediolateral, nearest_half_hour, parse_clock, point_from_clock, quadrant, region,
)

s2 = math.sqrt(0.5)
s3 = math.sqrt(3) / 2

# hour: (direction x, direction z, right quadrant, right side, left quadrant, left side)
# Worked by hand: 3 o'clock is the patient's left (+x) on both breasts; lateral is 9 on R, 3 on L.
CLOCK_TABLE = {
    1: (0.5, s3, "UIQ", "medial", "UOQ", "lateral"),
    2: (s3, 0.5, "UIQ", "medial", "UOQ", "lateral"),
    3: (1.0, 0.0, "UIQ/LIQ", "medial", "UOQ/LOQ", "lateral"),
    4: (s3, -0.5, "LIQ", "medial", "LOQ", "lateral"),
    5: (0.5, -s3, "LIQ", "medial", "LOQ", "lateral"),
    6: (0.0, -1.0, "LIQ/LOQ", "midline", "LOQ/LIQ", "midline"),
    7: (-0.5, -s3, "LOQ", "lateral", "LIQ", "medial"),
    8: (-s3, -0.5, "LOQ", "lateral", "LIQ", "medial"),
    9: (-1.0, 0.0, "LOQ/UOQ", "lateral", "LIQ/UIQ", "medial"),
    10: (-s3, 0.5, "UOQ", "lateral", "UIQ", "medial"),
    11: (-0.5, s3, "UOQ", "lateral", "UIQ", "medial"),
    12: (0.0, 1.0, "UOQ/UIQ", "midline", "UIQ/UOQ", "midline"),
}


@pytest.mark.parametrize("hour", sorted(CLOCK_TABLE))
def test_clock_table_both_breasts(hour):
    x, z, rq, rs, lq, ls = CLOCK_TABLE[hour]
    d = clock_to_direction(float(hour))
    assert d == pytest.approx([x, 0.0, z], abs=1e-12)
    assert clock_of_point([x * 20, 15, z * 20]) == pytest.approx(hour)
    assert quadrant(hour, "R") == rq and mediolateral(hour, "R") == rs
    assert quadrant(hour, "L") == lq and mediolateral(hour, "L") == ls


@pytest.mark.parametrize("text,hours", [
    ("6:30", 6.5), ("10:45", 10.75), ("0:00", 12.0), ("12:00", 12.0), ("12:30", 0.5), (0, 12.0),
    (12, 12.0), (6, 6.0), (6.5, 6.5), ("3", 3.0), ("9:05", 9 + 5 / 60),
])
def test_parse_clock_accepts(text, hours):
    assert parse_clock(text) == pytest.approx(hours)


@pytest.mark.parametrize("bad", [13, -1, "6:75", "six", "13:00", "", None, True, float("nan"), "6:3:0", [6]])
def test_parse_clock_refuses_naming_the_value(bad):
    with pytest.raises(InputError) as e:
        parse_clock(bad, key="lesion[0].clock", source="case.toml")
    msg = str(e.value)
    assert repr(bad) in msg and "lesion[0].clock" in msg and msg.startswith("case.toml:")


def test_half_hours_and_format():
    assert nearest_half_hour(10.3) == 10.5
    assert nearest_half_hour(11.8) == 12.0 and nearest_half_hour(0.2) == 12.0
    assert format_clock(10.5) == "10:30" and format_clock(12.0) == "12:00" and format_clock(0.25) == "12:15"
    assert format_clock(None) == "-"
    assert clock_difference_h(11.5, 0.5) == pytest.approx(1.0)


def test_named_cases_from_the_issue():
    # A lesion at 10 o'clock is upper outer on the right breast and upper inner on the left.
    assert quadrant(10, "R") == "UOQ" and quadrant(10, "L") == "UIQ"
    # 3 o'clock is medial on the right, lateral on the left.
    assert mediolateral(3, "R") == "medial" and mediolateral(3, "L") == "lateral"


def test_point_from_clock_and_locate():
    p = point_from_clock("10:30", 20, 15)
    assert p == pytest.approx([-20 * s2, 15, 20 * s2])
    loc = locate_point(p, "R", breast_depth_mm=90)
    assert loc.clock_half_hour == "10:30" and loc.quadrant == "UOQ" and loc.side == "lateral"
    assert loc.fn_mm == pytest.approx(20) and loc.depth_mm == 15 and loc.depth_third == "anterior"
    assert locate_point([0, 5, 0], "L").clock is None
    assert locate_point(p, "R").depth_third is None  # thirds never guessed without breast depth


def test_depth_thirds():
    assert [depth_third(d, 90) for d in (0, 29.9, 30, 59.9, 60, 120)] == \
        ["anterior", "anterior", "middle", "middle", "posterior", "posterior"]
    assert depth_third(50, None) is None


def test_regions():
    assert region([0, 10, 5], "R") == "subareolar"
    assert region([0, 50, 5], "R") == "central"
    # Far out at 10:30 on the right (upper outer) is the axillary tail; the same point on the left is UIQ.
    far = point_from_clock(10.5, 80, 40)
    assert region(far, "R") == "axillary tail" and region(far, "L") == "UIQ"


def test_lps_round_trip():
    nipple = [12.5, -80.0, 30.0]
    p = np.array([[1.0, 2.0, 3.0], [-5, 40, 7]])
    assert lps_to_bf(bf_to_lps(p, nipple), nipple) == pytest.approx(p)
    assert bf_to_lps([0, 0, 0], nipple) == pytest.approx(nipple)


@given(st.floats(min_value=0.001, max_value=12.0))
def test_clock_survives_direction_and_back(hours):
    d = clock_to_direction(hours)
    back = clock_of_point(d * 10)
    assert clock_difference_h(back, hours) < 1e-9


@given(st.floats(-100, 100), st.floats(0, 120), st.floats(-100, 100))
def test_laterality_never_moves_a_point(x, y, z):
    if math.hypot(x, z) < 1e-6:
        return
    r, l = locate_point([x, y, z], "R"), locate_point([x, y, z], "L")
    assert r.point_bf == l.point_bf and r.clock == l.clock and r.fn_mm == l.fn_mm and r.depth_mm == l.depth_mm
    # Names mirror: lateral on one breast is medial on the other.
    swap = {"lateral": "medial", "medial": "lateral", "midline": "midline"}
    assert swap[r.side] == l.side
