"""A duct ending wide in one view ends in the other view too, at the same depth: the finding takes its
unknown coordinate from that end, not from a tree that may have paired the duct with the wrong one."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ductree.reconstruct.biplane_findings import _end_in_other_view
from ductree.reconstruct.biplane_match import DepthMap

from biplane_helpers import rebuilt_cutoff


def _other(ends_ud):
    """The other view as far as the rule reads it: node (u, d) mm and kind (3 = duct end, 2 = fork)."""
    ud = np.array([[0.0, 0.0], [1.0, 10.0], *ends_ud], dtype=float)
    kind = np.array([1, 2] + [3] * len(ends_ud))
    return SimpleNamespace(ud=ud, kind=kind)


def test_cc_end_takes_z_from_the_lateral_end_at_its_depth():
    # lateral depths map to CC depths by d_cc = 1.04 d_lat + 0.5: the lateral end at d_lat 24.5 lies at
    # CC depth 25.98, within 1 mm of 26; the one at d_lat 30 lies at 31.7 (too deep)
    f = DepthMap(a=1.04, b=0.5)
    p = np.array([3.0, 26.0, -9.0])                 # the tree's guess: z = -9
    _end_in_other_view(p, 26.0, "cc", _other([[4.5, 24.5], [-8.8, 30.0]]), f)
    assert p.tolist() == [3.0, 26.0, 4.5]


def test_the_end_nearest_the_tree_wins_and_no_end_means_no_change():
    f = DepthMap()
    p = np.array([3.0, 20.0, 2.0])
    _end_in_other_view(p, 20.0, "cc", _other([[-6.0, 20.3], [2.6, 19.4]]), f)
    assert p[2] == 2.6                              # both ends at the depth; 2.6 is nearer the tree's 2.0
    q = np.array([3.0, 20.0, 2.0])
    _end_in_other_view(q, 20.0, "cc", _other([[-6.0, 22.0]]), f)
    assert q.tolist() == [3.0, 20.0, 2.0]


def test_lateral_end_takes_x_from_the_cc_end_through_the_inverse_map():
    f = DepthMap(a=0.95, b=-1.0)                     # CC end at d_cc 18.0 is at lateral depth 20.0
    p = np.array([7.0, 19.5, 5.0])
    _end_in_other_view(p, 20.0, "lateral", _other([[-3.25, 18.0]]), f)
    assert p.tolist() == [-3.25, 19.5, 5.0]


@pytest.mark.parametrize("seed, branches, lat", [(7000, 39, "R"), (7005, 36, "L")])
def test_cut_off_seen_in_one_view_is_placed_at_the_occlusion(seed, branches, lat):
    # Seeded phantoms whose occlusion shows as a wide end in the CC only; the tree kept pairs that CC duct
    # with another lateral duct there, which put the finding 4.3 mm (7000) and 9.6 mm (7005) away.
    _, found = rebuilt_cutoff(seed, branches, lat)
    d = [dist for f, dist in found if f["kind"] == "cutoff"]
    assert d and min(d) <= 1.0, d
