"""Ductogram (CC + lateral masks) -> 3D DuctTree, with candidate findings and match quality.

The pipeline, for two views of one opacified duct system (DOMAIN §3):

1. **Read** each view (:func:`ductree.io.images2d.read_view`): mask, pixel
   size at the breast, orientation, laterality; views of different breasts
   are refused.
2. **Each view as a 2D tree** (:mod:`ductree.reconstruct.biplane_graph`):
   skeleton with widths, filling-defect holes filled, gaps in the contrast
   column joined, rooted at the nipple (given) or at the root end of the duct,
   crossings cut where the ducts run straight through.
3. **Depth map and matching** (:mod:`ductree.reconstruct.biplane_match`):
   the lateral's depth is mapped onto the CC's (scale, offset, nipple knee);
   branches are matched by depth and topology together; crossings that the
   view alone could read two ways are decided by the other view.
4. **Triangulation**: ``x`` from the CC, ``z`` from the lateral, ``y`` the mean
   depth, radius from the two widths. A branch seen in one view only is kept,
   flagged (``single_view=True``, ``view="cc"`` or ``"lateral"``), its unknown
   coordinate tracked along the other view at equal depth or extrapolated,
   with ``pos_sigma_mm``.
5. **Candidate findings**: filling defects (a hole in the contrast column, a
   gap in it, a sharp local narrowing) and abrupt cut-offs (a duct that ends
   without tapering, at least ``cutoff_min_radius_mm`` wide), each with its
   3D point, depth, clock and the views it was seen in, in
   ``tree.graph["candidate_findings"]`` and as
   :class:`~ductree.case.LesionSpec` objects (origin ``"ductogram"``).

One view alone gives a planar tree: its unknown coordinate is 0 (the
nipple's), every node is flagged ``single_view`` with a growing
``pos_sigma_mm`` and ``graph["planar"] = True``; a warning says so.

Match quality is in ``tree.graph["biplane"]``: the depth map, matched forks,
the fraction of each view's centreline length that was matched, the branches
seen in one view only, the crossings cut and how many the other view
decided, and a ``confidence`` (``"high"``/``"low"``, with reasons). A low
confidence is also a :class:`~ductree.errors.DuctreeWarning`. Views that
cannot be matched at all (a different duct opacified in each) are an
:class:`~ductree.errors.InputError`, never a confident wrong tree.

Coordinates: BF mm, origin the nipple (the given nipple pixels, else the
orifice end of the duct in each view), ``+x`` patient's left, ``+y``
posterior, ``+z`` superior. The depth is the mean of the two views' depths:
their compressions are taken to deform the breast equally and oppositely
(two projections cannot tell which view is nearer the uncompressed breast).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import DuctreeWarning, InputError
from ..io.images2d import View2D, check_pair, read_view
from ..tree import DuctTree
from .biplane_graph import ViewOptions, ViewTree, _polyline_length, view_graph
from .biplane_match import Built, DepthMap, MatchOptions, Matching, build_3d, match_views

if TYPE_CHECKING:
    from ..case import Case, LesionSpec


@dataclass(frozen=True)
class BiplaneOptions:
    """Tuning of :func:`tree_from_views` (mm)."""

    view: ViewOptions = field(default_factory=ViewOptions)
    match: MatchOptions = field(default_factory=MatchOptions)
    cutoff_min_radius_mm: float = 0.25     #: a duct ending wide must be at least this wide to be reported
    cutoff_keep_fraction: float = 0.75     #: ... and keep this fraction of its width to its end
    narrowing_fraction: float = 0.55       #: a local narrowing below this fraction of the duct's width
    narrowing_min_radius_mm: float = 0.2   #: ... of a duct at least this wide is a candidate defect
    split_max_mm: float = 7.0              #: prongs of a split end are at most this long ...
    split_prong_fraction: float = 0.5      #: ... and at most this fraction of the duct's radius wide
    concavity_area: float = 1.5            #: a lucency open to one side: at least this x r^2 (mm^2) ...
    concavity_depth: float = 0.4           #: ... and this x r deep
    merge_mm: float = 3.0                  #: candidates this close (3D) are one finding
    pair_depth_mm: float = 1.5             #: a CC and a lateral candidate this close in depth are one lesion ...
    pair_max_mm: float = 8.0               #: ... if their placements on the tree are no further apart than this
    min_matched_fraction: float = 0.6      #: below this (in either view) the match is low-confidence
    min_agreement: float = 0.35            #: fewer forks/ends agreeing in depth than this: low-confidence
    unmatchable_fraction: float = 0.3      #: below this the views are taken not to show the same ducts
    planar_sigma_per_mm: float = 0.5       #: uncertainty growth of the unknown coordinate of a planar tree


# --------------------------------------------------------------------------- entry points

def read_views(cc: str | PathLike | None, lateral: str | PathLike | None, *, laterality: str | None = None,
               spacing_mm: float | Sequence[float] | None = None, magnification: float | None = None,
               orientation_cc: object = None, orientation_lateral: object = None,
               threshold: float | None = None) -> tuple[View2D | None, View2D | None, str]:
    """Read the CC and/or lateral view; check they show one breast; return them and the laterality."""
    if cc is None and lateral is None:
        raise InputError("a ductogram needs a CC view, a lateral view or both", key="--cc")
    from ..io.images2d import header_laterality

    if cc is not None and lateral is not None:
        la, lb = header_laterality(cc), header_laterality(lateral)
        if la is not None and lb is not None and la != lb:
            from pathlib import Path

            raise InputError(f"the views are of different breasts ({Path(cc).name} is {la}, {Path(lateral).name} is "
                             f"{lb}); both must show the same breast", key="laterality")
    v_cc = None if cc is None else read_view(cc, "cc", spacing_mm=spacing_mm, magnification=magnification,
                                             orientation=orientation_cc, laterality=laterality,
                                             threshold=threshold, key="--cc")
    v_lat = None if lateral is None else read_view(lateral, "lateral", spacing_mm=spacing_mm,
                                                   magnification=magnification, orientation=orientation_lateral,
                                                   laterality=laterality, threshold=threshold, key="--lateral")
    lat = check_pair(v_cc, v_lat, laterality)
    for v in (v_cc, v_lat):
        if v is not None:
            v.laterality = v.laterality or lat
            for note in v.notes:
                warnings.warn(note, DuctreeWarning, stacklevel=2)
    return v_cc, v_lat, lat


def tree_from_files(cc: str | PathLike | None, lateral: str | PathLike | None, *, laterality: str | None = None,
                    spacing_mm: float | Sequence[float] | None = None, magnification: float | None = None,
                    orientation_cc: object = None, orientation_lateral: object = None,
                    nipple_cc: tuple[float, float] | None = None, nipple_lateral: tuple[float, float] | None = None,
                    threshold: float | None = None, options: BiplaneOptions | None = None) -> DuctTree:
    """Read the view files and rebuild the tree (what ``ductree build --cc/--lateral`` calls).

    ``spacing_mm`` is the pixel size as stored (at the detector; required for
    plain images), ``magnification`` the radiographic magnification (default
    the DICOM header's, else 1). ``nipple_cc``/``nipple_lateral`` are (row, col)
    pixels; without them the orifice end of the duct is the nipple.
    """
    v_cc, v_lat, lat = read_views(cc, lateral, laterality=laterality, spacing_mm=spacing_mm,
                                  magnification=magnification, orientation_cc=orientation_cc,
                                  orientation_lateral=orientation_lateral, threshold=threshold)
    return tree_from_views(v_cc, v_lat, laterality=lat, nipple_cc=nipple_cc, nipple_lateral=nipple_lateral,
                           options=options)


def tree_from_case(case: "Case") -> DuctTree:
    """The case's tree from its ``source.cc`` / ``source.lateral``; candidate findings join ``case.lesions``."""
    src = case.source
    try:
        tree = tree_from_files(src.cc, src.lateral, laterality=case.laterality, spacing_mm=src.pixel_spacing_mm,
                               magnification=src.magnification)
    except InputError as exc:
        raise exc.located(source=case.path) if exc.source is None else exc
    add_findings_to_case(case, findings_as_lesion_specs(tree))
    return tree


def tree_from_views(cc: View2D | None, lateral: View2D | None, *, laterality: str,
                    nipple_cc: tuple[float, float] | None = None, nipple_lateral: tuple[float, float] | None = None,
                    options: BiplaneOptions | None = None) -> DuctTree:
    """Rebuild the 3D tree from one or two views (see the module docs). BF mm."""
    opt = options or BiplaneOptions()
    if cc is None and lateral is None:
        raise InputError("a ductogram needs a CC view, a lateral view or both", key="--cc")
    ga = None if cc is None else view_graph(cc, nipple_px=nipple_cc, options=opt.view)
    gb = None if lateral is None else view_graph(lateral, nipple_px=nipple_lateral, options=opt.view)
    nipple_from = {k: ("given" if n is not None else "orifice end of the duct")
                   for k, n in (("cc", nipple_cc), ("lateral", nipple_lateral))}
    if ga is None or gb is None:
        vg = ga if ga is not None else gb
        t = vg.tree()
        tree = _planar_tree(t, "cc" if ga is not None else "lateral", laterality, opt)
        views = [t]
    else:
        ta, tb, f, m, decided = match_views(ga, gb, opt.match)
        built = build_3d(ta, tb, f, m, opt.match)
        tree = _to_tree(built, laterality)
        quality = _quality(ta, tb, f, m, built, decided, opt)
        tree.graph["biplane"] = quality
        views = [ta, tb]
        _check_quality(quality, opt)
        tree.graph["candidate_findings"] = find_candidates(tree, built, ta, tb, opt, f)
    if "candidate_findings" not in tree.graph:
        t = views[0]
        tree.graph["candidate_findings"] = _planar_findings(tree, t, opt)
    tree.graph["source"] = "ductogram"
    tree.graph["views"] = {("cc" if v.view.kind == "cc" else "lateral"): v.view.describe() for v in views}
    tree.graph["nipple_from"] = {k: nipple_from[k] for k in tree.graph["views"]}
    if any(n is None for k, n in (("cc", nipple_cc), ("lateral", nipple_lateral)) if k in tree.graph["views"]):
        warnings.warn("nipple not given: the orifice end of the opacified duct is taken as the nipple in "
                      f"{' and '.join(k for k in tree.graph['views'] if nipple_from[k] != 'given')}; clock "
                      "positions may be off by the orifice's 1-3 mm offset from the nipple centre",
                      DuctreeWarning, stacklevel=2)
    for v in views:
        if v.fragments:
            total = sum(fr["length_mm"] for fr in v.fragments)
            warnings.warn(f"{v.view.kind}: {len(v.fragments)} piece(s) of contrast ({total:.1f} mm of duct) could "
                          "not be joined to the opacified duct and are left out (see graph.biplane)",
                          DuctreeWarning, stacklevel=2)
    tree.validate()
    return tree


# --------------------------------------------------------------------------- building the tree

def _to_tree(b: Built, laterality: str) -> DuctTree:
    tree = DuctTree.from_arrays(b.pos, b.radius, b.parent, laterality=laterality)
    for i, n in enumerate(tree.node_ids):
        d = tree.nodes[n]
        d["single_view"] = bool(b.single_view[n])
        d["view"] = b.view[n]
        d["pos_sigma_mm"] = round(float(b.sigma[n]), 4)
    tree.touch()
    return tree


def _planar_tree(t: ViewTree, which: str, laterality: str, opt: BiplaneOptions) -> DuctTree:
    """One view only: (u, depth) with the unknown coordinate at 0, every node flagged."""
    pos, rad, par, sig = [], [], [], []
    pos.append(_planar_point(t.ud[0], which))
    rad.append(float(t.r[0]))
    par.append(-1)
    sig.append(0.0)
    stack = [(c, 0, 0.0) for c in t.children[0]]
    while stack:
        node, prev, s0 = stack.pop()
        poly, r = t.edge_ud[node], t.edge_r[node]
        seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        from .biplane_match import _resample_rows

        for k in _resample_rows(s, opt.match.node_spacing_mm, [])[1:]:
            pos.append(_planar_point(poly[k], which))
            rad.append(float(r[k]))
            par.append(prev)
            sig.append(opt.match.single_sigma0_mm + opt.planar_sigma_per_mm * (s0 + s[k]))
            prev = len(pos) - 1
        stack.extend((c, prev, s0 + s[-1]) for c in t.children[node])
    tree = DuctTree.from_arrays(pos, rad, par, laterality=laterality)
    for n in tree.node_ids:
        tree.nodes[n]["single_view"] = True
        tree.nodes[n]["view"] = which
        tree.nodes[n]["pos_sigma_mm"] = round(float(sig[n]), 4)
    tree.touch()
    unknown = "z (superior-inferior)" if which == "cc" else "x (left-right)"
    tree.graph["planar"] = True
    tree.graph["biplane"] = {"confidence": "low", "reasons": [f"one view only ({which}): {unknown} unknown, "
                                                              "set to the nipple's (0)"],
                             "views": [which], "crossings": {which: len(t.crossings)}}
    warnings.warn(f"one view only ({which}): a planar tree, {unknown} unknown and set to 0 (every node is "
                  "flagged single_view with its uncertainty)", DuctreeWarning, stacklevel=3)
    return tree


def _planar_point(ud: np.ndarray, which: str) -> list[float]:
    u, d = float(ud[0]), float(ud[1])
    return [u, d, 0.0] if which == "cc" else [0.0, d, u]


# --------------------------------------------------------------------------- quality

def _matched_fraction(t: ViewTree, nodes: set[int]) -> float:
    total = t.total_length_mm()
    if total <= 0:
        return 0.0
    got = sum(_polyline_length(t.edge_ud[n]) for n in nodes if n > 0)
    return float(got / total)


def _quality(ta: ViewTree, tb: ViewTree, f: DepthMap, m: Matching, b: Built, decided: int,
             opt: BiplaneOptions) -> dict:
    in_a = {n for pp in m.pairs for n in pp.a[1:]}
    in_b = {n for pp in m.pairs for n in pp.b[1:]}
    fa, fb = _matched_fraction(ta, in_a), _matched_fraction(tb, in_b)
    single = {"cc": [], "lateral": []}
    for key, singles, t in (("cc", m.single_a, ta), ("lateral", m.single_b, tb)):
        for sub_root, _, _ in singles:
            nodes = t.subtree(sub_root)
            length = sum(_polyline_length(t.edge_ud[n]) for n in nodes)
            single[key].append({"branches": len(nodes), "length_mm": round(length, 2),
                                "start_depth_mm": round(float(t.edge_ud[sub_root][0, 1]), 2),
                                "start_u_mm": round(float(t.edge_ud[sub_root][0, 0]), 2)})
    res = b.depth_residual[np.isfinite(b.depth_residual)]
    forks = (int((ta.kind == 2).sum()), int((tb.kind == 2).sum()))
    # agreement: forks and ends matched at the same depth (within 0.5 mm, no excuse for acute forks), per
    # feature of the view with fewer; two views of different ducts agree only by chance (about 0.1-0.3)
    feats = min(int((ta.kind >= 2).sum()), int((tb.kind >= 2).sum()))
    sharp = 0
    for pp in m.pairs:
        i, j = pp.a[-1], pp.b[-1]
        if ta.kind[i] == tb.kind[j] and ta.kind[i] in (2, 3) and abs(ta.ud[i, 1] - float(f(tb.ud[j, 1]))) < 0.5:
            sharp += 1
    agreement = sharp / feats if feats else 0.0
    reasons = []
    if agreement < opt.min_agreement:
        reasons.append(f"only {sharp} of {feats} forks and ends agree in depth between the views")
    if min(fa, fb) < opt.min_matched_fraction:
        reasons.append(f"only {100 * fa:.0f}% (CC) and {100 * fb:.0f}% (lateral) of the centrelines matched")
    if abs(f.a - 1.0) >= opt.match.max_scale - 1e-6 or abs(f.b) >= opt.match.max_offset_mm - 1e-6:
        reasons.append(f"the depth map ran to its limit (scale {f.a:.3f}, offset {f.b:.1f} mm)")
    med = float(np.median(res)) if len(res) else None
    if med is not None and med > 1.0:
        reasons.append(f"matched points differ by {med:.1f} mm in depth (median)")
    return {
        "depth_map": f.as_dict(),
        "matched_forks": int(m.matched_junctions),
        "forks": list(forks),
        "matched_fraction": {"cc": round(fa, 4), "lateral": round(fb, 4)},
        "single_view": single,
        "single_view_nodes": int(np.sum(b.single_view)),
        "crossings": {"cc": len(ta.crossings), "lateral": len(tb.crossings)},
        "crossings_decided_by_other_view": int(decided),
        "depth_residual_median_mm": None if med is None else round(med, 4),
        "holes": {"cc": len([h for h in ta.holes if h["defect"]]), "lateral": len([h for h in tb.holes if h["defect"]])},
        "gaps_joined": {"cc": len(ta.gaps), "lateral": len(tb.gaps)},
        "fragments_left_out": {"cc": ta.fragments, "lateral": tb.fragments},
        "specks_dropped": {"cc": ta.specks, "lateral": tb.specks},
        "match_cost": round(float(m.cost), 3),
        "agreement": round(float(agreement), 4),
        "features": feats,
        "confidence": "low" if reasons else "high",
        "reasons": reasons,
    }


def _check_quality(q: dict, opt: BiplaneOptions) -> None:
    fa, fb = q["matched_fraction"]["cc"], q["matched_fraction"]["lateral"]
    unmatched = min(fa, fb) < opt.unmatchable_fraction and min(q["forks"]) >= 2
    if unmatched:
        raise InputError(f"the CC and lateral views do not seem to show the same ducts: only "
                         f"{round(q['agreement'] * q['features'])} of {q['features']} forks and ends agree in depth "
                         f"and {100 * fa:.0f}% (CC) / {100 * fb:.0f}% (lateral) of the centrelines matched; check "
                         "the files (one duct system, same breast), or build from one view (planar)",
                         key="--lateral")
    if q["confidence"] == "low":
        warnings.warn("low-confidence match: " + "; ".join(q["reasons"]), DuctreeWarning, stacklevel=3)


# --------------------------------------------------------------------------- findings

def view_candidates(t: ViewTree, opt: BiplaneOptions | None = None) -> list[dict]:
    """Candidate lesion sites seen in one view: holes, gaps, narrowings, wide ends ((u, d) mm)."""
    opt = opt or BiplaneOptions()
    out = []
    for h in t.holes:
        if h["defect"]:
            out.append({"kind": "filling_defect", "evidence": "hole", "ud": h["ud"], "size_mm": h["length_mm"],
                        "detail": f"a {h['length_mm']:.1f} x {h['width_mm']:.1f} mm hole in a "
                                  f"{h['duct_width_mm']:.1f} mm contrast column"})
    for gp in t.gaps:
        out.append({"kind": "filling_defect", "evidence": "gap", "ud": gp["ud"], "size_mm": gp["length_mm"],
                    "detail": f"a {gp['length_mm']:.1f} mm gap in the contrast column"})
    out.extend(_narrowings(t, opt))
    out.extend(_concavities(t, opt))
    out.extend(_split_ends(t, opt))
    out.extend(_wide_ends(t, opt))
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
    polys = [view.to_px(e) - o if len(e) else np.zeros((0, 2)) for e in t.edge_ud]
    med_r = np.array([float(np.median(r)) / px if len(r) else 0.0 for r in t.edge_r])
    # every centreline rasterised with its edge's index: the nearest centreline of any pixel
    lab = np.zeros((H, W), dtype=np.int32)
    for j in range(1, t.n):
        q = np.rint(polys[j]).astype(int)
        ok = (q[:, 0] >= 0) & (q[:, 1] >= 0) & (q[:, 0] < H) & (q[:, 1] < W)
        lab[q[ok, 0], q[ok, 1]] = j
    if not lab.any():
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
    for i in range(1, t.n):
        e, r = t.edge_ud[i], t.edge_r[i]
        if len(e) < 6 or t.bridge[i]:
            continue
        s, _ = _profile(e, r)
        L = s[-1]
        body = (s > 1.0) & (s < L - (2.5 if kind[i] == 3 else 1.0))
        if body.sum() < 3 or L < 1.5:
            continue
        R = float(np.median(r[body]))
        if R < opt.narrowing_min_radius_mm:
            continue
        if kind[i] != 3 and float(np.min(r[body])) > 0.85 * R:
            continue            # no dip in the inscribed radius along the duct: nothing bitten out of it
        Rp = R / px
        P = polys[i]
        lo = np.maximum(np.floor(P.min(axis=0) - 3 * Rp - 3).astype(int), 0)
        hi = np.minimum(np.ceil(P.max(axis=0) + 3 * Rp + 3).astype(int), np.array([H, W]) - 1)
        sl = (slice(lo[0], hi[0] + 1), slice(lo[1], hi[1] + 1))
        crop = mask[sl]
        if crop.size == 0:
            continue
        pad = int(np.ceil(Rp)) + 2
        cp = np.pad(crop, pad)
        dilated = ndi.distance_transform_edt(~cp) <= Rp
        closed = (ndi.distance_transform_edt(dilated) > Rp)[pad:-pad, pad:-pad]
        added = closed & ~crop
        if not added.any():
            continue
        # only inside this duct's lumen: near its centreline, away from its forks and from other ducts
        own_lines = lab[sl] == i
        own = ndi.distance_transform_edt(~own_lines) <= 1.2 * Rp if own_lines.any() else np.zeros_like(crop)
        dist_here, nb = near_map(sl, Rp)
        keep_out = (nb != i) & (dist_here <= 1.5 * np.maximum(Rp, med_r[nb]))
        yy, xx = np.mgrid[sl]
        for end, how_far in ((P[0], 2.0), (P[-1], 2.0 if kind[i] != 3 else 1.5)):
            keep_out |= np.hypot(yy - end[0], xx - end[1]) <= how_far * Rp
        cand = added & own & ~keep_out
        if not cand.any():
            continue
        comps, n = ndi.label(cand)
        for k in range(1, n + 1):
            comp = comps == k
            area = comp.sum() * px * px
            if area < opt.concavity_area * R * R:
                continue
            depth = float(ndi.distance_transform_edt(np.pad(comp, 1)).max()) * px
            if depth < opt.concavity_depth * R:
                continue
            ys, xs = np.nonzero(comp)
            c = np.array([ys.mean() + lo[0], xs.mean() + lo[1]]) + o
            ext = max(np.ptp(ys), np.ptp(xs)) * px
            out.append({"kind": "filling_defect", "evidence": "lucency", "ud": view.to_mm(c)[0].tolist(),
                        "size_mm": float(ext),
                        "detail": f"a {ext:.1f} mm lucency ({area:.2f} mm^2) inside a {2 * R:.1f} mm duct"})
    return out


def _split_ends(t: ViewTree, opt: BiplaneOptions) -> list[dict]:
    """A duct that ends in two thin prongs: the contrast runs around a mass at its end (a split or
    crab-claw end). A fork whose children both end within ``split_max_mm``, each much thinner than the
    duct, close together."""
    out = []
    kind = t.kind
    for i in range(1, t.n):
        kids = t.children[i]
        if len(kids) != 2 or any(kind[c] != 3 for c in kids):
            continue
        poly, rad = t.edge_ud[i], t.edge_r[i]
        if len(poly) < 4:
            continue
        s, _ = _profile(poly, rad)
        body = s < s[-1] - 1.0 - t.r[i]
        if body.sum() < 2:
            continue
        R = float(np.median(rad[body]))
        if R < opt.narrowing_min_radius_mm:
            continue
        lens = [_polyline_length(t.edge_ud[c]) for c in kids]
        widths = [float(np.median(t.edge_r[c])) for c in kids]
        ends = [t.edge_ud[c][-1] for c in kids]
        if max(lens) > opt.split_max_mm or max(widths) > opt.split_prong_fraction * R:
            continue
        if max(lens) > 2.0 * min(lens) or np.linalg.norm(ends[0] - ends[1]) > 2.2 * R + 0.2:
            continue            # natural children diverge; prongs around a mass run side by side
        c = 0.5 * (t.ud[i] + 0.5 * (ends[0] + ends[1]))
        out.append({"kind": "filling_defect", "evidence": "split end", "ud": c.tolist(), "size_mm": float(max(lens)),
                    "detail": f"a {2 * R:.1f} mm duct ends split in two thin prongs ({max(lens):.1f} mm)"})
    return out


def _profile(poly: np.ndarray, rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    return np.concatenate([[0.0], np.cumsum(seg)]), rad


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
        r_ref = float(np.median(r[ref]))
        near = (s >= 0.8 * r_ref) & (s <= 0.8 * r_ref + 0.5)
        if not near.any() or r_ref < opt.cutoff_min_radius_mm:
            continue
        r_end = float(np.median(r[near]))
        if r_end >= opt.cutoff_keep_fraction * r_ref:
            out.append({"kind": "cutoff", "evidence": "wide end", "ud": poly[-1].tolist(), "size_mm": 2.0 * r_end,
                        "detail": f"a {2 * r_end:.1f} mm wide duct ends abruptly (no tapering)"})
    return out


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
        r_med = float(np.median(r))
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
                    f: DepthMap | None = None) -> list[dict]:
    """Candidate findings of both views, placed in 3D and merged across views.

    A candidate seen in one view is placed on the 3D node it lies on. A
    candidate of the CC and one of the lateral at the same depth (within
    ``pair_depth_mm`` after the depth map) are one lesion seen twice: its point
    is triangulated from the two (``x`` from the CC, ``z`` from the lateral,
    the mean depth), which does not depend on the branch matching.
    """
    opt = opt or BiplaneOptions()
    placed = []
    for key, t, coords in (("cc", ta, b.cc_ud), ("lateral", tb, b.lat_ud)):
        seen = np.all(np.isfinite(coords), axis=1)
        rows = np.flatnonzero(seen)
        for c in view_candidates(t, opt):
            if not len(rows):
                break
            d = np.linalg.norm(coords[rows] - np.asarray(c["ud"]), axis=1)
            k = int(np.argmin(d))
            if d[k] > 2.0:
                continue
            row = int(rows[k])
            placed.append({**c, "view": key, "row": row, "node": row, "point": b.pos[row]})
    if f is not None:
        A = [c for c in placed if c["view"] == "cc"]
        B = [c for c in placed if c["view"] == "lateral"]
        cand = []
        for i, ca in enumerate(A):
            for j, cb in enumerate(B):
                dd = abs(ca["ud"][1] - float(f(cb["ud"][1])))
                far = float(np.linalg.norm(ca["point"] - cb["point"]))
                if dd <= opt.pair_depth_mm and far <= opt.pair_max_mm:
                    cand.append((dd + 0.05 * far, i, j))
        used_a, used_b = set(), set()
        for _, i, j in sorted(cand):
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            ca, cb = A[i], B[j]
            p = np.array([ca["ud"][0], 0.5 * (ca["ud"][1] + cb["ud"][1]), cb["ud"][0]])
            row = int(np.argmin(np.linalg.norm(b.pos - p, axis=1)))
            for c in (ca, cb):
                c["point"], c["row"], c["node"] = p, row, row
    return _merge_findings(tree, placed, opt, is_leaf=_leaves(b.parent))


def _leaves(parent: np.ndarray) -> np.ndarray:
    has_child = np.zeros(len(parent), dtype=bool)
    has_child[parent[parent >= 0]] = True
    return ~has_child


def _merge_findings(tree: DuctTree, placed: list[dict], opt: BiplaneOptions, is_leaf: np.ndarray) -> list[dict]:
    from ..frame import clock_of_point, format_clock

    groups: list[list[dict]] = []
    for c in sorted(placed, key=lambda c: (c["kind"] != "filling_defect", c["view"])):
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
        if kind == "cutoff" and not any(is_leaf[c["row"]] for c in g):
            continue
        pts = np.array([c["point"] for c in g])
        p = pts.mean(axis=0)
        views = sorted({c["view"] for c in g})
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
        })
    out.sort(key=lambda d: (d["depth_mm"], d["kind"]))
    for k, d in enumerate(out, start=1):
        d["label"] = f"D{k}"
    return out


