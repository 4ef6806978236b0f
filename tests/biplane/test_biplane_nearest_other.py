"""biplane_guided._nearest_other_within answers as a KD-tree of the other tracks' points alone would."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from ductree.reconstruct.biplane_guided import _nearest_other_within


def _alone(pts, owner, own, q, less):
    op = pts[owner != own]
    dist, idx = cKDTree(op[:, :2]).query(q, k=1)
    return dist <= op[idx, 2] - less


def test_same_answer_as_the_others_alone():
    rng = np.random.default_rng(5)
    decided = undecided = 0
    for trial in range(300):
        n_tracks = int(rng.integers(2, 6))
        tracks = []
        for t in range(n_tracks):
            m = int(rng.integers(1, 40))
            start = rng.uniform(0, 6, 2)
            step = rng.normal(0, 0.15, (m, 2)).cumsum(axis=0)
            xy = np.round((start + step) / 0.05) * 0.05       # on a grid: exact ties happen
            r = rng.choice([0.2, 0.3, 0.5, 0.8], m)
            tracks.append(np.column_stack([xy, r]))
        if trial % 3 == 0:                                     # a shared start, different radii
            tracks[1][0, :2] = tracks[0][0, :2]
        pts = np.vstack(tracks)
        owner = np.repeat(np.arange(n_tracks), [len(t) for t in tracks])
        kd = cKDTree(pts[:, :2])
        # every track's samples at once (one owner per query point)
        less_all = 0.75 * rng.choice([0.1, 0.3, 0.6], len(pts))
        got = _nearest_other_within(kd, pts[:, 2], owner, owner, pts[:, :2], less_all, k=int(rng.integers(1, 20)))
        if got is not None:
            want = np.concatenate([_alone(pts, owner, o, pts[owner == o, :2], less_all[owner == o])
                                   for o in range(n_tracks)])
            assert np.array_equal(got, want)
        for own in range(n_tracks):
            q = tracks[own][:, :2]
            less = 0.75 * rng.choice([0.1, 0.3, 0.6], len(q))
            got = _nearest_other_within(kd, pts[:, 2], owner, own, q, less, k=int(rng.integers(1, 20)))
            if got is None:
                undecided += 1
                continue
            decided += 1
            assert np.array_equal(got, _alone(pts, owner, own, q, less))
    assert decided > 150 and undecided > 0           # both ways exercised


def test_a_tie_with_disagreeing_radii_is_left_to_the_caller():
    pts = np.array([[0.0, 0.0, 0.5], [1.0, 0.0, 2.0], [-1.0, 0.0, 0.1]])   # query at the origin, own point 0
    owner = np.array([0, 1, 2])
    got = _nearest_other_within(cKDTree(pts[:, :2]), pts[:, 2], owner, 0, np.array([[0.0, 0.0]]),
                                np.array([0.0]))
    assert got is None                                # point 1 says yes (1 <= 2), point 2 says no (1 > 0.1)
    pts[2, 2] = 1.5                                   # both now say yes
    got = _nearest_other_within(cKDTree(pts[:, :2]), pts[:, 2], owner, 0, np.array([[0.0, 0.0]]),
                                np.array([0.0]))
    assert got.tolist() == [True]


@pytest.mark.parametrize("numba_loop", [True, False])
def test_near_from_the_positions_within_reach(numba_loop, monkeypatch):
    """_near_within (the used positions within reach, by the compiled loop or a KD-tree of them) gives
    _near's answer (a tree of all)."""
    from ductree.reconstruct.biplane_guided import GuidedOptions, _near, _near_prep, _near_within

    if not numba_loop:
        monkeypatch.setenv("DUCTREE_NO_NUMBA", "1")

    opt = GuidedOptions()
    rng = np.random.default_rng(9)
    decided = undecided = 0
    for trial in range(300):
        K = int(rng.integers(2, 30))
        s = np.cumsum(rng.uniform(0.05, 0.3, K)) - 0.1
        d = np.round(rng.uniform(0, 8, K) / 0.05) * 0.05
        radius = rng.choice([0.2, 0.4, 0.7], K)
        c_step = np.sort(rng.integers(0, K, int(rng.integers(1, 60))))
        c_u = np.round(rng.uniform(0, 8, len(c_step)) / 0.05) * 0.05
        m = int(rng.integers(1, 80))
        used = np.column_stack([np.round(rng.uniform(0, 8, (m, 2)) / 0.05) * 0.05,
                                rng.choice([0.1, 0.3, 0.5, 0.9], m)])
        if trial % 2:                                    # used positions on candidates: exact ties
            k = rng.integers(0, len(c_u), min(len(c_u), len(used)))
            used[:len(k), 0], used[:len(k), 1] = c_u[k], d[c_step[k]]
        want = _near(c_u, c_step, d, radius, s, cKDTree(used[:, :2]), used[:, 2], opt)
        pre = _near_prep(c_u, c_step, d, radius, s, opt)
        # only the used positions within reach of the live candidates, as the guided reading selects them
        r_used = float(used[:, 2].max())
        sel = np.arange(len(used))
        if len(pre[2]):
            margin = max(pre[0], r_used) * (1 + 1e-6)
            lo, hi = pre[3].min(axis=0) - margin, pre[3].max(axis=0) + margin
            sel = np.flatnonzero(np.all((used[:, :2] >= lo) & (used[:, :2] <= hi), axis=1))
        sel = sel[np.argsort(used[sel, 0], kind="stable")]
        near_s = (used[sel, 0], used[sel, 1], used[sel, 2]) if len(sel) else None
        got = _near_within(len(c_u), pre, near_s, r_used)
        if got is None:
            undecided += 1
            continue
        decided += 1
        assert np.array_equal(got, want)
    assert decided > 200
