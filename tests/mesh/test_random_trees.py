"""Property: whatever the tree (sharp bends, thin children, zero-length and tiny segments,
multifurcations, tapers both ways), every system comes out closed, manifold, outward and within
the tolerance of its ideal surface."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ductree.mesh import check_watertight, fidelity, round_cones_of_tree, tree_to_mesh
from ductree.tree import DuctTree


@st.composite
def random_trees(draw):
    return tree_from_seed(draw(st.integers(0, 2**31 - 1)), draw(st.integers(2, 24)))


def tree_from_seed(seed: int, n: int) -> DuctTree:
    rng = np.random.default_rng(seed)
    pos = [np.zeros(3)]
    rad = [float(rng.uniform(0.3, 1.5))]
    par = [-1]
    for i in range(1, n):
        p = int(rng.integers(0, i)) if rng.random() < 0.35 else i - 1   # branch off anywhere, or continue
        kind = rng.random()
        if kind < 0.1:
            step = np.zeros(3)                                         # zero-length segment
        elif kind < 0.2:
            step = rng.normal(size=3) * 0.05                           # tiny segment
        else:
            step = rng.normal(size=3) * rng.uniform(0.5, 4.0)          # any direction: sharp bends too
            step[1] = abs(step[1]) + 0.5
        pos.append(pos[p] + step)
        r = rad[p] * float(rng.choice([rng.uniform(0.1, 0.4), rng.uniform(0.7, 1.05), rng.uniform(1.0, 1.3)]))
        rad.append(max(r, 0.03))
        par.append(p)
    return DuctTree.from_arrays(np.array(pos), rad, par, laterality="R")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_trees(), st.sampled_from(["print", "draft"]), st.sampled_from(["round", "flat"]))
def test_any_tree_meshes_closed_and_within_tolerance(tree, quality, end):
    meshes_closed_and_within_tolerance(tree, quality, end)


def meshes_closed_and_within_tolerance(tree: DuctTree, quality: str, end: str) -> None:
    model = tree_to_mesh(tree, quality=quality, end=end)
    assert len(model) == 1
    c = check_watertight(model[0].mesh, expect_bodies=1)
    assert c.ok, c.problems
    if end == "round":  # the ideal surface has round ends
        f = fidelity(model[0].mesh, round_cones_of_tree(tree), tolerance=quality, n_random=5_000,
                     ideal_points=20_000)
        assert f.ok, f


def test_a_round_off_speck_beside_the_union_is_not_a_second_body():
    # Found by the property above: on this tree manifold3d's union left a 4-triangle, inside-out
    # tetrahedron of -2.7e-6 mm^3 beside the system, so the model had 2 bodies.
    model = tree_to_mesh(tree_from_seed(442232, 21), quality="print", end="round")
    c = check_watertight(model[0].mesh, expect_bodies=1)
    assert c.ok and c.bodies == 1, c.problems


def test_a_nudged_apex_that_flattens_a_neighbour_is_cleaned_again():
    # Found by the property above: on this tree (draft, flat ends) nudging the apexes of two flat
    # triangles of the union flattened a third triangle; one round of clean-up left it flat.
    model = tree_to_mesh(tree_from_seed(182, 10), quality="draft", end="flat")
    c = check_watertight(model[0].mesh, expect_bodies=1)
    assert c.ok and c.degenerate_triangles == 0, c.problems


def test_drop_slivers_keeps_real_pieces():
    import manifold3d as m3

    from ductree.mesh.surface import SLIVER_MM3, drop_slivers

    big = m3.Manifold.cube([2.0, 2.0, 2.0])
    speck = m3.Manifold.cube([0.01, 0.01, 0.01]).translate([5.0, 0.0, 0.0])       # 1e-6 mm^3
    small = m3.Manifold.cube([0.1, 0.1, 0.1]).translate([0.0, 5.0, 0.0])          # 1e-3 mm^3: real
    assert abs(speck.volume()) < SLIVER_MM3 < small.volume()
    out = drop_slivers(m3.Manifold.compose([big, speck, small]))
    assert len(out.decompose()) == 2 and abs(out.volume() - 8.001) < 1e-9


def test_a_wide_sphere_is_faceted_finely_where_a_thin_duct_leaves_it():
    # Found by the property above: a thin duct (r 0.43-0.54 mm) leaves a wide node sphere (r 1.53 mm)
    # through a zero-length segment; faceted for its own radius, the sphere stood 0.08 mm out right
    # beside the thin duct, over the thin duct's draft tolerance (0.07 mm there).
    meshes_closed_and_within_tolerance(tree_from_seed(4662, 6), "draft", "round")


@pytest.mark.xfail(strict=True, reason=(
    "known defect, found by the property above: the root sphere (r 0.96 mm) holds a child sphere "
    "(r 1.20 mm) 0.05 mm away; between the duct to row 3 and the steep cone to row 16 (r 1.20 -> 0.33 mm) "
    "the ideal surface has a crease, and the draft model fills it: its bottom, BF (0.47, 1.40, 0.79) mm, "
    "lies 0.19 mm inside the model where 0.14 mm is allowed. The tube to row 3 alone passes 0.01 mm from "
    "it; the fill is the facets of the other tube. Remove this mark when it is fixed."))
def test_a_cluster_of_ducts_at_a_doubled_root_is_all_there():
    meshes_closed_and_within_tolerance(tree_from_seed(589548883, 20), "draft", "round")
