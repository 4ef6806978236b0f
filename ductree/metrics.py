"""How close a tree is to the ground truth: centrelines, tips, branches, radii, bifurcations, topology.

:func:`compare_trees` scores a reconstructed :class:`~ductree.tree.DuctTree`
against a truth tree (both mm, same frame) and returns a :class:`TreeScore`.
It is source-agnostic: the volume, biplane and scope-log reconstructions are
all scored with it.

What is measured (all distances mm):

- **centreline distance**, both ways: both trees are sampled every
  ``sample_mm`` along every edge; each sample's distance to the other tree's
  polylines (exact point-to-segment distance) gives the mean and the 95th
  percentile from reconstruction to truth (``recon_to_truth_*``, a precision
  of the geometry) and from truth to reconstruction (``truth_to_recon_*``, a
  completeness);
- **tips**: truth tips and reconstructed tips are paired one-to-one, nearest
  first; a pair counts when the tips are within ``tol_mm + r_tip`` (the truth
  tip's radius). Only *eligible* truth tips enter the recall: those whose
  terminal branch is longer than ``max(min_branch_length_mm,
  length_radius_factor * branch radius)``. Reconstructed tips that match
  nothing count against the precision when their own branch passes the same
  rule (a smaller unmatched spur is left out, as the truth side is);
- **branches**: a branch (junction to junction or tip, :func:`ductree.measures.branches`)
  is matched when more than ``branch_match_fraction`` of its length lies
  within ``tol_mm + r`` of the other tree's centrelines (``r`` the local
  truth radius); recall over eligible truth branches, precision over eligible
  reconstructed branches;
- **radius**: at every reconstructed sample within ``tol_mm + r`` of the truth,
  the relative error ``(r_recon - r_truth) / r_truth`` against the truth radius
  interpolated at the nearest truth point; median of the absolute value,
  median signed (bias), and the median absolute per truth generation;
- **bifurcations**: each eligible truth bifurcation (two or more children that
  are visible: non-terminal, or terminal and eligible) is paired with the
  nearest reconstructed bifurcation (one-to-one); the error is their distance
  and a bifurcation is "within tolerance" at ``<= tol_mm + r`` (the truth
  radius there);
- **topology**: number of systems and of anastomoses (loops) in each tree,
  and whether every truth system has exactly one reconstructed root within
  ``tol_mm + 2 r_root`` of its root (``roots_matched``).

Frames: with ``frame="auto"`` both trees are compared in patient LPS when both
carry ``graph["nipple_lps"]`` (so an estimated nipple does not shift the
comparison), in BF otherwise.

Examples
--------
>>> from ductree.tree import DuctTree
>>> t = DuctTree.from_arrays([[0, 0, 0], [0, 10, 0], [3, 20, 0], [-3, 20, 0]],
...                          [1.0, 0.8, 0.5, 0.5], [-1, 0, 1, 1])
>>> s = compare_trees(t, t)
>>> s.tip_recall, s.tip_precision, round(s.recon_to_truth_mean_mm, 9)
(1.0, 1.0, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import InputError
from .measures import branches, child_count, generation
from .tree import DuctTree


@dataclass
class TreeScore:
    """The scores of one reconstruction against its truth (mm; fractions in [0, 1]).

    ``None`` stands where a figure is undefined (e.g. a recall with nothing to
    recall). :meth:`as_dict` gives a JSON-ready dict.
    """

    # centrelines
    recon_to_truth_mean_mm: float
    recon_to_truth_p95_mm: float
    truth_to_recon_mean_mm: float
    truth_to_recon_p95_mm: float
    # tips
    tip_recall: float | None
    tip_precision: float | None
    tips_truth: int
    tips_recon: int
    tips_matched: int
    tip_error_median_mm: float | None
    # branches
    branch_recall: float | None
    branch_precision: float | None
    branches_truth: int
    branches_recon: int
    # radii
    radius_error_median: float | None
    radius_bias_median: float | None
    radius_error_by_generation: dict[int, float]
    # bifurcations
    bifurcations_truth: int
    bifurcations_recon: int
    bifurcation_error_median_mm: float | None
    bifurcation_error_p95_mm: float | None
    bifurcation_error_max_mm: float | None
    bifurcations_within_tol: float | None
    # topology
    systems_truth: int
    systems_recon: int
    roots_matched: bool
    root_error_mm: list[float]
    loops_truth: int
    loops_recon: int
    # settings used
    settings: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """All fields as plain Python values (JSON-ready)."""
        d = asdict(self)
        d["radius_error_by_generation"] = {str(k): v for k, v in self.radius_error_by_generation.items()}
        return d

    def format(self) -> str:
        """A few human-readable lines."""
        def pct(x: float | None) -> str:
            return "-" if x is None else f"{100 * x:.1f}%"

        def mm(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f} mm"

        return "\n".join([
            f"centreline distance  recon->truth mean {mm(self.recon_to_truth_mean_mm)} p95 "
            f"{mm(self.recon_to_truth_p95_mm)}; truth->recon mean {mm(self.truth_to_recon_mean_mm)} "
            f"p95 {mm(self.truth_to_recon_p95_mm)}",
            f"tips                 recall {pct(self.tip_recall)} precision {pct(self.tip_precision)} "
            f"({self.tips_matched} matched; truth {self.tips_truth}, recon {self.tips_recon})",
            f"branches             recall {pct(self.branch_recall)} precision {pct(self.branch_precision)}",
            f"radius               median |rel. error| {pct(self.radius_error_median)} "
            f"(bias {pct(self.radius_bias_median)})",
            f"bifurcations         within tolerance {pct(self.bifurcations_within_tol)}; median "
            f"{mm(self.bifurcation_error_median_mm)}, max {mm(self.bifurcation_error_max_mm)}",
            f"topology             systems {self.systems_recon}/{self.systems_truth}, roots "
            f"{'matched' if self.roots_matched else 'NOT matched'}, loops {self.loops_recon}/{self.loops_truth}",
        ])


# --------------------------------------------------------------------------- sampling

@dataclass
class _Samples:
    """Points sampled along every edge of a tree."""

    points: np.ndarray      # (S, 3) mm
    radius: np.ndarray      # (S,) mm, interpolated along the edge
    edge: np.ndarray        # (S,) edge index into seg_a/seg_b
    branch: np.ndarray      # (S,) branch index (-1 for anastomosis edges)
    gen: np.ndarray         # (S,) generation of the edge's child row
    seg_a: np.ndarray       # (E, 3) edge start points
    seg_b: np.ndarray       # (E, 3) edge end points
    seg_ra: np.ndarray      # (E,) radius at start
    seg_rb: np.ndarray      # (E,) radius at end
    seg_gen: np.ndarray     # (E,)
    seg_len: np.ndarray     # (E,)


def _positions(tree: DuctTree, frame: str) -> np.ndarray:
    pos = np.asarray(tree.positions, dtype=float)
    if frame == "LPS":
        pos = pos + np.asarray(tree.graph["nipple_lps"], dtype=float)
    return pos


def _sample(tree: DuctTree, pos: np.ndarray, spacing: float) -> _Samples:
    par = tree.parent_index
    rad = tree.radii
    gen = generation(tree)
    child_rows = np.flatnonzero(par >= 0)
    # branch of each child row: the branch in which the row is not the first row
    branch_of_row = np.full(len(par), -1, dtype=np.int64)
    brs = branches(tree)
    for b in brs:
        branch_of_row[b.rows[1:]] = b.index
    a_rows = par[child_rows]
    seg_a, seg_b = pos[a_rows], pos[child_rows]
    seg_ra, seg_rb = rad[a_rows], rad[child_rows]
    seg_gen = gen[child_rows]
    seg_branch = branch_of_row[child_rows]
    idx = tree.index
    ana = tree.anastomoses()
    if ana:
        ua = np.array([idx[u] for u, _ in ana])
        va = np.array([idx[v] for _, v in ana])
        seg_a = np.vstack([seg_a, pos[ua]])
        seg_b = np.vstack([seg_b, pos[va]])
        seg_ra = np.concatenate([seg_ra, rad[ua]])
        seg_rb = np.concatenate([seg_rb, rad[va]])
        seg_gen = np.concatenate([seg_gen, gen[va]])
        seg_branch = np.concatenate([seg_branch, np.full(len(ana), -1)])
    seg_len = np.linalg.norm(seg_b - seg_a, axis=1)
    n = np.maximum(1, np.ceil(seg_len / spacing).astype(np.int64))
    # samples at t = 0, 1/n, ..., (n-1)/n on each edge; tips/ends are added below
    edge = np.repeat(np.arange(len(seg_len)), n)
    start = np.repeat(np.cumsum(n) - n, n)
    t = (np.arange(len(edge)) - start) / n[edge]
    pts = seg_a[edge] + t[:, None] * (seg_b - seg_a)[edge]
    r = seg_ra[edge] + t * (seg_rb - seg_ra)[edge]
    # the end point of every edge whose child has no children (tips) and isolated roots
    cc = child_count(tree)
    tip_edges = np.flatnonzero(cc[child_rows] == 0)
    pts = np.vstack([pts, seg_b[tip_edges]])
    r = np.concatenate([r, seg_rb[tip_edges]])
    edge = np.concatenate([edge, tip_edges])
    lone = np.flatnonzero((par < 0) & (cc == 0))
    if len(lone):
        # a one-node system: a zero-length edge at the node
        k0 = len(seg_len)
        seg_a = np.vstack([seg_a, pos[lone]])
        seg_b = np.vstack([seg_b, pos[lone]])
        seg_ra = np.concatenate([seg_ra, rad[lone]])
        seg_rb = np.concatenate([seg_rb, rad[lone]])
        seg_gen = np.concatenate([seg_gen, gen[lone]])
        seg_branch = np.concatenate([seg_branch, np.full(len(lone), -1)])
        seg_len = np.concatenate([seg_len, np.zeros(len(lone))])
        pts = np.vstack([pts, pos[lone]])
        r = np.concatenate([r, rad[lone]])
        edge = np.concatenate([edge, k0 + np.arange(len(lone))])
    return _Samples(points=pts, radius=r, edge=edge, branch=seg_branch[edge], gen=seg_gen[edge],
                    seg_a=seg_a, seg_b=seg_b, seg_ra=seg_ra, seg_rb=seg_rb, seg_gen=seg_gen,
                    seg_len=seg_len)


def _nearest_on(query: np.ndarray, target: _Samples, k: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact distance from each query point to the target's polylines.

    Returns (distance, edge index, parameter t in [0, 1] on that edge). The
    candidate edges are those of the ``k`` nearest target samples, which
    contain the true nearest edge whenever the samples are denser than the
    distance (always the case for the spacing used here, up to a sliver).
    """
    from scipy.spatial import cKDTree

    if len(query) == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0)
    kd = cKDTree(target.points)
    k = min(k, len(target.points))
    _, nn = kd.query(query, k=k)
    nn = nn.reshape(len(query), k)
    cand = target.edge[nn]                                   # (Q, k)
    a = target.seg_a[cand]
    ab = target.seg_b[cand] - a
    denom = np.einsum("qki,qki->qk", ab, ab)
    t = np.einsum("qki,qki->qk", query[:, None, :] - a, ab) / np.where(denom > 0, denom, 1.0)
    t = np.clip(np.where(denom > 0, t, 0.0), 0.0, 1.0)
    d = np.linalg.norm(query[:, None, :] - (a + t[..., None] * ab), axis=2)
    best = np.argmin(d, axis=1)
    rows = np.arange(len(query))
    return d[rows, best], cand[rows, best], t[rows, best]


