"""tree_to_mesh: closed, manifold, outward bodies that stay within the tolerance of the ideal surface."""

import math

import numpy as np
import pytest

from ductree.errors import InputError
from ductree.io.swc import parse_swc
from ductree.mesh import check_watertight, fidelity, round_cones_of_tree, tree_to_mesh
from ductree.mesh.tubes import QUALITIES
from ductree.tree import DuctTree


def assert_printable(model, bodies=None):
    for b in model:
        c = check_watertight(b.mesh, expect_bodies=1)
        assert c.ok, (b.name, c.problems)
        # and trimesh, an independent implementation, agrees
        assert b.mesh.is_watertight and b.mesh.is_winding_consistent and b.mesh.volume > 0
    if bodies is not None:
        assert len(model) == bodies


def volume_within(mesh, ideal_volume, ideal_area, tol_mm):
    """The surface is within tol of the ideal one, so the volumes differ by at most area * tol."""
    assert abs(mesh.volume - ideal_volume) <= ideal_area * tol_mm, (mesh.volume, ideal_volume)


@pytest.mark.parametrize("quality", ["print", "draft"])
def test_straight_duct_is_a_capsule(trees, quality):
    m = tree_to_mesh(trees.straight(), quality=quality)
    assert_printable(m, 1)
    assert m[0].meta["genus"] == 0
    tol = QUALITIES[quality].at(1.0)
    volume_within(m[0].mesh, trees.capsule_volume(1.0, 20.0), 2 * math.pi * 20 + 4 * math.pi, float(tol))
    lo, hi = m[0].mesh.bounds
    assert lo[1] == pytest.approx(-1.0, abs=float(tol)) and hi[1] == pytest.approx(21.0, abs=float(tol))


def test_draft_has_fewer_triangles_than_print(trees):
    t = trees.y_thin()
    assert tree_to_mesh(t, quality="draft").triangles < 0.7 * tree_to_mesh(t, quality="print").triangles


@pytest.mark.parametrize("name", ["y_thin", "trifurcation", "zero_length", "straight"])
def test_hand_trees_within_tolerance(trees, name):
    t = getattr(trees, name)()
    m = tree_to_mesh(t)
    assert_printable(m, 1)
    assert m[0].meta["genus"] == 0
    f = fidelity(m[0].mesh, round_cones_of_tree(t), tolerance="print", n_random=20_000)
    assert f.ok, f


def test_zero_length_segments_change_nothing(trees):
    a = tree_to_mesh(trees.zero_length())[0].mesh
    volume_within(a, trees.capsule_volume(1.0, 20.0), 2 * math.pi * 20 + 4 * math.pi, 0.05)


def test_flat_ends_cut_at_the_nodes(trees):
    m = tree_to_mesh(trees.straight(), end="flat")
    assert_printable(m, 1)
    lo, hi = m[0].mesh.bounds
    assert lo[1] == pytest.approx(0.0, abs=1e-9) and hi[1] == pytest.approx(20.0, abs=1e-9)
    volume_within(m[0].mesh, math.pi * 20, 2 * math.pi * 20 + 2 * math.pi, 0.05)


def test_hollow_shell_is_open_at_both_ends(trees):
    R, a, L = 1.5, 1.0, 20.0
    m = tree_to_mesh(trees.straight(a), hollow_mm=R - a)
    assert_printable(m, 1)
    assert m[0].meta["genus"] == 1  # a pipe: its surface is a torus
    # capsule of radius R minus everything within a of the axis (hand-worked):
    ideal = math.pi * (R * R - a * a) * L + 4 * math.pi / 3 * (R * R - a * a) ** 1.5
    area = 2 * math.pi * (R + a) * L + 4 * math.pi * R * R
    volume_within(m[0].mesh, ideal, area, 0.06)
    # a forked tree with three free ends has genus 2
    y = tree_to_mesh(DuctTree.from_arrays([[0, 0, 0], [0, 8, 0], [3, 16, 0], [-3, 16, 0]], [0.8, 0.8, 0.6, 0.6],
                                          [-1, 0, 1, 1]), hollow_mm=0.4)
    assert_printable(y, 1)
    assert y[0].meta["genus"] == 2


def test_min_radius_thickens_thin_ducts(trees):
    m = tree_to_mesh(trees.straight(0.05), min_radius_mm=0.3)
    volume_within(m[0].mesh, trees.capsule_volume(0.3, 20.0), 2 * math.pi * 0.3 * 20 + 4 * math.pi * 0.09, 0.02)


def test_two_close_systems_stay_separate_bodies(trees):
    m = tree_to_mesh(trees.two_close())
    assert_printable(m, 2)
    assert [b.meta["system"] for b in m] == [0, 1] and not m.warnings
    gap = m[1].mesh.vertices[:, 0].min() - m[0].mesh.vertices[:, 0].max()
    assert gap == pytest.approx(0.5, abs=0.05)


def test_crossing_systems_are_flagged(trees):
    m = tree_to_mesh(trees.two_crossing())
    assert_printable(m, 2)
    assert len(m.warnings) == 1 and "systems 0 and 1 overlap" in m.warnings[0]
    assert "(0.0, 5.0, 0.0)" in m.warnings[0]


def test_systems_subset_and_base_plate(trees):
    t = trees.two_close()
    only = tree_to_mesh(t, systems=[1])
    assert [b.name for b in only] == ["system 1"]
    joined = tree_to_mesh(t, base_plate=True)
    assert_printable(joined, 1)
    assert joined[0].kind == "print" and joined[0].meta["genus"] == 0
    # the plate is on the nipple face: in front of the orifices (y < 0)
    assert joined[0].mesh.bounds[0][1] < -0.5
    with pytest.raises(InputError, match="no duct system 7"):
        tree_to_mesh(t, systems=[7])


