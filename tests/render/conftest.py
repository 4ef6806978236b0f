"""Fixtures for the view tests: hand-built trees with known geometry, phantom cases, one renderer.

``hand_tree(laterality)``: two duct systems (BF mm), worked out by hand:

- system 0, orifice 3:00: (1.5, 0, 0) -> (10, 20, 0) -> (20, 40, 0) -> (30, 60, 0), radius 1.5
  (a straight-ish duct running toward the patient's left, +x, and back);
- system 1, orifice 12:00: (0, 0, 1.5) -> (0, 20, 12) -> (0, 40, 24), radius 1.2 (toward superior, +z).

Laterality only changes names, never coordinates, so the same tree serves both breasts: on the
right breast system 0 runs medial, on the left it runs lateral.
"""

from __future__ import annotations

import pytest

from ductree.tree import DuctTree

SIZE = (256, 256)


def make_hand_tree(laterality: str) -> DuctTree:
    pos = [[1.5, 0, 0], [10, 20, 0], [20, 40, 0], [30, 60, 0],
           [0, 0, 1.5], [0, 20, 12], [0, 40, 24]]
    rad = [1.5, 1.5, 1.5, 1.5, 1.2, 1.2, 1.2]
    par = [-1, 0, 1, 2, -1, 4, 5]
    sysid = [0, 0, 0, 0, 1, 1, 1]
    return DuctTree.from_arrays(pos, rad, par, sysid, laterality=laterality, orifice_clock={0: 3.0, 1: 12.0})


@pytest.fixture
def hand_tree():
    return make_hand_tree


@pytest.fixture(scope="session")
def phantom_cases(tmp_path_factory):
    """Two small phantom cases (case.toml paths): a right breast and a left breast, two lesions each."""
    from ductree.phantom import write_phantom_case

    root = tmp_path_factory.mktemp("render-cases")
    return {lat: write_phantom_case(root / f"case-{lat}", seed=seed, systems=4, branches=25, lesions=2,
                                    laterality=lat)
            for lat, seed in (("R", 5), ("L", 11))}


@pytest.fixture(scope="session")
def renderer():
    """One offscreen renderer for the whole session (256 x 256), reused as the batch does."""
    from ductree.render import Renderer

    r = Renderer(SIZE)
    yield r
    r.close()