def _planar_findings(tree: DuctTree, t: ViewTree, opt: BiplaneOptions) -> list[dict]:
    which = "cc" if t.view.kind == "cc" else "lateral"
    pos = tree.positions
    coords = pos[:, [0, 1]] if which == "cc" else pos[:, [2, 1]]
    placed = []
    for c in view_candidates(t, opt):
        d = np.linalg.norm(coords - np.asarray(c["ud"]), axis=1)
        k = int(np.argmin(d))
        if d[k] <= 2.0:
            placed.append({**c, "view": which, "row": k, "node": tree.node_ids[k], "point": pos[k]})
    par = tree.parent_index
    return _merge_findings(tree, placed, opt, is_leaf=_leaves(par))


def findings_as_lesion_specs(tree: DuctTree) -> list["LesionSpec"]:
    """The tree's candidate findings as :class:`~ductree.case.LesionSpec` (``origin="ductogram"``).

    Each is located by ``point_bf`` (its 3D point on the tree), kind ``"other"``
    (a ductogram cannot tell a papilloma from debris), with the evidence in
    ``note`` and the position uncertainty in an ``uncertainty_mm`` attribute
    (2 mm, more on a branch seen in one view only).
    """
    from ..case import LesionSpec

    specs = []
    for i, f in enumerate(tree.graph.get("candidate_findings") or []):
        node = f.get("node")
        sig = 2.0
        if node is not None and node in tree:
            sig = max(sig, float(tree.nodes[node].get("pos_sigma_mm", 0.0)))
        what = "filling defect" if f["kind"] == "filling_defect" else "abrupt cut-off"
        spec = LesionSpec(label=f["label"], kind="other", size_mm=f.get("size_mm") or None,
                          point_bf=tuple(float(x) for x in f["point_bf"]), origin="ductogram",
                          laterality=tree.laterality, key=f"ductogram finding[{i}]",
                          note=f"ductogram {what} ({f['confidence']}), {f['depth_mm']:.0f} mm deep at "
                               f"{f['clock_text']} o'clock: {f['detail']}")
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


