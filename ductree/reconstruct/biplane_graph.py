"""One ductogram view -> a rooted 2D tree of duct centrelines with widths (view mm).

The steps, on the mask of one :class:`~ductree.io.images2d.View2D`:

1. **Specks.** Connected pieces smaller than ``min_speck_mm2`` are dropped
   and counted.
2. **Holes.** Background enclosed by contrast is either a *filling defect*
   (a lucency inside one duct: thin walls of contrast on both sides, the two
   walls together with the hole about as wide as the duct) or the gap between
   two ducts that touch or cross in projection (walls as thick as the ducts
   themselves). Defect holes are filled before thinning and recorded as
   candidate findings; the others are kept.
3. **Skeleton.** :func:`skimage.morphology.skeletonize` (its skeleton, computed faster), decomposed into
   chains between ends and junction clusters
   (:func:`ductree.reconstruct.skelgraph.skeleton_chains` on a one-slice
   volume). Radius = distance to the background at the centreline minus half
   a pixel.
4. **Spurs.** Terminal chains shorter than ``spur_factor`` times the radius at
   their junction (plus ``spur_px`` pixels) are boundary noise: pruned,
   repeatedly. Each is recorded (``stubs``: its end, the radius there and at
   its junction, its length): a branch occluded at its origin leaves a short
   stub as wide as a duct, which the findings report as a cut-off.
5. **Root.** The nipple pixel, when given, picks the duct end nearest to it;
   otherwise the root is the most anterior end of the largest piece (the
   cannulated orifice is where the contrast column starts, at the nipple
   side of the image) and the nipple pixel is put there.
6. **Gaps.** A piece cut off from the rest by a gap in the contrast column (a
   filling defect that fills the lumen) is joined back: its end and an end
   of the main piece within ``max_gap_mm`` that point at each other. Each
   bridge is a candidate finding. Pieces that cannot be joined are reported
   (never silently dropped) and left out of the tree.
7. **Crossings.** Two ducts of one system that cross in projection make a
   cycle in the skeleton (both reach the nipple). Each cycle is cut at its
   most crossing-like place: a four-way node or two close three-way nodes
   whose arms pair into two nearly straight ducts (an X), a three-way node
   where a duct ends on top of another (a T), or two close three-way nodes
   where two ducts touch without crossing (a touch: the link between them is
   cut and each node's other two arms stay one duct, passing by). Nearly
   parallel ducts that touch look like a shallow X: judged by the arms' truth
   ducts in 140 simulated cases (280 views), 34 of the 143 wrong cuts were
   touches read as an X; the touch reading scored within 0.3 of the X in 31
   of the 43 touches of two linked nodes and in none of 45 such crossings.
   With ``touch_penalty=-0.3`` (the default: a touch scores 0.3 better than
   an X) the mean 3D error over sixteen 20-case sets goes 0.590 -> 0.559 mm
   against reading no touches (``None``; 11 sets better; benchmark
   0.636 -> 0.574); the findings find 331 of 400 inserted defects over
   twenty sets, against 328 with no touches read. A T whose ending arm
   points away from the nipple (``t_outward_cos``) scores
   ``t_outward_penalty`` worse: ducts branch outward, so a duct "ending"
   there outward is most often a real child leaving its fork, and cutting it
   there hangs the child on the crossing duct. Judged by the arms' truth
   ducts (a T is wrong when its ending arm's duct joins there), 72% of the
   wrong T cuts ended outward against 14% of the right ones; with 0.3 the
   wrong cuts of the 280 views go 171 -> 152 and the mean 3D error 0.566 ->
   0.534 mm on the seven tuning sets (5 better) and 0.560 -> 0.535 mm on
   thirteen others (8 better; 0.2 gave 0.525 and 0.556). It is the default
   together with the shifted re-reading of the depth map (``map_shifts_mm``
   in :class:`~ductree.reconstruct.biplane_options.BiplaneOptions`): alone it
   made one seed's right depth map read a subtree on the wrong ducts, a near
   tie that a 0.04 mm move of the map flips. The pairing must break the
   cycle. What is left is a tree.

The result is a :class:`ViewTree`: nodes in ``(u, d)`` mm from the nipple
(``u`` = BF x on a CC, BF z on a lateral; ``d`` = depth), each node's
incoming centreline polyline with radii, and the bookkeeping of what was
done (holes, gaps, crossings, specks, fragments).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from ..errors import InputError
from ..io.images2d import View2D


@dataclass(frozen=True)
class ViewOptions:
    """Tuning of :func:`view_tree` (mm unless named ``_px``)."""

    min_speck_mm2: float = 0.02          #: pieces of contrast smaller than this are specks
    radius_offset_px: float = 0.5        #: distance transform at the centreline minus this = radius
    spur_factor: float = 1.6             #: terminal chains shorter than this x junction radius are spurs
    spur_px: float = 3.0
    max_gap_mm: float = 10.0             #: gaps in the contrast column joined up to this length
    gap_cos: float = 0.5                 #: both ends of a gap must point at each other (cosine)
    cross_link_factor: float = 5.0       #: two 3-way nodes this close (x their radii sum) may be one X
    link_penalty: float = 0.05           #: ... scored worse by this per radii-sum of link beyond one
    arm_look_mm: float = 1.0             #: arm directions are taken this far out (plus the cluster radius)
    t_penalty: float = 0.15              #: a T (duct ending on another) scores worse than an X by this
    touch_penalty: float | None = -0.3   #: two ducts touching (not crossing) score this much worse than an X
                                         #: (None: no touch is read; see the module docs)
    t_outward_penalty: float = 0.3       #: a T whose ending arm points away from the nipple scores this much
                                         #: worse (a child leaving its fork looks like that; see the module docs)
    t_outward_cos: float = 0.3           #: ... "away": cosine of the arm with the root-to-node direction above this
    defect_ratio: float = 0.3            #: (duct radius beyond - wall) / hole half-width at least this: a defect
    defect_min_width_fraction: float = 0.25  #: a defect hole is at least this fraction of the duct's width
    min_hole_mm2: float = 0.02           #: smaller holes are pinholes (noise): filled, not findings
    defect_min_length_mm: float = 0.8    #: a narrower hole (high ratio) this long is still a defect
    defect_max_mm: float = 12.0          #: holes longer than this are never defects ...
    defect_max_width_mm: float = 2.0     #: ... nor holes wider than this (both sides of the bounding box)
    nipple_max_mm: float = 15.0          #: a given nipple must lie this close to a duct end
    refine_max_factor: float = 3.0       #: a junction moves at most this x its radius (+ 0.5 mm) when refined


@dataclass
class ViewTree:
    """A rooted 2D tree of one view (``u``, ``d`` in mm from the nipple; radii mm).

    Row ``i`` is a node; ``parent[i]`` its parent row (-1 for the root, row 0).
    ``edge_ud[i]`` / ``edge_r[i]`` is the centreline from the parent to node
    ``i`` (both ends included; empty for the root). ``bridge[i]`` marks an
    edge that jumps a gap in the contrast column.
    """

    view: View2D
    ud: np.ndarray
    r: np.ndarray
    parent: np.ndarray
    children: list[list[int]]
    edge_ud: list[np.ndarray]
    edge_r: list[np.ndarray]
    bridge: np.ndarray
    holes: list[dict] = field(default_factory=list)        #: defect holes filled (candidate findings)
    gaps: list[dict] = field(default_factory=list)         #: gaps bridged (candidate findings)
    crossings: list[dict] = field(default_factory=list)    #: cycles cut (X, T and touch)
    fragments: list[dict] = field(default_factory=list)    #: pieces that could not be attached
    specks: int = 0
    skeleton_px: int = 0
    fork_slack: np.ndarray | None = None                   #: per node: how far (mm) a fork may be seen too deep
    stubs: list[dict] = field(default_factory=list)        #: spurs pruned (their ends: candidate cut-offs)

    @property
    def n(self) -> int:
        return len(self.parent)

    @property
    def kind(self) -> np.ndarray:
        """Per node: 0 root, 1 pass (one child), 2 junction (>= 2 children), 3 tip."""
        k = np.array([2 if len(c) >= 2 else (1 if len(c) == 1 else 3) for c in self.children])
        k[self.parent < 0] = 0
        return k

    def total_length_mm(self) -> float:
        return float(sum(_polyline_length(p) for p in self.edge_ud if len(p)))

    def remembered(self, name: str, compute, key: object = ()):
        """``compute()`` remembered on the tree under ``name`` while its edge lists are the same objects and
        ``key`` (what else the value depends on) is equal: a copy given edges of its own recomputes."""
        got = self.__dict__.get(name)
        if got is not None and got[0] is self.edge_ud and got[1] is self.edge_r and got[2] == key:
            return got[3]
        value = compute()
        self.__dict__[name] = (self.edge_ud, self.edge_r, key, value)
        return value

    def subtree(self, i: int) -> list[int]:
        """Row ``i`` and all rows below it."""
        out, stack = [], [i]
        while stack:
            k = stack.pop()
            out.append(k)
            stack.extend(self.children[k])
        return out


# the removal classes of Zhang & Suen's thinning per 8-neighbourhood (bit k = neighbour k clockwise from the
# upper left: NW, N, NE, E, SE, S, SW, W): 1 removable in the first sub-pass, 2 in the second, 3 in both;
# the table of scikit-image's ``skeletonize`` (method "zhang"), so that the skeletons are the same
_ZS_LUT = np.array([
    0, 0, 0, 1, 0, 0, 1, 3, 0, 0, 3, 1, 1, 0, 1, 3, 0, 0, 0, 0, 0, 0,
    0, 0, 2, 0, 2, 0, 3, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 2, 2, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0,
    0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3, 0, 2, 0, 0, 0, 3, 1,
    0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 1, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 1, 3, 0, 0,
    1, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 2, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3,
    0, 1, 0, 0, 0, 0, 2, 2, 0, 0, 2, 0, 0, 0], dtype=np.uint8)


def _skeletonize(m: np.ndarray) -> np.ndarray:
    """The skeleton of ``m`` (bool): the pixels :func:`skimage.morphology.skeletonize` keeps, computed by
    revisiting only the pixels that can still change (a pixel's removal class depends on its 8 neighbours
    only; one whose class is 0 stays so until a neighbour goes). Each sub-pass decides all its pixels on the
    state before it, as the scanning original does; the same skeleton, about 3x faster on a 2000 px view
    (most of the scan is background and ducts thinned long before the widest)."""
    H, W = m.shape
    Wp = W + 2
    S = np.zeros((H + 2, Wp), dtype=np.uint8)
    S[1:-1, 1:-1] = m
    S = S.ravel()
    offs = np.array([-Wp - 1, -Wp, -Wp + 1, 1, Wp + 1, Wp, Wp - 1, -1], dtype=np.intp)
    active = np.flatnonzero(S)
    mark = np.empty(S.size, dtype=np.int64)
    idle = 0
    sub = 0
    while idle < 2 and len(active):       # two sub-passes in a row removing nothing: nothing ever will
        code = S[active + offs[0]].copy()
        for k in range(1, 8):
            code |= S[active + offs[k]] << k
        v = _ZS_LUT[code]
        rem = (v == 3) | (v == (1 if sub % 2 == 0 else 2))
        sub += 1
        removed = active[rem]
        if not len(removed):
            idle += 1
            active = active[v > 0]
            continue
        idle = 0
        S[removed] = 0
        nb = (removed[:, None] + offs[None, :]).ravel()
        nb = nb[S[nb] == 1]
        cand = np.concatenate([active[(v > 0) & ~rem], nb])
        pos = np.arange(len(cand), dtype=np.int64)
        mark[cand] = pos                  # each pixel once (the last of its copies)
        active = cand[mark[cand] == pos]
    return S.reshape(H + 2, Wp)[1:-1, 1:-1].astype(bool)


def _edt(m: np.ndarray) -> np.ndarray:
    """Euclidean distance (pixels, float64) of each pixel of ``m`` to the nearest background pixel: the
    values of ``scipy.ndimage.distance_transform_edt``, computed by the ``edt`` package when installed (about
    10x faster on a 2000 px view). Its float32 distances are squared back to their exact integer squared
    pixel distances and their float64 square roots taken, the very values scipy returns."""
    try:
        import edt as _edt_pkg
    except ImportError:                  # pragma: no cover - optional speed-up
        return ndi.distance_transform_edt(m)
    b = np.ascontiguousarray(m, dtype=bool)
    if b.ndim != 2 or b.all() or not b.any():
        return ndi.distance_transform_edt(m)
    e = _edt_pkg.edt(b, black_border=False, parallel=1)
    if float(e.max()) > 1000.0:         # beyond float32's exact integer squares: scipy
        return ndi.distance_transform_edt(m)
    e = e.astype(np.float64)
    np.multiply(e, e, out=e)
    np.rint(e, out=e)
    return np.sqrt(e, out=e)


def _polyline_length(p: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0


# --------------------------------------------------------------------------- a small mutable graph

class _G:
    """Undirected multigraph of skeleton nodes and centreline chains (pixel coordinates)."""

    def __init__(self) -> None:
        self.nodes: dict[int, dict] = {}
        self.edges: dict[int, dict] = {}
        self.adj: dict[int, set[int]] = {}
        self._nid = 0
        self._eid = 0

    def add_node(self, rc: np.ndarray, r: float) -> int:
        k = self._nid
        self._nid += 1
        self.nodes[k] = {"rc": np.asarray(rc, dtype=float), "r": float(r)}
        self.adj[k] = set()
        return k

    def add_edge(self, a: int, b: int, rc: np.ndarray, r: np.ndarray, **flags) -> int:
        k = self._eid
        self._eid += 1
        self.edges[k] = {"a": a, "b": b, "rc": np.asarray(rc, dtype=float), "r": np.asarray(r, dtype=float),
                         **flags}
        self.adj[a].add(k)
        self.adj[b].add(k)
        return k

    def remove_edge(self, e: int) -> dict:
        d = self.edges.pop(e)
        self.adj[d["a"]].discard(e)
        self.adj[d["b"]].discard(e)
        return d

    def remove_node(self, n: int) -> None:
        for e in list(self.adj[n]):
            self.remove_edge(e)
        del self.adj[n]
        del self.nodes[n]

    def deg(self, n: int) -> int:
        return sum(2 if self.edges[e]["a"] == self.edges[e]["b"] else 1 for e in self.adj[n])

    def other(self, e: int, n: int) -> int:
        d = self.edges[e]
        return d["b"] if d["a"] == n else d["a"]

    def oriented(self, e: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The edge's points and radii starting at node ``n``."""
        d = self.edges[e]
        if d["a"] == n:
            return d["rc"], d["r"]
        return d["rc"][::-1], d["r"][::-1]

    def move_edge_end(self, e: int, old: int, new: int) -> None:
        d = self.edges[e]
        if d["a"] == old:
            d["a"] = new
        else:
            d["b"] = new
        self.adj[old].discard(e)
        self.adj[new].add(e)
        d["cache"] = {}
        d["rc"] = d["rc"].copy()
        if d["a"] == new:
            d["rc"][0] = self.nodes[new]["rc"]
        else:
            d["rc"][-1] = self.nodes[new]["rc"]

    def merge_degree_two(self, n: int) -> int | None:
        """Join the two chains at a degree-2 node into one; return the new edge (None if not possible)."""
        es = list(self.adj[n])
        if len(es) != 2 or es[0] == es[1]:
            return None
        e1, e2 = es
        a = self.other(e1, n)
        b = self.other(e2, n)
        if a == n or b == n:
            return None
        p1, r1 = self.oriented(e1, a)
        p2, r2 = self.oriented(e2, n)
        skip = ("a", "b", "rc", "r", "cache")
        flags = {k: v for k, v in self.edges[e1].items() if k not in skip}
        for k, v in self.edges[e2].items():
            if k not in skip and v:
                flags[k] = flags.get(k) or v
        self.remove_edge(e1)
        self.remove_edge(e2)
        del self.adj[n]
        del self.nodes[n]
        return self.add_edge(a, b, np.vstack([p1, p2[1:]]), np.concatenate([r1, r2[1:]]), **flags)

    def length_px(self, e: int) -> float:
        return float(self.arc(e)[-1])

    def arc(self, e: int) -> np.ndarray:
        """Cumulative arc length (pixels) along the edge from its end ``a`` (cached on the edge)."""
        d = self.edges[e]
        c = d.setdefault("cache", {})
        s = c.get("s")
        if s is None:
            s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(d["rc"], axis=0), axis=1))])
            c["s"] = s
        return s

    def oriented_arc(self, e: int, n: int) -> np.ndarray:
        s = self.arc(e)
        return s if self.edges[e]["a"] == n else s[-1] - s[::-1]

    def light_copy(self) -> "_G":
        """A copy sharing the (never mutated) point arrays and caches."""
        g = _G()
        g.nodes = {k: dict(v) for k, v in self.nodes.items()}
        g.edges = {k: dict(v) for k, v in self.edges.items()}
        g.adj = {k: set(v) for k, v in self.adj.items()}
        g._nid, g._eid = self._nid, self._eid
        return g

    def components(self) -> list[set[int]]:
        seen: set[int] = set()
        comps = []
        for s in self.nodes:
            if s in seen:
                continue
            comp = {s}
            stack = [s]
            seen.add(s)
            while stack:
                n = stack.pop()
                for e in self.adj[n]:
                    m = self.other(e, n)
                    if m not in seen:
                        seen.add(m)
                        comp.add(m)
                        stack.append(m)
            comps.append(comp)
        return comps


