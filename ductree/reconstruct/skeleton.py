"""Curve skeleton of a 3D binary mask by topology-preserving parallel thinning, in numpy.

The thinning peels one layer per direction (up, down, north, south, east,
west) per pass and repeats until nothing changes. A direction pass takes the
voxels exposed in that direction at its start and deletes, in eight
sub-fields (voxels of equal index parity, never 26-adjacent to each other,
so deleting simple points of one sub-field in parallel preserves topology),
those that are *simple* (26-connected foreground / 6-connected background)
and not curve end points (exactly one foreground neighbour). The result is a
one-voxel-thin 26-connected curve skeleton with the topology of the mask.

Whether a 3x3x3 configuration is simple is decided with bit-parallel flood
fills over the 26-bit neighbourhood code, computed only for the codes that
occur and memoised in a lookup table of 2**26 bytes shared by every call.

Work is proportional to the voxels near the surface at each pass, never to
the whole grid, and everything is vectorised over voxels.
"""

from __future__ import annotations

import numpy as np

# the 26 neighbour offsets (dk, dj, di), bit b = OFFSETS[b]
OFFSETS = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)
                    if (a, b, c) != (0, 0, 0)], dtype=np.int64)
_CHEB = np.abs(OFFSETS[:, None, :] - OFFSETS[None, :, :]).max(axis=2)
_MANH = np.abs(OFFSETS[:, None, :] - OFFSETS[None, :, :]).sum(axis=2)
_N18 = np.abs(OFFSETS).sum(axis=1) <= 2
_FACE = np.abs(OFFSETS).sum(axis=1) == 1


def _bits(mask_rows: np.ndarray) -> np.ndarray:
    return (mask_rows.astype(np.uint64) << np.arange(26, dtype=np.uint64)).sum(axis=-1).astype(np.uint32)


#: for each neighbour position, the positions 26-adjacent to it (within the 26-neighbourhood)
_ADJ26 = _bits((_CHEB == 1))
#: for each position in N18, the N18 positions 6-adjacent to it
_ADJ6_18 = _bits((_MANH == 1) & _N18[None, :] & _N18[:, None])
_N18_MASK = np.uint32(_bits(_N18[None, :])[0])
_FACE_MASK = np.uint32(_bits(_FACE[None, :])[0])

_LUT: np.ndarray | None = None   # 0 unknown, 1 simple, 2 not simple


def _lowest_bit(x: np.ndarray) -> np.ndarray:
    return x & (~x + np.uint32(1))


def _flood(seed: np.ndarray, allowed: np.ndarray, adj: np.ndarray) -> np.ndarray:
    comp = seed & allowed
    while True:
        grown = comp.copy()
        for b in range(26):
            if adj[b]:
                has = ((comp >> np.uint32(b)) & np.uint32(1)).astype(bool)
                grown[has] |= adj[b]
        grown &= allowed
        if np.array_equal(grown, comp):
            return comp
        comp = grown


def is_simple(codes: np.ndarray) -> np.ndarray:
    """Simple-point test for 26-bit neighbourhood codes (26-connected foreground, 6-connected background)."""
    x = np.asarray(codes, dtype=np.uint32)
    fg_ok = np.zeros(len(x), dtype=bool)
    nz = x != 0
    if nz.any():
        xs = x[nz]
        comp = _flood(_lowest_bit(xs), xs, _ADJ26)
        fg_ok[nz] = comp == xs
    bg = (~x) & _N18_MASK
    faces = bg & _FACE_MASK
    bg_ok = np.zeros(len(x), dtype=bool)
    has = faces != 0
    if has.any():
        comp = _flood(_lowest_bit(faces[has]), bg[has], _ADJ6_18)
        bg_ok[has] = (faces[has] & ~comp) == 0
    return fg_ok & bg_ok


def _lut() -> np.ndarray:
    global _LUT
    if _LUT is None:
        _LUT = np.zeros(1 << 26, dtype=np.uint8)
    return _LUT


