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
   view alone could read two ways are decided by the other view. The map
   fitted to fork and end depths is not trusted alone: overlaps hide forks
   and shift ends, and a map a few mm off pairs the wrong ducts everywhere.
   The views are also read with the ``map_tries - 1`` runner-up maps, and the
   map whose kept reading explains both masks best (step 4's
   self-consistency score, ``map_switch_margin`` lower than the fitted map's)
   is kept. Over 140 simulated cases (seeds 1000-7019) this took the mean 3D
   error from 0.698 to 0.590 mm, and on three sets of 20 not used to tune it
   from 0.527 / 1.005 / 0.687 to 0.528 / 0.792 / 0.589 mm; the maps read and
   their scores are in ``graph["biplane"]["depth_map_choice"]``. The kept
   guided reading is then read again with the map's offset moved by
   ``map_shifts_mm`` (-0.1, +0.1 mm) and the best-scoring reading kept
   (:func:`~ductree.reconstruct.biplane_guided.reread_shifted`: near-tied
   sibling choices flip with such moves); 140 tuning cases 0.534 -> 0.518
   mm, 13 other sets 0.535 -> 0.520 mm. Last, each guide fork that the
   other view shows 1-10 mm shallower is moved back there and the guide read
   again (:func:`~ductree.reconstruct.biplane_guided.reread_forks`: a fork is
   seen too deep where its children overlap in one view); 0.518 -> 0.483 mm
   and 0.520 -> 0.511 mm. The moves tried and their scores are in
   ``graph["biplane"]["reading"]["fork_moves"]``. Of every reading scored on
   the way, the one with the lowest
   :func:`~ductree.reconstruct.biplane_guided.final_score` is kept in the end
   (the score plus the share of forks and tips the views do not confirm and
   the tree's length over the views' skeleton length; ``final_pick`` in
   ``graph["biplane"]["reading"]``): 0.485 -> 0.462 mm and 0.511 ->
   0.491 mm.
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
decided, the reading kept, how much of the tree is uncertain
(``uncertain``: length and fraction with ``pos_sigma_mm`` of at least
``uncertain_sigma_mm``) and a ``confidence`` (``"high"``/``"low"``, with
reasons; more than ``max_uncertain_fraction`` of the tree uncertain is one, and
so is more than ``loose_uncertain_fraction`` when the reading kept explains the
masks loosely, its consistency score over ``loose_score``).

Every node's ``pos_sigma_mm`` (1 SD, mm) combines the triangulation's own
uncertainty (one-view branches), how far the readings not kept put the node
(``readings_spread_mm`` x ``spread_sigma``) and a floor
(``sigma_floor_mm``). On the 20 benchmark seeds 88% of nodes lie within
2 sigma of the true centreline (86% on 20 held-out seeds); before the spread
was counted, 19%. A low
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

import warnings
from dataclasses import dataclass, field, replace
from os import PathLike
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import DuctreeWarning, InputError
from ..io.images2d import View2D, check_pair, read_view
from ..tree import DuctTree
from .biplane_findings import (add_findings_to_case, find_candidates, findings_as_lesion_specs,
                               _planar_findings, view_candidates)
from .biplane_graph import ViewTree, _polyline_length, view_graph
from .biplane_guided import (GuidedOptions, Reading, ScoredReadings, choose_reading, final_score,
                             keep_best_scored, readings_spread, reread_forks, reread_shifted, scored_readings)
from .biplane_match import Built, DepthMap, Matching, build_3d, match_views
from .biplane_options import BiplaneOptions
from .both import both

__all__ = ["BiplaneOptions", "add_findings_to_case", "find_candidates", "findings_as_lesion_specs", "read_views",
           "report_lines", "tree_from_case", "tree_from_files", "tree_from_views", "view_candidates"]

if TYPE_CHECKING:
    from ..case import Case


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
                    options: BiplaneOptions | None = None, guided: GuidedOptions | None = None) -> DuctTree:
    """Rebuild the 3D tree from one or two views (see the module docs). BF mm.

    ``guided`` tunes the readings of each view guided by the other
    (:mod:`ductree.reconstruct.biplane_guided`); with ``guided.choose`` they are
    tried and the reading that explains both masks best is kept. Which reading
    was kept, and every candidate's self-consistency scores, are in
    ``tree.graph["biplane"]["reading"]``.
    """
    opt = options or BiplaneOptions()
    if cc is None and lateral is None:
        raise InputError("a ductogram needs a CC view, a lateral view or both", key="--cc")
    ga, gb = both(lambda: None if cc is None else view_graph(cc, nipple_px=nipple_cc, options=opt.view),
                  lambda: None if lateral is None else view_graph(lateral, nipple_px=nipple_lateral,
                                                                  options=opt.view))
    nipple_from = {k: ("given" if n is not None else "orifice end of the duct")
                   for k, n in (("cc", nipple_cc), ("lateral", nipple_lateral))}
    if ga is None or gb is None:
        vg = ga if ga is not None else gb
        t = vg.tree()
        tree = _planar_tree(t, "cc" if ga is not None else "lateral", laterality, opt)
        views = [t]
    else:
        with scored_readings() as ledger:
            ledger.stage = "with the fitted depth map"
            r = _read_pair(ga, gb, opt, guided)
            _check_quality(r.quality, opt)
            r = _choose_map(r, ga, gb, opt, guided, ledger)
            r = _shift_map(r, ga, gb, opt, guided)
            r = _move_forks(r, ga, gb, opt, guided)
        r = _keep_best_scored(r, ledger, guided)
        ta, tb, f, matched, built, quality, others = r.ta, r.tb, r.f, r.matched, r.built, r.quality, r.others
        quality["single_view_nodes"] = int(np.sum(built.single_view))
        if built is not matched:
            quality["single_view"] = _single_view_runs(built)
        tree = _to_tree(built, laterality, readings_spread(built, others), opt.spread_sigma, opt.sigma_floor_mm)
        quality["uncertain"] = _uncertain_summary(tree, opt)
        reason = _uncertain_reason(quality["uncertain"]["fraction"], r.score, opt)
        if reason:
            quality["reasons"].append(reason)
            quality["confidence"] = "low"
        _warn_low_confidence(quality)
        tree.graph["biplane"] = quality
        views = [ta, tb]
        tree.graph["candidate_findings"] = find_candidates(tree, built, ta, tb, opt, f,
                                                           support=None if matched is built else [matched])
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


