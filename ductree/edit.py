"""Operations on ductal trees; each returns a new :class:`DuctTree` (the input is untouched).

- :func:`resample` — nodes at a regular spacing along each branch (mm);
- :func:`smooth` — smooth centrelines without moving junctions, roots or tips;
- :func:`prune` — remove terminal spurs shorter than a length or a multiple of the parent radius;
- :func:`subtree` — a node and everything distal to it;
- :func:`path_between` — node ids along the tree between two nodes;
- :func:`merge` / :func:`split` — join trees into one forest, or one tree per duct system.

"Anchors" are the nodes no operation moves or removes: roots, junctions,
tips and the ends of anastomosis edges (loops are kept as they are).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .errors import InputError
from .measures import branches, child_count
from .tree import DuctTree


def anchor_rows(tree: DuctTree) -> np.ndarray:
    """(N,) bool: rows that operations keep fixed (roots, junctions, tips, anastomosis ends)."""
    cc = child_count(tree)
    anchors = (cc != 1) | (tree.parent_index < 0)
    idx = tree.index
    for u, v in tree.anastomoses():
        anchors[idx[u]] = True
        anchors[idx[v]] = True
    return anchors


def _pieces(tree: DuctTree) -> list[np.ndarray]:
    """Branches split at anchors: row runs from one anchor to the next."""
    anchors = anchor_rows(tree)
    out = []
    for b in branches(tree):
        rows = b.rows
        start = 0
        for k in range(1, len(rows)):
            if anchors[rows[k]]:
                out.append(rows[start:k + 1])
                start = k
    return out


def _rebuild(tree: DuctTree, keep_rows: np.ndarray, new_pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> DuctTree:
    """A new tree from anchor rows kept as they are plus new interior nodes.

    ``new_pieces`` holds, per piece, (start row, end row) and the interior
    points (k, 3) and radii (k,) to insert between them.
    """
    out = DuctTree()
    out.graph.update(tree.graph)
    ids = tree.node_ids
    for r in keep_rows.tolist():
        out.add_node(ids[r], **_copy_attrs(tree.nodes[ids[r]]))
    next_id = _next_int_id(tree)
    sysid = tree.system_ids
    for (a, b), pts, rad in new_pieces:
        prev = ids[a]
        for p, r in zip(pts, rad):
            out.add_node(next_id, pos=np.array(p, dtype=float), radius=float(r), system=int(sysid[b]))
            out.add_edge(prev, next_id)
            prev = next_id
            next_id += 1
        attrs = dict(tree.edges[ids[tree.parent_index[b]], ids[b]]) if len(pts) == 0 and tree.parent_index[b] == a else {}
        attrs.pop("length", None)
        out.add_edge(prev, ids[b], **attrs)
    for u, v in tree.anastomoses():
        out.add_edge(u, v, **dict(tree.edges[u, v]))
    return out


def _copy_attrs(d: dict) -> dict:
    out = {k: v for k, v in d.items() if k not in ("generation", "order", "path_mm")}
    out["pos"] = np.array(d["pos"], dtype=float)
    return out


def _next_int_id(tree: DuctTree) -> int:
    ints = [n for n in tree.nodes if isinstance(n, (int, np.integer))]
    return (max(ints) + 1) if ints else 0


def resample(tree: DuctTree, spacing_mm: float) -> DuctTree:
    """Nodes at most ``spacing_mm`` apart along each branch; anchors keep their ids.

    Positions (BF mm) and radii are interpolated linearly by arc length; each
    piece between two anchors gets ``ceil(length / spacing_mm)``
    segments of equal length.

    Examples
    --------
    >>> t = DuctTree.from_arrays([[0, 0, 0], [0, 10, 0]], [1.0, 0.5], [-1, 0])
    >>> r = resample(t, 2.0)
    >>> r.number_of_nodes(), round(float(r.radii[1]), 3)
    (6, 0.9)
    """
    if not spacing_mm > 0:
        raise InputError(f"spacing must be > 0 mm, got {spacing_mm!r}", key="spacing_mm")
    tree.validate()
    pos, rad = tree.positions, tree.radii
    anchors = anchor_rows(tree)
    pieces = []
    for rows in _pieces(tree):
        p = pos[rows]
        seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        length = s[-1]
        n = max(1, int(np.ceil(length / spacing_mm - 1e-9)))
        t = np.linspace(0.0, length, n + 1)[1:-1]
        if length > 0:
            pts = np.stack([np.interp(t, s, p[:, k]) for k in range(3)], axis=1)
            r = np.interp(t, s, rad[rows])
        else:
            pts, r = np.zeros((0, 3)), np.zeros(0)
        pieces.append(((int(rows[0]), int(rows[-1])), pts, r))
    return _rebuild(tree, np.flatnonzero(anchors), pieces)


def smooth(tree: DuctTree, iterations: int = 10, alpha: float = 0.5, *, radii: bool = False) -> DuctTree:
    """Laplacian smoothing of centrelines; anchors (junctions, roots, tips) never move.

    Each iteration moves every interior node ``alpha`` of the way toward the
    mean of its two neighbours (BF mm). With ``radii=True`` radii are smoothed
    the same way.
    """
    if iterations < 0 or not 0 < alpha <= 1:
        raise InputError("iterations must be >= 0 and alpha in (0, 1]")
    tree.validate()
    out = tree.copy()
    par = tree.parent_index
    anchors = anchor_rows(tree)
    interior = np.flatnonzero(~anchors)
    if len(interior) == 0 or iterations == 0:
        return out
    kids = np.full(len(par), -1)
    has = par >= 0
    kids[par[has]] = np.flatnonzero(has)  # interior rows have exactly one child
    prev, nxt = par[interior], kids[interior]
    pos = np.array(tree.positions)
    rad = np.array(tree.radii)
    for _ in range(iterations):
        pos[interior] += alpha * (0.5 * (pos[prev] + pos[nxt]) - pos[interior])
        if radii:
            rad[interior] += alpha * (0.5 * (rad[prev] + rad[nxt]) - rad[interior])
    out.set_positions(pos)
    if radii:
        out.set_radii(rad)
    return out


def prune(tree: DuctTree, min_length_mm: float = 0.0, radius_factor: float = 0.0) -> DuctTree:
    """Remove terminal spurs shorter than ``max(min_length_mm, radius_factor * r)``.

    ``r`` is the radius at the junction the spur leaves, so a bump on a thick
    duct is not mistaken for a branch. A system's only branch is never removed,
    and a junction keeps at least one child. One pass (spurs uncovered by the
    pass stay).
    """
    if min_length_mm < 0 or radius_factor < 0:
        raise InputError("prune lengths must be >= 0")
    tree.validate()
    cc = child_count(tree)
    rad = tree.radii
    ids = tree.node_ids
    remove: set = set()
    removed_from: dict[int, int] = {}
    for b in branches(tree):
        start, end = b.start_row, b.end_row
        if cc[end] != 0:
            continue  # not a spur: something grows beyond it
        if b.parent < 0 and cc[start] < 2:
            continue  # the system's first branch
        limit = max(min_length_mm, radius_factor * rad[start])
        if b.length_mm < limit:
            left = cc[start] - removed_from.get(start, 0)
            if left <= 1:
                continue
            removed_from[start] = removed_from.get(start, 0) + 1
            remove.update(ids[r] for r in b.rows[1:])
    out = tree.copy()
    out.remove_nodes_from(remove)
    return out


def subtree(tree: DuctTree, node: Any) -> DuctTree:
    """``node`` and every node distal to it (primary edges), as a new tree rooted at ``node``."""
    if node not in tree:
        raise InputError(f"no node {node!r} in the tree", key="node")
    keep = [node]
    stack = [node]
    while stack:
        n = stack.pop()
        kids = tree.children(n)
        keep.extend(kids)
        stack.extend(kids)
    keep_set = set(keep)
    out = DuctTree()
    out.graph.update(tree.graph)
    for n in keep:
        out.add_node(n, **_copy_attrs(tree.nodes[n]))
    for u, v, d in tree.edges(data=True):
        if u in keep_set and v in keep_set:
            out.add_edge(u, v, **dict(d))
    return out


def path_between(tree: DuctTree, a: Any, b: Any) -> list:
    """Node ids along the tree from ``a`` to ``b`` (up to their common ancestor, then down)."""
    for n in (a, b):
        if n not in tree:
            raise InputError(f"no node {n!r} in the tree", key="node")
    if tree.nodes[a]["system"] != tree.nodes[b]["system"]:
        raise InputError(f"nodes {a!r} and {b!r} lie in different duct systems")

    def up(n: Any) -> list:
        chain = [n]
        while (p := tree.parent(chain[-1])) is not None:
            chain.append(p)
        return chain

    ua, ub = up(a), up(b)
    in_b = {n: i for i, n in enumerate(ub)}
    for i, n in enumerate(ua):
        if n in in_b:
            return ua[: i + 1] + list(reversed(ub[: in_b[n]]))
    raise InputError(f"nodes {a!r} and {b!r} are not connected")  # pragma: no cover - validated trees


def merge(trees: Iterable[DuctTree], *, laterality: str | None = None) -> DuctTree:
    """One forest from several trees; nodes renumbered 0..N-1, systems renumbered in order.

    All trees must share a laterality (or have none); ``laterality`` overrides.
    """
    trees = list(trees)
    if not trees:
        raise InputError("nothing to merge")
    lats = {t.laterality for t in trees} - {None}
    if laterality is None and len(lats) > 1:
        raise InputError(f"cannot merge trees of different laterality {sorted(lats)}", key="laterality")
    out = DuctTree(laterality=laterality or (lats.pop() if lats else None))
    offset = 0
    next_system = 0
    for t in trees:
        t.validate()
        remap_sys = {s: next_system + k for k, s in enumerate(t.systems())}
        next_system += len(remap_sys)
        mapping = {n: offset + i for i, n in enumerate(t.node_ids)}
        for n, i in mapping.items():
            attrs = _copy_attrs(t.nodes[n])
            attrs["system"] = remap_sys[int(attrs["system"])]
            out.add_node(i, **attrs)
        for u, v, d in t.edges(data=True):
            out.add_edge(mapping[u], mapping[v], **dict(d))
        offset += len(mapping)
    return out


def split(tree: DuctTree) -> dict[int, DuctTree]:
    """One tree per duct system (system id -> tree); anastomoses between systems are dropped."""
    tree.validate()
    out = {}
    for s in tree.systems():
        nodes = [n for n in tree.node_ids if tree.nodes[n]["system"] == s]
        sub = DuctTree()
        sub.graph.update(tree.graph)
        for n in nodes:
            sub.add_node(n, **_copy_attrs(tree.nodes[n]))
        node_set = set(nodes)
        for u, v, d in tree.edges(data=True):
            if u in node_set and v in node_set:
                sub.add_edge(u, v, **dict(d))
        out[s] = sub
    return out
