"""The guided readings' loops compiled by numba give the very values of their numpy paths."""

from __future__ import annotations

import numba  # noqa: F401 - a dependency (pyproject.toml): the compiled loop must be there to be compared
import numpy as np

import ductree.reconstruct.biplane_guided as bg
import ductree.reconstruct.jit as jit
from biplane_helpers import rebuild, simulated_pair


def test_compiled_and_numpy_loops_rebuild_the_same_tree(monkeypatch):
    sim = simulated_pair(1003, 24, "L")
    monkeypatch.delenv("DUCTREE_NO_NUMBA", raising=False)
    compiled = rebuild(sim, "L")
    for loop in (bg._viterbi_steps, bg._near_steps):
        assert jit.compiled(loop) is not None
    monkeypatch.setenv("DUCTREE_NO_NUMBA", "1")       # the numpy loops
    plain = rebuild(sim, "L")
    assert np.array_equal(compiled.positions, plain.positions)
    assert np.array_equal(compiled.radii, plain.radii)
    assert np.array_equal(compiled.parent_index, plain.parent_index)
    assert compiled.graph["biplane"]["reading"] == plain.graph["biplane"]["reading"]
