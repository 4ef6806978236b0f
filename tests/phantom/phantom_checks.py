"""Independent checks of phantom geometry (not the generator's own code).

The clearance check resamples every centreline densely, interpolates the
radius linearly along each segment, and looks at all close point pairs with
a KD-tree: two branches that do not meet at a junction must keep their
surfaces ``clearance`` apart; branches that meet at a junction J (a parent
and its children, or two siblings) may touch only near J (within
``factor * r_J + clearance`` of J, the generator's documented rule).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ductree.measures import branches


def dense_samples(tree, spacing=0.1):
    """Points, radii and branch index of a dense resampling of every branch (BF mm)."""
    pos, rad = tree.positions, tree.radii
    pts, rr, owner = [], [], []
    for br in branches(tree):
        rows = br.rows
        a, b = pos[rows[:-1]], pos[rows[1:]]
        ra, rb = rad[rows[:-1]], rad[rows[1:]]
        seg = np.linalg.norm(b - a, axis=1)
        n = np.maximum(1, np.ceil(seg / spacing).astype(int))
        for k in range(len(a)):
            t = np.linspace(0.0, 1.0, n[k] + 1)
            pts.append(a[k] + t[:, None] * (b[k] - a[k]))
            rr.append(ra[k] + t * (rb[k] - ra[k]))
            owner.append(np.full(len(t), br.index))
    return np.vstack(pts), np.concatenate(rr), np.concatenate(owner)


def clearance_violations(tree, clearance, factor=3.0, spacing=0.1):
    """List of (gap_mm, branch_a, branch_b) for surface gaps below ``clearance``."""
    brs = branches(tree)
    pos, rad = tree.positions, tree.radii
    # junctions shared by pairs of branches: child with parent, child with sibling
    start_row = {b.index: int(b.rows[0]) for b in brs}
    end_row = {b.index: int(b.rows[-1]) for b in brs}
    shared = {}
    for b in brs:
        if b.parent >= 0:
            j = start_row[b.index]
            assert end_row[b.parent] == j
            shared[(b.parent, b.index)] = j
    by_parent = {}
    for b in brs:
        by_parent.setdefault(b.parent, []).append(b.index)
    for parent, kids in by_parent.items():
        if parent < 0:
            continue
        for i in kids:
            for k in kids:
                if i < k:
                    shared[(i, k)] = start_row[i]
    pts, rr, owner = dense_samples(tree, spacing)
    kd = cKDTree(pts)
    pairs = kd.query_pairs(2 * float(rr.max()) + clearance, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    diff_branch = owner[i] != owner[j]
    i, j = i[diff_branch], j[diff_branch]
    gap = np.linalg.norm(pts[i] - pts[j], axis=1) - rr[i] - rr[j]
    close = gap < clearance - 1e-6
    out = []
    for a, b, g in zip(i[close], j[close], gap[close]):
        ba, bb = int(owner[a]), int(owner[b])
        key = (min(ba, bb), max(ba, bb))
        if key in shared:
            jrow = shared[key]
            ex = factor * rad[jrow] + clearance
            J = pos[jrow]
            if np.linalg.norm(pts[a] - J) <= ex or np.linalg.norm(pts[b] - J) <= ex:
                continue
        out.append((float(g), ba, bb))
    return out


def point_at_path(tree, node, path_mm):
    """The centreline point ``path_mm`` along the duct from the root to ``node`` (BF mm)."""
    chain = [node]
    while tree.parent(chain[-1]) is not None:
        chain.append(tree.parent(chain[-1]))
    chain.reverse()
    p = np.array([tree.nodes[n]["pos"] for n in chain], dtype=float)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    return np.array([np.interp(path_mm, s, p[:, k]) for k in range(3)]), float(s[-1])
