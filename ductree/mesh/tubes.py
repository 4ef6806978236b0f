"""Smooth swept tubes along a duct system: each one closed, none self-intersecting.

The ideal surface of a duct system is the union of *round cones*: for every
segment (parent node -> child node) the convex hull of the two node spheres
(centre ``pos``, radius ``radius``, BF mm). This module approximates that
union by a small number of swept tubes ("runs"), which :mod:`ductree.mesh.surface`
then unions with manifold3d:

- a run follows the tree through consecutive nodes as long as the tube can
  stay within the tolerance (bend, taper change) and its rings do not cross;
  at a junction it continues into the child that best continues it, and every
  other child starts a run of its own;
- along a run there is one ring per node (an ellipse in the bisecting plane,
  its semi-axes balanced so the outer side of a bend and the crease on the
  inner side are missed by the same amount), so the radius varies along the
  duct exactly as the round cones do (``r / cos(alpha)`` where the cone
  tapers by ``sin(alpha) = (r_a - r_b) / L``);
- a run ends with the exact spherical cap of its end node sphere, starting
  at the circle where the cone touches the sphere; ``ends="flat"`` cuts free
  ends (tips and orifices) flat at the node instead;
- ring vertices sit at ``rho / cos^2(pi / 2m)`` so a polygon of ``m`` sides
  is outside the ideal at its vertices and inside at its edge midpoints by
  the same amount; ``m`` is the fewest sides that keep that error within its
  share of the tolerance.

Everything is numpy: ring records are made per run, vertices and triangles
for all runs at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Shares of the tolerance spent on the polygon (sides), on bends and on taper changes.
SIDE_SHARE = 0.45
BEND_SHARE = 0.30
TAPER_SHARE = 0.15
#: Share of the tolerance a dropped node may lie off the chord that replaces it (see :func:`drop_chain_nodes`).
CHORD_SHARE = 0.15
#: A run never turns more than this in total (so a tube cannot curl onto itself), radians.
MAX_RUN_TURN = math.radians(90.0)
#: Caps are triangulated finer than rings by this factor: a triangle on a sphere sags at its
#: circumcentre, a ring chord only at its midpoint; a spacing of 0.7 of the ring's keeps the
#: circumradius of the cap's triangles within the chord half-angle.
CAP_SPACING = 0.6
#: Segments shorter than this are merged into their parent node (mm).
ZERO_LENGTH_MM = 1e-6


@dataclass(frozen=True)
class Tolerance:
    """Allowed distance (mm) of the surface from the ideal one: ``max(rel * r, abs_mm)`` at radius ``r``."""

    rel: float
    abs_mm: float
    min_sides: int = 6

    def at(self, radius: np.ndarray | float) -> np.ndarray:
        """Tolerance (mm) at the given local radius (mm)."""
        return np.maximum(self.rel * np.asarray(radius, dtype=float), self.abs_mm)

    def scaled(self, factor: float) -> "Tolerance":
        return Tolerance(self.rel * factor, self.abs_mm * factor, self.min_sides)


#: Named qualities: ``print`` meets the fidelity spec (5 % of the radius, at least 0.02 mm).
QUALITIES = {
    "print": Tolerance(0.05, 0.02, 6),
    "draft": Tolerance(0.15, 0.05, 5),
}


def sides_for(radius: np.ndarray | float, tol: np.ndarray | float, min_sides: int = 3) -> np.ndarray:
    """Fewest polygon sides ``m`` with ``radius * tan^2(pi / 2m) <= SIDE_SHARE * tol``.

    That is the error of a balanced polygon (vertices outside, edge midpoints
    inside the circle by the same amount).
    """
    radius = np.maximum(np.asarray(radius, dtype=float), 1e-12)
    x = np.sqrt(np.minimum(SIDE_SHARE * np.asarray(tol, dtype=float) / radius, 1e6))
    m = np.ceil(np.pi / (2.0 * np.arctan(x)) - 1e-9)
    return np.maximum(m, min_sides).astype(np.int64)


def vertex_scale(m: np.ndarray | int) -> np.ndarray:
    """Radius factor that balances a polygon of ``m`` sides about its circle: ``1 / cos^2(pi / 2m)``."""
    return 1.0 / np.cos(np.pi / (2.0 * np.asarray(m, dtype=float))) ** 2


# ----------------------------------------------------------------------------- preparing the tree

@dataclass
class SystemGeometry:
    """One duct system as plain arrays after merging zero-length segments.

    ``pos`` (n, 3) BF mm, ``radius`` (n,) mm, ``parent`` (n,) local row or -1;
    rows are parents-first. ``source_rows`` is empty when nothing was merged,
    else ``[eff]`` with ``eff[i]`` the input row that input row ``i`` merged into.
    """

    pos: np.ndarray
    radius: np.ndarray
    parent: np.ndarray
    source_rows: list[np.ndarray] = field(default_factory=list)

    def children(self) -> list[list[int]]:
        kids: list[list[int]] = [[] for _ in range(len(self.parent))]
        for i, p in enumerate(self.parent.tolist()):
            if p >= 0:
                kids[p].append(i)
        return kids


def system_geometry(pos: np.ndarray, radius: np.ndarray, parent: np.ndarray) -> SystemGeometry:
    """Merge nodes that sit on their parent with the same radius (duplicated points) into it.

    A node on its parent with a *different* radius is kept: that zero-length
    segment is degenerate (one sphere holds the other) and the cones after
    it start from the node's own radius, as in the ideal surface.

    ``pos``, ``radius``, ``parent`` are one system's rows, parents before children
    (``parent`` indexes into these rows, -1 for the root).
    """
    n = len(radius)
    pos = np.asarray(pos, dtype=float)
    eff = np.arange(n)
    has = parent >= 0
    near = np.zeros(n, bool)
    near[has] = ((np.linalg.norm(pos[has] - pos[parent[has]], axis=1) < ZERO_LENGTH_MM)
                 & np.isclose(radius[has], radius[parent[has]], rtol=1e-9, atol=0.0))
    if not near.any():
        return SystemGeometry(pos=pos.copy(), radius=np.asarray(radius, float).copy(),
                              parent=np.asarray(parent, np.int64).copy(), source_rows=[])
    for i, p in enumerate(parent.tolist()):
        if p >= 0 and near[i]:
            eff[i] = eff[p]
    keep = np.flatnonzero(eff == np.arange(n))
    new_index = np.full(n, -1)
    new_index[keep] = np.arange(len(keep))
    rad = np.zeros(len(keep))
    np.maximum.at(rad, new_index[eff], radius)
    par = np.array([-1 if parent[k] < 0 else new_index[eff[parent[k]]] for k in keep], dtype=np.int64)
    return SystemGeometry(pos=pos[keep].copy(), radius=rad, parent=par, source_rows=[eff])


def drop_chain_nodes(g: SystemGeometry, tol: Tolerance, share: float = CHORD_SHARE) -> SystemGeometry:
    """Drop nodes inside unbranched stretches that a straight chord already represents.

    Along each chain of nodes with one child, a node is dropped when its
    centre lies within ``share * tol`` of the chord joining the nodes kept on
    either side, less the amount by which its radius differs from the
    radius interpolated along that chord (greedy, from the chain's start).
    Roots, junctions and tips are always kept. The union of round cones
    along the chords then stays within that share of the original one, and
    a tube needs no ring there.
    """
    P, R, par = g.pos, g.radius, g.parent
    n = len(R)
    nkids = np.bincount(par[par >= 0], minlength=n)
    if not np.any((nkids == 1) & (par >= 0)):
        return g
    kids = g.children()
    keep = np.ones(n, dtype=bool)
    limit = share * tol.at(R)
    # chain starts: every node that is not a pass-through (root, junction or tip) with one child below it
    for start in np.flatnonzero((par < 0) | (nkids != 1)).tolist():
        for first in kids[start]:
            chain = [start, first]
            while nkids[chain[-1]] == 1:
                chain.append(kids[chain[-1]][0])
            anchor = 0
            k = 2
            while k < len(chain):
                a, b = chain[anchor], chain[k]
                mids = np.asarray(chain[anchor + 1:k])
                ab = P[b] - P[a]
                L2 = float(ab @ ab)
                t = np.clip(((P[mids] - P[a]) @ ab) / L2, 0.0, 1.0) if L2 > 0 else np.zeros(len(mids))
                off = np.linalg.norm(P[mids] - (P[a] + t[:, None] * ab), axis=1)
                dr = np.abs(R[mids] - (R[a] + (R[b] - R[a]) * t))
                if np.all(off + dr <= limit[mids]):
                    k += 1
                    continue
                keep[chain[k - 1]] = True
                keep[chain[anchor + 1:k - 1]] = False
                anchor = k - 1
                k = anchor + 2
            keep[chain[anchor + 1:len(chain) - 1]] = False
    if keep.all():
        return g
    # Re-link kept nodes to their nearest kept ancestor.
    new_index = np.full(n, -1)
    new_index[keep] = np.arange(int(keep.sum()))
    up = par.copy()
    for i in range(n):  # rows are parents-first, so a dropped parent's link is final before its child
        p = up[i]
        if p >= 0 and not keep[p]:
            up[i] = up[p]
    new_par = np.where(up[keep] >= 0, new_index[np.maximum(up[keep], 0)], -1)
    return SystemGeometry(pos=P[keep].copy(), radius=R[keep].copy(), parent=new_par.astype(np.int64))


# ----------------------------------------------------------------------------- segments and rings

def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


def _rows_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def _gap_ok(c1, n1, r1, c2, n2, r2, margin: float = 1e-5) -> np.ndarray:
    """Row-wise: ring 2 lies wholly in front of ring 1's plane and ring 1 wholly behind ring 2's.

    Rings are (centre, unit normal, largest radius); consecutive rings of a
    tube that pass this test cannot cross each other.
    """
    d = c2 - c1
    sin = np.linalg.norm(np.cross(n1, n2), axis=1)
    return (_rows_dot(d, n1) - r2 * sin > margin) & (_rows_dot(d, n2) - r1 * sin > margin)


class _Seg:
    """Per-node arrays for the segment from each node's parent to the node (index = child row).

    Besides the segment itself (direction, length, taper ``sin = (r_parent - r) / L``)
    it holds the three rings a run may place for it: the *start ring* where the
    round cone touches the parent's sphere, the *end ring* where it touches the
    node's sphere, and the *interior ring* at the parent when a run comes into
    the parent and leaves through this segment, with whether that ring keeps
    within the tolerance and does not cross its neighbours.
    """

    def __init__(self, g: SystemGeometry, tol: Tolerance) -> None:
        P, R, par = g.pos, g.radius, g.parent
        has = par >= 0
        j = np.where(has, par, 0)
        self.parent = par
        vec = np.where(has[:, None], P - P[j], 0.0)
        self.length = np.linalg.norm(vec, axis=1)
        self.dir = _unit(vec)
        self.sin = np.where(has, (R[j] - R) / np.maximum(self.length, 1e-300), 0.0)
        # A round cone whose one sphere holds the other has no side surface: it is just that sphere.
        self.degenerate = ~has | (self.length < ZERO_LENGTH_MM) | (np.abs(self.sin) >= 1.0 - 1e-9)
        self.sin = np.clip(self.sin, -1.0, 1.0)
        self.cos = np.sqrt(np.clip(1.0 - self.sin ** 2, 0.0, 1.0))
        d, s, c = self.dir, self.sin, self.cos
        self.start_center = P[j] + d * (R[j] * s)[:, None]
        self.start_radius = R[j] * c
        self.end_center = P + d * (R * s)[:, None]
        self.end_radius = R * c
        # Interior ring at j = parent(c) between segment j (into j) and segment c (out of j).
        inner = ~self.degenerate & ~self.degenerate[j]
        dj = d[j]
        self.int_normal = _unit(dj + d)
        cosang = np.clip(_rows_dot(dj, d), -1.0, 1.0)
        self.theta = np.arccos(cosang)
        cmin = np.minimum(c[j], c)
        self.rho = R[j] / np.maximum(cmin, 1e-12)
        self.a_axis = 2.0 * self.rho / (1.0 + np.cos(self.theta / 2.0))
        bend = d - dj
        bend = bend - _rows_dot(bend, self.int_normal)[:, None] * self.int_normal
        self.bend = np.where(np.linalg.norm(bend, axis=1)[:, None] > 1e-12, _unit(bend), 0.0)
        t = tol.at(self.rho)
        bend_err = self.rho * np.tan(self.theta / 4.0) ** 2
        # A ring tilted by theta/2 meets a tapering cone off its node plane: the cone is wider on one
        # side of the ring and narrower on the other by (radius * sin(theta/2)) * (taper slope).
        slope = np.maximum(np.abs(s[j]) / np.maximum(c[j], 1e-12), np.abs(s) / np.maximum(c, 1e-12))
        tilt_err = self.rho * np.sin(self.theta / 2.0) * slope
        taper_err = R[j] * np.abs(1.0 / np.maximum(c[j], 1e-12) - 1.0 / np.maximum(c, 1e-12))
        self.int_ok = (inner & (bend_err + tilt_err <= BEND_SHARE * t) & (taper_err <= TAPER_SHARE * t)
                       & (self.theta < np.pi / 2))
        self.int_center = P[j]
        self.int_rmax = np.maximum(self.a_axis, self.rho)
        # Ring-order checks, keyed by the outgoing segment c (j = parent(c)):
        #   after_start: start ring of segment j, then interior ring c
        #   after_int:   interior ring j, then interior ring c
        #   close:       interior ring c, then end ring of c  (a run ending at c)
        self.after_start = self.int_ok & _gap_ok(self.start_center[j], d[j], self.start_radius[j],
                                                 self.int_center, self.int_normal, self.int_rmax)
        self.after_int = self.int_ok & self.int_ok[j] & _gap_ok(
            self.int_center[j], self.int_normal[j], self.int_rmax[j],
            self.int_center, self.int_normal, self.int_rmax)
        # close is keyed by the end node e; its interior ring (at parent(e)) is keyed by e itself.
        self.close = _gap_ok(self.int_center, self.int_normal, self.int_rmax, self.end_center, d, self.end_radius)


@dataclass
class RunPlan:
    """The runs of one system (lists of local node rows) and the nodes that need a sphere of their own.

    ``buried[i]`` is True when run ``i`` starts at a node that another run
    passes through or ends at: that node's sphere is already part of the
    surface, so the run starts with a flat disc on its start ring (inside the
    sphere) instead of a spherical cap, which would only be buried.
    """

    runs: list[list[int]]
    spheres: list[int]
    buried: list[bool] = field(default_factory=list)


def plan_runs(g: SystemGeometry, tol: Tolerance, seg: _Seg | None = None) -> RunPlan:
    """Split a system into runs (see module docs); every node sphere ends up covered.

    A run is a list of local rows ``[n0, n1, ..., nk]`` (k >= 1) joined by
    non-degenerate segments. At each node a run continues into the child with
    the largest radius among those whose interior ring keeps within the
    tolerance, does not cross the ring before it and keeps the run's total
    turn under 90 degrees; the other children start runs of their own.
    """
    seg = seg or _Seg(g, tol)
    kids = g.children()
    R = g.radius.tolist()
    degenerate = seg.degenerate.tolist()
    after_start = seg.after_start.tolist()
    after_int = seg.after_int.tolist()
    close = seg.close.tolist()
    theta = seg.theta.tolist()
    covered = np.zeros(len(R), dtype=bool)
    runs: list[list[int]] = []
    pending: list[tuple[int, int]] = []  # (start node, first child)
    for root in np.flatnonzero(g.parent < 0).tolist():
        pending.extend((root, c) for c in reversed(kids[root]))
    while pending:
        start, first = pending.pop()
        if degenerate[first]:
            pending.extend((first, c) for c in reversed(kids[first]))
            continue
        run = [start, first]
        turned = 0.0
        while True:
            j = run[-1]
            best = None
            for c in kids[j]:
                if degenerate[c]:
                    continue
                ok = after_start[c] if len(run) == 2 else after_int[c]
                if not ok or turned + theta[c] > MAX_RUN_TURN:
                    continue
                key = (R[c], -theta[c])
                if best is None or key > best[0]:
                    best = (key, c)
            if best is None:
                break
            c = best[1]
            turned += theta[c]
            run.append(c)
            pending.extend((j, o) for o in reversed(kids[j]) if o != c)
        end = run[-1]
        # The end ring must not cross the last interior ring: peel off end segments until it does not.
        piece = run
        while len(piece) > 2 and not close[piece[-1]]:
            runs.append(piece[-2:])
            piece = piece[:-1]
        runs.append(piece)
        covered[run] = True
        pending.extend((end, c) for c in reversed(kids[end]))
    spheres = np.flatnonzero(~covered).tolist()
    # Nodes that some run passes through or ends at.
    held = np.zeros(len(R), dtype=bool)
    for r in runs:
        held[r[1:]] = True
    buried = [bool(held[r[0]]) for r in runs]
    return RunPlan(runs=runs, spheres=spheres, buried=buried)


# ----------------------------------------------------------------------------- ring records

def cap_ring_sides(m_eq: np.ndarray | int, elevation: np.ndarray | float) -> np.ndarray:
    """Sides of a cap ring at ``elevation`` (radians) on a sphere whose equator has ``m_eq`` sides."""
    return np.maximum(3, np.ceil(np.asarray(m_eq) * np.cos(elevation) / CAP_SPACING - 1e-9)).astype(np.int64)


class _Rings:
    """Columns of ring records, collected part by part, then sorted into tube order."""

    COLS = ("run", "part", "order", "center", "normal", "a", "b", "bend", "m", "k")

    def __init__(self) -> None:
        self.parts: list[dict] = []

    def add(self, **cols) -> None:
        n = len(cols["run"])
        if n == 0:
            return
        out = {}
        for name in self.COLS:
            v = cols.get(name)
            if v is None:
                v = np.zeros((n, 3)) if name in ("bend",) else np.zeros(n)
            v = np.asarray(v)
            if v.ndim == 0 or (v.ndim == 1 and name in ("center", "normal", "bend")):
                v = np.broadcast_to(v, (n, 3) if name in ("center", "normal", "bend") else (n,))
            out[name] = np.array(v)
        self.parts.append(out)

    def cap(self, run, part, center, direction, normal, radius, elev0, m_eq, k, toward_pole: bool) -> None:
        """Rings of spherical caps from elevation ``elev0`` (exclusive) to the pole toward ``direction``."""
        run = np.asarray(run)
        if len(run) == 0:
            return
        extent = np.pi / 2.0 - elev0
        delta = CAP_SPACING * 2.0 * np.pi / m_eq
        n = np.maximum(1, np.ceil(extent / delta - 1e-9)).astype(np.int64)
        idx = np.repeat(np.arange(len(run)), n)
        i = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + 1  # 1..n
        frac = i / n[idx]
        e = elev0[idx] + extent[idx] * frac
        pole = i == n[idx]
        rr = np.where(pole, 0.0, radius[idx] * np.cos(e))
        off = np.where(pole, radius[idx] * k[idx], radius[idx] * np.sin(e))
        self.add(run=run[idx], part=np.full(len(idx), part), order=np.where(toward_pole, e, -e),
                 center=center[idx] + direction[idx] * off[:, None], normal=normal[idx], a=rr, b=rr,
                 m=np.where(pole, 1, cap_ring_sides(m_eq[idx], e)), k=np.where(pole, 1.0, k[idx]))

    def sorted(self) -> dict:
        cols = {name: np.concatenate([p[name] for p in self.parts]) for name in self.COLS}
        order = np.lexsort((cols["order"], cols["part"], cols["run"]))
        return {name: v[order] for name, v in cols.items()}


def _valid_flat_ends(g: SystemGeometry, seg: _Seg, runs: list[list[int]], lengths: np.ndarray, s_node, f_node,
                     e_node, flat_start: np.ndarray, flat_end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep a flat end only where its ring (in the node's plane) does not cross the ring next to it.

    On a short, steeply tapering last segment the round cone touches the node
    sphere beyond the node itself; a cut at the node would then fold the
    tube, so that end stays round (the node sphere, as in the ideal surface).
    """
    P, R = g.pos, g.radius
    fs, fe = flat_start.copy(), flat_end.copy()
    # the ring after the start and the ring before the end, in the round/buried configuration
    second_key = np.array([r[2] if len(r) > 2 else r[-1] for r in runs])
    long_run = lengths > 2
    nxt_c = np.where(long_run[:, None], seg.int_center[second_key], seg.end_center[e_node])
    nxt_n = np.where(long_run[:, None], seg.int_normal[second_key], seg.dir[e_node])
    nxt_r = np.where(long_run, seg.int_rmax[second_key], seg.end_radius[e_node])
    prv_c = np.where(long_run[:, None], seg.int_center[e_node], seg.start_center[f_node])
    prv_n = np.where(long_run[:, None], seg.int_normal[e_node], seg.dir[f_node])
    prv_r = np.where(long_run, seg.int_rmax[e_node], seg.start_radius[f_node])
    # flat rings at the nodes themselves
    fs_r = R[s_node] / np.maximum(seg.cos[f_node], 1e-12)
    fe_r = R[e_node] / np.maximum(seg.cos[e_node], 1e-12)
    fs &= _gap_ok(P[s_node], seg.dir[f_node], fs_r, nxt_c, nxt_n, nxt_r)
    fe &= _gap_ok(prv_c, prv_n, prv_r, P[e_node], seg.dir[e_node], fe_r)
    # a one-segment run with both ends flat: the two flat rings must not cross either
    both = fs & fe & ~long_run
    ok = _gap_ok(P[s_node], seg.dir[f_node], fs_r, P[e_node], seg.dir[e_node], fe_r)
    fe &= ~(both & ~ok)
    return fs, fe


def build_tubes(g: SystemGeometry, plan: RunPlan, tol: Tolerance, *, ends: str = "round",
                seg: _Seg | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every run (and lone sphere) of ``plan`` as a closed mesh ``(vertices (V, 3) mm, faces (F, 3))``.

    ``ends="flat"`` cuts free ends flat at the node: the orifice (a run that
    starts at a root with one child) and tips (a run that ends at a node
    without children).
    Splits between runs inside the tree always get round caps (the node sphere).
    """
    seg = seg or _Seg(g, tol)
    P, R = g.pos, g.radius
    R_tol = _sphere_tolerance_radius(g, seg)
    nruns = len(plan.runs)
    rings = _Rings()
    if nruns:
        lengths = np.array([len(r) for r in plan.runs])
        flat_nodes = np.concatenate(plan.runs)
        run_of = np.repeat(np.arange(nruns), lengths)
        first_at = np.cumsum(lengths) - lengths
        s_node = flat_nodes[first_at]
        f_node = flat_nodes[first_at + 1]
        e_node = flat_nodes[first_at + lengths - 1]
        has_kids = np.zeros(len(R), bool)
        has_kids[g.parent[g.parent >= 0]] = True
        flat = ends == "flat"
        # Only a root with one child is a free end; at a root that branches (or whose other segments
        # are degenerate) the node sphere is what joins the pieces, so it stays round.
        nkids = np.bincount(g.parent[g.parent >= 0], minlength=len(R))
        flat_start = (flat & (g.parent[s_node] < 0) & (nkids[s_node] == 1)) if flat else np.zeros(nruns, bool)
        buried = np.asarray(plan.buried, dtype=bool) if len(plan.buried) == nruns else np.zeros(nruns, bool)
        flat_start = flat_start & ~buried
        flat_end = flat & ~has_kids[e_node] if flat else np.zeros(nruns, bool)
        if flat:
            flat_start, flat_end = _valid_flat_ends(g, seg, plan.runs, lengths, s_node, f_node, e_node,
                                                    flat_start, flat_end)
        # Interior rings: nodes 1..k-1 of each run, keyed by the next node.
        pos_in = np.arange(len(flat_nodes)) - first_at[run_of]
        interior = (pos_in >= 1) & (pos_in <= lengths[run_of] - 2)
        ii = np.flatnonzero(interior)
        key = flat_nodes[ii + 1]
        m_int = sides_for(seg.rho[key], tol.at(seg.rho[key]), tol.min_sides)
        rings.add(run=run_of[ii], part=np.full(len(ii), 2), order=pos_in[ii].astype(float),
                  center=seg.int_center[key], normal=seg.int_normal[key], a=seg.a_axis[key], b=seg.rho[key],
                  bend=seg.bend[key], m=m_int, k=vertex_scale(m_int))
        # Round starts: cap on the start node's sphere, then the start ring of the first segment.
        rs = np.flatnonzero(~flat_start & ~buried)
        if len(rs):
            nodes, fseg = s_node[rs], f_node[rs]
            m_sph = sides_for(R[nodes], tol.at(R_tol[nodes]), tol.min_sides)
            ksph = vertex_scale(m_sph)
            elev0 = -np.arcsin(seg.sin[fseg])
            rings.cap(rs, 0, P[nodes], -seg.dir[fseg], seg.dir[fseg], R[nodes], elev0, m_sph, ksph, False)
            rings.add(run=rs, part=np.full(len(rs), 1), center=seg.start_center[fseg], normal=seg.dir[fseg],
                      a=seg.start_radius[fseg], b=seg.start_radius[fseg], m=cap_ring_sides(m_sph, elev0), k=ksph)
        # Buried starts: a flat disc on the start ring, inside the start node's sphere.
        bs = np.flatnonzero(buried)
        if len(bs):
            fseg = f_node[bs]
            rho = seg.start_radius[fseg]
            m = sides_for(rho, tol.at(rho), tol.min_sides)
            ones = np.ones(len(bs))
            rings.add(run=bs, part=0 * ones, center=seg.start_center[fseg], normal=seg.dir[fseg], m=ones, k=ones)
            rings.add(run=bs, part=ones, center=seg.start_center[fseg], normal=seg.dir[fseg], a=rho, b=rho, m=m,
                      k=vertex_scale(m))
        fs = np.flatnonzero(flat_start)
        if len(fs):
            nodes, fseg = s_node[fs], f_node[fs]
            rho = R[nodes] / seg.cos[fseg]
            m = sides_for(rho, tol.at(rho), tol.min_sides)
            rings.add(run=fs, part=np.zeros(len(fs)), center=P[nodes], normal=seg.dir[fseg], m=np.ones(len(fs)),
                      k=np.ones(len(fs)))
            rings.add(run=fs, part=np.ones(len(fs)), center=P[nodes], normal=seg.dir[fseg], a=rho, b=rho, m=m,
                      k=vertex_scale(m))
        re_ = np.flatnonzero(~flat_end)
        if len(re_):
            nodes = e_node[re_]
            m_sph = sides_for(R[nodes], tol.at(R_tol[nodes]), tol.min_sides)
            ksph = vertex_scale(m_sph)
            elev0 = np.arcsin(seg.sin[nodes])
            rings.add(run=re_, part=np.full(len(re_), 3), center=seg.end_center[nodes], normal=seg.dir[nodes],
                      a=seg.end_radius[nodes], b=seg.end_radius[nodes], m=cap_ring_sides(m_sph, elev0), k=ksph)
            rings.cap(re_, 4, P[nodes], seg.dir[nodes], seg.dir[nodes], R[nodes], elev0, m_sph, ksph, True)
        fe = np.flatnonzero(flat_end)
        if len(fe):
            nodes = e_node[fe]
            rho = R[nodes] / seg.cos[nodes]
            m = sides_for(rho, tol.at(rho), tol.min_sides)
            rings.add(run=fe, part=np.full(len(fe), 3), center=P[nodes], normal=seg.dir[nodes], a=rho, b=rho, m=m,
                      k=vertex_scale(m))
            rings.add(run=fe, part=np.full(len(fe), 4), center=P[nodes], normal=seg.dir[nodes], m=np.ones(len(fe)),
                      k=np.ones(len(fe)))
    # Lone spheres: south cap, equator, north cap (as runs after the real ones).
    sp = np.asarray(plan.spheres, dtype=np.int64)
    if len(sp):
        ids = nruns + np.arange(len(sp))
        m_sph = sides_for(R[sp], tol.at(R_tol[sp]), tol.min_sides)
        ksph = vertex_scale(m_sph)
        z = np.tile([0.0, 0.0, 1.0], (len(sp), 1))
        zero = np.zeros(len(sp))
        rings.cap(ids, 0, P[sp], -z, z, R[sp], zero, m_sph, ksph, False)
        rings.add(run=ids, part=np.ones(len(sp)), center=P[sp], normal=z, a=R[sp], b=R[sp],
                  m=cap_ring_sides(m_sph, zero), k=ksph)
        rings.cap(ids, 4, P[sp], z, z, R[sp], zero, m_sph, ksph, True)
    if not rings.parts:
        return []
    return _meshes_from_rings(rings.sorted(), nruns + len(sp))


def _sphere_tolerance_radius(g: SystemGeometry, seg: _Seg) -> np.ndarray:
    """Per node, the radius whose tolerance its sphere is faceted to: its own, or that of a thinner sphere
    it holds (a zero-length segment, or one sphere inside the other) and of the ducts leaving that one.
    A facet of a wide sphere stands out by a share of the wide tolerance; right beside a thin duct
    leaving from inside it, that is nearer the thin duct's surface than the sphere's and must keep
    within the thin duct's tolerance. (A duct leaving the sphere's own surface starts about as wide as
    the sphere: nothing changes there.)"""
    R = g.radius
    out = R.astype(float).copy()
    kids = g.children()
    for c in range(len(R) - 1, -1, -1):           # rows are parents-first: a child is done before its parent
        p = int(g.parent[c])
        if p >= 0 and seg.degenerate[c]:
            kids_leaving = [seg.start_radius[k] for k in kids[c] if not seg.degenerate[k]]
            out[p] = min(out[p], out[c], *kids_leaving)
    return out


# ----------------------------------------------------------------------------- rings -> triangles

def _frames(normals: np.ndarray, run: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation-minimising (u, v) frames along each run's ring normals (projection transport).

    Rings are sorted by run; all runs advance together, one ring position per step.
    """
    n = len(run)
    starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
    lengths = np.diff(np.r_[starts, n])
    u = np.empty((n, 3))
    n0 = normals[starts]
    helper = np.where((np.abs(n0[:, 0]) < 0.9)[:, None], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    cur = _unit(np.cross(n0, helper))
    active = np.arange(len(starts))
    for p in range(int(lengths.max())):
        active = active[lengths[active] > p]
        idx = starts[active] + p
        ni = normals[idx]
        c = cur[active]
        w = c - _rows_dot(c, ni)[:, None] * ni
        wn = np.linalg.norm(w, axis=1)
        bad = wn < 1e-9
        if np.any(bad):  # a normal flipped onto the reference: take any perpendicular
            h = np.where((np.abs(ni[bad, 0]) < 0.9)[:, None], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
            w[bad] = np.cross(ni[bad], h)
            wn[bad] = np.linalg.norm(w[bad], axis=1)
        w = w / wn[:, None]
        cur[active] = w
        u[idx] = w
    v = np.cross(normals, u)
    return u, v


def _share_sides(m: np.ndarray, part: np.ndarray, run: np.ndarray) -> np.ndarray:
    """Give each tube ring (start, interior, end) at least the sides of its tube neighbours.

    Between two rings the zipper is only as fine as the coarser ring, so on a
    tapering stretch the thin ring must take the thick ring's side count.
    """
    tube = (part >= 1) & (part <= 3)
    out = m.copy()
    same_next = np.r_[(run[1:] == run[:-1]) & tube[1:] & tube[:-1], False]
    same_prev = np.r_[False, same_next[:-1]]
    nxt = np.r_[m[1:], 0]
    prv = np.r_[0, m[:-1]]
    out = np.where(tube & same_next, np.maximum(out, nxt), out)
    out = np.where(tube & same_prev, np.maximum(out, prv), out)
    return out


def _meshes_from_rings(r: dict, nruns: int) -> list[tuple[np.ndarray, np.ndarray]]:
    centers, normals = r["center"], _unit(r["normal"])
    a, b, bend, ks, run = r["a"], r["b"], r["bend"], r["k"], r["run"].astype(np.int64)
    m0 = r["m"].astype(np.int64)
    m = _share_sides(m0, r["part"], run)
    ks = np.where(m != m0, vertex_scale(m), ks)
    u, v = _frames(normals, run)
    offsets = np.concatenate([[0], np.cumsum(m)])
    ring_of = np.repeat(np.arange(len(m)), m)
    q = np.arange(offsets[-1]) - offsets[ring_of]
    psi = 2.0 * np.pi * q / m[ring_of]
    cos_p, sin_p = np.cos(psi), np.sin(psi)
    # Ellipse radius; the bend direction's angle in each ring's (u, v) frame.
    psib = np.arctan2(_rows_dot(bend, v), _rows_dot(bend, u))
    d = psi - psib[ring_of]
    ar, br = a[ring_of], b[ring_of]
    ok = (ar > 0) & (br > 0)
    rho = np.zeros(len(ar))
    rho[ok] = 1.0 / np.sqrt(np.cos(d[ok]) ** 2 / ar[ok] ** 2 + np.sin(d[ok]) ** 2 / br[ok] ** 2)
    rho *= ks[ring_of]
    verts = centers[ring_of] + rho[:, None] * (cos_p[:, None] * u[ring_of] + sin_p[:, None] * v[ring_of])
    pairs = np.flatnonzero(run[:-1] == run[1:])
    faces = _zip_rings(m, offsets, pairs)
    # Split per run: rings (hence vertices) and pairs (hence faces) are grouped by run.
    v_start = offsets[np.searchsorted(run, np.arange(nruns))]
    v_end = np.r_[v_start[1:], offsets[-1]]
    steps = np.where(m[pairs] > 1, m[pairs], 0) + np.where(m[pairs + 1] > 1, m[pairs + 1], 0)
    f_count = np.bincount(run[pairs], weights=steps, minlength=nruns).astype(np.int64)
    f_end = np.cumsum(f_count)
    f_start = f_end - f_count
    return [(verts[v_start[i]:v_end[i]], faces[f_start[i]:f_end[i]] - v_start[i]) for i in range(nruns)]


def _zip_rings(m: np.ndarray, offsets: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Triangles joining ring ``i`` to ring ``i + 1`` for each ``i`` in ``pairs``.

    A zipper by angle, so rings with different side counts join cleanly; a
    single-point ring (a pole) becomes a fan. Outward when ring ``i + 1`` lies
    ahead along the rings' normal and angles run counter-clockwise about it.
    """
    mA, mB = m[pairs], m[pairs + 1]
    stepsA = np.where(mA > 1, mA, 0)
    stepsB = np.where(mB > 1, mB, 0)
    P = np.arange(len(pairs))
    pairA = np.repeat(P, stepsA)
    iA = np.arange(stepsA.sum()) - np.repeat(np.cumsum(stepsA) - stepsA, stepsA)
    pairB = np.repeat(P, stepsB)
    jB = np.arange(stepsB.sum()) - np.repeat(np.cumsum(stepsB) - stepsB, stepsB)
    key = np.concatenate([(iA + 1) / mA[pairA], (jB + 1) / mB[pairB]])
    pair = np.concatenate([pairA, pairB])
    isA = np.concatenate([np.ones(len(pairA), bool), np.zeros(len(pairB), bool)])
    order = np.lexsort((~isA, key, pair))
    pair, isA = pair[order], isA[order]
    startA = np.r_[0, np.cumsum(stepsA)][:-1]
    startB = np.r_[0, np.cumsum(stepsB)][:-1]
    i = np.cumsum(isA) - isA - startA[pair]
    j = np.cumsum(~isA) - (~isA) - startB[pair]
    ma, mb = mA[pair], mB[pair]
    oa, ob = offsets[pairs][pair], offsets[pairs + 1][pair]
    a0, a1 = oa + (i % ma), oa + ((i + 1) % ma)
    b0, b1 = ob + (j % mb), ob + ((j + 1) % mb)
    tri = np.where(isA[:, None], np.stack([a0, a1, b0], 1), np.stack([a0, b1, b0], 1))
    return tri.astype(np.int64)


def sphere_mesh(radius: float, tol: Tolerance) -> tuple[np.ndarray, np.ndarray]:
    """A closed sphere of ``radius`` (mm) at the origin, within ``tol`` of the true sphere."""
    g = SystemGeometry(pos=np.zeros((1, 3)), radius=np.array([float(radius)]), parent=np.array([-1]))
    return build_tubes(g, RunPlan(runs=[], spheres=[0]), tol)[0]