# --------------------------------------------------------------------------- depth map and reading

@dataclass
class _PairReading:
    """Both views read with one depth map: trees, map, matched rows, the reading kept and its score."""

    ta: ViewTree
    tb: ViewTree
    f: DepthMap
    matched: Built
    built: Built
    quality: dict
    others: list[Built]
    score: float
    tried: list = field(default_factory=list)     #: (matching cost, map) of the fit's candidate maps
    kept: Reading | None = None                   #: the reading kept (its guide tree, when guided)


def _read_pair(ga, gb, opt: BiplaneOptions, guided: GuidedOptions | None,
               depth_map: DepthMap | None = None, recut_below: float | None = None) -> _PairReading:
    """Match the views (the fitted depth map, or ``depth_map``), triangulate, and keep the matched reading or
    one of each view read along the other's tree, whichever explains the masks best (crossings re-cut only
    for a guided reading scoring under ``recut_below``, when given)."""
    tried: list = []
    ta, tb, f, m, decided = match_views(ga, gb, opt.match, depth_map=depth_map, tried=tried)
    matched = build_3d(ta, tb, f, m, opt.match)
    quality = _quality(ta, tb, f, m, matched, decided, opt)
    built, quality["reading"], others, kept = choose_reading(matched, ta, tb, ga, gb, f, opt.match, guided,
                                                             recut_below=recut_below)
    score = quality["reading"]["candidates"][quality["reading"]["chosen"]]["score"]
    return _PairReading(ta, tb, f, matched, built, quality, others, float(score), tried, kept)


