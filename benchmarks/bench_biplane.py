"""Ductogram (CC + lateral) -> 3D tree: accuracy over seeded simulated ductograms, and speed.

Cases: ``CASES`` seeded phantoms (3 systems, 20-40 branches each, 80 mm
breast, one lesion), one system opacified and projected by
:func:`ductree.phantom.ductogram_sim.simulate_ductogram` (magnification
1.5-2.0, 50-70 um detector pixels, opposite depth compressions up to +-5%
and +-3 mm, soft edges, overlapping ducts, unfilled branches, filling
defects / occlusions at the lesion). The nipple pixel is given in each view
(the user marks the nipple, visible on every mammogram). The seeds are
1000-1019; the mean error is also given over three more sets of 20 made the
same way (``MORE_SEEDS``), as 20 cases are few.

Scored with :func:`ductree.metrics.compare_trees` against the opacified truth
(``min_branch_length_mm=3``, ``tol_mm=0.5``), plus:

- **bifurcations with the right parent and children**: a truth bifurcation
  counts when a reconstructed one lies within ``0.5 mm + r`` and the branches
  meeting there (each labelled by the truth branch nearest to its first
  0.5-2.5 mm) are the truth's parent and children;
- **filling defects found**: a candidate finding within 2 mm (3D) of each
  inserted defect (the visible site: the lesion for a filling defect, the end
  of the contrast column for an occlusion); false candidates per case; the
  share of findings flagged with an ambiguous placement, and how many of the
  flagged and the unflagged lie more than 2 mm from the defect;
- **where the error is lost** (diagnostics, not targets): the mean 3D error of the nodes matched in
  both views and of the one-view nodes, and the mean error when one view's 2D tree is replaced by
  the projected truth (the other view as read), i.e. how much each view's reading costs; the error
  with the simulator's own depth map (what a perfect map would give); and the share
  of the nodes more than 1 mm off whose projections both lie on the truth (wrong correspondences);
  and the share of cases where the truth itself, scored as the last pick scores a reading (with the
  true depth map, and charged the kept reading's share of one-view nodes: it has none by construction),
  beats the reading kept: where it does, the reading a better judge would need was never made (the
  search limits, not the judge);
- **the depth map kept**: the share of cases where a runner-up map was kept; the share where the last
  pick among every reading scored kept another reading than the steps had;
- **the thorough setting**: the mean error with every nearly tied crossing cut
  of the guide re-read (``GuidedOptions(recut_tries=99)``; the default
  re-reads the most nearly tied one), beside the default's, with the time per
  case of each;
- **honesty of the uncertainty**: the share of nodes within 2 ``pos_sigma_mm``
  of the true centreline, and the share of cases over 0.7 mm error flagged
  low-confidence (with the worst case left high-confidence);
- **speed**: one 2000 x 2000 pixel pair (PNG files, 25 um pixels at the
  breast) from file to tree, in this process after a warm-up and as a fresh
  ``ductree build`` process (imports included).

Peer: no open tool rebuilds a 3D ductal tree from a ductogram pair, so the
peer is a naive baseline run on the same masks: the CC view's own 2D tree
(same skeleton, same crossing cuts), each point given the ``z`` of the lateral
centreline point at the nearest equal depth (raw depths, no compression
model, no topology matching; ties to the point nearest the parent's ``z``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .harness import Row

CASES = 20
MORE_SEEDS = (5000, 7000, 11000)   #: first seeds of 20-case sets scored beside the benchmark's own 1000-1019
TOL_MM = 0.5
THOROUGH_RECUTS = 99   #: GuidedOptions.recut_tries of the thorough setting scored beside the default
BENCH = "biplane"
PEER = "naive equal-depth"


def _cases(quick: bool, first_seed: int = 1000):
    from ductree.phantom import generate_tree, insert_lesions
    from ductree.phantom.ductogram_sim import simulate_ductogram

    n = 5 if quick else CASES
    rng = np.random.default_rng(7)
    for k in range(n):
        seed = first_seed + k
        branches = int(rng.integers(20, 41))
        lat = "R" if k % 2 == 0 else "L"
        tree = generate_tree(seed=seed, systems=3, branches=branches, laterality=lat, breast_depth_mm=80)
        lesions = insert_lesions(tree, 1, seed=seed)
        yield seed, lat, simulate_ductogram(tree, lesions, seed=seed)


def _rebuild(sim, lat, guided=None):
    import copy

    from ductree.reconstruct.biplane import tree_from_views

    cc, ml = copy.copy(sim.cc.view), copy.copy(sim.lateral.view)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tree_from_views(cc, ml, laterality=lat, nipple_cc=cc.nipple_px, nipple_lateral=ml.nipple_px,
                               guided=guided)


def truth_view_tree(sim, which: str):
    """The opacified truth projected into one view as a perfect 2D tree (view mm: ``u``, the view's depth)."""
    from ductree.measures import branches
    from ductree.reconstruct.biplane_graph import ViewTree

    sv = sim.cc if which == "cc" else sim.lateral
    t = sim.truth
    pos = t.positions
    ud = np.column_stack([pos[:, 0] if which == "cc" else pos[:, 2], sv.depth(pos[:, 1])])
    root = int(np.flatnonzero(t.parent_index < 0)[0])
    row_of = {root: 0}
    uds, rad, par, e_ud, e_r = [ud[root]], [float(t.radii[root])], [-1], [np.zeros((0, 2))], [np.zeros(0)]
    for b in branches(t):                       # parents before children
        if len(b.rows) < 2 or int(b.rows[0]) not in row_of:
            continue
        row_of[int(b.end_row)] = len(uds)
        uds.append(ud[b.end_row])
        rad.append(float(t.radii[b.end_row]))
        par.append(row_of[int(b.rows[0])])
        e_ud.append(ud[b.rows])
        e_r.append(t.radii[b.rows])
    n = len(uds)
    kids: list[list[int]] = [[] for _ in range(n)]
    for i in range(1, n):
        kids[par[i]].append(i)
    vt = ViewTree(view=sv.view, ud=np.array(uds), r=np.array(rad), parent=np.array(par), children=kids,
                  edge_ud=e_ud, edge_r=e_r, bridge=np.zeros(n, dtype=bool))
    vt.fork_slack = np.zeros(n)
    return vt


def where_lost(sim, lat) -> dict:
    """Where the 3D error comes from, in one case: nodes matched in both views versus one-view nodes, and
    the error when one view's 2D tree is replaced by the projected truth (the other view as read)."""
    import copy

    from scipy.spatial import cKDTree

    from ductree.metrics import compare_trees
    from ductree.reconstruct.biplane import _to_tree
    from ductree.reconstruct.biplane_graph import view_graph
    from ductree.reconstruct.biplane_match import MatchOptions, build_3d, fit_and_match, match_views

    opt = MatchOptions()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ga = view_graph(copy.copy(sim.cc.view), nipple_px=sim.cc.view.nipple_px)
        gb = view_graph(copy.copy(sim.lateral.view), nipple_px=sim.lateral.view.nipple_px)
        ta, tb, f, m, _ = match_views(ga, gb, opt)
        b = build_3d(ta, tb, f, m, opt)
        tp, par = sim.truth.positions, sim.truth.parent_index
        kids = np.flatnonzero(par >= 0)
        steps = np.linspace(0.0, 1.0, 21)
        dense = (tp[par[kids]][:, None, :] + steps[None, :, None] * (tp[kids] - tp[par[kids]])[:, None, :])
        err = cKDTree(dense.reshape(-1, 3)).query(b.pos)[0]
        out = {"matched_err": err[~b.single_view], "single_err": err[b.single_view]}
        for key, pair in (("perfect_cc", (truth_view_tree(sim, "cc"), tb)),
                          ("perfect_lateral", (ta, truth_view_tree(sim, "lateral")))):
            f2, m2 = fit_and_match(pair[0], pair[1], opt)
            tree = _to_tree(build_3d(pair[0], pair[1], f2, m2, opt), lat)
            out[key] = compare_trees(tree, sim.truth, min_branch_length_mm=3.0, tol_mm=TOL_MM).recon_to_truth_mean_mm
        from ductree.reconstruct.biplane import _read_pair
        from ductree.reconstruct.biplane_options import BiplaneOptions

        r = _read_pair(ga, gb, BiplaneOptions(), None, depth_map=true_depth_map(sim))
        out["true_map"] = compare_trees(_to_tree(r.built, lat), sim.truth, min_branch_length_mm=3.0,
                                        tol_mm=TOL_MM).recon_to_truth_mean_mm
        # the truth itself, scored as the last pick scores a reading (with the true map)
        from ductree.reconstruct.biplane_guided import consistency, final_score
        from ductree.reconstruct.biplane_match import built_from_tree

        out["truth_final"] = final_score(consistency(built_from_tree(sim.truth), ga, gb, true_depth_map(sim)))
    return out


def true_depth_map(sim):
    """The simulator's lateral -> CC depth map (exact beyond the lateral's nipple ramp; the views' ramps may
    differ, so it is approximate over the first 5-10 mm)."""
    from ductree.reconstruct.biplane_match import DepthMap

    return DepthMap(*sim.lateral_to_cc_depth())


def naive_tree(sim, lat):
    """The baseline: CC topology, z from the lateral centreline point at the nearest equal depth."""
    import copy

    from ductree.reconstruct.biplane_graph import view_tree
    from ductree.reconstruct.biplane_match import _resample_rows
    from ductree.tree import DuctTree

    cc, ml = copy.copy(sim.cc.view), copy.copy(sim.lateral.view)
    ta = view_tree(cc, nipple_px=cc.nipple_px)
    tb = view_tree(ml, nipple_px=ml.nipple_px)
    pts = np.vstack([e for e in tb.edge_ud if len(e)] + [tb.ud[:1]])
    order = np.argsort(pts[:, 1])
    lat_d, lat_z = pts[order, 1], pts[order, 0]

    def z_at(d: float, z_prev: float) -> float:
        k = int(np.searchsorted(lat_d, d))
        lo, hi = max(k - 30, 0), min(k + 30, len(lat_d))
        dd = np.abs(lat_d[lo:hi] - d)
        near = dd <= dd.min() + 0.1
        cand = lat_z[lo:hi][near]
        return float(cand[np.argmin(np.abs(cand - z_prev))])

    pos = [[ta.ud[0, 0], 0.0, z_at(0.0, 0.0)]]
    rad = [float(ta.r[0])]
    par = [-1]
    stack = [(c, 0) for c in ta.children[0]]
    while stack:
        node, prev = stack.pop()
        poly, r = ta.edge_ud[node], ta.edge_r[node]
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(poly, axis=0), axis=1))])
        for k in _resample_rows(s, 0.5, [])[1:]:
            z = z_at(float(poly[k, 1]), pos[prev][2])
            pos.append([float(poly[k, 0]), float(poly[k, 1]), z])
            rad.append(float(r[k]))
            par.append(prev)
            prev = len(pos) - 1
        stack.extend((c, prev) for c in ta.children[node])
    return DuctTree.from_arrays(pos, rad, par, laterality=lat)


