"""Hand-built trees for the lesion and plan tests (BF mm), with their geometry worked out by hand.

``hand_tree``: six duct systems, each a polyline in one clock half-plane
unless said otherwise (``P(clock, fn, depth)`` is the BF point):

- system 0 "A", orifice 10:00: P(10, 1.5, 0) -> P(10, 9.5, 20) -> P(10, 17.5, 40),
  radii 0.8, 0.7, 0.5 (a straight duct; segment lengths sqrt(8**2 + 20**2) = 21.5407 each);
- system 1 "B", orifice 3:00: P(3, 1.5, 0) -> P(3, 9.5, 20) -> P(3, 17.5, 40), same radii;
- system 2 "D", orifice 12:00: P(12, 1.5, 0) -> P(12, 8, 20) -> P(12, 12, 40), radii 0.6;
- system 3 "E", orifice 1:00: P(1, 2, 0) -> P(12, 25, 20) -> P(12, 30, 35), radii 0.6
  (crosses the 12:00 ray at depth 20 at fn 25, where D crosses it at fn 8);
- system 4 "F", orifice 6:00, a fork: P(6, 1.5, 0) -> P(6, 4, 8) (the fork), then
  child "F1" -> P(6, 10, 30) and child "F2" -> P(6, 25, 20) -> P(6, 35, 22); radii 0.7,
  0.6, 0.5 / 0.5, 0.4 (both children cross the 6:00 ray at depth 20, 33 mm apart along the tree);
- system 5 "G", orifice 7:30: P(7.5, 1.5, 0) -> P(7.5, 3, 6), radii 0.5 (a short stub).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ductree.tree import DuctTree


def P(clock: float, fn: float, depth: float) -> np.ndarray:
    t = math.radians(clock * 30.0)
    return np.array([fn * math.sin(t), depth, fn * math.cos(t)])


SEG_A = math.hypot(8.0, 20.0)  # 21.5407 mm, each segment of systems A and B


def build_hand_tree(laterality: str = "R") -> DuctTree:
    pos, rad, par, sysid = [], [], [], []

    def add(p, r, parent, s):
        pos.append(p)
        rad.append(r)
        par.append(parent)
        sysid.append(s)
        return len(pos) - 1

    # A (0)
    a0 = add(P(10, 1.5, 0), 0.8, -1, 0)
    a1 = add(P(10, 9.5, 20), 0.7, a0, 0)
    add(P(10, 17.5, 40), 0.5, a1, 0)
    # B (1)
    b0 = add(P(3, 1.5, 0), 0.8, -1, 1)
    b1 = add(P(3, 9.5, 20), 0.7, b0, 1)
    add(P(3, 17.5, 40), 0.5, b1, 1)
    # D (2)
    d0 = add(P(12, 1.5, 0), 0.6, -1, 2)
    d1 = add(P(12, 8, 20), 0.6, d0, 2)
    add(P(12, 12, 40), 0.6, d1, 2)
    # E (3)
    e0 = add(P(1, 2, 0), 0.6, -1, 3)
    e1 = add(P(12, 25, 20), 0.6, e0, 3)
    add(P(12, 30, 35), 0.6, e1, 3)
    # F (4)
    f0 = add(P(6, 1.5, 0), 0.7, -1, 4)
    f1 = add(P(6, 4, 8), 0.6, f0, 4)
    add(P(6, 10, 30), 0.5, f1, 4)           # F1
    f3 = add(P(6, 25, 20), 0.5, f1, 4)      # F2
    add(P(6, 35, 22), 0.4, f3, 4)
    # G (5)
    g0 = add(P(7.5, 1.5, 0), 0.5, -1, 5)
    add(P(7.5, 3, 6), 0.5, g0, 5)
    clocks = {0: 10.0, 1: 3.0, 2: 12.0, 3: 1.0, 4: 6.0, 5: 7.5}
    return DuctTree.from_arrays(pos, rad, par, sysid, laterality=laterality, orifice_clock=clocks)


def build_straight_tree(laterality: str = "R") -> DuctTree:
    """One straight duct along +y at x = 1.5 mm (3 o'clock), radius 0.5 mm: y = 0, 20, 40.

    Plus a second system (a straight duct at 9 o'clock, x = -8, y = 0 -> 30, radius 0.5) so
    that spared fractions have something to spare.
    """
    pos = [[1.5, 0, 0], [1.5, 20, 0], [1.5, 40, 0], [-8, 0, 0], [-8, 30, 0]]
    return DuctTree.from_arrays(pos, [0.5] * 5, [-1, 0, 1, -1, 3], [0, 0, 0, 1, 1], laterality=laterality)


def brute_distance_to_ray(tree: DuctTree, origin, direction, *, length=200.0, step=0.02, systems=None) -> float:
    """Smallest distance between the tree's centrelines and a ray, by dense sampling of both (mm)."""
    u = np.asarray(direction, float)
    ray = np.asarray(origin, float) + np.arange(0, length, step)[:, None] * u
    best = math.inf
    for v in tree.nodes:
        p = tree.parent(v)
        if p is None or (systems is not None and tree.nodes[v]["system"] not in systems):
            continue
        a, b = tree.nodes[p]["pos"], tree.nodes[v]["pos"]
        k = max(2, int(np.linalg.norm(b - a) / step))
        pts = a + np.linspace(0, 1, k)[:, None] * (b - a)
        # nearest ray sample per duct sample through a coarse-then-local search
        d = np.linalg.norm(pts[:, None, :] - ray[None, ::25, :], axis=-1)
        j = np.argmin(d, axis=1) * 25
        lo = np.clip(j - 25, 0, len(ray) - 1)
        for i in range(len(pts)):
            seg = ray[lo[i]:lo[i] + 51]
            best = min(best, float(np.min(np.linalg.norm(seg - pts[i], axis=1))))
    return best


@pytest.fixture
def hand_tree():
    return build_hand_tree("R")


@pytest.fixture
def straight_tree():
    return build_straight_tree("R")
