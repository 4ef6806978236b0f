"""The tube builder's pieces: side counts, the ring zipper, run planning, closedness of every tube."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ductree.mesh.quality import check_watertight
from ductree.mesh.tubes import (QUALITIES, SystemGeometry, Tolerance, _zip_rings, build_tubes,
                                plan_runs, sides_for, sphere_mesh, system_geometry, vertex_scale)


def test_sides_for_hand_worked():
    # r tan^2(pi / 2m) <= 0.45 * tol: r = 1, tol = 0.05 -> tan(pi/2m) <= 0.15 -> m >= 10.47 -> 11
    assert int(sides_for(1.0, 0.05)) == 11
    # a tiny duct at the 0.02 mm floor needs only the minimum
    assert int(sides_for(0.05, 0.02, 6)) == 6
    # the balanced polygon: vertex 1/cos^2(pi/2m) out, edge midpoint cos(pi/m)/cos^2(pi/2m) in
    m = 11
    k = float(vertex_scale(m))
    out_err = k - 1.0
    in_err = 1.0 - k * math.cos(math.pi / m)
    assert out_err == pytest.approx(in_err)
    assert out_err == pytest.approx(math.tan(math.pi / (2 * m)) ** 2)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=2, max_size=8))
def test_zipper_closes_any_ring_sequence(sides):
    # Rings of any side counts, with single points at both ends, zip into a closed outward surface.
    m = np.array([1] + [max(3, s) for s in sides] + [1])
    offsets = np.concatenate([[0], np.cumsum(m)])
    verts = []
    for i, mi in enumerate(m):
        if mi == 1:
            verts.append([[0.0, 0.0, float(i)]])
        else:
            a = 2 * np.pi * np.arange(mi) / mi
            verts.append(np.stack([np.cos(a), np.sin(a), np.full(mi, float(i))], 1))
    V = np.vstack(verts)
    F = _zip_rings(m, offsets, np.arange(len(m) - 1))
    c = check_watertight((V, F))
    assert c.watertight and c.outward and c.genus == [0], c.problems
    # one triangle per step of each ring it joins: sum of (sides of both rings) over pairs, poles excepted
    assert len(F) == sum((m[i] if m[i] > 1 else 0) + (m[i + 1] if m[i + 1] > 1 else 0) for i in range(len(m) - 1))


def test_sphere_mesh_within_tolerance():
    tol = Tolerance(0.0, 0.01)
    v, f = sphere_mesh(2.0, tol)
    assert check_watertight((v, f)).ok
    # vertices and face centroids lie within 0.01 mm of the sphere
    r_v = np.linalg.norm(v, axis=1)
    r_c = np.linalg.norm(v[f].mean(axis=1), axis=1)
    assert np.all(np.abs(r_v - 2) <= 0.01) and np.all(np.abs(r_c - 2) <= 0.01)


def test_duplicated_points_merge_but_a_radius_change_in_place_is_kept():
    # same place, same radius: a duplicated point, merged
    g = system_geometry(np.array([[0, 0, 0], [0, 0, 0], [0, 5, 0.0]]), np.array([0.8, 0.8, 0.4]),
                        np.array([-1, 0, 1]))
    assert len(g.radius) == 2 and g.parent.tolist() == [-1, 0]
    # same place, smaller radius: the cone after it starts from 0.3, so the node stays and its
    # zero-length segment is degenerate (the big sphere holds the small one): a run break
    g = system_geometry(np.array([[0, 0, 0], [0, 0, 0], [0, 5, 0.0]]), np.array([0.8, 0.3, 0.3]),
                        np.array([-1, 0, 1]))
    assert len(g.radius) == 3
    plan = plan_runs(g, QUALITIES["print"])
    assert plan.runs == [[1, 2]] and plan.spheres == [0]


def test_plan_follows_the_thick_child_and_buries_the_others(trees):
    t = trees.y_thin()
    g = system_geometry(t.positions, t.radii, t.parent_index)
    tol = QUALITIES["print"]
    plan = plan_runs(g, tol)
    # main run: orifice through the fork into the 0.9 mm branch; the 0.2 mm side child starts its own
    main = max(plan.runs, key=len)
    assert g.radius[main[0]] == 1.2 and g.radius[main[-1]] == 0.8
    side = [r for r in plan.runs if r is not main]
    assert side and all(g.radius[r[-1]] == 0.15 for r in side[-1:])
    # the side run starts at the fork, which the main run passes through: a buried (flat) start
    assert plan.buried[plan.runs.index(side[0])]
    assert not plan.spheres
    for v, f in build_tubes(g, plan, tol):
        assert check_watertight((v, f)).ok


def test_sharp_bend_splits_the_run():
    # a 90-degree turn cannot be one tube within 5 %: two runs with round caps at the corner
    g = system_geometry(np.array([[0, 0, 0], [0, 10, 0], [10, 10, 0.0]]), np.ones(3), np.array([-1, 0, 1]))
    plan = plan_runs(g, QUALITIES["print"])
    assert sorted(map(tuple, plan.runs)) == [(0, 1), (1, 2)]


def test_lone_node_becomes_a_sphere():
    g = SystemGeometry(pos=np.zeros((1, 3)), radius=np.array([1.0]), parent=np.array([-1]))
    plan = plan_runs(g, QUALITIES["print"])
    assert plan.runs == [] and plan.spheres == [0]