def test_lesions_and_context_are_separate_coloured_bodies(trees):
    t = trees.straight()
    m = tree_to_mesh(t, lesions=[("L1", (0, 10, 0), 4.0), {"label": "L2", "point_bf": (0, 15, 0),
                                                             "size_mm": (6, 2, 2), "axis": (0, 1, 0)}],
                     context=True)
    assert_printable(m, 4)
    assert [b.kind for b in m] == ["system", "lesion", "lesion", "context"]
    l1, l2 = m[1], m[2]
    assert l1.color[:3] == (220, 30, 40)
    assert l1.mesh.volume == pytest.approx(4 / 3 * math.pi * 8, rel=0.02)
    assert l2.mesh.volume == pytest.approx(4 / 3 * math.pi * 3 * 1 * 1, rel=0.02)
    ext = l2.mesh.bounds[1] - l2.mesh.bounds[0]
    assert ext[1] == pytest.approx(6.0, rel=0.02) and ext[0] == pytest.approx(2.0, rel=0.05)
    # the context body sits at the nipple: tip face at y = 0
    assert m[3].mesh.bounds[0][1] == pytest.approx(0.0, abs=1e-9)


def test_triangle_budget(phantom_small):
    full = tree_to_mesh(phantom_small, quality="print")
    budget = full.triangles // 3
    m = tree_to_mesh(phantom_small, quality="print", max_triangles=budget)
    assert m.triangles <= budget
    assert_printable(m)
    assert not m.warnings


def test_phantom_within_tolerance_print_and_draft(phantom_small):
    for quality in ("print", "draft"):
        m = tree_to_mesh(phantom_small, quality=quality)
        assert_printable(m, 2)
        for b in m:
            cones = round_cones_of_tree(phantom_small, systems=[b.meta["system"]])
            f = fidelity(b.mesh, cones, tolerance=quality, n_random=20_000, ideal_points=60_000)
            assert f.ok, (quality, b.name, f)


SWC_FROM_ANOTHER_TOOL = """\
# exported by some tracing tool; soma-like root, duplicated points, tiny radii
1 1 0.0 0.0 0.0 1.5 -1
2 3 0.0 0.0 0.0 1.5 1
3 3 0.0 2.0 0.0 0.6 2
4 3 0.0 2.0 0.0 0.6 3
5 3 0.5 6.0 0.0 0.5 4
6 3 2.0 9.0 0.0 0.02 5
7 3 -1.5 8.5 0.5 0.3 5
8 3 -1.5 8.5 0.5 0.3 7
9 3 -3.0 12.0 1.0 0.25 8
"""


def test_swc_from_another_tool():
    t = parse_swc(SWC_FROM_ANOTHER_TOOL, source="other.swc")
    m = tree_to_mesh(t)
    assert_printable(m, 1)
    assert m[0].meta["genus"] == 0
    f = fidelity(m[0].mesh, round_cones_of_tree(t), n_random=20_000)
    assert f.ok, f


@pytest.mark.parametrize("kwargs, key", [
    ({"quality": "ultra"}, "quality"), ({"tolerance_mm": 0}, "tolerance_mm"), ({"tolerance_mm": -1}, "tolerance_mm"),
    ({"max_triangles": 5}, "max_triangles"), ({"min_radius_mm": float("nan")}, "min_radius_mm"),
    ({"hollow_mm": 0}, "hollow_mm"), ({"end": "square"}, "end"),
    ({"lesions": [("L1", (0, 0), 2)]}, "lesions"), ({"lesions": [("L1", (0, 0, 0), -2)]}, "lesions"),
])
def test_bad_options(trees, kwargs, key):
    with pytest.raises(InputError) as e:
        tree_to_mesh(trees.straight(), **kwargs)
    assert e.value.key == key


def test_bad_trees():
    with pytest.raises(InputError, match="empty"):
        tree_to_mesh(DuctTree())
    with pytest.raises(InputError, match="radius"):
        tree_to_mesh(DuctTree.from_arrays([[0, 0, 0], [0, 5, 0]], [1.0, 0.0], [-1, 0]))
    with pytest.raises(InputError, match="position"):
        tree_to_mesh(DuctTree.from_arrays([[0, 0, 0], [0, np.nan, 0]], [1.0, 1.0], [-1, 0]))


def test_anastomosis_is_meshed_as_a_loop():
    t = DuctTree.from_arrays([[0, 0, 0], [0, 8, 0], [3, 16, 0], [-3, 16, 0]], [0.8, 0.8, 0.5, 0.5],
                             [-1, 0, 1, 1], laterality="R")
    t.add_edge(2, 3, anastomosis=True)
    t.touch()
    m = tree_to_mesh(t)
    assert_printable(m, 1)
    assert m[0].meta["genus"] == 1 and not m.warnings  # one loop, expected
    f = fidelity(m[0].mesh, round_cones_of_tree(t), n_random=5_000, ideal_points=20_000)
    assert f.ok, f
    # the loop's segment is part of the surface: its midpoint is inside the mesh (winding number 1)
    assert winding_number(m[0].mesh, np.array([0.0, 16.0, 0.0])) == pytest.approx(1.0, abs=1e-6)


def winding_number(mesh, p):
    """Sum of the solid angles of the triangles seen from p, over 4 pi (Van Oosterom-Strackee)."""
    a, b, c = (np.asarray(mesh.vertices)[np.asarray(mesh.faces)[:, k]] - p for k in range(3))
    la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
    num = np.einsum("ij,ij->i", a, np.cross(b, c))
    den = la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", b, c) * la \
        + np.einsum("ij,ij->i", c, a) * lb
    return float(2 * np.arctan2(num, den).sum() / (4 * np.pi))