# --------------------------------------------------------------------------- the pipeline

def view_graph(view: View2D, *, nipple_px: tuple[float, float] | None = None,
               options: ViewOptions | None = None) -> "ViewGraph":
    """Steps 1-6 of the module docs: the skeleton graph of one view, rooted, gaps joined, cycles kept.

    Sets ``view.nipple_px`` (the given nipple, or the root end of the duct).
    Raises :class:`InputError` when nothing usable is left (only specks).
    """
    opt = options or ViewOptions()
    px = view.pixel_mm
    mask = view.mask
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    pad = 3
    r0, c0 = max(int(rows[0]) - pad, 0), max(int(cols[0]) - pad, 0)
    r1, c1 = min(int(rows[-1]) + pad + 1, mask.shape[0]), min(int(cols[-1]) + pad + 1, mask.shape[1])
    m = np.ascontiguousarray(mask[r0:r1, c0:c1])
    off = np.array([r0, c0], dtype=float)

    # 1. specks
    lab, n_lab = ndi.label(m, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(lab.ravel())
    min_px = max(6, int(round(opt.min_speck_mm2 / (px * px))))
    small = np.flatnonzero(sizes < min_px)
    small = small[small > 0]
    specks = len(small)
    if specks:
        m[np.isin(lab, small)] = False
    if not m.any():
        raise InputError(f"the view holds only specks of contrast ({specks} pieces smaller than "
                         f"{opt.min_speck_mm2} mm^2)", source=view.name or None)

    # 2. holes: filling defects are filled, gaps between touching ducts kept
    m, holes = _classify_holes(m, px, opt)

    # 3. skeleton and distance
    from .skelgraph import skeleton_chains

    sk = _skeletonize(m)
    edt = _edt(m)
    pix = np.argwhere(sk)
    ch = skeleton_chains(np.column_stack([np.zeros(len(pix), dtype=np.int64), pix]))
    g = _G()
    rad_px = np.maximum(edt[pix[:, 0], pix[:, 1]] - opt.radius_offset_px, 0.5)
    node_ids = []
    for k in range(len(ch.node_pos)):
        vox = ch.node_voxels[k]
        node_ids.append(g.add_node(ch.node_pos[k, 1:], float(rad_px[vox].max()) * px))
    for c in range(len(ch.chain_a)):
        a, b = int(ch.chain_a[c]), int(ch.chain_b[c])
        inner = ch.chain_voxels[c]
        pts = np.vstack([ch.node_pos[a, 1:], pix[inner].astype(float), ch.node_pos[b, 1:]])
        rr = np.concatenate([[g.nodes[node_ids[a]]["r"]], rad_px[inner] * px, [g.nodes[node_ids[b]]["r"]]])
        if a == b and len(inner) == 0:
            continue
        g.add_edge(node_ids[a], node_ids[b], pts, rr)
    # nodes' radius: the inscribed radius at the node itself, not the largest of a junction cluster
    stubs = _prune_spurs(g, px, opt)
    for n in list(g.nodes):
        if n in g.nodes and g.deg(n) == 2:
            g.merge_degree_two(n)

    # 4. root, gaps, fragments
    if not g.edges:
        raise InputError("the mask has no duct long enough to trace", source=view.name or None)
    nip_local = None if nipple_px is None else np.asarray(nipple_px, dtype=float) - off
    root = _choose_root(g, view, nip_local, px, opt)
    gaps = _bridge_gaps(g, root, view, px, opt)
    fragments = []
    comps = g.components()
    for comp in comps:
        if root in comp:
            continue
        length = sum(g.length_px(e) for n in comp for e in g.adj[n]) / 2.0 * px
        pts = np.vstack([g.nodes[n]["rc"] for n in comp]) + off
        fragments.append({"nodes": len(comp), "length_mm": float(length), "centre_px": pts.mean(axis=0).tolist()})
        for n in comp:
            g.remove_node(n)
    for h in holes:
        h["rc"] = (np.asarray(h["rc"]) + off).tolist()
    for gp in gaps:
        gp["rc"] = (np.asarray(gp["rc"]) + off).tolist()
    if nipple_px is None:
        view.nipple_px = tuple(float(v) for v in (g.nodes[root]["rc"] + off))
    else:
        view.nipple_px = (float(nipple_px[0]), float(nipple_px[1]))
    for st in stubs:
        st["rc"] = (np.asarray(st["rc"]) + off).tolist()
    for rec in holes + gaps + stubs:
        rec["ud"] = view.to_mm(np.asarray(rec["rc"]))[0].tolist()
    for fr in fragments:
        fr["ud"] = view.to_mm(np.asarray(fr["centre_px"]))[0].tolist()
    vg = ViewGraph(view=view, g=g, root=root, off=off, px=px, opt=opt, holes=holes, gaps=gaps,
                   fragments=fragments, specks=specks, skeleton_px=int(len(pix)), mask=m, edt_px=edt,
                   stubs=stubs)
    return vg


def view_tree(view: View2D, *, nipple_px: tuple[float, float] | None = None,
              options: ViewOptions | None = None) -> ViewTree:
    """Turn one view's mask into a rooted 2D tree (see the module docs).

    Sets ``view.nipple_px`` (the given nipple, or the root end of the duct).
    Raises :class:`InputError` when nothing usable is left (only specks).
    """
    return view_graph(view, nipple_px=nipple_px, options=options).tree()


@dataclass
class ViewGraph:
    """A view's skeleton graph before its cycles are cut (see :meth:`tree`)."""

    view: View2D
    g: "_G"
    root: int
    off: np.ndarray
    px: float
    opt: ViewOptions
    holes: list[dict]
    gaps: list[dict]
    fragments: list[dict]
    specks: int
    skeleton_px: int
    mask: np.ndarray | None = None       #: the mask as read (crop at ``off``; specks dropped, defect holes filled)
    edt_px: np.ndarray | None = None     #: its distance to the background (pixels)
    stubs: list[dict] = field(default_factory=list)   #: the spurs pruned (see :func:`_prune_spurs`)

    def tree(self, banned: frozenset = frozenset(), forced: frozenset = frozenset()) -> ViewTree:
        """Cut the cycles (never with a cut in ``banned``, preferring those in ``forced``) and root the tree."""
        g = self.g.light_copy()
        crossings = _cut_cycles(g, self.root, self.px, self.opt, banned, forced,
                                memo=self.__dict__.setdefault("_score_memo", {}))
        for n in list(g.nodes):
            if n in g.nodes and n != self.root and g.deg(n) == 2:
                g.merge_degree_two(n)
        tree = _rooted(g, self.root, self.view, self.off)
        # the per-junction work depends on the junction's own edges only: remembered across the cut states
        refine_junctions(tree, self.opt, memo=self.__dict__.setdefault("_refine_memo", {}))
        tree.fork_slack = fork_slack(tree, memo=self.__dict__.setdefault("_slack_memo", {}))
        for cr in crossings:
            cr["rc"] = (np.asarray(cr["rc"]) + self.off).tolist()
            cr["ud"] = self.view.to_mm(np.asarray(cr["rc"]))[0].tolist()
        tree.holes, tree.gaps, tree.crossings, tree.fragments = self.holes, self.gaps, crossings, self.fragments
        tree.specks = self.specks
        tree.skeleton_px = self.skeleton_px
        tree.stubs = self.stubs
        return tree


def _classify_holes(m: np.ndarray, px: float, opt: ViewOptions) -> tuple[np.ndarray, list[dict]]:
    """Fill the holes that are filling defects (see the module docs); return the mask and their records."""
    # holes: background not connected (4-connected, as binary_fill_holes) to the image border
    hl, nh = ndi.label(~m)
    border = np.unique(np.concatenate([hl[0], hl[-1], hl[:, 0], hl[:, -1]]))
    drop = np.zeros(nh + 1, dtype=bool)
    drop[border] = True
    drop[0] = True
    hl[drop[hl]] = 0
    if not hl.any():
        return m, []
    out = m.copy()
    sizes = np.bincount(hl.ravel(), minlength=nh + 1)
    pin = (sizes < max(2, opt.min_hole_mm2 / (px * px))) & ~drop
    if pin.any():
        is_pin = pin[hl]
        out |= is_pin
        hl[is_pin] = 0
    objs = ndi.find_objects(hl)
    records = []
    for k, sl in enumerate(objs, start=1):
        if sl is None:
            continue
        h_rows = sl[0].stop - sl[0].start
        h_cols = sl[1].stop - sl[1].start
        if max(h_rows, h_cols) * px > opt.defect_max_mm:
            continue       # too long for a lucency inside one duct: the gap between ducts that cross or touch
        e_h = _edt(np.pad(hl[sl] == k, 1))   # inside the hole: distance to its edge
        # the hole's own width (twice its inscribed radius: a long lucency lying across the image axes has
        # a large bounding box but is still narrow)
        if 2.0 * float(e_h.max()) * px > opt.defect_max_width_mm:
            continue       # too wide for a lucency inside one duct
        pad = int(math.ceil(opt.defect_max_width_mm / px)) + 6
        rs = slice(max(sl[0].start - pad, 0), min(sl[0].stop + pad, m.shape[0]))
        cs = slice(max(sl[1].start - pad, 0), min(sl[1].stop + pad, m.shape[1]))
        hole = hl[rs, cs] == k
        local = m[rs, cs]
        e_f = _edt(np.pad(local | hole, 1))[1:-1, 1:-1]
        r_fill = float(e_f[hole].max())
        h_half = float(e_h.max())                       # half-width of the hole
        # wall thickness: from the hole's edge across the contrast to the outer background
        edge = hole & ~ndi.binary_erosion(hole)
        t_wall = float(np.median(e_f[edge]))
        # the duct just beyond the hole: a defect sits inside one duct that is wider than either wall;
        # a gap between two touching ducts is walled by whole ducts, as wide as the ducts around it
        d_to_hole = _edt(~hole)
        ring = local & (d_to_hole >= r_fill) & (d_to_hole <= 2.5 * r_fill + 2.0)
        if not ring.any():
            continue
        e_o = _edt(np.pad(local, 1))[1:-1, 1:-1]
        r_out = float(np.percentile(e_o[ring], 95))
        ratio = (r_out - t_wall) / max(h_half, 1e-9)
        area_mm2 = float(hole.sum()) * px * px
        ys, xs = np.nonzero(hole)
        centre = np.array([ys.mean() + rs.start, xs.mean() + cs.start])
        small = 2.0 * h_half < opt.defect_min_width_fraction * 2.0 * r_out
        # a narrow but long lucency well inside one duct (thick walls of the same duct on both sides,
        # ratio high) is a defect seen edge-on; a sliver between two overlapping ducts has a low ratio
        long_inside = (ratio >= 2.0 * opt.defect_ratio and 2.0 * h_half >= 0.1 * 2.0 * r_out
                       and (max(h_rows, h_cols) * px >= opt.defect_min_length_mm
                            or float(hole.sum()) * px * px >= 2.5 * opt.min_hole_mm2))
        is_defect = ratio >= opt.defect_ratio and (not small or long_inside)
        rec = {"rc": centre.tolist(), "area_mm2": area_mm2, "width_mm": 2.0 * h_half * px,
               "duct_width_mm": 2.0 * r_out * px, "wall_mm": t_wall * px, "ratio": ratio,
               "length_mm": float(max(h_rows, h_cols)) * px, "defect": bool(is_defect)}
        if is_defect or (small and area_mm2 < 0.25):
            out[rs, cs] |= hole         # a defect, or a sliver between overlapping ducts: filled
        records.append(rec)
    return out, records


def _prune_spurs(g: _G, px: float, opt: ViewOptions) -> list[dict]:
    """Prune the spurs (step 4 of the module docs); return one record per spur pruned: its end ``rc``
    (pixels, crop frame), ``radius_mm`` there, ``base_radius_mm`` at its junction, ``length_mm``."""
    pruned = []
    changed = True
    while changed:
        changed = False
        for e in list(g.edges):
            if e not in g.edges:
                continue
            d = g.edges[e]
            a, b = d["a"], d["b"]
            da, db = g.deg(a), g.deg(b)
            if a == b:
                continue
            if da == 1 and db >= 3:
                tip, j = a, b
            elif db == 1 and da >= 3:
                tip, j = b, a
            else:
                continue
            limit = opt.spur_factor * g.nodes[j]["r"] + opt.spur_px * px
            length = g.length_px(e) * px
            if length < limit:
                pruned.append({"rc": g.nodes[tip]["rc"].tolist(), "radius_mm": float(g.nodes[tip]["r"]),
                               "base_radius_mm": float(g.nodes[j]["r"]), "length_mm": float(length)})
                g.remove_edge(e)
                del g.adj[tip]
                del g.nodes[tip]
                if g.deg(j) == 2:
                    g.merge_degree_two(j)
                changed = True
    return pruned


def _ends(g: _G) -> list[int]:
    return [n for n in g.nodes if g.deg(n) == 1]


def _end_direction(g: _G, n: int, px: float, look_mm: float = 1.0) -> np.ndarray:
    """Unit direction (pixel space) pointing out of the duct at end node ``n``."""
    e = next(iter(g.adj[n]))
    p, _ = g.oriented(e, n)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    k = int(np.searchsorted(s, look_mm / px))
    k = min(max(k, 1), len(p) - 1)
    v = p[0] - p[k]
    nv = np.linalg.norm(v)
    return v / nv if nv > 0 else np.zeros(2)


def _choose_root(g: _G, view: View2D, nip_local: np.ndarray | None, px: float, opt: ViewOptions) -> int:
    comps = g.components()
    lengths = []
    for comp in comps:
        lengths.append(sum(g.length_px(e) for n in comp for e in g.adj[n]) / 2.0)
    big = max(lengths)
    ends_ok = [n for comp, L in zip(comps, lengths) if L >= 0.2 * big for n in comp if g.deg(n) == 1]
    if not ends_ok:
        # a ring or a single blob: take any node of the largest piece
        comp = comps[int(np.argmax(lengths))]
        ends_ok = list(comp)
    pts = np.vstack([g.nodes[n]["rc"] for n in ends_ok])
    if nip_local is not None:
        dist = np.linalg.norm(pts - nip_local, axis=1) * px
        i = int(np.argmin(dist))
        if dist[i] > opt.nipple_max_mm:
            raise InputError(f"the given nipple pixel is {dist[i]:.1f} mm from the nearest duct end; the "
                             "cannulated duct should start at the nipple", source=view.name or None, key="nipple")
        return ends_ok[i]
    largest = comps[int(np.argmax(lengths))]
    cand = [n for n in ends_ok if n in largest] or ends_ok
    pts = np.vstack([g.nodes[n]["rc"] for n in cand])
    depth = pts @ view.axes[1]            # depth (mm, up to an offset) along the view's depth axis
    return cand[int(np.argmin(depth))]


def _bridge_gaps(g: _G, root: int, view: View2D, px: float, opt: ViewOptions) -> list[dict]:
    """Join pieces cut off by gaps in the contrast column (end to end); return the gaps."""
    gaps = []
    max_px = opt.max_gap_mm / px
    while True:
        comps = g.components()
        main = next(c for c in comps if root in c)
        others = [c for c in comps if root not in c]
        if not others:
            break
        main_ends = [n for n in main if g.deg(n) == 1 and n != root]
        if not main_ends:
            break
        other_ends = [n for c in others for n in c if g.deg(n) == 1]
        if not other_ends:
            break
        pa = np.vstack([g.nodes[n]["rc"] for n in main_ends])
        pb = np.vstack([g.nodes[n]["rc"] for n in other_ends])
        dist = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=2)
        best = None
        for i, j in zip(*np.nonzero(dist <= max_px)):
            a, b = main_ends[i], other_ends[j]
            v = pb[j] - pa[i]
            dn = float(np.linalg.norm(v))
            if dn < 1e-9:
                cos_a = cos_b = 1.0
            else:
                v = v / dn
                cos_a = float(_end_direction(g, a, px) @ v)
                cos_b = float(-_end_direction(g, b, px) @ v)
            if cos_a < opt.gap_cos or cos_b < opt.gap_cos:
                continue
            ra, rb = g.nodes[a]["r"], g.nodes[b]["r"]
            ratio = max(ra, rb) / max(min(ra, rb), 1e-9)
            if ratio > 2.5:
                continue
            cost = dn * (3.0 - cos_a - cos_b) * (1.0 + 0.2 * (ratio - 1.0))
            if best is None or cost < best[0]:
                best = (cost, a, b, dn)
        if best is None:
            break
        _, a, b, dn = best
        pa_, pb_ = g.nodes[a]["rc"], g.nodes[b]["rc"]
        k = max(2, int(math.ceil(dn)) + 1)
        t = np.linspace(0.0, 1.0, k)
        pts = pa_ + t[:, None] * (pb_ - pa_)
        rr = g.nodes[a]["r"] + t * (g.nodes[b]["r"] - g.nodes[a]["r"])
        g.add_edge(a, b, pts, rr, bridge=True)
        gaps.append({"rc": (0.5 * (pa_ + pb_)).tolist(), "length_mm": dn * px,
                     "radius_mm": 0.5 * (g.nodes[a]["r"] + g.nodes[b]["r"])})
        for n in (a, b):
            if g.deg(n) == 2:
                g.merge_degree_two(n)
    return gaps


