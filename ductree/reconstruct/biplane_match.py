"""Two 2D view trees -> one 3D tree: depth alignment, branch matching, triangulation.

The CC view shows ``(x, depth)``, the lateral ``(z, depth)``; the depth axis
is shared, so a 3D point appears at the same depth in both views (the
epipolar constraint of orthogonal biplane imaging) — up to the different
compression of the breast in each view.

**Depth map.** The lateral depth is mapped onto the CC depth by
``f(d) = a d + b`` for depths beyond a knee ``k`` and linearly from the nipple
(``f(0) = 0``, the nipple is a common point) up to the knee: compression
squashes the soft nipple region differently in each view, then shifts and
scales the tissue behind it. ``a`` and ``b`` come from a Hough vote over
every pair of like features (bifurcations with bifurcations, ends with ends)
within the plausible range (``|a - 1| <= max_scale``, ``|b| <= max_offset_mm``),
refined by least squares on the features it matches; the knee by a small
search. The map is only used to *pair* points; the depth of a 3D point is
the mean of its two views' depths (the two compressions are taken to
deform the breast equally and oppositely: nothing in two projections says
which one is closer to the uncompressed breast).

**Matching.** A dynamic programme over pairs (end of a path in the CC tree,
end of a path in the lateral tree) whose paths start at one matched 3D point.
The ends either match (a bifurcation or an end seen in both views, scored by
their depth difference, with a width term; a fork whose children leave at a
small angle may be seen too deep in one view, and that much is excused, though
each sigma of it still costs ``slack_weight``), or one view's bifurcation is
passed (its other branches are then seen in that view only: a crossing left
unresolved or a branch hidden behind another). Children of matched
bifurcations are assigned to each other by the best total cost of their
subtrees, so depth and topology decide together; a child left over is a
branch seen in one view only.

**Triangulation.** Each matched pair of paths is aligned by dynamic time
warping on depth (``f`` maps the lateral onto the CC) — which also handles
ducts that run across the depth axis — and each aligned pair of points gives
``x`` from the CC, ``z`` from the lateral, ``y`` the mean depth and the radius
from the two widths (the smaller one when they disagree by more than 50%:
an overlap widens a duct in one view). A branch seen in one view only keeps
its known coordinates; its unknown one (``z`` for a CC-only branch, ``x`` for
a lateral-only one) is taken from the other view's centrelines at equal depth,
the whole track chosen at once (:mod:`ductree.reconstruct.biplane_track`:
smooth, a duct of its own preferred to one already matched, widths agreeing);
where the other view has nothing at that depth it follows the direction of the
duct it leaves, and every node records ``pos_sigma_mm``, growing with the
distance from the last tracked point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .biplane_graph import ViewTree


@dataclass(frozen=True)
class MatchOptions:
    """Tuning of the depth map, the matching and the triangulation (mm)."""

    max_scale: float = 0.15              #: |a - 1| at most this
    max_offset_mm: float = 10.0          #: |b| at most this
    map_candidates: int = 6              #: depth maps (vote peaks) tried with the full matching
    crossing_margin: float = 0.8         #: crossings whose runner-up reading scored within this are re-decided
    crossing_tries: int = 3              #: ... at most this many per view and round
    crossing_rounds: int = 2
    crossing_gain: float = 1.0           #: a reading must lower the matching cost by this to be kept
    agreement_weight: float = 2.0        #: each fork/end matched at equal depth lowers a map's cost by this
    map_prior: float = 1.0               #: weight of the prior on the map (scale ~1 +- 5%, offset ~ +-5 mm)
    feature_tol_mm: float = 1.0          #: features within this (after mapping) count as matched
    sigma_mm: float = 0.6                #: depth tolerance of matched bifurcations (+ half their radii)
    tip_sigma_mm: float = 1.5            #: ... of matched ends (ends hide in overlaps)
    skip_cost: float = 5.0               #: passing a bifurcation seen in one view only
    single_edge_cost: float = 3.0        #: per branch left seen in one view only ...
    single_mm_cost: float = 0.4          #: ... plus this per mm of it
    type_cost: float = 4.0               #: an end matched with a bifurcation
    width_weight: float = 0.5            #: weight of the width disagreement term
    slack_weight: float = 2.0            #: a depth difference inside a fork's slack still costs this per sigma
    use_slack: bool = True               #: excuse forks seen too deep at small angles (off: strict depths)
    strict_map_selection: bool = True    #: choose among candidate depth maps with strict depths
    split_tol_mm: float = 0.3            #: forks further apart than this in depth are re-joined at the shallower
    sample_mm: float = 0.1               #: resampling of centrelines before alignment
    node_spacing_mm: float = 0.5         #: spacing of the output nodes
    single_sigma0_mm: float = 0.5        #: uncertainty of a one-view branch at its attachment ...
    single_sigma_per_mm: float = 0.5     #: ... growing by this per mm along it
    direction_damping: float = 0.5       #: a one-view branch follows this fraction of its parent's slope
    track_single: bool = True            #: track one-view branches along the other view at equal depth
    track_viterbi: bool = True           #: ... choosing the whole track at once (off: greedy, nearest first)
    repair_residual_mm: float = 0.5      #: aligned points further apart in depth than this are repaired
    track_band_mm: float = 0.15          #: depth band of the other view's samples considered
    track_jump_mm: float = 0.3           #: the tracked coordinate may jump this much per step ...
    track_slope: float = 3.0             #: ... plus this times the step length
    track_sigma_mm: float = 0.4          #: uncertainty of a coordinate tracked on an unmatched duct ...
    track_behind_sigma_mm: float = 1.5   #: ... and on a duct already matched (hidden behind it, or absent)


@dataclass
class DepthMap:
    """``d_cc = f(d_lateral)``: linear from the nipple to the knee, then ``a d + b`` (mm)."""

    a: float = 1.0
    b: float = 0.0
    knee_mm: float = 0.0
    matched: int = 0
    features: tuple[int, int] = (0, 0)
    residual_mm: float | None = None

    def __call__(self, d: np.ndarray | float) -> np.ndarray:
        d = np.asarray(d, dtype=float)
        if self.knee_mm <= 0:
            return self.a * d + self.b
        k = self.knee_mm
        at_k = self.a * k + self.b
        return np.where(d >= k, self.a * d + self.b, d * (at_k / k))

    def inverse(self, d: np.ndarray | float) -> np.ndarray:
        d = np.asarray(d, dtype=float)
        if self.knee_mm <= 0:
            return (d - self.b) / self.a
        k = self.knee_mm
        at_k = self.a * k + self.b
        return np.where(d >= at_k, (d - self.b) / self.a, d * (k / at_k) if at_k != 0 else d)

    def as_dict(self) -> dict:
        return {"scale": self.a, "offset_mm": self.b, "knee_mm": self.knee_mm, "matched_features": self.matched,
                "features": list(self.features), "residual_mm": self.residual_mm}


# --------------------------------------------------------------------------- depth map

def _features(t: ViewTree, with_weights: bool = False):
    """Depths and kinds (2 fork, 3 end) of the features of a view; weights favour sharp ones."""
    kind = t.kind
    sel = (kind == 2) | (kind == 3)
    if not with_weights:
        return t.ud[sel, 1], kind[sel]
    slack = t.fork_slack[sel] if t.fork_slack is not None else np.zeros(int(sel.sum()))
    w = np.where(kind[sel] == 2, 1.0 / (1.0 + slack), 0.5)
    return t.ud[sel, 1], kind[sel], w


def estimate_depth_map(ta: ViewTree, tb: ViewTree, opt: MatchOptions | None = None) -> list[DepthMap]:
    """Candidate maps ``f`` (lateral depth -> CC depth) from bifurcation and end depths, best vote first."""
    opt = opt or MatchOptions()
    da, ka, wa = _features(ta, True)
    db, kb, wb = _features(tb, True)
    if len(da) == 0 or len(db) == 0:
        return []
    a_grid = np.arange(1.0 - opt.max_scale, 1.0 + opt.max_scale + 1e-9, 0.0025)
    bin_w = 0.25
    nb = int(round(2 * opt.max_offset_mm / bin_w)) + 1
    votes = np.zeros((len(a_grid), nb))
    same = ka[:, None] == kb[None, :]
    w = np.sqrt(wa[:, None] * wb[None, :]) * same
    ii, jj = np.nonzero(same)
    if len(ii):
        bvals = da[ii][None, :] - a_grid[:, None] * db[jj][None, :]          # (A, P)
        bidx = np.rint((bvals + opt.max_offset_mm) / bin_w).astype(np.int64)
        ok = (bidx >= 0) & (bidx < nb)
        rows = np.broadcast_to(np.arange(len(a_grid))[:, None], bidx.shape)
        np.add.at(votes, (rows[ok], bidx[ok]), np.broadcast_to(w[ii, jj][None, :], bidx.shape)[ok])
    from scipy.ndimage import uniform_filter

    sm = uniform_filter(votes, size=(3, 5), mode="constant")
    maps = []
    flat = np.argsort(sm.ravel())[::-1]
    peaks: list[tuple[float, float]] = []
    for idx in flat[:2000]:
        ai, bi = np.unravel_index(int(idx), sm.shape)
        a, b = float(a_grid[ai]), float(bi * bin_w - opt.max_offset_mm)
        if any(abs(a - pa) < 0.02 and abs(b - pb) < 1.5 for pa, pb in peaks):
            continue
        peaks.append((a, b))
        if len(peaks) >= opt.map_candidates:
            break
    for a, b in peaks:
        maps.append(_refine_map(a, b, da, ka, db, kb, opt))
    return maps


def fit_piecewise(xa: np.ndarray, xb: np.ndarray, opt: MatchOptions, w: np.ndarray | None = None) -> DepthMap | None:
    """Least-squares ``f`` (knee, scale, offset) through corresponding depths ``xa = f(xb)``.

    For each knee on a 0.5 mm grid, ``a`` and ``b`` are fitted on the pairs
    beyond it; the knee with the least weighted squared residual over all
    pairs (those before it on the line from the nipple) wins.
    """
    xa, xb = np.asarray(xa, float), np.asarray(xb, float)
    w = np.ones(len(xa)) if w is None else np.asarray(w, float)
    if len(xa) < 3:
        return None
    best = None
    for k in np.arange(1.0, 16.01, 0.5):
        deep = xb >= k
        if deep.sum() < 2 or np.ptp(xb[deep]) < 3.0:
            continue
        sw = np.sqrt(w[deep])
        A = np.column_stack([xb[deep], np.ones(deep.sum())]) * sw[:, None]
        sol, *_ = np.linalg.lstsq(A, xa[deep] * sw, rcond=None)
        a = float(np.clip(sol[0], 1 - opt.max_scale, 1 + opt.max_scale))
        b = float(np.clip(sol[1], -opt.max_offset_mm, opt.max_offset_mm))
        if not _plausible_knee(a, b, float(k)):
            continue
        m = DepthMap(a, b, float(k))
        res = xa - m(xb)
        cost = float(np.sum(w * np.minimum(res ** 2, 4.0)))
        if best is None or cost < best[0] - 1e-9:
            best = (cost, m, res)
    if best is None:
        return None
    _, m, res = best
    m.matched = int(len(xa))
    m.residual_mm = float(np.sqrt(np.mean(res ** 2)))
    return m


def agreement(ta: ViewTree, tb: ViewTree, f: DepthMap, m: "Matching", tol: float = 0.5) -> int:
    """How many matched forks and ends lie at the same depth in both views (within ``tol`` mm)."""
    n = 0
    ka, kb = ta.kind, tb.kind
    for pp in m.pairs:
        i, j = pp.a[-1], pp.b[-1]
        if ka[i] == kb[j] and ka[i] in (2, 3) and abs(ta.ud[i, 1] - float(f(tb.ud[j, 1]))) < tol:
            n += 1
    return n


def _map_prior(f: DepthMap, opt: MatchOptions) -> float:
    """A mild prior on the map: compression changes depth by a few percent and a few mm."""
    return opt.map_prior * (((f.a - 1.0) / 0.05) ** 2 + (f.b / 5.0) ** 2)


def _refine_map(a: float, b: float, da, ka, db, kb, opt: MatchOptions) -> DepthMap:
    """Refine a vote peak ``a, b``: pair the features it matches, fit knee, scale and offset to them."""
    m = DepthMap(a, b)
    for _ in range(4):
        pa, pb = _pairs(da, ka, db, kb, m, opt.feature_tol_mm)
        m2 = fit_piecewise(pa, pb, opt)
        if m2 is None:
            break
        if abs(m2.a - m.a) < 1e-5 and abs(m2.b - m.b) < 1e-4 and m2.knee_mm == m.knee_mm:
            m = m2
            break
        m = m2
    if m.knee_mm <= 0:
        m = _fit_knee(m.a, m.b, da, ka, db, kb, opt)
    m.features = (len(da), len(db))
    return m


def _plausible_knee(a: float, b: float, k: float) -> bool:
    """The nipple ramp's slope (depth ratio between the views over the first ``k`` mm) is 0.3-2.5."""
    return 0.3 <= (a * k + b) / k <= 2.5


