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
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

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


def _adjacency(vox: np.ndarray) -> sp.csr_matrix:
    """Symmetric 26-adjacency with squared step lengths as data (1, 2, 3)."""
    n = len(vox)
    lo = vox.min(axis=0) - 1
    dims = vox.max(axis=0) - lo + 2
    key = ((vox[:, 0] - lo[0]) * dims[1] + (vox[:, 1] - lo[1])) * dims[2] + (vox[:, 2] - lo[2])
    order = np.argsort(key)
    skey = key[order]
    rows, cols, w = [], [], []
    half = OFFSETS[:13]  # each unordered pair once: the first 13 offsets are the negatives of the last 13
    for off in half:
        nk = ((vox[:, 0] + off[0] - lo[0]) * dims[1] + (vox[:, 1] + off[1] - lo[1])) * dims[2] + \
             (vox[:, 2] + off[2] - lo[2])
        pos = np.searchsorted(skey, nk)
        pos = np.minimum(pos, n - 1)
        hit = skey[pos] == nk
        if hit.any():
            src = np.flatnonzero(hit)
            rows.append(src)
            cols.append(order[pos[hit]])
            w.append(np.full(len(src), int((off ** 2).sum()), dtype=np.int8))
    if not rows:
        return sp.csr_matrix((n, n), dtype=np.int8)
    r, c, d = np.concatenate(rows), np.concatenate(cols), np.concatenate(w)
    a = sp.coo_matrix((d, (r, c)), shape=(n, n)).tocsr()
    return (a + a.T).tocsr()


def _drop_shortcuts(a: sp.csr_matrix) -> sp.csr_matrix:
    """Remove the long side of triangles whose two other sides are both shorter."""
    if a.nnz == 0:
        return a
    a1 = (a == 1).astype(np.int32)
    a12 = ((a == 1) + (a == 2)).astype(np.int32)
    via1 = (a1 @ a1).tocsr()        # a path of two face steps
    via12 = (a12 @ a12).tocsr()     # a path of two face/edge steps
    coo = a.tocoo()
    r, c, d = coo.row, coo.col, coo.data
    drop = np.zeros(len(d), dtype=bool)
    m2 = d == 2
    if m2.any():
        drop[m2] = np.asarray(via1[r[m2], c[m2]]).ravel() > 0
    m3 = d == 3
    if m3.any():
        drop[m3] = np.asarray(via12[r[m3], c[m3]]).ravel() > 0
    keep = ~drop
    return sp.coo_matrix((d[keep], (r[keep], c[keep])), shape=a.shape).tocsr()


def skeleton_chains(voxels: np.ndarray) -> Chains:
    """Decompose skeleton voxels (S, 3) into key nodes and chains (see the module docs)."""
    vox = np.asarray(voxels, dtype=np.int64).reshape(-1, 3)
    n = len(vox)
    if n == 0:
        return Chains(np.zeros((0, 3)), [], np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0, np.int64),
                      [], vox)
    a = _drop_shortcuts(_adjacency(vox))
    a.data[:] = 1
    deg = np.diff(a.indptr)
    indptr, indices = a.indptr, a.indices
    junction = deg >= 3
    # junction clusters
    key_of = np.full(n, -1, dtype=np.int64)
    node_vox: list[np.ndarray] = []
    kinds: list[int] = []
    jrows = np.flatnonzero(junction)
    if len(jrows):
        sub = a[jrows][:, jrows]
        nc, lab = connected_components(sub, directed=False)
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
