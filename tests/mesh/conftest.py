"""Hand-built trees for the mesh tests (BF mm), with the geometry worked out by hand.

- ``straight``: one duct along +y, (0, 0, 0) -> (0, 10, 0) -> (0, 20, 0), radius 1 throughout:
  the ideal surface is a capsule, volume pi r^2 L + 4/3 pi r^3 with L = 20.
- ``y_thin``: a 1.2 mm trunk that forks at (0, 12, 0) into a 0.9 mm branch and a 0.2 mm side
  child leaving at about 60 degrees (a thin branch off a thick duct).
- ``trifurcation``: a trunk ending in three children at one node, 120 degrees apart.
- ``zero_length``: ``straight`` with every node doubled in place (zero-length segments) and a
  side stub: a 0.3 mm node 0.2 mm from the 1 mm first node (a round cone whose big sphere holds
  the small one); the ideal surface is still the capsule of ``straight``.
- ``two_close``: two parallel single-duct systems, radius 0.5, axes 1.5 mm apart (surface gap 0.5 mm).
- ``two_crossing``: two systems whose ducts cross through each other at (0, 5, 0).
"""

from __future__ import annotations

import numpy as np
import pytest

from ductree.tree import DuctTree


def straight(r: float = 1.0) -> DuctTree:
    return DuctTree.from_arrays([[0, 0, 0], [0, 10, 0], [0, 20, 0]], [r, r, r], [-1, 0, 1], laterality="R")


def y_thin() -> DuctTree:
    c60, s60 = np.cos(np.radians(60)), np.sin(np.radians(60))
    pos = [[0, 0, 0], [0, 6, 0], [0, 12, 0], [1.5, 18, 0], [3, 24, 0.5],
           [6 * s60, 12 + 6 * c60, 0], [12 * s60, 12 + 12 * c60, 0]]
    rad = [1.2, 1.15, 1.1, 0.9, 0.8, 0.2, 0.15]
    par = [-1, 0, 1, 2, 3, 2, 5]
    return DuctTree.from_arrays(pos, rad, par, laterality="R")


def trifurcation() -> DuctTree:
    pos = [[0, 0, 0], [0, 8, 0]]
    rad = [0.9, 0.8]
    par = [-1, 0]
    for k in range(3):
        a = np.radians(120 * k)
        d = np.array([np.cos(a) * 0.6, 1.0, np.sin(a) * 0.6])
        pos += [list(np.array([0, 8, 0]) + 5 * d), list(np.array([0, 8, 0]) + 10 * d)]
        rad += [0.5, 0.4]
        par += [1, len(pos) - 2]
    return DuctTree.from_arrays(pos, rad, par, laterality="L")


def zero_length() -> DuctTree:
    pos = [[0, 0, 0], [0, 0, 0], [0, 0.2, 0], [0, 10, 0], [0, 10, 0], [0, 20, 0], [0, 20, 0]]
    rad = [1.0, 1.0, 0.3, 1.0, 1.0, 1.0, 1.0]
    par = [-1, 0, 1, 1, 3, 4, 5]
    return DuctTree.from_arrays(pos, rad, par, laterality="R")


def two_close() -> DuctTree:
    pos = [[-0.75, 0, 0], [-0.75, 15, 0], [0.75, 0, 0], [0.75, 15, 0]]
    return DuctTree.from_arrays(pos, [0.5] * 4, [-1, 0, -1, 2], laterality="R")


def two_crossing() -> DuctTree:
    pos = [[0, 0, -5], [0, 10, 5], [0, 0, 5], [0, 10, -5]]
    return DuctTree.from_arrays(pos, [0.6] * 4, [-1, 0, -1, 2], laterality="R")


def capsule_volume(r: float, length: float) -> float:
    return float(np.pi * r * r * length + 4.0 / 3.0 * np.pi * r ** 3)


@pytest.fixture(scope="session")
def phantom_small():
    from ductree.phantom import generate_tree

    return generate_tree(seed=5, systems=2, branches=25)


class Trees:
    """The builders above, handed to tests as the ``trees`` fixture."""

    straight = staticmethod(straight)
    y_thin = staticmethod(y_thin)
    trifurcation = staticmethod(trifurcation)
    zero_length = staticmethod(zero_length)
    two_close = staticmethod(two_close)
    two_crossing = staticmethod(two_crossing)
    capsule_volume = staticmethod(capsule_volume)


@pytest.fixture(scope="session")
def trees() -> type[Trees]:
    return Trees