def _fit_knee(a: float, b: float, da, ka, db, kb, opt: MatchOptions) -> DepthMap:
    best = None
    for k in np.arange(1.0, 16.01, 0.5):
        if not _plausible_knee(a, b, float(k)) and k < 16.0:
            continue
        m = DepthMap(a, b, float(k))
        pa, pb = _pairs(da, ka, db, kb, m, opt.feature_tol_mm)
        res = np.abs(pa - m(pb)) if len(pa) else np.zeros(0)
        cost = float(np.sum(np.minimum(res, opt.feature_tol_mm) ** 2)) - opt.feature_tol_mm ** 2 * len(pa)
        if best is None or cost < best[0] - 1e-9:
            best = (cost, float(k), len(pa), float(np.sqrt(np.mean(res ** 2))) if len(res) else None)
    _, k, n, rms = best
    return DepthMap(a=a, b=b, knee_mm=k, matched=n, features=(len(da), len(db)), residual_mm=rms)


def same_map(f: DepthMap, g: DepthMap) -> bool:
    """Two depth maps that are one for matching purposes."""
    return abs(f.a - g.a) < 1e-3 and abs(f.b - g.b) < 0.05 and f.knee_mm == g.knee_mm


def fit_and_match(ta: ViewTree, tb: ViewTree, opt: MatchOptions | None = None,
                  tried: list | None = None) -> tuple[DepthMap, "Matching"]:
    """The depth map and matching together: each candidate map is matched, the cheapest matching wins,
    and its matched bifurcations refine the map once more. ``tried``, a list, receives ``(cost, map)``
    for every distinct candidate map matched (the matching cost with prior and agreement; lower is
    better), so a caller can read the views with the runners-up too."""
    opt = opt or MatchOptions()
    cands = estimate_depth_map(ta, tb, opt)
    if not cands:
        f = DepthMap()
        return f, match_trees(ta, tb, f, opt)
    best = None
    sel = replace(opt, use_slack=False) if opt.strict_map_selection else opt
    seen: list[DepthMap] = []
    for f in cands:
        if any(same_map(f, g) for g in seen):
            continue
        seen.append(f)
        m = match_trees(ta, tb, f, sel)
        c = m.cost + _map_prior(f, opt) - opt.agreement_weight * agreement(ta, tb, f, m)
        if tried is not None:
            tried.append((c, f))
        if best is None or c < best[0]:
            best = (c, f, m)
    _, f, m = best
    if sel is not opt:
        m = match_trees(ta, tb, f, opt)
    for _ in range(3):
        xa, xb, w = [], [], []
        for pp in m.pairs:
            i, j = pp.a[-1], pp.b[-1]
            if ta.kind[i] != tb.kind[j] or ta.kind[i] not in (2, 3):
                continue
            sa = ta.fork_slack[i] if ta.fork_slack is not None else 0.0
            sb = tb.fork_slack[j] if tb.fork_slack is not None else 0.0
            xa.append(ta.ud[i, 1])
            xb.append(tb.ud[j, 1])
            w.append(1.0 / (1.0 + sa + sb) ** 2)
        xa, xb, w = np.asarray(xa), np.asarray(xb), np.asarray(w)
        if len(xa) < 4:
            break
        keep = np.abs(xa - f(xb)) < 1.5
        f2 = fit_piecewise(xa[keep], xb[keep], opt, w[keep])
        if f2 is None:
            break
        f2.features = f.features
        m2 = match_trees(ta, tb, f2, opt)
        if m2.cost + _map_prior(f2, opt) - opt.agreement_weight * agreement(ta, tb, f2, m2) < \
                m.cost + _map_prior(f, opt) - opt.agreement_weight * agreement(ta, tb, f, m):
            f, m = f2, m2
        else:
            break
    return f, m


