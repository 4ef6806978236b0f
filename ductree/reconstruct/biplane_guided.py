"""Read a tangled ductogram view guided by the clean one; score readings by how well they explain both masks.

Where ducts run alongside each other for several mm in one projection they
merge into one blob of contrast, several ducts cross in one place, forks hide
in overlaps: that view's own skeleton cannot be cut into the right 2D tree.
The other view, seen at right angles, usually shows the same ducts apart.

**Guided reading** (:func:`guided_reading`). One view's 2D tree (the *guide*)
gives the topology. For each guide branch, parents first, its coordinate in
the *other* view (``z`` when the CC guides, ``x`` when the lateral guides) is
tracked along the other view's **mask**, not its cut tree, at equal depth
after the depth map (the epipolar constraint). A Viterbi programme over the
branch's samples (``sample_mm`` apart) chooses the whole track at once; the
states at each sample are positions on the other view's line of equal depth:

- the centre of every run of contrast on that line, and, in a run wider than
  the duct (ducts merged side by side, a crossing), the positions one guide
  radius in from each edge and a grid between them;
- a duct of guide radius ``r`` centred at a position whose distance to the
  background ``e`` is below ``r`` would stick out of the contrast: it costs
  ``((1 - e / r) / stick_out)**2`` per mm (this is also the width agreement:
  a round duct is about equally wide in both views); a position deeper in a
  blob (``e > r``) costs ``inside_cost * min(e / r - 1, 1)`` per mm (a duct
  there is hidden behind others: possible, not seen);
- moving costs ``(du / (jump0 + slope * ds))**2``; a position another branch
  already follows costs ``used_cost`` per mm (past the first mm of the branch,
  where siblings share their fork); no contrast on the line (``hold``) costs
  ``hold_cost`` per mm and keeps the value (the node is then flagged
  single-view).

A child starts at its parent's coordinate at the fork. Parts of the other
view that no guide branch explains (a branch hidden behind another in the
guide view) are added as one-view branches with the single-view machinery of
:mod:`ductree.reconstruct.biplane_match` (flagged ``single_view``, with
``pos_sigma_mm``), never dropped.

**Self-consistency** (:func:`consistency`). A 3D tree projected into each view
should cover that view's skeleton (every duct of the mask explained), lie
inside its contrast (a duct drawn outside the mask is wrong) and need few
branches seen in one view only (a wrong reading needs extra one-view ducts
to explain what it missed). The score is computed from the masks only and
is used to choose between the matched reading and the two guided ones.

Coordinates: view ``(u, d)`` mm from the nipple as in
:mod:`ductree.reconstruct.biplane_graph`; 3D BF mm.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .biplane_graph import ViewGraph, ViewTree
from .biplane_match import (Built, DepthMap, MatchOptions, _Acc, _combine_radius, _place_single, _resample,
                            _resample_rows, _Track)

__all__ = ["GuidedOptions", "MaskLines", "Reading", "choose_reading", "consistency", "guided_reading",
           "mask_lines", "project", "track_in_mask"]


@dataclass(frozen=True)
class GuidedOptions:
    """Tuning of the guided reading and of the self-consistency score (mm; costs per mm of branch)."""

    sample_mm: float = 0.15          #: samples along each guide branch
    jump0_mm: float = 0.05           #: leaving the predicted position costs (du / (jump0 + curve * ds))**2 ...
    curve: float = 0.8
    slope_held: float = 1.0          #: ... the scale growing by this per mm held without contrast
    free_start_mm: float = 1.0       #: a child's direction is free at its fork, settling over this length
    end_miss_cost: float = 3.0       #: a guide tip whose track ends where the other view shows no end
    fork_miss_cost: float = 2.0      #: a guide fork whose track ends where the other view shows no junction
    stick_out: float = 0.25          #: a duct sticking out of the contrast by this fraction of its radius: 1/mm
    max_fit_cost: float = 4.0        #: ... capped (a guide duct widened by an overlap still prefers contrast)
    inside_cost: float = 0.6         #: a position deeper in a blob than the duct's radius (hidden, not seen)
    hold_cost: float = 6.0           #: no contrast on the line of equal depth
    used_cost: float = 0.8           #: on a position another branch already follows ...
    used_after_mm: float = 1.0       #: ... past this far along the branch (siblings share their fork)
    interior_step: float = 1.0       #: grid spacing inside a wide run (x guide radius) ...
    max_interior: int = 8            #: ... at most this many positions per run
    explain_tol_mm: float = 0.3      #: a skeleton point within its radius + this of the tree is explained
    hidden_min_mm: float = 1.5       #: unexplained stretches of the other view at least this long ...
    hidden_fraction: float = 0.5     #: ... and this fraction of their branch are added as one-view branches
    inside_sigma_mm: float = 0.3     #: uncertainty of a coordinate inside a blob (not seen on its own)
    hold_sigma_per_mm: float = 0.5   #: uncertainty growth per mm held without contrast
    passes: int = 2                  #: sweeps over the branches (from the second on, every other branch is "used")
    feature_tol_mm: float = 0.7      #: a fork / tip agrees with a skeleton junction / end this close (+ radius)
    single_weight: float = 0.5       #: weight of the one-view fraction in the self-consistency score
    feature_weight: float = 1.0      #: ... and of the forks and tips not confirmed in the views
    choose: bool = False             #: also read guided by each view and keep the most consistent reading
    switch_margin: float = 0.1       #: a guided reading replaces the matched one only if this much better


# --------------------------------------------------------------------------- the other view as lines of equal depth

class MaskLines:
    """A view's mask cut into lines of equal depth: runs of contrast per line and the distance to background.

    Built from a :class:`~ductree.reconstruct.biplane_graph.ViewGraph` (its mask crop and distance
    transform). Line ``i`` is the pixel line at depth ``d = sd * (i - nd)``; position ``j`` along it is
    at ``u = su * (j - nu)`` (mm).
    """

    def __init__(self, vg: ViewGraph) -> None:
        v = vg.view
        J = v.axes
        da = v.depth_axis
        ua = 1 - da
        m, e = vg.mask, vg.edt_px
        A = m if da == 0 else m.T
        E = e if da == 0 else e.T
        nip = np.asarray(v.nipple_px, dtype=float) - vg.off
        self.sd, self.su = float(J[1, da]), float(J[0, ua])
        self.nd, self.nu = float(nip[da]), float(nip[ua])
        self.px = float(vg.px)
        self.E = np.ascontiguousarray(E, dtype=np.float32) * np.float32(self.px)    # mm
        H, W = A.shape
        self.shape = (H, W)
        P = np.zeros((H, W + 2), dtype=np.int8)
        P[:, 1:-1] = A
        D = np.diff(P, axis=1)
        sr, sc = np.nonzero(D == 1)
        _, ec = np.nonzero(D == -1)
        self.run_lo = sc.astype(np.int64)
        self.run_hi = ec.astype(np.int64) - 1
        self.rowptr = np.searchsorted(sr, np.arange(H + 1)).astype(np.int64)

    def line_of(self, d: np.ndarray) -> np.ndarray:
        return np.rint(np.asarray(d, dtype=float) / self.sd + self.nd).astype(np.int64)

    def u_of(self, j: np.ndarray) -> np.ndarray:
        return self.su * (np.asarray(j, dtype=float) - self.nu)

    def j_of(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(u, dtype=float) / self.su + self.nu

    def edt_at(self, u: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Distance to the background (mm) at view points ``(u, d)``; 0 outside the mask or the crop."""
        i = self.line_of(d)
        j = np.rint(self.j_of(u)).astype(np.int64)
        H, W = self.shape
        ok = (i >= 0) & (i < H) & (j >= 0) & (j < W)
        out = np.zeros(len(i), dtype=float)
        out[ok] = self.E[i[ok], j[ok]]
        return out

    def candidates(self, d: np.ndarray, r: np.ndarray, opt: GuidedOptions) -> tuple[np.ndarray, ...]:
        """Positions on the lines of equal depth ``d`` (K,) for a duct of radius ``r`` (K,).

        Returns ``step`` (which sample), ``u`` (mm) and ``e`` (distance to background, mm) of every
        candidate, grouped by step in order.
        """
        H, W = self.shape
        i = self.line_of(d)
        ok = (i >= 0) & (i < H)
        ic = np.clip(i, 0, H - 1)
        cnt = np.where(ok, self.rowptr[ic + 1] - self.rowptr[ic], 0)
        K = len(d)
        step = np.repeat(np.arange(K), cnt)
        first = np.repeat(self.rowptr[ic], cnt)
        within = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        ridx = first + within
        lo = self.run_lo[ridx].astype(float)
        hi = self.run_hi[ridx].astype(float)
        rp = r[step] / self.px                          # guide radius in pixels
        inner = (hi - lo) - 2.0 * rp                    # room for the centre inside the run
        n_in = np.where(inner > 1.0, np.minimum(opt.max_interior,
                                                np.ceil(inner / np.maximum(opt.interior_step * rp, 1.0)) + 1), 0)
        n_in = n_in.astype(np.int64)
        # the run's centre, then n_in positions from lo + rp to hi - rp
        reps = 1 + n_in
        c_step = np.repeat(step, reps)
        c_run = np.repeat(np.arange(len(step)), reps)
        k = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        t = np.where(n_in[c_run] > 1, (k - 1) / np.maximum(n_in[c_run] - 1, 1), 0.5)
        j = np.where(k == 0, 0.5 * (lo[c_run] + hi[c_run]), lo[c_run] + rp[c_run] + t * np.maximum(inner[c_run], 0.0))
        jr = np.clip(np.rint(j).astype(np.int64), 0, W - 1)
        e = self.E[ic[c_step], jr].astype(float)
        return c_step, self.u_of(j), e


