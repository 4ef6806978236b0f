"""Voxelize a ductal tree into a segmentation mask: the simulated input of a 3D reconstruction.

The duct lumen is the union of *round cones*: for every edge (parent -> child)
the points whose distance to the segment is below the radius interpolated
linearly along it (rounded ends, so tips are hemispherical caps). The mask
is built on a grid of chosen spacing (anisotropic allowed) and direction
matrix (an oblique grid when it is not the identity), placed in patient LPS
so that ``p_LPS = nipple_LPS + p_BF``.

Realistic defects (:class:`Defects`), all seeded:

- **partial volume**: a boundary voxel is foreground when the duct fills more
  than half of it, estimated from the signed distance at its centre over the
  voxel's width along the surface normal, plus a little Gaussian noise on
  that fraction, so boundaries are ragged as a thresholded scan's are; the
  voxels the centreline passes through are always kept (a thresholded
  segmentation of a visible duct is never broken);
- **holes**: small cavities inside thick ducts and dents in their walls;
- **bumps**: small hemispherical bulges on duct walls (which must not become
  branches);
- **dust**: isolated specks of one to a few voxels away from the ducts
  (which must be dropped and counted).

Everything is vectorised per segment over the voxels of its bounding box.

Examples
--------
>>> from ductree.tree import DuctTree
>>> t = DuctTree.from_arrays([[0, 0, 0], [0, 5, 0]], [1.0, 1.0], [-1, 0])
>>> vol = voxelize_tree(t, 0.25, defects=Defects.none())
>>> abs(float(vol.array.sum()) * 0.25 ** 3 - 19.9) < 1.0   # pi r^2 L + 4/3 pi r^3 = 19.9 mm^3
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..io.volumes import Volume
from ..tree import DuctTree


@dataclass(frozen=True)
class Defects:
    """What imperfections the simulated mask gets (counts are per 100 mm of duct)."""

    partial_volume: bool = True
    noise: float = 0.08          #: SD of the noise on the partial-volume fraction (0..1)
    holes_per_100mm: float = 1.0
    bumps_per_100mm: float = 1.0
    dust_per_100mm: float = 1.0
    min_hole_radius_vox: float = 2.5   #: holes and bumps only on ducts at least this thick (voxels)

    @classmethod
    def none(cls) -> "Defects":
        """A clean mask: voxel centres inside the ducts, nothing else."""
        return cls(partial_volume=False, noise=0.0, holes_per_100mm=0.0, bumps_per_100mm=0.0, dust_per_100mm=0.0)


def oblique_direction(angles_deg: Sequence[float] = (20.0, 10.0, 15.0)) -> np.ndarray:
    """A rotation matrix (direction cosines, columns = image axes in LPS) from Euler angles x, y, z (deg)."""
    ax, ay, az = (math.radians(a) for a in angles_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _spacing3(spacing_mm: float | Sequence[float]) -> np.ndarray:
    s = np.asarray([spacing_mm] * 3 if np.isscalar(spacing_mm) else spacing_mm, dtype=float).reshape(-1)
    if s.shape != (3,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise InputError(f"spacing must be 1 or 3 numbers > 0 (mm), got {spacing_mm!r}", key="spacing")
    return s


def _edges(tree: DuctTree, pos_lps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segment end points and radii (parent -> child, plus anastomoses, plus lone nodes as spheres)."""
    par = tree.parent_index
    rad = tree.radii
    kids = np.flatnonzero(par >= 0)
    a, b = pos_lps[par[kids]], pos_lps[kids]
    ra, rb = rad[par[kids]], rad[kids]
    idx = tree.index
    ana = tree.anastomoses()
    if ana:
        u = np.array([idx[x] for x, _ in ana])
        v = np.array([idx[y] for _, y in ana])
        a, b = np.vstack([a, pos_lps[u]]), np.vstack([b, pos_lps[v]])
        ra, rb = np.concatenate([ra, rad[u]]), np.concatenate([rb, rad[v]])
    lone = np.flatnonzero((par < 0) & (np.bincount(par[kids], minlength=len(par)) == 0))
    if len(lone):
        a, b = np.vstack([a, pos_lps[lone]]), np.vstack([b, pos_lps[lone]])
        ra, rb = np.concatenate([ra, rad[lone]]), np.concatenate([rb, rad[lone]])
    return a, b, ra, rb


