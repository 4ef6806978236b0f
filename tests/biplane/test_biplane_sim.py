"""The ductogram simulator: registry, files, geometry consistent with the reader, defects, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ductree.io import read_tree
from ductree.io.images2d import read_view
from ductree.phantom import generate_tree, insert_lesions
from ductree.phantom.ductogram_sim import DuctogramSettings, simulate_ductogram
from ductree.phantom.simulate import SIMULATORS, simulate


@pytest.fixture(scope="module")
def phantom():
    tree = generate_tree(seed=11, systems=2, branches=14, laterality="L", breast_depth_mm=70)
    return tree, insert_lesions(tree, 2, seed=11)


def test_registered_and_writes_the_files(phantom, tmp_path):
    tree, lesions = phantom
    assert SIMULATORS["biplane"] == "ductree.phantom.ductogram_sim:simulate_biplane"
    paths = simulate("biplane", tmp_path, tree, lesions, seed=3)
    names = sorted(p.name for p in paths)
    assert names == sorted(["cc_mask.png", "ml_mask.png", "cc.dcm", "ml.dcm", "ductogram_truth.json",
                            "ductogram_sim.json", "case_ductogram.toml"])
    sim = json.loads((tmp_path / "ductogram_sim.json").read_text(encoding="utf-8"))
    assert 1.5 <= sim["magnification"] <= 2.0 and 0.05 <= sim["detector_pixel_mm"] <= 0.07
    v_cc, v_lat = sim["views"]["cc"], sim["views"]["lateral"]
    # opposite compressions: depth scales 1 +- delta (delta <= 5%), offsets +- up to 3 mm
    assert abs(v_cc["depth_scale"] + v_lat["depth_scale"] - 2.0) < 1e-9 and abs(v_cc["depth_scale"] - 1) <= 0.05
    assert abs(v_cc["depth_offset_mm"] + v_lat["depth_offset_mm"]) < 1e-9 and abs(v_cc["depth_offset_mm"]) <= 3.0
    assert v_cc["orientation"] == "A\\R" and v_lat["orientation"] == "A\\F"        # left breast hanging
    # the DICOM files carry the geometry: spacing at the breast = detector pixel / magnification
    v = read_view(tmp_path / "cc.dcm", "cc")
    assert v.spacing_mm[0] == pytest.approx(sim["detector_pixel_mm"] / sim["magnification"], rel=1e-5)
    assert v.laterality == "L" and v.view_position == "CC" and v.orientation == ("A", "R")
    assert read_view(tmp_path / "ml.dcm", "lateral").view_position == "ML"
    truth = read_tree(tmp_path / "ductogram_truth.json")
    assert truth.systems() == [0] or len(truth.systems()) == 1
    assert truth.graph["opacified_system"] == sim["system"]


def test_truth_projects_onto_the_masks(phantom):
    tree, lesions = phantom
    sim = simulate_ductogram(tree, lesions, seed=5, settings=DuctogramSettings(occlusive_probability=0.0))
    pos, rad = sim.truth.positions, sim.truth.radii
    for sv, coord in ((sim.cc, 0), (sim.lateral, 2)):
        rc = sv.view.to_px(np.column_stack([pos[:, coord], sv.depth(pos[:, 1])]))
        rc = np.rint(rc).astype(int)
        near_defect = np.zeros(len(pos), bool)
        for d in sim.defects:          # a filling defect takes the contrast off its duct's axis, by design
            near_defect |= np.linalg.norm(pos - np.array(d["point_bf"]), axis=1) < 0.5 * d["length_mm"] + 1.0
        thick = (rad > 0.15) & ~near_defect
        on = sv.view.mask[rc[thick, 0], rc[thick, 1]]
        assert on.mean() > 0.99           # the centreline of every duct wider than 0.3 mm is contrast
        assert not sv.view.mask[rc[near_defect, 0], rc[near_defect, 1]].all()   # and the defects show
        # and the mask is no wider than the ducts: few foreground pixels far from every centreline
        from scipy.ndimage import distance_transform_edt

        lines = np.zeros(sv.view.mask.shape, bool)
        lines[rc[:, 0], rc[:, 1]] = True
        far = distance_transform_edt(~lines) * sv.view.pixel_mm > rad.max() + 1.0
        assert (sv.view.mask & far).sum() < 0.01 * sv.view.mask.sum()


def test_defects_and_occlusion(phantom):
    tree, lesions = phantom
    sim = simulate_ductogram(tree, lesions, seed=1, settings=DuctogramSettings(occlusive_probability=1.0))
    mine = [les for les in lesions if les.system == sim.system]
    assert len(sim.defects) == len(mine) >= 1
    for d in sim.defects:
        assert d["kind"] == "cutoff" and d["occlusive"]
        # the truth ends there: no duct beyond the cut on that path
        assert min(np.linalg.norm(sim.truth.positions - np.array(d["point_bf"]), axis=1)) < 0.05
    sim2 = simulate_ductogram(tree, lesions, seed=1, settings=DuctogramSettings(occlusive_probability=0.0))
    assert all(d["kind"] == "filling_defect" for d in sim2.defects)
    assert sim2.truth.number_of_nodes() > sim.truth.number_of_nodes()


def test_deterministic(phantom):
    tree, lesions = phantom
    a = simulate_ductogram(tree, lesions, seed=9)
    b = simulate_ductogram(tree, lesions, seed=9)
    assert np.array_equal(a.cc.view.mask, b.cc.view.mask) and np.array_equal(a.lateral.view.mask, b.lateral.view.mask)
    c = simulate_ductogram(tree, lesions, seed=10)
    assert c.magnification != a.magnification


def test_lateral_to_cc_depth_pairs_the_views_depths(phantom):
    tree, lesions = phantom
    sim = simulate_ductogram(tree, lesions, seed=3)
    scale, offset, knee = sim.lateral_to_cc_depth()
    y = np.linspace(0.0, 60.0, 121)                       # true depths behind the nipple (BF mm)
    d_lat, d_cc = sim.lateral.depth(y), sim.cc.depth(y)
    beyond = (d_lat >= knee) & (y >= max(sim.cc.ramp_mm, sim.lateral.ramp_mm))
    assert beyond.sum() > 50
    assert np.allclose(scale * d_lat[beyond] + offset, d_cc[beyond], atol=1e-9)
    # the compressions differ, so the map is not the identity
    assert abs(scale - 1.0) > 1e-3 or abs(offset) > 1e-3
