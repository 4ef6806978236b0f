"""Tree operations: resample, smooth, prune, subtree, path, merge, split."""

import numpy as np
import pytest

from ductree import edit
from ductree.errors import InputError
from ductree.measures import branches, segment_length, tips
from ductree.tree import DuctTree


def tree():
    pos = [[0, 0, 0], [0, 5, 0], [0, 10, 0], [3, 20, 0], [-3, 20, 0], [0.3, 10.5, 0]]
    return DuctTree.from_arrays(pos, [1, .9, .9, .6, .5, .3], [-1, 0, 1, 2, 2, 2], laterality="R")


def test_resample_keeps_anchors_and_length():
    t = tree()
    r = edit.resample(t, 1.0)
    r.validate()
    for n in (0, 2, 3, 4, 5):  # root, junction, tips keep their ids and positions
        assert np.allclose(r.nodes[n]["pos"], t.nodes[n]["pos"])
    assert 1 not in r  # an interior node is replaced by resampled ones
    assert segment_length(r).sum() == pytest.approx(segment_length(t).sum())
    seg = segment_length(r)[1:]
    assert seg.max() <= 1.0 + 1e-9 and len(branches(r)) == len(branches(t))


def test_smooth_never_moves_junctions():
    t = DuctTree.from_arrays([[0, 0, 0], [2, 5, 0], [0, 10, 0], [0, 15, 0]], [1, 1, 1, 1], [-1, 0, 1, 2])
    s = edit.smooth(t, iterations=20)
    assert np.allclose(s.nodes[0]["pos"], [0, 0, 0]) and np.allclose(s.nodes[3]["pos"], [0, 15, 0])
    assert abs(s.nodes[1]["pos"][0]) < 0.5  # the kink is smoothed out
    assert t.nodes[1]["pos"][0] == 2  # input untouched


def test_prune_relative_to_radius():
    t = tree()
    # The 0.58 mm stub at node 2 (radius 0.9) is a bump: pruned at 2x radius, kept at 0.5 mm.
    assert 5 not in edit.prune(t, radius_factor=2.0)
    assert 5 in edit.prune(t, min_length_mm=0.5)
    pruned = edit.prune(t, min_length_mm=100)  # never prunes every child of a junction
    assert len(tips(pruned)) >= 1 and 0 in pruned


def test_subtree_path_merge_split():
    t = tree()
    assert sorted(edit.subtree(t, 2).nodes) == [2, 3, 4, 5]
    assert edit.path_between(t, 3, 4) == [3, 2, 4]
    assert edit.path_between(t, 0, 5) == [0, 1, 2, 5]
    m = edit.merge([t, t])
    m.validate()
    assert m.systems() == [0, 1] and m.number_of_nodes() == 12
    parts = edit.split(m)
    assert sorted(parts) == [0, 1] and all(p.number_of_nodes() == 6 for p in parts.values())
    with pytest.raises(InputError):
        edit.path_between(m, 0, 7)
    other = tree()
    other.laterality = "L"
    with pytest.raises(InputError, match="laterality"):
        edit.merge([t, other])
