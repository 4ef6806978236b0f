"""Placing lesion specs on hand-built trees: positions, clinical names, ambiguity, unplaced, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ductree.case import LesionSpec
from ductree.errors import InputError
from ductree.frame import clock_to_direction
from ductree.lesions import place_lesions, point_segment_distance, segment_segment_distance

from conftest import P, SEG_A, brute_distance_to_ray, build_hand_tree


def place(tree, *specs, lat="R", **kw):
    return place_lesions(tree, list(specs), laterality=lat, **kw)


# --------------------------------------------------------------------------- both breasts

@pytest.mark.parametrize("lat,quadrant,side", [("R", "UOQ", "lateral"), ("L", "UIQ", "medial")])
def test_ten_oclock_lesion_names_on_both_breasts(lat, quadrant, side):
    tree = build_hand_tree(lat)
    (les,) = place(tree, LesionSpec("L1", clock=10, depth_mm=20, size_mm=4), lat=lat, breast_depth_mm=90)
    assert les.status == "placed"
    assert les.system == 0 and les.orifice_clock == 10.0
    # On A the depth-20 point is its middle node P(10, 9.5, 20).
    np.testing.assert_allclose(les.point_bf, P(10, 9.5, 20), atol=1e-6)
    assert les.clock_half_hour == "10:00" and les.clock_exact == "10:00"
    assert les.quadrant == quadrant and les.side == side
    assert les.depth_mm == pytest.approx(20) and les.fn_mm == pytest.approx(9.5)
    assert les.depth_third == "anterior"          # 20 / 90 < 1/3
    assert les.path_mm == pytest.approx(SEG_A)
    assert les.generation == 0 and les.radius_mm == pytest.approx(0.7)
    assert les.laterality == lat
    assert "upper" in les.quadrant_name


@pytest.mark.parametrize("lat,side,quadrant", [("R", "medial", "UIQ/LIQ"), ("L", "lateral", "UOQ/LOQ")])
def test_three_oclock_is_medial_on_the_right_lateral_on_the_left(lat, side, quadrant):
    tree = build_hand_tree(lat)
    (les,) = place(tree, LesionSpec("L3", clock=3, fn_mm=9.5), lat=lat)
    assert les.status == "placed" and les.system == 1
    # The 3:00 line at fn 9.5 meets B at its middle node, depth 20.
    np.testing.assert_allclose(les.point_bf, P(3, 9.5, 20), atol=1e-6)
    assert les.side == side and les.quadrant == quadrant
    assert les.depth_third is None                # no breast depth given: no thirds


def test_snaps_between_nodes_interpolating_radius_and_path(hand_tree):
    # Depth 30 on A is halfway along its second segment: fn 13.5, radius (0.7 + 0.5) / 2.
    (les,) = place(hand_tree, LesionSpec("M", clock=10, depth_mm=30))
    assert les.status == "placed"
    np.testing.assert_allclose(les.point_bf, P(10, 13.5, 30), atol=1e-3)
    assert les.radius_mm == pytest.approx(0.6, abs=1e-3)
    assert les.path_mm == pytest.approx(1.5 * SEG_A, abs=1e-3)
    assert les.t == pytest.approx(0.5, abs=1e-4)
    assert les.segment == (1, 2)


def test_clock_rounding_lets_a_half_hour_off_duct_fit(hand_tree):
    # A lies at 10:00 exactly; stated as 10:30 (a half hour is 15 degrees, so +/-7.5 degrees around
    # 10:30 reaches 10:15, not 10:00). At depth 40, fn 17.5 the duct is 17.5 * sin(15 deg) = 4.53 mm
    # off the 10:30 ray; the tolerance there is 17.5 * sin(7.5 deg) + 0.5 + 0.5 = 3.28 mm: it does not fit.
    (les,) = place(hand_tree, LesionSpec("X", clock=10.5, depth_mm=40))
    assert les.status == "unplaced"
    # With 2 mm of source uncertainty it fits (3.28 + 2 > 4.53).
    (les,) = place(hand_tree, LesionSpec("X", clock=10.5, depth_mm=40), uncertainty_mm=2.0)
    assert les.status == "placed" and les.system == 0
    assert les.distance_mm == pytest.approx(17.5 * math.sin(math.radians(15)), abs=0.05)


# --------------------------------------------------------------------------- ambiguity

def test_ray_crossing_two_systems_is_ambiguous_with_both_listed(hand_tree):
    # The 12:00 ray at depth 20 crosses D (fn 8) and E (fn 25), both exactly.
    (les,) = place(hand_tree, LesionSpec("AMB", clock=12, depth_mm=20))
    assert les.status == "ambiguous" and les.ambiguity == "system"
    systems = sorted(c.system for c in les.candidates)
    assert systems == [2, 3]
    pts = {c.system: np.asarray(c.point_bf) for c in les.candidates}
    np.testing.assert_allclose(pts[2], P(12, 8, 20), atol=1e-3)
    np.testing.assert_allclose(pts[3], P(12, 25, 20), atol=1e-3)
    assert all(c.distance_mm < 1e-3 for c in les.candidates)
    # Deterministic choice: equal misfit, so the tie-break picks the same one every time.
    again = [place(hand_tree, LesionSpec("AMB", clock=12, depth_mm=20))[0].system for _ in range(3)]
    assert again == [les.system] * 3
    assert les.system == les.candidates[0].system
    assert "system 2" in les.reason and "system 3" in les.reason


def test_two_branches_far_apart_in_one_system_are_ambiguous(hand_tree):
    # F1 crosses the 6:00 ray at depth 20 at fn 4 + 6 * 12/22; F2 ends on it at fn 25.
    (les,) = place(hand_tree, LesionSpec("BR", clock=6, depth_mm=20))
    assert les.status == "ambiguous" and les.ambiguity == "branch"
    assert {c.system for c in les.candidates} == {4}
    fns = sorted(math.hypot(c.point_bf[0], c.point_bf[2]) for c in les.candidates)
    assert fns == pytest.approx([4 + 6 * 12 / 22, 25.0], abs=1e-2)
    assert {c.generation for c in les.candidates} == {1}
    # With a separation longer than the tree distance between them (12.4 + 24.2 mm) they merge.
    (one,) = place(hand_tree, LesionSpec("BR", clock=6, depth_mm=20), branch_separation_mm=40)
    assert one.status == "placed"


def test_point_spec_picks_the_nearer_duct_when_clearly_nearer(hand_tree):
    p = P(10, 13.5, 30)  # on A, halfway along its second segment
    # 1 mm off A's centreline, perpendicular to it in the coronal plane
    q = p + 1.0 * np.array([math.cos(math.radians(300)), 0, -math.sin(math.radians(300))])
    (les,) = place(hand_tree, LesionSpec("PT", point_bf=tuple(q), size_mm=2))
    assert les.status == "placed" and les.system == 0
    d_true, _ = point_segment_distance(q, np.array([P(10, 9.5, 20)]), np.array([P(10, 17.5, 40)]))
    assert les.distance_mm == pytest.approx(float(d_true[0, 0]), abs=1e-6)


def test_point_lps_uses_the_nipple(hand_tree):
    nipple = (100.0, -50.0, 20.0)
    q = P(3, 9.5, 20) + np.asarray(nipple)
    (les,) = place(hand_tree, LesionSpec("PL", point_lps=tuple(q)), nipple_lps=nipple)
    assert les.status == "placed" and les.system == 1
    np.testing.assert_allclose(les.point_lps, q, atol=1e-6)


# --------------------------------------------------------------------------- unplaced

def test_spec_fitting_no_duct_is_reported_with_the_nearest(hand_tree):
    (les,) = place(hand_tree, LesionSpec("NO", clock=8, depth_mm=30, size_mm=3), breast_depth_mm=100)
    assert les.status == "unplaced"
    assert les.point_bf is None and les.system is None and les.candidates == []
    expected = brute_distance_to_ray(hand_tree, [0, 30, 0], clock_to_direction(8.0))
    assert les.nearest["distance_mm"] == pytest.approx(expected, abs=0.05)
    assert expected > 3
    assert "no duct fits" in les.reason
    # What the spec itself says is still reported.
    assert les.clock_half_hour == "8:00" and les.quadrant == "LOQ" and les.side == "lateral"
    assert les.depth_mm == 30 and les.depth_third == "anterior"
    d = les.as_dict()
    assert d["status"] == "unplaced" and d["nearest"]["system"] == les.nearest["system"]


def test_point_far_from_every_duct_is_unplaced(hand_tree):
    (les,) = place(hand_tree, LesionSpec("FAR", point_bf=(40.0, 60.0, 40.0)))
    assert les.status == "unplaced" and les.nearest["distance_mm"] > 20
    assert les.fn_mm == pytest.approx(math.hypot(40, 40))


# --------------------------------------------------------------------------- path_mm

def test_path_along_the_orifice_duct(hand_tree):
    (les,) = place(hand_tree, LesionSpec("PA", path_mm=10, orifice_clock=10))
    assert les.status == "placed" and les.system == 0
    t = 10 / SEG_A
    np.testing.assert_allclose(les.point_bf, P(10, 1.5, 0) + t * (P(10, 9.5, 20) - P(10, 1.5, 0)), atol=1e-6)
    assert les.path_mm == pytest.approx(10)
    (les2,) = place(hand_tree, LesionSpec("PS", path_mm=10, system=0))
    np.testing.assert_allclose(les2.point_bf, les.point_bf)


def test_path_past_a_near_equal_fork_is_ambiguous(hand_tree):
    # F forks at path hypot(2.5, 8) = 8.38 mm into children of radius 0.5 and 0.5 (equal).
    (les,) = place(hand_tree, LesionSpec("PF", path_mm=15, orifice_clock=6))
    assert les.status == "ambiguous" and les.ambiguity == "branch"
    assert len(les.candidates) == 2 and all(c.path_mm == pytest.approx(15) for c in les.candidates)
    (before,) = place(hand_tree, LesionSpec("PF", path_mm=5, orifice_clock=6))
    assert before.status == "placed"


def test_path_with_no_orifice_at_that_clock_is_unplaced(hand_tree):
    (les,) = place(hand_tree, LesionSpec("PO", path_mm=5, orifice_clock=8.5))
    assert les.status == "unplaced" and les.nearest["system"] == 5  # G at 7:30, 1 h away (A at 10:00 is 1.5 h)


# --------------------------------------------------------------------------- nearest other system

def test_distance_to_the_nearest_other_system(hand_tree):
    (les,) = place(hand_tree, LesionSpec("N", clock=12, depth_mm=40, size_mm=2))
    assert les.status == "placed" and les.system == 2
    others = [s for s in range(6) if s != 2]
    p = np.asarray(les.point_bf)
    best = math.inf
    for v in hand_tree.nodes:
        u = hand_tree.parent(v)
        if u is None or hand_tree.nodes[v]["system"] not in others:
            continue
        a, b = hand_tree.nodes[u]["pos"], hand_tree.nodes[v]["pos"]
        ts = np.linspace(0, 1, 20001)
        best = min(best, float(np.min(np.linalg.norm(a + ts[:, None] * (b - a) - p, axis=1))))
    assert les.nearest_other_system_mm == pytest.approx(best, abs=1e-3)


# --------------------------------------------------------------------------- geometry kernels

def test_segment_segment_distance_against_brute_force():
    rng = np.random.default_rng(0)
    p1, q1, p2, q2 = (rng.normal(size=(200, 3)) * 10 for _ in range(4))
    q2[:20] = p2[:20]            # degenerate second segments
    q1[20:40] = p1[20:40] + 1e-14  # nearly degenerate first segments
    q2[40:60] = p2[40:60] + (q1[40:60] - p1[40:60]) * 2  # parallel pairs
    d, s, t = segment_segment_distance(p1, q1, p2, q2)
    ts = np.linspace(0, 1, 801)
    for i in range(0, 200, 7):
        a = p1[i] + ts[:, None] * (q1[i] - p1[i])
        b = p2[i] + ts[:, None] * (q2[i] - p2[i])
        brute = np.min(np.linalg.norm(a[:, None] - b[None], axis=-1))
        assert d[i] <= brute + 1e-9 and d[i] == pytest.approx(brute, abs=0.05)
        np.testing.assert_allclose(np.linalg.norm((p1[i] + s[i] * (q1[i] - p1[i])) - (p2[i] + t[i] * (q2[i] - p2[i]))),
                                   d[i], atol=1e-9)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("spec,field", [
    (LesionSpec("B1", clock=13, depth_mm=10), "clock"),
    (LesionSpec("B2", clock=0.0, depth_mm=10), "clock"),
    (LesionSpec("B3", clock=6, depth_mm=-1), "depth_mm"),
    (LesionSpec("B4", clock=6, fn_mm=-3), "fn_mm"),
    (LesionSpec("B5", path_mm=80, orifice_clock=10), "path_mm"),       # A reaches 43.1 mm
    (LesionSpec("B6", path_mm=5, system=9), "system"),
    (LesionSpec("B7", point_lps=(1.0, 2.0, 3.0)), "point_lps"),         # no nipple_lps given
    (LesionSpec("B8", clock=6, depth_mm=10, laterality="L"), "laterality"),
    (LesionSpec("B9", clock=6), "clock"),                               # no depth or fn
    (LesionSpec("B10", clock=6, depth_mm=10, size_mm=0), "size_mm"),
])
def test_bad_specs_name_the_lesion_and_the_field(hand_tree, spec, field):
    spec.key = "lesion[0]"
    with pytest.raises(InputError) as exc:
        place(hand_tree, spec)
    msg = str(exc.value)
    assert f"lesion[0].{field}" in msg and spec.label in msg and "\n" not in msg


def test_duplicate_labels_are_refused(hand_tree):
    a = LesionSpec("same", clock=10, depth_mm=20, key="lesion[0]")
    b = LesionSpec("same", clock=3, depth_mm=20, key="lesion[1]")
    with pytest.raises(InputError, match=r"lesion\[1\]\.label.*'same'.*twice"):
        place(hand_tree, a, b)


def test_a_finding_stated_on_the_same_breast_is_accepted(hand_tree):
    (les,) = place(hand_tree, LesionSpec("OK", clock=10, depth_mm=20, laterality="right", origin="navlog"))
    assert les.status == "placed" and les.uncertainty_mm == 3.0  # navlog default


def test_as_dict_is_json_ready(hand_tree):
    import json

    out = place(hand_tree, LesionSpec("J1", clock=12, depth_mm=20), LesionSpec("J2", clock=10, depth_mm=20),
                breast_depth_mm=90, nipple_lps=(1, 2, 3))
    text = json.dumps([o.as_dict() for o in out])
    back = json.loads(text)
    assert back[0]["status"] == "ambiguous" and len(back[0]["candidates"]) == 2
    assert back[1]["point_lps"] == pytest.approx(list(np.asarray(out[1].point_bf) + [1, 2, 3]))


def test_point_between_two_close_ducts_is_ambiguous():
    from ductree.tree import DuctTree

    # Two parallel ducts 3 mm apart (x = +1.5 and x = -1.5), radius 0.5; a point halfway is 1.5 mm
    # from each. Tolerance for an exact point: 0.5 (radius) + 0.5 (slack) = 1 mm: neither fits.
    tree = DuctTree.from_arrays([[1.5, 0, 0], [1.5, 30, 0], [-1.5, 0, 0], [-1.5, 30, 0]], [0.5] * 4,
                                [-1, 0, -1, 2], laterality="R")
    (les,) = place(tree, LesionSpec("mid", point_bf=(0.0, 15.0, 0.0), size_mm=2))
    assert les.status == "unplaced" and les.nearest["distance_mm"] == pytest.approx(1.5)
    # With 1 mm of uncertainty (tolerance 2 mm) both fit equally: ambiguous, both listed.
    (les,) = place(tree, LesionSpec("mid", point_bf=(0.0, 15.0, 0.0), size_mm=2), uncertainty_mm=1.0)
    assert les.status == "ambiguous" and les.ambiguity == "system"
    assert sorted(c.distance_mm for c in les.candidates) == pytest.approx([1.5, 1.5])
    # 0.7 mm toward one duct: 0.8 mm from it, 2.2 mm from the other: only the first fits.
    (one,) = place(tree, LesionSpec("near", point_bf=(0.7, 15.0, 0.0)), uncertainty_mm=1.0)
    assert one.status == "placed" and one.system == 0 and one.distance_mm == pytest.approx(0.8)


# --------------------------------------------------------------------------- a duct along the stated ray

def _along_ray_tree(stretch_mm: float):
    """One system: P(9, 1.5, 0) -> P(9, 5, 20), then straight along the 9:00 ray at depth 20 for
    ``stretch_mm`` (radius 0.5). Every point of that last segment lies exactly on the 9:00 ray at
    depth 20, so a clock 9 + depth 20 spec fits all of it equally."""
    from ductree.tree import DuctTree

    pos = [P(9, 1.5, 0), P(9, 5, 20), P(9, 5 + stretch_mm, 20)]
    return DuctTree.from_arrays(pos, [0.6, 0.5, 0.5], [-1, 0, 1], [0, 0, 0], laterality="L",
                                orifice_clock={0: 9.0})


def test_a_duct_running_along_the_ray_longer_than_the_separation_is_ambiguous_along_it():
    # The fitting stretch is 30 mm long: the lesion may be anywhere on it, so one point cannot be
    # placed with confidence (a 10 mm branch separation); both far ends are listed.
    (les,) = place(_along_ray_tree(30.0), LesionSpec("S", clock=9, depth_mm=20), lat="L")
    assert les.status == "ambiguous" and les.ambiguity == "branch"
    fns = [math.hypot(c.point_bf[0], c.point_bf[2]) for c in les.candidates]
    assert min(fns) < 5 + 10 and max(fns) > 35 - 10     # the candidates reach both ends of the stretch
    assert all(c.system == 0 for c in les.candidates)
    assert any("same duct" in c.note for c in les.candidates)


def test_a_short_stretch_along_the_ray_is_placed():
    # 8 mm of duct on the ray (plus the approach, within the 0.5 mm depth rounding + radius + slack):
    # every fitting point lies within 10 mm of the chosen one along the duct.
    (les,) = place(_along_ray_tree(8.0), LesionSpec("S", clock=9, depth_mm=20), lat="L")
    assert les.status == "placed" and les.system == 0
    assert 5 - 1e-6 <= math.hypot(les.point_bf[0], les.point_bf[2]) <= 13 + 1e-6


# --------------------------------------------------------------------------- the discharging duct named

@pytest.mark.parametrize("orifice,system,fn", [(1.0, 3, 25.0), (12.0, 2, 8.0)])
def test_orifice_clock_beside_clock_and_depth_picks_that_system(hand_tree, orifice, system, fn):
    # The 12:00 ray at depth 20 crosses D (orifice 12:00, fn 8) and E (orifice 1:00, fn 25): ambiguous
    # alone (see above); naming the discharging orifice leaves one.
    (les,) = place(hand_tree, LesionSpec("O", clock=12, depth_mm=20, orifice_clock=orifice))
    assert les.status == "placed" and les.system == system
    np.testing.assert_allclose(les.point_bf, P(12, fn, 20), atol=1e-3)
    assert les.tolerance["orifice_clock_h"] == pytest.approx(0.5)


def test_orifice_clock_matching_no_orifice_is_reported_unplaced(hand_tree):
    # Orifices are at 10, 3, 12, 1, 6 and 7:30; 4:30 is 1.5 h from the nearest (3:00 and 6:00).
    (les,) = place(hand_tree, LesionSpec("O", clock=12, depth_mm=20, orifice_clock=4.5))
    assert les.status == "unplaced" and les.candidates == []
    assert "no orifice" in les.reason and les.nearest["clock_difference_h"] == pytest.approx(1.5)


def test_system_beside_clock_and_depth_keeps_branch_ambiguity(hand_tree):
    # Naming system 4 (F) does not choose between its two branches that both cross the 6:00 ray.
    (les,) = place(hand_tree, LesionSpec("F", clock=6, depth_mm=20, system=4))
    assert les.status == "ambiguous" and les.ambiguity == "branch"
    assert {c.system for c in les.candidates} == {4}
    # A ray that only another system fits: nothing fits inside the named one.
    (les,) = place(hand_tree, LesionSpec("F", clock=12, depth_mm=20, system=4))
    assert les.status == "unplaced"


# --------------------------------------------------------------------------- orifice clock not known

def _ductogram_like_tree(extra_known_system: bool = False):
    """One duct from the nipple toward 1:30 (x > 0, z > 0 on a right breast), its root AT the nipple
    with no orifice clock, as a ductogram gives; optionally a second system whose orifice is at 2:00."""
    from ductree.tree import DuctTree

    d = clock_to_direction(1.5)
    pos = [[0.0, 0.0, 0.0]] + [list(d * 2.0 * k + np.array([0.0, 10.0 * k, 0.0])) for k in (1, 2, 3)]
    par, sysid = [-1, 0, 1, 2], [0, 0, 0, 0]
    if extra_known_system:
        e = clock_to_direction(2.0)
        root = e * 1.5
        pos += [list(root)] + [list(root + e * 8.0 * k + np.array([0.0, 10.0 * k, 0.0])) for k in (1, 2, 3)]
        par += [-1, 4, 5, 6]
        sysid += [1, 1, 1, 1]
    t = DuctTree.from_arrays(pos, [0.8] * len(pos), par, sysid, laterality="R")
    for r in t.roots():
        t.nodes[r].pop("orifice_clock", None)
        if t.nodes[r]["system"] == 1:
            t.nodes[r]["orifice_clock"] = 2.0
    t.touch()
    return t


def test_a_named_pore_does_not_rule_out_an_orifice_of_unknown_clock():
    # The surgeon names the discharging pore (2:00) on a ductogram case: the only duct's orifice clock
    # is not known, so the pore cannot rule it out; the lesion at 1:30, 20 mm deep is placed on it.
    tree = _ductogram_like_tree()
    (les,) = place(tree, LesionSpec("L1", clock=1.5, depth_mm=20, orifice_clock=2.0))
    assert les.status == "placed" and les.system == 0


def test_an_orifice_of_unknown_clock_stays_a_candidate_beside_a_matching_one():
    tree = _ductogram_like_tree(extra_known_system=True)
    # 8:00 matches no known orifice: only the system of unknown clock is left, and the 1:30 lesion is on it.
    (les,) = place(tree, LesionSpec("L1", clock=1.5, depth_mm=20, orifice_clock=8.0))
    assert les.status == "placed" and les.system == 0


def test_the_locate_table_says_the_orifice_clock_is_unknown():
    from rich.console import Console

    from ductree.lesions import locate_table

    (les,) = place(_ductogram_like_tree(), LesionSpec("L1", clock=1.5, depth_mm=20))
    con = Console(width=200, record=True)
    con.print(locate_table([les]))
    text = con.export_text()
    assert "0 (unknown)" in text and "(-)" not in text
