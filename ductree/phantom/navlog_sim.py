"""Simulated ductoscopy sessions on a phantom: scope navigation logs with their ground truth.

A virtual scope is driven through one duct system the way a surgeon
explores (DOMAIN §1): in through the orifice, depth-first toward the
discharge source (the target lesion), reporting every bifurcation it
passes; at a bifurcation on the way it enters the right lumen first or
detours into a neighbour first, looks around a little, withdraws and comes
back; lumens too narrow for the scope, or not worth it, are left
unexplored; the lesion is reported as a finding, sometimes taken out
(basket, snare, forceps) and sometimes the duct is re-inspected for the
"empty duct" standard; then the scope comes out.

What the log says is noisy the way a real one is: depth readings off by up
to ``depth_noise_mm`` (1-2 mm), lumen clocks off by up to an hour, the
orifice clock rounded to the half hour; optional electromagnetic-tracker
``tip`` samples with 1 mm noise, dropouts and rare outliers.

The ground truth (:attr:`SimSession.truth`) says which tree branch each log
branch followed (log branch and bifurcation ids are numbered in order of
first appearance, as :mod:`ductree.io.navlog` numbers them), the true
bifurcation depths, how deep the scope truly got in each branch, the path
followed to the lesion and each finding's true node, ``path_mm`` and point.

:func:`simulate_navlog` is the :data:`ductree.phantom.simulate.SIMULATORS`
entry ``"navlog"`` (``ductree phantom ... --simulate navlog``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..frame import normalize_hours
from ..measures import branches as tree_branches
from ..measures import path_mm as tree_path_mm
from ..tree import DuctTree


@dataclass(frozen=True)
class SimSettings:
    """How the virtual surgeon and the virtual scope behave (s, mm, hours, probabilities)."""

    sample_hz: float = 4.0                       #: depth readings per second
    advance_mm_s: tuple[float, float] = (1.0, 2.0)
    withdraw_mm_s: tuple[float, float] = (2.0, 3.5)
    depth_noise_mm: tuple[float, float] = (1.0, 2.0)  #: per session: readings off by up to this (uniform)
    clock_error_h: float = 1.0                   #: lumen clocks off by up to this (uniform), then to the half hour
    orifice_clock_error_h: float = 0.25          #: orifice clock error before rounding to the half hour
    scope_od_mm: tuple[float, ...] = (0.55, 0.7, 0.9, 1.1)  #: scopes 0.55-1.2 mm (DOMAIN §1)
    distension: float = 1.5                      #: saline distension: a duct of radius r takes a scope of 2 r x this
    p_goal_first: float = 0.6                    #: at a bifurcation on the way, the right lumen first
    p_detour: float = 0.35                       #: a side lumen is explored (else left unexplored)
    p_detour_deeper: float = 0.4                 #: inside a detour, go one bifurcation deeper
    detour_budget_mm: tuple[float, float] = (4.0, 18.0)
    p_resistance: float = 0.1                    #: a detour ends in resistance before its end
    p_overshoot: float = 0.3                     #: withdraw past a bifurcation and come back down to it
    p_retrieve: float = 0.5
    p_verify: float = 0.8                        #: after a retrieval
    p_residual: float = 0.1                      #: a verification finds residual lesion
    p_explore_on_way_out: float = 0.15
    max_entered: int = 14                        #: lumens entered per session at most
    dwell_bifurcation_s: tuple[float, float] = (2.0, 4.0)
    dwell_end_s: tuple[float, float] = (1.5, 3.0)
    dwell_finding_s: tuple[float, float] = (5.0, 10.0)
    retrieval_s: tuple[float, float] = (20.0, 45.0)
    tracker: bool = False
    tracker_noise_mm: float = 1.0                #: SD per axis of a tracked tip
    dropout_per_s: float = 0.03                  #: tracker dropouts start at this rate
    dropout_s: tuple[float, float] = (0.5, 4.0)
    outlier_rate: float = 0.005                  #: share of tracked samples thrown 5-20 mm off
    outlier_mm: tuple[float, float] = (5.0, 20.0)


@dataclass
class SimSession:
    """A simulated session: the log's records (header first) and the ground truth."""

    records: list[dict]
    truth: dict
    tree: DuctTree = field(repr=False)


