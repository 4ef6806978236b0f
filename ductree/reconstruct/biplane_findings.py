"""Candidate findings of a ductogram: filling defects and abrupt cut-offs, per view, placed in 3D.

What radiologists report on a galactogram (DOMAIN §3): a filling defect (a
hole, a gap or a sharp narrowing of the contrast column, the column split in
two thin streams around a lesion, a bite out of its wall, flecks of contrast
in the film around a lesion) and an abrupt cut-off (a duct ending wide
instead of tapering). Each view's candidates are found on its 2D tree (``u``,
depth mm) and its mask; a CC and a lateral candidate at the same depth are
one lesion, triangulated from the two 2D sites; the rest are placed on the
3D tree (BF mm). A subtle sign seen in one view only is not reported unless
a second, different sign agrees there: as a radiologist checks a subtle
defect on the orthogonal projection.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..tree import DuctTree, iter_rows_children
from .biplane_graph import ViewTree, _edt, _polyline_length
from .biplane_match import Built, DepthMap
from .biplane_options import BiplaneOptions
from .both import both

if TYPE_CHECKING:
    from ..case import Case, LesionSpec


#: a one-view candidate is placed on the 3D node it lies on in its view, at most this far (mm) in 2D
PLACE_MAX_MM = 3.0
#: a CC and a lateral candidate at equal depth are one lesion when their triangulated point is this close
#: (mm) to the 3D tree (the tree may be off by a few mm where a lesion disturbs the column)
PAIR_TREE_MM = 4.0
#: a duct ending wide in one view: the other view's duct end within this depth difference (mm)
END_DEPTH_MM = 1.0
#: a duct ending wide takes the other view's end only where that is at least this fraction as wide
END_WIDTH_FRACTION = 0.5
#: ... and of several such ends, being this far (mm) from the tree's guess counts as much as END_DEPTH_MM of
#: depth difference
END_GUESS_MM = 5.0
#: a sign lies at an end of the tree when an end down its duct (as its view sees the tree) projects this
#: close to it (mm)
AT_END_MM = 1.0
#: ... even where the reading carries it on this far (mm) on a piece seen in the other view only
ONE_VIEW_TAIL_MM = 0.5
#: a sign seen in one view that another reading puts this much farther (mm) along the unknown coordinate
#: has an ambiguous placement (both points are given)
AMBIGUOUS_PLACEMENT_MM = 2.0


#: a defect hole narrower than this fraction of its column's width is a sliver (a subtle sign)
SLIVER_FRACTION = 1.0 / 6.0
#: a bridged gap longer than this (mm) is a "long gap", a subtle sign: the view graph joins a piece of
#: contrast to the duct end best aligned with it up to ``max_gap_mm`` away, and over 240 simulated cases
#: every gap of 3.6 mm or more lay 4-9 mm from the defect (often a piece beyond a lesion joined to the
#: wrong duct's end), while 5 of the 6 gaps under 1 mm lay at one
LONG_GAP_MM = 2.0


# --------------------------------------------------------------------------- findings

def view_candidates(t: ViewTree, opt: BiplaneOptions | None = None) -> list[dict]:
    """Candidate lesion sites seen in one view ((u, d) mm), each with its ``evidence``: hole, sliver, gap,
    long gap, fragment, narrowing, lucency, split end, split column, flecks, wide end, stub."""
    opt = opt or BiplaneOptions()
    out = []
    for h in t.holes:
        if h["defect"]:
            # a hairline lucency (under a sixth of the column's width) is as often the crotch between two ducts
            # overlapping at a fork: a subtle sign, not a hole to report from one view
            sliver = h["width_mm"] < SLIVER_FRACTION * h["duct_width_mm"]
            out.append({"kind": "filling_defect", "evidence": "sliver" if sliver else "hole", "ud": h["ud"],
                        "size_mm": h["length_mm"],
                        "detail": f"a {h['length_mm']:.1f} x {h['width_mm']:.1f} mm "
                                  f"{'hairline lucency' if sliver else 'hole'} in a "
                                  f"{h['duct_width_mm']:.1f} mm contrast column"})
    for gp in t.gaps:
        out.append({"kind": "filling_defect", "evidence": "gap" if gp["length_mm"] <= LONG_GAP_MM else "long gap",
                    "ud": gp["ud"], "size_mm": gp["length_mm"],
                    "detail": f"a {gp['length_mm']:.1f} mm gap in the contrast column"})
    out.extend(_fragment_sites(t))
    out.extend(_narrowings(t, opt))
    out.extend(_concavities(t, opt))
    out.extend(_split_ends(t, opt))
    out.extend(_split_columns(t, opt))
    out.extend(_flecks(t, opt))
    out.extend(_wide_ends(t, opt))
    out.extend(_stubs(t, opt))
    return out


#: a piece of contrast left out of the tree whose centre lies this close (mm) to the column is a sign
FRAGMENT_REACH_MM = 5.0


def _centreline(t: ViewTree):
    """All the view tree's centreline samples ((u, d) mm) and a KD-tree over them (``None`` without any),
    remembered on the tree."""
    def compute():
        from scipy.spatial import cKDTree

        lines = [e for e in t.edge_ud if len(e)]
        if not lines:
            return np.zeros((0, 2)), None
        pts = np.vstack(lines)
        return pts, cKDTree(pts)
    return t.remembered("_centreline_kd", compute)


def _fragment_sites(t: ViewTree) -> list[dict]:
    """Pieces of contrast cut off from the column: a lesion filling the lumen stops the column, and
    contrast that got past it (or filled the duct beyond through a side way before it closed) lies
    beyond it as a piece of its own, which no gap bridge could join (it does not point at a duct end).
    Each piece (``t.fragments``) whose centre lies within :data:`FRAGMENT_REACH_MM` of the tree's
    centrelines is a candidate at the middle between its centre and the nearest centreline point: the
    lesion lies between the piece and the column. In 280 simulated views (140 cases) all 32 such pieces
    lay within 3.1 mm of an inserted defect. A subtle sign: reported when another sign agrees (the same
    depth in the other view, or a different sign here)."""
    if not t.fragments:
        return []
    centreline, kd = _centreline(t)
    if kd is None:
        return []
    out = []
    for fr in t.fragments:
        c = np.asarray(fr["ud"], dtype=float)
        gap, k = kd.query(c)
        if gap > FRAGMENT_REACH_MM:
            continue
        site = 0.5 * (c + centreline[k])
        out.append({"kind": "filling_defect", "evidence": "fragment", "ud": site.tolist(), "size_mm": float(gap),
                    "detail": f"a {fr['length_mm']:.1f} mm piece of contrast cut off from the column, "
                              f"{gap:.1f} mm from it"})
    return out


def _stubs(t: ViewTree, opt: BiplaneOptions) -> list[dict]:
    """Branches cut off at their origin: a spur pruned from the skeleton (too short to be a duct of its
    own) that is nearly as wide as the duct it leaves (``stub_keep_fraction``), at least
    ``cutoff_min_radius_mm`` wide and ``stub_min_length_mm`` long. Bumps of the wall, where ducts touch
    or a soft edge wavers, are much thinner than the duct."""
    out = []
    for st in t.stubs:
        r, base, length = st["radius_mm"], st["base_radius_mm"], st["length_mm"]
        if r < opt.cutoff_min_radius_mm or r < opt.stub_keep_fraction * base or length < opt.stub_min_length_mm:
            continue
        out.append({"kind": "cutoff", "evidence": "stub", "ud": list(st["ud"]), "size_mm": 2.0 * r,
                    "detail": f"a {2 * r:.1f} mm wide branch stops {length:.1f} mm from its origin (a stub "
                              f"off a {2 * base:.1f} mm duct)"})
    return out


#: a piece of contrast apart from the column, smaller than this (mm^2), near a duct: a fleck
FLECK_MAX_MM2 = 0.05
#: ... within this distance (mm) of a duct's centreline; flecks this close together are one site
FLECK_REACH_MM = 1.5


def _flecks(t: ViewTree, opt: BiplaneOptions) -> list[dict]:
    """Flecks of contrast beside or beyond a duct, apart from its column.

    Contrast trapped in the thin film around an intraluminal lesion, too faint
    to show as a rim, breaks up into specks in the lucency (an irregular,
    mottled filling). Pieces of the mask smaller than :data:`FLECK_MAX_MM2`,
    not part of the tree, within :data:`FLECK_REACH_MM` of a duct's centreline,
    grouped when as close together; one candidate per group, at the group's
    centre, with ``duct_ud`` the nearest point of a centreline (the lesion is
    in the duct the flecks lie beside). A subtle sign: it is reported when the
    other view shows a sign at the same depth.
    """
    from scipy import ndimage as ndi

    view = t.view
    px = view.pixel_mm
    full = view.mask
    rows = np.flatnonzero(full.any(axis=1))
    cols = np.flatnonzero(full.any(axis=0))
    line_ud, line_tree = _centreline(t)
    if not len(rows) or line_tree is None:
        return []
    o = np.array([int(rows[0]), int(cols[0])])
    mask = full[o[0]:int(rows[-1]) + 1, o[1]:int(cols[-1]) + 1]
    lab, n = ndi.label(mask)
    if n < 2:
        return []
    on = np.flatnonzero(mask)               # the mask's pixels (flat indices in the crop) and their labels
    lab_on = lab.ravel()[on]
    sizes = np.bincount(lab_on, minlength=n + 1)        # sizes[0] (background) is 0: label 0 is never a fleck
    q = np.rint(view.to_px(line_ud) - o).astype(int)
    ok = (q[:, 0] >= 0) & (q[:, 1] >= 0) & (q[:, 0] < mask.shape[0]) & (q[:, 1] < mask.shape[1])
    in_tree = np.zeros(n + 1, dtype=bool)
    in_tree[lab[q[ok, 0], q[ok, 1]]] = True
    small = np.flatnonzero((sizes * px * px < FLECK_MAX_MM2) & ~in_tree)
    small = small[small > 0]
    if not len(small):
        return []
    # a fleck is a few pixels: its box centre is its centre (the box from its own pixels, in label order)
    is_small = np.zeros(n + 1, dtype=bool)
    is_small[small] = True
    pick = is_small[lab_on]
    lab_s = lab_on[pick]
    order = np.argsort(lab_s, kind="stable")
    lab_s = lab_s[order]
    yy, xx = np.divmod(on[pick][order], mask.shape[1])
    first = np.flatnonzero(np.r_[True, lab_s[1:] != lab_s[:-1]])
    centres = np.column_stack([0.5 * (np.minimum.reduceat(yy, first) + np.maximum.reduceat(yy, first)),
                               0.5 * (np.minimum.reduceat(xx, first) + np.maximum.reduceat(xx, first))]) + o
    c_ud = view.to_mm(centres)
    near = line_tree.query(c_ud)[0] <= FLECK_REACH_MM
    c_ud, area = c_ud[near], sizes[small[near]] * px * px
    out = []
    used = np.zeros(len(c_ud), dtype=bool)
    for k in range(len(c_ud)):
        if used[k]:
            continue
        group = np.zeros(len(c_ud), dtype=bool)
        group[k] = True
        while True:           # everything within reach of the group so far
            grow = ~group & (np.min(np.linalg.norm(c_ud[:, None] - c_ud[group][None], axis=2), axis=1)
                             <= FLECK_REACH_MM)
            if not grow.any():
                break
            group |= grow
        used |= group
        g = c_ud[group]
        ext = float(np.max(np.ptp(g, axis=0))) if len(g) > 1 else 0.0
        out.append({"kind": "filling_defect", "evidence": "flecks", "ud": g.mean(axis=0).tolist(),
                    "duct_ud": line_ud[line_tree.query(g.mean(axis=0))[1]].tolist(),
                    "size_mm": ext,
                    "detail": f"{int(group.sum())} fleck(s) of contrast ({float(area[group].sum()):.3f} mm^2) "
                              "beside the column"})
    return out


def _to_px(view):
    """``view.to_px`` with the inverse of the view's axes computed once (the same operations, the same
    values)."""
    if view.nipple_px is None:
        return view.to_px                    # (raises the view's own error)
    inv_t = np.linalg.inv(view.axes).T
    nip = np.asarray(view.nipple_px, dtype=float)

    def to_px(ud: np.ndarray) -> np.ndarray:
        return np.asarray(ud, dtype=float).reshape(-1, 2) @ inv_t + nip
    return to_px


def _upstream(t: ViewTree, i: int, want_mm: float,
              cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Centreline and radii of the ducts above edge ``i`` (its ancestors), about ``want_mm`` long, ending
    where edge ``i`` starts; the samples within a junction's radius of each junction are left out (the
    inscribed circle is wider there). ``cache`` (a dict kept over calls on the same tree) keeps each
    edge's kept samples and length."""
    polys, rads = [], []
    node, got = i, 0.0
    while got < want_mm and t.parent[node] > 0:
        node = int(t.parent[node])
        hit = cache.get(node) if cache is not None else None
        if hit is None:
            up, ur = t.edge_ud[node], t.edge_r[node]
            if len(up) < 2:
                hit = (None, None, 0.0)
            else:
                far = (np.linalg.norm(up - up[-1], axis=1) > 1.2 * t.r[node]) & \
                      (np.linalg.norm(up - up[0], axis=1) > 1.2 * t.r[t.parent[node]])
                hit = (up[far], ur[far], _polyline_length(up))
            if cache is not None:
                cache[node] = hit
        if hit[0] is None:
            break
        polys.insert(0, hit[0])
        rads.insert(0, hit[1])
        got += hit[2]
    if not polys:
        return np.zeros((0, 2)), np.zeros(0)
    return np.vstack(polys), np.concatenate(rads)


