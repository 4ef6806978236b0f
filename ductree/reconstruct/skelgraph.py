"""A voxel curve skeleton as a graph of chains between key nodes.

:func:`skeleton_chains` turns skeleton voxels (array indices) into

- key nodes: curve ends (one neighbour), junction clusters (adjacent voxels
  with three or more neighbours, collapsed to one node at their centroid),
  isolated voxels, and one voxel of each ring without any other key node;
- chains: the ordered voxels between two key nodes.

Redundant 26-adjacencies are dropped first: the long side of a triangle of
mutually adjacent voxels (a staircase corner) is not an edge when both short
sides are shorter, so a thin digital curve has no false junctions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import OFFSETS


@dataclass
class Chains:
    """Key nodes and the voxel chains between them (array index space, k j i)."""

    node_pos: np.ndarray          #: (K, 3) float, mean voxel index of each key node
    node_voxels: list[np.ndarray]  #: voxel rows (into ``voxels``) of each key node
    node_kind: np.ndarray         #: (K,) 0 end, 1 junction cluster, 2 isolated, 3 ring seed
    chain_a: np.ndarray           #: (C,) key node at the start of each chain
    chain_b: np.ndarray           #: (C,) key node at the end
    chain_voxels: list[np.ndarray]  #: interior voxel rows of each chain, ordered from a to b
    voxels: np.ndarray            #: (S, 3) int voxel indices of the skeleton


class _Csr:
    """A symmetric adjacency in compressed rows (``indptr``, ``indices``), like scipy's CSR, without scipy."""

    def __init__(self, n: int, r: np.ndarray, c: np.ndarray) -> None:
        rr = np.concatenate([r, c])
        cc = np.concatenate([c, r])
        order = np.lexsort((cc, rr))
        self.indices = cc[order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(rr, minlength=n))])


def _keys(vox: np.ndarray, lo: np.ndarray, dims: np.ndarray) -> np.ndarray:
    return ((vox[:, 0] - lo[0]) * dims[1] + (vox[:, 1] - lo[1])) * dims[2] + (vox[:, 2] - lo[2])