def _pairs(da, ka, db, kb, m: DepthMap, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one nearest pairs of like features within ``tol`` after mapping (greedy)."""
    mb = m(db)
    diff = np.abs(da[:, None] - mb[None, :])
    diff[ka[:, None] != kb[None, :]] = np.inf
    i, j = np.nonzero(diff <= tol)
    order = np.argsort(diff[i, j])
    ua, ub = set(), set()
    pa, pb = [], []
    for k in order:
        x, y = int(i[k]), int(j[k])
        if x in ua or y in ub:
            continue
        ua.add(x)
        ub.add(y)
        pa.append(da[x])
        pb.append(db[y])
    return np.asarray(pa), np.asarray(pb)


# --------------------------------------------------------------------------- tree matching

@dataclass
class PathPair:
    """A 3D branch: a path of CC nodes and a path of lateral nodes (rows), both from one matched start."""

    a: list[int]
    b: list[int]
    parent: int = -1                      #: index of the PathPair it leaves (-1 from the root)
    skipped_a: list[int] = field(default_factory=list)   #: CC junctions passed (their other children one-view)
    skipped_b: list[int] = field(default_factory=list)


@dataclass
class Matching:
    pairs: list[PathPair]
    single_a: list[tuple[int, int, int]]   #: (CC subtree root row, attach: PathPair index, CC node row there)
    single_b: list[tuple[int, int, int]]
    cost: float
    matched_junctions: int


def _edge_widths(t: ViewTree) -> np.ndarray:
    """Median radius along each node's incoming edge (the node's own radius without one), remembered."""
    return t.remembered("_edge_widths", lambda: np.array(
        [float(np.median(r)) if len(r) else t.r[i] for i, r in enumerate(t.edge_r)]))


class _Matcher:
    def __init__(self, ta: ViewTree, tb: ViewTree, f: DepthMap, opt: MatchOptions) -> None:
        self.ta, self.tb, self.f, self.opt = ta, tb, f, opt
        self.da = ta.ud[:, 1]
        self.db = f(tb.ud[:, 1])
        self.ka, self.kb = ta.kind, tb.kind
        self.sa = self._single_costs(ta)
        self.sb = self._single_costs(tb)
        self.wa = _edge_widths(ta)
        self.wb = _edge_widths(tb)
        self.slack_a = ta.fork_slack if ta.fork_slack is not None else np.zeros(ta.n)
        self.slack_b = tb.fork_slack if tb.fork_slack is not None else np.zeros(tb.n)
        self.memo: dict[tuple[int, int], tuple[float, tuple]] = {}
        self.mmemo: dict[tuple[int, int], tuple[float, list]] = {}
        # plain-Python copies for the recursion's scalar look-ups (same values, no numpy scalar overhead)
        self._sa, self._sb = self.sa.tolist(), self.sb.tolist()
        self._da, self._db = np.asarray(self.da, dtype=float).tolist(), np.asarray(self.db, dtype=float).tolist()
        self._ka, self._kb = np.asarray(self.ka).tolist(), np.asarray(self.kb).tolist()
        self._E: list | None = None
        # with no negative one-view cost, an assignment already dearer than the best stays dearer
        self._nonneg = bool(np.all(self.sb >= 0)) if len(self.sb) else True

    def _single_costs(self, t: ViewTree) -> np.ndarray:
        """Cost of leaving each node's incoming edge and subtree seen in one view only (remembered on the
        tree: the crossing trials match one view's tree many times)."""
        return t.remembered("_single_costs", lambda: self._single_costs_of(t),
                            (self.opt.single_edge_cost, self.opt.single_mm_cost))

    def _single_costs_of(self, t: ViewTree) -> np.ndarray:
        from .biplane_graph import _polyline_length

        n = t.n
        own = np.array([self.opt.single_edge_cost + self.opt.single_mm_cost * _polyline_length(p) if len(p) else 0.0
                        for p in t.edge_ud])
        # parents come before children in every ViewTree (breadth-first rows), so one backward pass sums subtrees
        out = own.copy()
        for i in range(n - 1, 0, -1):
            p = t.parent[i]
            if p >= 0:
                out[p] += out[i]
        return out

    def end_cost(self, i: int, j: int) -> float:
        E = self.__dict__.get("_end")
        if E is None:
            E = self._end = self._end_costs()
        return float(E[i, j])

    def _end_costs(self) -> np.ndarray:
        """:meth:`end_cost` of every pair of nodes at once (vectorized)."""
        opt = self.opt
        ka, kb = self.ka[:, None], self.kb[None, :]
        tips = (ka == 3) & (kb == 3)
        sig = np.where(tips, opt.tip_sigma_mm, opt.sigma_mm) + 0.5 * (self.ta.r[:, None] + self.tb.r[None, :])
        delta = self.da[:, None] - self.db[None, :]
        slack = np.where(delta > 0, np.asarray(self.slack_a, float)[:, None], np.asarray(self.slack_b, float)[None, :])
        excess = np.maximum(0.0, np.abs(delta) - slack)
        forks = (ka == 2) & (kb == 2) & opt.use_slack
        c = np.where(forks, (excess / sig) ** 2 + opt.slack_weight * np.abs(delta) / sig, (delta / sig) ** 2)
        lw = np.log(np.maximum(self.wa, 1e-3))[:, None] - np.log(np.maximum(self.wb, 1e-3))[None, :]
        return c + opt.width_weight * (lw / 0.35) ** 2

    def cost(self, i: int, j: int) -> tuple[float, tuple]:
        key = (i, j)
        memo = self.memo
        got = memo.get(key)
        if got is not None:
            return got
        memo[key] = (math.inf, ("none",))   # guards against cycles (none expected)
        opt = self.opt
        ta, tb = self.ta, self.tb
        sa, sb = self._sa, self._sb
        best: tuple[float, tuple] = (math.inf, ("none",))
        # (1) the ends are one 3D point
        E = self._E
        if E is None:
            E = self.__dict__.get("_end")
            if E is None:
                E = self._end = self._end_costs()
            E = self._E = E.tolist()
        c = E[i][j]
        ka, kb = self._ka[i], self._kb[j]
        if ka == 3 and kb == 3:
            best = (c, ("end", i, j))
        elif ka == 3 or kb == 3:
            rest = sum(sb[x] for x in tb.children[j]) if ka == 3 else sum(sa[x] for x in ta.children[i])
            best = (c + opt.type_cost + rest, ("end", i, j))
        else:
            mc, _ = self.match_children(i, j)
            best = (c + mc, ("end", i, j))
        tau = 2.0
        dai, dbj = self._da[i], self._db[j]
        # (2) pass A's junction i (seen in A only)
        if ka == 2 and dai < dbj + tau:
            kids = ta.children[i]
            total_single = sum(sa[x] for x in kids)
            for ch in kids:
                sub = memo.get((ch, j))
                sub = (sub if sub is not None else self.cost(ch, j))[0]
                v = sub + opt.skip_cost + total_single - sa[ch]
                if v < best[0]:
                    best = (v, ("skip_a", i, ch))
        # (3) pass B's junction j
        if kb == 2 and dbj < dai + tau:
            kids = tb.children[j]
            total_single = sum(sb[x] for x in kids)
            for ch in kids:
                sub = memo.get((i, ch))
                sub = (sub if sub is not None else self.cost(i, ch))[0]
                v = sub + opt.skip_cost + total_single - sb[ch]
                if v < best[0]:
                    best = (v, ("skip_b", j, ch))
        memo[key] = best
        return best

    def match_children(self, i: int, j: int) -> tuple[float, list]:
        key = (i, j)
        got = self.mmemo.get(key)
        if got is not None:
            return got
        ca, cb = self.ta.children[i], self.tb.children[j]
        sa, sb = self._sa, self._sb
        best = (math.inf, [])
        if len(ca) > 4 or len(cb) > 4:
            # rare many-way nodes: greedy by cost
            cands = sorted((self.cost(x, y)[0], x, y) for x in ca for y in cb)
            ua, ub, pairs, tot = set(), set(), [], 0.0
            for c, x, y in cands:
                if x in ua or y in ub or c >= sa[x] + sb[y]:
                    continue
                ua.add(x)
                ub.add(y)
                pairs.append((x, y))
                tot += c
            tot += sum(sa[x] for x in ca if x not in ua) + sum(sb[y] for y in cb if y not in ub)
            best = (tot, pairs)
        else:
            # every assignment of A's children to distinct B children or to none (seen in A only), in the
            # order of the permutations of ``cb + [None] * len(ca)`` with repeats dropped (ties keep the first)
            memo = self.memo
            cost = self.cost
            best0 = math.inf
            nonneg = self._nonneg
            for pat, unused in _assignments(len(cb), len(ca)):
                tot = 0.0
                pairs = []
                broke = False
                for x, yi in zip(ca, pat):
                    if yi < 0:
                        tot += sa[x]
                    else:
                        y = cb[yi]
                        got = memo.get((x, y))
                        tot += (got if got is not None else cost(x, y))[0]
                        pairs.append((x, y))
                    if tot >= best0:
                        broke = True
                        break
                if broke:
                    if nonneg:
                        continue      # adding the (non-negative) unused costs cannot make it cheaper
                    used = {y for _, y in pairs}
                    tot += sum(sb[y] for y in cb if y not in used)
                else:
                    rest = 0
                    for yi in unused:
                        rest += sb[cb[yi]]
                    tot += rest
                if tot < best0:
                    best = (tot, pairs)
                    best0 = tot
        self.mmemo[key] = best
        return best