def _runs_below(r: np.ndarray, ref: np.ndarray, start_ok: np.ndarray, frac: float,
                inside: np.ndarray) -> list[np.ndarray]:
    """Runs of samples narrower than ``frac`` x the width before the run began: each run starts at a
    ``start_ok`` sample and goes on while ``r < frac * ref[start]`` (a running reference would sink into
    a long narrow stretch and cut it short) and ``inside`` holds."""
    runs = []
    k, n = 0, len(r)
    starts = np.flatnonzero(start_ok)
    while True:
        nxt = starts[starts >= k]
        if not len(nxt):
            break
        k0 = int(nxt[0])
        stop = ~((r[k0:] < frac * ref[k0]) & inside[k0:])
        k1 = k0 + (int(np.argmax(stop)) if stop.any() else n - k0)
        runs.append(np.arange(k0, k1))
        k = max(k1, k0 + 1)
    return runs


def _contrast_beside(mask: np.ndarray, pts: np.ndarray, d0: float, d1: float) -> bool:
    """Whether any mask pixel lies at ``d0``-``d1`` pixels to either side of the polyline ``pts`` (row,
    col), probed along its normals."""
    if len(pts) < 2 or d1 <= d0:
        return False
    tan = np.gradient(pts, axis=0)
    tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-9)
    nrm = np.column_stack([-tan[:, 1], tan[:, 0]])
    offs = np.linspace(d0, d1, max(3, int(np.ceil(d1 - d0)) + 1))
    probe = (pts[:, None, None, :] + offs[None, :, None, None] * np.array([1.0, -1.0])[None, None, :, None]
             * nrm[:, None, None, :]).reshape(-1, 2)
    q = np.rint(probe).astype(int)
    ok = (q[:, 0] >= 0) & (q[:, 1] >= 0) & (q[:, 0] < mask.shape[0]) & (q[:, 1] < mask.shape[1])
    return bool(mask[q[ok, 0], q[ok, 1]].any())


