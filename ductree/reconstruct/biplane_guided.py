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
- leaving the predicted position (the previous one moved on along the
  state's own slope: momentum) costs ``(du / scale)**2`` with
  ``scale = jump0 + curve * ds`` (larger after samples held without
  contrast, and free over the first mm of a child, whose direction at its
  fork is unknown); no contrast on the line (``hold``) costs ``hold_cost``
  per mm and keeps the value (the node is then flagged single-view);
- the branch's last sample costs ``end_miss_cost`` (a tip) or
  ``fork_miss_cost`` (a fork) per mm of distance beyond ``r + 0.3`` mm from
  the nearest end / junction of the other view's skeleton.

**The subtree decides** which duct of the other view a child follows where
several part: a backward Viterbi run of every branch, deepest first, gives
its cost, with everything below it, for each position at its fork (a tree
DP); the forward run of each branch then costs its end by that. Siblings
whose tracks share a duct of the other view for ``overlap_min_mm`` are
tracked one after the other, each paying ``overlap_cost`` per mm on the
ducts its earlier siblings follow, in the cheaper order; in a second sweep
every branch pays ``used_cost`` per mm on the positions of all other
branches (never more than holding without contrast). A stretch of at least
``behind_min_mm`` lying within another branch's duct in the other view (no
edge of its own there) is flagged seen in one view only (``pos_sigma_mm``
1.5, as a hidden branch of the matched reading).

A child starts at its parent's coordinate at the fork. Parts of the other
view that no guide branch explains (a branch hidden behind another in the
guide view) are added as one-view branches with the single-view machinery of
:mod:`ductree.reconstruct.biplane_match` (flagged ``single_view``, with
``pos_sigma_mm``), never dropped; so is the unexplained end of a terminal duct
of the other view, however short (``hidden_tip_min_mm``): a duct the tree
stops short of ends there, and a cut-off read at that end must lie on a leaf.

**Self-consistency** (:func:`consistency`, masks only). A 3D tree projected
into each view should cover that view's skeleton (``miss``: the skeleton
length farther than its radius + 0.6 mm from the projected tree), lie inside
its contrast (``out``: projected nodes less than half their radius inside)
and need few nodes seen in one view only (``single``: a wrong reading needs
extra one-view ducts to explain what it missed). ``score = miss_cc +
miss_lateral + out_cc + out_lateral + single`` (fork/tip agreement with the
skeletons and the tree's length are recorded, and count only in the last pick
below). :func:`choose_reading` keeps the matched
reading unless a guided one scores ``switch_margin`` lower; every candidate's
scores and the reason are recorded (``tree.graph["biplane"]["reading"]``).
Guided readings are tried with ``GuidedOptions(choose=True)`` (the default;
on the 2000 px pair they add about 0.35 s CPU).

**Crossings re-read by the masks** (``recut_tries``). Each view's crossings
are cut by its own geometry and the matching may overturn a nearly tied cut
(:func:`ductree.reconstruct.biplane_match.match_views`); the matching cost
judges depths only. The guide of the better-scoring guided reading then has
its most nearly tied cut (runner-up within ``recut_margin``) read the other
way, guided again, and kept if its self-consistency score is lower: a duct
continued through the wrong arm of an X leaves contrast unexplained or runs
outside it in the other view. On the benchmark seeds 1000-1019 the mean 3D
error goes 0.657 -> 0.636 mm (held-out 5000-5019 0.734 -> 0.726, 7000-7019
0.830 -> 0.812), bifurcations right 63.6 -> 66.8%. Branch samples and
bottom-up subtree costs are remembered across readings of the same views and
map (keyed by content), so the re-read guide costs only what changed.

With ``recut_tries`` above 1, each of that many most nearly tied cuts is
re-read on its own and the best-scoring reading is kept. Every cut within
``recut_margin`` re-read (``recut_tries=99``) lowers the mean error over twelve
20-case sets (seeds 1000-7000, 9000, 11000-14000) from 0.596 to 0.567 mm, but
takes 2.8 times as long on the benchmark's 2000 px pair (many crossings), so
the default re-reads one; the three most tied give 0.583 mm at 1.13 times.