def _branch_labels_near(tree, truth_segments, node_row: int, rows: np.ndarray) -> int:
    """The truth branch nearest to the points of a branch 0.5-2.5 mm from its end ``node_row``."""
    pos = tree.positions
    d = np.linalg.norm(pos[rows] - pos[node_row], axis=1)
    sel = rows[(d >= 0.5) & (d <= 2.5)]
    if not len(sel):
        sel = rows[1:] if len(rows) > 1 else rows
    a, b, lab = truth_segments
    votes = []
    for p in pos[sel]:
        ab = b - a
        t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12), 0, 1)
        votes.append(int(lab[np.argmin(np.linalg.norm(p - (a + t[:, None] * ab), axis=1))]))
    vals, cnt = np.unique(votes, return_counts=True)
    return int(vals[np.argmax(cnt)])


def bifurcations_right(recon, truth, tol_mm: float = TOL_MM, min_branch_mm: float = 3.0) -> tuple[int, int]:
    """(right, total): truth bifurcations matched by a reconstructed one with the same parent and children."""
    from ductree.measures import branches, child_count

    tb = branches(truth)
    a, b, lab = [], [], []
    for br in tb:
        for i, j in zip(br.rows[:-1], br.rows[1:]):
            a.append(truth.positions[i])
            b.append(truth.positions[j])
            lab.append(br.index)
    segs = (np.array(a), np.array(b), np.array(lab))
    tcc = child_count(truth)
    # truth bifurcations whose children are visible (non-terminal, or at least min_branch_mm long)
    t_in = {br.end_row: br.index for br in tb}
    t_out: dict[int, list[int]] = {}
    for br in tb:
        if len(br.rows) > 1 and (tcc[br.end_row] > 0 or br.length_mm >= min_branch_mm):
            t_out.setdefault(int(br.rows[0]), []).append(br.index)
    t_bif = [r for r in np.flatnonzero(tcc >= 2) if len(t_out.get(int(r), [])) >= 2]
    rb = branches(recon)
    r_in = {br.end_row: br for br in rb}
    r_out: dict[int, list] = {}
    for br in rb:
        if len(br.rows) > 1:
            r_out.setdefault(int(br.rows[0]), []).append(br)
    r_bif = np.array([r for r in r_out if len(r_out[r]) >= 2 and r in r_in], dtype=np.int64)
    right = 0
    used: set[int] = set()
    for t in t_bif:
        if not len(r_bif):
            break
        d = np.linalg.norm(recon.positions[r_bif] - truth.positions[t], axis=1)
        order = np.argsort(d)
        k = next((int(r_bif[o]) for o in order if d[o] <= tol_mm + truth.radii[t] and int(r_bif[o]) not in used), None)
        if k is None:
            continue
        used.add(k)
        parent_ok = _branch_labels_near(recon, segs, k, r_in[k].rows[::-1]) == t_in.get(int(t), -2)
        kids = {_branch_labels_near(recon, segs, k, br.rows) for br in r_out[k]}
        if parent_ok and set(t_out[int(t)]) <= kids:
            right += 1
    return right, len(t_bif)