def _split_columns(t: ViewTree, opt: BiplaneOptions) -> list[dict]:
    """A contrast column split in two thin streams around a filling defect.

    A lesion filling most of a duct's lumen over a few millimetres leaves the
    contrast flowing past it in two thin rims, one along each wall (or one rim
    and a lucency open to the side): the skeleton follows one rim, whose width
    drops abruptly to under ``narrowing_fraction`` of the duct's width just
    before it, and beside it, within the duct's former width, runs a second
    stream of contrast, itself narrower than that fraction of the duct (the
    lesion takes the rest of the lumen). A duct that simply tapers has nothing
    beside it; a different duct passing close by is as wide as a duct.
    """
    from scipy import ndimage as ndi
    from scipy.ndimage import median_filter

    view = t.view
    px = view.pixel_mm
    full = view.mask
    to_px = _to_px(view)
    out = []
    up_cache: dict = {}
    for i in range(1, t.n):
        poly, rad = t.edge_ud[i], t.edge_r[i]
        if t.bridge[i] or len(poly) < 6:
            continue
        # cheap bound first: no sample narrower than the fraction of the widest duct around (this edge, the
        # junctions above it) means no narrow run
        a1 = t.parent[i]
        wide = max(float(rad.max()), float(t.r[a1]), float(t.r[t.parent[a1]]) if a1 > 0 else 0.0)
        if float(rad.min()) >= opt.narrowing_fraction * wide:
            continue
        s_e, _ = _profile(poly, rad)
        margin0 = 1.2 * t.r[t.parent[i]] if t.parent[i] > 0 else 0.0
        ends_here = not t.children[i]
        margin1 = 0.0 if ends_here else 1.2 * t.r[i]
        low = (s_e > margin0) & (s_e < s_e[-1] - margin1)
        if not low.any():
            continue
        up_p, up_r = _upstream(t, i, 5.0, up_cache)
        r_s = median_filter(rad, size=5, mode="nearest")
        s_up = (_profile(up_p, up_r)[0] - _polyline_length(up_p) - float(np.linalg.norm(poly[0] - up_p[-1]))) \
            if len(up_p) else np.zeros(0)
        s_all = np.concatenate([s_up, s_e])
        r_all = np.concatenate([up_r, rad])
        # reference: the duct's width 1.5-4 mm before each sample (upstream only, junction samples out)
        keep = ~((s_all >= 0) & (s_all <= margin0))
        s_ref, r_ref = s_all[keep], r_all[keep]
        ref = np.full(len(s_e), np.nan)
        ks = np.flatnonzero(low)
        a = np.searchsorted(s_ref, s_e[ks] - 4.0, side="left")
        z = np.searchsorted(s_ref, s_e[ks] - 1.5, side="right")
        ok = z - a >= 3
        ks, a, z = ks[ok], a[ok], z[ok]
        if not len(ks):
            continue
        # a running median is one of its samples: no reference is wider than the widest sample
        top = float(r_ref.max())
        if top < opt.narrowing_min_radius_mm or not (r_s[ks] < opt.narrowing_fraction * top).any():
            continue
        # a running median over the window's length (samples about evenly spaced along a chain), read at
        # each window's middle
        step = max(float(_median(np.diff(s_ref))) if len(s_ref) > 1 else 1.0, 1e-6)
        med = median_filter(r_ref, size=max(3, int(round(2.5 / step)) | 1), mode="nearest")
        mid = np.clip(np.searchsorted(s_ref, s_e[ks] - 2.75), 0, len(s_ref) - 1)
        ref[ks] = med[mid]
        ref0 = np.nan_to_num(ref, nan=0.0)
        low &= np.isfinite(ref) & (r_s < opt.narrowing_fraction * ref0)
        low &= ref0 >= opt.narrowing_min_radius_mm
        if not low.any():
            continue
        for run in _runs_below(r_s, ref0, low, opt.narrowing_fraction, s_e < s_e[-1] - margin1):
            length = float(s_e[run[-1]] - s_e[run[0]])
            if length < 0.8:
                continue
            R = float(ref[run[0]])
            Rp = R / px
            pts = to_px(poly[run])
            rim = float(np.max(r_s[run])) / px
            if not _contrast_beside(full, pts, rim + 2.0, 2.0 * Rp):
                continue            # nothing beside the thin stretch (a duct that tapers, or a thin branch)
            lo = np.maximum(np.floor(pts.min(axis=0) - 2.5 * Rp - 3).astype(int), 0)
            hi = np.minimum(np.ceil(pts.max(axis=0) + 2.5 * Rp + 3).astype(int), np.array(full.shape) - 1)
            crop = full[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1]
            q = np.rint(pts - lo).astype(int)
            # distance to the line and its nearest pixel, on the band of pixels near enough to matter (the
            # line's box grown by that distance: the same values as over the whole crop)
            band = int(np.ceil(2.0 * Rp + 1.0)) + 1
            g0 = np.maximum(q.min(axis=0) - band, 0)
            g1 = np.minimum(q.max(axis=0) + band + 1, crop.shape)
            line = np.zeros((g1[0] - g0[0], g1[1] - g0[1]), dtype=bool)
            line[q[:, 0] - g0[0], q[:, 1] - g0[1]] = True
            d_line, (ii, jj) = ndi.distance_transform_edt(~line, return_indices=True)
            # the column's pixels at a second rim's distance from the line (the tests below are made at
            # these pixels only)
            yy, xx = np.nonzero(crop[g0[0]:g1[0], g0[1]:g1[1]] & (d_line > rim + 1.5) & (d_line <= 2.0 * Rp + 1.0))
            # position of each pixel along the rim: the run sample its nearest line pixel belongs to
            order = np.full(line.shape, -1, dtype=np.int64)
            order[q[:, 0] - g0[0], q[:, 1] - g0[1]] = np.arange(len(run))
            along = s_e[run][np.maximum(order[ii[yy, xx], jj[yy, xx]], 0)]
            far_px = d_line[yy, xx] > 2.0 * Rp - 1.0
            yy, xx = yy + g0[0], xx + g0[1]
            # where the rim leaves the column and (if it goes on) rejoins it, the column itself is beside
            # it: pixels level with or behind those ends, and the crotch around them, are not a second rim
            tail = ends_here and run[-1] >= len(s_e) - 3
            near = along > s_e[run[min(2, len(run) - 1)]]
            near &= np.hypot(yy - q[0][0], xx - q[0][1]) > 1.2 * Rp + 1.0
            if not tail:
                near &= along < s_e[run[max(len(run) - 3, 0)]]
                near &= np.hypot(yy - q[-1][0], xx - q[-1][1]) > 1.2 * Rp + 1.0
            yy, xx, along, far_px = yy[near], xx[near], along[near], far_px[near]
            if len(yy) * px * px < 0.02:
                continue
            other = np.zeros(line.shape, dtype=bool)
            other[yy - g0[0], xx - g0[1]] = True
            comps, n = ndi.label(other)
            comp_of = comps[yy - g0[0], xx - g0[1]]
            passed = []
            for c in range(1, n + 1):
                comp = comp_of == c
                cover = float(np.ptp(along[comp]))
                if cover < max(0.6, 0.4 * length):
                    continue
                edge = comp & far_px
                if edge.any() and float(np.ptp(along[edge])) > 0.5 * cover:
                    continue            # it runs out of the duct's former width: a duct diverging, not a rim
                passed.append((cover, comp))
            if not passed:
                continue
            # wider than a stream beside a lesion (a duct running beside it): a pixel farther than the
            # fraction of the duct's radius from the background (the crop's distance transform, on a window
            # around these pixels that holds every background pixel that near, or the crop's edge)
            sel = np.logical_or.reduce([comp for _, comp in passed])
            m = int(np.ceil(opt.narrowing_fraction * Rp)) + 1
            w0, w1 = max(int(yy[sel].min()) - m, 0), min(int(yy[sel].max()) + m + 1, crop.shape[0])
            v0, v1 = max(int(xx[sel].min()) - m, 0), min(int(xx[sel].max()) + m + 1, crop.shape[1])
            wide_px = np.zeros(len(yy), dtype=bool)
            wide_px[sel] = ~_within(np.pad(crop[w0:w1, v0:v1], 1), opt.narrowing_fraction * Rp)[1:-1, 1:-1][
                yy[sel] - w0, xx[sel] - v0]
            best = None
            for cover, comp in passed:
                if wide_px[comp].any():
                    continue
                if best is None or cover > best[0]:
                    best = (cover, comp)
            if best is None:
                continue
            ys, xs = yy[best[1]], xx[best[1]]
            rim_c = pts.mean(axis=0)
            oth_c = np.array([ys.mean(), xs.mean()]) + lo
            c_ud = view.to_mm(0.5 * (rim_c + oth_c))[0]
            out.append({"kind": "filling_defect", "evidence": "split column", "ud": c_ud.tolist(),
                        "size_mm": length,
                        "detail": f"the {2 * R:.1f} mm contrast column splits in two thin streams over "
                                  f"{length:.1f} mm"})
    return out


