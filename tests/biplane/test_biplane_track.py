"""The one-view branch tracker (biplane_track.track_unknown) on hand-made 'other views'.

Ground truth is worked out by hand: the other view is given as centreline
samples (coordinate, depth, radius, matched-or-not), the branch as depths.
"""

from __future__ import annotations

import numpy as np

from ductree.reconstruct.biplane_track import track_unknown


class _Samples:
    """The part of biplane_match._Track that the tracker uses: samples sorted by depth."""

    def __init__(self, ducts):
        d, u, r, used = [], [], [], []
        for dd, uu, rr, uz in ducts:
            d.append(dd)
            u.append(uu)
            r.append(np.full(len(dd), rr))
            used.append(np.full(len(dd), uz))
        d, u, r, used = map(np.concatenate, (d, u, r, used))
        o = np.argsort(d)
        self.d, self.u, self.r, self.used = d[o], u[o], r[o], used[o]

    def near(self, depth, band):
        lo, hi = np.searchsorted(self.d, depth - band), np.searchsorted(self.d, depth + band)
        return self.u[lo:hi], self.r[lo:hi], self.used[lo:hi]


def _branch(d0, d1, step=0.1, r=0.3):
    d = np.arange(d0, d1 + 1e-9, step)
    return d, np.full(len(d), r), d - d0


def test_follows_the_duct_of_its_own_where_two_part():
    """Other view: duct P straight on at u=0 (already matched to the sibling), duct Q parting from it at
    depth 10 and reaching u=3 at depth 20 (matched to nothing). The one-view branch (depth 10-20) is Q:
    nearest-first would stay on P, where Q is still within a hair of it."""
    dd = np.arange(0.0, 30.0, 0.05)
    q_d = np.arange(10.0, 20.0, 0.05)
    other = _Samples([(dd, np.zeros(len(dd)), 0.3, True), (q_d, 0.3 * (q_d - 10.0), 0.3, False)])
    d, r, s = _branch(10.0, 19.9)
    vals, tracked, behind = track_unknown(other, d, r, s, 0.0)
    assert tracked[1:].all()
    assert not behind[len(d) // 2:].any()
    np.testing.assert_allclose(vals[-10:], 0.3 * (d[-10:] - 10.0), atol=0.06)


def test_stays_behind_a_matched_duct_when_nothing_else_is_there():
    """Only a matched duct at those depths: the branch is hidden behind it and takes its coordinate."""
    dd = np.arange(0.0, 30.0, 0.05)
    other = _Samples([(dd, 2.0 + 0.1 * dd, 0.3, True)])
    d, r, s = _branch(5.0, 12.0)
    vals, tracked, behind = track_unknown(other, d, r, s, 2.5)
    assert tracked[1:].all() and behind[1:].all()
    np.testing.assert_allclose(vals[1:], 2.0 + 0.1 * d[1:], atol=0.05)


def test_does_not_hop_to_a_parallel_duct_and_holds_across_a_gap():
    """Two parallel unmatched ducts 1.5 mm apart; the branch starts on the lower one. A stretch of the
    lower one is missing in the other view (depth 14-15): the value is held there, and the track does
    not jump to the upper duct, which is there all along."""
    dd = np.arange(0.0, 30.0, 0.05)
    low = dd[(dd < 14.0) | (dd > 15.0)]
    other = _Samples([(low, np.full(len(low), -1.0), 0.3, False), (dd, np.full(len(dd), 0.5), 0.3, False)])
    d, r, s = _branch(8.0, 20.0)
    vals, tracked, behind = track_unknown(other, d, r, s, -1.0)
    np.testing.assert_allclose(vals, -1.0, atol=1e-9)
    gap = (d > 14.2) & (d < 14.8)
    assert not tracked[gap].any()
    assert tracked[(d > 15.3)].all()


def test_width_must_agree():
    """A candidate far too wide for the branch (a 2 mm duct for a 0.3 mm branch) is not a candidate."""
    dd = np.arange(0.0, 30.0, 0.05)
    other = _Samples([(dd, np.full(len(dd), 4.0), 1.0, False)])
    d, r, s = _branch(5.0, 8.0)
    vals, tracked, _ = track_unknown(other, d, r, s, 1.0)
    assert not tracked.any()
    np.testing.assert_allclose(vals, 1.0)


def test_compiled_loop_gives_the_numpy_loops_choice(monkeypatch):
    """The numba-compiled tracker and its numpy loop choose the same values on random 'other views', with
    repeated coordinates (ties), crowded depths (more candidates than ``max_candidates``) and gaps."""
    import pytest

    from ductree.reconstruct import jit
    from ductree.reconstruct.biplane_track import _track_steps

    if jit.compiled(_track_steps) is None:
        pytest.fail("numba is a dependency: the compiled tracker must be there to be compared")
    rng = np.random.default_rng(11)
    crowded = tracked = 0
    for trial in range(120):
        ducts = []
        for _ in range(int(rng.integers(1, 7))):
            d0 = rng.uniform(0, 10)
            d = np.arange(d0, d0 + rng.uniform(1, 15), 0.1)
            u = np.round(rng.uniform(-3, 3) + np.cumsum(rng.normal(0, 0.05, len(d))), 1)   # ties
            ducts.append((d, u, float(rng.choice([0.2, 0.3, 0.5])), bool(rng.integers(0, 2))))
        if trial % 3 == 0:                               # a duct across the depth axis: many at one depth
            d = np.full(120, rng.uniform(2, 12)) + rng.uniform(-0.05, 0.05, 120)
            ducts.append((d, np.round(np.linspace(-4, 4, 120), 2), 0.3, False))
            crowded += 1
        track = _Samples(ducts)
        dep, rad, s = _branch(0.0, float(rng.uniform(3, 15)), r=float(rng.choice([0.2, 0.3])))
        v0 = float(rng.uniform(-1, 1))
        most = 5 if trial % 2 else 40                    # 5: most steps are crowded
        monkeypatch.delenv("DUCTREE_NO_NUMBA", raising=False)
        fast = track_unknown(track, dep, rad, s, v0, max_candidates=most)
        monkeypatch.setenv("DUCTREE_NO_NUMBA", "1")
        slow = track_unknown(track, dep, rad, s, v0, max_candidates=most)
        for a, b in zip(fast, slow):
            assert np.array_equal(a, b)
        tracked += int(slow[1].sum())
    assert crowded >= 30 and tracked > 1000