# --------------------------------------------------------------------------- reporting

def report_lines(tree: DuctTree) -> list[str]:
    """Human-readable lines: match quality, branches seen in one view only, candidate findings."""
    lines = []
    q = tree.graph.get("biplane") or {}
    views = tree.graph.get("views") or {}
    for k, v in views.items():
        lines.append(f"{k}: {v['shape'][1]}x{v['shape'][0]} px, {1000 * v['pixel_spacing_mm'][0]:.1f} um at the "
                     f"breast (magnification {v['magnification']:.2f}, {v['spacing_from']}), orientation "
                     f"{v['orientation']} ({v['orientation_from']})")
    if tree.graph.get("planar"):
        lines.append("match: one view only - planar tree, " + "; ".join(q.get("reasons", [])))
    elif q:
        dm = q["depth_map"]
        fr = q["matched_fraction"]
        lines.append(f"match: depth map lateral->CC scale {dm['scale']:.3f}, offset {dm['offset_mm']:+.2f} mm "
                     f"(nipple knee {dm['knee_mm']:.1f} mm); {q['matched_forks']} forks matched (CC "
                     f"{q['forks'][0]}, lateral {q['forks'][1]}); centreline matched {100 * fr['cc']:.0f}% (CC), "
                     f"{100 * fr['lateral']:.0f}% (lateral); median depth disagreement "
                     f"{q['depth_residual_median_mm']:.2f} mm; crossings cut CC {q['crossings']['cc']}, lateral "
                     f"{q['crossings']['lateral']} ({q['crossings_decided_by_other_view']} decided by the other "
                     f"view); confidence {q['confidence']}" + (f" ({'; '.join(q['reasons'])})" if q["reasons"] else ""))
        for key in ("cc", "lateral"):
            sv = q["single_view"][key]
            if sv:
                total = sum(x["length_mm"] for x in sv)
                where = ", ".join(f"{x['length_mm']:.1f} mm from depth {x['start_depth_mm']:.1f}" for x in sv[:6])
                more = f", +{len(sv) - 6} more" if len(sv) > 6 else ""
                lines.append(f"seen in the {key} only: {len(sv)} branch(es), {total:.1f} mm ({where}{more})")
        if not q["single_view"]["cc"] and not q["single_view"]["lateral"]:
            lines.append("every branch was matched in both views")
    found = tree.graph.get("candidate_findings") or []
    if not found:
        lines.append("candidate findings: none")
    for f in found:
        what = "filling defect" if f["kind"] == "filling_defect" else "abrupt cut-off"
        lines.append(f"candidate {f['label']}: {what} at {f['clock_text']} o'clock, {f['depth_mm']:.1f} mm deep, "
                     f"fn {f['fn_mm']:.1f} mm, {f['confidence']} ({f['detail']})")
    return lines
