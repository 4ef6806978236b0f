"""The guided readings' Viterbi loop compiled by numba gives the very values of its numpy loop."""

from __future__ import annotations

import numba  # noqa: F401 - a dependency (pyproject.toml): the compiled loop must be there to be compared
import numpy as np

import ductree.reconstruct.biplane_guided as bg
from biplane_helpers import rebuild, simulated_pair


def test_compiled_and_numpy_loops_rebuild_the_same_tree(monkeypatch):
    sim = simulated_pair(1003, 24, "L")
    monkeypatch.setattr(bg, "_KERNEL", [])            # compiled (or compiled on first use)
    compiled = rebuild(sim, "L")
    assert bg._KERNEL and bg._KERNEL[0] is not None
    monkeypatch.setattr(bg, "_KERNEL", [None])        # the numpy loop
    plain = rebuild(sim, "L")
    assert np.array_equal(compiled.positions, plain.positions)
    assert np.array_equal(compiled.radii, plain.radii)
    assert np.array_equal(compiled.parent_index, plain.parent_index)
    assert compiled.graph["biplane"]["reading"] == plain.graph["biplane"]["reading"]