def _score(tree, sim) -> dict:
    from ductree.metrics import compare_trees

    s = compare_trees(tree, sim.truth, min_branch_length_mm=3.0, tol_mm=TOL_MM)
    right, total = bifurcations_right(tree, sim.truth)
    found = [f for f in tree.graph.get("candidate_findings", [])]
    hit = sum(1 for d in sim.defects
              if any(np.linalg.norm(np.array(f["point_bf"]) - np.array(d["point_bf"])) <= 2.0 for f in found))
    off = [_off(f, sim) for f in found]
    from scipy.spatial import cKDTree

    tp, par = sim.truth.positions, sim.truth.parent_index
    kids = np.flatnonzero(par >= 0)
    steps = np.linspace(0.0, 1.0, 21)
    dense = tp[par[kids]][:, None, :] + steps[None, :, None] * (tp[kids] - tp[par[kids]])[:, None, :]
    node_err = cKDTree(dense.reshape(-1, 3)).query(tree.positions)[0]
    sigma = np.array([float(tree.nodes[n].get("pos_sigma_mm") or 0.0) for n in tree.node_ids])
    far, ghost = _wrong_correspondence(tree, sim, dense.reshape(-1, 3), node_err)
    by_view = _error_by_view(tree, cKDTree(dense.reshape(-1, 3)))
    bp = tree.graph.get("biplane") or {}
    reading = bp.get("reading") or {}
    return {"within_2sigma": int(np.sum(node_err <= 2.0 * sigma)), "nodes": len(sigma), "far": far, "ghost": ghost,
            "err": s.recon_to_truth_mean_mm, "cover": s.truth_to_recon_mean_mm, "recall": s.branch_recall,
            "precision": s.branch_precision, "bif_right": right, "bif_total": total,
            "defects": len(sim.defects), "found": hit, "false": sum(off),
            "amb": [o for f, o in zip(found, off) if f.get("alternatives_bf")],
            "unamb": [o for f, o in zip(found, off) if not f.get("alternatives_bf")],
            "single": float(np.mean([tree.nodes[n].get("single_view", False) for n in tree.nodes])),
            "confidence": bp.get("confidence"),
            "reading": reading.get("chosen", "matched"),
            "fork_moved": any(m.get("kept") for m in reading.get("fork_moves", [])),
            "final_pick": bool((reading.get("final_pick") or {}).get("switched")),
            "final_score": _kept_final_score(reading.get("final_pick") or {}),
            "runner_up_map": any(m.get("kept") and not m.get("fitted") for m in bp.get("depth_map_choice", [])),
            **by_view}


