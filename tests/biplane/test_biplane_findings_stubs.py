"""A branch occluded at its origin leaves a short stub of contrast as wide as a duct: reported as a
cut-off. Hand-drawn views (capsules projected by hand), and seeded phantoms whose inserted occlusion
shows only as such a stub."""

from __future__ import annotations

import warnings

import pytest

from ductree.reconstruct.biplane_findings import view_candidates
from ductree.reconstruct.biplane_graph import view_graph

from biplane_helpers import draw, rebuilt_cutoff

# the main duct along depth in the CC plane (z = 0), radius 0.5 mm, from the nipple to 40 mm
MAIN = [((0.0, 0.0, 0.0), (0.0, 40.0, 0.0), 0.5, 0.5)]


def _view_with_bump(length_mm: float, radius_mm: float):
    """A CC view of the main duct with a side bump leaving it at depth 20 toward +x: ``length_mm`` from
    the duct's axis to the bump's last centre, ``radius_mm`` wide."""
    bump = [((0.0, 20.0, 0.0), (length_mm, 20.0, 0.0), radius_mm, radius_mm)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vg = view_graph(draw("cc", MAIN + bump), nipple_px=None)
    return vg.tree()


def _stubs(t):
    return [c for c in view_candidates(t) if c["evidence"] == "stub"]


def test_a_wide_stub_at_a_duct_is_a_cut_off_at_the_branch_origin():
    # 0.45 mm radius (0.9 of the duct's), reaching 0.8 mm from the axis: 0.75 mm of contrast outside the
    # duct's wall, too short for a branch of its own
    t = _view_with_bump(0.8, 0.45)
    (stub,) = _stubs(t)
    assert stub["kind"] == "cutoff"
    u, d = stub["ud"]
    assert d == pytest.approx(20.0, abs=0.3)
    assert 0.0 < u <= 0.8 + 0.1                     # at the stub, on its side of the duct
    assert stub["size_mm"] == pytest.approx(0.9, abs=0.2)


def test_a_thin_bump_of_the_wall_is_not_a_stub():
    # a 0.15 mm radius bump (0.3 of the duct's) of the same reach: boundary noise, not a branch
    assert _stubs(_view_with_bump(0.8, 0.15)) == []


def test_a_long_branch_is_a_duct_not_a_stub():
    t = _view_with_bump(6.0, 0.45)
    assert _stubs(t) == []
    assert (t.kind == 3).sum() == 2                 # the main duct's end and the branch's


@pytest.mark.parametrize("seed, branches, lat", [(1017, 36, "L"), (7008, 21, "R")])
def test_occlusion_seen_only_as_a_stub_is_found(seed, branches, lat):
    # Seeded phantoms whose inserted occlusion cuts a branch just past its fork: one view shows a stub
    # off the parent duct, the other hides it inside the parent. Found within 2 mm; before the stub rule
    # no finding lay within 10 mm (1017) or at all (7008).
    rec, found = rebuilt_cutoff(seed, branches, lat)
    hits = [f for f, dist in found if dist <= 2.0]
    assert hits and any("stub" in e for f in hits for e in f["evidence"]), rec.graph["candidate_findings"]


def _short_branch(reach_mm: float, r_start: float, r_end: float):
    """The main duct (radius 0.5 mm) with a branch of its own width profile leaving it at depth 20 toward
    +x, ending ``reach_mm`` from the duct's axis."""
    return [((0.0, 20.0, 0.0), (reach_mm, 20.0, 0.0), r_start, r_end)]


def _cutoffs(segments):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = view_graph(draw("cc", MAIN + segments), nipple_px=None).tree()
    # the main duct keeps its width to its own end at 40 mm (a wide end there): only the branch's side counts
    return [c for c in view_candidates(t) if c["kind"] == "cutoff" and c["ud"][1] < 30.0]


def test_a_branch_cut_off_just_past_its_fork_narrower_than_its_duct_is_a_cut_off():
    # a daughter branch is narrower than its duct (0.35 of 0.5 mm) and stops with a round end 1.5 mm out:
    # as long as a stub, as wide as a branch
    (c,) = _cutoffs(_short_branch(1.5, 0.35, 0.35))
    u, d = c["ud"]
    assert d == pytest.approx(20.0, abs=0.5)
    assert 0.5 < u <= 1.5 + 0.1


def test_a_short_branch_that_tapers_to_its_end_is_not_a_cut_off():
    assert _cutoffs(_short_branch(1.5, 0.35, 0.08)) == []
