"""Curve skeleton of a 3D binary mask by topology-preserving parallel thinning, in numpy.

The thinning peels one layer per direction (up, down, north, south, east,
west) per pass and repeats until nothing changes. A direction pass takes the
voxels exposed in that direction at its start and deletes, in eight
sub-fields (voxels of equal index parity, never 26-adjacent to each other,
so deleting simple points of one sub-field in parallel preserves topology),
those that are *simple* (26-connected foreground / 6-connected background)
and not curve end points (exactly one foreground neighbour). The result is a
one-voxel-thin 26-connected curve skeleton with the topology of the mask.

Whether a 3x3x3 configuration is simple is read from a table of all 2**26
neighbourhood codes (one bit each, 8 MB), shipped compressed (84 kB) as
``ductree/data/simple_26_6.bits.zlib`` and checked against the direct test
(:func:`is_simple`, bit-parallel flood fills over the 26-bit code) by the
tests; :func:`build_simple_table` rebuilds it. Without the file the table is
filled lazily, for the codes that occur.

Work is proportional to the voxels near the surface at each pass, never to
the whole grid, and everything is vectorised over voxels.
"""

from __future__ import annotations

from pathlib import Path

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

#: the shipped table: bit ``c`` of the (little-endian) bitset is 1 when code ``c`` is simple
TABLE_FILE = Path(__file__).resolve().parents[1] / "data" / "simple_26_6.bits.zlib"
_TABLE: np.ndarray | None = None   # bitset, 2**23 bytes
_LAZY: np.ndarray | None = None    # fallback when the file is missing: 0 unknown, 1 simple, 2 not simple


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


def build_simple_table(chunk: int = 1 << 20) -> np.ndarray:
    """The simple-point bitset of every 26-bit code (2**23 bytes, little-endian bit order); takes minutes."""
    out = np.zeros(1 << 26, dtype=bool)
    for s in range(0, 1 << 26, chunk):
        out[s:s + chunk] = is_simple(np.arange(s, s + chunk, dtype=np.uint32))
    return np.packbits(out, bitorder="little")


def write_simple_table(path: Path = TABLE_FILE) -> Path:
    """Compute the table and write it zlib-compressed (what ships as package data)."""
    import zlib

    from ..atomic import write_bytes

    return write_bytes(path, zlib.compress(build_simple_table().tobytes(), 9))


def simple_table() -> np.ndarray | None:
    """The shipped bitset (cached), or ``None`` when the data file is absent."""
    global _TABLE
    if _TABLE is None and TABLE_FILE.is_file():
        import zlib

        bits = np.frombuffer(zlib.decompress(TABLE_FILE.read_bytes()), dtype=np.uint8)
        if bits.size == 1 << 23:
            _TABLE = bits
    return _TABLE


def simple_lookup(codes: np.ndarray) -> np.ndarray:
    """:func:`is_simple` by table look-up (lazily memoised when the table file is missing)."""
    codes = np.asarray(codes, dtype=np.uint32)
    bits = simple_table()
    if bits is not None:
        return ((bits[codes >> np.uint32(3)] >> (codes & np.uint32(7)).astype(np.uint8)) & 1).astype(bool)
    global _LAZY
    if _LAZY is None:
        _LAZY = np.zeros(1 << 26, dtype=np.uint8)
    state = _LAZY[codes]
    unknown = state == 0
    if unknown.any():
        new = np.unique(codes[unknown])
        _LAZY[new] = np.where(is_simple(new), 1, 2).astype(np.uint8)
        state = _LAZY[codes]
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


