"""Distances from points inside a mask to its boundary, by casting rays through the voxels (LPS mm).

A ray from a point marches through the mask in steps of the smallest voxel
size (so it cannot jump a one-voxel wall of background), sampling the nearest
voxel, until it meets background; the crossing is then bisected to 1/32 of a
step. The
boundary of a mask is the set of voxel faces between foreground and
background, so a ray length is the distance to that face surface: unbiased
for a boundary that a threshold put through the voxel centres (a flat wall at
any position reads right on average).

Two uses:

- :func:`ring_radius`: the duct radius at a centreline point, the median
  length of rays fanned out in the plane perpendicular to the duct (robust to
  a side branch or a bump taking a few rays away);
- :func:`inscribed_radius`: the radius of the largest ball centred at a point
  (shortest ray over directions spread on the sphere).

Everything is vectorised over rays; no distance transform of the volume is
needed, so the cost is proportional to the ray lengths only.

Examples
--------
>>> import numpy as np
>>> from ductree.io.volumes import Volume
>>> k, j, i = np.mgrid[:9, :9, :40]
>>> tube = ((k - 4) ** 2 + (j - 4) ** 2 <= 9).astype(np.uint8)     # radius 3 voxels along i
>>> m = MaskRays(tube, Volume(tube, spacing=(0.1, 0.1, 0.1)))
>>> r = ring_radius(m, np.array([[2.0, 0.4, 0.4]]), np.array([[1.0, 0, 0]]))
>>> bool(abs(r[0] - 0.3) < 0.03)
True
"""

from __future__ import annotations

import math

import numpy as np

from ..io.volumes import Volume


