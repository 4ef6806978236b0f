"""Derived attributes of a ductal tree, as plain functions (networkx style).

Each function takes a :class:`~ductree.tree.DuctTree` and returns a numpy
array aligned with ``tree.node_ids`` (or a list), cached until the tree
changes. Only primary edges count: an anastomosis (a loop-closing edge) is
ignored by every measure here, so they all see the spanning forest.

- :func:`generation` — branch generation, 0 from the orifice to the first
  bifurcation, +1 past each bifurcation;
- :func:`strahler` — Horton–Strahler order (tips' branches are order 1);
- :func:`segment_length` — length of the segment from each node's parent (mm);
- :func:`path_mm` — distance along the duct from the orifice (mm);
- :func:`branches` — junction-to-junction and junction-to-tip polylines;
- :func:`tips`, :func:`bifurcations`, :func:`summary`, :func:`annotate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tree import DuctTree, iter_rows_children


def _children_rows(tree: DuctTree) -> list[list[int]]:
    return tree.cached("children_rows", lambda t: iter_rows_children(t.parent_index))


def child_count(tree: DuctTree) -> np.ndarray:
    """(N,) number of primary children of each row."""
    def compute(t: DuctTree) -> np.ndarray:
        counts = np.bincount(t.parent_index[t.parent_index >= 0], minlength=len(t.parent_index))
        return counts.astype(np.int64)
    return tree.cached("child_count", compute)


def segment_length(tree: DuctTree) -> np.ndarray:
    """(N,) length (mm) of the straight segment from each node's parent; 0 at roots."""
    def compute(t: DuctTree) -> np.ndarray:
        par = t.parent_index
        out = np.zeros(len(par))
        has = par >= 0
        out[has] = np.linalg.norm(t.positions[has] - t.positions[par[has]], axis=1)
        return out
    return tree.cached("segment_length", compute)


def path_mm(tree: DuctTree) -> np.ndarray:
    """(N,) distance (mm) along the duct from the system's orifice to each node."""
    def compute(t: DuctTree) -> np.ndarray:
        seg = segment_length(t)
        par = t.parent_index
        out = np.zeros(len(par))
        # Rows are ordered parents-first, so one pass accumulates.
        for i, p in enumerate(par.tolist()):
            if p >= 0:
                out[i] = out[p] + seg[i]
        return out
    return tree.cached("path_mm", compute)


def generation(tree: DuctTree) -> np.ndarray:
    """(N,) branch generation: 0 at the orifice, +1 after each bifurcation passed.

    A bifurcation node itself belongs to the branch that ends there.
    """
    def compute(t: DuctTree) -> np.ndarray:
        par = t.parent_index
        branching = child_count(t) >= 2
        out = np.zeros(len(par), dtype=np.int64)
        for i, p in enumerate(par.tolist()):
            if p >= 0:
                out[i] = out[p] + (1 if branching[p] else 0)
        return out
    return tree.cached("generation", compute)


def strahler(tree: DuctTree) -> np.ndarray:
    """(N,) Horton–Strahler order of the branch each node belongs to.

    Terminal branches have order 1; where two or more children share the
    highest order ``k`` the parent has ``k + 1``, otherwise the highest order.
    """
    def compute(t: DuctTree) -> np.ndarray:
        kids = _children_rows(t)
        n = len(kids)
        out = np.ones(n, dtype=np.int64)
        for i in range(n - 1, -1, -1):  # children come after parents, so go backwards
            ks = kids[i]
            if not ks:
                continue
            if len(ks) == 1:
                out[i] = out[ks[0]]
                continue
            orders = sorted((out[k] for k in ks), reverse=True)
            out[i] = orders[0] + 1 if orders[1] == orders[0] else orders[0]
        return out
    return tree.cached("strahler", compute)


def tips(tree: DuctTree) -> list:
    """Node ids with no primary children (terminal ends), in row order."""
    ids = tree.node_ids
    return [ids[i] for i in np.flatnonzero(child_count(tree) == 0)]


def bifurcations(tree: DuctTree) -> list:
    """Node ids with two or more primary children (bi- and multifurcations), in row order."""
    ids = tree.node_ids
    return [ids[i] for i in np.flatnonzero(child_count(tree) >= 2)]


@dataclass(frozen=True)
class Branch:
    """One unbranched piece of duct: from a root or junction to the next junction or tip.

    ``rows`` are row indices into the tree's arrays, starting with the junction
    (or root) it leaves from; ``parent`` is the index of the branch it leaves,
    or -1 for a system's first branch.
    """

    index: int
    rows: np.ndarray
    system: int
    generation: int
    order: int
    length_mm: float
    parent: int

    def node_ids(self, tree: DuctTree) -> list:
        ids = tree.node_ids
        return [ids[i] for i in self.rows]

    @property
    def start_row(self) -> int:
        return int(self.rows[0])

    @property
    def end_row(self) -> int:
        return int(self.rows[-1])


def branches(tree: DuctTree) -> list[Branch]:
    """Decompose the tree into branches (see :class:`Branch`), in depth-first order.

    A root with one child starts its system's first branch; a root with
    several children is a junction, and each child starts a branch from it.
    """
    def compute(t: DuctTree) -> list[Branch]:
        kids = _children_rows(t)
        gen, order, seg, sysid = generation(t), strahler(t), segment_length(t), t.system_ids
        out: list[Branch] = []

        def walk(rows: list[int], parent_branch: int) -> None:
            cur = rows[-1]
            while len(kids[cur]) == 1:
                cur = kids[cur][0]
                rows.append(cur)
            arr = np.asarray(rows, dtype=np.int64)
            last = int(arr[-1])
            out.append(Branch(index=len(out), rows=arr, system=int(sysid[last]),
                              generation=int(gen[last]), order=int(order[last]),
                              length_mm=float(seg[arr[1:]].sum()), parent=parent_branch))
            pending.extend((last, k, out[-1].index) for k in reversed(kids[last]))

        pending: list[tuple[int, int, int]] = []
        for r in reversed(np.flatnonzero(t.parent_index < 0).tolist()):
            if len(kids[r]) >= 2:
                pending.extend((r, k, -1) for k in reversed(kids[r]))
            else:
                pending.append((-1, r, -1))
        while pending:
            start, first, parent_branch = pending.pop()
            walk([first] if start < 0 else [start, first], parent_branch)
        return out
    return tree.cached("branches", compute)