def _choose_map(first: _PairReading, ga, gb, opt: BiplaneOptions, guided: GuidedOptions | None,
                ledger=None) -> _PairReading:
    """Read the views again with the runner-up depth maps; keep the map whose reading explains both masks best.

    The matching cost ranks candidate maps by fork and end depths, which
    overlaps and hidden forks corrupt; the self-consistency of the kept
    reading (:func:`~ductree.reconstruct.biplane_guided.consistency`) judges
    the whole of both masks. The fitted map stays unless another scores
    ``map_switch_margin`` lower. The maps tried and their scores are in
    ``quality["depth_map_choice"]``.
    """
    from .biplane_match import same_map

    best, kept = first, 0
    runners = [g for _, g in sorted(first.tried, key=lambda cg: cg[0]) if not same_map(g, first.f)]
    record = [{"scale": first.f.a, "offset_mm": first.f.b, "knee_mm": first.f.knee_mm, "score": first.score,
               "fitted": True}]
    for n, g in enumerate(runners[: max(opt.map_tries - 1, 0)]):
        if ledger is not None:
            ledger.stage = f"with runner-up depth map {n + 1}"
        # a runner-up whose guided reading is far behind the fitted map's is not refined (it cannot win)
        r = _read_pair(ga, gb, opt, guided, depth_map=g, recut_below=first.score + opt.map_recut_within)
        unmatched = min(r.quality["matched_fraction"].values()) < opt.unmatchable_fraction
        record.append({"scale": g.a, "offset_mm": g.b, "knee_mm": g.knee_mm, "score": r.score,
                       "fitted": False, **({"skipped": "views unmatched with it"} if unmatched else {})})
        if not unmatched and r.score < best.score - (opt.map_switch_margin if best is first else 0.0):
            best, kept = r, len(record) - 1
    for k, rec in enumerate(record):
        rec["kept"] = k == kept
    best.quality["depth_map_choice"] = [_rounded(rec) for rec in record]
    if ledger is not None:
        ledger.stage = ""   # the re-reads to come start from the kept reading and its map
    return best


def _shift_map(best: _PairReading, ga, gb, opt: BiplaneOptions, guided: GuidedOptions | None) -> _PairReading:
    """Read the kept guided reading again with the depth map's offset moved by ``map_shifts_mm``; keep the
    reading that explains both masks best (by ``map_switch_margin``; see
    :func:`~ductree.reconstruct.biplane_guided.reread_shifted`). The shifts tried and their scores are in
    ``quality["reading"]["map_shifts"]``; a kept shift also moves ``quality["depth_map"]``, and the reading
    it replaces counts among the readings not kept (their spread is an uncertainty)."""
    if best.kept is None or best.kept.guide is None or not opt.map_shifts_mm:
        return best
    reading, score, f, tried = reread_shifted(best.kept, best.score, ga, gb, best.ta, best.tb, best.f,
                                              opt.map_shifts_mm, opt.map_switch_margin, opt.match, guided)
    best.quality["reading"]["map_shifts"] = [_rounded(t) for t in tried]
    if reading is best.kept:
        return best
    best.quality["depth_map"] = {**f.as_dict(), "shifted_mm": round(f.b - best.f.b, 4)}
    # the reading replaced is one the masks nearly allowed: where it puts a duct elsewhere, that is uncertain
    return replace(best, f=f, built=reading.built, score=score, kept=reading, others=best.others + [best.built])


def _move_forks(best: _PairReading, ga, gb, opt: BiplaneOptions, guided: GuidedOptions | None) -> _PairReading:
    """Read the kept guided reading again with each guide fork the other view shows shallower moved back
    there; keep the reading that explains both masks best (by ``map_switch_margin``; see
    :func:`~ductree.reconstruct.biplane_guided.reread_forks`). The moves tried and their scores are in
    ``quality["reading"]["fork_moves"]``; the reading a kept move replaces counts among the readings not
    kept."""
    if best.kept is None or best.kept.guide is None:
        return best
    reading, score, tried = reread_forks(best.kept, best.score, ga, gb, best.ta, best.tb, best.f,
                                         opt.map_switch_margin, opt.match, guided)
    if tried:
        best.quality["reading"]["fork_moves"] = [
            {**_rounded(t), "fork_ud_mm": [round(x, 2) for x in t["fork_ud_mm"]]} for t in tried]
    if reading is best.kept:
        return best
    return replace(best, built=reading.built, score=score, kept=reading, others=best.others + [best.built])