class MaskRays:
    """A mask (non-zero, or equal to a label per ray) ready for ray casting in LPS mm.

    The mask is copied with one voxel of background around its foreground's
    bounding box, so a ray starting inside the box meets background before
    it can leave the copy (a step never moves more than one voxel along an axis).

    Parameters
    ----------
    labels : array (k, j, i)
        The segmentation as laid out in ``volume.array`` (0 = background).
    volume : Volume
        Its geometry.
    lo, hi : 3 ints, optional
        Bounding box (array index, ``hi`` exclusive) of the foreground, if known.
    box : array, optional
        The padded copy itself, already made (shape ``hi - lo + 2``, foreground
        of ``labels[lo:hi]`` at ``[1:-1, 1:-1, 1:-1]``); ``labels`` is then not read.
    """

    def __init__(self, labels: np.ndarray | None, volume: Volume, lo: np.ndarray | None = None,
                 hi: np.ndarray | None = None, box: np.ndarray | None = None) -> None:
        if box is not None and lo is not None:
            self._setup(box, volume, np.asarray(lo, dtype=np.int64))
            return
        a = np.asarray(labels)
        if lo is None or hi is None:
            nz = [np.flatnonzero(a.any(axis=tuple(q for q in range(3) if q != ax))) for ax in range(3)]
            if any(len(x) == 0 for x in nz):
                lo, hi = np.zeros(3, dtype=np.int64), np.ones(3, dtype=np.int64)
            else:
                lo = np.array([x[0] for x in nz])
                hi = np.array([x[-1] + 1 for x in nz])
        lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
        box = np.zeros(tuple(int(n) + 2 for n in (hi - lo)), dtype=a.dtype)
        box[1:-1, 1:-1, 1:-1] = a[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        self._setup(box, volume, lo)

    def _setup(self, box: np.ndarray, volume: Volume, lo: np.ndarray) -> None:
        self.flat = box.reshape(-1)
        self.shape = np.asarray(box.shape, dtype=np.int64)
        self.strides = np.array([box.shape[1] * box.shape[2], box.shape[2], 1], dtype=np.int64)
        self.origin = volume.array_to_lps(lo.astype(float) - 1.0)      # LPS of the copy's voxel (0, 0, 0)
        self.m_inv = np.linalg.inv(volume.array_matrix)            # LPS offset -> array index (k, j, i)
        self.step = float(np.min(volume.spacing))

    def _lin(self, k: np.ndarray, j: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Flat index of the voxel nearest to continuous indices (k, j, i) - 0.5 (truncation rounds)."""
        return k.astype(np.int64) * self.strides[0] + j.astype(np.int64) * self.strides[1] + i.astype(np.int64)

    def _inside(self, lin: np.ndarray, value: np.ndarray | None) -> np.ndarray:
        v = self.flat[lin]
        return (v != 0) if value is None else (v == value)

    def cast(self, points: np.ndarray, dirs: np.ndarray, value: np.ndarray | None = None,
             max_mm: float = 50.0, refine: int = 5, group: np.ndarray | None = None,
             enough: int = 0) -> np.ndarray:
        """Length (mm) of each ray from ``points`` (n, 3, LPS) along unit ``dirs`` (n, 3) to the boundary.

        ``value``: per-ray label the ray must stay in (``None``: any non-zero voxel).
        A ray whose first step is already outside has a length below one step.
        With ``group`` (a group id per ray, ``0..g-1``) and ``enough``, a group's
        rays stop as soon as ``enough`` of them have met the boundary: the
        others are at least as long, and are returned as ``inf`` (what the
        shortest or the median of a group needs is then exact).
        """
        n = len(points)
        out = np.full(n, float(max_mm))
        if n == 0:
            return out
        # continuous array index + 0.5 (so that truncation rounds), and the index step per mm, per axis
        p0 = (np.asarray(points, dtype=float) - self.origin) @ self.m_inv.T
        # start inside the padding (a first step then stays in the copy), + 0.5 so that truncation rounds
        p0 = np.clip(p0, 1.0, self.shape - 2.0) + 0.5
        dk = np.asarray(dirs, dtype=float) @ self.m_inv.T
        pk, pj, pi = (np.ascontiguousarray(p0[:, q]) for q in range(3))
        dkk, dkj, dki = (np.ascontiguousarray(dk[:, q]) for q in range(3))
        val = None if value is None else np.asarray(value)
        step = self.step
        ids = np.arange(n)
        ak, aj, ai, bk, bj, bi, av = pk, pj, pi, dkk, dkj, dki, val
        stop = group is not None and enough > 0
        if stop:
            grp = np.asarray(group, dtype=np.int64)
            hits = np.zeros(int(grp.max()) + 1, dtype=np.int64)
            ag = grp
        for s in range(1, int(math.ceil(max_mm / step)) + 1):
            t = s * step
            ins = self._inside(self._lin(ak + t * bk, aj + t * bj, ai + t * bi), av)
            if ins.all():
                continue
            out[ids[~ins]] = t
            if stop:
                hits += np.bincount(ag[~ins], minlength=len(hits))
                done = ins & (hits[ag] >= enough)             # still inside, but its group has enough
                out[ids[done]] = np.inf
                ins &= ~done
            ids = ids[ins]
            if not len(ids):
                break
            ak, aj, ai, bk, bj, bi = ak[ins], aj[ins], ai[ins], bk[ins], bj[ins], bi[ins]
            av = None if av is None else av[ins]
            if stop:
                ag = ag[ins]
        # bisect each crossing between the last sample inside (or the start) and the first outside
        idx = np.flatnonzero(out < max_mm)
        hi = out[idx]
        lo = np.maximum(hi - step, 0.0)
        ak, aj, ai, bk, bj, bi = pk[idx], pj[idx], pi[idx], dkk[idx], dkj[idx], dki[idx]
        av = None if val is None else val[idx]
        for _ in range(refine):
            mid = 0.5 * (lo + hi)
            ins = self._inside(self._lin(ak + mid * bk, aj + mid * bj, ai + mid * bi), av)
            lo = np.where(ins, mid, lo)
            hi = np.where(ins, hi, mid)
        out[idx] = 0.5 * (lo + hi)
        return out


def perpendicular_basis(tangents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to each unit tangent (n, 3) and to each other."""
    t = np.asarray(tangents, dtype=float)
    t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    helper = np.where(np.abs(t[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    e1 = np.cross(t, helper)
    e1 /= np.maximum(np.linalg.norm(e1, axis=1, keepdims=True), 1e-12)
    e2 = np.cross(t, e1)
    return e1, e2


def ring_radius(rays: MaskRays, points: np.ndarray, tangents: np.ndarray, value: np.ndarray | None = None,
                n_rays: int = 16, max_mm: float = 50.0) -> np.ndarray:
    """Duct radius (mm) at centreline points: median ray length in the plane perpendicular to the tangent."""
    n = len(points)
    if n == 0:
        return np.zeros(0)
    e1, e2 = perpendicular_basis(tangents)
    ang = (np.arange(n_rays) + 0.5) * (2 * np.pi / n_rays)
    d = (np.cos(ang)[None, :, None] * e1[:, None, :] + np.sin(ang)[None, :, None] * e2[:, None, :]).reshape(-1, 3)
    p = np.repeat(np.asarray(points, dtype=float), n_rays, axis=0)
    v = None if value is None else np.repeat(np.asarray(value), n_rays)
    group = np.repeat(np.arange(n), n_rays)
    lengths = rays.cast(p, d, v, max_mm=max_mm, group=group, enough=n_rays // 2 + 1).reshape(n, n_rays)
    return np.median(lengths, axis=1)


def sphere_directions(n: int = 62) -> np.ndarray:
    """``n`` unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = np.pi * (1 + 5 ** 0.5) * k
    s = np.sqrt(1 - z * z)
    return np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)


def inscribed_radius(rays: MaskRays, points: np.ndarray, value: np.ndarray | None = None,
                     n_rays: int = 62, max_mm: float = 50.0) -> np.ndarray:
    """Radius (mm) of the largest ball centred at each point inside the mask (shortest of ``n_rays`` rays)."""
    n = len(points)
    if n == 0:
        return np.zeros(0)
    d = np.tile(sphere_directions(n_rays), (n, 1))
    p = np.repeat(np.asarray(points, dtype=float), n_rays, axis=0)
    v = None if value is None else np.repeat(np.asarray(value), n_rays)
    group = np.repeat(np.arange(n), n_rays)
    return rays.cast(p, d, v, max_mm=max_mm, group=group, enough=1).reshape(n, n_rays).min(axis=1)