def _concavities(t: ViewTree, opt: BiplaneOptions) -> list[dict]:
    """Lucencies open to one side: a bite out of a duct's wall, a duct ending in a split or a cup.

    Around each duct (away from its forks and from other ducts) the mask is
    closed with a disk of the duct's radius (by distance transforms, so the
    cost does not grow with the radius): a convex, tapering or straight duct
    does not change; background that a lesion displaces from inside the
    lumen, narrower than the duct, is filled. Filled pieces at least
    ``concavity_depth`` radii deep and ``concavity_area`` radii^2 large are
    candidates.
    """
    from scipy import ndimage as ndi

    view = t.view
    px = view.pixel_mm
    full = view.mask
    rows = np.flatnonzero(full.any(axis=1))
    cols = np.flatnonzero(full.any(axis=0))
    if not len(rows):
        return []
    margin = 8
    o = np.array([max(int(rows[0]) - margin, 0), max(int(cols[0]) - margin, 0)])
    mask = full[o[0]:int(rows[-1]) + margin + 1, o[1]:int(cols[-1]) + margin + 1]
    H, W = mask.shape
    to_px = _to_px(view)
    polys = [to_px(e) - o if len(e) else np.zeros((0, 2)) for e in t.edge_ud]
    med_r = np.array([float(_median(r)) / px if len(r) else 0.0 for r in t.edge_r])
    # every centreline rasterised with its edge's index: the nearest centreline of any pixel
    lab = np.zeros((H, W), dtype=np.int32)
    drawn_px = []
    for j in range(1, t.n):
        q = np.rint(polys[j]).astype(int)
        ok = (q[:, 0] >= 0) & (q[:, 1] >= 0) & (q[:, 0] < H) & (q[:, 1] < W)
        lab[q[ok, 0], q[ok, 1]] = j
        drawn_px.append(q[ok])
    drawn_px = np.vstack(drawn_px) if drawn_px else np.zeros((0, 2), dtype=int)
    if not len(drawn_px):
        return []
    def near_map(sl, rp):
        """Distance to the nearest centreline and its edge index, over the crop ``sl`` (computed on the crop
        grown by the farthest distance that matters, so it equals the whole image's there)."""
        reach = int(np.ceil(1.5 * max(float(med_r.max()), rp, 1.0))) + 2
        r0, r1 = max(sl[0].start - reach, 0), min(sl[0].stop + reach, H)
        c0, c1 = max(sl[1].start - reach, 0), min(sl[1].stop + reach, W)
        big = lab[r0:r1, c0:c1]
        if not big.any():
            return np.full((sl[0].stop - sl[0].start, sl[1].stop - sl[1].start), np.inf), \
                np.zeros((sl[0].stop - sl[0].start, sl[1].stop - sl[1].start), dtype=np.int32)
        dist, (ii, jj) = ndi.distance_transform_edt(big == 0, return_indices=True)
        inner = (slice(sl[0].start - r0, sl[0].stop - r0), slice(sl[1].start - c0, sl[1].stop - c0))
        return dist[inner], big[ii, jj][inner]

    out = []
    kind = t.kind
    lines = None
    for i in range(1, t.n):
        e, r = t.edge_ud[i], t.edge_r[i]
        if len(e) < 6 or t.bridge[i]:
            continue
        s, _ = _profile(e, r)
        L = s[-1]
        body = (s > 1.0) & (s < L - (2.5 if kind[i] == 3 else 1.0))
        if body.sum() < 3 or L < 1.5:
            continue
        R = float(_median(r[body]))
        if R < opt.narrowing_min_radius_mm:
            continue
        if kind[i] != 3 and float(np.min(r[body])) > 0.85 * R:
            continue            # no dip in the inscribed radius along the duct: nothing bitten out of it
        Rp = R / px
        P = polys[i]
        # a piece 0.4 radii deep within 1.2 radii of the centreline brings the wall nearer than 0.85 radii
        # to the centreline beside it: only look around such dips (and at a tip's last millimetres)
        dip = r < 0.85 * R
        if kind[i] == 3:
            dip |= s > L - 3.0
        reach = 2.0 * R + 1.0
        cover = np.zeros(len(s) + 1)
        np.add.at(cover, np.searchsorted(s, s[dip] - reach), 1)
        np.add.at(cover, np.searchsorted(s, s[dip] + reach, side="right"), -1)
        near_dip = np.cumsum(cover)[:-1] > 0
        Pd = P[near_dip]
        lo = np.maximum(np.floor(Pd.min(axis=0) - 3 * Rp - 3).astype(int), 0)
        hi = np.minimum(np.ceil(Pd.max(axis=0) + 3 * Rp + 3).astype(int), np.array([H, W]) - 1)
        sl = (slice(lo[0], hi[0] + 1), slice(lo[1], hi[1] + 1))
        crop = mask[sl]
        if crop.size == 0:
            continue
        # only inside this duct's lumen: near its centreline, away from its forks and from other ducts
        # (each test is made only at the pixels the closing added, with the exact distances a distance
        # transform would give: the square root of the least squared pixel distance); the closing is
        # needed only within the box of pixels that near
        own_px = np.argwhere(lab[sl] == i)
        if not len(own_px):
            continue
        reach_own = int(np.ceil(1.2 * Rp))
        b0 = np.maximum(own_px.min(axis=0) - reach_own, 0)
        b1 = np.minimum(own_px.max(axis=0) + reach_own + 1, crop.shape)
        box = (slice(b0[0], b1[0]), slice(b0[1], b1[1]))
        closed = _close_disk(crop, Rp, (b0[0], b1[0], b0[1], b1[1]))
        added = closed[box] & ~crop[box]         # (in the box: nothing outside it is kept below)
        if not added.any():
            continue
        # what follows only keeps parts of these pieces: skip the duct unless one is large enough already
        pieces, n_p = ndi.label(added)
        if np.bincount(pieces.ravel())[1:].max() * px * px < opt.concavity_area * R * R:
            continue
        cy, cx = np.nonzero(added)
        cy, cx = cy + b0[0], cx + b0[1]          # crop pixels
        d2 = _nearest_d2(own_px, cy, cx, 1.2 * Rp + 1.0)
        own = np.sqrt(d2) <= 1.2 * Rp
        cy, cx = cy[own], cx[own]
        if not len(cy):
            continue
        yy, xx = cy + sl[0].start, cx + sl[1].start
        out_here = np.zeros(len(cy), dtype=bool)
        for end, how_far in ((P[0], 2.0), (P[-1], 2.0 if kind[i] != 3 else 1.5)):
            out_here |= np.hypot(yy - end[0], xx - end[1]) <= how_far * Rp
        if out_here.all():
            continue
        cy, cx, yy, xx = cy[~out_here], cx[~out_here], yy[~out_here], xx[~out_here]
        if lines is None:
            lines = _LinePixels(lab, drawn_px)
        beside = lines.other_duct_near(yy, xx, i, Rp, med_r)
        if beside is None:          # the nearest centreline is a tie between ducts that decide differently
            dist_here, nb = near_map(sl, Rp)
            dist_here, nb = dist_here[cy, cx], nb[cy, cx]
            beside = (nb != i) & (dist_here <= 1.5 * np.maximum(Rp, med_r[nb]))
        if beside.all():
            continue
        cand = np.zeros(added.shape, dtype=bool)
        cand[cy[~beside] - b0[0], cx[~beside] - b0[1]] = True
        comps, n = ndi.label(cand)
        areas = np.bincount(comps.ravel(), minlength=n + 1)
        for k in range(1, n + 1):
            area = areas[k] * px * px
            if area < opt.concavity_area * R * R:
                continue
            comp = comps == k
            depth = float(_edt(np.pad(comp, 1)).max()) * px
            if depth < opt.concavity_depth * R:
                continue
            ys, xs = np.nonzero(comp)
            ys, xs = ys + b0[0], xs + b0[1]      # crop pixels
            c = np.array([ys.mean() + lo[0], xs.mean() + lo[1]]) + o
            ext = max(np.ptp(ys), np.ptp(xs)) * px
            out.append({"kind": "filling_defect", "evidence": "lucency", "ud": view.to_mm(c)[0].tolist(),
                        "size_mm": float(ext),
                        "detail": f"a {ext:.1f} mm lucency ({area:.2f} mm^2) inside a {2 * R:.1f} mm duct"})
    return out


def _within(m: np.ndarray, r: float) -> np.ndarray:
    """``_edt(m) <= r`` (each pixel's distance to the nearest background pixel of ``m`` at most ``r``
    pixels), from the exact integer squared distances: the same booleans without the square roots."""
    try:
        import edt as _edt_pkg
    except ImportError:                  # pragma: no cover - optional speed-up
        return _edt(m) <= r
    b = np.ascontiguousarray(m, dtype=bool)
    if b.ndim != 2 or b.all() or not b.any():
        return _edt(m) <= r
    sq = _edt_pkg.edtsq(b, black_border=False, parallel=1)
    if float(sq.max()) > 1.0e6:          # far below float32's exact integers (2^24): else the plain way
        return _edt(m) <= r
    n = int(np.floor(r * r))             # the largest integer whose square root is at most r
    while np.sqrt(float(n + 1)) <= r:
        n += 1
    while n >= 0 and np.sqrt(float(n)) > r:
        n -= 1
    return sq <= n


def _nearest_d2(pts: np.ndarray, y: np.ndarray, x: np.ndarray, bound: float) -> np.ndarray:
    """Least squared distance (pixels^2, exact integers as float64) from each pixel (``y``, ``x``) to the
    pixels ``pts`` (n x 2, row col); inf where none is nearer than ``bound`` pixels."""
    from scipy.spatial import cKDTree

    if not len(y):
        return np.zeros(0)
    k = cKDTree(pts).query(np.column_stack([y, x]), distance_upper_bound=bound)[1]
    found = k < len(pts)
    k = np.where(found, k, 0)
    d2 = ((pts[k, 0] - y) ** 2 + (pts[k, 1] - x) ** 2).astype(np.float64)
    d2[~found] = np.inf
    return d2