def _keep_best_scored(best: _PairReading, ledger: ScoredReadings, guided: GuidedOptions | None) -> _PairReading:
    """Of every reading scored on the way (every map, guide, re-cut, shift and fork move), keep the one with
    the lowest :func:`~ductree.reconstruct.biplane_guided.final_score`, which also counts the forks and tips
    the views do not confirm and the tree's length; the steps above decide what to read next by the masks
    alone. Recorded in ``quality["reading"]["final_pick"]``; the reading it replaces counts among those not
    kept."""
    pick, mine = keep_best_scored(best.built, ledger, guided)
    rec = {"readings": len(ledger), "kept_score": None if mine is None else round(mine, 4), "switched": False}
    if pick is not None:
        rec.update(switched=True, label=pick.label, score=round(final_score(pick.scores, guided), 4))
        if pick.f is not best.f:
            best.quality["depth_map"] = {**pick.f.as_dict(), "final_pick": True}
        others = [b for b in best.others if b is not pick.built] + [best.built]
        best = replace(best, built=pick.built, f=pick.f, score=pick.scores["score"], others=others)
    best.quality["reading"]["final_pick"] = rec
    return best


def _rounded(rec: dict) -> dict:
    """A record for ``graph["biplane"]``: its floats to 4 decimals."""
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in rec.items()}


# --------------------------------------------------------------------------- building the tree

def _to_tree(b: Built, laterality: str, spread: np.ndarray | None = None, spread_sigma: float = 0.0,
             sigma_floor_mm: float = 0.0) -> DuctTree:
    """The rows as a DuctTree. With ``spread`` (mm, how far the other readings put each node), every node
    also carries ``readings_spread_mm`` and its ``pos_sigma_mm`` grows to ``hypot(sigma, spread_sigma *
    spread)``, at least ``sigma_floor_mm``: the readings' disagreement is an uncertainty the triangulation
    alone does not see."""
    tree = DuctTree.from_arrays(b.pos, b.radius, b.parent, laterality=laterality)
    sigma = b.sigma if spread is None else np.maximum(np.hypot(b.sigma, spread_sigma * spread), sigma_floor_mm)
    for i, n in enumerate(tree.node_ids):
        d = tree.nodes[n]
        d["single_view"] = bool(b.single_view[n])
        d["view"] = b.view[n]
        d["pos_sigma_mm"] = round(float(sigma[n]), 4)
        if spread is not None:
            d["readings_spread_mm"] = round(float(spread[n]), 3)
    tree.touch()
    return tree


def _uncertain_summary(tree: DuctTree, opt: BiplaneOptions) -> dict:
    """How much of the tree is uncertain: the length (mm) and fraction of duct whose nodes have
    ``pos_sigma_mm >= opt.uncertain_sigma_mm`` (each segment counted by its deeper node)."""
    par = tree.parent_index
    has = par >= 0
    seg = np.zeros(len(par))
    seg[has] = np.linalg.norm(tree.positions[has] - tree.positions[par[has]], axis=1)
    sigma = np.array([tree.nodes[n].get("pos_sigma_mm", 0.0) for n in tree.node_ids])
    unsure = sigma >= opt.uncertain_sigma_mm
    total = float(seg.sum())
    return {"sigma_mm": opt.uncertain_sigma_mm, "length_mm": round(float(seg[unsure].sum()), 2),
            "fraction": round(float(seg[unsure].sum() / total), 4) if total > 0 else 0.0}


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
    ka, kb = ta.kind, tb.kind
    feats = min(int((ka >= 2).sum()), int((kb >= 2).sum()))
    sharp = 0
    for pp in m.pairs:
        i, j = pp.a[-1], pp.b[-1]
        if ka[i] == kb[j] and ka[i] in (2, 3) and abs(ta.ud[i, 1] - float(f(tb.ud[j, 1]))) < 0.5:
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