def _kept_final_score(pick: dict) -> float | None:
    """The last pick's score of the reading kept (``graph.biplane.reading.final_pick``)."""
    return pick.get("score") if pick.get("switched") else pick.get("kept_score")


def _off(finding: dict, sim) -> bool:
    """Whether a finding lies more than 2 mm from every inserted defect."""
    p = np.array(finding["point_bf"])
    return not any(np.linalg.norm(p - np.array(d["point_bf"])) <= 2.0 for d in sim.defects)


def _error_by_view(tree, truth_kd, step_mm: float = 0.1) -> dict:
    """Length (mm) and summed error (mm x mm) of the kept tree's segments seen in both views and in one view
    only (each segment by its deeper node), sampled every ``step_mm`` against the true centreline; of the
    one-view part, also that of a guided reading's branches of the other view that no guide branch
    explains (``hid``: their unknown coordinate is guessed along the guide view's centrelines)."""
    pos, par = tree.positions, tree.parent_index
    one = np.array([bool(tree.nodes[n].get("single_view")) for n in tree.node_ids])
    chosen = ((tree.graph.get("biplane") or {}).get("reading") or {}).get("chosen", "matched")
    other_view = {"guided_by_cc": "lateral", "guided_by_lateral": "cc"}.get(chosen)
    hid = np.array([other_view is not None and tree.nodes[n].get("view") == other_view for n in tree.node_ids])
    out = {"len_one": 0.0, "err_one": 0.0, "len_both": 0.0, "err_both": 0.0, "len_hid": 0.0, "err_hid": 0.0}
    for i in np.flatnonzero(par >= 0):
        a, b = pos[par[i]], pos[i]
        length = float(np.linalg.norm(b - a))
        t = np.linspace(0.0, 1.0, max(2, int(length / step_mm) + 1))
        e = float(truth_kd.query(a + t[:, None] * (b - a))[0].mean())
        key = "one" if one[i] else "both"
        out["len_" + key] += length
        out["err_" + key] += e * length
        if one[i] and hid[i]:
            out["len_hid"] += length
            out["err_hid"] += e * length
    return out