# --------------------------------------------------------------------------- cycles (crossings)

def _arm_direction(g: _G, e: int, n: int, px: float, look_px: float) -> np.ndarray:
    p, _ = g.oriented(e, n)
    s = g.oriented_arc(e, n)
    k = int(np.searchsorted(s, look_px))
    k = min(max(k, 1), len(p) - 1)
    v = p[k] - p[0]
    nv = np.linalg.norm(v)
    return v / nv if nv > 0 else np.zeros(2)


def _arm_radius(g: _G, e: int, n: int, skip_px: float) -> float:
    cache = g.edges[e].setdefault("cache", {})
    key = ("r", g.edges[e]["a"] == n, round(skip_px, 3))
    if key in cache:
        return cache[key]
    p, r = g.oriented(e, n)
    s = g.oriented_arc(e, n)
    sel = (s >= skip_px) & (s <= skip_px * 3.0)
    out = float(np.median(r[sel])) if sel.any() else float(np.median(r))
    cache[key] = out
    return out


def _bridges(g: _G) -> set[int]:
    """Edges whose removal disconnects the graph (Tarjan, iterative; parallel edges are not bridges)."""
    disc: dict[int, int] = {}
    low: dict[int, int] = {}
    out: set[int] = set()
    t = 0
    for s in g.nodes:
        if s in disc:
            continue
        disc[s] = low[s] = t
        t += 1
        stack = [(s, -1, iter(sorted(g.adj[s])))]
        while stack:
            n, via, it = stack[-1]
            advanced = False
            for e in it:
                if e == via:
                    continue
                m = g.other(e, n)
                if m not in disc:
                    disc[m] = low[m] = t
                    t += 1
                    stack.append((m, e, iter(sorted(g.adj[m]))))
                    advanced = True
                    break
                low[n] = min(low[n], disc[m])
            if advanced:
                continue
            stack.pop()
            if stack:
                p = stack[-1][0]
                low[p] = min(low[p], low[n])
                if low[n] > disc[p]:
                    out.add(via)
    return out