def voxelize_tree(
    tree: DuctTree,
    spacing_mm: float | Sequence[float] = 0.1,
    *,
    direction: np.ndarray | None = None,
    nipple_lps: Sequence[float] | None = None,
    margin_mm: float = 1.0,
    defects: Defects | None = None,
    seed: int = 0,
    max_voxels: int = 600_000_000,
) -> Volume:
    """Voxelize a tree (BF mm) into a 0/1 ``uint8`` mask volume in LPS.

    Parameters
    ----------
    tree : DuctTree
        The tree; its lumen is the union of round cones along its edges.
    spacing_mm : float or 3 floats
        Voxel size along the image axes i, j, k (mm).
    direction : (3, 3) array, optional
        Direction cosines (columns = LPS direction of i, j, k); identity by
        default. :func:`oblique_direction` makes an oblique one.
    nipple_lps : 3 floats, optional
        The nipple's LPS position (default ``tree.graph["nipple_lps"]`` or the
        origin); the mask lands at ``nipple_lps + p_BF``.
    margin_mm : float
        Background margin around the tree.
    defects : Defects, optional
        Partial volume, noise, holes, bumps, dust (default :class:`Defects()`).
    seed : int
        Seed of every random defect.
    max_voxels : int
        Refuse grids larger than this (an :class:`InputError`), to protect memory.

    Returns
    -------
    Volume
        ``uint8`` 0/1 array in SimpleITK order with spacing, origin and direction.
    """
    tree.validate()
    s = _spacing3(spacing_mm)
    d = np.eye(3) if direction is None else np.asarray(direction, dtype=float).reshape(3, 3)
    if not np.allclose(d.T @ d, np.eye(3), atol=1e-6):
        raise InputError("direction must be a rotation matrix (orthonormal columns)", key="direction")
    df = defects if defects is not None else Defects()
    rng = np.random.default_rng(seed)
    nip = np.asarray(nipple_lps if nipple_lps is not None else tree.graph.get("nipple_lps") or (0.0, 0.0, 0.0),
                     dtype=float)
    pos = np.asarray(tree.positions, dtype=float) + nip
    a, b, ra, rb = _edges(tree, pos)
    rmax = float(tree.radii.max())

    # grid: axes along the direction columns; bounds of all round cones in image coordinates (mm)
    img = pos @ d                      # coordinates along i, j, k axes (mm, relative to LPS origin)
    lo = img.min(axis=0) - rmax - margin_mm
    hi = img.max(axis=0) + rmax + margin_mm
    size_ijk = np.ceil((hi - lo) / s).astype(np.int64) + 1
    n_vox = int(np.prod(size_ijk))
    if n_vox > max_voxels:
        raise InputError(f"the grid would hold {n_vox:,} voxels (more than {max_voxels:,}); use a coarser spacing",
                         key="spacing")
    origin = d @ lo                    # LPS of voxel (0, 0, 0)
    vol = Volume(np.zeros(tuple(size_ijk[::-1]), dtype=np.uint8), spacing=tuple(s), origin=tuple(origin),
                 direction=d)
    m_inv = np.linalg.inv(vol.array_matrix)      # LPS offset -> array index (k, j, i)
    mat = vol.array_matrix
    shape = np.asarray(vol.array.shape)
    arr = vol.array
    asp = vol.array_spacing                       # spacing along k, j, i
    h_normal = float(np.mean(s))                  # voxel width used for the partial-volume fraction

    # noise field values are drawn per voxel on demand (hash of the flat index) so that
    # overlapping segments see the same value for the same voxel
    noise_key = np.uint64(rng.integers(1, 2**62))

    def noise_at(flat: np.ndarray) -> np.ndarray:
        if df.noise <= 0:
            return np.zeros(len(flat))
        x = flat.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + noise_key
        x ^= x >> np.uint64(31)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(29)
        u1 = (x >> np.uint64(11)).astype(np.float64) / float(2**53)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(32)
        u2 = (x >> np.uint64(11)).astype(np.float64) / float(2**53)
        return df.noise * np.sqrt(-2.0 * np.log(np.maximum(u1, 1e-300))) * np.cos(2 * np.pi * u2)

    def paint(pa: np.ndarray, pb: np.ndarray, r_a: float, r_b: float, value: int = 1) -> None:
        """Set (value=1) or clear (value=0) the voxels of one round cone."""
        ka, kb = (pa - origin) @ m_inv.T, (pb - origin) @ m_inv.T
        rr = max(r_a, r_b) + (h_normal if df.partial_volume else 0.0)
        ext = rr / asp
        lo_i = np.maximum(np.floor(np.minimum(ka, kb) - ext).astype(np.int64), 0)
        hi_i = np.minimum(np.ceil(np.maximum(ka, kb) + ext).astype(np.int64), shape - 1)
        if np.any(hi_i < lo_i):
            return
        g0, g1, g2 = (np.arange(lo_i[q], hi_i[q] + 1) for q in range(3))
        kk, jj, ii = np.meshgrid(g0, g1, g2, indexing="ij")
        idx = np.stack([kk.ravel(), jj.ravel(), ii.ravel()], axis=1)
        p = origin + idx @ mat.T
        ab = pb - pa
        den = float(ab @ ab)
        t = np.clip(((p - pa) @ ab) / den, 0.0, 1.0) if den > 0 else np.zeros(len(p))
        dist = np.linalg.norm(p - (pa + t[:, None] * ab), axis=1)
        sd = dist - (r_a + t * (r_b - r_a))
        if df.partial_volume:
            flat = np.ravel_multi_index(idx.T, arr.shape)
            frac = np.clip(0.5 - sd / h_normal, 0.0, 1.0) + noise_at(flat)
            inside = frac > 0.5
        else:
            inside = sd <= 0
        if not inside.any():
            return
        sel = idx[inside]
        arr[sel[:, 0], sel[:, 1], sel[:, 2]] = value

    for q in range(len(a)):
        paint(a[q], b[q], float(ra[q]), float(rb[q]))

    # the voxels each centreline passes through are always foreground
    seg = np.linalg.norm(b - a, axis=1)
    step = 0.4 * float(s.min())
    n = np.maximum(1, np.ceil(seg / step).astype(np.int64)) + 1
    e = np.repeat(np.arange(len(a)), n)
    start = np.repeat(np.cumsum(n) - n, n)
    t = (np.arange(len(e)) - start) / np.maximum(n[e] - 1, 1)
    pts = a[e] + t[:, None] * (b - a)[e]
    kji = np.clip(np.rint((pts - origin) @ m_inv.T).astype(np.int64), 0, shape - 1)
    arr[kji[:, 0], kji[:, 1], kji[:, 2]] = 1

    total_mm = float(seg.sum())
    _add_defects(arr, vol, tree, pos, df, rng, total_mm, paint)
    vol.array = arr
    return vol


