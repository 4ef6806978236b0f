"""The breast frame (BF), the clock face and the names surgeons use.

The breast frame (CONVENTIONS §1): millimetres, axes parallel to DICOM patient
LPS (``+x`` patient's left, ``+y`` posterior from the nipple toward the chest
wall, ``+z`` superior), origin at the nipple tip. Laterality never moves a
point; it only changes names (lateral/medial, quadrants).

The clock (§2) is read by an observer facing the patient: 12 is superior
(``+z``) and 3 o'clock is always the patient's left (``+x``), on both breasts.
``theta = atan2(x, z)`` from ``+z`` toward ``+x``; hour = theta / 30 degrees,
reported in ``(0, 12]``.

Everything here is pure math on floats and small numpy arrays: no VTK, no
networkx, so the command line can use it instantly.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from .errors import InputError

#: Hours within this of a quadrant boundary (12, 3, 6, 9) are "on" it.
BOUNDARY_TOL_H = 1e-6
#: Radius of the nipple-areola complex used for region names (mm, coronal).
AREOLA_RADIUS_MM = 15.0
#: Depth behind the nipple that still counts as subareolar (mm).
SUBAREOLAR_DEPTH_MM = 30.0
#: Coronal distance from the nipple beyond which the upper outer sector is the
#: axillary tail (mm).
AXILLARY_TAIL_FN_MM = 60.0

_CLOCK_TEXT = re.compile(r"^\s*(\d{1,2})\s*:\s*(\d{1,2})\s*$")


# --------------------------------------------------------------------------- laterality

def parse_laterality(value: object, *, key: str = "laterality", source: str | None = None) -> str:
    """Return ``"L"`` or ``"R"`` from ``"L"``, ``"R"``, ``"left"`` or ``"right"`` (any case).

    Examples
    --------
    >>> parse_laterality("right")
    'R'
    """
    if isinstance(value, str):
        v = value.strip().upper()
        if v in ("L", "LEFT"):
            return "L"
        if v in ("R", "RIGHT"):
            return "R"
    raise InputError(f"laterality must be 'L' or 'R', got {value!r}", key=key, source=source)


# --------------------------------------------------------------------------- clock

def parse_clock(value: object, *, key: str = "clock", source: str | None = None) -> float:
    """Parse a clock position into hours in ``(0, 12]``.

    Accepts a number in ``[0, 12]`` (``6``, ``6.5``; ``0`` means 12) or text
    ``"H:MM"`` with H in 0..12 and minutes 0..59 (``"10:45"``; ``"0:00"``
    means 12). A plain number given as text (``"6.5"``) is accepted too.
    Anything else raises :class:`InputError` naming the bad value.

    Examples
    --------
    >>> parse_clock("10:30"), parse_clock(0), parse_clock(6.5)
    (10.5, 12.0, 6.5)
    """
    def bad(why: str) -> InputError:
        return InputError(f"bad clock position {value!r}: {why}", key=key, source=source)

    if isinstance(value, bool):
        raise bad("expected a number in (0, 12] or 'H:MM'")
    if isinstance(value, (int, float, np.integer, np.floating)):
        hours = float(value)
    elif isinstance(value, str):
        m = _CLOCK_TEXT.match(value)
        if m:
            h, minutes = int(m.group(1)), int(m.group(2))
            if not 0 <= h <= 12:
                raise bad("hour must be 0..12")
            if not 0 <= minutes <= 59:
                raise bad("minutes must be 0..59")
            hours = h + minutes / 60.0
            if h == 12 and minutes > 0:
                hours = minutes / 60.0  # "12:30" is half past twelve
        else:
            try:
                hours = float(value.strip())
            except ValueError:
                raise bad("expected a number in (0, 12] or 'H:MM'") from None
    else:
        raise bad("expected a number in (0, 12] or 'H:MM'")
    if not math.isfinite(hours) or hours < 0 or hours > 12:
        raise bad("must be in (0, 12]")
    return 12.0 if hours == 0 else hours


def normalize_hours(hours: float) -> float:
    """Wrap any real number of hours into ``(0, 12]``."""
    h = math.fmod(float(hours), 12.0)
    if h <= 0:
        h += 12.0
    return h


def clock_to_direction(clock: object) -> np.ndarray:
    """Unit vector in the coronal plane (BF, ``y = 0``) pointing toward ``clock``.

    Examples
    --------
    >>> clock_to_direction(3).round(6).tolist()   # 3 o'clock = patient's left = +x
    [1.0, 0.0, 0.0]
    """
    hours = parse_clock(clock) if not isinstance(clock, float) else clock
    theta = math.radians(hours * 30.0)
    return np.array([math.sin(theta), 0.0, math.cos(theta)])


def direction_to_clock(x: float, z: float) -> float | None:
    """Clock hours in ``(0, 12]`` of a coronal direction; ``None`` on the nipple axis."""
    if math.hypot(x, z) < 1e-12:
        return None
    theta = math.degrees(math.atan2(x, z))
    return normalize_hours(theta / 30.0)


def clock_of_point(point: Sequence[float]) -> float | None:
    """Clock hours of a BF point (mm); ``None`` when it lies on the nipple axis."""
    return direction_to_clock(float(point[0]), float(point[2]))


def clock_difference_h(a: float, b: float) -> float:
    """Smallest absolute difference between two clock positions, in hours (0..6)."""
    d = abs(float(a) - float(b)) % 12.0
    return min(d, 12.0 - d)


def nearest_half_hour(hours: float) -> float:
    """Round to the nearest half hour, in ``(0, 12]``."""
    return normalize_hours(round(float(hours) * 2.0) / 2.0)


def orifice_text(hours: float | None, *, half_hour: bool = False) -> str:
    """``"orifice 7:30"``, or ``"orifice clock not known"`` (a tree rebuilt from a ductogram starts
    at the cannulated orifice, whose clock the images do not give).

    Examples
    --------
    >>> orifice_text(7.4, half_hour=True), orifice_text(None)
    ('orifice 7:30', 'orifice clock not known')
    """
    return "orifice clock not known" if hours is None else f"orifice {format_clock(hours, half_hour=half_hour)}"


def format_clock(hours: float | None, *, half_hour: bool = False) -> str:
    """Text ``"H:MM"`` (nearest minute, or nearest half hour); ``"-"`` for ``None``.

    Examples
    --------
    >>> format_clock(10.5), format_clock(0.25), format_clock(6.8, half_hour=True)
    ('10:30', '12:15', '7:00')
    """
    if hours is None:
        return "-"
    h = nearest_half_hour(hours) if half_hour else hours
    minutes_total = int(round(normalize_hours(h) * 60.0)) % 720
    hh, mm = divmod(minutes_total, 60)
    return f"{hh or 12}:{mm:02d}"


# --------------------------------------------------------------------------- names

# Quadrants by clock sector, starting at 12 and going clockwise (as seen from the front).
_SECTORS = {
    "R": ("UIQ", "LIQ", "LOQ", "UOQ"),   # 12-3, 3-6, 6-9, 9-12
    "L": ("UOQ", "LOQ", "LIQ", "UIQ"),
}

QUADRANT_NAMES = {
    "UOQ": "upper outer quadrant",
    "UIQ": "upper inner quadrant",
    "LOQ": "lower outer quadrant",
    "LIQ": "lower inner quadrant",
}


def quadrant(clock: float, laterality: str) -> str:
    """Quadrant code of a clock position on the given breast.

    Right breast: UOQ 9-12, UIQ 12-3, LIQ 3-6, LOQ 6-9; the left mirrors.
    Exactly on a boundary (12, 3, 6 or 9) the two neighbours are joined in
    clockwise order, e.g. ``"UOQ/UIQ"`` for 12 o'clock on the right.

    Examples
    --------
    >>> quadrant(10, "R"), quadrant(10, "L")
    ('UOQ', 'UIQ')
    """
    lat = parse_laterality(laterality)
    sectors = _SECTORS[lat]
    h = normalize_hours(clock) % 12.0  # 12 -> 0
    k, rem = divmod(h, 3.0)
    k = int(k) % 4
    if rem < BOUNDARY_TOL_H or 3.0 - rem < BOUNDARY_TOL_H:
        at = k if rem < BOUNDARY_TOL_H else (k + 1) % 4
        return f"{sectors[(at - 1) % 4]}/{sectors[at]}"
    return sectors[k]


def mediolateral(clock: float, laterality: str) -> str:
    """``"lateral"``, ``"medial"`` or ``"midline"`` (12 or 6 o'clock) for a clock position.

    Lateral is 9 o'clock on the right breast and 3 o'clock on the left.

    Examples
    --------
    >>> mediolateral(3, "R"), mediolateral(3, "L")
    ('medial', 'lateral')
    """
    lat = parse_laterality(laterality)
    x = math.sin(math.radians(normalize_hours(clock) * 30.0))
    if abs(x) < math.sin(math.radians(BOUNDARY_TOL_H * 30.0)) + 1e-12:
        return "midline"
    toward_left = x > 0
    # On the left breast the patient's left (+x) is lateral; on the right it is medial.
    return "lateral" if toward_left == (lat == "L") else "medial"


def lateral_clock(laterality: str) -> float:
    """The clock position that is lateral on this breast (9 on R, 3 on L)."""
    return 9.0 if parse_laterality(laterality) == "R" else 3.0


def fn_mm(point: Sequence[float]) -> float:
    """Distance from the nipple in the coronal plane, ``hypot(x, z)`` (mm)."""
    return math.hypot(float(point[0]), float(point[2]))


def depth_mm(point: Sequence[float]) -> float:
    """Depth behind the nipple, ``y`` (mm, BF)."""
    return float(point[1])


def depth_third(depth: float, breast_depth_mm: float | None) -> str | None:
    """``"anterior"``, ``"middle"`` or ``"posterior"``; ``None`` when the breast depth is unknown.

    Thirds of the nipple-to-chest-wall distance. Depths in front of the nipple
    count as anterior and depths past the chest wall as posterior.
    """
    if breast_depth_mm is None:
        return None
    if not breast_depth_mm > 0:
        raise InputError(f"must be > 0, got {breast_depth_mm!r}", key="breast_depth_mm")
    frac = float(depth) / float(breast_depth_mm)
    if frac < 1.0 / 3.0:
        return "anterior"
    if frac < 2.0 / 3.0:
        return "middle"
    return "posterior"


def region(point: Sequence[float], laterality: str) -> str:
    """Coarse region name of a BF point: subareolar, central, axillary tail or a quadrant.

    Heuristic thresholds (module constants): within ``AREOLA_RADIUS_MM`` of
    the nipple axis it is subareolar up to ``SUBAREOLAR_DEPTH_MM`` deep and
    central beyond; in the upper outer quadrant, within 1.5 h of the
    upper-outer diagonal and at least ``AXILLARY_TAIL_FN_MM`` out, it is the
    axillary tail; otherwise its quadrant code.
    """
    lat = parse_laterality(laterality)
    fn = fn_mm(point)
    if fn <= AREOLA_RADIUS_MM:
        return "subareolar" if depth_mm(point) <= SUBAREOLAR_DEPTH_MM else "central"
    clock = clock_of_point(point)
    assert clock is not None
    q = quadrant(clock, lat)
    tail_clock = 10.5 if lat == "R" else 1.5
    if q == "UOQ" and fn >= AXILLARY_TAIL_FN_MM and clock_difference_h(clock, tail_clock) <= 1.5:
        return "axillary tail"
    return q


# --------------------------------------------------------------------------- points

def point_from_clock(clock: object, fn: float, depth: float) -> np.ndarray:
    """The BF point (mm) at a clock position, coronal distance ``fn`` and depth.

    Examples
    --------
    >>> point_from_clock("3:00", 20, 15).round(6).tolist()
    [20.0, 15.0, 0.0]
    """
    if not fn >= 0:
        raise InputError(f"must be >= 0, got {fn!r}", key="fn_mm")
    d = clock_to_direction(clock)
    return np.array([d[0] * fn, float(depth), d[2] * fn])


def bf_to_lps(points: np.ndarray, nipple_lps: Sequence[float]) -> np.ndarray:
    """Breast frame (mm) to patient LPS (mm): ``p_LPS = nipple_LPS + p_BF``."""
    return np.asarray(points, dtype=float) + np.asarray(nipple_lps, dtype=float)


def lps_to_bf(points: np.ndarray, nipple_lps: Sequence[float]) -> np.ndarray:
    """Patient LPS (mm) to breast frame (mm): ``p_BF = p_LPS - nipple_LPS``."""
    return np.asarray(points, dtype=float) - np.asarray(nipple_lps, dtype=float)


@dataclass(frozen=True)
class Location:
    """Where a BF point lies, in the words of a breast surgeon."""

    laterality: str
    point_bf: tuple[float, float, float]
    clock: float | None            #: exact clock hours in (0, 12], None on the nipple axis
    clock_half_hour: str           #: nearest half hour, "H:MM"
    clock_exact: str               #: nearest minute, "H:MM"
    quadrant: str | None
    side: str | None               #: lateral / medial / midline
    region: str
    fn_mm: float
    depth_mm: float
    distance_mm: float
    depth_third: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def locate_point(point: Sequence[float], laterality: str, breast_depth_mm: float | None = None) -> Location:
    """Describe a BF point (mm): clock, quadrant, lateral/medial, fn, depth, third.

    Examples
    --------
    >>> loc = locate_point([-20.0, 15.0, 0.0], "R", breast_depth_mm=90)
    >>> loc.clock_half_hour, loc.quadrant, loc.side, loc.depth_third
    ('9:00', 'LOQ/UOQ', 'lateral', 'anterior')
    """
    lat = parse_laterality(laterality)
    p = np.asarray(point, dtype=float).reshape(3)
    if not np.all(np.isfinite(p)):
        raise InputError(f"point must be finite, got {p.tolist()}", key="point")
    clock = clock_of_point(p)
    return Location(
        laterality=lat,
        point_bf=(float(p[0]), float(p[1]), float(p[2])),
        clock=clock,
        clock_half_hour=format_clock(clock, half_hour=True),
        clock_exact=format_clock(clock),
        quadrant=None if clock is None else quadrant(clock, lat),
        side=None if clock is None else mediolateral(clock, lat),
        region=region(p, lat),
        fn_mm=fn_mm(p),
        depth_mm=depth_mm(p),
        distance_mm=float(np.linalg.norm(p)),
        depth_third=depth_third(p[1], breast_depth_mm),
    )