def _single_view_runs(b: Built) -> dict:
    """The stretches of a built tree seen in one view only, per view: each a connected run of one-view
    nodes (branches = its ends, length along it, where it starts: depth and the seen coordinate, mm)."""
    out: dict[str, list] = {"cc": [], "lateral": []}
    par = b.parent
    one = np.asarray(b.single_view, dtype=bool)
    kids = np.bincount(par[par >= 0], minlength=len(par))
    seg = np.zeros(len(par))
    has = par >= 0
    seg[has] = np.linalg.norm(b.pos[has] - b.pos[par[has]], axis=1)
    top = np.flatnonzero(one & ((par < 0) | ~one[np.maximum(par, 0)]))
    run_of = np.full(len(par), -1)
    run_of[top] = np.arange(len(top))
    for i in range(len(par)):                      # rows are parents first
        if one[i] and run_of[i] < 0 and par[i] >= 0:
            run_of[i] = run_of[par[i]]
    for k, t in enumerate(top):
        rows = np.flatnonzero(run_of == k)
        key = "cc" if b.view[t] == "cc" else "lateral"
        coords = b.cc_ud if key == "cc" else b.lat_ud
        seen = bool(np.all(np.isfinite(coords[t])))
        out[key].append({"branches": int(np.sum(kids[rows] == 0)) or 1,
                         "length_mm": round(float(seg[rows].sum()), 2),
                         "start_depth_mm": round(float(coords[t, 1] if seen else b.pos[t, 1]), 2),
                         "start_u_mm": round(float(coords[t, 0]), 2) if seen else None})
    for key in out:
        out[key].sort(key=lambda r: -r["length_mm"])
    return out


def _uncertain_reason(fraction: float, score: float, opt: BiplaneOptions) -> str:
    """Why a tree with this uncertain ``fraction`` (of its length), read by a reading of this consistency
    ``score``, is low-confidence; ``""`` when it is not. More than ``max_uncertain_fraction`` uncertain
    is; so is more than ``loose_uncertain_fraction`` where the reading explains the masks loosely (score
    over ``loose_score``): on the 140 tuning cases that also flags the 2 of 30 over 0.7 mm the first bar
    left confident (75 flagged rather than 70)."""
    loose = score > opt.loose_score
    if not (fraction > opt.max_uncertain_fraction or (loose and fraction > opt.loose_uncertain_fraction)):
        return ""
    why = (f"{100 * fraction:.0f}% of the tree is uncertain by {opt.uncertain_sigma_mm:g} mm or more (the readings "
           "disagree there, or it is seen in one view only)")
    if fraction <= opt.max_uncertain_fraction:
        why += f" and the reading kept explains the masks loosely (score {score:.2f} > {opt.loose_score:g})"
    return why


def _check_quality(q: dict, opt: BiplaneOptions) -> None:
    fa, fb = q["matched_fraction"]["cc"], q["matched_fraction"]["lateral"]
    unmatched = min(fa, fb) < opt.unmatchable_fraction and min(q["forks"]) >= 2
    if unmatched:
        raise InputError(f"the CC and lateral views do not seem to show the same ducts: only "
                         f"{round(q['agreement'] * q['features'])} of {q['features']} forks and ends agree in depth "
                         f"and {100 * fa:.0f}% (CC) / {100 * fb:.0f}% (lateral) of the centrelines matched; check "
                         "the files (one duct system, same breast), or build from one view (planar)",
                         key="--lateral")


def _warn_low_confidence(q: dict) -> None:
    if q["confidence"] == "low":
        warnings.warn("low-confidence match: " + "; ".join(q["reasons"]), DuctreeWarning, stacklevel=3)


# --------------------------------------------------------------------------- reporting

_READING_NAMES = {"matched": "matched", "guided_by_cc": "guided by the CC", "guided_by_lateral": "guided by the lateral"}