class _LinePixels:
    """The rasterised centrelines of a view (``lab``: edge index per pixel, 0 elsewhere; ``drawn``: the pixels
    drawn), for nearest-centreline queries at a few pixels (instead of a feature transform over a crop)."""

    #: neighbours looked at per pixel: more pixels than this tied at the least distance -> undecided
    K = 4

    def __init__(self, lab: np.ndarray, drawn: np.ndarray):
        from scipy.spatial import cKDTree

        w = int(lab.shape[1])
        self.px = np.column_stack(np.divmod(np.unique(drawn[:, 0] * w + drawn[:, 1]), w))   # each pixel once
        self.edge = lab[self.px[:, 0], self.px[:, 1]]
        self.tree = cKDTree(self.px)

    def other_duct_near(self, y: np.ndarray, x: np.ndarray, i: int, rp: float,
                        med_r: np.ndarray) -> np.ndarray | None:
        """Per pixel: whether its nearest centreline pixel belongs to a duct other than ``i`` and lies
        within 1.5 x the larger of ``rp`` and that duct's median radius (pixels), the nearest as
        ``scipy.ndimage.distance_transform_edt`` picks it (of equally near pixels, the one with the least
        column, then the least row); None when more than :attr:`K` pixels are equally near."""
        bound = 1.5 * max(float(med_r.max()), rp) + 1.0     # farther, no duct is near enough
        _, k = self.tree.query(np.column_stack([y, x]), k=self.K, distance_upper_bound=bound)
        found = k < len(self.px)
        kk = np.where(found, k, 0)
        d2 = np.where(found, (self.px[kk, 0] - y[:, None]) ** 2 + (self.px[kk, 1] - x[:, None]) ** 2, -1)
        d2min = d2[:, 0]
        tied = found & (d2 == d2min[:, None])
        if tied[:, -1].any():
            return None
        # of the tied pixels (the first few of each row), the least (column, row)
        big = np.iinfo(np.int64).max
        key = np.where(tied, self.px[kk, 1].astype(np.int64) * (int(self.px[:, 0].max()) + 1) + self.px[kk, 0], big)
        pick = kk[np.arange(len(kk)), np.argmin(key, axis=1)]
        dist = np.sqrt(np.maximum(d2min, 0).astype(np.float64))
        j = self.edge[pick]
        return found[:, 0] & (j != i) & (dist <= 1.5 * np.maximum(rp, med_r[j]))


def _close_disk(crop: np.ndarray, rp: float, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Morphological closing of ``crop`` with a disk of radius ``rp`` pixels (by distance transforms), the
    crop's outside taken as background.

    A wide disk is applied on the mask averaged over k x k blocks (k up to a sixth of the radius, so
    what it fills -- pieces at least 0.4 radii deep -- keeps several pixels), then brought back to
    full resolution: the cost falls with k^2. With ``box`` (row0, row1, col0, col1; crop pixels) the
    closing is exact only within that box (the distance transforms run on the box grown by what they
    can reach); outside it the result is undefined."""
    H, W = crop.shape
    if box is None:
        box = (0, H, 0, W)
    k = max(1, int(rp // 6))
    if k > 1:
        Hp, Wp = -(-H // k) * k, -(-W // k) * k
        big = np.zeros((Hp, Wp), dtype=np.uint8)
        big[:H, :W] = crop
        # a block's mean is at least one half (its count exact, so the same test as on float means)
        small = 2 * big.reshape(Hp // k, k, Wp // k, k).sum(axis=(1, 3), dtype=np.int64) >= k * k
        closed = _close_disk(small, rp / k, (box[0] // k, -(-box[1] // k), box[2] // k, -(-box[3] // k)))
        return np.repeat(np.repeat(closed, k, axis=0), k, axis=1)[:H, :W] | crop
    pad = int(np.ceil(rp)) + 2
    cp = np.pad(crop, pad)
    Hq, Wq = cp.shape
    reach = int(np.ceil(rp)) + 1
    # the erosion's window: every pixel within rp of the box; the dilation's: every pixel within rp of that
    e0, e1 = max(box[0] + pad - reach, 0), min(box[1] + pad + reach, Hq)
    e2, e3 = max(box[2] + pad - reach, 0), min(box[3] + pad + reach, Wq)
    d0, d1, d2, d3 = max(e0 - reach, 0), min(e1 + reach, Hq), max(e2 - reach, 0), min(e3 + reach, Wq)
    sub = cp[d0:d1, d2:d3]
    dilated = _within(~sub, rp) if sub.any() else np.zeros(sub.shape, dtype=bool)
    dilated = dilated[e0 - d0:e1 - d0, e2 - d2:e3 - d2]
    eroded = np.ones(dilated.shape, dtype=bool) if dilated.all() else ~_within(dilated, rp)
    out = np.zeros((H, W), dtype=bool)
    out[box[0]:box[1], box[2]:box[3]] = eroded[box[0] + pad - e0:box[1] + pad - e0,
                                               box[2] + pad - e2:box[3] + pad - e2]
    return out


#: the skeleton of an end split in three prongs forks twice: a link shorter than this (mm) between the forks
PRONG_LINK_MM = 0.5


def _split_ends(t: ViewTree, opt: BiplaneOptions) -> list[dict]:
    """A duct that ends in two thin prongs: the contrast runs around a mass at its end (a split or
    crab-claw end). A fork whose children both end within ``split_max_mm``, each much thinner than the
    duct, close together (or three such prongs: :func:`_prongs`)."""
    out = []
    for i in range(1, t.n):
        kids = _prongs(t, i)
        if kids is None:
            continue
        poly, rad = t.edge_ud[i], t.edge_r[i]
        if len(poly) < 4:
            continue
        s, _ = _profile(poly, rad)
        body = s < s[-1] - 1.0 - t.r[i]
        if body.sum() < 2:
            continue
        R = float(_median(rad[body]))
        if R < opt.narrowing_min_radius_mm:
            continue
        lens = [_polyline_length(t.edge_ud[c]) for c in kids]
        widths = [float(_median(t.edge_r[c])) for c in kids]
        ends = [t.edge_ud[c][-1] for c in kids]
        if max(lens) > opt.split_max_mm or max(widths) > opt.split_prong_fraction * R:
            continue
        spread = max(float(np.linalg.norm(a - b)) for k, a in enumerate(ends) for b in ends[k + 1:])
        if max(lens) > 2.0 * min(lens) or spread > 2.2 * R + 0.2:
            continue            # natural children diverge; prongs around a mass run side by side
        c = 0.5 * (t.ud[i] + np.mean(ends, axis=0))
        out.append({"kind": "filling_defect", "evidence": "split end", "ud": c.tolist(), "size_mm": float(max(lens)),
                    "detail": f"a {2 * R:.1f} mm duct ends split in {('two', 'three')[len(kids) - 2]} thin prongs "
                              f"({max(lens):.1f} mm)"})
    return out


def _prongs(t: ViewTree, i: int) -> list[int] | None:
    """The ends a split end at duct ``i`` would be made of: its two children when both are ends, or the ends
    of a child fork reached over a link shorter than :data:`PRONG_LINK_MM`; None otherwise."""
    out = []
    for c in t.children[i]:
        if t.kind[c] == 3:
            out.append(c)
        elif _polyline_length(t.edge_ud[c]) < PRONG_LINK_MM and all(t.kind[g] == 3 for g in t.children[c]):
            out.extend(t.children[c])
        else:
            return None
    return out if 2 <= len(out) <= 3 else None


def _profile(poly: np.ndarray, rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(poly, axis=0)
    seg = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1])      # np.linalg.norm(d, axis=1), bit for bit
    return np.concatenate([[0.0], np.cumsum(seg)]), rad


def _median(a: np.ndarray) -> np.floating:
    """``np.median`` of a 1D array, the same value (the middle sample, or the mean of the two middle ones)
    without its overhead (a few microseconds, called for every duct)."""
    n = len(a)
    if n == 0:
        return np.median(a)
    srt = np.sort(a)
    if srt[-1] != srt[-1]:              # a NaN (sorted last): numpy's own answer
        return np.median(a)
    h = n // 2
    return srt[h] if n % 2 else (srt[h - 1] + srt[h]) / 2.0


def _wide_ends(t: ViewTree, opt: BiplaneOptions) -> list[dict]:
    """Ducts that end without tapering: the width near the end (past the rounded cap) is most of the
    width 2-4 mm before it."""
    out = []
    kind = t.kind
    contacts = np.array([c["ud"] for c in t.crossings if c["kind"] in ("T", "forced")]).reshape(-1, 2)
    for i in np.flatnonzero(kind == 3):
        poly, rad = t.edge_ud[i], t.edge_r[i]
        if len(poly) < 3:
            continue
        if len(contacts) and np.min(np.linalg.norm(contacts - poly[-1], axis=1)) < 1.0 + t.r[i]:
            continue    # an end made by cutting a contact with another duct: where it hides, not where it stops
        poly, rad = _tip_profile(t, i, 4.5)
        s, r = _profile(poly[::-1], rad[::-1])        # from the tip back (into the parent if short)
        if s[-1] < 2.5:
            continue
        ref = (s >= 2.0) & (s <= 4.0)
        if not ref.any():
            continue
        r_ref = float(_median(r[ref]))
        n_own = len(t.edge_ud[i])                   # the tip profile starts with the duct's own samples
        r_ref = _stub_reference(s[:n_own], r[:n_own], float(t.r[t.parent[i]]), r_ref, opt)
        if r_ref < opt.cutoff_min_radius_mm:
            continue
        near = (s >= 0.8 * r_ref) & (s <= 0.8 * r_ref + 0.5)
        if near.any():
            r_end = float(_median(r[near]))
        else:   # a short stub whose skeleton chain is a straight jump from its junction: read the mask there
            s_at = np.linspace(0.8 * r_ref, 0.8 * r_ref + 0.5, 6)
            pts = np.column_stack([np.interp(s_at, s, poly[::-1, 0]), np.interp(s_at, s, poly[::-1, 1])])
            r_end = float(_median(_mask_radius(t.view, pts)))
        if r_end >= opt.cutoff_keep_fraction * r_ref:
            out.append({"kind": "cutoff", "evidence": "wide end", "ud": poly[-1].tolist(), "size_mm": 2.0 * r_end,
                        "detail": f"a {2 * r_end:.1f} mm wide duct ends abruptly (no tapering)"})
    return out


def _stub_reference(s: np.ndarray, r: np.ndarray, r_junction: float, r_ref: float,
                    opt: BiplaneOptions) -> float:
    """The width a short terminal duct is judged against: the duct it leaves (``r_ref``, read 2-4 mm from
    the end), or its own width when it is shorter than that, narrower than the duct it leaves and still a
    duct's width (a branch cut off just past its fork keeps its own width to a round end; a natural tip
    tapers, so its own widest part lies at the fork and its end stays narrow). ``s``, ``r``: the duct's
    own samples from its end back to its junction (mm); ``r_junction``: the junction's radius (mm)."""
    if s[-1] >= 2.0:
        return r_ref
    own = s <= s[-1] - 1.2 * r_junction              # off the junction's inscribed circle
    if not own.any():
        return r_ref
    r_own = float(r[own].max())
    if r_own < r_ref and r_own >= max(1.2 * opt.cutoff_min_radius_mm, 0.6 * r_ref):
        return r_own
    return r_ref