def mask_lines(vg: ViewGraph) -> MaskLines:
    """The view's :class:`MaskLines` (cached on the view graph)."""
    ml = getattr(vg, "_mask_lines", None)
    if ml is None:
        ml = MaskLines(vg)
        vg._mask_lines = ml
    return ml


# --------------------------------------------------------------------------- tracking one branch

def track_in_mask(lines: MaskLines, d_other: np.ndarray, radius: np.ndarray, s: np.ndarray, v0: float,
                  used: "cKDTree | None" = None, used_r: np.ndarray | None = None,
                  opt: GuidedOptions | None = None, g0: float = 0.0,
                  end_cost=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The other view's coordinate along one guide branch, chosen jointly over its samples (Viterbi).

    Parameters
    ----------
    lines : MaskLines
        The other view.
    d_other, radius, s : (K,) arrays
        Per sample of the guide branch: its depth in the other view's frame (mm), its radius (mm) and
        its arc length (mm). Sample 0 is the start (the parent's fork), fixed at ``v0``.
    used, used_r : cKDTree of (u, d) points of branches already tracked in the other view, and their radii.

    Returns
    -------
    u, state, e, cost : (K,) coordinates (mm); per sample 0 held (no contrast), 1 on contrast; the
        distance to background there (mm); the total cost of the track.
    """
    opt = opt or GuidedOptions()
    K = len(d_other)
    u = np.full(K, float(v0))
    state = np.ones(K, dtype=np.int8)
    e_out = np.full(K, np.nan)
    if K <= 1:
        return u, state, e_out, 0.0
    c_step, c_u, c_e = lines.candidates(d_other, radius, opt)
    r_c = radius[c_step]
    q = c_e / np.maximum(r_c, 1e-3)
    fit = np.where(q < 1.0, np.minimum(((1.0 - q) / opt.stick_out) ** 2, opt.max_fit_cost),
                   opt.inside_cost * np.minimum(q - 1.0, 1.0))
    if used is not None and len(c_u):
        dist, idx = used.query(np.column_stack([c_u, d_other[c_step]]), k=1)
        near = np.isfinite(dist) & (dist < np.maximum(r_c, used_r[np.minimum(idx, len(used_r) - 1)]))
        ramp = np.clip(s[c_step] - opt.used_after_mm, 0.0, 1.0)
        fit = fit + opt.used_cost * near * ramp
    ds = np.maximum(np.diff(s), 1e-3)
    if end_cost is not None and len(c_u):
        last = c_step == K - 1
        fit = fit.copy()
        fit[last] += end_cost(c_u[last], d_other[K - 1], float(radius[K - 1])) / max(float(ds[-1]), 1e-3)
    bounds = np.searchsorted(c_step, np.arange(K + 1))

    def hold_end(k: int, v: float) -> float:
        """The end's feature cost applies to a track that ends held as well."""
        if end_cost is None or k != K - 1:
            return 0.0
        return float(end_cost(np.array([v]), d_other[K - 1], float(radius[K - 1]))[0])

    V = np.array([float(v0)])
    G = np.array([float(g0)])          # each state's slope du/ds (momentum)
    H = np.array([0.0])                # arc held without contrast before each state
    C = np.array([0.0])
    back: list[np.ndarray] = []
    vals: list[np.ndarray] = [V]
    for k in range(1, K):
        a, b = bounds[k], bounds[k + 1]
        cu = c_u[a:b]
        dk = ds[k - 1]
        free = min(1.0, 0.25 + s[k] / max(opt.free_start_mm, 1e-3))    # a child's direction is free at its fork
        scale = (opt.jump0_mm + opt.curve * dk + opt.slope_held * H) / free
        pred = V + G * dk
        h = int(np.argmin(C))
        v_h = float(V[h])
        if b > a:
            tot = C[:, None] + ((cu[None, :] - pred[:, None]) / scale[:, None]) ** 2
            arg = np.argmin(tot, axis=0)
            newC = tot[arg, np.arange(b - a)] + dk * fit[a:b]
            g_new = 0.5 * G[arg] + 0.5 * (cu - V[arg]) / (dk + H[arg])
            V = np.concatenate([cu, [V[h]]])
            G = np.concatenate([g_new, [G[h]]])
            H = np.concatenate([np.zeros(b - a), [H[h] + dk]])
            C = np.concatenate([newC, [C[h] + opt.hold_cost * dk + hold_end(k, v_h)]])
            back.append(np.concatenate([arg, [h]]))
        else:
            V, G, H = np.array([V[h]]), np.array([G[h]]), np.array([H[h] + dk])
            C = np.array([C[h] + opt.hold_cost * dk + hold_end(k, v_h)])
            back.append(np.array([h]))
        vals.append(V)
    j = int(np.argmin(C))
    cost = float(C[j])
    for k in range(K - 1, 0, -1):
        u[k] = vals[k][j]
        n_c = bounds[k + 1] - bounds[k]
        if j < n_c:
            e_out[k] = c_e[bounds[k] + j]
        else:
            state[k] = 0
        j = int(back[k - 1][j])
    return u, state, e_out, cost


# --------------------------------------------------------------------------- a whole guided reading

@dataclass
class Reading:
    """One reading of a ductogram pair: the 3D rows and how it was read."""

    name: str                        #: "matched", "guided_by_cc" or "guided_by_lateral"
    built: Built
    info: dict


def _finish(acc: _Acc) -> Built:
    return Built(pos=np.vstack(acc.pos), radius=np.asarray(acc.rad), parent=np.asarray(acc.par, dtype=np.int64),
                 single_view=np.asarray(acc.single), view=acc.view, sigma=np.asarray(acc.sigma),
                 cc_ud=np.asarray(acc.cc, dtype=float).reshape(-1, 2),
                 lat_ud=np.asarray(acc.lat, dtype=float).reshape(-1, 2),
                 pair_of=np.asarray(acc.pair, dtype=np.int64), depth_residual=np.asarray(acc.res))


def guided_reading(guide: ViewTree, other_vg: ViewGraph, other_tree: ViewTree, f: DepthMap, guide_kind: str,
                   mopt: MatchOptions | None = None, opt: GuidedOptions | None = None) -> Reading:
    """Read the other view along the guide view's tree (see the module docs).

    ``guide_kind`` is ``"cc"`` or ``"lateral"`` (the guide's view); ``f`` maps lateral depth to CC depth;
    ``other_tree`` is the other view's own 2D tree, used only for the parts no guide branch explains.
    """
    mopt = mopt or MatchOptions()
    opt = opt or GuidedOptions()
    lines = mask_lines(other_vg)
    g_cc = guide_kind == "cc"
    other_kind = "lateral" if g_cc else "cc"

    def to_other(d_g: np.ndarray) -> np.ndarray:
        return np.asarray(f.inverse(d_g) if g_cc else f(d_g), dtype=float)

    def point(ug, dg, uo, do):
        y = 0.5 * (dg + do)
        return (ug, y, uo) if g_cc else (uo, y, ug)

    acc = _Acc()
    ug0, dg0 = guide.ud[0]
    uo0, do0 = float(other_tree.ud[0, 0]), float(to_other(np.array([dg0]))[0])
    g_ud, o_ud = (ug0, dg0), (uo0, do0)
    root = acc.add(point(ug0, dg0, uo0, do0), _combine_radius(np.array([guide.r[0]]), np.array([other_tree.r[0]]))[0],
                   -1, cc=g_ud if g_cc else o_ud, lat=o_ud if g_cc else g_ud)
    end_at = {0: root}
    val_at = {0: uo0}
    slope_at = {0: 0.0}
    feats = _skeleton_features(other_vg)
    kd_feat = {k: (cKDTree(v) if len(v) else None) for k, v in feats.items()}

    def feature_cost(kind: str, weight: float):
        def cost(cu: np.ndarray, d: float, r: float) -> np.ndarray:
            kd_ = kd_feat[kind]
            if kd_ is None:
                return np.full(len(cu), weight)
            dist, _ = kd_.query(np.column_stack([cu, np.full(len(cu), d)]), k=1)
            return weight * np.clip((dist - r - 0.3) / 1.0, 0.0, 1.0)
        return cost
    tip_cost, fork_cost = feature_cost("tip", opt.end_miss_cost), feature_cost("fork", opt.fork_miss_cost)
    # samples of every guide branch
    samp: dict[int, tuple] = {}
    for i in range(1, guide.n):
        poly, rad = guide.edge_ud[i], guide.edge_r[i]
        if len(poly) >= 2:
            P, R, S, _ = _resample(poly, rad, opt.sample_mm, np.asarray([len(poly) - 1], dtype=np.int64))
            samp[i] = (P, R, S, to_other(P[:, 1]))
    tracks: dict[int, tuple] = {}
    for sweep in range(max(1, opt.passes)):
        for i in range(1, guide.n):
            p = int(guide.parent[i])
            if i not in samp:
                val_at[i], slope_at[i] = val_at[p], slope_at[p]
                continue
            P, R, S, d_o = samp[i]
            # positions followed by the other branches (all of them after the first sweep)
            others = [t[4] for k, t in tracks.items() if k != i]
            if others:
                allp = np.vstack(others)
                kd, kd_r = (cKDTree(allp[:, :2]), allp[:, 2]) if len(allp) else (None, None)
            else:
                kd, kd_r = None, None
            tip = len(guide.children[i]) == 0
            u_o, st, e, cost = track_in_mask(lines, d_o, R, S, val_at[p], kd, kd_r, opt, g0=slope_at[p],
                                             end_cost=tip_cost if tip else fork_cost)
            keep = st == 1
            tracks[i] = (u_o, st, e, cost, np.column_stack([u_o[keep], d_o[keep], R[keep]]))
            val_at[i] = float(u_o[-1])
            q = max(0, len(S) - 5)
            slope_at[i] = float((u_o[-1] - u_o[q]) / max(S[-1] - S[q], 1e-3))
    total_cost = held_mm = inside_mm = length_mm = 0.0
    for i in range(1, guide.n):
        p = int(guide.parent[i])
        if i not in samp:
            end_at[i] = end_at[p]
            continue
        P, R, S, d_o = samp[i]
        u_o, st, e, cost, _ = tracks[i]
        total_cost += cost
        ds = np.diff(S, prepend=S[0])
        held_mm += float(ds[st == 0].sum())
        inside = (st == 1) & (e > 1.5 * R)
        inside_mm += float(ds[inside].sum())
        length_mm += float(S[-1])
        since = np.zeros(len(S))
        run = 0.0
        for k in range(1, len(S)):
            run = run + ds[k] if st[k] == 0 else 0.0
            since[k] = run
        prev = end_at[p]
        for r in _resample_rows(S, mopt.node_spacing_mm, [])[1:]:
            seen = st[r] == 1
            r_other = e[r] if seen and 0.6 * R[r] <= e[r] <= 1.6 * R[r] else R[r]
            rr = float(_combine_radius(np.array([R[r]]), np.array([r_other]))[0])
            gu, ou = (float(P[r, 0]), float(P[r, 1])), (float(u_o[r]), float(d_o[r]))
            sig = 0.0 if seen and not inside[r] else (opt.inside_sigma_mm if seen else
                                                      mopt.single_sigma0_mm + opt.hold_sigma_per_mm * since[r])
            prev = acc.add(point(P[r, 0], P[r, 1], u_o[r], d_o[r]), rr, prev, single=not seen,
                           view="both" if seen else guide_kind, sigma=sig,
                           cc=gu if g_cc else ou, lat=ou if g_cc else gu)
        end_at[i] = prev
    # parts of the other view no guide branch explains: branches hidden in the guide view
    hidden = _add_hidden(acc, guide, other_tree, f, g_cc, other_kind, mopt, opt)
    b = _finish(acc)
    info = {"guide": guide_kind, "track_cost": round(total_cost, 3), "length_mm": round(length_mm, 2),
            "held_mm": round(held_mm, 2), "inside_blob_mm": round(inside_mm, 2),
            "hidden_branches": len(hidden), "hidden_mm": round(sum(h for h in hidden), 2)}
    return Reading(name=f"guided_by_{guide_kind}", built=b, info=info)


def _explained(other_tree: ViewTree, coords: np.ndarray, radius: np.ndarray, tol: float,
               step: float = 0.1) -> list[np.ndarray]:
    """Per node of the other view's tree: which samples of its incoming centreline the tree explains."""
    ok = np.all(np.isfinite(coords), axis=1)
    kd = cKDTree(coords[ok]) if ok.any() else None
    rad = radius[ok]
    out: list[np.ndarray] = [np.zeros(0, dtype=bool)]
    for n in range(1, other_tree.n):
        e = other_tree.edge_ud[n]
        if len(e) < 2 or kd is None:
            out.append(np.zeros(len(e), dtype=bool))
            continue
        dist, idx = kd.query(e, k=1)
        out.append(dist <= np.maximum(other_tree.edge_r[n], rad[idx]) + tol)
    return out


def _add_hidden(acc: _Acc, guide: ViewTree, other_tree: ViewTree, f: DepthMap, g_cc: bool, other_kind: str,
                mopt: MatchOptions, opt: GuidedOptions) -> list[float]:
    """Add the other view's unexplained stretches as one-view branches; return their lengths (mm)."""
    coords = np.asarray(acc.lat if g_cc else acc.cc, dtype=float).reshape(-1, 2)
    expl = _explained(other_tree, coords, np.asarray(acc.rad), opt.explain_tol_mm)
    n = other_tree.n
    hidden = np.zeros(n, dtype=bool)
    start = np.zeros(n, dtype=np.int64)
    for k in range(1, n):
        e = other_tree.edge_ud[k]
        if len(e) < 2:
            continue
        seg = np.linalg.norm(np.diff(e, axis=0), axis=1)
        w = np.concatenate([[0.0], seg])
        un = ~expl[k]
        L = float(w.sum())
        lost = float(w[un].sum())
        if lost >= opt.hidden_min_mm and lost >= opt.hidden_fraction * L:
            hidden[k] = True
            first = int(np.argmax(un))
            start[k] = max(first - 1, 0)
    if not hidden.any():
        return []
    t2 = copy.copy(other_tree)
    t2.edge_ud = list(other_tree.edge_ud)
    t2.edge_r = list(other_tree.edge_r)
    t2.children = [[c for c in ch if hidden[c]] for ch in other_tree.children]
    for k in np.flatnonzero(hidden):
        t2.edge_ud[k] = other_tree.edge_ud[k][start[k]:]
        t2.edge_r[k] = other_tree.edge_r[k][start[k]:]
    ok = np.all(np.isfinite(coords), axis=1)
    rows = np.flatnonzero(ok)
    kd = cKDTree(coords[rows])
    track = _Track(guide, f, not g_cc, mopt.sample_mm, set(range(guide.n)))
    out = []
    for k in np.flatnonzero(hidden):
        p = int(other_tree.parent[k])
        if p > 0 and hidden[p]:
            continue
        _, idx = kd.query(t2.edge_ud[k][0])
        at = int(rows[int(idx)])
        before = len(acc.pos)
        _place_single(acc, t2, int(k), at, other_kind, f, mopt, track)
        out.append(float(sum(np.linalg.norm(np.diff(t2.edge_ud[c], axis=0), axis=1).sum()
                             for c in t2.subtree(int(k)) if len(t2.edge_ud[c]) > 1)))
        del before
    return out


def _skeleton_features(vg: ViewGraph) -> dict:
    """(u, d) mm of the junctions (degree >= 3) and ends (degree 1) of the view's whole skeleton."""
    cached = getattr(vg, "_skeleton_features", None)
    if cached is None:
        g = vg.g
        out = {}
        for kind, sel in (("fork", lambda k: k >= 3), ("tip", lambda k: k == 1)):
            rc = [g.nodes[n]["rc"] for n in g.nodes if sel(g.deg(n))]
            out[kind] = vg.view.to_mm(np.vstack(rc) + vg.off) if rc else np.zeros((0, 2))
        vg._skeleton_features = cached = out
    return cached


# --------------------------------------------------------------------------- self-consistency

def _skeleton_samples(vg: ViewGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The view's whole skeleton (cycles kept): points (u, d) mm, radii mm and the length each stands for."""
    cached = getattr(vg, "_skeleton_samples", None)
    if cached is not None:
        return cached
    pts, rad, w = [], [], []
    for d in vg.g.edges.values():
        rc = d["rc"][::2] if len(d["rc"]) > 4 else d["rc"]
        r = d["r"][::2] if len(d["r"]) > 4 else d["r"]
        seg = np.linalg.norm(np.diff(rc, axis=0), axis=1)
        ww = np.concatenate([[0.0], seg]) if len(rc) > 1 else np.zeros(1)
        pts.append(rc)
        rad.append(r)
        w.append(ww)
    P = vg.view.to_mm(np.vstack(pts) + vg.off) if pts else np.zeros((0, 2))
    out = (P, np.concatenate(rad) if rad else np.zeros(0), (np.concatenate(w) * vg.px) if w else np.zeros(0))
    vg._skeleton_samples = out
    return out


def project(b: Built, f: DepthMap) -> tuple[np.ndarray, np.ndarray]:
    """The 3D rows seen in the CC ``(x, d_cc)`` and in the lateral ``(z, d_lat)`` (mm), given the depth map.

    The row's depth ``y`` is the mean of the two views' depths, ``y = (f(d_lat) + d_lat) / 2``.
    """
    g = np.linspace(-20.0, 260.0, 5601)
    yg = 0.5 * (np.asarray(f(g), dtype=float) + g)
    d_lat = np.interp(b.pos[:, 1], yg, g)
    d_cc = np.asarray(f(d_lat), dtype=float)
    return np.column_stack([b.pos[:, 0], d_cc]), np.column_stack([b.pos[:, 2], d_lat])


def consistency(b: Built, vga: ViewGraph, vgb: ViewGraph, f: DepthMap, opt: GuidedOptions | None = None) -> dict:
    """How well the 3D rows explain both masks (see the module docs); lower ``score`` is better.

    ``miss_*``: fraction of the view's skeleton length farther than its radius (+ ``explain_tol_mm`` + half
    a node spacing) from the projected tree; ``out_*``: fraction of the projected nodes whose centre lies
    less than half their radius inside the contrast; ``single``: fraction of nodes seen in one view only.
    """
    opt = opt or GuidedOptions()
    pc, pl = project(b, f)
    res = {}
    nkids = np.bincount(b.parent[b.parent >= 0], minlength=len(b.parent))
    forks = np.flatnonzero(nkids >= 2)
    tips = np.flatnonzero(nkids == 0)
    for key, vg, pj in (("cc", vga, pc), ("lateral", vgb, pl)):
        P, R, W = _skeleton_samples(vg)
        kd = cKDTree(pj)
        dist, idx = kd.query(P, k=1)
        miss = dist > R + opt.explain_tol_mm + 0.3
        res[f"miss_{key}"] = float(W[miss].sum() / max(W.sum(), 1e-9))
        e = mask_lines(vg).edt_at(pj[:, 0], pj[:, 1])
        res[f"out_{key}"] = float(np.mean(e < 0.5 * b.radius))
        # forks and tips of the tree where the view's skeleton has a junction / an end nearby
        feat = _skeleton_features(vg)
        for kind, rows in (("fork", forks), ("tip", tips)):
            pts = feat[kind]
            if len(rows) == 0:
                res[f"{kind}_{key}"] = 1.0
                continue
            if len(pts) == 0:
                res[f"{kind}_{key}"] = 0.0
                continue
            dd, _ = cKDTree(pts).query(pj[rows], k=1)
            res[f"{kind}_{key}"] = float(np.mean(dd <= b.radius[rows] + opt.feature_tol_mm))
    res["single"] = float(np.mean(b.single_view))
    res["features"] = 0.25 * (res["fork_cc"] + res["fork_lateral"] + res["tip_cc"] + res["tip_lateral"])
    res["score"] = (res["miss_cc"] + res["miss_lateral"] + res["out_cc"] + res["out_lateral"]
                    + opt.single_weight * res["single"] + opt.feature_weight * (1.0 - res["features"]))
    return {k: round(v, 4) for k, v in res.items()}


def choose_reading(matched: Built, ta: ViewTree, tb: ViewTree, vga: ViewGraph, vgb: ViewGraph, f: DepthMap,
                   mopt: MatchOptions | None = None, opt: GuidedOptions | None = None) -> tuple[Built, dict]:
    """The reading to keep and why: the matched one, or (``opt.choose``) a guided one that explains the
    masks better by ``opt.switch_margin`` (:func:`consistency`, masks only). Returns the rows and a
    JSON-ready record (every candidate's scores, the one chosen, the reason)."""
    opt = opt or GuidedOptions()
    cands = [Reading("matched", matched, {})]
    if opt.choose:
        cands.append(guided_reading(ta, vgb, tb, f, "cc", mopt, opt))
        cands.append(guided_reading(tb, vga, ta, f, "lateral", mopt, opt))
    scores = {r.name: consistency(r.built, vga, vgb, f, opt) for r in cands}
    best = cands[0]
    for r in cands[1:]:
        if scores[r.name]["score"] < scores[best.name]["score"] - (opt.switch_margin if best is cands[0] else 0.0):
            best = r
    if len(cands) == 1:
        why = "matched reading only (guided readings not tried)"
    elif best is cands[0]:
        why = (f"no guided reading explains the masks better by {opt.switch_margin} (scores "
               + ", ".join(f"{r.name} {scores[r.name]['score']:.3f}" for r in cands) + ")")
    else:
        why = (f"{best.name} explains the masks better (score {scores[best.name]['score']:.3f} vs matched "
               f"{scores['matched']['score']:.3f}, margin {opt.switch_margin})")
    record = {"chosen": best.name, "why": why, "switch_margin": opt.switch_margin,
              "candidates": {r.name: {**scores[r.name], **r.info} for r in cands}}
    return best.built, record
