"""Every phantom lesion, stated as its own clock (to the half hour) and depth (to the mm), goes back
onto its true duct, or is flagged ambiguous with the true duct listed; never confidently wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ductree.case import LesionSpec, load_case
from ductree.frame import nearest_half_hour
from ductree.lesions import BRANCH_SEPARATION_MM, _segments, place_lesions, tree_distance_mm
from ductree.phantom import generate_tree, insert_lesions, write_phantom_case
from ductree.plan import case_plan

SEEDS = [0, 1, 2, 3, 4]


def true_segment(tree, lesion):
    """Segment index and fraction of a phantom lesion (from its node and path_mm)."""
    geo = _segments(tree)
    s = int(np.flatnonzero(geo.child == tree.index[lesion.node])[0])
    t = (lesion.path_mm - geo.pm_a[s]) / geo.length[s]
    return geo, s, float(t)


def on_true_duct(tree, lesion, cand) -> bool:
    geo, s, t = true_segment(tree, lesion)
    return cand.system == lesion.system and tree_distance_mm(geo, cand.row, cand.t, s, t) <= BRANCH_SEPARATION_MM


@pytest.fixture(scope="module")
def phantoms():
    out = []
    for seed in SEEDS:
        lat = "R" if seed % 2 == 0 else "L"
        tree = generate_tree(seed=seed, systems=6, branches=40, laterality=lat)
        out.append((tree, insert_lesions(tree, 5, seed=seed)))
    return out


def test_clock_and_depth_back_onto_the_true_duct(phantoms):
    counts = {"placed": 0, "ambiguous": 0, "unplaced": 0}
    for tree, lesions in phantoms:
        specs = [LesionSpec(les.label, clock=nearest_half_hour(les.clock), depth_mm=float(round(les.depth_mm)),
                            size_mm=les.size_mm) for les in lesions]
        for les, got in zip(lesions, place_lesions(tree, specs, laterality=tree.laterality)):
            counts[got.status] += 1
            assert got.status != "unplaced", (les, got.reason)
            if got.status == "placed":
                # Never confidently wrong: a placement without ambiguity is on the true duct.
                assert on_true_duct(tree, les, got.candidates[0]), (les, got.reason)
                assert got.system == les.system
            else:
                assert any(on_true_duct(tree, les, c) for c in got.candidates), (les, got.reason)
    # Clock + depth cannot always tell branches apart, but a fair share is unambiguous.
    assert counts["placed"] >= 0.25 * sum(counts.values()), counts


def test_exact_points_snap_onto_the_true_segment(phantoms):
    for tree, lesions in phantoms:
        specs = [LesionSpec(les.label, point_bf=les.point, size_mm=les.size_mm) for les in lesions]
        for les, got in zip(lesions, place_lesions(tree, specs, laterality=tree.laterality)):
            assert got.status in ("placed", "ambiguous")
            assert got.distance_mm == pytest.approx(0.0, abs=1e-6)
            assert on_true_duct(tree, les, got.candidates[0])
            np.testing.assert_allclose(got.point_bf, les.point, atol=1e-6)
            assert got.path_mm == pytest.approx(les.path_mm, abs=1e-6)
            assert got.radius_mm == pytest.approx(les.radius_mm, abs=1e-6)
            assert got.generation == les.generation
            assert got.depth_mm == pytest.approx(les.depth_mm) and got.fn_mm == pytest.approx(les.fn_mm)


def test_path_along_the_true_system_lists_the_true_point(phantoms):
    for tree, lesions in phantoms:
        specs = [LesionSpec(les.label, path_mm=round(les.path_mm, 3), system=les.system) for les in lesions]
        for les, got in zip(lesions, place_lesions(tree, specs, laterality=tree.laterality)):
            assert got.status in ("placed", "ambiguous")
            assert got.system == les.system
            hits = [c for c in got.candidates if on_true_duct(tree, les, c)]
            assert hits, got.reason
            if got.status == "placed":
                assert on_true_duct(tree, les, got.candidates[0]), got.reason
            _, s, _ = true_segment(tree, les)
            for c in hits:
                if c.row == s:  # on the very segment: the very point
                    np.testing.assert_allclose(c.point_bf, les.point, atol=0.01)


def test_phantom_case_folder_locates_and_plans(tmp_path):
    case_path = write_phantom_case(tmp_path / "ph", seed=11, systems=5, branches=30, lesions=3)
    truth = json.loads((tmp_path / "ph" / "truth.json").read_text(encoding="utf-8"))
    case = load_case(case_path)
    located, plans = case_plan(case)
    assert len(located) == 3
    true_by_label = {t["label"]: t for t in truth["lesions"]}
    for les in located:
        t = true_by_label[les.label]
        assert les.status != "unplaced"
        assert any(c.system == t["system"] for c in les.candidates)
    planned = {lab for p in plans for lab in p.lesions}
    assert planned == {les.label for les in located}
    for p in plans:
        assert 0 < p.spared["length_removed_fraction"] < 1 and p.envelope.volume_ml > 0
