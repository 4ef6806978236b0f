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
    # states per step: the candidates, plus one "hold" state carrying the best predecessor's value
    V = np.array([float(v0)])
    C = np.array([0.0])
    first = True
    back: list[np.ndarray] = []
    states_v: list[np.ndarray] = [V]
    states_used: list[np.ndarray] = [np.zeros(1, dtype=bool)]
    states_cand: list[np.ndarray] = [np.zeros(1, dtype=bool)]
    for k in range(1, K):
        ds = max(float(s[k] - s[k - 1]), 1e-3)
        cu, cr, cused = track.near(float(depth_cc[k]), band_mm)
        if len(cu):
            r = max(float(radius[k]), 1e-3)
            ok = (cr > 0.4 * r) & (cr < 2.5 * r + 0.05)
            cu, cr, cused = cu[ok], cr[ok], cused[ok]
        if len(cu) > max_candidates:
            # keep the nearest to the current cheapest state (a duct across the depth axis gives many)
            ref = V[int(np.argmin(C))]
            keep = np.argsort(np.abs(cu - ref))[:max_candidates]
            cu, cr, cused = cu[keep], cr[keep], cused[keep]
        scale = jump0_mm + slope * ds
        if first and start_sigma_mm > 0:
            scale = max(scale, start_sigma_mm)    # the attachment's value is itself uncertain
        first = False
        if len(cu):
            trans = ((cu[None, :] - V[:, None]) / scale) ** 2
            tot = C[:, None] + trans
            arg = np.argmin(tot, axis=0)
            emit = ds * (used_cost * cused + width_weight * (np.log(np.maximum(cr, 1e-3) / r) / 0.35) ** 2)
            newC = tot[arg, np.arange(len(cu))] + emit
        else:
            arg = np.zeros(0, dtype=np.int64)
            newC = np.zeros(0)
        h = int(np.argmin(C))
        V = np.concatenate([cu, [V[h]]])
        C = np.concatenate([newC, [C[h] + hold_cost * ds]])
        C -= C.min()
        back.append(np.concatenate([arg, [h]]).astype(np.int64))
        states_v.append(V)
        states_used.append(np.concatenate([cused, [False]]))
        states_cand.append(np.concatenate([np.ones(len(cu), dtype=bool), [False]]))
    j = int(np.argmin(C))
    for k in range(K - 1, 0, -1):
        vals[k] = states_v[k][j]
        tracked[k] = states_cand[k][j]
        behind[k] = states_used[k][j]
        j = int(back[k - 1][j])
    return vals, tracked, behind
