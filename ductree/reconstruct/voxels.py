"""Sparse work on a segmentation mask: foreground voxels, pinholes, components and dust.

A breast volume holds ~100 million voxels of which ~1 % are duct; everything
here works on the foreground's flat indices and never makes a pass over the
whole grid beyond one scan for the foreground itself (:func:`foreground`),
which reads the array eight bytes at a time.

Examples
--------
>>> import numpy as np
>>> a = np.zeros((3, 4, 5), np.uint8); a[1, 2, 3] = 1; a[2, 0, 0] = 7
>>> foreground(a).tolist()
[33, 40]
"""

from __future__ import annotations

import numpy as np


def foreground(labels: np.ndarray) -> np.ndarray:
    """Sorted flat indices (int64) of the non-zero voxels of an integer or boolean array."""
    a = np.ascontiguousarray(labels).reshape(-1)
    size = a.itemsize
    if a.dtype.kind not in "biu" or size > 8 or 8 % size:
        return np.flatnonzero(a)
    per = 8 // size
    n8 = a.size - a.size % per
    words = a[:n8].view(np.uint64)
    nzw = np.flatnonzero(words)                               # words holding any foreground
    sub = a[:n8].reshape(-1, per)[nzw]                        # (m, per) their elements
    hit = np.flatnonzero(sub.reshape(-1))
    idx = nzw[hit // per] * per + hit % per
    if n8 < a.size:
        idx = np.concatenate([idx, n8 + np.flatnonzero(a[n8:])])
    return idx.astype(np.int64, copy=False)


def sparse_zeros(shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
    """A zeroed array meant to be written sparsely (a grid around a few foreground voxels).

    Large ones come from an anonymous memory map: the kernel hands out zero
    pages only where something is written, and, unlike numpy's own large
    allocations, no huge pages are requested, whose compaction on every first
    touch can make scattered writes several times slower.
    """
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if n < (16 << 20):
        return np.zeros(shape, dtype=dtype)
    import mmap

    return np.frombuffer(mmap.mmap(-1, n), dtype=dtype).reshape(shape)


def fill_pinholes(grid: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """Fill background voxels enclosed on all six faces (one-voxel cavities) of a padded 0/1 grid, in place.

    ``fg``: flat indices of the grid's foreground. Returns the flat indices filled.
    """
    flat = grid.reshape(-1)
    s0, s1 = grid.shape[1] * grid.shape[2], grid.shape[2]
    # a pinhole has foreground below it (-k): it is the voxel above some foreground voxel, once each
    c = fg + s0
    c = c[(c < (grid.shape[0] - 1) * s0)]
    c = c[flat[c] == 0]
    for f in (s0, s1, -s1, 1, -1):
        c = c[flat[c + f] == 1]
    flat[c] = 1
    return c


def small_components(box: np.ndarray, seeds: list[np.ndarray], values: list[int | None],
                     limit: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Voxel counts of the 26-connected mask components holding each set of seed voxels, all at once.

    Each component grows breadth-first from its seeds (flat indices into the
    padded ``box``, whose outer layer is 0) through voxels that are non-zero,
    or equal to its value, and stops once it holds ``limit`` voxels. Returns
    the counts (capped at ``limit``) and, for a component under the cap, the
    flat indices of its voxels (empty otherwise).
    """
    n = len(seeds)
    counts = np.zeros(n, dtype=np.int64)
    if n == 0:
        return counts, []
    flat = box.reshape(-1)
    strides = np.array([box.shape[1] * box.shape[2], box.shape[2], 1], dtype=np.int64)
    offs = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)
                     if (a, b, c) != (0, 0, 0)], dtype=np.int64) @ strides
    val = None if all(v is None for v in values) else np.array([0 if v is None else v for v in values])
    comp = np.repeat(np.arange(n), [len(q) for q in seeds])
    vox = np.concatenate(seeds).astype(np.int64)
    vox, first = np.unique(vox, return_index=True)
    comp = comp[first]
    members_vox, members_comp = [vox], [comp]
    counts += np.bincount(comp, minlength=n)
    seen_arr = vox
    frontier, fcomp = vox, comp
    while len(frontier):
        keep = counts[fcomp] < limit
        frontier, fcomp = frontier[keep], fcomp[keep]
        if not len(frontier):
            break
        nb = (frontier[:, None] + offs[None, :]).reshape(-1)
        nc = np.repeat(fcomp, len(offs))
        v = flat[nb]
        ok = (v != 0) if val is None else (v == val[nc])
        nb, nc = nb[ok], nc[ok]
        nb, first = np.unique(nb, return_index=True)
        nc = nc[first]
        old = np.isin(nb, seen_arr, assume_unique=True)
        nb, nc = nb[~old], nc[~old]
        seen_arr = np.union1d(seen_arr, nb)
        counts += np.bincount(nc, minlength=n)
        members_vox.append(nb)
        members_comp.append(nc)
        frontier, fcomp = nb, nc
    allv, allc = np.concatenate(members_vox), np.concatenate(members_comp)
    order = np.argsort(allc, kind="stable")
    bounds = np.searchsorted(allc[order], np.arange(n + 1))
    out = []
    for c in range(n):
        out.append(allv[order[bounds[c]:bounds[c + 1]]] if counts[c] < limit else np.zeros(0, dtype=np.int64))
    return np.minimum(counts, limit), out
