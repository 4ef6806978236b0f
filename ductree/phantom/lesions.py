"""Lesions placed on a phantom tree, with their ground truth.

A phantom lesion sits on a duct centreline (it does not change the tree):
at a point inside one segment, at least ``min_path_mm`` from its orifice,
depths mostly 10-70 mm with some deeper ones (DOMAIN §2: 15-30 mm common,
>50 mm in 37% of one ductoscopy series), spread over the duct systems. Its
ground truth is everything a reconstruction, a locator or a report should
recover: system, path distance, BF point, exact clock, depth, fn.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..frame import clock_of_point, depth_third, format_clock, quadrant
from ..measures import generation, path_mm
from ..tree import DuctTree

#: Lesion kinds (the scope-log vocabulary, CONVENTIONS §4).
KINDS = ("papilloma", "dcis", "ectasia", "stenosis", "debris", "other")
#: Default mix of kinds: papilloma ~70%, DCIS 5-10%, duct ectasia (DOMAIN §1).
DEFAULT_KIND_WEIGHTS = {"papilloma": 0.68, "ectasia": 0.14, "dcis": 0.10, "stenosis": 0.05, "debris": 0.03}
#: Depth mixture (mm): common subareolar/middle, middle, deep (DOMAIN §2: UCLA, KH05).
DEPTH_MIX = ((0.5, (10.0, 35.0)), (0.35, (35.0, 70.0)), (0.15, (70.0, None)))
#: DCIS extent along a duct: median 30 mm, <1 to 10 cm (DC11), log-normal.
DCIS_EXTENT_MEDIAN_MM = 30.0
DCIS_EXTENT_RANGE_MM = (5.0, 100.0)
#: Lesions prefer ducts a ductoscope (0.55-1.2 mm) can reach: radius >= this (mm).
PREFERRED_MIN_RADIUS_MM = 0.25
#: Two lesions are kept at least this far apart (mm).
MIN_SEPARATION_MM = 5.0


@dataclass(frozen=True)
class PhantomLesion:
    """A lesion on a phantom tree and its true location (BF mm, clock hours).

    ``node`` is the distal node of the segment the lesion lies in;
    ``path_mm`` its distance along the duct from the orifice, so the point is
    the tree's centreline position ``path_mm`` along the path from the
    system's root to ``node``.
    """

    label: str
    kind: str
    size_mm: float
    extent_mm: float        #: length along the duct (DCIS extends; others = size)
    node: int
    system: int
    orifice_clock: float    #: exact clock of the system's orifice (hours)
    path_mm: float
    point: tuple[float, float, float]
    clock: float            #: exact clock of the point (hours, (0, 12])
    depth_mm: float
    fn_mm: float
    radius_mm: float        #: duct radius at the point
    generation: int
    quadrant: str
    depth_third: str | None

    def as_dict(self) -> dict:
        """Plain JSON-ready dict (with ``clock_text`` and ``orifice_clock_text`` as "H:MM")."""
        d = asdict(self)
        d["point"] = list(self.point)
        d["clock_text"] = format_clock(self.clock)
        d["orifice_clock_text"] = format_clock(self.orifice_clock)
        return d


def insert_lesions(
    tree: DuctTree,
    n: int,
    seed: int = 0,
    kinds: Sequence[str] | None = None,
    size_range_mm: tuple[float, float] = (2.0, 8.0),
    *,
    min_path_mm: float = 3.0,
    breast_depth_mm: float | None = None,
) -> list[PhantomLesion]:
    """Place ``n`` lesions on the ducts of ``tree`` and return their ground truth.

    Parameters
    ----------
    tree : DuctTree
        The phantom (or any) tree; it is not changed.
    n : int
        Number of lesions (labels ``L1`` .. ``Ln``).
    seed : int
        Seed; the same tree, ``n`` and seed give the same lesions.
    kinds : sequence of str, optional
        Kinds to draw from uniformly (from :data:`KINDS`); default: the
        clinical mix :data:`DEFAULT_KIND_WEIGHTS`.
    size_range_mm : (float, float)
        Sizes are drawn uniformly from this range (mm, rounded to 0.1).
    min_path_mm : float
        Keep lesions at least this far along the duct from the orifice.
    breast_depth_mm : float, optional
        For the depth third; default ``tree.graph["breast_depth_mm"]``.

    Returns
    -------
    list of PhantomLesion
        Lesion ``k`` goes to the ``k``-th system of a random order of the
        systems (so up to one per system before any system gets a second).

    Examples
    --------
    >>> from ductree.phantom import generate_tree
    >>> les = insert_lesions(generate_tree(seed=2, systems=3, branches=15), 2, seed=2)
    >>> [l.label for l in les], les[0].path_mm >= 3.0
    (['L1', 'L2'], True)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"must be an integer >= 0, got {n!r}", key="lesions")
    lo, hi = (float(x) for x in size_range_mm)
    if not 0 < lo <= hi:
        raise InputError(f"need 0 < min <= max, got {size_range_mm!r}", key="size_range_mm")
    if kinds is not None:
        kinds = list(kinds)
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            raise InputError(f"unknown lesion kind(s) {bad}; use some of {', '.join(KINDS)}", key="kinds")
    if n == 0:
        return []
    if breast_depth_mm is None:
        breast_depth_mm = tree.graph.get("breast_depth_mm")
    rng = np.random.default_rng([int(seed), 0x1E5])
    pos, rad, par, sysid = tree.positions, tree.radii, tree.parent_index, tree.system_ids
    pm = path_mm(tree)
    gen = generation(tree)
    ids = tree.node_ids
    rows = np.flatnonzero(par >= 0)
    rows = rows[pm[par[rows]] >= min_path_mm]  # whole segment past the first mm of the duct
    if len(rows) == 0:
        raise InputError(f"the tree has no duct farther than {min_path_mm} mm from an orifice", key="lesions")
    systems = [s for s in tree.systems() if np.any(sysid[rows] == s)]
    order = [systems[i] for i in rng.permutation(len(systems))]
    root_clock = {tree.nodes[r]["system"]: tree.nodes[r].get("orifice_clock") for r in tree.roots()}
    laterality = tree.laterality or "R"
    out: list[PhantomLesion] = []
    points: list[np.ndarray] = []
    for k in range(n):
        system = order[k % len(order)]
        kind = _draw_kind(rng, kinds)
        cand = rows[sysid[rows] == system]
        thick = cand[np.maximum(rad[cand], rad[par[cand]]) >= PREFERRED_MIN_RADIUS_MM]
        if kind != "dcis" and len(thick) >= 3:  # DCIS may sit in the periphery (TDLU)
            cand = thick
        y0, y1 = pos[par[cand], 1], pos[cand, 1]
        ylo, yhi = np.minimum(y0, y1), np.maximum(y0, y1)
        best = None
        for _attempt in range(30):
            target = _draw_depth(rng, float(yhi.max()))
            target = float(np.clip(target, ylo.min(), yhi.max()))
            hit = np.flatnonzero((ylo <= target) & (yhi >= target))
            if len(hit) == 0:
                hit = np.array([int(np.argmin(np.minimum(abs(ylo - target), abs(yhi - target))))])
            i = int(cand[hit[rng.integers(len(hit))]])
            p = int(par[i])
            dy = pos[i, 1] - pos[p, 1]
            t = (target - pos[p, 1]) / dy if abs(dy) > 1e-9 else rng.uniform()
            t = float(np.clip(t, 0.0, 1.0))
            point = pos[p] + t * (pos[i] - pos[p])
            best = (i, p, t, point)
            if all(np.linalg.norm(point - q) >= MIN_SEPARATION_MM for q in points):
                break
        assert best is not None
        i, p, t, point = best
        points.append(point)
        seg = float(np.linalg.norm(pos[i] - pos[p]))
        size = round(float(rng.uniform(lo, hi)), 1)
        if kind == "dcis":
            extent = float(np.clip(DCIS_EXTENT_MEDIAN_MM * np.exp(rng.normal(0.0, 0.6)), *DCIS_EXTENT_RANGE_MM))
            extent = round(max(extent, size), 1)
        else:
            extent = size
        clock = clock_of_point(point)
        clock = 12.0 if clock is None else clock
        out.append(PhantomLesion(
            label=f"L{k + 1}", kind=kind, size_mm=size, extent_mm=extent, node=int(_plain_id(ids[i])),
            system=int(system), orifice_clock=float(root_clock.get(system) or 12.0),
            path_mm=float(pm[p] + t * seg), point=(float(point[0]), float(point[1]), float(point[2])),
            clock=float(clock), depth_mm=float(point[1]), fn_mm=float(np.hypot(point[0], point[2])),
            radius_mm=float(rad[p] + t * (rad[i] - rad[p])), generation=int(gen[i]),
            quadrant=quadrant(clock, laterality),
            depth_third=depth_third(float(point[1]), breast_depth_mm) if breast_depth_mm else None,
        ))
    return out


def _plain_id(n):
    return int(n) if isinstance(n, (int, np.integer)) else n


def _draw_kind(rng: np.random.Generator, kinds: list[str] | None) -> str:
    if kinds is not None:
        return kinds[int(rng.integers(len(kinds)))]
    names = list(DEFAULT_KIND_WEIGHTS)
    w = np.array([DEFAULT_KIND_WEIGHTS[k] for k in names])
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def _draw_depth(rng: np.random.Generator, deepest: float) -> float:
    u = rng.uniform()
    acc = 0.0
    for weight, (lo, hi) in DEPTH_MIX:
        acc += weight
        if u <= acc:
            hi = deepest if hi is None else min(hi, deepest)
            lo = min(lo, hi)
            return float(rng.uniform(lo, hi))
    return float(rng.uniform(10.0, max(10.0, deepest)))
