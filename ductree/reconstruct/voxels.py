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


def component_sizes_local(labels: np.ndarray, seeds: np.ndarray, value: int | None, limit: int) -> tuple[int, np.ndarray]:
    """Voxel count of the 26-connected component of ``labels`` holding the seed voxels, if under ``limit``.

    ``seeds`` (n, 3) are array indices (k, j, i) of one component. Only a box
    ``limit`` voxels around them is labelled: a component reaching that far
    holds at least ``limit`` voxels, and ``(limit, empty)`` is returned.
    Otherwise ``(count, flat indices of its voxels)``.
    """
    import cc3d

    shape = np.asarray(labels.shape)
    lo = np.maximum(seeds.min(axis=0) - limit, 0)
    hi = np.minimum(seeds.max(axis=0) + limit + 1, shape)
    box = labels[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    m = (box != 0) if value is None else (box == value)
    lab = cc3d.connected_components(np.ascontiguousarray(m.view(np.uint8)), connectivity=26)
    s = seeds[0] - lo
    own = lab[s[0], s[1], s[2]]
    where = np.argwhere(lab == own)
    touches = False
    for q in range(3):
        if (lo[q] > 0 and where[:, q].min() == 0) or (hi[q] < shape[q] and where[:, q].max() == box.shape[q] - 1):
            touches = True
    if touches or len(where) >= limit:
        return max(len(where), limit), np.zeros(0, dtype=np.int64)
    flat = np.ravel_multi_index(tuple((where + lo).T), labels.shape)
    return len(where), flat
