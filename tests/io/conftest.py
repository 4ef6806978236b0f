"""Trees built by hand for the format tests, and a strict tree comparison.

``phantom_like`` is a small multi-system tree shaped like the phantom's: several
systems whose orifices sit 1.5-3 mm from the nipple centre at known clock
positions, ducts running posteriorly and fanning out, radii tapering, one
trifurcation, a long unbranched chain, an anastomosis, coordinates with
awkward binary fractions (0.1 + 0.2 and the like) so that an inexact float
round trip would show.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ductree.tree import DuctTree


def _clock_dir(hours: float) -> np.ndarray:
    t = math.radians(hours * 30.0)
    return np.array([math.sin(t), 0.0, math.cos(t)])


def build_phantom_like(seed: int = 3, *, anastomosis: bool = True, laterality: str | None = "R") -> DuctTree:
    """Rows built by hand: three systems at 10:30, 2:00 and 6:15 (ids and clocks chosen, not derived)."""
    rng = np.random.default_rng(seed)
    pos: list[np.ndarray] = []
    rad: list[float] = []
    par: list[int] = []
    sysid: list[int] = []

    def add(p, r, parent, s):
        pos.append(np.asarray(p, dtype=float))
        rad.append(float(r))
        par.append(parent)
        sysid.append(s)
        return len(pos) - 1

    def grow(start: int, direction: np.ndarray, radius: float, depth: int, s: int, n_children: int) -> None:
        cur = start
        steps = int(rng.integers(3, 7))
        d = direction / np.linalg.norm(direction)
        for _ in range(steps):
            jitter = rng.normal(0, 0.08, 3)
            d = d + jitter
            d /= np.linalg.norm(d)
            cur = add(pos[cur] + d * (1.7 + 0.1 + 0.2), radius, cur, s)
            radius *= 0.97
        if depth == 0:
            return
        for k in range(n_children):
            spread = np.cross(d, [0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.cross(d, [1.0, 0.0, 0.0])
            spread /= np.linalg.norm(spread)
            angle = 2 * math.pi * k / n_children
            child_dir = d + np.array([0.0, 0.6, 0.0]) + 0.7 * (math.cos(angle) * spread + math.sin(angle) * np.cross(d, spread))
            grow(cur, child_dir, radius * 0.8, depth - 1, s, 2)

    clocks = {7: 10.5, 2: 2.0, 4: 6.25}  # system id -> orifice clock (hours); ids not 0..k-1 on purpose
    for s, clock in clocks.items():
        offset = 1.5 + 0.1 * s
        root = add(_clock_dir(clock) * offset + [0.0, 0.1 + 0.2, 0.0], 0.9 + 0.01 * s, -1, s)
        direction = np.array([0.0, 1.0, 0.0]) + 0.5 * _clock_dir(clock)
        # System 2 starts with a trifurcation right after its trunk; the others bifurcate.
        grow(root, direction, 0.8, 3, s, 3 if s == 2 else 2)
    # A long unbranched chain hanging off system 4's root region (a 150-node duct).
    chain_parent = next(i for i, s in enumerate(sysid) if s == 4 and par[i] >= 0)
    cur = chain_parent
    for k in range(150):
        cur = add(pos[cur] + [0.01 * math.sin(k), 0.3, 0.01 * math.cos(k) - 0.013], 0.2 - 0.0005 * k, cur, 4)
    t = DuctTree.from_arrays(np.array(pos), np.array(rad), np.array(par), np.array(sysid),
                             laterality=laterality, orifice_clock=clocks)
    if anastomosis:
        # Join two tips of system 7 (the last two tips in row order) with a loop edge.
        tips = [t.node_ids[i] for i in range(len(t.node_ids))
                if t.system_ids[i] == 7 and not t.children(t.node_ids[i])]
        t.add_edge(tips[-2], tips[-1], anastomosis=True)
    t.validate()
    return t


def assert_same_tree(a: DuctTree, b: DuctTree, *, atol: float = 1e-6, loops: bool = True,
                     laterality: bool = True) -> None:
    """Same shape, row by row: positions (mm, to ``atol``), radii, parents, systems, clocks, loops."""
    assert b.number_of_nodes() == a.number_of_nodes()
    np.testing.assert_array_equal(b.parent_index, a.parent_index)
    np.testing.assert_array_equal(b.system_ids, a.system_ids)
    np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=atol)
    np.testing.assert_allclose(b.radii, a.radii, rtol=1e-12, atol=0)
    for ra, rb in zip(a.roots(), b.roots()):
        ca, cb = a.nodes[ra].get("orifice_clock"), b.nodes[rb].get("orifice_clock")
        assert (ca is None) == (cb is None)
        if ca is not None:
            assert cb == pytest.approx(ca, abs=1e-12)
    if laterality:
        assert b.laterality == a.laterality
    if loops:
        ia, ib = a.index, b.index
        assert sorted((ib[u], ib[v]) for u, v in b.anastomoses()) == sorted((ia[u], ia[v]) for u, v in a.anastomoses())


@pytest.fixture
def phantom_like() -> DuctTree:
    return build_phantom_like()


@pytest.fixture
def same_tree():
    return assert_same_tree
