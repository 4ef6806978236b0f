"""The independent checks: topology from triangles alone, and the distance to round cones."""

import numpy as np
import pytest
import trimesh
from hypothesis import given, settings, strategies as st

from ductree.mesh.quality import (check_watertight, fidelity, ideal_sdf, round_cone_sdf,
                                  round_cones_of_tree)


def one(p, a, b, ra, rb):
    d, r = round_cone_sdf(np.atleast_2d(np.asarray(p, float)), np.atleast_2d(np.asarray(a, float)),
                          np.atleast_2d(np.asarray(b, float)), np.array([ra], float), np.array([rb], float))
    return float(d[0]), float(r[0])


def test_round_cone_sdf_hand_cases():
    a, b = (0, 0, 0), (0, 0, 10)
    assert one((2, 0, 5), a, b, 1, 1) == pytest.approx((1.0, 1.0))      # beside a cylinder
    assert one((0, 0, 12), a, b, 1, 1)[0] == pytest.approx(1.0)          # past the end sphere
    assert one((0, 0, -3), a, b, 1, 1)[0] == pytest.approx(2.0)          # behind the start sphere
    assert one((0.5, 0, 5), a, b, 1, 1)[0] == pytest.approx(-0.5)        # inside
    # A sphere that holds the other: the piece is just the big sphere.
    assert one((0, 0, 4), (0, 0, 0), (0, 0, 0.5), 3, 1)[0] == pytest.approx(1.0)
    # Zero-length piece = sphere.
    assert one((3, 4, 0), (0, 0, 0), (0, 0, 0), 2, 2)[0] == pytest.approx(3.0)
    # Tapered cone ra = 2, rb = 1, L = 10: the side line has normal (s, c), s = (ra - rb) / L = 0.1.
    # A point far out radially at mid-length: distance = u*s + v*c - ra.
    s = 0.1
    c = np.sqrt(1 - s * s)
    d, r = one((5, 0, 5), a, b, 2, 1)
    assert d == pytest.approx(5 * s + 5 * c - 2)
    assert 1.0 < r < 2.0


@settings(max_examples=40, deadline=None)
@given(st.floats(0.2, 3.0), st.floats(0.05, 3.0), st.floats(0.5, 12.0), st.integers(0, 10_000))
def test_round_cone_is_the_union_of_swept_spheres(ra, rb, L, seed):
    # A round cone is the union of the spheres swept along it (linear centre and radius):
    # outside it, its distance is the min over those spheres -- an independent ground truth.
    rng = np.random.default_rng(seed)
    a, b = np.zeros(3), np.array([0.0, 0.0, L])
    t = np.linspace(0, 1, 4001)
    centres = a + (b - a) * t[:, None]
    radii = ra + (rb - ra) * t
    p = rng.normal(size=(200, 3)) * (L / 2 + max(ra, rb)) + np.array([0, 0, L / 2])
    truth = (np.linalg.norm(p[:, None, :] - centres[None], axis=2) - radii[None]).min(axis=1)
    d, _ = round_cone_sdf(p, np.tile(a, (200, 1)), np.tile(b, (200, 1)), np.full(200, ra), np.full(200, rb))
    outside = truth > 0
    step = L / 4000 + abs(ra - rb) / 4000
    assert np.all(np.abs(d[outside] - truth[outside]) <= step + 1e-9)


def test_ideal_sdf_matches_brute_force_over_many_cones(trees):
    t = trees.y_thin()
    cones = round_cones_of_tree(t)
    rng = np.random.default_rng(1)
    p = rng.uniform([-3, -3, -3], [12, 28, 3], size=(3000, 3))
    d, _ = ideal_sdf(p, cones)
    n = len(cones)
    brute = np.min(np.stack([round_cone_sdf(p, np.tile(cones.a[k], (len(p), 1)), np.tile(cones.b[k], (len(p), 1)),
                                            np.full(len(p), cones.ra[k]), np.full(len(p), cones.rb[k]))[0]
                             for k in range(n)]), axis=0)
    assert np.allclose(d, brute)


def test_check_watertight_good_and_bad_meshes():
    good = trimesh.creation.icosphere(2)
    c = check_watertight(good)
    assert c.ok and c.watertight and c.bodies == 1 and c.genus == [0]
    assert c.volume_mm3 == pytest.approx(good.volume)
    # open: one triangle removed
    c = check_watertight((good.vertices, good.faces[1:]))
    assert not c.closed and any("open" in p for p in c.problems)
    # one triangle flipped
    f = good.faces.copy()
    f[0] = f[0][::-1]
    c = check_watertight((good.vertices, f))
    assert not c.oriented and any("winding" in p for p in c.problems)
    # inside out
    c = check_watertight((good.vertices, good.faces[:, ::-1]))
    assert c.watertight and not c.outward
    # two tetrahedra touching at one vertex: closed and edge-manifold but not vertex-manifold
    tet = trimesh.creation.box().convex_hull
    v2 = tet.vertices + (tet.vertices.max(axis=0) - tet.vertices.min(axis=0))
    v = np.vstack([tet.vertices, v2])
    fa = tet.faces
    fb = tet.faces + len(tet.vertices)
    # weld the touching corner: the max corner of the first box equals the min corner of the second
    corner_a = int(np.argmax(tet.vertices.sum(axis=1)))
    corner_b = int(np.argmin(v2.sum(axis=1))) + len(tet.vertices)
    fb = np.where(fb == corner_b, corner_a, fb)
    c = check_watertight((v, np.vstack([fa, fb])))
    assert c.closed and not c.vertex_manifold and c.bodies == 2
    # a torus has genus 1
    torus = trimesh.creation.torus(major_radius=5, minor_radius=1)
    assert check_watertight(torus).genus == [1]
    # two vertices 1e-9 mm apart weld as float32
    verts = good.vertices.copy()
    verts[1] = verts[0] * (1 + 1e-9)
    c = check_watertight((verts, good.faces))
    assert c.float32_welds >= 1 and not c.ok


def test_fidelity_flags_a_mesh_that_is_too_coarse(trees):
    t = trees.straight()
    cones = round_cones_of_tree(t)
    # A capsule made of a hexagonal prism with pyramid ends: far more than 5 % off.
    coarse = trimesh.creation.capsule(height=20, radius=1.0, count=[6, 3])
    coarse.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    coarse.apply_translation([0, 10, 0])
    f = fidelity(coarse, cones, n_random=2000)
    assert not f.ok and f.max_ratio > 1.0
    # A fine one passes.
    fine = trimesh.creation.capsule(height=20, radius=1.0, count=[96, 48])
    fine.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    fine.apply_translation([0, 10, 0])
    f = fidelity(fine, cones, n_random=2000)
    assert f.ok, f