class _Geometry:
    """One duct system of the phantom, as branches with path distances (mm)."""

    def __init__(self, tree: DuctTree, system: int) -> None:
        from ..reconstruct.scope import junction_lumens

        self.tree = tree
        self.pm = tree_path_mm(tree)
        self.pos = tree.positions
        self.rad = tree.radii
        self.ids = tree.node_ids
        self.br = [b for b in tree_branches(tree) if b.system == system]
        self.children: dict[int, list[int]] = {}
        self.by_index = {b.index: b for b in self.br}
        start_of: dict[int, list[int]] = {}
        for b in self.br:
            start_of.setdefault(b.start_row, []).append(b.index)
        root_row = tree.index[tree.root_of_system(system)]
        first = [b.index for b in self.br if b.start_row == root_row and b.parent < 0]
        if len(first) != 1:
            raise InputError(f"duct system {system} divides at its orifice; the simulator needs a main duct",
                             key="system")
        self.root_branch = first[0]
        self.parent: dict[int, int] = {}
        for b in self.br:
            self.children[b.index] = start_of.get(b.end_row, []) if b.index in self.by_index else []
            for c in self.children[b.index]:
                self.parent[c] = b.index
        # true lumen clocks at each junction
        self.lumens: dict[int, dict[int, float]] = {}
        for b in self.br:
            kids = self.children[b.index]
            if kids:
                _, lum = junction_lumens(tree, self.ids[b.end_row])
                by_node = {c: clk for c, clk, _ in lum}
                self.lumens[b.index] = {k: by_node[self.ids[self.by_index[k].rows[1]]] for k in kids}

    def s0(self, b: int) -> float:
        return float(self.pm[self.by_index[b].start_row])

    def s1(self, b: int) -> float:
        return float(self.pm[self.by_index[b].end_row])

    def radius(self, b: int) -> float:
        rows = self.by_index[b].rows
        return float(self.rad[rows[1]] if len(rows) > 1 else self.rad[rows[0]])

    def point(self, b: int, s: float) -> np.ndarray:
        rows = self.by_index[b].rows
        ps = self.pm[rows]
        return np.array([np.interp(s, ps, self.pos[rows, k]) for k in range(3)])

    def branch_of_node(self, node: Any) -> int:
        row = self.tree.index[node]
        for b in self.br:
            if row in b.rows[1:] or (len(b.rows) == 1 and b.rows[0] == row):
                return b.index
        raise KeyError(node)

    def chain_to(self, b: int) -> list[int]:
        out = [b]
        while out[-1] in self.parent:
            out.append(self.parent[out[-1]])
        return out[::-1]


