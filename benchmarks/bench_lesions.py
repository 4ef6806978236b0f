"""Lesion placement on phantom trees: how often a stated lesion goes back onto its true duct.

Each phantom (``generate_tree``, 6 systems x 60 branches, both breasts) gets
lesions from ``insert_lesions``; each lesion is stated the way a clinician
would: its own clock to the nearest half hour and its depth to the nearest mm.
``place_lesions`` must put it back on the true duct: the true system, within
``BRANCH_SEPARATION_MM`` along the tree of the true point. Outcomes:

- *correct*: status ``placed`` on the true duct;
- *ambiguous*: status ``ambiguous`` (the true duct should be among the candidates);
- *confidently wrong*: status ``placed`` on another duct (the one outcome that must not happen);
- *unplaced*.

The peer is a naive baseline from the same run: the point at the stated clock
and depth and a typical fn (the median fn of the tree's nodes within 2 mm of
that depth) snapped to the nearest node. It always answers, never flags.
A second scenario states each lesion as a point moved by up to 2 mm in a
random direction (a ductogram-like candidate, ``uncertainty_mm=2``, the bound
on that error); its peer snaps the moved point to the nearest node.
A third adds the discharging pore (``orifice_clock``, to the half hour) to the
clock + depth, as a clinician who cannulated it would; its peer is the
baseline restricted to the true system.

**The bound.** A clock to the half hour and a depth to the mm name a cell
(a 15 degree sector of a 1 mm slab). When that cell holds duct points of two
systems, or of one system further apart along the tree than
``BRANCH_SEPARATION_MM``, no placer can tell which is meant: placing such a
lesion with confidence is a coin toss, and sometimes confidently wrong. The
row "cell holds one duct" counts the lesions whose exact cell (lesions sit on
the centreline, no slack) does not have that problem: it is the ceiling of
any placer that is never confidently wrong.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.harness import Row

BENCH = "lesions"


def _baseline_node(tree, clock: float, depth: float, system: int | None = None) -> int:
    from ductree.frame import point_from_clock

    pos = tree.positions
    rows = np.arange(len(pos)) if system is None else np.flatnonzero(tree.system_ids == system)
    pos = pos[rows]
    band = np.abs(pos[:, 1] - depth) <= 2.0
    fns = np.hypot(pos[:, 0], pos[:, 2])
    fn = float(np.median(fns[band])) if band.any() else float(np.median(fns))
    p = point_from_clock(clock, fn, depth)
    return int(rows[np.argmin(np.linalg.norm(pos - p, axis=1))])


def _cell_holds_one_duct(tree, geo, clock_h: float, depth_mm: float, sep: float) -> bool:
    """Whether the exact rounding cell of a stated clock (+/-15 min) and depth (+/-0.5 mm) holds one duct."""
    import math

    from ductree.lesions import _cluster, _fit_segments

    lo_y, hi_y = np.minimum(geo.a[:, 1], geo.b[:, 1]), np.maximum(geo.a[:, 1], geo.b[:, 1])
    cand = np.flatnonzero((lo_y <= depth_mm + 0.5) & (hi_y >= depth_mm - 0.5))
    if len(cand) == 0:
        return False
    theta = math.radians(clock_h * 30.0)

    def evaluate(seg, t):
        p = geo.a[seg] + t[:, None] * (geo.b[seg] - geo.a[seg])
        ang = np.arctan2(p[:, 0], p[:, 2]) - theta          # clock angle of the point minus the stated one
        d_ang = np.abs((ang + math.pi) % (2 * math.pi) - math.pi)
        m = np.maximum(d_ang / math.radians(7.5), np.abs(p[:, 1] - depth_mm) / 0.5)
        return m, np.zeros_like(m)

    fit = _fit_segments(geo, cand, evaluate)
    return len(fit.seg) > 0 and len(_cluster(tree, geo, fit, sep)) == 1


def _truth_segment(geo, tree, les):
    s = int(np.flatnonzero(geo.child == tree.index[les.node])[0])
    return s, float((les.path_mm - geo.pm_a[s]) / geo.length[s])


def _seg_of_row(geo, row: int) -> tuple[int, float]:
    hit = np.flatnonzero(geo.child == row)
    return int(hit[0]), 1.0


def _seg_at_node(geo, row: int) -> tuple[int, float]:
    """(segment, t) of a tree node: the end of its incoming segment, or the start of a root's first."""
    if geo.parent_index[row] >= 0:
        return _seg_of_row(geo, row)
    return int(np.flatnonzero(geo.parent == row)[0]), 0.0


