"""Clearance bookkeeping for the phantom generator: which duct segments are already placed.

Every placed duct is a chain of straight segments (tubes whose radius is the
larger of their two end radii, so the check errs on the safe side). A new
candidate segment is tested against the placed ones with an exact
segment-to-segment distance; the neighbours come from a scipy ``cKDTree`` over
segment midpoints, rebuilt every few hundred segments, plus a brute-force
look at the few segments added since the last rebuild.

Ducts that meet at a junction ``J`` (a parent and its two children) are
allowed to touch near it: a pair is exempt when one of the two segments lies
entirely inside the ball of radius ``ex`` around ``J``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def segment_distance(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Shortest distances between segments ``p1-q1`` and ``p2-q2``, row by row (mm).

    Parameters
    ----------
    p1, q1, p2, q2 : (M, 3) arrays
        End points of the two segments of each pair.

    Returns
    -------
    (M,) array of distances.

    Examples
    --------
    >>> import numpy as np
    >>> float(segment_distance(np.array([[0., 0, 0]]), np.array([[2., 0, 0]]),
    ...                        np.array([[1., 1, -1]]), np.array([[1., 1, 1]]))[0])
    1.0
    """
    d1 = q1 - p1
    d2 = q2 - p2
    r = p1 - p2
    a = np.einsum("ij,ij->i", d1, d1)
    e = np.einsum("ij,ij->i", d2, d2)
    f = np.einsum("ij,ij->i", d2, r)
    c = np.einsum("ij,ij->i", d1, r)
    b = np.einsum("ij,ij->i", d1, d2)
    a_safe = np.maximum(a, 1e-18)
    e_safe = np.maximum(e, 1e-18)
    denom = a * e - b * b
    general = denom > 1e-12 * a_safe * e_safe
    s = np.where(general, (b * f - c * e) / np.where(general, denom, 1.0), 0.0)
    s = np.minimum(np.maximum(s, 0.0), 1.0)
    t = (b * s + f) / e_safe
    below = t < 0.0
    above = t > 1.0
    s_below = np.minimum(np.maximum(-c / a_safe, 0.0), 1.0)
    s_above = np.minimum(np.maximum((b - c) / a_safe, 0.0), 1.0)
    s = np.where(below, s_below, np.where(above, s_above, s))
    t = np.minimum(np.maximum(t, 0.0), 1.0)
    diff = r + d1 * s[:, None] - d2 * t[:, None]
    return np.sqrt(np.einsum("ij,ij->i", diff, diff))