_ASSIGNMENTS: dict[tuple[int, int], list] = {}


def _assignments(nb: int, na: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every assignment of ``na`` A children to distinct B children (indices ``0..nb-1``) or to none (-1), in
    the order of ``itertools.product(range(nb) + [-1], repeat=na)`` with repeats dropped; each with the B
    indices left unused, in order."""
    got = _ASSIGNMENTS.get((nb, na))
    if got is None:
        from itertools import product

        got = []
        for assign in product(list(range(nb)) + [-1], repeat=na):
            named = [y for y in assign if y >= 0]
            if len(named) != len(set(named)):
                continue
            got.append((assign, tuple(y for y in range(nb) if y not in named)))
        _ASSIGNMENTS[(nb, na)] = got
    return got


def match_trees(ta: ViewTree, tb: ViewTree, f: DepthMap, opt: MatchOptions | None = None) -> Matching:
    """Match the CC tree ``ta`` with the lateral tree ``tb`` (see the module docs)."""
    import sys

    opt = opt or MatchOptions()
    m = _Matcher(ta, tb, f, opt)
    kind_a, kind_b = m.ka, m.kb
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        pairs: list[PathPair] = []
        single_a: list[tuple[int, int, int]] = []
        single_b: list[tuple[int, int, int]] = []
        total = 0.0
        junctions = 0
        # the roots are one point (the nipple / orifice); their single child edges start the first path
        stack: list[tuple[int, int, int]] = []   # (A child row, B child row, parent pair)
        ra, rb = ta.children[0], tb.children[0]
        if len(ra) == 1 and len(rb) == 1:
            stack.append((ra[0], rb[0], -1))
            total = m.cost(ra[0], rb[0])[0]
        else:
            total, plan = m.match_children(0, 0)
            for x, y in plan:
                stack.append((x, y, -1))
            used_a = {x for x, _ in plan}
            used_b = {y for _, y in plan}
            single_a += [(x, -1, 0) for x in ra if x not in used_a]
            single_b += [(y, -1, 0) for y in rb if y not in used_b]
        while stack:
            i, j, parent = stack.pop()
            pa_nodes = [int(ta.parent[i]), i]
            pb_nodes = [int(tb.parent[j]), j]
            pp = PathPair(a=pa_nodes, b=pb_nodes, parent=parent)
            dec = m.cost(i, j)[1]
            while dec[0] in ("skip_a", "skip_b"):
                if dec[0] == "skip_a":
                    _, node, ch = dec
                    pp.skipped_a.append(node)
                    pp.a.append(ch)
                    for other in ta.children[node]:
                        if other != ch:
                            single_a.append((other, len(pairs), node))
                    dec = m.cost(ch, pp.b[-1])[1]
                else:
                    _, node, ch = dec
                    pp.skipped_b.append(node)
                    pp.b.append(ch)
                    for other in tb.children[node]:
                        if other != ch:
                            single_b.append((other, len(pairs), node))
                    dec = m.cost(pp.a[-1], ch)[1]
            k = len(pairs)
            pairs.append(pp)
            ei, ej = pp.a[-1], pp.b[-1]
            if kind_a[ei] == 3 and kind_b[ej] == 3:
                continue
            if kind_a[ei] == 3:
                single_b += [(y, k, ej) for y in tb.children[ej]]
                continue
            if kind_b[ej] == 3:
                single_a += [(x, k, ei) for x in ta.children[ei]]
                continue
            junctions += 1
            _, plan = m.match_children(ei, ej)
            used_a = {x for x, _ in plan}
            used_b = {y for _, y in plan}
            single_a += [(x, k, ei) for x in ta.children[ei] if x not in used_a]
            single_b += [(y, k, ej) for y in tb.children[ej] if y not in used_b]
            for x, y in plan:
                stack.append((x, y, k))
    finally:
        sys.setrecursionlimit(old)
    return Matching(pairs=pairs, single_a=single_a, single_b=single_b, cost=total, matched_junctions=junctions)


# --------------------------------------------------------------------------- triangulation

def _concat(t: ViewTree, nodes: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polyline (u, d), radii and, per node in ``nodes``, its index in the polyline."""
    pts = [t.ud[nodes[0]][None, :]]
    rad = [np.array([t.r[nodes[0]]])]
    idx = [0]
    count = 1
    for n in nodes[1:]:
        p = t.edge_ud[n]
        r = t.edge_r[n]
        pts.append(p[1:])
        rad.append(r[1:])
        count += len(p) - 1
        idx.append(count - 1)
    return np.vstack(pts), np.concatenate(rad), np.asarray(idx)


def _resample(p: np.ndarray, r: np.ndarray, step: float, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Resample a polyline every ``step`` mm; the points at indices ``keep`` are kept exactly.

    Returns points, radii, arc length of each point and the new index of each kept point.
    """
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    cuts = sorted(set(int(k) for k in keep) | {0, len(p) - 1})
    out_p, out_r, out_s, new_idx = [], [], [], {}
    for a, b in zip(cuts[:-1], cuts[1:]):
        length = s[b] - s[a]
        n = max(1, int(math.ceil(length / step)))
        t = np.linspace(s[a], s[b], n + 1)
        if out_p:
            t = t[1:]
        else:
            new_idx[a] = 0
        xs = np.interp(t, s, p[:, 0])
        ys = np.interp(t, s, p[:, 1])
        out_p.append(np.column_stack([xs, ys]))
        out_r.append(np.interp(t, s, r))
        out_s.append(t)
        new_idx[b] = sum(len(x) for x in out_p) - 1
    if len(cuts) == 1:
        return p[:1].copy(), r[:1].copy(), np.zeros(1), np.zeros(len(keep), dtype=np.int64)
    P = np.vstack(out_p)
    return P, np.concatenate(out_r), np.concatenate(out_s), np.asarray([new_idx[int(k)] for k in keep])


def dtw_align(da: np.ndarray, db_mapped: np.ndarray, sa: np.ndarray, sb: np.ndarray,
              arc_weight: float = 0.2) -> np.ndarray:
    """Monotone alignment of two depth profiles (both ends fixed); returns (K, 2) index pairs.

    Cost of pairing ``i`` with ``j``: ``|da[i] - db_mapped[j]|`` plus
    ``arc_weight`` times the difference of their relative arc lengths (which
    only decides where depth cannot, e.g. along a duct crossing the depth axis).
    """
    n, m = len(da), len(db_mapped)
    la, lb = max(sa[-1], 1e-9), max(sb[-1], 1e-9)
    c = np.abs(da[:, None] - db_mapped[None, :]) + arc_weight * np.abs(sa[:, None] / la - sb[None, :] / lb)
    D = np.empty((n, m))
    D[0] = np.cumsum(c[0])
    for i in range(1, n):
        prev = D[i - 1]
        A = prev.copy()
        A[1:] = np.minimum(prev[1:], prev[:-1])
        C = np.cumsum(c[i])
        G = A - (C - c[i])
        D[i] = C + np.minimum.accumulate(G)
    # backtrack
    i, j = n - 1, m - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            a, b, c = D.item(i - 1, j - 1), D.item(i - 1, j), D.item(i, j - 1)
            if a != a or b != b or c != c:              # NaN: as numpy's argmin (the first NaN)
                k = int(np.argmin((a, b, c)))
            else:                                        # the first of the smallest, as argmin
                k = 0 if (a <= b and a <= c) else (1 if b <= c else 2)
            if k == 0:
                i, j = i - 1, j - 1
            elif k == 1:
                i -= 1
            else:
                j -= 1
        path.append((i, j))
    return np.asarray(path[::-1], dtype=np.int64)


@dataclass
class Built:
    """The 3D tree as row arrays (BF mm), with per-node provenance."""

    pos: np.ndarray
    radius: np.ndarray
    parent: np.ndarray
    single_view: np.ndarray        #: bool
    view: list[str]                #: "both", "cc" or "lateral"
    sigma: np.ndarray              #: position uncertainty (mm, 1 SD)
    cc_ud: np.ndarray              #: (N, 2) where the node is seen in the CC (u, d mm), NaN if not
    lat_ud: np.ndarray             #: (N, 2) ... in the lateral
    pair_of: np.ndarray            #: PathPair index of each node (-1 for one-view nodes and the root)
    depth_residual: np.ndarray     #: |d_cc - f(d_lat)| at each matched node (mm), NaN elsewhere


def built_from_tree(tree) -> Built:
    """A 3D tree (:class:`~ductree.tree.DuctTree`, BF mm) as reading rows, every node taken as seen in both
    views, so the self-consistency score (:func:`~ductree.reconstruct.biplane_guided.consistency`) can say
    how well any tree - an edited one, or a phantom's truth - explains a pair of masks."""
    n = tree.number_of_nodes()
    return Built(pos=np.asarray(tree.positions, dtype=float), radius=np.asarray(tree.radii, dtype=float),
                 parent=np.asarray(tree.parent_index, dtype=np.int64), single_view=np.zeros(n, dtype=bool),
                 view=["both"] * n, sigma=np.zeros(n), cc_ud=np.full((n, 2), np.nan),
                 lat_ud=np.full((n, 2), np.nan), pair_of=np.full(n, -1, dtype=np.int64),
                 depth_residual=np.full(n, np.nan))


class _Acc:
    def __init__(self) -> None:
        self.pos: list = []
        self.rad: list = []
        self.par: list = []
        self.single: list = []
        self.view: list = []
        self.sigma: list = []
        self.cc: list = []
        self.lat: list = []
        self.pair: list = []
        self.res: list = []

    def add(self, p, r, parent, *, single=False, view="both", sigma=0.0, cc=(np.nan, np.nan),
            lat=(np.nan, np.nan), pair=-1, res=np.nan) -> int:
        self.pos.append(np.asarray(p, dtype=float))
        self.rad.append(float(r))
        self.par.append(int(parent))
        self.single.append(bool(single))
        self.view.append(view)
        self.sigma.append(float(sigma))
        self.cc.append((float(cc[0]), float(cc[1])))
        self.lat.append((float(lat[0]), float(lat[1])))
        self.pair.append(int(pair))
        self.res.append(float(res))
        return len(self.pos) - 1


def _combine_radius(ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
    return np.where(hi > 1.5 * lo, lo, 0.5 * (ra + rb))


def _resample_rows(s: np.ndarray, step: float, anchors: list[int]) -> list[int]:
    """Row indices along a polyline of arc lengths ``s`` about ``step`` apart, always keeping ``anchors``."""
    keep = sorted(set(anchors) | {0, len(s) - 1})
    rows = []
    for a, b in zip(keep[:-1], keep[1:]):
        length = s[b] - s[a]
        n = max(1, int(round(length / step)))
        targets = np.linspace(s[a], s[b], n + 1)[:-1]
        idx = np.searchsorted(s[a:b + 1], targets)
        rows.extend(int(a + min(k, b - a)) for k in idx)
    rows.append(keep[-1])
    out = []
    for r in rows:
        if not out or r != out[-1]:
            out.append(r)
    return out


def build_3d(ta: ViewTree, tb: ViewTree, f: DepthMap, matching: Matching,
             opt: MatchOptions | None = None) -> Built:
    """Triangulate matched paths and place one-view branches (see the module docs)."""
    opt = opt or MatchOptions()
    acc = _Acc()
    root_pos = np.array([ta.ud[0, 0], 0.5 * (ta.ud[0, 1] + tb.ud[0, 1]), tb.ud[0, 0]])
    root = acc.add(root_pos, _combine_radius(np.array([ta.r[0]]), np.array([tb.r[0]]))[0], -1,
                   cc=ta.ud[0], lat=tb.ud[0], res=abs(ta.ud[0, 1] - float(f(tb.ud[0, 1]))))
    anchor_a: dict[tuple[int, int], int] = {(-1, 0): root}
    anchor_b: dict[tuple[int, int], int] = {(-1, 0): root}
    end_node: dict[int, int] = {}
    all_a = {n for pp in matching.pairs for n in pp.a[1:]}
    all_b = {n for pp in matching.pairs for n in pp.b[1:]}
    track_a = _Track(ta, f, False, opt.sample_mm, all_a) if opt.repair_residual_mm > 0 else None
    track_b = _Track(tb, f, True, opt.sample_mm, all_b) if opt.repair_residual_mm > 0 else None
    tails: dict[int, tuple] = {}
    for k, pp in enumerate(matching.pairs):
        start = root if pp.parent < 0 else end_node[pp.parent]
        pa, ra, ia = _concat(ta, pp.a)
        pb, rb, ib = _concat(tb, pp.b)
        tail_a, tail_b = tails.get(pp.parent, (None, None))
        if tail_a is not None:
            pa, ra, ia = np.vstack([tail_a[0], pa[1:]]), np.concatenate([tail_a[1], ra[1:]]), ia + len(tail_a[0]) - 1
        if tail_b is not None:
            pb, rb, ib = np.vstack([tail_b[0], pb[1:]]), np.concatenate([tail_b[1], rb[1:]]), ib + len(tail_b[0]) - 1
        keep_a = [int(ia[pp.a.index(n)]) for n in pp.skipped_a]
        keep_b = [int(ib[pp.b.index(n)]) for n in pp.skipped_b]
        Pa, Ra, Sa, ka = _resample(pa, ra, opt.sample_mm, np.asarray(keep_a + [len(pa) - 1], dtype=np.int64))
        Pb, Rb, Sb, kb = _resample(pb, rb, opt.sample_mm, np.asarray(keep_b + [len(pb) - 1], dtype=np.int64))
        # a fork seen too deep in one view: the true branching point is at the other view's depth; the
        # stretch beyond it is shared by the children (two ducts overlapping in that projection)
        new_tail_a = new_tail_b = None
        if ta.kind[pp.a[-1]] == 2 and tb.kind[pp.b[-1]] == 2:
            ea, eb = float(Pa[-1, 1]), float(f(Pb[-1, 1]))
            if eb - ea > opt.split_tol_mm:
                q = _split_index(f(Pb[:, 1]), ea, Sb, int(kb[:-1].max()) if len(kb) > 1 else 0,
                                 tb.fork_slack[pp.b[-1]] if tb.fork_slack is not None else 0.0)
                if q is not None:
                    new_tail_b = (Pb[q:].copy(), Rb[q:].copy())
                    Pb, Rb, Sb = Pb[:q + 1], Rb[:q + 1], Sb[:q + 1]
            elif ea - eb > opt.split_tol_mm:
                q = _split_index(Pa[:, 1], eb, Sa, int(ka[:-1].max()) if len(ka) > 1 else 0,
                                 ta.fork_slack[pp.a[-1]] if ta.fork_slack is not None else 0.0)
                if q is not None:
                    new_tail_a = (Pa[q:].copy(), Ra[q:].copy())
                    Pa, Ra, Sa = Pa[:q + 1], Ra[:q + 1], Sa[:q + 1]
        tails[k] = (new_tail_a, new_tail_b)
        path = dtw_align(Pa[:, 1], f(Pb[:, 1]), Sa, Sb)
        i, j = path[:, 0], path[:, 1]
        P3 = np.column_stack([Pa[i, 0], 0.5 * (Pa[i, 1] + Pb[j, 1]), Pb[j, 0]])
        R3 = _combine_radius(Ra[i], Rb[j])
        res = np.abs(Pa[i, 1] - f(Pb[j, 1]))
        flags = _repair_unpaired(P3, Pa, Pb, Ra, Rb, i, j, res, f, track_a, track_b, opt)
        s3 = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(P3, axis=0), axis=1))])
        # anchors: each skipped junction at the first aligned step of its index
        anchor_rows_a = {n: int(np.flatnonzero(i == ka[q])[0]) for q, n in enumerate(pp.skipped_a)}
        anchor_rows_b = {n: int(np.flatnonzero(j == kb[q])[0]) for q, n in enumerate(pp.skipped_b)}
        rows = _resample_rows(s3, opt.node_spacing_mm, list(anchor_rows_a.values()) + list(anchor_rows_b.values()))
        ids = {0: start}
        prev = start
        for r in rows[1:]:
            if flags[r]:
                which = "cc" if flags[r] == 1 else "lateral"
                prev = acc.add(P3[r], R3[r], prev, single=True, view=which, sigma=opt.track_behind_sigma_mm,
                               cc=Pa[i[r]] if flags[r] == 1 else (np.nan, np.nan),
                               lat=Pb[j[r]] if flags[r] == 2 else (np.nan, np.nan), pair=k, res=res[r])
            else:
                prev = acc.add(P3[r], R3[r], prev, cc=Pa[i[r]], lat=Pb[j[r]], pair=k, res=res[r])
            ids[r] = prev
        end_node[k] = prev
        for n, r in anchor_rows_a.items():
            anchor_a[(k, n)] = ids[r]
        for n, r in anchor_rows_b.items():
            anchor_b[(k, n)] = ids[r]
        anchor_a[(k, pp.a[-1])] = prev
        anchor_b[(k, pp.b[-1])] = prev
    used_a = {n for pp in matching.pairs for n in pp.a[1:]}
    used_b = {n for pp in matching.pairs for n in pp.b[1:]}
    track_in_b = _Track(tb, f, True, opt.sample_mm, used_b) if matching.single_a else None
    track_in_a = _Track(ta, f, False, opt.sample_mm, used_a) if matching.single_b else None
    for singles, tree, which, anchors, track in ((matching.single_a, ta, "cc", anchor_a, track_in_b),
                                                (matching.single_b, tb, "lateral", anchor_b, track_in_a)):
        for sub_root, k, att in singles:
            at = anchors.get((k, att))
            if at is None:
                continue
            _place_single(acc, tree, sub_root, at, which, f, opt, track if opt.track_single else None)
    pos = np.vstack(acc.pos)
    return Built(pos=pos, radius=np.asarray(acc.rad), parent=np.asarray(acc.par, dtype=np.int64),
                 single_view=np.asarray(acc.single), view=acc.view, sigma=np.asarray(acc.sigma),
                 cc_ud=np.asarray(acc.cc, dtype=float).reshape(-1, 2),
                 lat_ud=np.asarray(acc.lat, dtype=float).reshape(-1, 2),
                 pair_of=np.asarray(acc.pair, dtype=np.int64), depth_residual=np.asarray(acc.res))