def sample_segments(tree: DuctTree, step_mm: float, *, end_inclusive: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points along every segment, at most ``step_mm`` apart (BF mm).

    Each segment (parent row -> child row) gets ``ceil(length / step_mm)``
    samples. With ``end_inclusive=False`` they sit at the middles of equal
    sub-segments; with ``True`` at their far ends (the child node is the last
    sample). Returns ``(points, rows, t, seg_index)``: the child row each
    sample belongs to, its fraction ``t`` along the segment, and the segment
    index into ``np.flatnonzero(tree.parent_index >= 0)``.
    """
    pos, par = tree.positions, tree.parent_index
    child = np.flatnonzero(par >= 0)
    a, b = pos[par[child]], pos[child]
    seg = np.linalg.norm(b - a, axis=1)
    nsub = np.maximum(1, np.ceil(seg / step_mm).astype(int))
    reps = np.repeat(np.arange(len(child)), nsub)
    starts = np.cumsum(nsub) - nsub
    t = (np.arange(len(reps)) - starts[reps] + (1.0 if end_inclusive else 0.5)) / nsub[reps]
    return a[reps] + (b[reps] - a[reps]) * t[:, None], child[reps], t, reps


def system_extent(tree: DuctTree) -> dict[int, dict[str, float]]:
    """Per system: node count, total length, max path and depth range (mm)."""
    seg = segment_length(tree)
    pm = path_mm(tree)
    out: dict[int, dict[str, float]] = {}
    for s in tree.systems():
        m = tree.system_ids == s
        ys = tree.positions[m, 1]
        out[s] = {
            "nodes": int(m.sum()),
            "length_mm": float(seg[m].sum()),
            "max_path_mm": float(pm[m].max()),
            "depth_min_mm": float(ys.min()),
            "depth_max_mm": float(ys.max()),
        }
    return out


def summary(tree: DuctTree) -> dict:
    """Headline figures of a tree (mm): what ``ductree info`` prints.

    Keys: laterality, systems, nodes, branches, tips, bifurcations,
    anastomoses, max_generation, max_order, total_length_mm, depth_min_mm,
    depth_max_mm, deepest_path_mm, radius_min_mm, radius_max_mm, and
    ``per_system`` (orifice clock, branches, tips, length, max path, depth).
    """
    from .frame import format_clock

    if tree.number_of_nodes() == 0:
        return {"laterality": tree.laterality, "systems": 0, "nodes": 0}
    br = branches(tree)
    seg = segment_length(tree)
    pm = path_mm(tree)
    gen = generation(tree)
    order = strahler(tree)
    cc = child_count(tree)
    pos = tree.positions
    rad = tree.radii
    per_system = []
    for r in tree.roots():
        s = int(tree.nodes[r]["system"])
        m = tree.system_ids == s
        clock = tree.nodes[r].get("orifice_clock")
        per_system.append({
            "system": s,
            "orifice_clock": None if clock is None else format_clock(clock),
            "branches": sum(1 for b in br if b.system == s),
            "tips": int(((cc == 0) & m).sum()),
            "max_generation": int(gen[m].max()),
            "length_mm": round(float(seg[m].sum()), 3),
            "deepest_path_mm": round(float(pm[m].max()), 3),
            "depth_max_mm": round(float(pos[m, 1].max()), 3),
            "radius_max_mm": round(float(rad[m].max()), 4),
        })
    return {
        "laterality": tree.laterality,
        "systems": len(per_system),
        "nodes": tree.number_of_nodes(),
        "branches": len(br),
        "tips": int((cc == 0).sum()),
        "bifurcations": int((cc >= 2).sum()),
        "anastomoses": len(tree.anastomoses()),
        "max_generation": int(gen.max()),
        "max_order": int(order.max()),
        "total_length_mm": round(float(seg.sum()), 3),
        "depth_min_mm": round(float(pos[:, 1].min()), 3),
        "depth_max_mm": round(float(pos[:, 1].max()), 3),
        "deepest_path_mm": round(float(pm.max()), 3),
        "radius_min_mm": round(float(rad.min()), 4),
        "radius_max_mm": round(float(rad.max()), 4),
        "per_system": per_system,
    }


def annotate(tree: DuctTree) -> DuctTree:
    """Write the derived attributes onto the graph and return it.

    Nodes get ``generation``, ``order`` and ``path_mm``; edges get ``length``
    (mm). Anastomosis edges get their straight length too.
    """
    gen, order, pm, seg = generation(tree), strahler(tree), path_mm(tree), segment_length(tree)
    idx = tree.index
    for i, n in enumerate(tree.node_ids):
        d = tree.nodes[n]
        d["generation"] = int(gen[i])
        d["order"] = int(order[i])
        d["path_mm"] = float(pm[i])
    for u, v, d in tree.edges(data=True):
        if d.get("anastomosis"):
            d["length"] = float(np.linalg.norm(tree.positions[idx[v]] - tree.positions[idx[u]]))
        else:
            d["length"] = float(seg[idx[v]])
    return tree