def _reading_line(rd: dict) -> str:
    """One line: the reading kept and why (self-consistency scores, lower is better)."""
    line = _stepwise_reading_line(rd)
    pick = rd.get("final_pick") or {}
    if pick.get("switched"):
        first, _, rest = pick["label"].partition(", ")
        label = ", ".join(x for x in (_READING_NAMES.get(first, first), rest) if x)
        line += (f"; of the {pick['readings']} readings scored, kept at the end: {label} (score {pick['score']:.3f} "
                 f"against {pick['kept_score']:.3f}, counting also the forks and tips the views do not confirm and "
                 "the length of duct)")
    return line


def _stepwise_reading_line(rd: dict) -> str:
    """The reading the steps kept and why (self-consistency scores, lower is better)."""
    sc = {k: v["score"] for k, v in rd["candidates"].items()}
    chosen = rd["chosen"]
    name = _READING_NAMES.get(chosen, chosen)
    if chosen != "matched":
        moved = next((t for t in rd.get("map_shifts", ()) if t["kept"]), None)
        again = "" if moved is None else (f"; read again with the depth map moved {moved['shift_mm']:+.2f} mm: "
                                          f"score {moved['score']:.2f}")
        fork = next((t for t in rd.get("fork_moves", ()) if t["kept"]), None)
        if fork is not None:
            d = fork["fork_ud_mm"][1]
            guide, other = ("CC", "lateral") if chosen == "guided_by_cc" else ("lateral", "CC")
            again += (f"; read again with the {guide}'s fork at {d:.1f} mm depth moved {fork['moved_mm']:.1f} mm "
                      f"shallower, where the {other} forks: score {fork['score']:.2f}")
        return f"reading: {name} (score {sc[chosen]:.2f} vs matched {sc['matched']:.2f}{again})"
    others = ", ".join(f"{_READING_NAMES.get(k, k)} {v:.2f}" for k, v in sc.items() if k != "matched")
    return (f"reading: matched (score {sc['matched']:.2f}; {others}: none better by "
            f"{rd.get('switch_margin', 0.0):g})")


def _map_choice_line(choice: list[dict]) -> str:
    """One line: which of the depth maps read was kept, and the self-consistency scores (lower: better)."""
    def desc(c: dict) -> str:
        return f"scale {c['scale']:.3f}, offset {c['offset_mm']:+.2f} mm: {c['score']:.3f}"

    kept = next(c for c in choice if c.get("kept"))
    rest = "; ".join(desc(c) for c in choice if c is not kept)
    what = "the map fitted to fork and end depths" if kept["fitted"] else "a runner-up map"
    return (f"depth map: {len(choice)} maps read, kept {what} ({desc(kept)}; others {rest}; score = how badly the "
            "reading explains both masks, lower is better)")


def _where(p_bf) -> str:
    """A BF point (mm) as the report states a finding's place: clock, depth, distance from the nipple."""
    from ..frame import clock_of_point, depth_mm, fn_mm, format_clock

    return f"{format_clock(clock_of_point(p_bf))} o'clock, {depth_mm(p_bf):.1f} mm deep, fn {fn_mm(p_bf):.1f} mm"


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
        choice = q.get("depth_map_choice") or []
        if len(choice) > 1:
            lines.append(_map_choice_line(choice))
        rd = q.get("reading") or {}
        cands = rd.get("candidates") or {}
        if len(cands) > 1:
            lines.append(_reading_line(rd))
        un = q.get("uncertain")
        if un:
            lines.append(f"uncertain: {100 * un['fraction']:.0f}% of the tree ({un['length_mm']:.0f} mm) is placed no "
                         f"better than +-{un['sigma_mm']:g} mm (1 SD): the readings disagree there, or it is seen "
                         "in one view only (node pos_sigma_mm, readings_spread_mm)")
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
        if f.get("alternatives_bf"):
            lines.append(f"  {f['label']} placement ambiguous (seen in one view; another reading puts it on a "
                         f"different duct): or at " + "; ".join(_where(a) for a in f["alternatives_bf"]))
    return lines