def _wrong_correspondence(tree, sim, truth_pts: np.ndarray, node_err: np.ndarray) -> tuple[int, int]:
    """(nodes more than 1 mm off, those of them seen on the truth in both views): each view's projection
    of the node (through the rebuild's own depth map) lies within 0.3 mm of the truth's projection, so
    the node pairs a CC point of one duct with a lateral point of another (a wrong correspondence)."""
    from scipy.spatial import cKDTree

    from ductree.reconstruct.biplane_guided import project
    from ductree.reconstruct.biplane_match import DepthMap

    dm = ((tree.graph.get("biplane") or {}).get("depth_map")) or {}
    if not dm:
        return 0, 0
    f = DepthMap(dm["scale"], dm["offset_mm"], dm["knee_mm"])

    pc, pl = project(SimpleNamespace(pos=tree.positions), f)   # project() reads the rows' positions only
    t_cc = np.column_stack([truth_pts[:, 0], sim.cc.depth(truth_pts[:, 1])])
    t_lat = np.column_stack([truth_pts[:, 2], sim.lateral.depth(truth_pts[:, 1])])
    on_cc = cKDTree(t_cc).query(pc)[0] < 0.3
    on_lat = cKDTree(t_lat).query(pl)[0] < 0.3
    far = node_err > 1.0
    return int(far.sum()), int(np.sum(far & on_cc & on_lat))