def _connected_without(g: _G, removed: set[int], src: set[int], dst: set[int], removed_edge: int | None = None) -> bool:
    """Is some node of ``src`` connected to some node of ``dst`` once the ``removed`` nodes (and edge) are gone?"""
    src = {x for x in src if x not in removed}
    dst = {x for x in dst if x not in removed}
    if not src or not dst:
        return False
    seen = set(src)
    stack = list(src)
    while stack:
        n = stack.pop()
        if n in dst:
            return True
        for e in g.adj[n]:
            m = g.other(e, n)
            if m not in seen and m not in removed and e != removed_edge:
                seen.add(m)
                stack.append(m)
    return False


def _signature(g: _G, c: dict) -> tuple:
    """An id of a cut that survives re-running the cutting (the node and edge ids it touches)."""
    if c["kind"] == "T":
        return ("T", c["node"], c["end_edge"])
    if c["kind"] == "touch":
        return ("touch", tuple(sorted(c["cluster"])), c["link"])
    arms = [e for e, _ in c["arms"]]
    (i, j), (k, l) = c["pairs"]
    return ("X", tuple(sorted(c["cluster"])), frozenset({frozenset((arms[i], arms[j])), frozenset((arms[k], arms[l]))}))


def _cut_cycles(g: _G, root: int, px: float, opt: ViewOptions, banned: frozenset = frozenset(),
                forced: frozenset = frozenset(), memo: dict | None = None) -> list[dict]:
    """Cut every cycle, best crossing-like cluster first (see the module docs).

    A cut whose signature is in ``banned`` is never made; one in ``forced`` is
    made first whenever it is valid. Each record lists the other valid
    readings of the same place (``alternatives``), for the other view to judge.
    """
    done = []
    for _ in range(4 * len(g.edges) + 10):
        for e in [e for e, d in g.edges.items() if d["a"] == d["b"]]:
            g.remove_edge(e)            # a loop around a pinhole at one node
        bridges = _bridges(g)
        cyc = set(g.edges) - bridges
        if not cyc:
            break
        nodes = {g.edges[e][k] for e in cyc for k in ("a", "b")}
        tops = _block_tops(g, cyc, root)
        cands = _candidates(g, nodes, root, px, opt, exclude=tops, memo=memo)
        cands.sort(key=lambda c: (c["score"]))
        for c in cands:
            c["sig"] = _signature(g, c)
        pool = [c for c in cands if c["sig"] in forced] + [c for c in cands if c["sig"] not in forced]
        chosen = None
        for c in pool:
            if c["sig"] in banned or not _keeps_connected(g, c):
                continue
            chosen = c
            break
        if chosen is None:
            # nothing crossing-like: open a cycle edge at its end farthest from the root (a T there)
            e = max(cyc, key=lambda x: g.length_px(x))
            d = g.edges[e]
            far = d["b"] if d["b"] != root else d["a"]
            new = g.add_node(g.nodes[far]["rc"].copy(), g.nodes[far]["r"])
            g.move_edge_end(e, far, new)
            done.append({"kind": "forced", "rc": g.nodes[far]["rc"].tolist(), "score": None})
            if g.deg(far) == 2 and far != root:
                g.merge_degree_two(far)
            continue
        here = set(chosen["cluster"]) if chosen["kind"] != "T" else {chosen["node"]}
        alts = []
        for c in cands:
            if c is chosen or c["sig"] in banned:
                continue
            there = set(c["cluster"]) if c["kind"] != "T" else {c["node"]}
            if here & there and _keeps_connected(g, c):
                alts.append((c["score"] - chosen["score"], c["sig"]))
        alts.sort(key=lambda a: a[0])
        _apply_cut(g, chosen)
        done.append({"kind": chosen["kind"], "rc": np.asarray(chosen["rc"]).tolist(), "score": chosen["score"],
                     "sig": chosen["sig"], "margin": alts[0][0] if alts else math.inf, "alternatives": alts})
    return done