def _mask_radius(view, ud: np.ndarray) -> np.ndarray:
    """The duct's radius (mm) at points ``ud`` (mm) read from the mask as the skeleton reads it: the distance
    to the background minus half a pixel (computed on a crop around the points)."""
    px = view.pixel_mm
    rc = np.rint(_to_px(view)(ud)).astype(int)
    pad = int(math.ceil(4.0 / px))
    lo = np.maximum(rc.min(axis=0) - pad, 0)
    hi = np.minimum(rc.max(axis=0) + pad + 1, view.mask.shape)
    crop = view.mask[lo[0]:hi[0], lo[1]:hi[1]]
    e = _edt(crop)
    at = np.clip(rc - lo, 0, np.array(crop.shape) - 1)
    return np.maximum(e[at[:, 0], at[:, 1]] - 0.5, 0.0) * px


def _tip_profile(t: ViewTree, i: int, want_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Centreline and radii ending at tip ``i``, extended up through its ancestors to ``want_mm`` long.

    A duct cut off just past a fork leaves a short stub: its width before the
    end is read on the duct it came from (the junction's own samples, within
    its radius, are left out: the inscribed circle is wider there).
    """
    poly, rad = t.edge_ud[i], t.edge_r[i]
    node = i
    while _polyline_length(poly) < want_mm and t.parent[node] > 0:
        node = int(t.parent[node])
        up, ur = t.edge_ud[node], t.edge_r[node]
        if len(up) < 2:
            break
        far = np.linalg.norm(up - up[-1], axis=1) > 1.2 * t.r[node]
        far[0] = True
        poly = np.vstack([up[far], poly])
        rad = np.concatenate([ur[far], rad])
    return poly, rad


def _narrowings(t: ViewTree, opt: BiplaneOptions) -> list[dict]:
    """A short sharp narrowing of a duct (a defect against one wall): width below
    ``narrowing_fraction`` of the duct's width around it, away from forks and crossings."""
    out = []
    cross = np.array([c["ud"] for c in t.crossings]).reshape(-1, 2)
    for i in range(1, t.n):
        poly, rad = t.edge_ud[i], t.edge_r[i]
        if t.bridge[i] or len(poly) < 10:
            continue
        s, r = _profile(poly, rad)
        L = s[-1]
        r_med = float(_median(r))
        if r_med < opt.narrowing_min_radius_mm or L < 3.0:
            continue
        from scipy.ndimage import median_filter

        r_s = median_filter(r, size=5, mode="nearest")
        # baseline: running median over about +-2 mm (samples are about evenly spaced along a chain)
        step = max(L / max(len(s) - 1, 1), 1e-6)
        base = median_filter(r_s, size=max(3, int(round(4.0 / step)) | 1), mode="nearest")
        margin0 = 1.5 * t.r[t.parent[i]] + 0.5
        margin1 = (1.5 * t.r[i] + 0.5) if t.children[i] else (3.0 + 1.5 * t.r[i])
        inner = (s > margin0) & (s < L - margin1)
        low = inner & (r_s < opt.narrowing_fraction * base)
        if not low.any():
            continue
        # one candidate per run of low samples
        idx = np.flatnonzero(low)
        runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
        for run in runs:
            if s[run[-1]] - s[run[0]] < 0.2:
                continue
            k = run[int(np.argmin(r_s[run]))]
            p = poly[k]
            if len(cross) and np.min(np.linalg.norm(cross - p, axis=1)) < 3.0:
                continue
            out.append({"kind": "filling_defect", "evidence": "narrowing", "ud": p.tolist(),
                        "size_mm": float(s[run[-1]] - s[run[0]]),
                        "detail": f"the column narrows to {100 * r_s[k] / base[k]:.0f}% of its width"})
    return out


def find_candidates(tree: DuctTree, b: Built, ta: ViewTree, tb: ViewTree, opt: BiplaneOptions | None = None,
                    f: DepthMap | None = None, support: list[Built] | None = None) -> list[dict]:
    """Candidate findings of both views, placed in 3D and merged across views.

    A candidate of the CC and one of the lateral at the same depth (within
    ``pair_depth_mm`` after the depth map) are one lesion seen twice: its point
    is triangulated from the two 2D sites (``x`` from the CC, ``z`` from the
    lateral, the mean depth; flecks give the point of the duct they lie
    beside), which does not depend on the branch matching; the
    pair is accepted when that point lies within ``PAIR_TREE_MM`` of the 3D tree
    (two sites at equal depth on unrelated ducts triangulate to empty space),
    or of any ``support`` reading (the other readings of the same views: where
    the chosen reading followed the wrong duct at the lesion, the sites still
    lie on a duct another reading placed there).
    A candidate seen in one view keeps its own 2D site (``u``; its depth made
    common with the depth map) and takes the unknown coordinate from the 3D
    tree where it lies on it in that view; a duct ending wide takes it from
    the other view's duct end at the same depth, about as wide, when there is
    one (:func:`_end_in_other_view`).
    """
    opt = opt or BiplaneOptions()
    cands_cc, cands_lat = both(lambda: view_candidates(ta, opt), lambda: view_candidates(tb, opt))
    per_view = {"cc": cands_cc, "lateral": cands_lat}
    placed: list[dict] = []
    paired: dict[str, set[int]] = {"cc": set(), "lateral": set()}
    if f is not None and len(b.pos):
        A, B = per_view["cc"], per_view["lateral"]
        cand = []
        for i, ca in enumerate(A):
            for j, cb in enumerate(B):
                dd = abs(ca["ud"][1] - float(f(cb["ud"][1])))
                if dd > opt.pair_depth_mm:
                    continue
                p = np.array([ca.get("duct_ud", ca["ud"])[0], 0.5 * (ca["ud"][1] + cb["ud"][1]),
                              cb.get("duct_ud", cb["ud"])[0]])
                far = min(float(np.min(np.linalg.norm(r.pos - p, axis=1)))
                          for r in [b, *(support or [])] if len(r.pos))
                if far <= PAIR_TREE_MM:
                    # equally consistent pairings: the more specific signs first (a fleck is the least)
                    vague = 0.5 * ((ca["evidence"] == "flecks") + (cb["evidence"] == "flecks"))
                    cand.append((dd + 0.25 * far + vague, i, j, p))
        for _, i, j, p in sorted(cand, key=lambda c: c[0]):
            if i in paired["cc"] or j in paired["lateral"]:
                continue
            paired["cc"].add(i)
            paired["lateral"].add(j)
            row = int(np.argmin(np.linalg.norm(b.pos - p, axis=1)))
            for key, c in (("cc", A[i]), ("lateral", B[j])):
                placed.append({**c, "view": key, "row": row, "node": row, "point": p, "paired": True})
    reach = _reach_mm(b.parent, b.pos)
    for key, coords in (("cc", b.cc_ud), ("lateral", b.lat_ud)):
        ends_here = _ends_in_view(b.parent, b.view, key, reach)
        seen = np.isin(np.asarray(b.view), ("both", key)) & np.all(np.isfinite(coords), axis=1)
        for k, c in enumerate(per_view[key]):
            if k in paired[key]:
                continue
            hit = _place_on_segments(b, coords, np.asarray(c["ud"], dtype=float), PLACE_MAX_MM)
            if hit is None:
                continue
            row, p, at = hit
            d = float(c["ud"][1])
            if f is not None:   # the common depth: the mean of its depth and the other view's (depth map)
                p[1] = 0.5 * (d + float(f.inverse(d) if key == "cc" else f(d)))
            else:               # the segment's, shifted by the 2D offset
                p[1] += d - at[1]
            p[0 if key == "cc" else 2] = c["ud"][0]   # its own across-coordinate; the other is the tree's
            # a duct ending wide takes its unknown coordinate from the other view's end at its depth (one
            # about as wide: a tapering end there is another duct's)
            if c["evidence"] == "wide end" and f is not None:
                _end_in_other_view(p, d, key, tb if key == "cc" else ta, f, 0.5 * c["size_mm"])
            if c["evidence"] == "hole" and _ducts_overlap(b, coords, np.asarray(c["ud"], dtype=float),
                                                          2 if key == "cc" else 0):
                continue        # a lucency where two ducts cross in this view: the space between them
            at_end = bool(ends_here[row]) or _end_just_past(b.parent, coords, ends_here & seen, row, c["ud"])
            placed.append({**c, "view": key, "row": row, "node": row, "point": p, "paired": False,
                           "at_end": at_end,
                           "alternatives": _placements_elsewhere(support or [], key, c["ud"], p)})
    return _merge_findings(tree, placed, opt, confirm=True)


def _placements_elsewhere(readings: list[Built], key: str, ud, p: np.ndarray) -> list[np.ndarray]:
    """Where the other ``readings`` of the same views put a sign seen in one view at ``ud`` (mm): its point
    ``p`` (BF mm) with the unknown coordinate (``z`` for a CC sign, ``x`` for a lateral one) taken from the
    reading's duct under the sign instead, when that lies more than :data:`AMBIGUOUS_PLACEMENT_MM` away.
    One view cannot tell which of two ducts over each other in it holds the sign; where the readings
    disagree, the finding says so."""
    axis = 2 if key == "cc" else 0
    out: list[np.ndarray] = []
    for r in readings:
        hit = _place_on_segments(r, r.cc_ud if key == "cc" else r.lat_ud, np.asarray(ud, dtype=float),
                                 PLACE_MAX_MM)
        if hit is None:
            continue
        q = p.copy()
        q[axis] = hit[1][axis]
        _add_if_elsewhere(out, q, p)
    return out


def _add_if_elsewhere(places: list[np.ndarray], q: np.ndarray, p: np.ndarray) -> None:
    """Append ``q`` (BF mm) to ``places`` when it lies more than :data:`AMBIGUOUS_PLACEMENT_MM` from ``p`` and
    more than 1 mm from every place already listed."""
    if np.linalg.norm(q - p) > AMBIGUOUS_PLACEMENT_MM and all(np.linalg.norm(q - a) > 1.0 for a in places):
        places.append(q)


def _end_in_other_view(p: np.ndarray, d: float, key: str, other: ViewTree, f: DepthMap,
                       r_end_mm: float | None = None) -> None:
    """A duct ending wide in one view ends in the other too, at the same depth: take the unknown
    coordinate of ``p`` (BF mm, in place) from the other view's duct end within ``END_DEPTH_MM`` of that
    depth (the tree may have paired the duct with the wrong one there).

    With ``r_end_mm`` (the wide end's radius), only ends at least :data:`END_WIDTH_FRACTION` as wide just
    before the tip count: a duct is about as wide in both views, and a tapering end is another duct's. Of
    several, the one that agrees best wins: depth difference per ``END_DEPTH_MM``, plus the width ratio's
    factor of two (with ``r_end_mm``), plus the distance from the tree's guess per :data:`END_GUESS_MM`."""
    idx = np.flatnonzero(other.kind == 3)
    r_tip = np.array([_radius_before_tip(other, int(i)) for i in idx]) if r_end_mm is not None else None
    if r_tip is not None:
        keep = r_tip >= END_WIDTH_FRACTION * r_end_mm
        idx, r_tip = idx[keep], r_tip[keep]
    tips = other.ud[idx]
    if not len(tips):
        return
    # the other view's ends at this view's depth (the map takes lateral depths to CC depths)
    d_other = np.asarray(f(tips[:, 1]) if key == "cc" else f.inverse(tips[:, 1]), dtype=float)
    near = np.abs(d_other - d) <= END_DEPTH_MM
    if not near.any():
        return
    axis = 2 if key == "cc" else 0
    u = tips[near, 0]
    cost = np.abs(d_other[near] - d) / END_DEPTH_MM + np.abs(u - p[axis]) / END_GUESS_MM
    if r_tip is not None:
        cost += np.abs(np.log(r_tip[near] / r_end_mm)) / math.log(2.0)
    p[axis] = float(u[np.argmin(cost)])


def _radius_before_tip(t: ViewTree, i: int) -> float:
    """Median radius (mm) of tip ``i``'s duct 0.5-1.5 mm back from its end (past the rounded cap)."""
    poly, rad = _tip_profile(t, i, 2.0)
    s, r = _profile(poly[::-1], rad[::-1])
    sel = (s >= 0.5) & (s <= 1.5)
    return float(_median(r[sel])) if sel.any() else float(t.r[i])


def _ducts_overlap(b: Built, coords: np.ndarray, ud: np.ndarray, beam: int) -> bool:
    """Whether two ducts of the 3D tree lie over each other in a view at ``ud`` (u, d mm): segments whose
    projections (``coords``) pass over the site, apart along the beam (BF axis ``beam``: ``z`` for the
    CC, ``x`` for the lateral) by more than their radii and 0.5 mm (seen apart in the other view)."""
    kids = np.flatnonzero(b.parent >= 0)
    par = b.parent[kids]
    ok = np.all(np.isfinite(coords[kids]), axis=1) & np.all(np.isfinite(coords[par]), axis=1)
    kids, par = kids[ok], par[ok]
    if len(kids) < 2:
        return False
    a, e = coords[par], coords[kids]
    ab = e - a
    den = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12)
    t = np.clip(np.einsum("ij,ij->i", ud - a, ab) / den, 0.0, 1.0)
    r = b.radius[par] + t * (b.radius[kids] - b.radius[par])
    over = np.linalg.norm(a + t[:, None] * ab - ud, axis=1) <= r + 0.2
    if over.sum() < 2:
        return False
    w = (b.pos[par, beam] + t * (b.pos[kids, beam] - b.pos[par, beam]))[over]
    r = r[over]
    gap = np.abs(w[:, None] - w[None, :]) - (r[:, None] + r[None, :])
    return bool(gap.max() > 0.5)