class _Surgeon:
    def __init__(self, geo: _Geometry, rng: np.random.Generator, cfg: SimSettings, od: float) -> None:
        self.geo = geo
        self.rng = rng
        self.cfg = cfg
        self.od = od
        self.r_min = od / (2.0 * cfg.distension)
        self.dt = 1.0 / cfg.sample_hz
        self.samples: list[tuple[int, float, dict | None]] = []  # (tree branch, true s, event)
        self.b = geo.root_branch
        self.s = 0.0
        # ground-truth bookkeeping, ids in order of first appearance (as the reader numbers them)
        self.log_branch_of: dict[tuple[int, int], int] = {}  # (log bif, lumen) -> log branch
        self.log_branches: list[dict] = [{"tree_branch": geo.root_branch, "parent": -1, "bif": -1, "lumen": -1,
                                          "start_path_mm": 0.0, "max_path_mm": 0.0}]
        self.log_bifs: list[dict] = []
        self.bif_of_tree: dict[int, int] = {}    # tree branch ending at the junction -> log bif
        self.lumen_order: dict[int, list[int]] = {}  # log bif -> tree child branches in lumen order
        self.cur_log = 0
        self.entered = 0
        self.findings: dict[str, dict] = {}

    # -- motion

    def emit(self, event: dict | None) -> None:
        self.samples.append((self.b, self.s, event))
        lb = self.log_branches[self.cur_log]
        if self.s > lb["max_path_mm"]:
            lb["max_path_mm"] = self.s

    def dwell(self, seconds: float, event: dict | None = None) -> None:
        n = max(1, int(round(seconds / self.dt)))
        for k in range(n):
            self.emit(event if k == n // 2 else None)

    def move(self, s_to: float, speed: float) -> None:
        """Move within the current branch to path s_to (mm)."""
        s_to = float(np.clip(s_to, self.geo.s0(self.b), self.geo.s1(self.b)))
        dist = abs(s_to - self.s)
        n = int(math.ceil(dist / (speed * self.dt)))
        s_from = self.s
        for k in range(1, n + 1):
            self.s = s_from + (s_to - s_from) * k / n
            self.emit(None)
        self.s = s_to

    def withdraw_to(self, b: int, s: float) -> None:
        """Withdraw through parents to tree branch b at path s."""
        speed = self.rng.uniform(*self.cfg.withdraw_mm_s)
        while self.b != b:
            self.move(self.geo.s0(self.b), speed)
            self.b = self.geo.parent[self.b]
            self.s = self.geo.s1(self.b)
        self.move(s, speed)
        # the scope is back in this branch: log branch follows the hysteresis of the reader loosely
        self.cur_log = self._log_of_tree_branch(b)

    def _log_of_tree_branch(self, b: int) -> int:
        for i in range(len(self.log_branches) - 1, -1, -1):
            if self.log_branches[i]["tree_branch"] == b:
                return i
        return 0

    def advance(self, s_to: float) -> None:
        self.move(s_to, self.rng.uniform(*self.cfg.advance_mm_s))

    # -- events

    def report_bifurcation(self) -> int:
        b = self.b
        if b in self.bif_of_tree:
            return self.bif_of_tree[b]
        kids = self.geo.children[b]
        true = self.geo.lumens[b]
        reported = {}
        for k in kids:
            err = self.rng.uniform(-self.cfg.clock_error_h, self.cfg.clock_error_h)
            reported[k] = normalize_hours(round((true[k] + err) * 2.0) / 2.0)
        order = sorted(kids, key=lambda k: (reported[k] % 12.0, k))
        bid = len(self.log_bifs)
        self.log_bifs.append({"node": self.geo.ids[self.geo.by_index[b].end_row], "path_mm": self.geo.s1(b),
                              "branch": self.cur_log, "tree_branch": b,
                              "lumens_true_clock": [true[k] for k in order],
                              "lumens_reported": [reported[k] for k in order],
                              "children_tree_branches": order})
        self.bif_of_tree[b] = bid
        self.lumen_order[bid] = order
        self.dwell(self.rng.uniform(*self.cfg.dwell_bifurcation_s),
                   {"event": "bifurcation", "lumens": [reported[k] for k in order]})
        return bid

    def enter(self, child: int) -> None:
        """At the junction ending the current branch, enter tree branch `child`."""
        bid = self.bif_of_tree[self.b]
        j = self.lumen_order[bid].index(child)
        key = (bid, j)
        if key not in self.log_branch_of:
            self.log_branch_of[key] = len(self.log_branches)
            self.log_branches.append({"tree_branch": child, "parent": self.log_bifs[bid]["branch"], "bif": bid,
                                      "lumen": j, "start_path_mm": self.geo.s1(self.b),
                                      "max_path_mm": self.geo.s1(self.b)})
        self.b = child
        self.s = self.geo.s0(child)
        self.cur_log = self.log_branch_of[key]
        self.entered += 1
        self.dwell(self.rng.uniform(0.5, 1.5), {"event": "enter", "lumen": j})

    def end(self, reason: str) -> None:
        self.dwell(self.rng.uniform(*self.cfg.dwell_end_s), {"event": "end", "reason": reason})

    # -- exploring

    def explore(self, goal: list[int] | None, lesion: Any, budget_end: float | None) -> bool:
        """Explore the current branch (the scope at its start) and below; True once the lesion was found."""
        geo, rng, cfg = self.geo, self.rng, self.cfg
        b = self.b
        if goal and goal[-1] == b and lesion is not None:
            self.advance(lesion.path_mm)
            self.report_finding(lesion)
            return True
        s_end = geo.s1(b)
        if budget_end is not None and budget_end < s_end:
            self.advance(budget_end)
            self.end("resistance" if rng.uniform() < cfg.p_resistance else "stopped")
            return False
        self.advance(s_end)
        kids = geo.children[b]
        if not kids:
            self.end("terminal")
            return False
        bid = self.report_bifurcation()
        enterable = [k for k in kids if geo.radius(k) >= self.r_min]
        if not enterable:
            self.end("too_narrow")
            return False
        nxt = goal[goal.index(b) + 1] if goal and b in goal and goal.index(b) + 1 < len(goal) else None
        if nxt is not None and nxt not in enterable:
            nxt = None
        found = False
        if nxt is not None:
            side = [k for k in enterable if k != nxt]
            rng.shuffle(side)
            detours = [k for k in side if rng.uniform() < cfg.p_detour]
            if rng.uniform() < cfg.p_goal_first or not detours:
                order = [nxt] + detours
            else:
                order = detours[:1] + [nxt] + detours[1:]
        else:
            order = [k for k in enterable if rng.uniform() < cfg.p_detour_deeper]
            order = order[:1]
            if not order:
                self.end("stopped")
                return False
        for k in order:
            if self.entered >= cfg.max_entered and k != nxt:
                continue
            if nxt is not None and found and k != nxt and rng.uniform() > cfg.p_explore_on_way_out:
                continue
            self.enter(k)
            if k == nxt:
                f = self.explore(goal, lesion, None)
                found = found or f
            else:
                budget = geo.s0(k) + rng.uniform(*cfg.detour_budget_mm)
                self.explore(None, None, budget)
            self.come_back(b, s_end, bid)
        return found

    def come_back(self, b: int, s_end: float, bid: int) -> None:
        """Withdraw to the junction at the end of tree branch b (sometimes past it and back)."""
        rng = self.rng
        if rng.uniform() < self.cfg.p_overshoot and s_end - self.geo.s0(b) > 6.0:
            self.withdraw_to(b, s_end - rng.uniform(3.0, 6.0))
            self.advance(s_end)
        else:
            self.withdraw_to(b, s_end)
        self.dwell(rng.uniform(0.5, 1.5))

    def report_finding(self, lesion: Any) -> None:
        rng, cfg = self.rng, self.cfg
        ev: dict[str, Any] = {"event": "finding", "label": lesion.label, "kind": lesion.kind,
                              "size_mm": float(round(lesion.size_mm * 2) / 2 or 0.5),
                              "clock": float(rng.integers(1, 13))}
        if lesion.kind == "dcis":
            ev["extent_mm"] = float(round(lesion.extent_mm))
        self.dwell(rng.uniform(*cfg.dwell_finding_s), ev)
        self.findings[lesion.label] = {"node": lesion.node, "path_mm": float(lesion.path_mm),
                                       "point": [float(x) for x in lesion.point], "tree_branch": self.b,
                                       "log_branch": self.cur_log}
        self.end("stopped")
        if rng.uniform() < cfg.p_retrieve:
            method = str(rng.choice(["basket", "snare", "forceps"]))
            self.dwell(rng.uniform(*cfg.retrieval_s), {"event": "retrieval", "label": lesion.label,
                                                       "method": method})
            if rng.uniform() < cfg.p_verify:
                back = min(rng.uniform(4.0, 8.0), self.s - self.geo.s0(self.b))
                self.move(self.s - back, rng.uniform(*cfg.withdraw_mm_s))
                self.advance(lesion.path_mm)
                result = "residual" if rng.uniform() < cfg.p_residual else "empty"
                self.dwell(rng.uniform(2.0, 4.0), {"event": "verify", "label": lesion.label, "result": result})


# --------------------------------------------------------------------------- public


def simulate_session(
    tree: DuctTree,
    lesion: Any = None,
    *,
    system: int | None = None,
    seed: int = 0,
    tracker: bool = False,
    settings: SimSettings | None = None,
    case_id: str | None = None,
) -> SimSession:
    """Drive a virtual scope through one duct system of a phantom and return the log and its truth.

    Parameters
    ----------
    tree : DuctTree
        The phantom (BF mm).
    lesion : PhantomLesion, optional
        The discharge source: the scope heads for it and reports it. Without
        one, a reachable duct 15-50 mm deep is picked as the target and no
        finding is reported.
    system : int, optional
        The duct system to cannulate (default: the lesion's, else the first).
    seed : int
        Seed; the same inputs give the same session.
    tracker : bool
        Add electromagnetic-tracker ``tip`` samples (1 mm noise, dropouts, outliers).
    settings : SimSettings, optional
        Behaviour of the surgeon and the scope.

    Returns
    -------
    SimSession
        ``records`` (header first, ready for :func:`ductree.io.navlog.write_navlog`)
        and ``truth`` (see the module docs).
    """
    cfg = settings or SimSettings()
    if tracker != cfg.tracker:
        from dataclasses import replace

        cfg = replace(cfg, tracker=bool(tracker))
    rng = np.random.default_rng([int(seed), 0x5C0BE])
    if system is None:
        system = int(lesion.system) if lesion is not None else int(tree.systems()[0])
    geo = _Geometry(tree, system)
    goal: list[int] | None = None
    target_path = None
    if lesion is not None:
        if int(lesion.system) != system:
            raise InputError(f"lesion {lesion.label} is in system {lesion.system}, not {system}", key="system")
        gb = geo.branch_of_node(lesion.node)
        goal = geo.chain_to(gb)
        target_path = float(lesion.path_mm)
    else:
        cands = [b.index for b in geo.br if 15.0 <= geo.s1(b.index) <= 60.0]
        if not cands:
            cands = [b.index for b in geo.br]
        goal = geo.chain_to(int(rng.choice(cands)))
    # the scope must fit the way to the goal
    need = min(geo.radius(b) for b in goal)
    fits = [od for od in cfg.scope_od_mm if od / (2 * cfg.distension) <= need]
    od = float(rng.choice(fits)) if fits else float(min(cfg.scope_od_mm))
    reachable = bool(fits)
    surgeon = _Surgeon(geo, rng, cfg, od)
    surgeon.dwell(rng.uniform(1.0, 3.0))
    found = surgeon.explore(goal, lesion if reachable else None, None)
    surgeon.withdraw_to(geo.root_branch, 0.0)
    surgeon.dwell(rng.uniform(0.5, 1.5))
    # ---- the log
    noise = float(rng.uniform(*cfg.depth_noise_mm))
    n = len(surgeon.samples)
    s_true = np.array([s for _, s, _ in surgeon.samples])
    reading = np.round(np.maximum(s_true + rng.uniform(-noise, noise, n), 0.0), 1)
    t = np.round(np.arange(n) / cfg.sample_hz, 3)
    root = tree.root_of_system(system)
    oc_true = float(tree.nodes[root]["orifice_clock"])
    oc = normalize_hours(round((oc_true + rng.uniform(-cfg.orifice_clock_error_h, cfg.orifice_clock_error_h)) * 2)
                         / 2.0)
    offset = float(np.hypot(tree.nodes[root]["pos"][0], tree.nodes[root]["pos"][2]))
    header = {"type": "header", "format": "ductree-navlog", "version": 1, "laterality": tree.laterality or "R",
              "orifice_clock": oc, "orifice_offset_mm": round(offset, 1), "scope_od_mm": od,
              "case_id": case_id or f"sim-{seed}"}
    tips = None
    if cfg.tracker:
        true_pts = np.array([geo.point(b, s) for b, s, _ in surgeon.samples])
        tips = true_pts + rng.normal(0.0, cfg.tracker_noise_mm, true_pts.shape)
        out = rng.uniform(size=n) < cfg.outlier_rate
        if out.any():
            dirs = rng.normal(size=(int(out.sum()), 3))
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            tips[out] += dirs * rng.uniform(*cfg.outlier_mm, (int(out.sum()), 1))
        drop = np.zeros(n, dtype=bool)
        k = 0
        while k < n:
            if rng.uniform() < cfg.dropout_per_s / cfg.sample_hz:
                m = int(rng.uniform(*cfg.dropout_s) * cfg.sample_hz)
                drop[k:k + m] = True
                k += m
            k += 1
        tips[drop] = np.nan
    records: list[dict] = [header]
    for i, (_, _, ev) in enumerate(surgeon.samples):
        r: dict[str, Any] = {"t": float(t[i]), "depth_mm": float(reading[i])}
        if tips is not None and np.isfinite(tips[i, 0]):
            r["tip"] = [round(float(x), 2) for x in tips[i]]
        if ev is not None:
            r.update(ev)
        records.append(r)
    path_nodes: list = []
    if goal:
        last = geo.by_index[goal[-1]]
        end_row = tree.index[lesion.node] if lesion is not None else last.end_row
        row = end_row
        while row >= 0:
            path_nodes.append(geo.ids[row])
            row = int(tree.parent_index[row])
        path_nodes.reverse()
    truth = {
        "system": system, "orifice_clock_true": oc_true, "scope_od_mm": od, "depth_noise_mm": noise,
        "tracker": bool(cfg.tracker), "reachable": reachable, "found": bool(found),
        "goal": None if lesion is None else lesion.label, "goal_path_mm": target_path,
        "path_nodes": [int(x) if isinstance(x, (int, np.integer)) else x for x in path_nodes],
        "branches": surgeon.log_branches, "bifurcations": surgeon.log_bifs, "findings": surgeon.findings,
        "true_depth_mm": s_true.tolist(),
        "tree_branch_of_sample": [b for b, _, _ in surgeon.samples],
    }
    return SimSession(records=records, truth=truth, tree=tree)


def explored_truth_tree(tree: DuctTree, truth: dict) -> DuctTree:
    """The part of the phantom the scope truly went through (BF mm), as a tree for scoring.

    Every log branch of ``truth`` contributes its tree branch's nodes up to
    the true deepest point reached in it (the last segment cut there).
    """
    br = {b.index: b for b in tree_branches(tree)}
    pm = tree_path_mm(tree)
    pos, rad = tree.positions, tree.radii
    rows_keep: dict[int, tuple[np.ndarray, float]] = {}
    extra: list[tuple[int, np.ndarray, float]] = []  # (parent row, point, radius) of cut ends
    for b in truth["branches"]:
        rows = br[b["tree_branch"]].rows
        reach = float(b["max_path_mm"])
        inside = rows[pm[rows] <= reach + 1e-9]
        for r in inside:
            rows_keep[int(r)] = (pos[r], float(rad[r]))
        nxt = rows[pm[rows] > reach + 1e-9]
        if len(nxt) and len(inside):
            r0, r1 = int(inside[-1]), int(nxt[0])
            f = (reach - pm[r0]) / max(pm[r1] - pm[r0], 1e-12)
            if f > 1e-6:
                extra.append((r0, pos[r0] + f * (pos[r1] - pos[r0]), float(rad[r0])))
    order = sorted(rows_keep)
    index = {r: i for i, r in enumerate(order)}
    parents = [index.get(int(tree.parent_index[r]), -1) for r in order]
    positions = [rows_keep[r][0] for r in order] + [p for _, p, _ in extra]
    radii = [rows_keep[r][1] for r in order] + [x for _, _, x in extra]
    parents += [index[r0] for r0, _, _ in extra]
    return DuctTree.from_arrays(positions, radii, parents, laterality=tree.laterality)


def simulate_navlog(case_dir: str | PathLike, tree: DuctTree, lesions: list, seed: int = 0, *,
                    tracker: bool = False, fmt: str = "jsonl", **options: Any) -> list[Path]:
    """The ``navlog`` simulator of :data:`ductree.phantom.simulate.SIMULATORS`.

    Writes ``scope.jsonl`` (or ``scope.csv``) toward the first lesion (none:
    a random duct of the first system) and ``scope_truth.json`` (the ground
    truth) into ``case_dir``; returns their paths.
    """
    from ..atomic import write_text
    from ..io.navlog import write_navlog
    from ..io.treejson import _plain

    if fmt not in ("jsonl", "csv"):
        raise InputError(f"must be jsonl or csv, got {fmt!r}", key="fmt")
    lesion = lesions[0] if lesions else None
    sess = simulate_session(tree, lesion, seed=seed, tracker=tracker,
                            settings=SimSettings(**options) if options else None)
    folder = Path(case_dir)
    log_path = write_navlog(sess.records, folder / f"scope.{fmt}")
    truth_path = write_text(folder / "scope_truth.json",
                            json.dumps(_plain({"schema": "ductree.navlog-truth/1", **sess.truth}), indent=1) + "\n")
    return [log_path, truth_path]