def _keeps_connected(g: _G, c: dict) -> bool:
    if c["kind"] == "T":
        n = c["node"]
        end = g.other(c["end_edge"], n)
        others = {g.other(e, n) for e in g.adj[n] if e != c["end_edge"]}
        return _connected_without(g, {n}, {end}, others)
    if c["kind"] == "touch":
        n, m = c["cluster"]
        return _connected_without(g, set(), {n}, {m}, removed_edge=c["link"])
    arms = c["arms"]
    (i, j), (k, l) = c["pairs"]
    far = [g.other(e, n) for e, n in arms]
    return _connected_without(g, set(c["cluster"]), {far[i], far[j]}, {far[k], far[l]})


def _distances(g: _G, root: int) -> dict[int, float]:
    """Path length (pixels) from the root to every node (Dijkstra)."""
    import heapq

    dist = {root: 0.0}
    heap = [(0.0, root)]
    while heap:
        d, n = heapq.heappop(heap)
        if d > dist.get(n, math.inf):
            continue
        for e in g.adj[n]:
            m = g.other(e, n)
            nd = d + g.length_px(e)
            if nd < dist.get(m, math.inf):
                dist[m] = nd
                heapq.heappush(heap, (nd, m))
    return dist


def _block_tops(g: _G, cyc: set[int], root: int) -> set[int]:
    """The node of each cyclic block nearest the root: where the two crossing ducts really branched.

    A cycle made by two ducts crossing (or touching) in projection runs from
    the bifurcation where they parted, down both, to the crossing; that top
    node is a true bifurcation and is never cut.
    """
    import networkx as nx

    dist = _distances(g, root)
    G = nx.Graph()
    for e in cyc:
        a, b = g.edges[e]["a"], g.edges[e]["b"]
        if a != b:
            G.add_edge(a, b)
    return {min(comp, key=lambda n: dist.get(n, math.inf)) for comp in nx.biconnected_components(G)}