class SegmentSpace:
    """The placed duct segments, queried for clearance.

    Parameters
    ----------
    clearance_mm : float
        Minimum gap between the surfaces of two ducts that do not meet.
    rebuild_every : int
        Segments added between two rebuilds of the KD-tree.
    """

    def __init__(self, clearance_mm: float, rebuild_every: int = 1500) -> None:
        self.clearance = float(clearance_mm)
        self.rebuild_every = int(rebuild_every)
        cap = 1024
        self.a = np.empty((cap, 3))
        self.b = np.empty((cap, 3))
        self.mid = np.empty((cap, 3))
        self.r = np.empty(cap)
        self.half = np.empty(cap)
        self.branch = np.empty(cap, dtype=np.int64)
        self.n = 0
        self.n_built = 0
        self.kd: cKDTree | None = None
        self.half_max = 0.0
        self.r_max = 0.0

    def __len__(self) -> int:
        return self.n

    def add(self, a: np.ndarray, b: np.ndarray, r: np.ndarray, branch: np.ndarray | int) -> slice:
        """Add segments ``a[i]-b[i]`` with tube radius ``r[i]`` belonging to ``branch``; return their slice."""
        m = len(a)
        need = self.n + m
        if need > len(self.r):
            cap = max(need, 2 * len(self.r))
            for name in ("a", "b", "mid", "r", "half", "branch"):
                old = getattr(self, name)
                new = np.empty((cap,) + old.shape[1:], dtype=old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        sl = slice(self.n, need)
        self.a[sl] = a
        self.b[sl] = b
        self.mid[sl] = 0.5 * (a + b)
        self.r[sl] = r
        self.branch[sl] = branch
        self.n = need
        half = 0.5 * np.sqrt(np.einsum("ij,ij->i", b - a, b - a))
        self.half[sl] = half
        self.half_max = max(self.half_max, float(half.max()))
        self.r_max = max(self.r_max, float(np.max(r)))
        if self.n - self.n_built >= self.rebuild_every:
            self.kd = cKDTree(self.mid[: self.n])
            self.n_built = self.n
        return sl

    def set_radius(self, sl: slice, r: np.ndarray) -> None:
        """Change the tube radii of segments added earlier (``sl`` from :meth:`add`)."""
        self.r[sl] = r
        self.r_max = max(self.r_max, float(np.max(r)))

    def near(self, center: np.ndarray, radius: float) -> np.ndarray:
        """Indices of placed segments whose midpoints lie within ``radius`` mm of ``center``."""
        parts = []
        if self.kd is not None and self.n_built:
            parts.append(np.asarray(self.kd.query_ball_point(center, radius, return_sorted=False),
                                    dtype=np.int64))
        if self.n > self.n_built:
            tail = self.mid[self.n_built: self.n] - center
            parts.append(np.flatnonzero(np.einsum("ij,ij->i", tail, tail) <= radius * radius) + self.n_built)
        if not parts:
            return np.empty(0, dtype=np.int64)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def violations(
        self,
        a: np.ndarray,
        b: np.ndarray,
        r: np.ndarray,
        parent_branch: np.ndarray,
        junction: np.ndarray,
        exempt_radius: np.ndarray,
        in_ball: np.ndarray,
    ) -> np.ndarray:
        """Which candidate segments come closer than the clearance to a placed segment.

        Parameters
        ----------
        a, b : (M, 3)
            Candidate segment ends (BF mm).
        r : (M,)
            Candidate tube radii (mm).
        parent_branch : (M,)
            The placed branch each candidate leaves from (-1 for a main duct).
        junction, exempt_radius : (M, 3), (M,)
            The junction it leaves from and its exemption ball radius.
        in_ball : (M,)
            Whether the candidate segment lies entirely inside that ball.

        Returns
        -------
        (M,) bool, True where the segment is too close to something.
        """
        out = np.zeros(len(a), dtype=bool)
        if self.n == 0 or len(a) == 0:
            return out
        mid = 0.5 * (a + b)
        half = 0.5 * np.sqrt(((b - a) ** 2).sum(1))
        center = mid.mean(axis=0)
        span = float((np.sqrt(((mid - center) ** 2).sum(1)) + half + r).max())
        cand = self.near(center, span + self.half_max + self.r_max + self.clearance)
        if len(cand) == 0:
            return out
        # Midpoint prefilter with the exact per-pair bound, then the exact segment distance.
        omid = self.mid[cand]
        ohalf = self.half[cand]
        d2 = ((mid[:, None, :] - omid[None, :, :]) ** 2).sum(-1)
        reach = (half + r + self.clearance)[:, None] + (ohalf + self.r[cand])[None, :]
        i, jc = np.nonzero(d2 <= reach * reach)
        if len(i) == 0:
            return out
        j = cand[jc]
        d = segment_distance(a[i], b[i], self.a[j], self.b[j])
        bad = d < r[i] + self.r[j] + self.clearance
        if not bad.any():
            return out
        i, j = i[bad], j[bad]
        same = self.branch[j] == parent_branch[i]
        if same.any():
            jj = self.a[j], self.b[j]
            ex2 = exempt_radius[i] ** 2
            other_in = (((jj[0] - junction[i]) ** 2).sum(1) <= ex2) & (((jj[1] - junction[i]) ** 2).sum(1) <= ex2)
            exempt = same & (in_ball[i] | other_in)
            i = i[~exempt]
        out[i] = True
        return out