def _radius_at(target: _Samples, edge: np.ndarray, t: np.ndarray) -> np.ndarray:
    return target.seg_ra[edge] + t * (target.seg_rb[edge] - target.seg_ra[edge])


# --------------------------------------------------------------------------- eligibility

def _branch_eligibility(tree: DuctTree, min_len: float, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """(eligible per branch, terminal per branch): a branch is eligible when longer than the rule."""
    brs = branches(tree)
    cc = child_count(tree)
    rad = tree.radii
    elig = np.zeros(len(brs), dtype=bool)
    terminal = np.zeros(len(brs), dtype=bool)
    for b in brs:
        rows = b.rows[1:] if len(b.rows) > 1 else b.rows
        r = float(np.median(rad[rows]))
        elig[b.index] = b.length_mm > max(min_len, factor * r)
        terminal[b.index] = cc[b.end_row] == 0
    return elig, terminal


def _greedy_pairs(a: np.ndarray, b: np.ndarray, limit: np.ndarray) -> list[tuple[int, int, float]]:
    """One-to-one pairs (i in a, j in b), nearest first, with distance <= limit[i]."""
    if len(a) == 0 or len(b) == 0:
        return []
    from scipy.spatial import cKDTree

    kd = cKDTree(b)
    k = min(8, len(b))
    dist, nn = kd.query(a, k=k, distance_upper_bound=float(np.max(limit)) + 1e-9)
    dist = dist.reshape(len(a), k)
    nn = nn.reshape(len(a), k)
    cand = [(float(dist[i, m]), i, int(nn[i, m])) for i in range(len(a)) for m in range(k)
            if np.isfinite(dist[i, m]) and dist[i, m] <= limit[i]]
    cand.sort()
    used_a: set[int] = set()
    used_b: set[int] = set()
    out = []
    for d, i, j in cand:
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        out.append((i, j, d))
    return out


# --------------------------------------------------------------------------- the score

def compare_trees(
    reconstructed: DuctTree,
    truth: DuctTree,
    *,
    min_branch_length_mm: float | None = None,
    length_radius_factor: float = 2.0,
    tol_mm: float = 0.2,
    branch_match_fraction: float = 0.5,
    sample_mm: float | None = None,
    frame: str = "auto",
) -> TreeScore:
    """Score a reconstructed tree against the truth (see the module docs for every figure).

    Parameters
    ----------
    reconstructed, truth : DuctTree
        Both in mm, in the same breast frame (or both carrying ``nipple_lps``).
    min_branch_length_mm : float, optional
        Branches (and their tips) shorter than this are not required to be
        found (default: no absolute floor).
    length_radius_factor : float
        ...nor are branches shorter than this many times their radius
        (default 2: "branches longer than twice their radius").
    tol_mm : float
        Slack added to the local radius for every "is it there" test (tips,
        branches, bifurcations, radii). A volume reconstruction would pass its
        voxel size.
    branch_match_fraction : float
        A branch is matched when more than this fraction of its length is
        within tolerance of the other tree.
    sample_mm : float, optional
        Spacing of the samples along the centrelines (default: a quarter of
        ``tol_mm``, at most 0.05 mm).
    frame : {"auto", "BF", "LPS"}
        Where to compare (see the module docs).

    Returns
    -------
    TreeScore
    """
    for name, t in (("reconstructed", reconstructed), ("truth", truth)):
        if not isinstance(t, DuctTree) or t.number_of_nodes() == 0:
            raise InputError(f"{name} must be a non-empty DuctTree")
    if not tol_mm >= 0:
        raise InputError(f"tol_mm must be >= 0, got {tol_mm!r}", key="tol_mm")
    if frame == "auto":
        frame = "LPS" if ("nipple_lps" in reconstructed.graph and "nipple_lps" in truth.graph
                          and reconstructed.graph["nipple_lps"] is not None
                          and truth.graph["nipple_lps"] is not None) else "BF"
    if frame not in ("BF", "LPS"):
        raise InputError(f"frame must be 'auto', 'BF' or 'LPS', got {frame!r}", key="frame")
    spacing = sample_mm if sample_mm is not None else min(0.05, max(tol_mm, 1e-3) / 4.0)
    if not spacing > 0:
        raise InputError(f"sample_mm must be > 0, got {sample_mm!r}", key="sample_mm")
    min_len = 0.0 if min_branch_length_mm is None else float(min_branch_length_mm)

    rpos, tpos = _positions(reconstructed, frame), _positions(truth, frame)
    rs, ts = _sample(reconstructed, rpos, spacing), _sample(truth, tpos, spacing)

    # --- centreline distances both ways
    d_rt, e_rt, t_rt = _nearest_on(rs.points, ts)
    d_tr, _, _ = _nearest_on(ts.points, rs)

    # --- tips
    r_elig, r_term = _branch_eligibility(reconstructed, min_len, length_radius_factor)
    t_elig, t_term = _branch_eligibility(truth, min_len, length_radius_factor)
    t_tip_rows, t_tip_elig = _tips_with_eligibility(truth, t_elig)
    r_tip_rows, r_tip_elig = _tips_with_eligibility(reconstructed, r_elig)
    t_tip_r = truth.radii[t_tip_rows]
    pairs = _greedy_pairs(tpos[t_tip_rows], rpos[r_tip_rows], tol_mm + t_tip_r)
    matched_t = np.zeros(len(t_tip_rows), dtype=bool)
    matched_r = np.zeros(len(r_tip_rows), dtype=bool)
    tip_err = []
    for i, j, d in pairs:
        matched_t[i] = matched_r[j] = True
        if t_tip_elig[i]:
            tip_err.append(d)
    n_t_elig = int(t_tip_elig.sum())
    tip_recall = float((matched_t & t_tip_elig).sum() / n_t_elig) if n_t_elig else None
    counted_r = matched_r | r_tip_elig
    tip_precision = float(matched_r.sum() / counted_r.sum()) if counted_r.any() else None

    # --- branches
    tol_r = tol_mm + _radius_at(ts, e_rt, t_rt)           # per recon sample: truth radius there
    r_close = d_rt <= tol_r
    d_tr_tol = tol_mm + ts.radius
    t_close = d_tr <= d_tr_tol
    branch_recall = _branch_fraction(ts, t_close, t_elig, branch_match_fraction)
    branch_precision = _branch_fraction(rs, r_close, r_elig, branch_match_fraction)

    # --- radii (recon samples close to the truth, excluding tip end points)
    r_truth_at = _radius_at(ts, e_rt, t_rt)
    ok = r_close & (r_truth_at > 0)
    rel = (rs.radius[ok] - r_truth_at[ok]) / r_truth_at[ok]
    gen_at = ts.seg_gen[e_rt[ok]]
    by_gen = {int(g): float(np.median(np.abs(rel[gen_at == g]))) for g in np.unique(gen_at)}

    # --- bifurcations
    t_bif_rows = _visible_bifurcations(truth, t_elig, t_term)
    r_cc = child_count(reconstructed)
    r_bif_rows = np.flatnonzero(r_cc >= 2)
    t_bif_r = truth.radii[t_bif_rows]
    search = 3.0 * (tol_mm + t_bif_r) + 1.0
    bpairs = _greedy_pairs(tpos[t_bif_rows], rpos[r_bif_rows], search)
    bif_err = np.full(len(t_bif_rows), np.inf)
    for i, _, d in bpairs:
        bif_err[i] = d
    within = bif_err <= tol_mm + t_bif_r
    finite = bif_err[np.isfinite(bif_err)]

    # --- topology
    t_roots = np.flatnonzero(truth.parent_index < 0)
    r_roots = np.flatnonzero(reconstructed.parent_index < 0)
    rpairs = _greedy_pairs(tpos[t_roots], rpos[r_roots], tol_mm + 2.0 * truth.radii[t_roots])
    root_err = [float("inf")] * len(t_roots)
    for i, _, d in rpairs:
        root_err[i] = d
    roots_matched = len(rpairs) == len(t_roots) == len(r_roots)

    return TreeScore(
        recon_to_truth_mean_mm=float(np.mean(d_rt)),
        recon_to_truth_p95_mm=float(np.percentile(d_rt, 95)),
        truth_to_recon_mean_mm=float(np.mean(d_tr)),
        truth_to_recon_p95_mm=float(np.percentile(d_tr, 95)),
        tip_recall=tip_recall,
        tip_precision=tip_precision,
        tips_truth=n_t_elig,
        tips_recon=int(counted_r.sum()),
        tips_matched=int((matched_t & t_tip_elig).sum()),
        tip_error_median_mm=float(np.median(tip_err)) if tip_err else None,
        branch_recall=branch_recall,
        branch_precision=branch_precision,
        branches_truth=int(t_elig.sum()),
        branches_recon=int(r_elig.sum()),
        radius_error_median=float(np.median(np.abs(rel))) if len(rel) else None,
        radius_bias_median=float(np.median(rel)) if len(rel) else None,
        radius_error_by_generation=by_gen,
        bifurcations_truth=len(t_bif_rows),
        bifurcations_recon=len(r_bif_rows),
        bifurcation_error_median_mm=float(np.median(finite)) if len(finite) else None,
        bifurcation_error_p95_mm=float(np.percentile(finite, 95)) if len(finite) else None,
        bifurcation_error_max_mm=(float(np.max(bif_err)) if len(bif_err) and np.all(np.isfinite(bif_err))
                                  else (None if not len(bif_err) else math.inf)),
        bifurcations_within_tol=float(within.mean()) if len(within) else None,
        systems_truth=len(truth.systems()),
        systems_recon=len(reconstructed.systems()),
        roots_matched=bool(roots_matched),
        root_error_mm=root_err,
        loops_truth=len(truth.anastomoses()),
        loops_recon=len(reconstructed.anastomoses()),
        settings={"tol_mm": tol_mm, "min_branch_length_mm": min_branch_length_mm,
                  "length_radius_factor": length_radius_factor,
                  "branch_match_fraction": branch_match_fraction, "sample_mm": spacing, "frame": frame},
    )


def _tips_with_eligibility(tree: DuctTree, elig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tip rows (no children, not a root with children) and whether each tip's branch is eligible."""
    cc = child_count(tree)
    brs = branches(tree)
    rows, ok = [], []
    for b in brs:
        if cc[b.end_row] == 0:
            rows.append(b.end_row)
            ok.append(bool(elig[b.index]))
    # one-node systems have no branch; they are tips of length 0 (never eligible)
    return np.asarray(rows, dtype=np.int64), np.asarray(ok, dtype=bool)


def _branch_fraction(s: _Samples, close: np.ndarray, elig: np.ndarray, frac: float) -> float | None:
    """Fraction of eligible branches with more than ``frac`` of their length close to the other tree."""
    if not elig.any():
        return None
    has = s.branch >= 0
    # weight each sample by its edge's length / samples on that edge (length-weighted fraction)
    per_edge = np.bincount(s.edge, minlength=len(s.seg_len)).astype(float)
    w = np.where(per_edge[s.edge] > 0, s.seg_len[s.edge] / np.maximum(per_edge[s.edge], 1), 0.0)
    nb = len(elig)
    tot = np.bincount(s.branch[has], weights=w[has], minlength=nb)
    good = np.bincount(s.branch[has], weights=(w * close)[has], minlength=nb)
    matched = good > frac * np.maximum(tot, 1e-12)
    return float((matched & elig).sum() / elig.sum())


def _visible_bifurcations(tree: DuctTree, elig: np.ndarray, terminal: np.ndarray) -> np.ndarray:
    """Rows of bifurcations with at least two visible child branches."""
    brs = branches(tree)
    visible_children: dict[int, int] = {}
    for b in brs:
        if len(b.rows) < 2:
            continue
        start = b.start_row
        if tree.parent_index[b.rows[1]] != start:
            continue
        vis = (not terminal[b.index]) or elig[b.index]
        if vis:
            visible_children[start] = visible_children.get(start, 0) + 1
    cc = child_count(tree)
    rows = [r for r, k in visible_children.items() if k >= 2 and cc[r] >= 2]
    return np.asarray(sorted(rows), dtype=np.int64)
