"""The 'seen in one view only' summary of the reading that was kept (hand-built 3D rows)."""

from __future__ import annotations

import numpy as np
import pytest

from ductree.reconstruct.biplane import _single_view_runs
from ductree.reconstruct.biplane_match import Built


def _built():
    # root 0 -> 1 (both views) -> 2 -> 3 seen in the CC only; 1 -> 4 -> 5 and 4 -> 6 seen in the lateral only.
    pos = np.array([[0, 0, 0], [0, 10, 0], [3, 14, 0], [3, 20, 0], [0, 12, 2], [0, 15, 6], [0, 16, 2]], float)
    par = np.array([-1, 0, 1, 2, 1, 4, 4])
    one = np.array([False, False, True, True, True, True, True])
    view = ["both", "both", "cc", "cc", "lateral", "lateral", "lateral"]
    cc = np.full((7, 2), np.nan)
    lat = np.full((7, 2), np.nan)
    cc[:4] = pos[:4][:, [0, 1]]
    lat[[0, 1, 4, 5, 6]] = pos[[0, 1, 4, 5, 6]][:, [2, 1]]
    return Built(pos=pos, radius=np.full(7, 0.5), parent=par, single_view=one, view=view, sigma=np.zeros(7),
                 cc_ud=cc, lat_ud=lat, pair_of=np.full(7, -1), depth_residual=np.full(7, np.nan))


def test_runs_per_view_with_their_ends_length_and_start():
    runs = _single_view_runs(_built())
    (cc,) = runs["cc"]
    # 1 -> 2 is 5 mm (3-4-5 triangle), 2 -> 3 is 6 mm; the run starts at node 2 (u 3, depth 14)
    assert cc["branches"] == 1 and cc["length_mm"] == pytest.approx(11.0)
    assert (cc["start_u_mm"], cc["start_depth_mm"]) == (3.0, 14.0)
    (lat,) = runs["lateral"]
    # 1 -> 4: sqrt(4 + 4); 4 -> 5: 5; 4 -> 6: sqrt(16); two ends
    assert lat["branches"] == 2 and lat["length_mm"] == pytest.approx(np.sqrt(8) + 5 + 4, abs=0.01)
    assert (lat["start_u_mm"], lat["start_depth_mm"]) == (2.0, 12.0)
