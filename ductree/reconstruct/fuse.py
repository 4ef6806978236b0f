"""Fuse a scope navigation log onto a tree of the same breast (from a ductogram or a volume).

The log says what the scope met in order: bifurcations at depths (path
length along the duct, mm) with their lumens' clock directions, the lumens
it entered, how deep it got, where it saw each finding. The tree says where
its junctions are (``path_mm``) and which way its children leave. Fusion
finds the mapping of the log's explored branches onto the tree that
explains the log best, and puts every finding on the tree.

Model (a likelihood, maximised by a dynamic programme over the log's
branch tree and the tree's branches):

- the duct system is picked by the orifice clock: every system whose orifice
  is within :data:`ORIFICE_MATCH_H` of the log's is a candidate, with a
  Gaussian prior on the clock difference (SD :data:`ORIFICE_SIGMA_H`);
- the log's depths are multiplied by a scale ``c`` tried over :data:`SCALES`
  (prior SD :data:`SCALE_SIGMA` around 1): the scope's insertion length and
  the tree's path length need not agree exactly;
- a log bifurcation at (scaled) depth D matched to a tree junction at path p
  scores a Gaussian on D - p, SD ``sqrt(1.0**2 / readings + 0.7**2 +
  (0.025 D)**2)`` mm, against a flat background over :data:`DEPTH_RANGE_MM`;
- its lumens are assigned to the junction's children (every assignment
  tried); each pair scores a wrapped Gaussian on the clock difference (SD
  :data:`CLOCK_SIGMA_H`, with :data:`CLOCK_OUTLIER` of outliers) against a
  flat clock; a lumen count that differs costs :data:`COUNT_LL` per lumen;
  each entered lumen continues the match in its assigned child;
- with prior probability :data:`P_CLOCKS_LOST` the log's clocks are
  uninformative (roll correction lost): every match is also scored without
  the clock terms, and both hypotheses enter the posterior;
- a tree junction the log never reported may be passed
  (:data:`SKIP_LL`); a log bifurcation with no tree junction may be left
  unmatched (:data:`UNMATCHED_BIF_LL`, its other entered branches lost,
  :data:`UNMATCHED_BRANCH_LL` each);
- a branch the scope left in a tip fits a tree branch it does not overrun
  (a Gaussian penalty past a terminal end; :data:`TERMINAL_MISMATCH_LL` when
  the log says ``terminal`` but the tree goes on).

Every finding (and the log's deepest point) gets the best score of the
whole log *given* each place it could be on the tree (max-marginals carried
through the programme). Normalised over places, these give a posterior; the
**confidence** of a placement is the posterior mass within
:data:`CONFIDENCE_RADIUS_MM` along the ducts of the best place, and the
**runner-up** is the best place farther than that. Below
:data:`MIN_CONFIDENCE` a finding is marked ambiguous and not placed.

**Fit.** The confidence is relative: it compares places on *this* tree, so
a log of another duct (or another breast) can still pick one place with
confidence. The absolute check is the best match's log-likelihood ratio
against the flat background, per log bifurcation (``fit`` in the result):
about 5 when the log and the tree are of the same duct (4.8-6.4 over 40
seeded sessions; 1.3 at worst on a warped ductogram-like copy), mostly below
2.5 for a log fused onto another phantom's tree (38 of 40; a short log, one
or two bifurcations, can fit another duct by chance: the benchmark reports
the rate). Below :data:`MIN_FIT_LLR` the fit is reported poor
(``fit["good"] = False``), with a warning in :func:`fuse_case` and
``ductree fuse``. Without clocks (roll lost) the fit is weaker and is
usually reported poor: rightly, the log then says less.

Tracker ``tip`` samples are not used for fusion (the tree of another
modality is rarely registered to the tracker); depths and clocks are.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from ..frame import clock_difference_h, format_clock
from ..io.navlog import NavLog, read_navlog, session_summary
from ..tree import DuctTree

if TYPE_CHECKING:
    from ..case import Case

#: A tree system is a candidate when its orifice clock is within this many hours of the log's.
ORIFICE_MATCH_H = 1.0
#: SD (hours) of the orifice clock prior (orifice clocks are read to the half hour; assumed).
ORIFICE_SIGMA_H = 0.5
#: SD (hours) of a reported lumen clock about the tree's (off by up to an hour, DOMAIN §1; assumed).
CLOCK_SIGMA_H = 0.6
#: Share of lumen clocks that are plain wrong (outliers, flat over the clock).
CLOCK_OUTLIER = 0.1
#: Depth model: reading SD (mm, one smoothed reading), tree path SD (mm), relative SD left after the scale search.
SIGMA_READ_MM = 1.0
SIGMA_TREE_MM = 0.7
SIGMA_REL = 0.025
#: Scale factors tried between the scope's insertion depth and the tree's path length (the duct stretched
#: by the scope, a ductogram's magnification calibration, compression; assumed within +-12%), and the SD
#: of their prior around 1.
SCALES = (0.88, 0.92, 0.96, 1.0, 1.04, 1.08, 1.12)
SCALE_SIGMA = 0.05
#: Prior probability that a log's lumen clocks carry no information (the scope's roll correction lost or
#: wrong): each match is also scored without clocks, and the two hypotheses share the posterior, so
#: clocks that fit nowhere lower the confidence instead of steering it.
P_CLOCKS_LOST = 0.1
#: Range (mm) over which a junction depth is a priori flat (the background of a depth match).
DEPTH_RANGE_MM = 40.0
#: Log-likelihood costs of the structural events.
COUNT_LL = math.log(0.1)
SKIP_LL = math.log(0.05)
UNMATCHED_BIF_LL = math.log(0.05)
UNMATCHED_BRANCH_LL = math.log(0.1)
TERMINAL_MISMATCH_LL = math.log(0.3)
#: A placement's confidence counts posterior mass within this distance along the ducts (mm).
CONFIDENCE_RADIUS_MM = 3.0
#: Below this confidence a finding is ambiguous: reported with its candidates, not placed.
MIN_CONFIDENCE = 0.6
#: Below this log-likelihood ratio per log bifurcation (vs the flat background) the log fits the tree poorly.
MIN_FIT_LLR = 2.5
#: Label of the pseudo-finding that tracks the deepest point of the log.
DEEPEST = "__deepest__"


# --------------------------------------------------------------------------- results


@dataclass
class Placement:
    """One place on the tree: system, branch (index in ``measures.branches``), path (mm), node, point (BF mm)."""

    system: int
    branch: int
    path_mm: float
    node: Any
    point_bf: list[float]
    probability: float
    log_likelihood: float
    path_nodes: list = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {"system": self.system, "branch": self.branch, "path_mm": round(self.path_mm, 3),
                "node": _plain_id(self.node), "point_bf": [round(x, 4) for x in self.point_bf],
                "probability": round(self.probability, 4), "log_likelihood": round(self.log_likelihood, 3)}


@dataclass
class FindingPlacement:
    """Where fusion put one finding (or why it did not)."""

    label: str
    kind: str
    size_mm: float
    depth_mm: float          #: the log's depth (path along the duct), mm
    status: str
    placed: bool
    ambiguous: bool
    confidence: float
    best: Placement | None
    runner_up: Placement | None
    candidates: list[Placement]

    @property
    def node(self) -> Any:
        return self.best.node if self.placed and self.best else None

    @property
    def path_mm(self) -> float | None:
        return self.best.path_mm if self.placed and self.best else None

    def as_dict(self) -> dict:
        return {"label": self.label, "kind": self.kind, "size_mm": self.size_mm, "depth_mm": round(self.depth_mm, 3),
                "status": self.status, "placed": self.placed, "ambiguous": self.ambiguous,
                "confidence": round(self.confidence, 4),
                "best": None if self.best is None else self.best.as_dict(),
                "runner_up": None if self.runner_up is None else self.runner_up.as_dict(),
                "candidates": [c.as_dict() for c in self.candidates[:5]]}


@dataclass
class FusionResult:
    """The outcome of :func:`fuse`.

    ``tree`` is a copy of the input with the findings in
    ``tree.graph["findings"]``, the fusion report in
    ``tree.graph["navlog_fusion"]`` and ``scope_explored=True`` on the nodes
    the scope passed (best mapping). ``system`` is the matched duct system,
    ``confidence`` and ``runner_up`` describe the main path (to the first
    finding, else to the log's deepest point), ``path`` its node ids,
    ``branch_map`` maps each log branch to the tree branches it follows.
    """

    tree: DuctTree
    system: int
    confidence: float
    ambiguous: bool
    path: list
    runner_up: Placement | None
    main: FindingPlacement
    findings: list[FindingPlacement]
    log_likelihood: float
    branch_map: dict[int, list[int]]
    bifurcation_map: dict[int, Any]
    systems_considered: list[dict]
    summary: dict
    #: the absolute goodness of fit: bifurcations in the log, matched, LLR per bifurcation, good (None: untestable)
    fit: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "system": self.system, "confidence": round(self.confidence, 4), "ambiguous": self.ambiguous,
            "fit": self.fit,
            "path": [_plain_id(n) for n in self.path],
            "runner_up": None if self.runner_up is None else {**self.runner_up.as_dict(),
                                                              "path": [_plain_id(n) for n in self.runner_up.path_nodes]},
            "log_likelihood": round(self.log_likelihood, 3),
            "findings": [f.as_dict() for f in self.findings],
            "branch_map": {str(k): v for k, v in self.branch_map.items()},
            "bifurcation_map": {str(k): _plain_id(v) for k, v in self.bifurcation_map.items()},
            "systems_considered": self.systems_considered,
            "session": self.summary,
        }


def _plain_id(n: Any) -> Any:
    return int(n) if isinstance(n, (int, np.integer)) else n


# --------------------------------------------------------------------------- the matcher


@dataclass
class _Sol:
    score: float
    place: dict[str, dict[tuple[int, float], float]]
    choice: tuple


_NEG = -math.inf


def _depth_ll(diff: float, sigma: float) -> float:
    return -0.5 * (diff / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi)) + math.log(DEPTH_RANGE_MM)


def _clock_ll(a: float, b: float) -> float:
    d = clock_difference_h(a, b)
    dens = sum(math.exp(-0.5 * ((d + 12 * k) / CLOCK_SIGMA_H) ** 2) for k in (-1, 0, 1))
    dens /= CLOCK_SIGMA_H * math.sqrt(2 * math.pi)
    return math.log((1 - CLOCK_OUTLIER) * dens + CLOCK_OUTLIER / 12.0) + math.log(12.0)


class _System:
    """The tree's branches of one duct system, with junction lumen clocks."""

    def __init__(self, tree: DuctTree, system: int) -> None:
        from ..measures import branches, path_mm
        from .scope import junction_lumens

        self.tree = tree
        self.system = system
        self.pm = path_mm(tree)
        self.br = {b.index: b for b in branches(tree) if b.system == system}
        self.kids: dict[int, list[int]] = {i: [] for i in self.br}
        self.parent: dict[int, int] = {}
        starts: dict[int, list[int]] = {}
        for b in self.br.values():
            starts.setdefault(b.start_row, []).append(b.index)
        for b in self.br.values():
            self.kids[b.index] = [c for c in starts.get(b.end_row, []) if c != b.index]
            for c in self.kids[b.index]:
                self.parent[c] = b.index
        self.first = [i for i, b in self.br.items() if i not in self.parent]
        ids = tree.node_ids
        self.clocks: dict[int, dict[int, float]] = {}
        for i, b in self.br.items():
            if self.kids[i]:
                _, lum = junction_lumens(tree, ids[b.end_row])
                by_node = {c: clk for c, clk, _ in lum}
                self.clocks[i] = {c: by_node[ids[self.br[c].rows[1]]] for c in self.kids[i]}
        self.s0 = {i: float(self.pm[b.start_row]) for i, b in self.br.items()}
        self.s1 = {i: float(self.pm[b.end_row]) for i, b in self.br.items()}

    def chain(self, b: int) -> list[int]:
        out = [b]
        while out[-1] in self.parent:
            out.append(self.parent[out[-1]])
        return out[::-1]

    def geodesic(self, a: tuple[int, float], b: tuple[int, float]) -> float:
        """Distance along the ducts (mm) between (branch, path) places."""
        (ba, pa), (bb, pb) = a, b
        if ba == bb:
            return abs(pa - pb)
        ca, cb = self.chain(ba), self.chain(bb)
        k = 0
        while k < min(len(ca), len(cb)) and ca[k] == cb[k]:
            k += 1
        if k == len(ca) or k == len(cb):  # one is an ancestor of the other
            return abs(pa - pb)
        if k == 0:
            return pa + pb  # different first branches: they meet at the orifice
        split = self.s1[ca[k - 1]]
        return (pa - split) + (pb - split)

    def locate(self, b: int, p: float) -> tuple[Any, np.ndarray, list]:
        """The distal node of the segment holding path p on branch b, the point (BF mm), and the node path."""
        br = self.br[b]
        rows = br.rows
        ps = self.pm[rows]
        pos = self.tree.positions[rows]
        p = float(np.clip(p, ps[0], ps[-1]))
        k = int(np.searchsorted(ps, p, side="left"))
        k = min(max(k, 1 if len(rows) > 1 else 0), len(rows) - 1)
        point = np.array([np.interp(p, ps, pos[:, j]) for j in range(3)])
        ids = self.tree.node_ids
        node = ids[rows[k]]
        path = []
        for c in self.chain(b)[:-1]:
            path.extend(ids[r] for r in self.br[c].rows[(0 if not path else 1):])
        path.extend(ids[r] for r in rows[(0 if not path else 1):k + 1])
        return node, point, path


class _Matcher:
    """The programme for one system at one depth scale (log depths x ``scale`` = tree path)."""

    def __init__(self, sysm: _System, log: NavLog, scale: float = 1.0, clocks: bool = True) -> None:
        from .scope import _Layout

        self.S = sysm
        self.log = log
        self.scale = scale
        self.clocks = clocks
        bifs = log.bifurcations
        lay = _Layout(log)
        self.end = {}
        self.nread = {}
        for b in log.branches:
            if b.end_bif is not None:
                self.end[b.id] = scale * bifs[b.end_bif].depth_estimate_mm
                self.nread[b.id] = len(bifs[b.end_bif].readings)
            else:
                self.end[b.id] = scale * float(lay.end[b.id])
                self.nread[b.id] = 1
        self.items: dict[int, list[tuple[str, float]]] = {}
        for f in log.findings:
            self.items.setdefault(f.branch, []).append((f.label, scale * float(f.depth_mm)))
        deep = max(log.branches, key=lambda b: self.end[b.id])
        self.items.setdefault(deep.id, []).append((DEEPEST, float(self.end[deep.id])))
        self.memo: dict[tuple[int, int], _Sol] = {}

    def sigma(self, d: float, n: int) -> float:
        return math.sqrt(SIGMA_READ_MM ** 2 / max(n, 1) + SIGMA_TREE_MM ** 2 + (SIGMA_REL * d) ** 2)

    def own_items(self, b: int, beta: int, total: float, upto: float = math.inf) -> dict:
        """Place the items of log branch b that lie at or above ``upto`` on tree branch beta."""
        S = self.S
        out: dict[str, dict] = {}
        for label, d in self.items.get(b, []):
            if d <= upto:
                p = min(max(d, S.s0[beta]), S.s1[beta])
                out[label] = {(beta, round(p, 3)): total}
        return out

    @staticmethod
    def merge_into(acc: dict, add: dict) -> None:
        for label, places in add.items():
            slot = acc.setdefault(label, {})
            for k, v in places.items():
                if v > slot.get(k, _NEG):
                    slot[k] = v

    def F(self, b: int, beta: int) -> _Sol:
        key = (b, beta)
        sol = self.memo.get(key)
        if sol is not None:
            return sol
        self.memo[key] = _Sol(_NEG, {}, ("busy",))  # guards against (impossible) cycles
        sol = self._solve(b, beta)
        self.memo[key] = sol
        return sol

    def _solve(self, b: int, beta: int) -> _Sol:
        S, log = self.S, self.log
        lb = log.branches[b]
        D = self.end[b]
        sig = self.sigma(D, self.nread[b])
        kids = S.kids[beta]
        pJ = S.s1[beta]
        best = _Sol(_NEG, {}, ("none",))
        place: dict[str, dict] = {}

        def offer(total: float, pl: dict, choice: tuple) -> None:
            nonlocal best
            self.merge_into(place, pl)
            if total > best.score:
                best = _Sol(total, {}, choice)

        if lb.end_bif is not None:
            bif = log.bifurcations[lb.end_bif]
            entered = bif.children  # lumen -> log branch
            # (1a) the log bifurcation is this tree junction
            if kids and abs(D - pJ) <= 4.0 * sig:
                base = _depth_ll(D - pJ, sig) + COUNT_LL * abs(len(bif.lumens) - len(kids))
                for total, pl, assign in self._assignments(bif, kids, beta, entered, base):
                    pl2 = dict(pl)
                    self.merge_into(pl2, self.own_items(b, beta, total))
                    offer(total, pl2, ("match", assign))
            # (1c) the tree has no junction for it: it lies inside this branch
            if D <= pJ + 3.0 * sig or not kids:
                over = max(0.0, D - pJ) if not kids else 0.0
                base = UNMATCHED_BIF_LL - 0.5 * (over / (sig + 2.0)) ** 2
                ent = sorted(entered.items())
                if not ent:
                    offer(base, self.own_items(b, beta, base), ("unmatched", None))
                for j, c in ent:
                    sc = self.F(c, beta)
                    if sc.score == _NEG:
                        continue
                    total = base + sc.score + UNMATCHED_BRANCH_LL * (len(ent) - 1)
                    pl = self._shift(sc.place, total - sc.score)
                    self.merge_into(pl, self.own_items(b, beta, total))
                    offer(total, pl, ("unmatched", c))
        else:
            # (2a) the scope stopped in this branch
            if not kids or D <= pJ + 3.0 * sig:
                total = 0.0
                if not kids and D > pJ:
                    total -= 0.5 * ((D - pJ) / (sig + 2.0)) ** 2
                if kids and lb.end_reason == "terminal" and pJ - D > 3.0 * sig:
                    total += TERMINAL_MISMATCH_LL
                offer(total, self.own_items(b, beta, total), ("tip",))
        # (1b/2b) the scope passed this tree junction without reporting it
        if kids and D > pJ - 3.0 * sig:
            for g in kids:
                sc = self.F(b, g)
                if sc.score == _NEG:
                    continue
                total = SKIP_LL + sc.score
                pl = self._shift(sc.place, SKIP_LL)
                # items at or above the junction stay on this branch
                mine = self.own_items(b, beta, total, upto=pJ)
                for label in mine:
                    pl[label] = mine[label]
                offer(total, pl, ("skip", g))
        best.place = place
        return best

    @staticmethod
    def _shift(place: dict, delta: float) -> dict:
        return {label: {k: v + delta for k, v in places.items()} for label, places in place.items()}

    def _assignments(self, bif, kids: list[int], beta: int, entered: dict[int, int], base: float):
        """Every assignment of the bifurcation's lumens to the junction's children, scored."""
        S = self.S
        k, m = len(bif.lumens), len(kids)
        tclk = S.clocks[beta]
        lumens = list(range(k))
        if k <= m:
            combos = ((tuple(lumens), perm) for perm in itertools.permutations(kids, k))
        else:
            combos = ((sub, tuple(kids)) for sub in itertools.permutations(lumens, m))
        for lum_idx, kid_seq in combos:
            assign = dict(zip(lum_idx, kid_seq))
            total = base
            parts = []
            ok = True
            for j in lumens:
                g = assign.get(j)
                if g is not None and self.clocks:
                    total += _clock_ll(bif.lumens[j], tclk[g])
                c = entered.get(j)
                if c is None:
                    continue
                if g is None:
                    total += UNMATCHED_BRANCH_LL
                    continue
                sc = self.F(c, g)
                if sc.score == _NEG:
                    ok = False
                    break
                total += sc.score
                parts.append(sc)
            if not ok:
                continue
            pl: dict[str, dict] = {}
            for sc in parts:
                self.merge_into(pl, self._shift(sc.place, total - sc.score))
            yield total, pl, tuple(sorted(assign.items()))

    def reconstruct(self, b: int, beta: int, bmap: dict, jmap: dict) -> None:
        sol = self.memo[(b, beta)]
        bmap.setdefault(b, []).append(beta)
        kind = sol.choice[0]
        lb = self.log.branches[b]
        if kind == "skip":
            self.reconstruct(b, sol.choice[1], bmap, jmap)
        elif kind == "match":
            bif = self.log.bifurcations[lb.end_bif]
            jmap[bif.id] = self.S.tree.node_ids[self.S.br[beta].end_row]
            for j, g in sol.choice[1]:
                c = bif.children.get(j)
                if c is not None and g is not None:
                    self.reconstruct(c, g, bmap, jmap)
        elif kind == "unmatched" and sol.choice[1] is not None:
            self.reconstruct(sol.choice[1], beta, bmap, jmap)


# --------------------------------------------------------------------------- public


def fuse(tree: DuctTree, log: "NavLog | str | PathLike", *, system: int | None = None,
         min_confidence: float = MIN_CONFIDENCE, scales: tuple[float, ...] = SCALES) -> FusionResult:
    """Place a scope log onto a tree of the same breast (BF mm): system, path, findings.

    Parameters
    ----------
    tree : DuctTree
        From a ductogram or a volume, with ``laterality`` and root ``orifice_clock``.
    log : NavLog or path
        The scope log (read with :func:`ductree.io.navlog.read_navlog` when a path).
    system : int, optional
        Force the duct system instead of choosing it by the orifice clock.
    min_confidence : float
        Findings placed with less confidence are marked ambiguous and not placed.
    scales : tuple of float
        Depth scales tried (tree path = scale x log depth), each with a
        Gaussian prior around 1 (SD :data:`SCALE_SIGMA`).

    Returns
    -------
    FusionResult

    Raises
    ------
    InputError
        When the log is for the other breast, or its orifice clock matches no
        duct system of the tree (within :data:`ORIFICE_MATCH_H`). A system whose
        orifice clock is not known (a ductogram's) is always a candidate; when
        the log fits it (not ``POOR``), its root takes the log's
        ``orifice_clock`` (``orifice_clock_from = "scope log"``).
    """
    if not isinstance(log, NavLog):
        log = read_navlog(log)
    src = log.source
    if tree.laterality is not None and tree.laterality != log.laterality:
        raise InputError(f"the scope log is for the {log.laterality} breast but the tree is {tree.laterality}",
                         source=src, key="laterality")
    tree.validate()
    clocks = {int(tree.nodes[r]["system"]): tree.nodes[r].get("orifice_clock") for r in tree.roots()}
    if system is not None:
        if system not in clocks:
            raise InputError(f"no duct system {system}; systems are {sorted(clocks)}", key="system")
        cands = [system]
    else:
        # A system whose orifice clock is not known (a ductogram's: it starts at the cannulated
        # orifice, whose clock the images do not give) cannot be ruled out by the log's clock.
        cands = [s for s, c in clocks.items() if c is None
                 or clock_difference_h(c, log.orifice_clock) <= ORIFICE_MATCH_H]
    if not cands:
        known = ", ".join(format_clock(c) for c in sorted(c for c in clocks.values() if c is not None)) or "none"
        raise InputError(f"the orifice clock {format_clock(log.orifice_clock)} matches no duct system of the tree "
                         f"(orifices at {known}; within {ORIFICE_MATCH_H:g} h)", source=src, key="orifice_clock")
    # Solve each candidate system at each depth scale.
    solved = []
    considered = []
    for s in cands:
        S = _System(tree, s)
        c = clocks[s]
        prior_clock = 0.0 if c is None or system is not None else \
            -0.5 * (clock_difference_h(c, log.orifice_clock) / ORIFICE_SIGMA_H) ** 2
        best_here = _NEG
        for scale, use_clocks in itertools.product(scales, (True, False)):
            M = _Matcher(S, log, scale, use_clocks)
            prior = prior_clock - 0.5 * ((scale - 1.0) / SCALE_SIGMA) ** 2 + math.log(
                1.0 - P_CLOCKS_LOST if use_clocks else P_CLOCKS_LOST)
            best_first, best_score = None, _NEG
            place: dict[str, dict] = {}
            for beta in S.first:
                sol = M.F(0, beta)
                if sol.score == _NEG:
                    continue
                M.merge_into(place, M._shift(sol.place, prior))
                if sol.score + prior > best_score:
                    best_first, best_score = beta, sol.score + prior
            best_here = max(best_here, best_score)
            solved.append((best_score, s, S, M, best_first, place))
        considered.append({"system": s, "orifice_clock": None if c is None else format_clock(c),
                           "log_likelihood": None if best_here == _NEG else round(best_here, 3)})
    solved.sort(key=lambda x: -x[0])
    if solved[0][4] is None:
        raise InputError("the scope log fits no path of the tree (every match failed)", source=src)
    best_score, s_best, S_best, M_best, first, _ = solved[0]
    bmap: dict[int, list[int]] = {}
    jmap: dict[int, Any] = {}
    M_best.reconstruct(0, first, bmap, jmap)
    # Posterior over places of each tracked item, across systems.
    labels = [f.label for f in log.findings] + [DEEPEST]
    placements: dict[str, FindingPlacement] = {}
    for label in labels:
        pool = []
        for score, s, S, M, fb, place in solved:
            for (beta, p), v in place.get(label, {}).items():
                pool.append((v, s, S, beta, p))
        placements[label] = _posterior(label, pool, log, min_confidence)
    main_label = log.findings[0].label if log.findings else DEEPEST
    main = placements[main_label]
    out = _fused_tree(tree, log, s_best, S_best, M_best, bmap, placements)
    summary = session_summary(log)
    result = FusionResult(
        tree=out, system=s_best, confidence=main.confidence, ambiguous=main.ambiguous,
        path=[] if main.best is None else list(main.best.path_nodes), runner_up=main.runner_up, main=main,
        findings=[placements[f.label] for f in log.findings], log_likelihood=best_score,
        branch_map=bmap, bifurcation_map=jmap, systems_considered=considered, summary=summary,
        fit=fit_quality(best_score, len(log.bifurcations), len(jmap), M_best.scale))
    if clocks[s_best] is None and result.fit.get("good") is not False:
        # The scope entered this system's orifice: its clock, read at the nipple, is the log's.
        root = next(r for r in out.roots() if int(out.nodes[r]["system"]) == s_best)
        out.nodes[root]["orifice_clock"] = float(log.orifice_clock)
        out.nodes[root]["orifice_clock_from"] = "scope log"
    out.graph["navlog_fusion"] = {k: v for k, v in result.as_dict().items() if k not in ("findings",)}
    out.graph["navlog_fusion"]["source"] = src
    out.graph["navlog_fusion"]["main"] = main.as_dict()
    return result


def fit_quality(log_likelihood: float, bifurcations: int, matched: int, scale: float) -> dict:
    """How well the best match explains the log, in absolute terms (see the module docstring).

    ``good`` is ``None`` for a log without bifurcations (nothing to test it by).
    """
    llr = None if bifurcations == 0 else log_likelihood / bifurcations
    good = None if llr is None else bool(llr >= MIN_FIT_LLR)
    out = {"bifurcations": bifurcations, "matched": matched,
           "llr_per_bifurcation": None if llr is None else round(llr, 3), "depth_scale": scale, "good": good}
    if good is False:
        out["reason"] = (f"the log fits the tree poorly: {llr:.1f} log-likelihood per bifurcation (< {MIN_FIT_LLR:g}), "
                         f"{matched} of {bifurcations} bifurcations matched; is it the same duct and breast?")
    return out


def _posterior(label: str, pool: list, log: NavLog, min_confidence: float) -> FindingPlacement:
    f = next((x for x in log.findings if x.label == label), None)
    if f is not None:
        kind, size, depth, status = f.kind, f.size_mm, f.depth_mm, f.status
    else:
        kind, size, depth, status = "deepest", 0.0, float(np.max(log.depth_smooth_mm)), "-"
    if not pool:
        return FindingPlacement(label, kind, size, depth, status, False, True, 0.0, None, None, [])
    pool.sort(key=lambda x: -x[0])
    v = np.array([x[0] for x in pool])
    w = np.exp(v - v.max())
    w /= w.sum()
    # Greedy clusters of places within CONFIDENCE_RADIUS_MM along the ducts, best first; a place's
    # probability is its cluster's posterior mass.
    taken = np.zeros(len(pool), dtype=bool)
    clusters = []
    for i in range(len(pool)):
        if taken[i] or len(clusters) >= 5:
            continue
        _, s_i, S_i, b_i, p_i = pool[i]
        mass = 0.0
        for j in range(i, len(pool)):
            if taken[j]:
                continue
            _, s_j, _, b_j, p_j = pool[j]
            if s_j == s_i and S_i.geodesic((b_i, p_i), (b_j, p_j)) <= CONFIDENCE_RADIUS_MM:
                taken[j] = True
                mass += w[j]
        clusters.append((pool[i], float(mass)))

    def mk(entry, prob) -> Placement:
        score, s, S, beta, p = entry
        node, point, path = S.locate(beta, p)
        return Placement(system=s, branch=beta, path_mm=float(p), node=node, point_bf=[float(x) for x in point],
                         probability=float(prob), log_likelihood=float(score), path_nodes=path)

    cands = [mk(e, m) for e, m in clusters]
    best = cands[0]
    ru = cands[1] if len(cands) > 1 else None
    conf = best.probability
    ambiguous = conf < min_confidence
    return FindingPlacement(label, kind, size, depth, status, not ambiguous, ambiguous, conf, best, ru, cands)


def _fused_tree(tree: DuctTree, log: NavLog, system: int, S: _System, M: _Matcher, bmap: dict,
                placements: dict[str, FindingPlacement]) -> DuctTree:
    out = tree.copy()
    ids = tree.node_ids
    pm = S.pm
    for b, chain in bmap.items():
        reach = M.end[b] + 1.0
        for beta in chain:
            for r in S.br[beta].rows:
                if pm[r] <= reach:
                    out.nodes[ids[r]]["scope_explored"] = True
    findings = []
    for f in log.findings:
        fp = placements[f.label]
        d = {"label": f.label, "kind": f.kind, "size_mm": f.size_mm,
             "clock": None if f.clock is None else format_clock(f.clock), "extent_mm": f.extent_mm,
             "status": f.status, "depth_mm": round(f.depth_mm, 3), "confidence": round(fp.confidence, 4),
             "ambiguous": fp.ambiguous, "node": None, "path_mm": None, "point_bf": None, "system": None,
             "sigma_mm": None, "candidates": [c.as_dict() for c in fp.candidates]}
        if fp.placed and fp.best is not None:
            d.update(node=_plain_id(fp.best.node), path_mm=round(fp.best.path_mm, 3),
                     point_bf=[float(x) for x in fp.best.point_bf], system=fp.best.system,
                     sigma_mm=round(M.sigma(f.depth_mm, 1), 3))
            out.nodes[fp.best.node].setdefault("findings", [])
            out.nodes[fp.best.node]["findings"] = list(out.nodes[fp.best.node]["findings"]) + [f.label]
        findings.append(d)
    out.graph["findings"] = findings
    out.touch()
    return out


def fuse_files(tree_path: str | PathLike, log_path: str | PathLike, **kwargs: Any) -> FusionResult:
    """Read a tree file and a log file and :func:`fuse` them."""
    from ..io import read_tree

    tree = read_tree(tree_path)
    return fuse(tree, read_navlog(log_path), **kwargs)


def fuse_case(case: "Case", tree: DuctTree) -> DuctTree:
    """Fuse the case's ``source.navlog`` onto its tree; placed findings join ``case.lesions`` (origin navlog).

    A finding fusion could not place (ambiguous) is left out of the lesions
    with a :class:`~ductree.errors.DuctreeWarning`.
    """
    import warnings

    from ..errors import DuctreeWarning
    from .scope import add_specs_to_case, findings_as_lesion_specs

    path = Path(case.source.navlog)
    log = read_navlog(path)
    if log.laterality != case.laterality:
        raise InputError(f"the scope log is for the {log.laterality} breast but the case is {case.laterality}",
                         source=path, key="laterality")
    if tree.laterality is None:
        tree.laterality = case.laterality
    res = fuse(tree, log)
    if res.fit.get("good") is False:
        warnings.warn(f"{path}: {res.fit['reason']}", DuctreeWarning, stacklevel=2)
    for f in res.findings:
        if not f.placed:
            warnings.warn(f"{path}: finding {f.label!r} could not be placed on the tree with confidence "
                          f"({f.confidence:.2f}); it is not added to the case's lesions", DuctreeWarning,
                          stacklevel=2)
    add_specs_to_case(case, findings_as_lesion_specs(res.tree), source=path)
    return res.tree