def thin_padded(pad: np.ndarray, fg: np.ndarray, keep: bool = False) -> np.ndarray:
    """Thin a 0/1 ``uint8`` array in place; its outer layer must be 0.

    ``fg`` are the flat indices of its foreground voxels. Returns the flat
    indices of the skeleton voxels (a subset of ``fg``, same order). With
    ``keep``, the mask stays readable afterwards: skeleton voxels end as 3,
    deleted ones as 2 (bit 0: still foreground; bit 1: was foreground).
    """
    shape = pad.shape
    s0, s1 = shape[1] * shape[2], shape[2]
    offs = OFFSETS @ np.array([s0, s1, 1], dtype=np.int64)      # flat offsets of the 26 neighbours
    face_dirs = [int(np.flatnonzero((OFFSETS == d).all(axis=1))[0]) for d in
                 ((-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1))]
    flat = pad.reshape(-1)
    deleted_value = np.uint8(2 if keep else 0)
    if keep:
        flat[fg] = 3
    one, flag = np.uint8(1), np.uint8(4)
    codes = NeighbourhoodCodes(pad)                             # reads bit 0 of each voxel only
    # only surface voxels can be deleted in the first pass; later, only neighbours of deleted voxels
    active = fg[_surface(flat, fg, offs[face_dirs])]
    while len(active):
        deleted = []
        for d in face_dirs:
            cand = active[((flat[active + offs[d]] & one) == 0) & ((flat[active] & one) == 1)]
            if not len(cand):
                continue
            # sub-field of each candidate: the parity of its (k, j, i)
            par = (((cand // s0) & 1) << 2 | ((cand // s1) & 1) << 1 | (cand & 1)).astype(np.uint8) \
                if shape[1] % 2 == 0 and shape[2] % 2 == 0 else \
                (((cand // s0) & 1) << 2 | (((cand // s1) % shape[1]) & 1) << 1 | ((cand % s1) & 1)).astype(np.uint8)
            order = np.argsort(par, kind="stable")
            cand = cand[order]
            bounds = np.concatenate([[0], np.cumsum(np.bincount(par, minlength=8))])
            for s in range(8):
                c = cand[bounds[s]:bounds[s + 1]]
                if not len(c):
                    continue
                code = codes(c)
                # simple, and not a curve end (exactly one neighbour: a power of two)
                ok = simple_lookup(code) & ((code & (code - np.uint32(1))) != 0)
                gone = c[ok]
                if len(gone):
                    flat[gone] = deleted_value
                    deleted.append(gone)
        if not deleted:
            break
        # next pass: the foreground neighbours of the deleted voxels, each once (flag bit 2 while collecting)
        gone = np.concatenate(deleted)
        near = []
        for o in offs:
            x = gone + o
            x = x[(flat[x] & np.uint8(5)) == 1]
            flat[x] |= flag
            near.append(x)
        active = np.concatenate(near)
        flat[active] &= ~flag
    return fg[(flat[fg] & one) == 1]


class NeighbourhoodCodes:
    """26-bit neighbourhood codes of voxels of a padded 0/1 ``uint8`` grid (bit b = ``OFFSETS[b]`` is set).

    Each of the nine rows (dk, dj) of a 3x3x3 block is read as one unaligned
    little-endian 32-bit word starting at i - 1, whose bytes 0, 1, 2 are the
    row's three voxels.
    """

    def __init__(self, grid: np.ndarray) -> None:
        flat = grid.reshape(-1)
        self.words = np.ndarray(buffer=flat, dtype="<u4", shape=(flat.size - 3,), strides=(1,))
        s0, s1 = grid.shape[1] * grid.shape[2], grid.shape[2]
        self.rows = np.array([dk * s0 + dj * s1 - 1 for dk in (-1, 0, 1) for dj in (-1, 0, 1)], dtype=np.int64)
        self.shifts = 3 * np.arange(9, dtype=np.uint32)

    def __call__(self, c: np.ndarray) -> np.ndarray:
        idx = c[:, None] + self.rows[None, :]
        last = len(self.words) - 1
        if len(c) and c.max() + self.rows[-1] > last:
            # the last voxel of the grid's interior: its last row ends at the buffer's end; read one byte early
            over = idx > last
            w = self.words[np.minimum(idx, last)]
            w[over] >>= np.uint32(8)
        else:
            w = self.words[idx]                                        # (n, 9)
        # the three 0/1 bytes (bits 0, 8, 16) to bits 14, 15, 16 by one multiplication, no carries
        r = (((w & np.uint32(0x010101)) * np.uint32(0x4081)) >> np.uint32(14)) & np.uint32(7)
        c27 = (r << self.shifts).sum(axis=1, dtype=np.uint32)       # bit 13 is the voxel itself
        return (c27 & np.uint32(0x1FFF)) | ((c27 >> np.uint32(1)) & ~np.uint32(0x1FFF))


def neighbourhood_codes(flat: np.ndarray, c: np.ndarray, offs: np.ndarray) -> np.ndarray:
    """26-bit neighbourhood code of voxels ``c`` of a flat 0/1 grid with neighbour offsets ``offs`` (uint32)."""
    nb = flat[c[:, None] + offs[None, :]]                     # (n, 26) 0/1
    packed = np.packbits(nb, axis=1, bitorder="little")       # (n, 4)
    return np.ascontiguousarray(packed).view("<u4").reshape(-1)


def _surface(flat: np.ndarray, fg: np.ndarray, face_offs: np.ndarray) -> np.ndarray:
    out = np.zeros(len(fg), dtype=bool)
    for o in face_offs:
        out |= (flat[fg + o] & np.uint8(1)) == 0
    return out