def _repair_unpaired(P3, Pa, Pb, Ra, Rb, i, j, res, f: DepthMap, track_a, track_b, opt: MatchOptions) -> np.ndarray:
    """Where the aligned points of a matched pair are not at one depth (one view's duct runs on past the
    other's, hidden or cut there), the point of the view that runs on keeps its own coordinates and takes
    the missing one from the other view's centrelines at its depth (tracked from the last paired point),
    instead of the partner's far-off one. Returns per point 0 (paired), 1 (CC only) or 2 (lateral only)."""
    flags = np.zeros(len(P3), dtype=np.int8)
    if track_a is None or track_b is None or opt.repair_residual_mm <= 0:
        return flags
    bad = res > opt.repair_residual_mm
    bad[0] = bad[-1] = False      # the ends are forks or tips shared with other branches: left as matched
    if not bad.any():
        return flags
    last_z, last_x = float(P3[0, 2]), float(P3[0, 0])
    for q in range(len(P3)):
        if not bad[q]:
            last_z, last_x = float(P3[q, 2]), float(P3[q, 0])
            continue
        da, db = float(Pa[i[q], 1]), float(Pb[j[q], 1])
        dbm = float(f(db))
        if da > dbm:
            cu, cr, _ = track_b.near(da, opt.track_band_mm)
            ok = (cr > 0.4 * Ra[i[q]]) & (cr < 2.5 * Ra[i[q]] + 0.05)
            if ok.any():
                cu = cu[ok]
                k = int(np.argmin(np.abs(cu - last_z)))
                if abs(cu[k] - last_z) <= 1.0:
                    last_z = float(cu[k])
            P3[q] = (Pa[i[q], 0], 0.5 * (da + float(f.inverse(da))), last_z)
            flags[q] = 1
        else:
            cu, cr, _ = track_a.near(dbm, opt.track_band_mm)
            ok = (cr > 0.4 * Rb[j[q]]) & (cr < 2.5 * Rb[j[q]] + 0.05)
            if ok.any():
                cu = cu[ok]
                k = int(np.argmin(np.abs(cu - last_x)))
                if abs(cu[k] - last_x) <= 1.0:
                    last_x = float(cu[k])
            P3[q] = (last_x, 0.5 * (dbm + db), Pb[j[q], 0])
            flags[q] = 2
    return flags