def _node_key(g: _G, n: int) -> tuple:
    return (n, id(g.nodes[n]["rc"]), g.nodes[n]["r"])


def _edge_key(g: _G, e: int) -> tuple:
    d = g.edges[e]
    return (e, d["a"], d["b"], id(d["rc"]), id(d["r"]))


def _remembered(memo: dict | None, key: tuple, refs: list, score):
    """``score()`` remembered in ``memo`` under ``key``: the point and radius arrays named in the key by
    identity (never mutated; a moved edge end gets a new array) are kept alive with the entry, so an id is
    never reused while it is remembered. Returns fresh dicts (callers change their score and signature)."""
    if memo is None:
        return score()
    got = memo.get(key)
    if got is None:
        out = score()
        memo[key] = ([dict(c) for c in out], refs)
        return out
    return [dict(c) for c in got[0]]


def _score_x_memo(g: _G, cluster: list[int], arms: list[tuple[int, int]], link: int | None, px: float,
                  opt: ViewOptions, memo: dict | None) -> list[dict]:
    """:func:`_score_x`, remembered by everything it reads (cluster nodes, arm edges, link, px, options)."""
    if memo is None:
        return _score_x(g, cluster, arms, link, px, opt)
    key = ("X", tuple(_node_key(g, n) for n in cluster), tuple((_edge_key(g, e), n) for e, n in arms), link, px,
           opt)
    refs = [g.nodes[n]["rc"] for n in cluster] + [g.edges[e][k] for e, _ in arms for k in ("rc", "r")]
    got = _remembered(memo, key, refs, lambda: _score_x(g, cluster, arms, link, px, opt))
    for c in got:
        c["cluster"], c["arms"] = cluster, arms
    return got


def _score_t_memo(g: _G, n: int, px: float, opt: ViewOptions, memo: dict | None) -> list[dict]:
    """:func:`_score_t`, remembered by everything it reads (the node, its edges in order, px, options)."""
    if memo is None:
        return _score_t(g, n, px, opt)
    es = list(g.adj[n])
    key = ("T", _node_key(g, n), tuple(_edge_key(g, e) for e in es), px, opt)
    refs = [g.nodes[n]["rc"]] + [g.edges[e][k] for e in es for k in ("rc", "r")]
    return _remembered(memo, key, refs, lambda: _score_t(g, n, px, opt))


def _score_touch_memo(g: _G, n: int, m: int, link: int, px: float, opt: ViewOptions,
                      memo: dict | None) -> list[dict]:
    """:func:`_score_touch`, remembered by everything it reads (both nodes, their edges in order, the link,
    px, options)."""
    if memo is None:
        return _score_touch(g, n, m, link, px, opt)
    es = [e for a in (n, m) for e in g.adj[a]]
    key = ("touch", _node_key(g, n), _node_key(g, m), link, tuple(_edge_key(g, e) for e in es), px, opt)
    refs = [g.nodes[n]["rc"], g.nodes[m]["rc"]] + [g.edges[e][k] for e in es for k in ("rc", "r")]
    return _remembered(memo, key, refs, lambda: _score_touch(g, n, m, link, px, opt))


def _candidates(g: _G, nodes: set[int], root: int, px: float, opt: ViewOptions,
                exclude: set[int] = frozenset(), memo: dict | None = None) -> list[dict]:
    cands = []
    for n in nodes:
        if n == root or n in exclude:
            continue
        dn = g.deg(n)
        if dn == 4:
            cands.extend(_score_x_memo(g, [n], [(e, n) for e in g.adj[n]], None, px, opt, memo))
        elif dn == 3:
            ts = _score_t_memo(g, n, px, opt, memo)
            if opt.t_outward_penalty:   # a T ending outward: most often a child leaving its fork
                outward = g.nodes[n]["rc"] - g.nodes[root]["rc"]
                outward = outward / max(float(np.linalg.norm(outward)), 1e-9)
                for c in ts:
                    if float(c["end_dir"] @ outward) > opt.t_outward_cos:
                        c["score"] += opt.t_outward_penalty
            cands.extend(ts)
            for e in g.adj[n]:
                m = g.other(e, n)
                if m == n or m == root or m in exclude or g.deg(m) != 3 or (m in nodes and m < n):
                    continue
                link_px = g.length_px(e)
                if link_px * px > opt.cross_link_factor * (g.nodes[n]["r"] + g.nodes[m]["r"]):
                    continue
                arms = [(x, n) for x in g.adj[n] if x != e] + [(x, m) for x in g.adj[m] if x != e]
                rsum = g.nodes[n]["r"] + g.nodes[m]["r"]
                extra = opt.link_penalty * max(0.0, link_px * px / rsum - 1.0)
                touch = _score_touch_memo(g, n, m, e, px, opt, memo) if opt.touch_penalty is not None else []
                for c in _score_x_memo(g, [n, m], arms, e, px, opt, memo) + touch:
                    c["score"] += extra
                    cands.append(c)
    return cands