def _edges(vox: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each 26-adjacent pair once (r, c), without the long side of triangles whose two other sides are shorter.

    An edge step of a face diagonal is dropped when a voxel at one of its two
    face-step corners is in the skeleton; a body diagonal, when a voxel at any
    of its six face/edge-step corners is.
    """
    n = len(vox)
    lo = vox.min(axis=0) - 1
    dims = vox.max(axis=0) - lo + 2
    key = _keys(vox, lo, dims)
    order = np.argsort(key)
    skey = key[order]

    def lookup(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = _keys(points, lo, dims)
        pos = np.minimum(np.searchsorted(skey, k), n - 1)
        return skey[pos] == k, order[pos]

    rows, cols = [], []
    half = OFFSETS[:13]  # each unordered pair once: the first 13 offsets are the negatives of the last 13
    for off in half:
        hit, other = lookup(vox + off)
        src = np.flatnonzero(hit)
        if not len(src):
            continue
        nz = np.flatnonzero(off)
        if len(nz) >= 2:
            # the corners of the step: sub-steps of it (one face step for a face diagonal; face or edge steps
            # for a body diagonal)
            subs = []
            for q in nz:
                e = np.zeros(3, dtype=np.int64)
                e[q] = off[q]
                subs.append(e)
            if len(nz) == 3:
                for q in nz:
                    e = off.copy()
                    e[q] = 0
                    subs.append(e)
            shortcut = np.zeros(len(src), dtype=bool)
            for e in subs:
                shortcut |= lookup(vox[src] + e)[0]
            src = src[~shortcut]
        rows.append(src)
        cols.append(other[src] if len(src) else src)
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def _clusters(n: int, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Connected component label (0..k-1, in order of first member) of ``n`` items joined by edges (r, c)."""
    parent = np.arange(n)
    while len(r):
        pr, pc = parent[r], parent[c]
        if np.array_equal(pr, pc):
            break
        np.minimum.at(parent, np.maximum(pr, pc), np.minimum(pr, pc))
        while True:
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
    return np.unique(parent, return_inverse=True)[1].reshape(-1)


def skeleton_chains(voxels: np.ndarray) -> Chains:
    """Decompose skeleton voxels (S, 3) into key nodes and chains (see the module docs)."""
    vox = np.asarray(voxels, dtype=np.int64).reshape(-1, 3)
    n = len(vox)
    if n == 0:
        return Chains(np.zeros((0, 3)), [], np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0, np.int64),
                      [], vox)
    er, ec = _edges(vox)
    a = _Csr(n, er, ec)
    deg = np.diff(a.indptr)
    indptr, indices = a.indptr, a.indices
    junction = deg >= 3
    # junction clusters
    key_of = np.full(n, -1, dtype=np.int64)
    node_vox: list[np.ndarray] = []
    kinds: list[int] = []
    jrows = np.flatnonzero(junction)
    if len(jrows):
        local = np.full(n, -1)
        local[jrows] = np.arange(len(jrows))
        both = (local[er] >= 0) & (local[ec] >= 0)
        lab = _clusters(len(jrows), local[er[both]], local[ec[both]])
        nc = int(lab.max()) + 1
        order = np.argsort(lab, kind="stable")
        bounds = np.searchsorted(lab[order], np.arange(nc + 1))
        for c in range(nc):
            members = jrows[order[bounds[c]:bounds[c + 1]]]
            key_of[members] = len(node_vox)
            node_vox.append(members)
            kinds.append(1)
    for r in np.flatnonzero(deg == 1):
        key_of[r] = len(node_vox)
        node_vox.append(np.array([r]))
        kinds.append(0)
    for r in np.flatnonzero(deg == 0):
        key_of[r] = len(node_vox)
        node_vox.append(np.array([r]))
        kinds.append(2)

    chain_a: list[int] = []
    chain_b: list[int] = []
    chain_vox: list[np.ndarray] = []
    visited = np.zeros(n, dtype=bool)        # chain (degree-2) voxels already walked
    used_pairs: set[tuple[int, int]] = set()  # direct key-to-key voxel adjacencies already taken

    def walk(start_key: int, from_vox: int, first: int) -> None:
        path = []
        prev, cur = from_vox, first
        while key_of[cur] < 0:
            visited[cur] = True
            path.append(cur)
            nbrs = indices[indptr[cur]:indptr[cur + 1]]
            nxt = nbrs[0] if nbrs[0] != prev else nbrs[1]
            prev, cur = cur, nxt
            if cur == first:  # a ring with no key node (only from ring seeds; guarded anyway)
                break
        chain_a.append(start_key)
        chain_b.append(int(key_of[cur]))
        chain_vox.append(np.asarray(path, dtype=np.int64))

    def walk_from(k: int) -> None:
        for v in node_vox[k]:
            for w in indices[indptr[v]:indptr[v + 1]]:
                kw = key_of[w]
                if kw == k:
                    continue
                if kw >= 0:
                    pair = (min(v, w), max(v, w))
                    if pair in used_pairs:
                        continue
                    used_pairs.add(pair)
                    chain_a.append(k)
                    chain_b.append(int(kw))
                    chain_vox.append(np.zeros(0, dtype=np.int64))
                elif not visited[w]:
                    walk(k, v, w)

    for k in range(len(node_vox)):
        walk_from(k)
    # rings: degree-2 voxels never reached; seed each with a key node
    left = np.flatnonzero(~visited & (key_of < 0))
    while len(left):
        r = int(left[0])
        key_of[r] = len(node_vox)
        node_vox.append(np.array([r]))
        kinds.append(3)
        walk_from(len(node_vox) - 1)
        left = left[~visited[left] & (key_of[left] < 0)]
    node_pos = np.array([vox[m].mean(axis=0) for m in node_vox], dtype=float).reshape(-1, 3)
    return Chains(node_pos=node_pos, node_voxels=node_vox, node_kind=np.asarray(kinds, dtype=np.int8),
                  chain_a=np.asarray(chain_a, dtype=np.int64), chain_b=np.asarray(chain_b, dtype=np.int64),
                  chain_voxels=chain_vox, voxels=vox)