def _add_defects(arr: np.ndarray, vol: Volume, tree: DuctTree, pos: np.ndarray, df: Defects,
                 rng: np.random.Generator, total_mm: float, paint) -> None:
    """Holes, bumps and dust, placed on nodes of ducts thick enough to carry them."""
    s_min = float(min(vol.spacing))
    rad = tree.radii
    par = tree.parent_index
    thick = np.flatnonzero((rad >= df.min_hole_radius_vox * s_min) & (par >= 0))
    per = total_mm / 100.0

    def directions(k: int) -> np.ndarray:
        v = rng.normal(size=(k, 3))
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def perpendicular(rows: np.ndarray) -> np.ndarray:
        t = pos[rows] - pos[par[rows]]
        t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
        v = directions(len(rows))
        v -= (v * t).sum(axis=1, keepdims=True) * t
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    n_holes = rng.poisson(df.holes_per_100mm * per) if len(thick) else 0
    if n_holes:
        rows = rng.choice(thick, size=n_holes)
        out = perpendicular(rows)
        for row, o in zip(rows, out):
            r = rad[row]
            hole_r = rng.uniform(0.8, 1.5) * s_min
            where = rng.uniform(0.0, 1.0) * r  # from a cavity near the axis to a dent in the wall
            c = pos[row] + o * where
            paint(c, c, hole_r, hole_r, value=0)
    n_bumps = rng.poisson(df.bumps_per_100mm * per) if len(thick) else 0
    if n_bumps:
        rows = rng.choice(thick, size=n_bumps)
        out = perpendicular(rows)
        for row, o in zip(rows, out):
            r = rad[row]
            c = pos[row] + o * r
            br = rng.uniform(0.3, 0.6) * r
            paint(c, c, br, br, value=1)
    n_dust = rng.poisson(df.dust_per_100mm * per)
    if n_dust:
        # specks 1-3 voxels across, 3-8 radii away from a random node
        rows = rng.choice(len(pos), size=n_dust)
        out = directions(n_dust)
        m_inv = np.linalg.inv(vol.array_matrix)
        shape = np.asarray(arr.shape)
        for row, o in zip(rows, out):
            c = pos[row] + o * (rad[row] * rng.uniform(3.0, 8.0) + 4 * s_min)
            kji = np.rint((c - np.asarray(vol.origin)) @ m_inv.T).astype(np.int64)
            size = rng.integers(1, 3)
            lo = np.clip(kji, 0, shape - 1)
            hi = np.clip(kji + size, 0, shape)
            # only into empty space, so dust never touches a duct
            k0, j0, i0 = np.maximum(lo - 2, 0)
            k1, j1, i1 = np.minimum(hi + 2, shape)
            if not arr[k0:k1, j0:j1, i0:i1].any():
                arr[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = 1


#: where a simulated volume puts the nipple, per breast (LPS mm): a plausible spot in a prone breast CT
DEFAULT_NIPPLE_LPS = {"R": (-90.0, -110.0, 40.0), "L": (90.0, -110.0, 40.0)}

VOLUME_FILE = "seg.nii.gz"
VOLUME_TRUTH_FILE = "seg_truth.json"
VOLUME_CASE_FILE = "case_volume.toml"


def simulate_volume(case_dir, tree: DuctTree, lesions: list, seed: int = 0, *,
                    spacing_mm: float | Sequence[float] = 0.2, oblique: bool = False,
                    direction: np.ndarray | None = None, nipple_lps: Sequence[float] | None = None,
                    defects: Defects | None = None, filename: str = VOLUME_FILE, **options) -> list:
    """The ``volume`` simulator of :data:`ductree.phantom.simulate.SIMULATORS`.

    Voxelizes the phantom (with :class:`Defects`) and writes into ``case_dir``:

    - ``seg.nii.gz``: the 0/1 mask, in LPS, nipple at ``nipple_lps``
      (default :data:`DEFAULT_NIPPLE_LPS` for the tree's side);
    - ``seg_truth.json``: the ground-truth tree (``tree.json`` format) with
      ``graph.nipple_lps``, so a reconstruction can be scored in LPS;
    - ``case_volume.toml``: the case with ``[source] volume`` and the nipple
      (what a user who marked the nipple would write).

    ``oblique=True`` uses :func:`oblique_direction` for the grid. Returns the paths written.
    """
    from pathlib import Path

    from ..atomic import write_text
    from ..io import write_tree
    from ..io.volumes import write_volume
    from .case import case_toml_dict, case_toml_text

    folder = Path(case_dir)
    lat = tree.laterality or "R"
    nip = tuple(float(v) for v in (nipple_lps if nipple_lps is not None else DEFAULT_NIPPLE_LPS[lat]))
    if direction is None and oblique:
        direction = oblique_direction()
    vol = voxelize_tree(tree, spacing_mm, direction=direction, nipple_lps=nip, defects=defects, seed=seed,
                        **options)
    vol_path = write_volume(vol, folder / filename)
    truth = tree.copy()
    truth.graph["nipple_lps"] = list(nip)
    truth_path = folder / VOLUME_TRUTH_FILE
    write_tree(truth, truth_path)
    data = case_toml_dict(folder.name or "phantom", lat, float(tree.graph.get("breast_depth_mm", 100.0)),
                          list(lesions))
    data["nipple_lps"] = list(nip)
    data["source"] = {"volume": filename}
    case_path = write_text(folder / VOLUME_CASE_FILE, case_toml_text(data))
    return [vol_path, truth_path, case_path]