def simple_lookup(codes: np.ndarray) -> np.ndarray:
    """Memoised :func:`is_simple`."""
    lut = _lut()
    state = lut[codes]
    unknown = state == 0
    if unknown.any():
        new = np.unique(codes[unknown])
        lut[new] = np.where(is_simple(new), 1, 2).astype(np.uint8)
        state = lut[codes]
    return state == 1


def thin(mask: np.ndarray) -> np.ndarray:
    """Curve skeleton of a 3D boolean mask (same shape, boolean).

    The mask should have no enclosed cavities (fill them first): thinning
    keeps topology, so a cavity would leave a closed surface.

    Examples
    --------
    >>> m = np.zeros((7, 7, 15), bool); m[1:6, 1:6, 1:14] = True
    >>> sk = thin(m)
    >>> int(sk.sum()) > 0, bool(sk[:, :, 7].sum() == 1)
    (True, True)
    """
    m = np.asarray(mask, dtype=bool)
    pad = np.zeros(tuple(np.asarray(m.shape) + 2), dtype=np.uint8)
    pad[1:-1, 1:-1, 1:-1] = m
    fg = np.flatnonzero(pad)
    thin_padded(pad, fg)
    return pad[1:-1, 1:-1, 1:-1].astype(bool)


def thin_padded(pad: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """Thin a 0/1 ``uint8`` array in place; its outer layer must be 0.

    ``fg`` are the flat indices of its foreground voxels. Returns the flat
    indices of the skeleton voxels (a subset of ``fg``, same order).
    """
    shape = pad.shape
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.int64)
    offs = OFFSETS @ strides                                 # flat offsets of the 26 neighbours
    face_dirs = [int(np.flatnonzero((OFFSETS == d).all(axis=1))[0]) for d in
                 ((-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1))]
    flat = pad.reshape(-1)
    weights = (np.uint32(1) << np.arange(26, dtype=np.uint32))
    # only surface voxels can be deleted in the first pass; later, only neighbours of deleted voxels
    active = fg[_surface(flat, fg, offs[face_dirs])]
    slot = np.empty(flat.size, dtype=np.int32)   # scratch for de-duplicating voxel lists without sorting
    while len(active):
        deleted_any = []
        for d in face_dirs:
            cand = active[flat[active + offs[d]] == 0]
            if not len(cand):
                continue
            par = ((cand // strides[0]) & 1) * 4 + (((cand // strides[1]) % shape[1]) & 1) * 2 + \
                  ((cand % shape[2]) & 1)
            order = np.argsort(par, kind="stable")
            cand, par = cand[order], par[order]
            bounds = np.searchsorted(par, np.arange(9))
            for s in range(8):
                c = cand[bounds[s]:bounds[s + 1]]
                if not len(c):
                    continue
                c = c[flat[c] == 1]
                nb = flat[c[:, None] + offs[None, :]]            # (n, 26) uint8
                code = (nb.astype(np.uint32) * weights).sum(axis=1, dtype=np.uint32)
                ok = simple_lookup(code) & (nb.sum(axis=1) != 1)
                gone = c[ok]
                if len(gone):
                    flat[gone] = 0
                    deleted_any.append(gone)
        if not deleted_any:
            break
        gone = np.concatenate(deleted_any)
        near = (gone[:, None] + offs[None, :]).reshape(-1)
        near = near[flat[near] == 1]
        order = np.arange(len(near), dtype=np.int32)
        slot[near] = order                        # the last write for each voxel wins
        active = near[slot[near] == order]
    return fg[flat[fg] == 1]


def _surface(flat: np.ndarray, fg: np.ndarray, face_offs: np.ndarray) -> np.ndarray:
    out = np.zeros(len(fg), dtype=bool)
    for o in face_offs:
        out |= flat[fg + o] == 0
    return out