def _place_on_segments(b: Built, coords: np.ndarray, ud: np.ndarray,
                       max_mm: float) -> tuple[int, np.ndarray, np.ndarray] | None:
    """The point of the 3D tree whose projection in a view (``coords``, (u, d) mm per row) is nearest to
    ``ud``: (row of the nearer end, 3D point BF mm, its projection), or None when none is within ``max_mm``.

    Measured to the segments between a node and its parent (nodes can be a few mm apart where the
    column is disturbed), not only to the nodes."""
    kids = np.flatnonzero(b.parent >= 0)
    par = b.parent[kids]
    ok = np.all(np.isfinite(coords[kids]), axis=1) & np.all(np.isfinite(coords[par]), axis=1)
    kids, par = kids[ok], par[ok]
    if not len(kids):
        return None
    a, e = coords[par], coords[kids]
    ab = e - a
    den = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12)
    t = np.clip(np.einsum("ij,ij->i", ud - a, ab) / den, 0.0, 1.0)
    q = a + t[:, None] * ab
    d = np.linalg.norm(q - ud, axis=1)
    m = int(np.argmin(d))
    if d[m] > max_mm:
        return None
    p = b.pos[par[m]] + t[m] * (b.pos[kids[m]] - b.pos[par[m]])
    row = int(kids[m] if t[m] >= 0.5 else par[m])
    return row, p.astype(float), q[m]


def _leaves(parent: np.ndarray) -> np.ndarray:
    has_child = np.zeros(len(parent), dtype=bool)
    has_child[parent[parent >= 0]] = True
    return ~has_child