def _split_index(depth: np.ndarray, target: float, s: np.ndarray, after: int, slack: float) -> int | None:
    """Index where a path last reaches ``target`` depth, if that leaves a tail no longer than the slack."""
    below = np.flatnonzero(depth[: len(depth) - 1] <= target)
    if len(below) == 0:
        return None
    q = int(below[-1])
    if q <= after or q < 1:
        return None
    if s[-1] - s[q] > slack + 3.0:
        return None
    return q


def _parent_slope(acc: _Acc, at: int, coord: int, look_mm: float = 3.0) -> float:
    """d(coord)/dy of the duct arriving at node ``at`` over its last ``look_mm``."""
    p_end = acc.pos[at]
    cur = at
    dist = 0.0
    while acc.par[cur] >= 0 and dist < look_mm:
        nxt = acc.par[cur]
        dist += float(np.linalg.norm(acc.pos[cur] - acc.pos[nxt]))
        cur = nxt
    d = p_end - acc.pos[cur]
    if abs(d[1]) < 0.3:
        return 0.0
    return float(np.clip(d[coord] / d[1], -1.0, 1.0))


class _Track:
    """The other view's centreline samples, sorted by depth in the CC frame (for one-view branches)."""

    def __init__(self, tree: ViewTree, f: DepthMap, mapped: bool, step: float, matched: set[int]) -> None:
        P, R, node = _track_samples(tree, step)
        # whether each sample's node is in ``matched`` (nodes are rows 0..n-1: a look-up table)
        lut = np.zeros(tree.n, dtype=bool)
        rows = [int(n) for n in matched if 0 <= int(n) < tree.n]
        lut[rows] = True
        U = lut[node] if len(node) else np.zeros(0, dtype=bool)
        d = f(P[:, 1]) if mapped else P[:, 1]
        order = np.argsort(d)
        self.d, self.u, self.r, self.used = d[order], P[order, 0], R[order], U[order]

    def near(self, depth: float, band: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo = np.searchsorted(self.d, depth - band)
        hi = np.searchsorted(self.d, depth + band)
        return self.u[lo:hi], self.r[lo:hi], self.used[lo:hi]


def _track_samples(tree: ViewTree, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every edge of ``tree`` resampled every ``step`` mm: points (u, d), radii and each point's node
    (edges of fewer than 2 points left out). Depends on the tree alone, so it is remembered on it (a copy
    with its own edges recomputes)."""
    return tree.remembered("_track_samples", lambda: _resampled_edges(tree, step), step)


def _resampled_edges(tree: ViewTree, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pts, rad, node = [], [], []
    for n in range(tree.n):
        e = tree.edge_ud[n]
        if len(e) < 2:
            continue
        P, R, _, _ = _resample(e, tree.edge_r[n], step, np.asarray([len(e) - 1]))
        pts.append(P)
        rad.append(R)
        node.append(np.full(len(P), n, dtype=np.int64))
    return (np.vstack(pts) if pts else np.zeros((0, 2)), np.concatenate(rad) if rad else np.zeros(0),
            np.concatenate(node) if node else np.zeros(0, dtype=np.int64))


def _place_single(acc: _Acc, tree: ViewTree, sub_root: int, at: int, which: str, f: DepthMap,
                  opt: MatchOptions, track: "_Track | None" = None) -> None:
    """Add a subtree seen in one view only, hanging from 3D node ``at``.

    Its unknown coordinate (``z`` for a CC-only branch, ``x`` for a
    lateral-only one) is tracked along the other view's centrelines at equal
    depth, continuing from the attachment (a branch hidden behind another duct
    in the other view takes that duct's coordinate there); where nothing in
    the other view is at that depth within reach it follows the parent's
    direction. ``pos_sigma_mm`` is small where tracked and grows with the
    distance from the last tracked point elsewhere.
    """
    unknown = 2 if which == "cc" else 0             # z unknown on a CC-only branch, x on a lateral-only one
    slope = opt.direction_damping * _parent_slope(acc, at, unknown)
    p_at = acc.pos[at]
    stack = [(sub_root, at, float(p_at[unknown]), float(p_at[1]), 0.0, opt.single_sigma0_mm)]
    while stack:
        node, parent3d, val, y_last, since, base = stack.pop()
        poly = tree.edge_ud[node]
        rad = tree.edge_r[node]
        seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        fine = _resample_rows(s, opt.sample_mm, [])
        out_rows = set(_resample_rows(s, opt.node_spacing_mm, []))
        prev = parent3d
        last_s = 0.0
        chosen = None
        # the depths of every sample at once (the map is elementwise: the values of one call per sample)
        fr = np.asarray(fine, dtype=np.int64)
        dd = y_fine = None
        if len(fine) > 1 or (track is not None and opt.track_viterbi):
            d_fine = poly[fr, 1]
            if which == "cc":
                dd = d_fine
                y_fine = 0.5 * (d_fine + np.asarray(f.inverse(d_fine), dtype=float))
            else:
                dd = np.asarray(f(d_fine), dtype=float)
                y_fine = 0.5 * (dd + d_fine)
        if track is not None and opt.track_viterbi:
            from .biplane_track import track_unknown

            chosen = track_unknown(track, dd, rad[fr], s[fr], val, band_mm=opt.track_band_mm)
        for q, r in enumerate(fine[1:], start=1):
            u, d = poly[r]
            step = s[r] - last_s
            last_s = s[r]
            d_cc = dd[q]
            y = y_fine[q]
            tracked = False
            behind = False
            if chosen is not None:
                if chosen[1][q]:
                    val, tracked, behind = float(chosen[0][q]), True, bool(chosen[2][q])
            elif track is not None:
                cu, cr, cused = track.near(d_cc, opt.track_band_mm)
                if len(cu):
                    ok = (cr > 0.4 * rad[r]) & (cr < 2.5 * rad[r] + 0.05)
                    if ok.any():
                        cu, cused = cu[ok], cused[ok]
                        k = int(np.argmin(np.abs(cu - val)))
                        if abs(cu[k] - val) <= opt.track_jump_mm + opt.track_slope * step:
                            val = float(cu[k])
                            tracked = True
                            behind = bool(cused[k])
            if tracked:
                since = 0.0
                y_last = y
                base = opt.track_behind_sigma_mm if behind else opt.track_sigma_mm
            else:
                since += step
                val = val + slope * (y - y_last)
                y_last = y
            if r not in out_rows:
                continue
            # tracked on a duct of its own in the other view: well placed; on a duct already matched to
            # another branch: it may hide behind that duct, or not be in the other view at all
            sig = base + opt.single_sigma_per_mm * since
            if which == "cc":
                p3, view_cc, view_lat = (u, y, val), (u, d), (np.nan, np.nan)
            else:
                p3, view_cc, view_lat = (val, y, u), (np.nan, np.nan), (u, d)
            prev = acc.add(p3, rad[r], prev, single=True, view=which, sigma=sig, cc=view_cc, lat=view_lat)
        for ch in tree.children[node]:
            stack.append((ch, prev, val, y_last, since, base))


def nearly_tied_cuts(tree: ViewTree, margin: float) -> list[tuple[float, tuple, tuple]]:
    """The tree's crossing cuts whose runner-up reading scored within ``margin`` of the cut made, as
    ``(gap, cut signature, the other reading)``, most nearly tied first."""
    trials = [(gap, c["sig"], alt) for c in tree.crossings for gap, alt in c.get("alternatives", [])
              if gap <= margin]
    trials.sort(key=lambda t: t[0])
    return trials


def tree_with_cuts(vg, banned: frozenset = frozenset(), forced: frozenset = frozenset()) -> ViewTree:
    """``vg.tree(banned, forced)``, remembered on the view graph (the guided readings re-read the crossing
    cuts that the matching tried)."""
    memo = vg.__dict__.setdefault("_tree_memo", {})
    key = (banned, forced)
    if key not in memo:
        memo[key] = vg.tree(banned, forced)
    return memo[key]


def match_views(vga, vgb, opt: MatchOptions | None = None, depth_map: DepthMap | None = None,
                tried: list | None = None):
    """Trees of both views, depth map and matching, with ambiguous crossings decided by the other view.

    Each view's cycles are first cut by its own geometry (the straightest
    reading of every crossing). Then every cut whose runner-up was nearly as
    good (score margin below ``opt.crossing_margin``) is tried the other way:
    the cut is banned, the view's tree rebuilt and matched against the other
    view; the change is kept when the matching gets cheaper, i.e. when the
    other view agrees better with that reading of the crossing.

    With ``depth_map`` that map is used as it is (no fit); otherwise the map is
    fitted (:func:`fit_and_match`, ``tried`` receiving its candidates).

    Returns ``(tree_cc, tree_lateral, depth_map, matching, decided)``; ``decided``
    counts the crossings the other view overturned.
    """
    opt = opt or MatchOptions()
    ta, tb = tree_with_cuts(vga), tree_with_cuts(vgb)
    if depth_map is not None:
        f, m = depth_map, match_trees(ta, tb, depth_map, opt)
    else:
        f, m = fit_and_match(ta, tb, opt, tried)
    best = m.cost
    state = {"a": (frozenset(), frozenset()), "b": (frozenset(), frozenset())}
    cuts_tried: set = set()
    decided = 0
    for _ in range(opt.crossing_rounds):
        improved = False
        for which in ("a", "b"):
            vg = vga if which == "a" else vgb
            cur = ta if which == "a" else tb
            trials = [t for t in nearly_tied_cuts(cur, opt.crossing_margin) if (which, t[1], t[2]) not in cuts_tried]
            for gap, sig, alt in trials[: opt.crossing_tries]:
                cuts_tried.add((which, sig, alt))
                banned, forced = state[which]
                t2 = tree_with_cuts(vg, banned | {sig}, forced | {alt})
                m2 = match_trees(t2, tb, f, opt) if which == "a" else match_trees(ta, t2, f, opt)
                if m2.cost < best - opt.crossing_gain:
                    state[which] = (banned | {sig}, forced | {alt})
                    best = m2.cost
                    m = m2
                    decided += 1
                    improved = True
                    if which == "a":
                        ta = t2
                    else:
                        tb = t2
                    break
        if not improved:
            break
    ta.cut_state, tb.cut_state = state["a"], state["b"]
    return ta, tb, f, m, decided
