"""The viewer model: centreline readings worked out by hand, tables, toggles, the scene's context actors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ductree.tree import DuctTree


def hand_tree(laterality: str = "R") -> DuctTree:
    """System 0 (orifice 3:00): (1.5,0,0) -> (10,20,0) -> (20,40,0) then a fork to (30,60,0) and (20,60,10);
    system 1 (orifice 12:00): (0,0,1.5) -> (0,20,12) -> (0,40,24). BF mm."""
    pos = [[1.5, 0, 0], [10, 20, 0], [20, 40, 0], [30, 60, 0], [20, 60, 10],
           [0, 0, 1.5], [0, 20, 12], [0, 40, 24]]
    par = [-1, 0, 1, 2, 2, -1, 5, 6]
    return DuctTree.from_arrays(pos, [1.0] * 8, par, [0, 0, 0, 0, 0, 1, 1, 1], laterality=laterality,
                                orifice_clock={0: 3.0, 1: 12.0})


def bare_model(tree: DuctTree, breast_depth_mm: float | None = 90.0):
    from ductree.viewer.model import ViewerModel, centreline_samples

    return ViewerModel(case_id="hand", laterality=tree.laterality, scene=None, tree=tree, located=[], plans=[],
                       breast_depth_mm=breast_depth_mm, centreline=centreline_samples(tree, 0.5))


def test_centreline_path_is_interpolated_along_each_segment():
    from ductree.viewer.model import centreline_samples

    tree = hand_tree()
    c = centreline_samples(tree, 0.5)
    seg1 = math.dist((1.5, 0, 0), (10, 20, 0))
    seg2 = math.dist((10, 20, 0), (20, 40, 0))
    # The sample nearest the middle of the second segment of system 0.
    mid = np.array([15.0, 30.0, 0.0])
    i = int(np.argmin(np.linalg.norm(c.points - mid, axis=1)))
    assert np.allclose(c.points[i], mid, atol=0.3)
    assert c.path_mm[i] == pytest.approx(seg1 + seg2 / 2, abs=0.3)
    assert c.system[i] == 0 and c.generation[i] == 0
    # Every node is a sample with its own path length.
    tip = int(np.argmin(np.linalg.norm(c.points - [20, 60, 10], axis=1)))
    assert c.path_mm[tip] == pytest.approx(seg1 + seg2 + math.dist((20, 40, 0), (20, 60, 10)), abs=1e-6)
    assert c.generation[tip] == 1  # past the fork at (20, 40, 0)
    # Consecutive samples are at most 0.5 mm apart along a segment.
    assert np.all(np.diff(np.sort(c.path_mm[c.system == 1])) <= 0.5 + 1e-9)


def test_reading_snaps_to_the_duct_and_describes_it_by_hand():
    tree = hand_tree("R")
    m = bare_model(tree)
    # 2 mm to the patient's left of system 1's middle node (0, 20, 12): snaps to the node.
    r = m.read_point([2.0, 20.0, 12.0])
    assert r is not None
    assert np.allclose(r.point_bf, (0.0, 20.0, 12.0), atol=0.3)
    assert r.system == 1 and r.orifice_clock == "12:00" and r.generation == 0
    assert r.clock == "12:00"                       # straight up from the nipple
    assert r.depth_mm == pytest.approx(20.0, abs=0.3)
    assert r.fn_mm == pytest.approx(12.0, abs=0.3)
    assert r.path_mm == pytest.approx(math.dist((0, 0, 1.5), (0, 20, 12)), abs=0.3)
    assert r.depth_third == "anterior"              # 20 mm of a 90 mm breast
    assert r.quadrant == "UOQ/UIQ"                  # right breast: UOQ 9-12, UIQ 12-3, joined clockwise
    assert "12:00" in r.text and "path 22.6 mm along duct system 1 (orifice 12:00)" in r.text
    # System 0 heads toward the patient's left: 3 o'clock, which is medial on a right breast.
    r0 = m.read_point([20.0, 40.0, 0.5])
    assert r0.system == 0 and r0.clock == "3:00" and r0.generation == 0
    assert r0.fn_mm == pytest.approx(20.0, abs=0.3)
    # Far from every duct: nothing.
    assert m.read_point([-40.0, 30.0, -40.0]) is None
    assert m.read_point([float("nan"), 0, 0]) is None


def test_reading_without_breast_depth_gives_no_third():
    m = bare_model(hand_tree("L"), breast_depth_mm=None)
    r = m.read_point([0.0, 40.0, 24.0])
    assert r.depth_third is None and "third" not in r.text
    assert r.quadrant == "UIQ/UOQ"                  # left breast: UIQ 9-12, UOQ 12-3, joined clockwise


def test_tables_and_toggles_on_a_phantom_case(models):
    m = models["R"]
    rows = m.lesion_rows()
    assert [r["label"] for r in rows] == [les.label for les in m.located] == ["L1", "L2"]
    for r, les in zip(rows, m.located):
        assert r["clock"] == les.clock_half_hour
        assert r["depth_mm"] == f"{les.depth_mm:.0f}"
        assert r["system"] == str(les.system)
    plans = m.plan_rows()
    assert len(plans) == len(m.plans) >= 1
    assert all(p["title"].startswith("System ") for p in plans)
    # Toggles: the systems toggle hides only trees of systems without a lesion.
    on = {k: True for k in ("systems", "envelope", "labels", "context")}
    off = dict(on, systems=False)
    trees = [a for a in m.actors() if m.group_of(a) == "tree"]
    hidden = [a for a in trees if m.visible(a, "front", on) and not m.visible(a, "front", off)]
    assert hidden and all(m.system_of(a) not in m.lesion_systems for a in hidden)
    assert all(m.visible(a, "front", off) for a in trees if m.system_of(a) in m.lesion_systems)
    env = m.scene.actor("envelope")
    assert m.visible(env, "cc", on) and not m.visible(env, "cc", dict(on, envelope=False))
    outline = m.scene.actor("breast-outline")
    assert m.visible(outline, "oblique", on) and not m.visible(outline, "oblique", dict(on, context=False))
    # The clock face belongs to the front view only.
    clock = m.scene.actor("clock-face")
    assert m.visible(clock, "front", on) and not m.visible(clock, "cc", on)
    # The flat duct view's actors never enter the 3D viewer.
    assert not any(a.name.startswith("duct0") for a in m.actors())


def test_scene_context_is_optional_and_sized_from_the_case():
    from ductree.scene import SceneOptions, build_scene

    tree = hand_tree("R")
    plain = build_scene(tree, options=SceneOptions(mesher="tubes"), breast_depth_mm=80.0)
    assert not [a for a in plain.actors if a.role == "context"]
    sc = build_scene(tree, options=SceneOptions(mesher="tubes", breast_outline=True), breast_depth_mm=80.0)
    outline = sc.actor("breast-outline")
    nipple = sc.actor("nipple-areola")
    assert outline.role == nipple.role == "context"
    assert outline.opacity < 0.5 and "duct" not in outline.views and "front" in outline.views
    x0, x1, y0, y1, z0, z1 = outline.mesh.bounds
    # The template dome: 150 x 130 mm wide, from the areola plane (7 mm) to the chest wall (80 mm here).
    assert (x0, x1) == pytest.approx((-75.0, 75.0), abs=0.5)
    assert (z0, z1) == pytest.approx((-65.0, 65.0), abs=0.5)
    assert (y0, y1) == pytest.approx((7.0, 80.0), abs=0.5)
    nb = nipple.mesh.bounds
    assert nb[2] == pytest.approx(0.0, abs=1e-6)     # the nipple tip is the BF origin
    assert nb[1] == pytest.approx(18.0, abs=0.5)     # areola radius


def test_viewer_lists_the_reports_warnings_for_an_uncertain_ductogram(tmp_path):
    # A simulated ductogram case (seed 1012: the readings disagree over part of the tree): the viewer's
    # warnings hold everything the report warns about, including how much of the rebuild is uncertain.
    import subprocess
    import sys

    from ductree.case import load_case
    from ductree.report import collect_warnings
    from ductree.viewer.model import load_model

    out = tmp_path / "d"
    r = subprocess.run([sys.executable, "-m", "ductree", "phantom", "--out", str(out), "--seed", "1012",
                        "--systems", "3", "--branches", "38", "--lesions", "1", "--breast-depth", "80",
                        "--simulate", "biplane"], capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 0, r.stderr
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # the rebuild's own warnings are what the viewer lists
        m = load_model(out / "case_ductogram.toml")
    case = load_case(out / "case_ductogram.toml")
    report = collect_warnings(case, m.tree, m.located, m.plans)
    assert any(w.startswith("Ductogram rebuild: ") and "drawn with a halo" in w for w in report)
    assert all(w in m.warnings for w in report)
    assert all(w in m.warnings for w in m.scene.warnings)
