"""The unknown coordinate of a branch seen in one view, chosen along the other view by dynamic programming.

A branch of the CC seen in the CC only (or of the lateral in the lateral
only) knows two coordinates; its third (``z`` for a CC branch, ``x`` for a
lateral one) is somewhere on the other view's centrelines at the same depth
(the epipolar constraint): the duct is almost always visible there too, as a
duct of its own, or hidden behind another. At each sample of the branch the
candidates are the other view's centreline samples at that depth (within a
band) whose width agrees. A greedy choice (the candidate nearest to the last
value) follows whichever duct happens to be nearest where two ducts part;
:func:`track_unknown` instead picks the whole sequence at once (Viterbi):

- moving between candidates costs ``(du / (jump0 + slope * ds))**2``: a duct
  is a smooth curve in the other view too, so following one duct is cheap
  and hopping to another is not;
- a candidate on a duct of the other view that is already matched to another
  branch costs ``used_cost`` per mm: where a duct of its own is there, the
  branch is that duct rather than hidden behind its neighbour;
- a width disagreement costs ``width_weight * (log(r_other / r) / 0.35)**2``
  per mm;
- no candidate (``hold``) keeps the value and costs ``hold_cost`` per mm.

Distances in mm; depths in the CC frame.
"""

from __future__ import annotations

import numpy as np

from .jit import compiled, failed