def _tally(counts: dict, g, les, on_true) -> None:
    """Count one placement: unplaced, placed on the true duct (correct) or not (wrong), ambiguous."""
    if g.status == "unplaced":
        counts["unplaced"] += 1
        return
    c = g.candidates[0]
    ok = on_true(c.system, c.row, c.t, les)
    counts["chosen_ok"] += ok
    if g.status == "placed":
        counts["correct" if ok else "wrong"] += 1
    else:
        counts["ambiguous"] += 1


def run(quick: bool = False) -> list[Row]:
    from ductree.case import LesionSpec
    from ductree.frame import nearest_half_hour
    from ductree.lesions import BRANCH_SEPARATION_MM, _segments, place_lesions, tree_distance_mm
    from ductree.phantom import generate_tree, insert_lesions
    from ductree.plan import plan_lesions

    seeds = range(6) if quick else range(30)
    per_tree = 4 if quick else 6
    sep = BRANCH_SEPARATION_MM
    cd = {"correct": 0, "ambiguous": 0, "wrong": 0, "unplaced": 0, "amb_true_listed": 0, "amb_system": 0,
          "chosen_ok": 0, "system_confident_ok": 0, "system_confident_wrong": 0}
    pt = {"correct": 0, "ambiguous": 0, "wrong": 0, "unplaced": 0, "chosen_ok": 0}
    orf = {"correct": 0, "ambiguous": 0, "wrong": 0, "unplaced": 0, "chosen_ok": 0}
    bound = base_orf_ok = 0
    base_ok = base_sys_ok = base_pt_ok = 0
    t_ours = t_base = t_plan = 0.0
    n = n_plans = 0
    rng = np.random.default_rng(2024)
    for seed in seeds:
        lat = "R" if seed % 2 == 0 else "L"
        tree = generate_tree(seed=seed, systems=6, branches=60, laterality=lat)
        lesions = insert_lesions(tree, per_tree, seed=seed)
        geo = _segments(tree)

        def on_true(system, s, t, les):
            ts, tt = _truth_segment(geo, tree, les)
            return system == les.system and tree_distance_mm(geo, s, t, ts, tt) <= sep

        specs = [LesionSpec(les.label, clock=nearest_half_hour(les.clock), depth_mm=float(round(les.depth_mm)),
                            size_mm=les.size_mm) for les in lesions]
        t0 = time.perf_counter()
        got = place_lesions(tree, specs, laterality=lat)
        t_ours += time.perf_counter() - t0
        n += len(specs)
        t0 = time.perf_counter()
        plans = plan_lesions(tree, got)
        t_plan += time.perf_counter() - t0
        n_plans += len(plans)
        for les, spec, g in zip(lesions, specs, got):
            t0 = time.perf_counter()
            row = _baseline_node(tree, spec.clock, spec.depth_mm)
            t_base += time.perf_counter() - t0
            base_ok += on_true(int(tree.system_ids[row]), *_seg_at_node(geo, row), les)
            base_sys_ok += int(tree.system_ids[row]) == les.system
            _tally(cd, g, les, on_true)
            if g.status == "unplaced":
                continue
            chosen = g.candidates[0]
            if g.status == "ambiguous":
                cd["amb_system"] += g.ambiguity == "system"
                cd["amb_true_listed"] += any(on_true(c.system, c.row, c.t, les) for c in g.candidates)
            if g.status == "placed" or g.ambiguity == "branch":
                cd["system_confident_ok" if chosen.system == les.system else "system_confident_wrong"] += 1
        for les, spec in zip(lesions, specs):
            bound += _cell_holds_one_duct(tree, geo, spec.clock, spec.depth_mm, sep)
        # Scenario 3: the discharging pore named beside the clock + depth.
        ospecs = [LesionSpec(s.label, clock=s.clock, depth_mm=s.depth_mm, size_mm=s.size_mm,
                             orifice_clock=nearest_half_hour(les.orifice_clock)) for s, les in zip(specs, lesions)]
        for les, spec, g in zip(lesions, ospecs, place_lesions(tree, ospecs, laterality=lat)):
            row = _baseline_node(tree, spec.clock, spec.depth_mm, system=les.system)
            base_orf_ok += on_true(int(tree.system_ids[row]), *_seg_at_node(geo, row), les)
            _tally(orf, g, les, on_true)
        # Scenario 2: points moved up to 2 mm in a random direction; uncertainty 2 mm (the bound).
        dirs = rng.normal(size=(len(lesions), 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        noisy = [np.asarray(les.point) + d * rng.uniform(0.0, 2.0) for les, d in zip(lesions, dirs)]
        pspecs = [LesionSpec(les.label, point_bf=tuple(p), size_mm=les.size_mm, origin="ductogram")
                  for les, p in zip(lesions, noisy)]
        for les, p, g in zip(lesions, noisy, place_lesions(tree, pspecs, laterality=lat)):
            row = int(np.argmin(np.linalg.norm(tree.positions - p, axis=1)))
            base_pt_ok += on_true(int(tree.system_ids[row]), *_seg_at_node(geo, row), les)
            _tally(pt, g, les, on_true)

    pct = lambda k: 100.0 * k / n  # noqa: E731
    counts = (f"{n} lesions on {len(seeds)} phantoms: correct {cd['correct']}, ambiguous {cd['ambiguous']} "
              f"({cd['amb_system']} between systems; true duct listed in {cd['amb_true_listed']}), "
              f"confidently wrong {cd['wrong']}, unplaced {cd['unplaced']}")
    peer = "nearest node at typical fn"
    rows = [
        Row(BENCH, "clock+depth: placed on the true duct", pct(cd["correct"]), "%", peer, pct(base_ok), True,
            ">= 95% placed, rest ambiguous", counts),
        Row(BENCH, "clock+depth: cell holds one duct (ceiling of any never-wrong placer)", pct(bound), "%",
            target="context for the row above",
            note="lesions whose stated half-hour x 1 mm cell holds duct points of one system within "
                 f"{sep:g} mm of each other along the tree; the rest no placer can tell apart"),
        Row(BENCH, "clock+depth: confidently wrong", float(cd["wrong"]), "lesions", peer, float(n - base_ok),
            False, "0", "placed on a duct other than the true one (the baseline never flags, so its every miss counts)"),
        Row(BENCH, "clock+depth: ambiguous with the true duct listed",
            100.0 * cd["amb_true_listed"] / max(cd["ambiguous"], 1), "%", target="100%",
            note=f"of {cd['ambiguous']} ambiguous"),
        Row(BENCH, "clock+depth: chosen duct is the true one (incl. ambiguous)", pct(cd["chosen_ok"]), "%", peer,
            pct(base_ok), True, "best single guess vs the baseline's"),
        Row(BENCH, "clock+depth: duct system certain and right", pct(cd["system_confident_ok"]), "%", peer,
            pct(base_sys_ok), True, "placed, or ambiguous only between branches of one system",
            f"system certain but wrong: {cd['system_confident_wrong']}"),
        Row(BENCH, "clock+depth+discharging orifice: placed on the true duct", pct(orf["correct"]), "%",
            "nearest node at typical fn, true system", pct(base_orf_ok), True, ">= 95% placed, rest ambiguous",
            f"ambiguous {orf['ambiguous']}, confidently wrong {orf['wrong']}, unplaced {orf['unplaced']}, "
            f"chosen right {orf['chosen_ok']}"),
        Row(BENCH, "point within 2 mm: placed on the true duct", pct(pt["correct"]), "%", "nearest node to the point",
            pct(base_pt_ok), True, ">= 95% placed, rest ambiguous",
            f"ambiguous {pt['ambiguous']}, confidently wrong {pt['wrong']}, unplaced {pt['unplaced']}, "
            f"chosen right {pt['chosen_ok']}"),
        Row(BENCH, "placement time per lesion", 1000.0 * t_ours / n, "ms", "nearest-node baseline",
            1000.0 * t_base / n, False, "< 20 ms", f"{np.mean([t.number_of_nodes() for t in [tree]]):.0f} nodes/tree"),
        Row(BENCH, "plan time per involved system", 1000.0 * t_plan / max(n_plans, 1), "ms",
            target="< 500 ms", note=f"{n_plans} plans, envelope volume on a voxel grid"),
    ]
    return rows


if __name__ == "__main__":
    from benchmarks.harness import format_table

    print(format_table(run(quick=False)))