def _score_x(g: _G, cluster: list[int], arms: list[tuple[int, int]], link: int | None,
             px: float, opt: ViewOptions) -> list[dict]:
    """Every way of pairing the four arms of an X into two ducts, scored (0 = two straight ducts)."""
    if len(arms) != 4 or len({e for e, _ in arms}) != 4:
        return []
    r_c = max(g.nodes[n]["r"] for n in cluster) / px
    look = r_c * 1.5 + opt.arm_look_mm / px
    if link is not None:
        centre = 0.5 * (g.nodes[cluster[0]]["rc"] + g.nodes[cluster[1]]["rc"])
    else:
        centre = g.nodes[cluster[0]]["rc"]
    dirs, rads = [], []
    for e, n in arms:
        p, _ = g.oriented(e, n)
        s = g.oriented_arc(e, n)
        k = min(max(int(np.searchsorted(s, look)), 1), len(p) - 1)
        v = p[k] - centre
        nv = np.linalg.norm(v)
        dirs.append(v / nv if nv > 0 else np.zeros(2))
        rads.append(_arm_radius(g, e, n, r_c))
    out = []
    for (i, j), (k, l) in (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))):
        if link is not None and ({i, j} == {0, 1} or {i, j} == {2, 3}):
            continue  # pairing the two arms of one node is no crossing
        s = (1.0 + float(dirs[i] @ dirs[j])) + (1.0 + float(dirs[k] @ dirs[l]))
        s += 0.5 * (abs(math.log(rads[i] / rads[j])) + abs(math.log(rads[k] / rads[l])))
        out.append({"kind": "X", "score": s, "cluster": cluster, "arms": arms, "pairs": ((i, j), (k, l)),
                    "link": link, "rc": centre})
    return out


def _node_arms(g: _G, n: int, edges: list[int], px: float, opt: ViewOptions) -> tuple[list, list]:
    """Directions and radii of the arms ``edges`` of node ``n``, taken past the node's own blob."""
    r_c = g.nodes[n]["r"] / px
    look = r_c * 1.5 + opt.arm_look_mm / px
    return [_arm_direction(g, e, n, px, look) for e in edges], [_arm_radius(g, e, n, r_c) for e in edges]


def _score_touch(g: _G, n: int, m: int, link: int, px: float, opt: ViewOptions) -> list[dict]:
    """Two ducts that touch in projection without crossing: the short link between two 3-way nodes is where
    they touch, and each node's other two arms are one duct passing by (0 = both run straight past)."""
    s = opt.touch_penalty
    for a in (n, m):
        es = [e for e in g.adj[a] if e != link]
        if len(es) != 2 or len(set(es)) != 2:
            return []
        (d0, d1), (r0, r1) = _node_arms(g, a, es, px, opt)
        s += (1.0 + float(d0 @ d1)) + 0.5 * abs(math.log(r0 / r1))
    centre = 0.5 * (g.nodes[n]["rc"] + g.nodes[m]["rc"])
    return [{"kind": "touch", "score": s, "cluster": [n, m], "link": link, "rc": centre}]


def _score_t(g: _G, n: int, px: float, opt: ViewOptions) -> list[dict]:
    """Every way of reading a 3-way node as a duct ending on another that passes straight on."""
    es = list(g.adj[n])
    if len(es) != 3:
        return []
    dirs, rads = _node_arms(g, n, es, px, opt)
    out = []
    for end in range(3):
        i, j = [k for k in range(3) if k != end]
        s = (1.0 + float(dirs[i] @ dirs[j])) + opt.t_penalty
        s += 0.5 * abs(math.log(rads[i] / rads[j]))
        # the ending duct should be no wider than the one it lies on
        s += 0.5 * max(0.0, math.log(rads[end] / max(rads[i], rads[j])))
        out.append({"kind": "T", "score": s, "node": n, "end_edge": es[end], "rc": g.nodes[n]["rc"].copy(),
                    "end_dir": dirs[end]})
    return out


def _apply_cut(g: _G, c: dict) -> None:
    if c["kind"] == "touch":
        g.remove_edge(c["link"])
        for n in c["cluster"]:
            if n in g.nodes and g.deg(n) == 2:
                g.merge_degree_two(n)
        return
    if c["kind"] == "T":
        n = c["node"]
        new = g.add_node(g.nodes[n]["rc"].copy(), g.nodes[n]["r"])
        g.move_edge_end(c["end_edge"], n, new)
        g.merge_degree_two(n)
        return
    arms = c["arms"]
    (i, j), (k, l) = c["pairs"]
    if c["link"] is None:
        n = c["cluster"][0]
        new = g.add_node(g.nodes[n]["rc"].copy(), g.nodes[n]["r"])
        for idx in (k, l):
            g.move_edge_end(arms[idx][0], n, new)
        g.merge_degree_two(n)
        g.merge_degree_two(new)
        return
    n1, n2 = c["cluster"]
    link = g.remove_edge(c["link"])
    pts = link["rc"] if link["a"] == n1 else link["rc"][::-1]
    rr = link["r"] if link["a"] == n1 else link["r"][::-1]
    # each pair has one arm on each node (enforced when scoring); pair (i, j) keeps the nodes, (k, l) gets copies
    copies = {}
    for idx in (k, l):
        e, n = arms[idx]
        new = g.add_node(g.nodes[n]["rc"].copy(), g.nodes[n]["r"])
        g.move_edge_end(e, n, new)
        copies[n] = new
    g.add_edge(n1, n2, pts.copy(), rr.copy())
    g.add_edge(copies[n1], copies[n2], pts.copy(), rr.copy())
    for n in (n1, n2, copies[n1], copies[n2]):
        if n in g.nodes and g.deg(n) == 2:
            g.merge_degree_two(n)


# --------------------------------------------------------------------------- to a rooted tree

def _rooted(g: _G, root: int, view: View2D, off: np.ndarray) -> ViewTree:
    order = [root]
    parent_node = {root: -1}
    via = {root: -1}
    head = 0
    while head < len(order):
        n = order[head]
        head += 1
        for e in sorted(g.adj[n]):
            m = g.other(e, n)
            if m in parent_node:
                continue
            parent_node[m] = n
            via[m] = e
            order.append(m)
    row = {n: i for i, n in enumerate(order)}
    N = len(order)
    parent = np.full(N, -1, dtype=np.int64)
    children: list[list[int]] = [[] for _ in range(N)]
    ud = np.zeros((N, 2))
    rr = np.zeros(N)
    edge_ud: list[np.ndarray] = []
    edge_r: list[np.ndarray] = []
    bridge = np.zeros(N, dtype=bool)
    for i, n in enumerate(order):
        ud[i] = view.to_mm(g.nodes[n]["rc"] + off)[0]
        rr[i] = g.nodes[n]["r"]
        if i == 0:
            edge_ud.append(np.zeros((0, 2)))
            edge_r.append(np.zeros(0))
            continue
        p = row[parent_node[n]]
        parent[i] = p
        children[p].append(i)
        pts, r = g.oriented(via[n], parent_node[n])
        edge_ud.append(view.to_mm(pts + off))
        edge_r.append(np.asarray(r, dtype=float))
        bridge[i] = bool(g.edges[via[n]].get("bridge", False))
    return ViewTree(view=view, ud=ud, r=rr, parent=parent, children=children, edge_ud=edge_ud, edge_r=edge_r,
                    bridge=bridge)