def track_unknown(track, depth_cc: np.ndarray, radius: np.ndarray, s: np.ndarray, v0: float, *,
                  band_mm: float = 0.15, jump0_mm: float = 0.05, slope: float = 1.5, used_cost: float = 1.0,
                  width_weight: float = 0.3, hold_cost: float = 8.0, start_sigma_mm: float = 0.0,
                  max_candidates: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The unknown coordinate along one branch, chosen jointly over its samples.

    Parameters
    ----------
    track : biplane_match._Track
        The other view's centreline samples sorted by CC-frame depth (``near(depth, band)``
        returns their coordinate, radius and whether their duct is matched already).
    depth_cc, radius, s : (K,) arrays
        Depth (CC frame, mm), radius (mm) and arc length (mm) of the branch's samples; sample 0
        is the attachment, whose value ``v0`` is fixed.

    Returns
    -------
    values, tracked, behind : (K,) arrays
        The coordinate (mm), whether it sits on a candidate, and whether that candidate's duct is
        matched to another branch (the branch may be hidden behind it).
    """
    K = len(depth_cc)
    vals = np.full(K, float(v0))
    tracked = np.zeros(K, dtype=bool)
    behind = np.zeros(K, dtype=bool)
    if K <= 1:
        return vals, tracked, behind
    # every step's candidates at once (the loop only does what depends on the previous step): the other
    # view's samples within the band of each depth, of agreeing width, and what each costs over its step
    ds_all = np.maximum(np.diff(np.asarray(s, dtype=float)), 1e-3)
    r_all = np.maximum(np.asarray(radius[1:], dtype=float), 1e-3)
    dep = np.asarray(depth_cc[1:], dtype=float)
    lo = np.searchsorted(track.d, dep - band_mm)
    cnt = np.searchsorted(track.d, dep + band_mm) - lo
    idx = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
    step_of = np.repeat(np.arange(K - 1), cnt)
    cu_all, cr_all, cused_all = track.u[idx], track.r[idx], track.used[idx]
    rs = r_all[step_of]
    ok = (cr_all > 0.4 * rs) & (cr_all < 2.5 * rs + 0.05)
    cu_all, cr_all, cused_all, step_of, rs = cu_all[ok], cr_all[ok], cused_all[ok], step_of[ok], rs[ok]
    emit_all = ds_all[step_of] * (used_cost * cused_all
                                  + width_weight * (np.log(np.maximum(cr_all, 1e-3) / rs) / 0.35) ** 2)
    cnt = np.bincount(step_of, minlength=K - 1).astype(np.int64)
    start = np.cumsum(cnt) - cnt
    scales = jump0_mm + slope * ds_all
    if start_sigma_mm > 0:
        scales[0] = max(float(scales[0]), start_sigma_mm)    # the attachment's value is itself uncertain
    hold = hold_cost * ds_all
    kernel = compiled(_track_steps)
    if kernel is not None:
        try:
            kernel(float(v0), cu_all, cused_all, emit_all, start, cnt, scales, hold, int(max_candidates),
                   vals, tracked, behind)
            return vals, tracked, behind
        except Exception:                      # pragma: no cover - a broken numba cache or build: numpy loop
            failed(_track_steps)
            vals[1:], tracked[:], behind[:] = float(v0), False, False
    start, cnt, scales, hold = start.tolist(), cnt.tolist(), scales.tolist(), hold.tolist()
    ar = np.arange(max(cnt + [1]))
    # states per step: the candidates, plus one "hold" state carrying the best predecessor's value
    V = np.array([float(v0)])
    C = np.array([0.0])
    back: list[np.ndarray] = []
    states_v: list[np.ndarray] = [V]
    states_used: list[np.ndarray] = [np.zeros(1, dtype=bool)]
    n_cand = [0]
    for k in range(1, K):
        a, m = start[k - 1], cnt[k - 1]
        cu, cused, emit = cu_all[a:a + m], cused_all[a:a + m], emit_all[a:a + m]
        if m > max_candidates:
            # keep the nearest to the current cheapest state (a duct across the depth axis gives many)
            ref = V[int(C.argmin())]
            keep = np.argsort(np.abs(cu - ref), kind="stable")[:max_candidates]
            cu, cused, emit = cu[keep], cused[keep], emit[keep]
            m = max_candidates
        h = int(C.argmin())
        if m:
            # one row per candidate (a row-wise argmin; the same values and first-minimum ties)
            tot = ((cu[:, None] - V) / scales[k - 1]) ** 2
            tot += C
            Vn = np.empty(m + 1)
            Cn = np.empty(m + 1)
            bn = np.empty(m + 1, dtype=np.int64)
            un = np.empty(m + 1, dtype=bool)
            arg = bn[:m]
            tot.argmin(axis=1, out=arg)
            np.add(tot[ar[:m], arg], emit, out=Cn[:m])
            Cn[m] = C[h] + hold[k - 1]
            Vn[:m] = cu
            Vn[m] = V[h]
            bn[m] = h
            un[:m] = cused
            un[m] = False
            V, C = Vn, Cn
            back.append(bn)
            states_used.append(un)
        else:
            V = V[h:h + 1].copy()
            C = np.array([C[h] + hold[k - 1]])
            back.append(np.array([h], dtype=np.int64))
            states_used.append(np.zeros(1, dtype=bool))
        C -= C.min()
        states_v.append(V)
        n_cand.append(m)
    j = int(np.argmin(C))
    for k in range(K - 1, 0, -1):
        vals[k] = states_v[k][j]
        tracked[k] = j < n_cand[k]
        behind[k] = states_used[k][j]
        j = int(back[k - 1][j])
    return vals, tracked, behind


def _track_steps(v0, cu_all, cused_all, emit_all, start, cnt, scales, hold, max_candidates,
                 vals, tracked, behind):  # pragma: no cover - compiled
    """The loop of :func:`track_unknown`, scalar by scalar (for numba): the same states, costs and
    first-minimum ties; fills ``vals``, ``tracked`` and ``behind`` from sample 1 on."""
    K = len(cnt) + 1
    size = 1
    for k in range(K - 1):
        size += min(cnt[k], max_candidates) + 1
    Vs = np.empty(size)                        # every step's states, flat: candidates then the hold state
    Cs = np.empty(size)
    Us = np.zeros(size, dtype=np.bool_)
    Bs = np.zeros(size, dtype=np.int64)        # back-pointer into the previous step's states
    off = np.zeros(K + 1, dtype=np.int64)
    mk = np.zeros(K, dtype=np.int64)           # candidates kept per step (the hold state follows them)
    Vs[0] = v0
    Cs[0] = 0.0
    off[1] = 1
    for k in range(1, K):
        p0 = off[k - 1]
        L = off[k] - p0
        h = 0
        for q in range(1, L):
            if Cs[p0 + q] < Cs[p0 + h]:
                h = q
        a = start[k - 1]
        m = cnt[k - 1]
        idx = np.arange(a, a + m)
        if m > max_candidates:
            ref = Vs[p0 + h]
            idx = idx[np.argsort(np.abs(cu_all[a:a + m] - ref), kind="mergesort")[:max_candidates]]
            m = max_candidates
        o = off[k]
        sc = scales[k - 1]
        if m:
            for c in range(m):
                u = cu_all[idx[c]]
                best = 0
                bv = 0.0
                for q in range(L):
                    z = (u - Vs[p0 + q]) / sc
                    z = z * z
                    z = z + Cs[p0 + q]
                    if q == 0 or z < bv:
                        bv = z
                        best = q
                Vs[o + c] = u
                Cs[o + c] = bv + emit_all[idx[c]]
                Bs[o + c] = best
                Us[o + c] = cused_all[idx[c]]
        Vs[o + m] = Vs[p0 + h]
        Cs[o + m] = Cs[p0 + h] + hold[k - 1]
        Bs[o + m] = h
        Us[o + m] = False
        mk[k] = m
        off[k + 1] = o + m + 1
        lo = Cs[o]
        for q in range(1, m + 1):
            if Cs[o + q] < lo:
                lo = Cs[o + q]
        for q in range(m + 1):
            Cs[o + q] = Cs[o + q] - lo
    o = off[K - 1]
    j = 0
    for q in range(1, off[K] - o):
        if Cs[o + q] < Cs[o + j]:
            j = q
    for k in range(K - 1, 0, -1):
        o = off[k]
        vals[k] = Vs[o + j]
        tracked[k] = j < mk[k]
        behind[k] = Us[o + j]
        j = Bs[o + j]