def _speed_pair(folder: Path) -> tuple[Path, Path, dict]:
    """A 2000 x 2000 PNG pair of a large system at 25 um at the breast (magnification 2, 50 um pixels)."""
    from ductree.io.images2d import write_mask_png
    from ductree.phantom import generate_tree, insert_lesions
    from ductree.phantom.ductogram_sim import DuctogramSettings, simulate_ductogram

    tree = generate_tree(seed=77, systems=2, branches=60, laterality="R", breast_depth_mm=60)
    cfg = DuctogramSettings(magnification=(2.0, 2.0), detector_pixel_mm=(0.05, 0.05))
    sim = simulate_ductogram(tree, insert_lesions(tree, 1, seed=77), seed=77, settings=cfg)
    out = []
    nip = {}
    for sv, name in ((sim.cc, "cc_2000.png"), (sim.lateral, "ml_2000.png")):
        m = sv.view.mask
        canvas = np.zeros((2000, 2000), dtype=bool)
        r0 = max(0, (2000 - m.shape[0]) // 2)
        c0 = 40
        h, w = min(m.shape[0], 2000), min(m.shape[1], 2000 - c0)
        canvas[r0:r0 + h, c0:c0 + w] = m[:h, :w]
        nip[name] = (sv.view.nipple_px[0] + r0, sv.view.nipple_px[1] + c0)
        out.append(write_mask_png(canvas, folder / name))
    return out[0], out[1], {"nipple": nip, "spacing": 0.05, "magnification": 2.0}


def _speed(quick: bool) -> dict:
    from ductree.reconstruct.biplane import tree_from_files

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cc, ml, info = _speed_pair(folder)
        kw = dict(laterality="R", spacing_mm=info["spacing"], magnification=info["magnification"],
                  nipple_cc=info["nipple"]["cc_2000.png"], nipple_lateral=info["nipple"]["ml_2000.png"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree_from_files(cc, ml, **kw)
            best = cpu = float("inf")
            for _ in range(1 if quick else 3):
                t0, c0 = time.perf_counter(), time.process_time()
                tree = tree_from_files(cc, ml, **kw)
                best = min(best, time.perf_counter() - t0)
                cpu = min(cpu, time.process_time() - c0)
        nc, nl = info["nipple"]["cc_2000.png"], info["nipple"]["ml_2000.png"]
        cmd = [sys.executable, "-m", "ductree", "build", "--cc", str(cc), "--lateral", str(ml), "-l", "R",
               "--out", str(folder / "t.json"), "--spacing", "0.05", "--magnification", "2",
               "--cc-nipple", f"{nc[0]},{nc[1]}", "--lateral-nipple", f"{nl[0]},{nl[1]}"]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8")
        cli = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        t0 = time.perf_counter()
        from ductree.io.images2d import read_view

        views = [read_view(p, k, spacing_mm=info["spacing"], magnification=info["magnification"], laterality="R")
                 for p, k in ((cc, "cc"), (ml, "lateral"))]
        read_only = time.perf_counter() - t0
        # the peer on the same pair in the same run (this machine's speed drifts; the ratio holds)
        for v, name in zip(views, ("cc_2000.png", "ml_2000.png")):
            v.nipple_px = info["nipple"][name]
        pair = SimpleNamespace(cc=SimpleNamespace(view=views[0]), lateral=SimpleNamespace(view=views[1]))
        naive = float("inf")
        for _ in range(1 if quick else 3):
            t0 = time.perf_counter()
            naive_tree(pair, "R")
            naive = min(naive, time.perf_counter() - t0)
    import os

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {"in_process": best, "cpu": cpu, "cli": cli, "read": read_only, "nodes": tree.number_of_nodes(),
            "load": load, "naive": naive}


def run(quick: bool = False) -> list[Row]:
    from ductree.reconstruct.biplane_guided import GuidedOptions

    ours, base, lost, thorough = [], [], [], []
    t_ours = t_base = t_thorough = 0.0
    for seed, lat, sim in _cases(quick):
        lost.append(where_lost(sim, lat))
        t0 = time.perf_counter()
        tree = _rebuild(sim, lat)
        t_ours += time.perf_counter() - t0
        ours.append(_score(tree, sim))
        # the thorough setting: every nearly tied crossing cut of the guide re-read (the default re-reads one)
        t0 = time.perf_counter()
        tree = _rebuild(sim, lat, GuidedOptions(recut_tries=THOROUGH_RECUTS))
        t_thorough += time.perf_counter() - t0
        thorough.append(_score(tree, sim))
        t0 = time.perf_counter()
        naive = naive_tree(sim, lat)
        t_base += time.perf_counter() - t0
        base.append(_score(naive, sim))
    n = len(ours)
    # the same recipe on more seeds (not in quick mode): 20 cases are few, and these were not the tuning set
    more, more_base = [], []
    for first in (() if quick else MORE_SEEDS):
        for seed, lat, sim in _cases(False, first):
            more.append(_score(_rebuild(sim, lat), sim))
            more_base.append(_score(naive_tree(sim, lat), sim))

    def mean(rows, k):
        vals = [r[k] for r in rows if r[k] is not None]
        return float(np.mean(vals)) if vals else float("nan")

    def frac(rows, a, b):
        return sum(r[a] for r in rows) / max(sum(r[b] for r in rows), 1)

    note = f"{n} cases, tol {TOL_MM} mm"
    # the truth has no one-view nodes (every position is known); a reading flags the stretches one view hides
    # behind another duct, and the truth read from these masks would have them too: it pays the kept
    # reading's share, so only how well each explains the masks and confirms forks and tips is compared
    single_w = GuidedOptions().single_weight
    truth_wins = [(lo["truth_final"] + single_w * r["single"] < r["final_score"], r["err"])
                  for lo, r in zip(lost, ours) if r["final_score"] is not None]
    truth_better = [won for won, _ in truth_wins]
    bad_better = [won for won, err in truth_wins if err > 0.7]
    rows = [
        Row(BENCH, "mean 3D centreline error (recon->truth)", mean(ours, "err"), "mm", PEER, mean(base, "err"),
            False, "<= 0.5 mm", note),
        *([Row(BENCH, f"mean 3D centreline error, {len(more)} more cases", mean(more, "err"), "mm", PEER,
               mean(more_base, "err"), False, "<= 0.5 mm", f"seeds {', '.join(f'{s}-{s + CASES - 1}' for s in MORE_SEEDS)}; "
               f"branch recall {100 * mean(more, 'recall'):.1f}%, defects found "
               f"{sum(r['found'] for r in more)}/{sum(r['defects'] for r in more)}")] if more else []),
        Row(BENCH, f"mean 3D centreline error, thorough crossing re-cuts (recut_tries={THOROUGH_RECUTS})",
            mean(thorough, "err"), "mm", "default (one re-cut)", mean(ours, "err"), False, "",
            f"{n} cases; branch recall {100 * mean(thorough, 'recall'):.1f}% (default "
            f"{100 * mean(ours, 'recall'):.1f}%); time per case {t_thorough / max(n, 1):.2f} s (default "
            f"{t_ours / max(n, 1):.2f} s)"),
        Row(BENCH, "median case centreline error", float(np.median([r["err"] for r in ours])), "mm", PEER,
            float(np.median([r["err"] for r in base])), False, "", note),
        Row(BENCH, "mean truth->recon distance (completeness)", mean(ours, "cover"), "mm", PEER, mean(base, "cover"),
            False, "", note),
        Row(BENCH, "branch recall (>= 3 mm)", 100 * mean(ours, "recall"), "%", PEER, 100 * mean(base, "recall"),
            True, ">= 95%", note),
        Row(BENCH, "branch precision (>= 3 mm)", 100 * mean(ours, "precision"), "%", PEER,
            100 * mean(base, "precision"), True, ">= 95%", note),
        Row(BENCH, "bifurcations with right parent and children", 100 * frac(ours, "bif_right", "bif_total"), "%",
            PEER, 100 * frac(base, "bif_right", "bif_total"), True, ">= 90%", note),
        Row(BENCH, "cases with the inserted defect found within 2 mm", 100 * frac(ours, "found", "defects"), "%",
            "-", None, True, ">= 90%", f"{sum(r['defects'] for r in ours)} defects"),
        Row(BENCH, "false candidate findings per case", sum(r["false"] for r in ours) / max(n, 1), "count", "-",
            None, False, "", note),
        Row(BENCH, "candidate findings flagged with an ambiguous placement",
            100 * sum(len(r["amb"]) for r in ours) / max(sum(len(r["amb"]) + len(r["unamb"]) for r in ours), 1), "%",
            "-", None, False, "",
            f"seen in one view, another reading puts them on a different duct; "
            f"{sum(sum(r['amb']) for r in ours)} of {sum(len(r['amb']) for r in ours)} flagged lie > 2 mm from the "
            f"defect, against {sum(sum(r['unamb']) for r in ours)} of {sum(len(r['unamb']) for r in ours)} unflagged"),
        Row(BENCH, "nodes flagged single-view", 100 * mean(ours, "single"), "%", "-", None, False, "", note),
        Row(BENCH, "cases flagged low-confidence", 100 * sum(r["confidence"] == "low" for r in ours) / max(n, 1),
            "%", "-", None, False, "", note),
        Row(BENCH, "nodes within 2 pos_sigma_mm of the true centreline", 100 * frac(ours, "within_2sigma", "nodes"),
            "%", "-", None, True, "", "calibration of the stated uncertainty (1 SD; about 86% for a 2D Gaussian)"),
        Row(BENCH, "cases over 0.7 mm error flagged low-confidence",
            100 * sum(r["confidence"] == "low" for r in ours if r["err"] > 0.7)
            / max(sum(r["err"] > 0.7 for r in ours), 1), "%", "-", None, True, "",
            f"{sum(r['err'] > 0.7 for r in ours)} such cases; worst case left high-confidence "
            f"{max([r['err'] for r in ours if r['confidence'] != 'low'] or [0.0]):.2f} mm"
            + (f"; in the {len(more)} more cases {sum(r['confidence'] == 'low' for r in more if r['err'] > 0.7)} of "
               f"{sum(r['err'] > 0.7 for r in more)} over 0.7 mm flagged, and "
               f"{sum(r['confidence'] == 'low' for r in more if r['err'] < 0.4)} of "
               f"{sum(r['err'] < 0.4 for r in more)} under 0.4 mm flagged too" if more else "")),
        Row(BENCH, "reconstruction time per case (in process)", t_ours / max(n, 1), "s", PEER, t_base / max(n, 1),
            False, "", "masks of 1000-2000 px a side"),
    ]
    def frac_reading(rows, name):
        return float(np.mean([r.get("reading") == name for r in rows])) if rows else float("nan")

    m_err = np.concatenate([x["matched_err"] for x in lost])
    s_err = np.concatenate([x["single_err"] for x in lost])
    share = float(s_err.sum() / max(s_err.sum() + m_err.sum(), 1e-12))
    tot = {k: sum(r[k] for r in ours) for k in ("len_one", "err_one", "len_both", "err_both", "len_hid", "err_hid")}
    def part(key: str) -> dict:
        """A part's mean error (mm) and its shares (%) of the whole tree's length and summed error."""
        return {"mean": tot["err_" + key] / max(tot["len_" + key], 1e-12),
                "length": 100 * tot["len_" + key] / max(tot["len_one"] + tot["len_both"], 1e-12),
                "error": 100 * tot["err_" + key] / max(tot["err_one"] + tot["err_both"], 1e-12)}

    one, hid = part("one"), part("hid")
    both_mean = tot["err_both"] / max(tot["len_both"], 1e-12)
    rows += [
        Row(BENCH, "readings chosen: guided by the CC / by the lateral", 100 * frac_reading(ours, "guided_by_cc"), "%",
            "-", None, False, "", f"by the lateral {100 * frac_reading(ours, 'guided_by_lateral'):.0f}%, matched "
                                  f"{100 * frac_reading(ours, 'matched'):.0f}%"),
        Row(BENCH, "depth map: a runner-up map kept (its reading explains the masks better)",
            100 * float(np.mean([bool(r.get("runner_up_map")) for r in ours])), "%", "-", None, False, "",
            "the fitted map otherwise; see graph.biplane.depth_map_choice"),
        Row(BENCH, "a guide fork moved back to where the other view forks (its reading explains the masks better)",
            100 * float(np.mean([bool(r.get("fork_moved")) for r in ours])), "%", "-", None, False, "",
            "see graph.biplane.reading.fork_moves"),
        Row(BENCH, "the last pick kept another reading than the steps (counting unconfirmed forks/tips and length)",
            100 * float(np.mean([bool(r.get("final_pick")) for r in ours])), "%", "-", None, False, "",
            "see graph.biplane.reading.final_pick"),
        Row(BENCH, "where lost (matched reading): 3D error of nodes matched in both views", float(np.mean(m_err)), "mm", "-", None,
            False, "", f"{len(m_err)} nodes; nearest truth centreline"),
        Row(BENCH, "where lost (matched reading): 3D error of one-view nodes", float(np.mean(s_err)) if len(s_err) else float("nan"),
            "mm", "-", None, False, "", f"{len(s_err)} nodes, {100 * share:.0f}% of the summed error"),
        Row(BENCH, "where lost (kept reading): error of the parts seen in one view only", one["mean"], "mm", "-",
            None, False, "", f"{one['length']:.0f}% of the length, {one['error']:.0f}% of the error; the parts seen "
                             f"in both views {both_mean:.2f} mm"),
        Row(BENCH, "where lost (kept reading): branches of the other view no guide branch explains", hid["mean"],
            "mm", "-", None, False, "", f"{hid['length']:.0f}% of the length, {hid['error']:.0f}% of the error; seen "
                                        "in one view, their unknown coordinate guessed along the guide view"),
        Row(BENCH, "where lost: nodes > 1 mm off that lie on the truth in both views", 100 * frac(ours, "ghost", "far"),
            "%", "-", None, False, "", f"{sum(r['far'] for r in ours)} nodes > 1 mm off: a CC point of one duct paired "
                                       "with a lateral point of another (wrong correspondence), not a misread mask"),
        Row(BENCH, "where lost: mean 3D error with the CC's 2D tree perfect", mean(lost, "perfect_cc"), "mm", "-",
            None, False, "", "projected truth as the CC tree, the lateral as read"),
        Row(BENCH, "where lost: mean 3D error with the lateral's 2D tree perfect", mean(lost, "perfect_lateral"),
            "mm", "-", None, False, "", "the CC as read, projected truth as the lateral tree"),
        Row(BENCH, "where lost: mean 3D error with the simulator's depth map", mean(lost, "true_map"),
            "mm", "-", None, False, "", "both views as read, the true lateral->CC depth map, one map read"),
        Row(BENCH, "where lost: the true tree explains both masks better than the reading kept",
            100 * float(np.mean(truth_better)), "%", "-", None, False, "",
            f"by the last pick's own score, with the true depth map, the truth charged the kept reading's share "
            f"of one-view nodes (it has none by construction); also in {sum(bad_better)} of the "
            f"{len(bad_better)} cases over 0.7 mm. Where the truth wins, the error comes from the readings made "
            "(search), not from the pick among them (judge)"),
    ]
    sp = _speed(quick)
    rows += [
        Row(BENCH, "2000x2000 PNG pair -> tree (in process, warm)", sp["in_process"], "s", PEER, sp["naive"], False,
            "< 2 s",
            f"{sp['nodes']} nodes; reading the two PNGs alone {sp['read']:.2f} s; load average {sp['load']:.1f}"),
        Row(BENCH, "2000x2000 PNG pair -> tree, CPU time", sp["cpu"], "s", "-", None, False, "< 2 s",
            "process CPU time, less sensitive to other jobs on the machine (both threads: the two views are "
            "read side by side)"),
        Row(BENCH, "2000x2000 PNG pair -> tree.json (fresh ductree build)", sp["cli"], "s", "-", None, False, "",
            "imports included"),
    ]
    return rows