**Forks seen too deep, moved back** (:func:`reread_forks`). Two children
leaving a fork at a small angle in one projection run on top of each other
there, and the skeleton forks only where they part. On seeds 1000-1019, 139
of the phantoms' 557 forks (both views; terminal branches under 2 mm left
out) are seen more than 1 mm too deep, by 4.5 mm at the median (the fork
slack of the matching covers 16% of them). Guided by such a tree, the child
that parts first in the other view starts on its parent's duct there and
follows a wrong duct, and its own stretch before the guide's fork is left to
a one-view guess. A fork is never seen too shallow, so where the other view's
own tree forks 1-10 mm shallower on the parent's track
(:func:`late_fork_moves`), the guide's fork is moved back there
(:func:`~ductree.reconstruct.biplane_graph.fork_moved_back`: every child's
edge starts with the shared stretch) and the guide read again; the reading
is kept if it explains the masks better (``map_switch_margin``). Per fork the
shortest such move, at most ``fork_move_tries`` (3) of them, the shortest
first: each is one guided reading (about 0.06-0.1 s). With the simulator's
own depth map and the guide read from the masks, picking a guide by the score
gives 0.61 mm on seeds 1000-1019 and 0.64 mm on 3000-3019; with guide forks
moved back to any fork of the other view 1-10 mm shallower, one at a time
while the score drops, 0.51 and 0.47 mm (with the projected phantom as the
guide, 0.08 and 0.12 mm: the guide's 2D tree is where the rest of the error
is). In the full reconstruction, the mean 3D
error over 140 tuning cases (seeds 1000-7019) goes 0.518 -> 0.483 mm, over
260 other cases (9000, 11000-14000, 23000-30000) 0.520 -> 0.511 mm and over
80 fresh ones (35000-38000) 0.499 -> 0.496 mm. Every fork tried
(``fork_move_tries=99``) gives 0.500 mm on those 260 cases, at one guided
reading per fork proposed (3.0 on average over the tuning cases, up to 9;
6 on the benchmark's 2000 px pair, where three take about 10% of the time).

**The last pick** (:func:`scored_readings`, :func:`keep_best_scored`). Each
step above keeps a reading by the score and reads the next ones from it;
every reading scored on the way (about 9-14 per case: each map's matched and
guided readings, the re-cut, the map shifts, the fork moves) is remembered,
and at the end the one with the lowest :func:`final_score` is kept. That
score adds two terms the steps leave out: ``final_feature_weight`` (0.3) x
the share of the tree's forks and tips that no skeleton junction or end
confirms in the views, and ``final_length_weight`` (0.6) x the tree's 3D
length over the mean of the views' skeleton lengths. A wrong correspondence
zigzags in the coordinate that one view cannot see and leaves parts of the
other view to be added as guessed one-view branches; both lengthen the tree,
so of two readings that explain the masks equally, the shorter is the more
often right. Mean 3D error over 140 tuning cases (seeds 1000-7019) 0.485 ->
0.462 mm, over 260 other cases (9000, 11000-14000, 23000-30000) 0.511 ->
0.491 mm and over 80 fresh ones (35000-38000) 0.501 -> 0.483 mm; branch
recall does not drop (79.6 -> 79.8% on the 260). The same two terms in the
steps' own score instead give 0.484 mm on the tuning cases: the steps then
read on from other readings and flip more. The best of the readings scored,
picked by the truth, would be 0.381 mm, but no pick by the masks gets near
it: weights refitted on the tuning cases (14 terms) and a mask-coverage term
both lose on the other cases. The truth itself, scored the same way
(:func:`~ductree.reconstruct.biplane_match.built_from_tree`, and charged
the kept reading's share of one-view nodes, since it has none by
construction), beats the reading kept in 78% of the tuning cases and in 27
of the 30 over 0.7 mm: where the error is large, what limits is the readings
made (the search), more than the pick among them.
``GuidedOptions(final_pick=False)`` keeps the steps' choice.

**Spread between readings** (:func:`readings_spread`). Where the readings
agree, the kept one is usually right; where they put a duct in different
places, any of them may be wrong. Each kept row's distance to the farthest
other reading (``readings_spread_mm``) widens its position uncertainty
(:func:`ductree.reconstruct.biplane.tree_from_views`).

Coordinates: view ``(u, d)`` mm from the nipple as in
:mod:`ductree.reconstruct.biplane_graph`; 3D BF mm.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
from scipy.spatial import cKDTree

from .biplane_graph import ViewGraph, ViewTree, fork_moved_back
from .biplane_match import (Built, DepthMap, MatchOptions, _Acc, _combine_radius, _place_single, _resample,
                            _Track, nearly_tied_cuts, tree_with_cuts)
from .jit import compiled, failed

__all__ = ["GuidedOptions", "MaskLines", "Reading", "choose_reading", "consistency", "guided_reading",
           "mask_lines", "project", "readings_spread", "reread_shifted", "track_in_mask"]


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
    used_cost: float = 2.0           #: on a position another branch already follows ...
    used_after_mm: float = 1.0       #: ... past this far along the branch (siblings share their fork)
    interior_step: float = 1.0       #: grid spacing inside a wide run (x guide radius) ...
    max_interior: int = 8            #: ... at most this many positions per run
    explain_tol_mm: float = 0.3      #: a skeleton point within its radius + this of the tree is explained
    hidden_min_mm: float = 1.5       #: unexplained stretches of the other view at least this long ...
    hidden_fraction: float = 0.5     #: ... and this fraction of their branch are added as one-view branches
    hidden_tip_min_mm: float = 0.5   #: ... as is the unexplained end of a terminal duct at least this long
    behind_min_mm: float = 1.5       #: a branch on another's position for this long is hidden behind it there
    inside_sigma_mm: float = 0.3     #: uncertainty of a coordinate inside a blob (not seen on its own)
    hold_sigma_per_mm: float = 0.5   #: uncertainty growth per mm held without contrast
    subtree: bool = True             #: a branch's end is costed by the best reading of everything below it
    overlap_min_mm: float = 1.0      #: siblings sharing a duct this long are tracked one after the other
    overlap_cost: float = 8.0        #: a sibling on a duct of the other view another sibling follows, per mm
    passes: int = 2                  #: sweeps over the branches (from the second on, every other branch is "used")
    feature_tol_mm: float = 0.7      #: a fork / tip agrees with a skeleton junction / end this close (+ radius)
    single_weight: float = 1.0       #: weight of the one-view fraction in the self-consistency score
    feature_weight: float = 0.0      #: ... and of the forks and tips not confirmed in the views (recorded only)
    final_pick: bool = True            #: at the end, keep the best of every reading scored (:func:`keep_best_scored`)
    final_feature_weight: float = 0.3  #: the last pick among every reading scored (:func:`final_score`) adds this x
    #: the share of forks and tips not confirmed in the views ...
    final_length_weight: float = 0.6   #: ... and this x the tree's 3D length over the views' mean skeleton length
    choose: bool = True              #: also read guided by each view and keep the most consistent reading
    switch_margin: float = 0.02      #: a guided reading replaces the matched one only if this much better
    recut_tries: int = 1             #: the guide's nearly tied crossing cuts read the other way (each alone), at most this many
    recut_margin: float = 0.8        #: ... those whose runner-up scored within this of the cut made (view units)
    recut_gain: float = 0.0          #: ... kept when the self-consistency score drops by more than this
    recut_best_only: bool = True     #: ... for the guide whose reading scores better only (time)
    fork_move_tries: int = 3         #: forks of the kept guide moved back to an other-view fork, at most this many
    fork_move_min_mm: float = 1.0    #: ... that fork lies this much (depth) ...
    fork_move_max_mm: float = 10.0   #: ... to this much shallower than the guide's, on the parent's track
    fork_move_tol_mm: float = 0.5    #: ... within the duct's radius + this of the position tracked there


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
        nip = np.asarray(v.nipple_px, dtype=float) - vg.off
        self.sd, self.su = float(J[1, da]), float(J[0, ua])
        self.nd, self.nu = float(nip[da]), float(nip[ua])
        self.px = float(vg.px)
        self._edt = e                      # pixels, in the crop's own (row, col) order
        self._swap = da == 1
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

    def edt_mm(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Distance to the background (mm) at line ``i``, position ``j`` (pixels)."""
        v = self._edt[j, i] if self._swap else self._edt[i, j]
        return v.astype(float) * self.px

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
        out[ok] = self.edt_mm(i[ok], j[ok])
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
        # (thresholds a hair off the pixel grid: pixel-quantized widths must not flip with float noise)
        n_in = np.where(inner > 1.0 + 1e-6, np.minimum(
            opt.max_interior, np.ceil(inner / np.maximum(opt.interior_step * rp, 1.0) - 1e-6) + 1), 0)
        n_in = n_in.astype(np.int64)
        # the run's centre, then n_in positions from lo + rp to hi - rp
        reps = 1 + n_in
        c_step = np.repeat(step, reps)
        c_run = np.repeat(np.arange(len(step)), reps)
        k = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        t = np.where(n_in[c_run] > 1, (k - 1) / np.maximum(n_in[c_run] - 1, 1), 0.5)
        j = np.where(k == 0, 0.5 * (lo[c_run] + hi[c_run]), lo[c_run] + rp[c_run] + t * np.maximum(inner[c_run], 0.0))
        jr = np.clip(np.rint(j).astype(np.int64), 0, W - 1)
        e = self.edt_mm(ic[c_step], jr)
        return c_step, self.u_of(j), e


def mask_lines(vg: ViewGraph) -> MaskLines:
    """The view's :class:`MaskLines` (cached on the view graph)."""
    ml = getattr(vg, "_mask_lines", None)
    if ml is None:
        ml = MaskLines(vg)
        vg._mask_lines = ml
    return ml


# --------------------------------------------------------------------------- tracking one branch

def _fit_costs(lines: MaskLines, d_other: np.ndarray, radius: np.ndarray, s: np.ndarray, opt: GuidedOptions,
               used: "cKDTree | None" = None, used_r: np.ndarray | None = None):
    """Candidates of every sample (grouped by ``bounds``) and their cost per mm (fit, and use by others)."""
    K = len(d_other)
    c_step, c_u, c_e = lines.candidates(d_other, radius, opt)
    r_c = radius[c_step]
    q = c_e / np.maximum(r_c, 1e-3)
    fit = np.where(q < 1.0, np.minimum(((1.0 - q) / opt.stick_out) ** 2, opt.max_fit_cost),
                   opt.inside_cost * np.minimum(q - 1.0, 1.0))
    if used is not None and len(c_u):
        fit = _with_use(fit, opt.used_cost * _near(c_u, c_step, d_other, radius, s, used, used_r, opt), opt)
    bounds = np.searchsorted(c_step, np.arange(K + 1))
    return c_u, c_e, fit, bounds, c_step


def _near(c_u, c_step, d_other, radius, s, used: cKDTree, used_r: np.ndarray, opt: GuidedOptions,
          pre: tuple | None = None) -> np.ndarray:
    """Per candidate: 1 where it lies on a position in ``used`` (within either radius), ramped in over the
    first ``used_after_mm`` of the branch (siblings share their fork). ``pre``: :func:`_near_prep` of these
    candidates (what does not depend on ``used``), when already at hand."""
    if not len(c_u):
        return np.zeros(0)
    r_c_max, ramp_live, live, q, r_live = pre if pre is not None else _near_prep(c_u, c_step, d_other, radius, s,
                                                                                 opt)
    # nothing farther than the widest radius can count: the search stops there (same answer, faster)
    reach = max(r_c_max, float(used_r.max()) if len(used_r) else 0.0)
    out = np.zeros(len(c_u))
    if not len(live):
        return out
    dist, idx = used.query(q, k=1, distance_upper_bound=reach * (1 + 1e-9))
    near = np.isfinite(dist) & (dist < np.maximum(r_live, used_r[np.minimum(idx, len(used_r) - 1)]))
    out[live] = near * ramp_live
    return out


def _near_within(n: int, pre: tuple, near_s: tuple | None, r_used: float) -> np.ndarray | None:
    """:func:`_near` of ``n`` candidates (``pre``: their :func:`_near_prep`) against used positions of
    widest radius ``r_used``: ``near_s`` is ``(u, d, radius)`` of those of them that lie within reach of the
    candidates, sorted by ``u`` (``None``: none does). The nearest position within reach is the same as
    among all; where two or more lie at exactly that distance (repeated positions are common), all of them
    are looked at: if they could answer differently (the tree of all would pick one of them), ``None``
    (the caller asks the tree of all)."""
    r_c_max, ramp_live, live, q, r_live = pre
    out = np.zeros(n)
    if not len(live) or near_s is None:
        return out
    bound = max(r_c_max, r_used) * (1 + 1e-9)
    kernel = compiled(_near_steps)
    if kernel is not None:
        near = np.empty(len(q), dtype=np.int8)
        try:
            if not kernel(q[:, 0], q[:, 1], r_live, near_s[0], near_s[1], near_s[2], bound, near):
                return None
            out[live] = near * ramp_live
            return out
        except Exception:                      # pragma: no cover - a broken numba cache or build: the KD-tree
            failed(_near_steps)
    kd_s, r_s = cKDTree(np.column_stack(near_s[:2])), near_s[2]
    m = kd_s.n
    near = np.zeros(len(q), dtype=bool)
    todo = np.arange(len(q))
    kq = min(4, m)
    while len(todo):
        dist, idx = kd_s.query(q[todo], k=kq, distance_upper_bound=bound)
        dist = dist.reshape(len(todo), kq)
        idx = idx.reshape(len(todo), kq)
        d0 = dist[:, 0]
        rl = r_live[todo]
        ans = np.isfinite(dist) & (d0[:, None] < np.maximum(rl[:, None], r_s[np.minimum(idx, m - 1)]))
        tied = np.isfinite(dist) & (dist == d0[:, None])
        if np.any(tied & (ans != ans[:, :1])):
            return None
        near[todo] = ans[:, 0]
        # every position tied with the nearest must be seen: where the last looked at is tied, look further
        more = tied[:, -1] if kq < m else np.zeros(len(todo), dtype=bool)
        todo = todo[more]
        kq = min(4 * kq, m)
    out[live] = near * ramp_live
    return out


def _near_steps(qu, qd, rq, pu, pd, pr, bound, near):  # pragma: no cover - compiled
    """The look-up of :func:`_near_within`, scalar by scalar (for numba): per query ``(qu, qd)`` (radius
    ``rq``), ``near`` is 1 where its nearest position ``(pu, pd)`` (sorted by ``pu``; radii ``pr``) closer
    than ``bound`` lies within either radius. Distances are the KD-tree's (the square root of du^2 + dd^2,
    in that order). False where positions tied at the nearest distance answer differently."""
    m = len(pu)
    for i in range(len(qu)):
        u = qu[i]
        d = qd[i]
        lo = 0
        hi = m
        while lo < hi:                         # the first position with pu >= u - bound
            mid = (lo + hi) // 2
            if pu[mid] < u - bound:
                lo = mid + 1
            else:
                hi = mid
        best = bound
        ans = 0
        tie_differs = False
        j = lo
        while j < m and pu[j] <= u + bound:    # farther in u is farther than the bound
            du = u - pu[j]
            dd = d - pd[j]
            dist = np.sqrt(du * du + dd * dd)
            if dist <= best:
                a = 1 if dist < max(rq[i], pr[j]) else 0
                if dist < best:
                    best = dist
                    ans = a
                    tie_differs = False
                elif a != ans:
                    tie_differs = True
            j += 1
        if tie_differs:
            return False
        near[i] = ans
    return True


def _near_prep(c_u, c_step, d_other, radius, s, opt: GuidedOptions) -> tuple:
    """The part of :func:`_near` that depends on the candidates alone: the widest radius, and the candidates
    past the first ``used_after_mm`` (the only ones looked up; the others count 0 whatever lies there) with
    their ramp, (u, d) and radius."""
    r_c = radius[c_step]
    ramp = np.clip(s[c_step] - opt.used_after_mm, 0.0, 1.0)
    live = np.flatnonzero(ramp > 0.0)
    return (float(r_c.max()) if len(r_c) else 0.0, ramp[live], live,
            np.column_stack([c_u[live], d_other[c_step[live]]]), r_c[live])


def _with_use(fit: np.ndarray, extra: np.ndarray, opt: GuidedOptions) -> np.ndarray:
    """Add the cost of positions other branches follow; on contrast, even behind another duct, is never
    dearer than no contrast at all."""
    return np.minimum(fit + extra, np.maximum(fit, opt.hold_cost - 0.5))


def _viterbi(V0: np.ndarray, C0: np.ndarray, cu: np.ndarray, cf: np.ndarray, ob: np.ndarray, ds: np.ndarray,
             free: np.ndarray, opt: GuidedOptions, final_extra: np.ndarray | None = None, hold_final: float = 0.0):
    """Viterbi over positions: step 0 states ``V0`` (costs ``C0``, no hold); step k >= 1 states its
    candidates ``cu[ob[k]:ob[k + 1]]`` (cost per mm ``cf[...]``) plus one hold state (the best predecessor's
    value, ``hold_cost`` per mm).

    Moving costs ``((u - (v + g ds)) / scale)**2`` with each state's own slope ``g`` (momentum) and
    ``scale = (jump0 + curve ds + slope_held * held) / free[k]``. ``final_extra`` (per candidate of the last
    step) and ``hold_final`` are added at the last step.

    Returns the states of steps 1.. as flat arrays ``(Vf, Bf, off)``: step ``k`` has ``m_k`` candidates then
    the hold state at ``Vf[off[k]:off[k] + m_k + 1]`` (values) and ``Bf[...]`` (back-pointers into the
    previous step), and the last step's costs (candidates, then hold). Everything that does not depend on
    the previous step (the candidates' values, step costs and scales) is laid out before the loop; a step
    is a few numpy operations on its ``(m_{k-1} + 1, m_k)`` block.
    """
    n = len(ob) - 1
    V = np.asarray(V0, dtype=float)
    C = np.asarray(C0, dtype=float)
    if n <= 1:
        return np.zeros(0), np.zeros(0, dtype=np.int64), [0], C
    # contiguous whichever way the steps run (the backward pass hands a reversed view): one compiled
    # overload, not a second one for the strided layout (a second compile on a cold cache, a second load
    # in every process)
    dsa = np.ascontiguousarray(ds[:n - 1], dtype=float)
    kernel = compiled(_viterbi_steps)
    if kernel is not None:
        fe = np.zeros(0) if final_extra is None else np.asarray(final_extra, dtype=float)
        try:
            Vf, Bf, offa, Ck = kernel(np.ascontiguousarray(V), np.ascontiguousarray(C),
                                      np.ascontiguousarray(cu, dtype=float), np.ascontiguousarray(cf, dtype=float),
                                      np.asarray(ob, dtype=np.int64), dsa, np.asarray(free, dtype=float),
                                      float(opt.jump0_mm), float(opt.curve), float(opt.hold_cost),
                                      float(opt.slope_held), fe, final_extra is not None, float(hold_final))
            return Vf, Bf, offa.tolist(), Ck
        except Exception:                      # pragma: no cover - a broken numba cache or build: numpy loop
            failed(_viterbi_steps)
    cnt = np.diff(ob)
    nc_all = len(cu)
    stepk = np.repeat(np.arange(n), cnt)            # the step of each candidate (>= 1)
    cfd = cf * dsa[stepk - 1]                        # its cost over the step
    size = nc_all + n - 1
    Vf = np.empty(size)
    Gf = np.empty(size)
    Cf = np.empty(size)
    Bf = np.empty(size, dtype=np.int64)
    Vf[np.arange(nc_all) + stepk - 1] = cu
    step = opt.jump0_mm + opt.curve * dsa            # per transition k-1 -> k
    fac = ((np.asarray(free[1:n], dtype=float) / step) ** 2).tolist()
    sh = opt.slope_held
    c_hold = (opt.hold_cost * dsa).tolist()
    # the slope of a state is (its position - the previous) / the arc between: per state, the arc of the
    # transition out of it (a hold state's also counts the arc held before it, set in the loop)
    Df = np.empty(size)
    Df[np.arange(nc_all) + stepk - 1] = np.concatenate([dsa, [1.0]])[stepk]
    obl = ob.tolist()
    off = [0] * n
    cu_col = cu[:, None]
    G = np.zeros(len(V))
    D = None
    held = 0.0                       # arc held without contrast before the hold state (the last state)
    has_hold = False
    for k, dk, st, fk, ch in zip(range(1, n), dsa.tolist(), step.tolist(), fac, c_hold):
        a = obl[k]
        m = obl[k + 1] - a
        o = a + k - 1
        off[k] = o
        hk = o + m
        h = int(C.argmin())
        last = len(V) - 1
        final = k == n - 1
        if m:
            cuk = cu[a:a + m]
            # the (m_k, m_{k-1} + 1) block, one row per candidate (a row-wise argmin is the fast one; the
            # values and the first-minimum ties are those of the column-wise layout)
            z = cu_col[a:a + m] - (V + G * dk)
            if has_hold:
                z[:, last] *= st / (st + sh * held)
            z *= z
            z *= fk
            z += C
            arg = Bf[o:hk]
            z.argmin(axis=1, out=arg)
            ng = Gf[o:hk]
            if has_hold:
                np.divide(cuk - V.take(arg), D.take(arg), out=ng)
            else:
                np.divide(cuk - V.take(arg), dk, out=ng)
            ng += G.take(arg)
            ng *= 0.5
            nc = Cf[o:hk]
            # each row's minimum is its argmin's value (the block holds no -0.0: squares times a positive
            # factor plus costs)
            z.min(axis=1, out=nc)
            nc += cfd[a:a + m]
            if final and final_extra is not None:
                nc += final_extra
        Vf[hk] = V[h]
        Gf[hk] = G[h]
        Cf[hk] = float(C[h]) + ch + (hold_final if final else 0.0)
        Bf[hk] = h
        held = (held if (has_hold and h == last) else 0.0) + dk
        has_hold = True
        if not final:
            Df[hk] = dsa[k] + held
        V, G, C, D = Vf[o:hk + 1], Gf[o:hk + 1], Cf[o:hk + 1], Df[o:hk + 1]
    return Vf, Bf, off, C


def _viterbi_steps(V, C, cu, cf, obl, dsa, free, jump0, curve, hold_cost, sh, final_extra, has_fe,
                   hold_final):  # pragma: no cover - compiled
    """:func:`_viterbi`, scalar by scalar (for numba): the tables laid out, then the loop; see there. The
    same values (the same operations in the same order); NaN costs are taken as numpy's argmin takes them
    (the first NaN). Returns ``(Vf, Bf, off, last step's costs)``."""
    n = len(obl) - 1
    size = len(cu) + n - 1
    Vf = np.empty(size)
    Gf = np.empty(size)
    Cf = np.empty(size)
    Bf = np.empty(size, dtype=np.int64)
    Df = np.empty(size)
    off = np.zeros(n, dtype=np.int64)
    cfd = np.empty(len(cu))
    step = np.empty(n - 1)
    fac = np.empty(n - 1)
    c_hold = np.empty(n - 1)
    for k in range(1, n):
        dk = dsa[k - 1]
        step[k - 1] = jump0 + curve * dk
        z = free[k] / step[k - 1]
        fac[k - 1] = z * z
        c_hold[k - 1] = hold_cost * dk
        d_out = dsa[k] if k < n - 1 else 1.0
        for i in range(obl[k], obl[k + 1]):
            cfd[i] = cf[i] * dk
            Vf[i + k - 1] = cu[i]
            Df[i + k - 1] = d_out
    G = np.zeros(len(V))
    D = np.ones(len(V))
    held = 0.0
    has_hold = False
    for k in range(1, n):
        dk = dsa[k - 1]
        st = step[k - 1]
        fk = fac[k - 1]
        ch = c_hold[k - 1]
        a = obl[k]
        m = obl[k + 1] - a
        o = a + k - 1
        off[k] = o
        hk = o + m
        L = len(V)
        h = 0
        for q in range(L):
            if C[q] != C[q]:
                h = q
                break
            if C[q] < C[h]:
                h = q
        last = L - 1
        final = k == n - 1
        fl = st / (st + sh * held) if has_hold else 1.0
        for c in range(m):
            u = cu[a + c]
            best = 0
            bv = 0.0
            for q in range(L):
                z = u - (V[q] + G[q] * dk)
                if has_hold and q == last:
                    z *= fl
                z = z * z
                z = z * fk
                z = z + C[q]
                if z != z:
                    best = q
                    bv = z
                    break
                if q == 0 or z < bv:
                    bv = z
                    best = q
            Bf[o + c] = best
            if has_hold:
                g = (u - V[best]) / D[best]
            else:
                g = (u - V[best]) / dk
            g = g + G[best]
            g = g * 0.5
            Gf[o + c] = g
            nc = bv + cfd[a + c]
            if final and has_fe:
                nc = nc + final_extra[c]
            Cf[o + c] = nc
        Vf[hk] = V[h]
        Gf[hk] = G[h]
        Cf[hk] = C[h] + ch + (hold_final if final else 0.0)
        Bf[hk] = h
        held = (held if (has_hold and h == last) else 0.0) + dk
        has_hold = True
        if not final:
            Df[hk] = dsa[k] + held
        V = Vf[o:hk + 1]
        G = Gf[o:hk + 1]
        C = Cf[o:hk + 1]
        D = Df[o:hk + 1]
    return Vf, Bf, off, C.copy()


def _overlapping(tracks: list[np.ndarray], opt: GuidedOptions) -> bool:
    """Do any two of these tracks ((u, d, r) rows in the other view) share a duct for a sample or more?"""
    def late(t: np.ndarray) -> np.ndarray:
        # past the shared fork (the first used_after_mm of each branch)
        return t[np.hypot(t[:, 0] - t[0, 0], t[:, 1] - t[0, 1]) > opt.used_after_mm] if len(t) else t

    tracks = [late(t) for t in tracks]
    for a in range(len(tracks)):
        for b in range(a + 1, len(tracks)):
            ta, tb = tracks[a], tracks[b]
            if not len(ta) or not len(tb):
                continue
            dist, idx = cKDTree(tb[:, :2]).query(ta[:, :2], k=1)
            if np.count_nonzero(dist < 0.7 * (ta[:, 2] + tb[idx, 2])) * opt.sample_mm >= opt.overlap_min_mm:
                return True
    return False


def _free(s: np.ndarray, opt: GuidedOptions) -> np.ndarray:
    """Per sample: how settled the direction is (a child's direction is free at its fork)."""
    return np.minimum(1.0, 0.25 + s / max(opt.free_start_mm, 1e-3))


def _forward_all(c_u, c_e, fit, bounds, s: np.ndarray, v0: float, opt: GuidedOptions,
                 final_extra: np.ndarray | None = None, hold_final: float = 0.0):
    """One branch from a fixed start ``v0``: the Viterbi tables (see :func:`_viterbi`; step k = sample k)."""
    K = len(s)
    ds = np.maximum(np.diff(s), 1e-3)
    b1 = int(bounds[1]) if K > 1 else 0
    ob = np.concatenate([[0], np.asarray(bounds[1:K + 1]) - b1])
    return _viterbi(np.array([v0]), np.array([0.0]), c_u[b1:bounds[K]], fit[b1:bounds[K]], ob, ds, _free(s, opt),
                    opt, final_extra, hold_final)


def _backtrack(Vf, Bf, off, c_e, bounds, K: int, v0: float, j: int):
    """The track ending in last-step state ``j``: positions, states (1 on contrast, 0 held), distances."""
    u = np.full(K, float(v0))
    state = np.ones(K, dtype=np.int8)
    e_out = np.full(K, np.nan)
    path = np.full(K, -1, dtype=np.int64)          # the candidate taken at each step (-1: held / the start)
    bl = bounds.tolist() if hasattr(bounds, "tolist") else list(bounds)
    for k in range(K - 1, 0, -1):
        o = off[k]
        u[k] = Vf[o + j]
        n_c = bl[k + 1] - bl[k]
        if j < n_c:
            e_out[k] = c_e[bl[k] + j]
            path[k] = bl[k] + j
        else:
            state[k] = 0
        j = int(Bf[o + j])
    return u, state, e_out, path


def _forward(c_u, c_e, fit, bounds, s: np.ndarray, v0: float, opt: GuidedOptions,
             final_extra: np.ndarray | None = None, hold_final: float = 0.0):
    """One branch from a fixed start ``v0``: positions, states (1 on contrast, 0 held), distance to
    background, total cost and the candidate taken at each step (-1 where held)."""
    K = len(s)
    Vf, Bf, off, C = _forward_all(c_u, c_e, fit, bounds, s, v0, opt, final_extra, hold_final)
    j = int(np.argmin(C))
    u, state, e_out, path = _backtrack(Vf, Bf, off, c_e, bounds, K, v0, j)
    return u, state, e_out, float(C[j]), path


def _backward(c_u, fit, bounds, s: np.ndarray, starts: np.ndarray, opt: GuidedOptions,
              final_extra: np.ndarray, hold_final: float) -> np.ndarray:
    """The cheapest cost of one branch (and, through ``final_extra``, everything below it) for each
    possible start position ``starts`` at its fork: the Viterbi run from the branch's end back to it."""
    K = len(s)
    ds = np.maximum(np.diff(s), 1e-3)
    a, b = bounds[K - 1], bounds[K]
    if b > a:
        V0 = c_u[a:b]
        C0 = ds[-1] * fit[a:b] + final_extra
    else:
        V0 = np.array([float(np.mean(starts))]) if len(starts) else np.zeros(1)
        C0 = np.array([hold_final + opt.hold_cost * ds[-1]])
    free = _free(s, opt)
    # reversed: step k' = K-1-k (samples K-2 .. 1, each's candidates in their own order); the last step is
    # the fork, whose states are the start positions (no cost)
    starts = np.asarray(starts, dtype=float)
    bnd = np.asarray(bounds[:K], dtype=np.int64)
    lo, cnt = bnd[K - 2:0:-1], (bnd[K - 1:1:-1] - bnd[K - 2:0:-1]) if K > 2 else np.zeros(0, dtype=np.int64)
    if K <= 2:
        lo = np.zeros(0, dtype=np.int64)
    tot = int(cnt.sum())
    idx = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(tot)
    cu = np.concatenate([c_u[idx], starts])
    cf = np.concatenate([fit[idx], np.zeros(len(starts))])
    ob = np.concatenate([[0, 0], np.cumsum(cnt), [tot + len(starts)]])
    ds_r = ds[::-1]
    free_r = np.concatenate([[1.0], free[::-1][:-1]])
    C = _viterbi(V0, C0, cu, cf, ob, ds_r, free_r, opt)[3]
    return C[:len(starts)]


def track_in_mask(lines: MaskLines, d_other: np.ndarray, radius: np.ndarray, s: np.ndarray, v0: float,
                  used: "cKDTree | None" = None, used_r: np.ndarray | None = None,
                  opt: GuidedOptions | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
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
    if K <= 1:
        return np.full(K, float(v0)), np.ones(K, dtype=np.int8), np.full(K, np.nan), 0.0
    c_u, c_e, fit, bounds, _ = _fit_costs(lines, d_other, radius, s, opt, used, used_r)
    u, state, e, cost, _ = _forward(c_u, c_e, fit, bounds, s, v0, opt)
    return u, state, e, cost


# --------------------------------------------------------------------------- a whole guided reading

@dataclass
class Reading:
    """One reading of a ductogram pair: the 3D rows and how it was read."""

    name: str                        #: "matched", "guided_by_cc" or "guided_by_lateral"
    built: Built
    info: dict
    guide: ViewTree | None = field(default=None, repr=False)   #: the guide view's tree (guided readings)
    #: per guide branch (row): its samples' depth in the other view, the position tracked there (view mm),
    #: whether that position is on contrast, the guide radius (mm) and the samples in the guide view (view mm)
    tracks: dict | None = field(default=None, repr=False)


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
    feats = _skeleton_features(other_vg)
    kd_feat = {k: (cKDTree(v) if len(v) else None) for k, v in feats.items()}

    def feature_cost(kind: str, weight: float, cu: np.ndarray, d: float, r: float) -> np.ndarray:
        kd_ = kd_feat[kind]
        if kd_ is None:
            return np.full(len(cu), weight)
        dist, _ = kd_.query(np.column_stack([cu, np.full(len(cu), d)]), k=1)
        return weight * np.clip((dist - r - 0.3) / 1.0, 0.0, 1.0)

    # samples of every guide branch, their candidates, and the positions at each branch's end (E); what
    # depends only on a branch (and, bottom-up, on its subtree) is remembered across readings of the same
    # views and map by content: a guide re-cut at a crossing, or with a fork moved, shares most of its
    # branches (so do their tracks: ``runs``, below)
    cache = other_vg.__dict__.setdefault("_guided_cache", {}).setdefault(
        (guide_kind, float(f.a), float(f.b), float(f.knee_mm), opt), ({}, {}, {}))
    prep, back, runs = cache
    resampled = other_vg.__dict__.setdefault("_guided_resampled", {})
    samp: dict[int, tuple] = {}
    ends: dict[int, np.ndarray] = {0: np.array([uo0])}
    feat_end: dict[int, np.ndarray] = {}
    hold_feat: dict[int, float] = {}
    bkey: dict[int, tuple] = {}
    ekey: dict[int, tuple] = {0: ("root", float(uo0))}
    for i in range(1, guide.n):
        poly, rad = guide.edge_ud[i], guide.edge_r[i]
        p = int(guide.parent[i])
        tip = len(guide.children[i]) == 0
        bkey[i] = (np.ascontiguousarray(poly, dtype=float).tobytes(),
                   np.ascontiguousarray(rad, dtype=float).tobytes(), tip)
        if len(poly) < 2:
            ends[i] = ends[p]
            ekey[i] = ekey[p]
            continue
        ekey[i] = bkey[i]
        hit = prep.get(bkey[i])
        if hit is None:
            # the samples depend on the branch alone (not on the map): remembered across maps
            rkey = (bkey[i][0], bkey[i][1], opt.sample_mm)
            got = resampled.get(rkey)
            if got is None:
                got = resampled[rkey] = _resample(poly, rad, opt.sample_mm,
                                                  np.asarray([len(poly) - 1], dtype=np.int64))[:3]
            P, R, S = got
            d_o = to_other(P[:, 1])
            c_u, c_e, fit, bounds, c_step = _fit_costs(lines, d_o, R, S, opt)
            K = len(S)
            e_i = c_u[bounds[K - 1]:bounds[K]]
            kind, w = ("tip", opt.end_miss_cost) if tip else ("fork", opt.fork_miss_cost)
            hit = prep[bkey[i]] = ((P, R, S, d_o, c_u, c_e, fit, bounds, c_step), e_i,
                                   feature_cost(kind, w, e_i, float(d_o[-1]), float(R[-1])), w)
        samp[i], ends[i], feat_end[i], hold_feat[i] = hit
    # bottom-up: each branch's cost (with everything below it) for every start position at its fork
    msg = {i: np.zeros(len(ends[i])) for i in range(guide.n)}
    msg_hold = {i: 0.0 for i in range(guide.n)}
    skey: dict[int, tuple] = {}
    if opt.subtree:
        for i in range(guide.n - 1, 0, -1):
            p = int(guide.parent[i])
            # the branch, where it starts (its parent's end positions) and its subtree, children in the order
            # their costs are summed
            skey[i] = (bkey[i], ekey[p], tuple(skey[c] for c in sorted(guide.children[i], reverse=True)))
            if i not in samp:
                msg[p] = msg[p] + msg[i] if len(msg[i]) == len(msg[p]) else msg[p]
                msg_hold[p] += msg_hold[i]
                continue
            cost = back.get(skey[i])
            if cost is None:
                P, R, S, d_o, c_u, c_e, fit, bounds, _ = samp[i]
                cost = back[skey[i]] = _backward(c_u, fit, bounds, S, ends[p], opt, feat_end[i] + msg[i],
                                                 hold_feat[i] + msg_hold[i])
            msg[p] = msg[p] + cost
            msg_hold[p] += (float(cost.min()) if len(cost) else 0.0) + opt.hold_cost
    # top-down: each branch from its parent's chosen end, its end costed by its subtree
    val_at = {0: uo0}
    tracks: dict[int, tuple] = {}

    pre_near: dict[int, tuple] = {}

    def near_pre(i: int) -> tuple | None:
        """:func:`_near_prep` of branch ``i``'s candidates (once per reading)."""
        got = pre_near.get(i)
        if got is None:
            P, R, S, d_o, c_u, c_e, fit, bounds, c_step = samp[i]
            if not len(c_u):
                return None
            got = pre_near[i] = _near_prep(c_u, c_step, d_o, R, S, opt)
        return got

    def run(i: int, v0: float, used_extra: np.ndarray | None, sib_pts: np.ndarray | None) -> tuple:
        """Track branch ``i`` from ``v0``; positions of other branches cost ``used_extra`` (per candidate),
        of its siblings (``sib_pts``: (u, d, r) rows) ``overlap_cost`` per mm."""
        P, R, S, d_o, c_u, c_e, fit, bounds, c_step = samp[i]
        extra = np.zeros(len(c_u)) if used_extra is None else used_extra
        if sib_pts is not None:
            pre = near_pre(i)
            got = None
            if pre is not None:                      # by the look-up; the KD-tree where ties could differ
                o = np.argsort(sib_pts[:, 0], kind="stable")
                got = _near_within(len(c_u), pre, (sib_pts[o, 0], sib_pts[o, 1], sib_pts[o, 2]),
                                   float(sib_pts[:, 2].max()))
            if got is None:
                got = _near(c_u, c_step, d_o, R, S, cKDTree(sib_pts[:, :2]), sib_pts[:, 2], opt, pre)
            extra = extra + opt.overlap_cost * got
        # an earlier run of the same branch and subtree (in this reading or another of these views and map)
        # from the same start whose track stays the cheapest under these costs is this run
        key = skey.get(i, bkey[i])
        for v_prev, ex_prev, res in runs.get(key, ()):
            if v_prev == v0 and _still_best(ex_prev, extra, res[5], len(c_u)):
                return res
        if extra.any():
            fit = _with_use(fit, extra, opt)
        u_o, st, e, cost, path = _forward(c_u, c_e, fit, bounds, S, v0, opt, feat_end[i] + msg[i],
                                          hold_feat[i] + msg_hold[i])
        keep = st == 1
        res = (u_o, st, e, cost, np.column_stack([u_o[keep], d_o[keep], R[keep]]), path)
        seen_runs = runs.setdefault(key, [])
        seen_runs.append((v0, extra, res))
        if len(seen_runs) > 16:                      # the oldest go (a bound on the look-up, not a result)
            del seen_runs[0]
        return res

    import itertools

    seen: dict[int, tuple] = {}
    for sweep in range(max(1, opt.passes)):
        for p in range(guide.n):               # rows are breadth-first: a parent's end is known first
            kids = guide.children[p]
            rows = []
            for i in kids:
                if i in samp:
                    rows.append(i)
                else:
                    val_at[i] = val_at[p]
            if not rows:
                continue
            # positions followed by the branches other than these siblings (all of them after sweep 1)
            others = [t[4] for k, t in tracks.items() if k not in kids]
            allp = np.vstack(others) if others else np.zeros((0, 3))
            used_extra = {}
            if len(allp):
                # looked up in a tree of the positions within reach of these siblings' candidates only (the
                # farther ones cannot be found; see _near_within); the tree of all where that cannot decide
                used_r = allp[:, 2]
                r_used = float(used_r.max())
                pres = {i: near_pre(i) for i in rows}
                live_q = [pres[i][3] for i in rows if pres[i] is not None and len(pres[i][2])]
                near_s = None
                if live_q:
                    Q = np.vstack(live_q)
                    margin = max(max(pres[i][0] for i in rows if pres[i] is not None), r_used) * (1 + 1e-6)
                    lo, hi = Q.min(axis=0) - margin, Q.max(axis=0) + margin
                    sel = np.flatnonzero((allp[:, 0] >= lo[0]) & (allp[:, 0] <= hi[0])
                                         & (allp[:, 1] >= lo[1]) & (allp[:, 1] <= hi[1]))
                    if len(sel):
                        sel = sel[np.argsort(allp[sel, 0], kind="stable")]
                        near_s = (allp[sel, 0], allp[sel, 1], used_r[sel])
                kd_u = None
                for i in rows:
                    P, R, S, d_o, c_u, c_e, fit, bounds, c_step = samp[i]
                    got = np.zeros(0) if pres[i] is None else _near_within(len(c_u), pres[i], near_s, r_used)
                    if got is None:
                        if kd_u is None:
                            kd_u = cKDTree(allp[:, :2])
                        got = _near(c_u, c_step, d_o, R, S, kd_u, used_r, opt, pres[i])
                    used_extra[i] = opt.used_cost * got
            # a group whose start and surroundings did not change since the last sweep keeps its tracks
            # (exactly: other positions only got dearer, those on its tracks did not change)
            last = seen.get(p)
            if last is not None and last[0] == val_at[p] and all(
                    _still_best(last[1][i], used_extra.get(i), tracks[i][5], len(samp[i][4])) for i in rows):
                continue
            seen[p] = (val_at[p], {i: used_extra.get(i) for i in rows})
            # siblings one after the other, each avoiding the ducts of those before it; the cheapest order
            alone = {i: run(i, val_at[p], used_extra.get(i), None) for i in rows}
            if len(rows) == 1 or not _overlapping([alone[i][4] for i in rows], opt):
                best = (0.0, alone)
            else:
                orders = list(itertools.permutations(rows)) if len(rows) <= 3 else [tuple(rows)]
                best = None
                for order in orders:
                    got, total = {}, 0.0
                    for i in order:
                        if not got:
                            got[i] = alone[i]
                        else:
                            sib = np.vstack([got[k][4] for k in got])
                            got[i] = run(i, val_at[p], used_extra.get(i),
                                         sib if len(sib) else None)
                        total += got[i][3]
                        if best is not None and total >= best[0]:
                            break
                    else:
                        if best is None or total < best[0]:
                            best = (total, got)
            for i, t in best[1].items():
                tracks[i] = t
                val_at[i] = float(t[0][-1])
    # stretches where a branch lies within another's duct in the other view (no edge of its own there): the
    # other view shows one duct, this one is hidden behind it - seen in one view only
    behind: dict[int, np.ndarray] = {}
    # every track's positions in one KD-tree (built once); the samples of all branches look up the nearest
    # position of the other tracks in it at once (see _nearest_other_within)
    order = list(tracks)
    all_pts = np.vstack([tracks[k][4] for k in order]) if order else np.zeros((0, 3))
    owner = np.repeat(np.arange(len(order)), [len(tracks[k][4]) for k in order])
    ask: list[tuple] = []                            # (branch, its slot, samples looked up, 0.75 x radius)
    for slot, (i, t) in enumerate(tracks.items()):
        u_o, st = t[0], t[1]
        R, S, d_o = samp[i][1], samp[i][2], samp[i][3]
        behind[i] = np.zeros(len(S), dtype=bool)
        # only samples on contrast past the shared fork can lie within another duct: without any, nothing
        # to look up
        cand = np.flatnonzero((st == 1) & (S > opt.used_after_mm))
        if not len(cand) or opt.behind_min_mm <= 0:
            continue
        if len(all_pts) == len(t[4]):                # no other track has a position
            continue
        ask.append((i, slot, cand, 0.75 * R[cand]))
    if ask:
        kd_all = cKDTree(all_pts[:, :2])
        q = np.vstack([np.column_stack([tracks[i][0][cand], samp[i][3][cand]]) for i, _, cand, _ in ask])
        own = np.repeat([slot for _, slot, _, _ in ask], [len(cand) for _, _, cand, _ in ask])
        less = np.concatenate([lt for _, _, _, lt in ask])
        got_all = _nearest_other_within(kd_all, all_pts[:, 2], owner, own, q, less)
        at = 0
        for i, slot, cand, lt in ask:
            if got_all is not None:
                got = got_all[at:at + len(cand)]
            else:                                    # undecided from the shared tree: the tree of the others
                op = all_pts[owner != slot]
                dist, idx = cKDTree(op[:, :2]).query(q[at:at + len(cand)], k=1)
                got = dist <= op[idx, 2] - lt
            at += len(cand)
            S = samp[i][2]
            same = np.zeros(len(S), dtype=bool)
            same[cand] = got
            behind[i] = _long_runs(same, S, opt.behind_min_mm)
    total_cost = held_mm = inside_mm = length_mm = 0.0
    # node rows along a branch depend on its samples alone: remembered across readings of these views
    rows_memo = other_vg.__dict__.setdefault("_node_rows_memo", {})
    for i in range(1, guide.n):
        p = int(guide.parent[i])
        if i not in samp:
            end_at[i] = end_at[p]
            continue
        P, R, S, d_o = samp[i][:4]
        u_o, st, e, cost = tracks[i][:4]
        total_cost += cost
        ds = np.diff(S, prepend=S[0])
        held_mm += float(ds[st == 0].sum())
        inside = (st == 1) & (e > 1.5 * R)
        inside_mm += float(ds[inside].sum())
        length_mm += float(S[-1])
        # per sample: the length held without contrast up to it (the running sum over each run of held
        # samples, in order, from sample 1 on)
        since = np.zeros(len(S))
        held = np.flatnonzero(st[1:] == 0) + 1
        if len(held):
            for seg in np.split(held, np.flatnonzero(np.diff(held) != 1) + 1):
                since[seg] = np.cumsum(ds[seg])
        # each sample's radius from both views: the other view's width where it agrees (0.6-1.6 x the guide's)
        agree = (st == 1) & (0.6 * R <= e) & (e <= 1.6 * R)
        r_both = _combine_radius(R, np.where(agree, e, R))
        prev = end_at[p]
        hid = behind[i]
        nkey = (S.tobytes(), mopt.node_spacing_mm)
        node_rows = rows_memo.get(nkey)
        if node_rows is None:
            node_rows = rows_memo[nkey] = _node_rows(S, mopt.node_spacing_mm)
        for r in node_rows[1:]:
            if hid[r]:
                gu, ou = (float(P[r, 0]), float(P[r, 1])), (float(u_o[r]), float(d_o[r]))
                # within another duct's projection: hidden behind it, or not in that view at all
                prev = acc.add(point(P[r, 0], P[r, 1], u_o[r], d_o[r]), float(R[r]), prev, single=True,
                               view=guide_kind, sigma=mopt.track_behind_sigma_mm,
                               cc=gu if g_cc else ou, lat=ou if g_cc else gu)
                continue
            seen = st[r] == 1
            rr = float(r_both[r])
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
    other_tracks = {i: (samp[i][3], tracks[i][0], tracks[i][1] == 1, samp[i][1], samp[i][0]) for i in tracks}
    return Reading(name=f"guided_by_{guide_kind}", built=b, info=info, guide=guide, tracks=other_tracks)


def _nearest_other_within(kd_all: cKDTree, radius: np.ndarray, owner: np.ndarray, own, q: np.ndarray,
                          less: np.ndarray, k: int = 8) -> np.ndarray | None:
    """Per point of ``q``: is the nearest data point of ``kd_all`` not owned by ``own`` (``owner`` per data
    point; ``own`` one owner, or one per query point) at most its ``radius`` minus ``less`` (per query)
    away? What a KD-tree of those other points alone answers (``dist <= radius[idx] - less``), from the
    ``k`` nearest points of the shared tree (more where all of those are ``own``'s and another could still be
    near enough, or where the k-th is as near as the nearest other point): the nearest other point's
    distance is exact; where several other points lie at exactly that distance and their radii do not all
    give the same answer (the tree of the others would pick one of them), ``None`` (the caller asks the tree
    of the others)."""
    n = kd_all.n
    own = np.broadcast_to(np.asarray(own), (len(q),))
    # per query: the widest radius among the points it may find (all but its owner's)
    n_own = int(owner.max()) + 1 if n else 0
    top = np.full(max(n_own, 1), -np.inf)
    np.maximum.at(top, owner, radius)
    first_owner = int(np.argmax(top)) if n else 0
    second = np.max(np.delete(top, first_owner)) if len(top) > 1 else -np.inf
    r_max = np.where(own == first_owner, second, top[first_owner])
    out = np.zeros(len(q), dtype=bool)
    todo = np.arange(len(q))
    kk = min(k, n)
    while len(todo):
        dist, idx = kd_all.query(q[todo], k=kk)
        dist = dist.reshape(len(todo), kk)
        idx = idx.reshape(len(todo), kk)
        lt = less[todo]
        other = owner[idx] != own[todo][:, None]
        has = other.any(axis=1)
        first = np.argmax(other, axis=1)
        rows = np.arange(len(todo))
        D = dist[rows, first]
        ans = D <= radius[idx[rows, first]] - lt
        # ties: every other point at exactly D must answer alike, and none may lie beyond the k looked at
        tied = other & (dist == D[:, None])
        agree = np.all(~tied | ((dist <= radius[idx] - lt[:, None]) == ans[:, None]), axis=1)
        if np.any(has & ~agree):
            return None
        # other points at D may lie beyond the k looked at: looked up again among more
        unseen = has & (dist[:, -1] == D) if kk < n else np.zeros(len(todo), dtype=bool)
        done = has & ~unseen
        out[todo[done]] = ans[done]
        # all k nearest are own points: every other lies at least as far as the k-th; too far if beyond every
        # other point's radius minus ``less`` (False), else looked up again among more
        more = unseen | (~has & (dist[:, -1] <= r_max[todo] - lt))
        if np.any(more) and kk >= n:
            return None
        todo = todo[more]
        kk = min(4 * kk, n)
    return out


def _still_best(old: np.ndarray | None, new: np.ndarray | None, path: np.ndarray, n: int) -> bool:
    """Is a track still the cheapest when the per-candidate extra cost changed from ``old`` to ``new``?
    Yes if nothing got cheaper and nothing on the track (``path``, candidate indices) changed."""
    o = np.zeros(n) if old is None else old
    w = np.zeros(n) if new is None else new
    on = path[path >= 0]
    return bool(np.all(w >= o - 1e-12) and np.array_equal(w[on], o[on]))


def _long_runs(flag: np.ndarray, s: np.ndarray, min_len: float) -> np.ndarray:
    """``flag`` kept only on runs at least ``min_len`` long (arc lengths ``s``)."""
    out = np.zeros(len(flag), dtype=bool)
    if not flag.any():
        return out
    f = np.concatenate([[False], flag, [False]]).astype(np.int8)
    starts = np.flatnonzero(np.diff(f) == 1)
    ends = np.flatnonzero(np.diff(f) == -1) - 1
    for a, b in zip(starts, ends):
        if s[b] - s[a] >= min_len:
            out[a:b + 1] = True
    return out


def _node_rows(S: np.ndarray, step: float) -> list[int]:
    """Sample indices about ``step`` mm apart along arc lengths ``S`` (first and last kept). The nearest
    sample to each target, a fixed fraction off the half-way point so float noise cannot flip the choice."""
    K = len(S)
    n = max(1, int(round(float(S[-1] - S[0]) / step + 1e-6)))
    idx = np.interp(np.linspace(S[0], S[-1], n + 1), S, np.arange(K, dtype=float))
    rows = np.clip(np.floor(idx + 0.5 - 0.1234567), 0, K - 1).astype(int)
    rows[0], rows[-1] = 0, K - 1
    return [int(r) for k, r in enumerate(rows) if k == 0 or r != rows[k - 1]]


def _explained(other_tree: ViewTree, coords: np.ndarray, radius: np.ndarray, tol: float,
               step: float = 0.1) -> list[np.ndarray]:
    """Per node of the other view's tree: which samples of its incoming centreline the tree explains."""
    ok = np.all(np.isfinite(coords), axis=1)
    kd = cKDTree(coords[ok]) if ok.any() else None
    rad = radius[ok]
    out: list[np.ndarray] = [np.zeros(0, dtype=bool)]
    looked = [n for n in range(1, other_tree.n) if len(other_tree.edge_ud[n]) >= 2] if kd is not None else []
    if looked:
        # every edge's points in one query (each point's answer is its own)
        dist, idx = kd.query(np.vstack([other_tree.edge_ud[n] for n in looked]), k=1)
        r_e = np.concatenate([other_tree.edge_r[n] for n in looked])
        hit = dist <= np.maximum(r_e, rad[idx]) + tol + 1.234e-4
        at = np.cumsum([0] + [len(other_tree.edge_ud[n]) for n in looked]).tolist()
        got = {n: hit[at[k]:at[k + 1]] for k, n in enumerate(looked)}
    for n in range(1, other_tree.n):
        e = other_tree.edge_ud[n]
        if len(e) < 2 or kd is None:
            out.append(np.zeros(len(e), dtype=bool))
            continue
        out.append(got[n])
    return out


def _edge_weights(t: ViewTree) -> list:
    """Per node of ``t``: the length (mm) each sample of its incoming centreline stands for (0 for the first)
    and their sum; ``None`` for edges of fewer than 2 points. Remembered on the tree (a copy with its own
    edges recomputes)."""
    def weights() -> list:
        out: list = []
        for e in t.edge_ud:
            if len(e) < 2:
                out.append(None)
                continue
            w = np.concatenate([[0.0], np.linalg.norm(np.diff(e, axis=0), axis=1)])
            out.append((w, float(w.sum())))
        return out

    return t.remembered("_edge_weights_mm", weights)


def _add_hidden(acc: _Acc, guide: ViewTree, other_tree: ViewTree, f: DepthMap, g_cc: bool, other_kind: str,
                mopt: MatchOptions, opt: GuidedOptions) -> list[float]:
    """Add the other view's unexplained stretches as one-view branches; return their lengths (mm)."""
    coords = np.asarray(acc.lat if g_cc else acc.cc, dtype=float).reshape(-1, 2)
    expl = _explained(other_tree, coords, np.asarray(acc.rad), opt.explain_tol_mm)
    n = other_tree.n
    hidden = np.zeros(n, dtype=bool)
    start = np.zeros(n, dtype=np.int64)
    weights = _edge_weights(other_tree)
    for k in range(1, n):
        e = other_tree.edge_ud[k]
        if len(e) < 2:
            continue
        w, L = weights[k]
        un = ~expl[k]
        lost = float(w[un].sum())
        # a stretch the guide does not show; or the end of a duct of the other view that the tree stops short
        # of (a duct ending where the guide view shows none: a cut-off is read at that end)
        tip = not other_tree.children[k] and un[-1] and lost >= opt.hidden_tip_min_mm
        if (lost >= opt.hidden_min_mm and lost >= opt.hidden_fraction * L) or tip:
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


def consistency(b: Built, vga: ViewGraph, vgb: ViewGraph, f: DepthMap, opt: GuidedOptions | None = None,
                label: str = "") -> dict:
    """How well the 3D rows explain both masks (see the module docs); lower ``score`` is better.

    ``miss_*``: fraction of the view's skeleton length farther than its radius (+ ``explain_tol_mm`` + half
    a node spacing) from the projected tree; ``out_*``: fraction of the projected nodes whose centre lies
    less than half their radius inside the contrast; ``single``: fraction of nodes seen in one view only;
    ``length``: the tree's 3D length over the mean of the views' skeleton lengths. Inside
    :func:`scored_readings`, the reading is also remembered under ``label``.
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
    kids = np.flatnonzero(b.parent >= 0)
    length_3d = float(np.linalg.norm(b.pos[kids] - b.pos[b.parent[kids]], axis=1).sum())
    skeleton_mm = 0.5 * float(_skeleton_samples(vga)[2].sum() + _skeleton_samples(vgb)[2].sum())
    res["length"] = length_3d / max(skeleton_mm, 1e-9)
    res["score"] = (res["miss_cc"] + res["miss_lateral"] + res["out_cc"] + res["out_lateral"]
                    + opt.single_weight * res["single"] + opt.feature_weight * (1.0 - res["features"]))
    out = {k: round(v, 4) for k, v in res.items()}
    ledger = _LEDGER.get()
    if ledger is not None:
        ledger.append(ScoredReading(b, f, out, ", ".join(x for x in (label, ledger.stage) if x)))
    return out


@dataclass
class ScoredReading:
    """A reading :func:`consistency` scored: its rows, depth map, scores and how it was read."""

    built: Built
    f: DepthMap
    scores: dict
    label: str


class ScoredReadings(list):
    """The readings scored inside :func:`scored_readings`; ``stage`` is added to the labels of those to come."""

    stage: str = ""


_LEDGER: ContextVar[ScoredReadings | None] = ContextVar("ductree_scored_readings", default=None)


@contextmanager
def scored_readings():
    """Remember every reading :func:`consistency` scores inside the block (a :class:`ScoredReadings`)."""
    token = _LEDGER.set(ScoredReadings())
    try:
        yield _LEDGER.get()
    finally:
        _LEDGER.reset(token)


def final_score(scores: dict, opt: GuidedOptions | None = None) -> float:
    """The score of the last pick among every reading (lower is better): :func:`consistency`'s ``score``,
    plus ``final_feature_weight`` x the share of the tree's forks and tips the views do not confirm,
    plus ``final_length_weight`` x its 3D length over the views' skeleton length."""
    opt = opt or GuidedOptions()
    return (scores["score"] + opt.final_feature_weight * (1.0 - scores["features"])
            + opt.final_length_weight * scores["length"])


def keep_best_scored(kept: Built, ledger: list[ScoredReading],
                     opt: GuidedOptions | None = None) -> tuple[ScoredReading | None, float | None]:
    """The reading of ``ledger`` with the lowest :func:`final_score` if that is lower than ``kept``'s (else
    ``None``, also with ``final_pick`` off), and ``kept``'s final score (``None`` if it was not scored)."""
    opt = opt or GuidedOptions()
    mine = min((final_score(r.scores, opt) for r in ledger if r.built is kept), default=None)
    if mine is None or not opt.final_pick:
        return None, mine
    best = min(ledger, key=lambda r: final_score(r.scores, opt))
    return (best if final_score(best.scores, opt) < mine else None), mine


def choose_reading(matched: Built, ta: ViewTree, tb: ViewTree, vga: ViewGraph, vgb: ViewGraph, f: DepthMap,
                   mopt: MatchOptions | None = None, opt: GuidedOptions | None = None,
                   recut_below: float | None = None) -> tuple[Built, dict, list[Built], Reading]:
    """The reading to keep and why: the matched one, or (``opt.choose``) a guided one that explains the
    masks better by ``opt.switch_margin`` (:func:`consistency`, masks only). Returns the rows, a
    JSON-ready record (every candidate's scores, the one chosen, the reason), the readings not kept and
    the kept :class:`Reading` (with its guide tree, for :func:`reread_shifted`).
    With ``recut_below``, the crossings are re-cut only if the better guided reading scores less than
    that (a reading that cannot compete is not refined)."""
    opt = opt or GuidedOptions()
    cands = [Reading("matched", matched, {})]
    scores = {}
    if opt.choose:
        views = ((ta, vga, vgb, tb, "cc"), (tb, vgb, vga, ta, "lateral"))
        got = []
        for guide, gvg, ovg, other, kind in views:
            r = guided_reading(guide, ovg, other, f, kind, mopt, opt)
            got.append((r, consistency(r.built, vga, vgb, f, opt, label=r.name)))
        best_g = min(range(2), key=lambda k: got[k][1]["score"])
        for k, (guide, gvg, ovg, other, kind) in enumerate(views):
            r, sc = got[k]
            if opt.recut_tries > 0 and (k == best_g or not opt.recut_best_only) and (
                    recut_below is None or got[best_g][1]["score"] < recut_below):
                r, sc = _recut(r, sc, guide, gvg, ovg, other, vga, vgb, f, kind, mopt, opt)
            cands.append(r)
            scores[r.name] = sc
    scores["matched"] = consistency(matched, vga, vgb, f, opt, label="matched")
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
    return best.built, record, [r.built for r in cands if r is not best], best


def _recut(r: Reading, sc: dict, guide: ViewTree, gvg: ViewGraph, ovg: ViewGraph, other: ViewTree,
           vga: ViewGraph, vgb: ViewGraph, f: DepthMap, kind: str, mopt, opt: GuidedOptions):
    """Re-read each of the guide's ``recut_tries`` most nearly tied crossing cuts the other way, each on its
    own; keep the reading that explains the masks best (:func:`consistency`), if better than the cut made by
    more than ``recut_gain``. (Taking the first re-read that scores better, most tied first, keeps a worse
    one where a less tied crossing is the wrong one.)"""
    banned, forced = getattr(guide, "cut_state", (frozenset(), frozenset()))
    best = None
    for gap, sig, alt in nearly_tied_cuts(guide, opt.recut_margin)[: opt.recut_tries]:
        t2 = tree_with_cuts(gvg, banned | {sig}, forced | {alt})
        r2 = guided_reading(t2, ovg, other, f, kind, mopt, opt)
        sc2 = consistency(r2.built, vga, vgb, f, opt, label=f"{r2.name}, a crossing cut the other way")
        if sc2["score"] < sc["score"] - opt.recut_gain and (best is None or sc2["score"] < best[1]["score"]):
            best = (r2, sc2)
    if best is not None:
        r, sc = best
        r.info["recut"] = 1
    return r, sc


def reread_shifted(kept: Reading, score: float, vga: ViewGraph, vgb: ViewGraph, ta: ViewTree, tb: ViewTree,
                   f: DepthMap, shifts_mm: Sequence[float], margin: float, mopt: MatchOptions | None = None,
                   opt: GuidedOptions | None = None) -> tuple[Reading, float, DepthMap, list[dict]]:
    """Read the kept guided reading's guide again with the depth map's offset moved by each of ``shifts_mm``
    (mm); keep the reading whose :func:`consistency` score is lower by more than ``margin``.

    A guided reading hinges on nearly tied choices: two sibling branches of the guide that can take each
    other's duct in the other view are costed by their subtrees read each on its own, and a shift of the
    depth map by 0.1 mm, far below what the fit resolves, can flip them (a whole subtree then follows the
    wrong ducts). The masks tell the readings apart. Returns the reading kept (``kept`` itself when no
    shift scores better), its score, its map, and a record of every shift tried.
    """
    opt = opt or GuidedOptions()
    if kept.guide is None:
        return kept, score, f, []
    kind = kept.info["guide"]
    ovg, other = (vgb, tb) if kind == "cc" else (vga, ta)
    best, best_score, best_f, tried, at = kept, score, f, [], None
    for k, shift in enumerate(shifts_mm):
        g = replace(f, b=f.b + float(shift))
        r = guided_reading(kept.guide, ovg, other, g, kind, mopt, opt)
        sc = consistency(r.built, vga, vgb, g, opt, label=f"{r.name}, map moved {shift:+.2f} mm")["score"]
        tried.append({"shift_mm": float(shift), "score": sc})
        if sc < best_score - margin:
            best, best_score, best_f, at = r, sc, g, k
    for k, rec in enumerate(tried):
        rec["kept"] = k == at
    return best, best_score, best_f, tried


def late_fork_moves(kept: Reading, other: ViewTree, opt: GuidedOptions | None = None) -> list[tuple[int, int, float]]:
    """Forks of the kept reading's guide that the other view shows shallower, on the parent's track.

    A fork is never seen too shallow in a projection, only too deep (its
    children overlapping in that view). Where the other view's own tree forks
    ``fork_move_min_mm`` to ``fork_move_max_mm`` shallower than a guide fork,
    within the duct's radius + ``fork_move_tol_mm`` of the position the guide's
    parent branch was tracked to there (on contrast), the guide's fork may
    lie there. Returns ``(row, point of its edge, mm moved along it)``: per
    fork the shortest such move, the shortest first, at most
    ``fork_move_tries`` (each costs a guided reading).
    """
    opt = opt or GuidedOptions()
    guide, tracks = kept.guide, kept.tracks
    if guide is None or not tracks or opt.fork_move_tries <= 0:
        return []
    o_forks = np.flatnonzero([len(c) >= 2 for c in other.children])
    if not len(o_forks):
        return []
    found: dict[int, tuple[int, float]] = {}
    for i in range(1, guide.n):
        if len(guide.children[i]) < 2 or i not in tracks:
            continue
        d_o, u_o, seen, radius, samples = tracks[i]
        edge = np.asarray(guide.edge_ud[i])
        for q in o_forks:
            uq, dq = other.ud[q]
            if not opt.fork_move_min_mm <= d_o[-1] - dq <= opt.fork_move_max_mm:
                continue
            j = int(np.argmin(np.abs(d_o - dq)))
            if abs(d_o[j] - dq) > 0.3 or not seen[j] or abs(u_o[j] - uq) > radius[j] + opt.fork_move_tol_mm:
                continue
            k = int(np.argmin(np.linalg.norm(edge - samples[j], axis=1)))
            if 0 < k < len(edge) - 1:
                mm = float(np.sum(np.linalg.norm(np.diff(edge[k:], axis=0), axis=1)))
                if i not in found or (mm, k) < (found[i][1], found[i][0]):
                    found[i] = (k, mm)
    moves = sorted(((i, k, mm) for i, (k, mm) in found.items()), key=lambda m: (m[2], m[0]))
    return moves[: opt.fork_move_tries]


def reread_forks(kept: Reading, score: float, vga: ViewGraph, vgb: ViewGraph, ta: ViewTree, tb: ViewTree,
                 f: DepthMap, margin: float, mopt: MatchOptions | None = None,
                 opt: GuidedOptions | None = None) -> tuple[Reading, float, list[dict]]:
    """Read the kept guided reading's guide again with each of its :func:`late_fork_moves` (one at a time);
    keep the reading whose :func:`consistency` score is lowest, if lower than ``score`` by more than ``margin``.

    A fork seen too deep in the guide makes a child start on its parent's duct in the other view, where the
    other view shows it already apart: the child then jumps or follows the wrong duct, and the stretch of its
    own duct before the guide's fork is left unexplained (a one-view branch guessed along the guide view).
    Returns the reading kept (``kept`` itself when no move scores better), its score and a record of every
    move tried.
    """
    opt = opt or GuidedOptions()
    if kept.guide is None:
        return kept, score, []
    kind = kept.info["guide"]
    ovg, other = (vgb, tb) if kind == "cc" else (vga, ta)
    best, best_score, tried, at = kept, score, [], None
    for n, (i, k, mm) in enumerate(late_fork_moves(kept, other, opt)):
        r = guided_reading(fork_moved_back(kept.guide, i, k), ovg, other, f, kind, mopt, opt)
        sc = consistency(r.built, vga, vgb, f, opt, label=f"{r.name}, a fork moved {mm:.1f} mm shallower")["score"]
        tried.append({"fork_ud_mm": [float(x) for x in kept.guide.ud[i]], "moved_mm": mm, "score": sc})
        if sc < score - margin and sc < best_score:
            best, best_score, at = r, sc, n
    for n, rec in enumerate(tried):
        rec["kept"] = n == at
    return best, best_score, tried


def readings_spread(kept: Built, others: list[Built], step_mm: float = 0.25) -> np.ndarray:
    """How far apart the readings put each row of ``kept`` (mm, BF): the distance from the row to the
    nearest centreline point of each other reading (segments sampled every ``step_mm``), the largest over
    the other readings; zeros when there are none."""
    spread = np.zeros(len(kept.pos))
    for b in others:
        kids = np.flatnonzero(b.parent >= 0)
        if not len(kids):
            continue
        a, z = b.pos[b.parent[kids]], b.pos[kids]
        n = np.maximum(np.ceil(np.linalg.norm(z - a, axis=1) / step_mm).astype(np.int64), 1)
        seg = np.repeat(np.arange(len(kids)), n + 1)
        start = np.repeat(np.cumsum(n + 1) - (n + 1), n + 1)
        t = (np.arange(len(seg)) - start) / n[seg]
        pts = a[seg] + t[:, None] * (z[seg] - a[seg])
        spread = np.maximum(spread, cKDTree(pts).query(kept.pos)[0])
    return spread