def _end_just_past(parent: np.ndarray, coords: np.ndarray, ends: np.ndarray, row: int, ud) -> bool:
    """Whether one of the ``ends`` (rows) down the tree from ``row`` projects within :data:`AT_END_MM` of the
    sign at ``ud`` (``coords``: the view's (u, d) mm per row): the sign sits at the end of its duct, though
    nearest to a node a little before it."""
    d = np.linalg.norm(coords - np.asarray(ud, dtype=float), axis=1)
    for e in np.flatnonzero(ends & (d <= AT_END_MM)):
        k = int(e)
        while k >= 0 and d[k] <= AT_END_MM:     # up from the end, through the nodes near the sign
            if k == row:
                return True
            k = int(parent[k])
    return False


def _ends_in_view(parent: np.ndarray, seen_in, key: str, reach_mm: np.ndarray) -> np.ndarray:
    """Rows where the tree ends as view ``key`` sees it: no child seen in that view (``seen_in`` per row:
    ``"both"``, ``"cc"`` or ``"lateral"``), and what hangs on past it (seen in the other view only) reaches
    at most :data:`ONE_VIEW_TAIL_MM` (``reach_mm``: :func:`_reach_mm`). A duct ending wide in the CC is at an end of the
    tree even where the reading carries it a little farther on a piece seen in the lateral only; a long
    piece there is the duct going on, hidden in this view."""
    seen_in = np.asarray(seen_in)
    kids = np.flatnonzero((parent >= 0) & ((seen_in == "both") | (seen_in == key)))
    has_child = np.zeros(len(parent), dtype=bool)
    has_child[parent[kids]] = True
    return ~has_child & (reach_mm <= ONE_VIEW_TAIL_MM)


def _reach_mm(parent: np.ndarray, pos_mm: np.ndarray) -> np.ndarray:
    """Per row, the longest path (mm, ``pos_mm`` BF) from it down through its descendants."""
    children = iter_rows_children(parent)
    order = [int(i) for i in np.flatnonzero(parent < 0)]
    for i in order:                   # breadth-first: every row after its parent
        order.extend(children[i])
    reach = np.zeros(len(parent))
    for i in reversed(order):
        for c in children[i]:
            reach[i] = max(reach[i], reach[c] + float(np.linalg.norm(pos_mm[c] - pos_mm[i])))
    return reach


#: evidence a radiologist reports from one view: a closed lucency, a short gap in the column, a duct ending wide
STRONG_EVIDENCE = frozenset({"hole", "gap", "wide end", "stub"})
#: signs that are one observation, not two (thin streams of contrast: along a duct or at its end)
_SAME_SIGN = {"split end": "split column"}


def _merge_findings(tree: DuctTree, placed: list[dict], opt: BiplaneOptions, confirm: bool = False) -> list[dict]:
    """Group candidates within ``merge_mm`` (3D) into findings.

    With ``confirm`` (two views), a finding seen in one view only is kept when
    its evidence is unambiguous on its own (:data:`STRONG_EVIDENCE`) or when
    two different signs agree there; a subtle sign alone (a thin stream beside
    the column, a bite out of its wall, a split end, a narrowing) must be seen
    again in the other view at the same depth, as a radiologist checks a
    subtle defect on the orthogonal projection.
    """
    from ..frame import clock_of_point, format_clock

    groups: list[list[dict]] = []
    for c in sorted(placed, key=lambda c: (not c.get("paired", False), c["kind"] != "filling_defect", c["view"])):
        for g in groups:
            if np.linalg.norm(g[0]["point"] - c["point"]) <= opt.merge_mm:
                g.append(c)
                break
        else:
            groups.append([c])
    out = []
    for g in groups:
        kinds = {c["kind"] for c in g}
        kind = "filling_defect" if "filling_defect" in kinds else "cutoff"
        # a duct ending wide lies at an end of the tree as its view sees it (a stub was pruned from it); seen
        # ending in both views at the same depth it is a cut-off even where the reading ran on past it on
        # another duct
        if kind == "cutoff" and not any(c.get("paired", False) or c["at_end"] or c["evidence"] == "stub"
                                        for c in g):
            continue
        views = sorted({c["view"] for c in g})
        evidence = {_SAME_SIGN.get(c["evidence"], c["evidence"]) for c in g}
        if confirm and len(views) < 2 and not (evidence & STRONG_EVIDENCE) and len(evidence) < 2:
            continue
        both = [c for c in g if c.get("paired", False)]
        pts = np.array([c["point"] for c in (both or g)])
        p = pts.mean(axis=0)
        # triangulated from both views, a finding does not hang on a reading; seen in one, it may
        alts: list[np.ndarray] = []
        for a in ([] if both else [a for c in g for a in c.get("alternatives", ())]):
            _add_if_elsewhere(alts, a, p)
        clock = clock_of_point(p)
        out.append({
            "label": "",
            "kind": kind,
            "views": views,
            "confidence": "seen in both views" if len(views) == 2 else "one view",
            "evidence": sorted({f"{c['view']}: {c['evidence']}" for c in g}),
            "detail": "; ".join(f"{c['view']}: {c['detail']}" for c in g),
            "point_bf": [round(float(v), 4) for v in p],
            "depth_mm": round(float(p[1]), 3),
            "fn_mm": round(float(math.hypot(p[0], p[2])), 3),
            "clock": None if clock is None else round(float(clock), 4),
            "clock_text": format_clock(clock),
            "size_mm": round(float(max(c["size_mm"] for c in g)), 2),
            "node": g[0]["node"],
            "placement": ("triangulated from both views" if both else
                          "ambiguous: the readings put it on different ducts" if alts else "on the tree"),
            "alternatives_bf": [[round(float(v), 4) for v in a] for a in alts],
            "placement_spread_mm": round(max((float(np.linalg.norm(a - p)) for a in alts), default=0.0), 3),
        })
    out.sort(key=lambda d: (d["depth_mm"], d["kind"]))
    for k, d in enumerate(out, start=1):
        d["label"] = f"D{k}"
    return out


def _planar_findings(tree: DuctTree, t: ViewTree, opt: BiplaneOptions) -> list[dict]:
    which = "cc" if t.view.kind == "cc" else "lateral"
    pos = tree.positions
    coords = pos[:, [0, 1]] if which == "cc" else pos[:, [2, 1]]
    leaf = _leaves(tree.parent_index)
    placed = []
    for c in view_candidates(t, opt):
        d = np.linalg.norm(coords - np.asarray(c["ud"]), axis=1)
        k = int(np.argmin(d))
        if d[k] <= 2.0:
            placed.append({**c, "view": which, "row": k, "node": tree.node_ids[k], "point": pos[k],
                           "at_end": bool(leaf[k])})
    return _merge_findings(tree, placed, opt)


def findings_as_lesion_specs(tree: DuctTree) -> list["LesionSpec"]:
    """The tree's candidate findings as :class:`~ductree.case.LesionSpec` (``origin="ductogram"``).

    Each is located by ``point_bf`` (its 3D point on the tree), kind ``"other"``
    (a ductogram cannot tell a papilloma from debris), with the evidence in
    ``note`` and the position uncertainty in an ``uncertainty_mm`` attribute
    (2 mm, more on a branch seen in one view only, and at least as far as
    another reading puts a one-view sign: ``placement_spread_mm``).
    """
    from ..case import LesionSpec

    specs = []
    for i, f in enumerate(tree.graph.get("candidate_findings") or []):
        node = f.get("node")
        sig = 2.0
        if node is not None and node in tree:
            sig = max(sig, float(tree.nodes[node].get("pos_sigma_mm", 0.0)))
        sig = max(sig, float(f.get("placement_spread_mm") or 0.0))    # readings disagree on its duct
        what = "filling defect" if f["kind"] == "filling_defect" else "abrupt cut-off"
        spec = LesionSpec(label=f["label"], kind="other", size_mm=f.get("size_mm") or None,
                          point_bf=tuple(float(x) for x in f["point_bf"]), origin="ductogram",
                          laterality=tree.laterality, key=f"ductogram finding[{i}]",
                          note=f"ductogram {what} ({f['confidence']}), {f['depth_mm']:.0f} mm deep at "
                               f"{f['clock_text']} o'clock: {f['detail']}"
                               + ("; placement ambiguous (another reading puts it on a different duct, "
                                  f"{f['placement_spread_mm']:.0f} mm away)" if f.get("alternatives_bf") else ""))
        spec.uncertainty_mm = sig  # type: ignore[attr-defined]
        specs.append(spec)
    return specs


def add_findings_to_case(case: "Case", specs: list) -> None:
    """Append ductogram findings to a case, renaming a label the case already uses (``D1`` -> ``D1b``)."""
    taken = {les.label for les in case.lesions}
    for s in specs:
        label = s.label
        while label in taken:
            label += "b"
        s.label = label
        case.lesions.append(s)
        taken.add(label)