def _line_fit(p: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    if len(p) < 3:
        return None
    c = p.mean(axis=0)
    u, sv, vt = np.linalg.svd(p - c, full_matrices=False)
    if sv[0] <= 1e-9:
        return None
    return c, vt[0]


def _arr_key(a: np.ndarray) -> tuple:
    """An exact content key of an array (shape, dtype and bytes)."""
    a = np.asarray(a)
    return (a.shape, a.dtype.str, np.ascontiguousarray(a).tobytes())


def refine_junctions(tree: ViewTree, opt: ViewOptions | None = None, memo: dict | None = None) -> int:
    """Move each bifurcation to the point nearest its branches' axes; return how many moved.

    A skeleton junction sits where the inscribed circle touches every branch,
    displaced into the fork (far, for an acute fork: the two children run
    together before they part). Each branch's axis is fitted a little away
    from the junction (from one junction radius out, over max(1 mm, 2 radii))
    and the least-squares meeting point of the axes is the branching point.
    The move is kept only if shorter than ``refine_max_factor`` radii
    (+ 0.5 mm); the centrelines near the junction are re-joined to it.

    ``memo`` (a dict kept by the caller for one view and ``opt``) remembers each junction's outcome by the
    exact content it depends on (its point, radius, edges and whether each child has children), so trees
    of the same view cut differently redo only the junctions that differ.
    """
    opt = opt or ViewOptions()
    moved = 0
    for i in range(tree.n):
        kids = tree.children[i]
        if len(kids) < 2 or tree.parent[i] < 0:
            continue
        rows = [i] + list(kids)
        if memo is None:
            move = _junction_move(tree, i, opt)
        else:
            key = (_arr_key(tree.ud[i]), float(tree.r[i]), opt,
                   tuple((_arr_key(tree.edge_ud[r]), _arr_key(tree.edge_r[r]), len(tree.children[r]) == 0)
                         for r in rows))
            if key not in memo:
                memo[key] = _junction_move(tree, i, opt)
            move = memo[key]
        if move is None:
            continue
        x, edits = move
        for pos, (na, nr, rev) in edits.items():
            a, r = na.copy(), nr.copy()              # the memo keeps its own
            tree.edge_ud[rows[pos]], tree.edge_r[rows[pos]] = (a[::-1], r[::-1]) if rev else (a, r)
        tree.ud[i] = x
        moved += 1
    return moved


def _junction_move(tree: ViewTree, i: int, opt: ViewOptions) -> tuple[np.ndarray, dict] | None:
    """Where :func:`refine_junctions` moves junction ``i`` and how its edges are re-joined to it (by the
    position among ``[i] + children``: the new points and radii, reversed for ``i``'s own incoming edge),
    or ``None`` when it stays. Reads the tree only."""
    kids = tree.children[i]
    J = tree.ud[i].copy()
    rj = float(tree.r[i])
    arms = [tree.edge_ud[i][::-1]] + [tree.edge_ud[c] for c in kids]
    lines = []
    for arm in arms:
        seg = np.linalg.norm(np.diff(arm, axis=0), axis=1)
        s_ = np.concatenate([[0.0], np.cumsum(seg)])
        a0 = min(1.0 * rj, 0.5 * s_[-1])
        a1 = min(a0 + max(1.0, 2.0 * rj), s_[-1])
        sel = (s_ >= a0) & (s_ <= a1)
        fit = _line_fit(arm[sel])
        if fit is not None and a1 - a0 > 0.3:
            lines.append(fit)
    if len(lines) < 3:
        return None
    M = np.zeros((2, 2))
    rhs = np.zeros(2)
    for c, v in lines:
        P = np.eye(2) - np.outer(v, v)
        M += P
        rhs += P @ c
    if np.linalg.eigvalsh(M)[0] < 0.05:
        return None
    x = np.linalg.solve(M, rhs)
    dist = float(np.linalg.norm(x - J))
    if dist < 1e-6 or dist > opt.refine_max_factor * rj + 0.5:
        return None
    cut = dist + 0.5 * rj
    edits = {}
    for pos, (row, arm, rad, rev) in enumerate([(i, tree.edge_ud[i], tree.edge_r[i], True)] +
                                               [(c, tree.edge_ud[c], tree.edge_r[c], False) for c in kids]):
        a, r = (arm[::-1], rad[::-1]) if rev else (arm, rad)
        far = np.linalg.norm(a - J, axis=1) > cut
        far[0] = False
        k = int(np.argmax(far)) if far.any() else -1
        if k <= 0 or k >= len(a) - 1 and rev is False and tree.children[row] == [] and len(a) < 3:
            return None
        edits[pos] = (np.vstack([x[None, :], a[k:]]), np.concatenate([[r[0]], r[k:]]), rev)
    return x, edits


def fork_slack(tree: ViewTree, memo: dict | None = None) -> np.ndarray:
    """Per bifurcation, how far (mm) past the true branching point its skeleton junction may lie.

    Two children leaving at a small angle ``theta`` in this projection overlap
    until their axes are ``r1 + r2`` apart, about ``(r1 + r2) / (2 sin(theta / 2))``
    along them; the junction is seen up to that much too far along (capped at 8 mm).

    ``memo`` (a dict kept by the caller) remembers each fork's value by the exact content it depends on.
    """
    out = np.zeros(tree.n)
    for i in range(tree.n):
        kids = tree.children[i]
        if len(kids) < 2:
            continue
        key = None
        if memo is not None:
            key = (float(tree.r[i]), _arr_key(tree.edge_ud[i]), _arr_key(tree.edge_r[i]),
                   tuple((_arr_key(tree.edge_ud[c]), _arr_key(tree.edge_r[c])) for c in kids))
            got = memo.get(key)
            if got is not None:
                out[i] = got
                continue
        dirs, rads = [], []
        for c in kids:
            e = tree.edge_ud[c]
            seg = np.linalg.norm(np.diff(e, axis=0), axis=1)
            s_ = np.concatenate([[0.0], np.cumsum(seg)])
            k = min(int(np.searchsorted(s_, tree.r[i] + 1.5)), len(e) - 1)
            v = e[k] - e[0]
            n = np.linalg.norm(v)
            dirs.append(v / n if n > 0 else np.zeros(2))
            rads.append(float(np.median(tree.edge_r[c])) if len(tree.edge_r[c]) else tree.r[i])
        best = 0.0
        for a in range(len(kids)):
            for b in range(a + 1, len(kids)):
                cos = float(np.clip(dirs[a] @ dirs[b], -1.0, 1.0))
                half = 0.5 * math.acos(cos)
                best = max(best, min(8.0, (rads[a] + rads[b]) / max(2.0 * math.sin(half), 1e-3)))
        out[i] = max(best, _merged_run(tree, i))
        if key is not None:
            memo[key] = out[i]
    return out


def fork_moved_back(tree: ViewTree, i: int, k: int) -> ViewTree:
    """The tree with fork ``i`` moved up its own edge to the edge's point ``k`` (view mm, same rows).

    Where two children leave a fork at a small angle in this projection, they
    run on top of each other and the skeleton forks only where they part:
    the junction is seen too deep. Moving it back gives the stretch between
    point ``k`` and the junction seen to every child (each child's edge starts
    with it), as the children truly share it in this view. The copy has edge
    lists of its own, so nothing :meth:`ViewTree.remembered` on ``tree`` is
    reused for it; its ``fork_slack`` is the original's. ``tree`` itself is
    left unchanged.
    """
    edge, rad = np.asarray(tree.edge_ud[i]), np.asarray(tree.edge_r[i])
    if not 0 < k < len(edge) - 1:
        raise ValueError(f"point {k} is not inside edge {i} (points 1..{len(edge) - 2})")
    edge_ud, edge_r = list(tree.edge_ud), list(tree.edge_r)
    edge_ud[i], edge_r[i] = edge[:k + 1], rad[:k + 1]
    for c in tree.children[i]:
        edge_ud[c] = np.vstack([edge[k:], np.asarray(tree.edge_ud[c])[1:]])
        edge_r[c] = np.concatenate([rad[k:], np.asarray(tree.edge_r[c])[1:]])
    ud, r = tree.ud.copy(), tree.r.copy()
    ud[i], r[i] = edge[k], rad[k]
    out = copy.copy(tree)
    out.ud, out.r, out.edge_ud, out.edge_r = ud, r, edge_ud, edge_r
    return out


def _merged_run(tree: ViewTree, i: int, widen: float = 1.2, cap_mm: float = 12.0) -> float:
    """How far (mm) before fork ``i`` its parent duct is wider than upstream: two children overlapping.

    Children that leave at a small angle in this projection run on top of each
    other: the skeleton shows one duct, wider than its parent, forking late.
    The run of samples before the fork wider than ``widen`` times the parent's
    width further up is that overlap (0 if the parent is too short to tell).
    """
    poly, rad = tree.edge_ud[i], tree.edge_r[i]
    if len(poly) < 8:
        return 0.0
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    L = s[-1]
    if L < 3.0:
        return 0.0
    from scipy.ndimage import median_filter

    r = median_filter(rad, size=min(9, len(rad) | 1), mode="nearest")
    up = s <= max(L * 0.4, min(L - 2.0, 3.0))
    if up.sum() < 3:
        return 0.0
    base = float(np.median(r[up]))
    wide = r > widen * base
    if not wide[-1] and not wide[-max(2, len(wide) // 20):].any():
        return 0.0
    k = len(wide) - 1
    while k > 0 and (wide[k] or wide[k - 1]):
        k -= 1
    return float(min(cap_mm, L - s[k]))
