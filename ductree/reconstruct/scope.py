"""Scope navigation log -> DuctTree: the part of the duct system the scope explored.

Topology comes from the log's walk (:mod:`ductree.io.navlog`): each branch the
scope was in, the bifurcations it saw, the lumens it entered. Geometry comes
from one of two sources:

- **tracker** (the log has ``tip`` samples): each branch's centreline is a
  robust local-linear fit of the tip positions against depth (bandwidth
  :data:`TRACKER_BANDWIDTH_MM`), after rejecting outliers (residual beyond
  :data:`OUTLIER_MIN_MM` or 4 robust SDs); gaps (tracker dropouts) are
  bridged between fitted stations, and a branch end without samples is
  dead-reckoned on. A bifurcation sits where the paths part: the mean of the
  parent's fitted end and each entered child's fitted start.
- **dead reckoning** (no tracker): each branch runs its depth extent as an
  arc. The orifice duct starts tilted :data:`ROOT_TILT_DEG` outward toward
  the orifice clock; a child leaves its parent's axis by its lumen's
  ``angles_deg`` (or :data:`DEFAULT_DEFLECTION_DEG`) toward its lumen's clock
  direction; every branch then bends toward its lobe's direction
  (:data:`LOBE_TILT_DEG` from the nipple axis toward the orifice clock) at
  :data:`TURN_DEG_PER_MM`.

Every node carries ``pos_sigma_mm``, a 1-SD position uncertainty (mm) that
grows with dead-reckoned distance (direction uncertainty per bifurcation and
unknown curvature, see :data:`DEFLECTION_SIGMA_DEG` ...). Lumens seen but never
entered become short stubs (``unexplored=True``, :data:`STUB_LENGTH_MM`).
Tips keep their ``end_reason``. Findings are kept in
``tree.graph["findings"]`` with their node, path and status.

Anatomical constants and their DOMAIN.md sources are listed beside each.
"""

from __future__ import annotations

import math
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from ..frame import clock_to_direction, direction_to_clock, format_clock, parse_laterality
from ..io.navlog import DEPTH_TOL_MM, NavLog, read_navlog, session_summary
from ..tree import DuctTree

if TYPE_CHECKING:
    from ..case import Case, LesionSpec

# --------------------------------------------------------------------------- anatomy defaults

#: Default deflection of a child from its parent's axis (degrees): Murray's
#: optimal angle for a symmetric split, children at 2**(-1/3) = 0.794 of the
#: parent radius (DOMAIN §2: child radius 0.65-0.99 x parent, Murray's law; VIC).
#: Over that radius range Murray's angles run ~24-52 degrees.
DEFAULT_DEFLECTION_DEG = 37.5
#: SD of the true deflection around the default (half the 24-52 degree Murray range, derived).
DEFLECTION_SIGMA_DEG = 14.0
#: SD of a deflection the surgeon gave in ``angles_deg`` (assumed).
GIVEN_ANGLE_SIGMA_DEG = 8.0
#: SD of a reported lumen clock (hours): clocks are off by up to an hour (DOMAIN §1, assumed uniform +-1 h).
CLOCK_SIGMA_H = 0.6
#: Outward tilt of the duct at the orifice from the nipple axis (degrees): main
#: ducts run nearly parallel inside the nipple (DOMAIN §2, RU07: ~23 ducts packed in the nipple; assumed 4-14).
ROOT_TILT_DEG = 9.0
#: A lobe's axis leaves the nipple axis by 30-55 degrees (derived: lobes radiate from the
#: nipple to fill the gland, 65% within 30 mm of the nipple base, RA05); the mean is used.
LOBE_TILT_DEG = 42.5
#: Duct curvature (degrees per mm): VICTRE grows segments as circular arcs
#: (DOMAIN §2, VIC) turning 0-35 degrees over a ~10 mm segment; the mean, toward the lobe.
TURN_DEG_PER_MM = 1.75
#: SD of the unknown curvature (degrees per mm), half the 0-3.5 deg/mm range (derived).
TURN_SIGMA_DEG_PER_MM = 1.75
#: Main duct radius (mm): main duct ~1 mm across (DOMAIN §2: VIC, RA05, GE09).
ROOT_RADIUS_MM = 0.5
#: Radius factor per generation: Murray's symmetric split 2**(-1/3) (DOMAIN §2, VIC).
CHILD_RADIUS_FACTOR = 2.0 ** (-1.0 / 3.0)
#: Uncertainty of the orifice position on the nipple face (mm): orifices lie 1-3 mm from its centre (assumed).
ORIFICE_SIGMA_MM = 1.0
#: SD of a smoothed depth reading (mm): reading noise 1-2 mm, median-smoothed (assumed).
DEPTH_SIGMA_MM = 1.0
#: Length of an unexplored stub (mm), in its lumen's direction.
STUB_LENGTH_MM = 2.0
#: Spacing of nodes along a branch (mm).
STEP_MM = 1.0
#: Shortest branch drawn (mm), when the scope entered a lumen and went no further (TDLU 1-4 mm, DOMAIN §2).
MIN_BRANCH_MM = 1.0

# --------------------------------------------------------------------------- tracker defaults

#: Bandwidth (mm of depth) of the local-linear fit of tip positions.
TRACKER_BANDWIDTH_MM = 1.5
#: Tip samples farther than max(this, 4 robust SDs) from the first (median) fit are outliers (mm).
OUTLIER_MIN_MM = 3.0
#: A station with less kernel weight than this (in samples), or no sample within one bandwidth,
#: is a gap: bridged between fitted stations, or dead-reckoned past the last one.
MIN_WEIGHT = 1.0
#: Electromagnetic tracker noise assumed when a branch has too few samples to measure it (mm, 1 SD).
TRACKER_SIGMA_MM = 1.0
#: Floor of the uncertainty of a tracked node (mm).
TRACKER_FLOOR_MM = 0.3


# --------------------------------------------------------------------------- directions


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def lumen_direction(axis: np.ndarray, clock_h: float, deflection_deg: float) -> np.ndarray:
    """Unit direction (BF) of a lumen leaving ``axis`` by ``deflection_deg`` toward the patient clock ``clock_h``.

    The lumen's sideways part is perpendicular to the axis and, projected on
    the coronal plane (looking down the duct from the nipple), points at the
    clock: the inverse of :func:`lumen_clock`. When the axis lies nearly in
    the coronal plane the clock direction is projected onto the plane
    perpendicular to the axis instead.

    Examples
    --------
    >>> v = lumen_direction(np.array([0.0, 1.0, 0.0]), 3.0, 30.0)
    >>> v.round(3).tolist()
    [0.5, 0.866, 0.0]
    """
    a = _unit(np.asarray(axis, dtype=float))
    phi = math.radians(clock_h * 30.0)
    sp, cp = math.sin(phi), math.cos(phi)
    if abs(a[1]) > 0.3:
        u = np.array([sp, -(a[0] * sp + a[2] * cp) / a[1], cp])
        if u[0] * sp + u[2] * cp < 0:
            u = -u
    else:
        c = np.array([sp, 0.0, cp])
        u = c - (c @ a) * a
        if np.linalg.norm(u) < 1e-6:
            u = np.cross(a, [0.0, 1.0, 0.0])
    u = _unit(u)
    th = math.radians(deflection_deg)
    return _unit(math.cos(th) * a + math.sin(th) * u)


def lumen_clock(axis: np.ndarray, direction: np.ndarray) -> float | None:
    """Patient clock (hours) of a lumen seen looking down ``axis``: its sideways part projected on the coronal plane.

    ``None`` when the lumen runs straight along the axis.
    """
    a = _unit(np.asarray(axis, dtype=float))
    v = _unit(np.asarray(direction, dtype=float))
    u = v - (v @ a) * a
    if np.linalg.norm(u) < 1e-9:
        return None
    return direction_to_clock(float(u[0]), float(u[2]))


def _walk_point(tree: DuctTree, start: Any, look_mm: float, up: bool, first: Any = None) -> np.ndarray:
    """The point ``look_mm`` along the tree from node ``start`` (BF mm): up toward the root, or down
    through ``first`` and then single children; the last node reached when the duct is shorter."""
    p0 = np.asarray(tree.nodes[start]["pos"], dtype=float)
    prev, cur = p0, start
    acc = 0.0
    nxt = first
    while True:
        if up:
            nxt = tree.parent(cur)
        elif nxt is None:
            kids = tree.children(cur)
            nxt = kids[0] if len(kids) == 1 else None
        if nxt is None:
            return prev
        q = np.asarray(tree.nodes[nxt]["pos"], dtype=float)
        seg = float(np.linalg.norm(q - prev))
        if acc + seg >= look_mm and seg > 0:
            return prev + (q - prev) * ((look_mm - acc) / seg)
        acc += seg
        prev, cur, nxt = q, nxt, None


def junction_lumens(tree: DuctTree, node: Any, look_mm: float = 2.0) -> tuple[np.ndarray, list[tuple[Any, float, float]]]:
    """The duct axis arriving at a junction and, per child, its lumen clock and deflection.

    The axis runs from the point ``look_mm`` upstream to the junction (at a
    root, the root's first ``look_mm`` of duct); each child's direction from
    the junction to the point ``look_mm`` down that child. Returns
    ``(axis, [(child, clock_hours, deflection_deg), ...])`` with children in
    the tree's order; a lumen straight along the axis gets the clock of the
    axis itself.
    """
    p = np.asarray(tree.nodes[node]["pos"], dtype=float)
    up = _walk_point(tree, node, look_mm, True)
    axis = p - up
    if np.linalg.norm(axis) < 1e-9:
        axis = np.array([0.0, 1.0, 0.0])
    axis = _unit(axis)
    out = []
    for c in tree.children(node):
        q = _walk_point(tree, node, look_mm, False, first=c)
        v = _unit(q - p)
        clk = lumen_clock(axis, v)
        if clk is None:
            clk = direction_to_clock(float(axis[0]), float(axis[2])) or 12.0
        out.append((c, float(clk), math.degrees(math.acos(float(np.clip(v @ axis, -1.0, 1.0))))))
    return axis, out


def _rotate_toward(v: np.ndarray, target: np.ndarray, angle_rad: float) -> np.ndarray:
    """Turn unit ``v`` toward unit ``target`` by at most ``angle_rad``."""
    c = float(np.clip(v @ target, -1.0, 1.0))
    total = math.acos(c)
    if total < 1e-9:
        return v
    step = min(angle_rad, total)
    w = _unit(target - c * v)
    return _unit(math.cos(step) * v + math.sin(step) * w)


def orifice_point(clock_h: float, offset_mm: float) -> np.ndarray:
    """The orifice on the nipple face (BF mm, y = 0) at a clock and a distance from the nipple centre."""
    return clock_to_direction(float(clock_h)) * float(offset_mm)


def root_direction(clock_h: float, tilt_deg: float = ROOT_TILT_DEG) -> np.ndarray:
    """Initial direction of the orifice duct: posterior (+y), tilted outward toward its clock."""
    c = clock_to_direction(float(clock_h))
    th = math.radians(tilt_deg)
    return _unit(np.array([0.0, 1.0, 0.0]) * math.cos(th) + c * math.sin(th))


# --------------------------------------------------------------------------- layout of the log


class _Layout:
    """Per branch: start/end depth, stations (depths of its nodes), parent, children, findings."""

    def __init__(self, log: NavLog) -> None:
        self.log = log
        bifs = log.bifurcations
        self.start = np.array([0.0 if b.bif < 0 else bifs[b.bif].depth_estimate_mm for b in log.branches])
        self.end = np.zeros(len(log.branches))
        for b in log.branches:
            if b.end_bif is not None:
                e = bifs[b.end_bif].depth_estimate_mm
            else:
                e = b.tip_depth_mm
            self.end[b.id] = max(e, self.start[b.id] + MIN_BRANCH_MM)
        self.order = self._bfs()
        self.findings_on: dict[int, list] = {}
        for f in log.findings:
            self.findings_on.setdefault(f.branch, []).append(f)

    def _bfs(self) -> list[int]:
        kids: dict[int, list[int]] = {}
        for b in self.log.branches:
            kids.setdefault(b.parent, []).append(b.id)
        out, queue = [], [0]
        while queue:
            b = queue.pop(0)
            out.append(b)
            queue.extend(kids.get(b, []))
        return out

    def stations(self, b: int) -> np.ndarray:
        """Depths (mm) of the nodes of branch b after its start: every STEP_MM, the end, and its findings."""
        s0, s1 = self.start[b], self.end[b]
        n = max(1, int(math.ceil((s1 - s0) / STEP_MM - 1e-9)))
        st = list(np.linspace(s0, s1, n + 1)[1:])
        for f in self.findings_on.get(b, []):
            d = min(max(f.depth_mm, s0), s1)
            if all(abs(d - x) > 1e-6 for x in st) and d > s0 + 1e-6:
                st.append(d)
        return np.array(sorted(st))


# --------------------------------------------------------------------------- building


def tree_from_navlog(log: NavLog, *, laterality: str | None = None, geometry: str = "auto") -> DuctTree:
    """Rebuild the explored part of the duct system from a scope log (BF mm).

    Parameters
    ----------
    log : NavLog
        A log read by :func:`ductree.io.navlog.read_navlog`.
    laterality : str, optional
        Must agree with the log's header when given.
    geometry : {"auto", "tracker", "dead-reckoned"}
        ``auto`` uses the tracker when the log has ``tip`` samples.

    Returns
    -------
    DuctTree
        One system (id 0) rooted at the orifice; node attributes ``pos``,
        ``radius``, ``system``, ``pos_sigma_mm``, ``depth_mm`` (scope depth),
        ``branch`` (log branch id), ``unexplored``, and ``end_reason`` on tips,
        ``bifurcation`` (log id) on junctions, ``finding`` (label) where a
        finding was reported. Graph attributes ``laterality``, ``findings``
        (list of dicts, see :func:`findings_table`) and ``navlog``
        (geometry mode, summary, source).
    """
    if laterality is not None and parse_laterality(laterality) != log.laterality:
        raise InputError(f"the log is for the {log.laterality} breast but {parse_laterality(laterality)} was given",
                         source=log.source, key="laterality")
    if geometry not in ("auto", "tracker", "dead-reckoned"):
        raise InputError(f"geometry must be auto, tracker or dead-reckoned, got {geometry!r}", key="geometry")
    use_tracker = log.has_tracker if geometry == "auto" else geometry == "tracker"
    if use_tracker and not log.has_tracker:
        raise InputError("the log has no tracker 'tip' samples", source=log.source, key="tip")
    lay = _Layout(log)
    builder = _Builder(log, lay)
    if use_tracker:
        builder.fit_tracker()
    builder.build()
    tree = builder.tree
    tree.graph["findings"] = findings_table(tree, log)
    tree.graph["navlog"] = {
        "source": log.source,
        "geometry": "tracker" if use_tracker else "dead-reckoned",
        "depth_tol_mm": DEPTH_TOL_MM,
        "summary": session_summary(log),
    }
    tree.touch()
    return tree


class _Builder:
    def __init__(self, log: NavLog, lay: _Layout) -> None:
        self.log = log
        self.lay = lay
        self.tree = DuctTree(laterality=log.laterality)
        self.next_id = 0
        self.fit: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # branch -> (stations, pos, sigma)
        self.fit_start: dict[int, np.ndarray] = {}
        od = log.header.get("scope_od_mm")
        self.min_radius = 0.5 * od if od else 0.1

    # -- tracker

    def fit_tracker(self) -> None:
        """Fit every branch's stations from the tip samples (NaN where no coverage)."""
        log, lay = self.log, self.lay
        ok = np.isfinite(log.tip[:, 0])
        depth = log.depth_smooth_mm
        # Re-assign each sample to the branch on its path whose extent contains its depth.
        br = log.branch.copy()
        parent = np.array([b.parent for b in log.branches])
        for _ in range(len(log.branches)):
            shallow = (parent[br] >= 0) & (depth < lay.start[br])
            if not shallow.any():
                break
            br[shallow] = parent[br[shallow]]
        for b in lay.order:
            sel = ok & (br == b)
            st = lay.stations(b)
            xs = np.concatenate([[lay.start[b]], st])
            if sel.sum() < 3:
                self.fit[b] = (xs, np.full((len(xs), 3), np.nan), np.full(len(xs), np.nan))
                continue
            x = depth[sel]
            y = log.tip[sel]
            pos, sig = _robust_fit(x, y, xs)
            self.fit[b] = (xs, pos, sig)

    # -- nodes

    def add(self, pos: np.ndarray, radius: float, sigma: float, **attrs: Any) -> int:
        nid = self.next_id
        self.next_id += 1
        self.tree.add_node(nid, pos=np.asarray(pos, dtype=float).copy(), radius=float(radius), system=0,
                           pos_sigma_mm=float(sigma), **attrs)
        return nid

    def build(self) -> None:
        log, lay = self.log, self.lay
        bifs = log.bifurcations
        clock = log.orifice_clock
        lobe = root_direction(clock, LOBE_TILT_DEG)
        turn = math.radians(TURN_DEG_PER_MM)
        turn_sig = math.radians(TURN_SIGMA_DEG_PER_MM)
        root = self.add(orifice_point(clock, log.orifice_offset_mm), ROOT_RADIUS_MM, ORIFICE_SIGMA_MM,
                        depth_mm=0.0, branch=0, unexplored=False, orifice_clock=float(clock))
        # per branch: start node, start direction, start sigma, direction sigma (rad), radius
        start_of: dict[int, tuple[int, np.ndarray, float, float, float]] = {
            0: (root, root_direction(clock), ORIFICE_SIGMA_MM, math.radians(5.0), ROOT_RADIUS_MM)}
        bif_node: dict[int, int] = {}
        self.bif_dir: dict[int, np.ndarray] = {}
        tracked = bool(self.fit)
        for b in lay.order:
            node0, d0, sig0, dsig0, rad = start_of[b]
            br = log.branches[b]
            st = lay.stations(b)
            p = np.array(self.tree.nodes[node0]["pos"], dtype=float)
            v = d0.copy()
            prev_s = lay.start[b]
            prev = node0
            fit = self.fit.get(b) if tracked else None
            if fit is not None:
                fpos, fsig = fit[1][1:], fit[2][1:]
                fpos, fsig = _bridge(fpos, fsig, st)
            dsig = dsig0
            s_rel = 0.0
            sig_dr = sig0  # sigma accumulated by dead reckoning in this branch
            last_tracked_sig = None
            for k, s in enumerate(st):
                ds = s - prev_s
                if fit is not None and np.isfinite(fpos[k, 0]):
                    q = fpos[k]
                    if np.linalg.norm(q - p) > 1e-9:
                        v = _unit(q - p)
                    p = q
                    sigma = float(fsig[k])
                    sig_dr = sigma
                    last_tracked_sig = sigma
                    s_rel = 0.0
                else:
                    v = _rotate_toward(v, lobe, turn * ds)
                    p = p + v * ds
                    s_rel += ds
                    base = sig_dr if last_tracked_sig is None else last_tracked_sig
                    sigma = math.sqrt(base ** 2 + (s_rel * math.sin(min(dsig, 1.5))) ** 2
                                      + (0.5 * turn_sig * s_rel ** 2) ** 2 + DEPTH_SIGMA_MM ** 2 * (s_rel > 0))
                attrs: dict[str, Any] = {"depth_mm": float(s), "branch": b, "unexplored": False}
                is_end = k == len(st) - 1
                for f in lay.findings_on.get(b, []):
                    if abs(min(max(f.depth_mm, lay.start[b]), lay.end[b]) - s) < 1e-6:
                        attrs["finding"] = f.label
                if is_end and br.end_bif is not None:
                    attrs["bifurcation"] = br.end_bif
                    attrs["lumens"] = [float(c) for c in bifs[br.end_bif].lumens]
                if is_end and br.end_bif is None and br.end_reason is not None:
                    attrs["end_reason"] = br.end_reason
                nid = self.add(p, max(rad, self.min_radius if b == 0 else 0.0), sigma, **attrs)
                self.tree.add_edge(prev, nid)
                prev, prev_s = nid, s
            dsig_end = math.sqrt(dsig ** 2 + (turn_sig * (lay.end[b] - lay.start[b])) ** 2)
            if br.end_bif is not None:
                bif = bifs[br.end_bif]
                bif_node[bif.id] = prev
                self.bif_dir[bif.id] = v
                pend = np.array(self.tree.nodes[prev]["pos"])
                sig_end = float(self.tree.nodes[prev]["pos_sigma_mm"])
                child_rad = max(rad * CHILD_RADIUS_FACTOR, 0.05)
                for j, lc in enumerate(bif.lumens):
                    if bif.angles_deg is not None:
                        th, thsig = bif.angles_deg[j], GIVEN_ANGLE_SIGMA_DEG
                    else:
                        th, thsig = DEFAULT_DEFLECTION_DEG, DEFLECTION_SIGMA_DEG
                    u = lumen_direction(v, lc, th)
                    dsig_child = math.sqrt(dsig_end ** 2 + math.radians(thsig) ** 2
                                           + (math.sin(math.radians(th)) * math.radians(CLOCK_SIGMA_H * 30.0)) ** 2)
                    child = bif.children.get(j)
                    if child is not None:
                        r = max(child_rad, self.min_radius)
                        start_of[child] = (prev, u, sig_end, dsig_child, r)
                    else:
                        q = pend + u * STUB_LENGTH_MM
                        sg = math.sqrt(sig_end ** 2 + (STUB_LENGTH_MM * math.sin(min(dsig_child, 1.5))) ** 2)
                        nid = self.add(q, child_rad, sg, depth_mm=float(lay.end[b] + STUB_LENGTH_MM), branch=-1,
                                       unexplored=True, lumen=j, lumen_clock=float(lc), stub_of=bif.id)
                        self.tree.add_edge(prev, nid)
        if tracked:
            self._part_paths(bif_node)

    def _part_paths(self, bif_node: dict[int, int]) -> None:
        """Tracker: put each bifurcation where the paths part (parent end and entered children's starts)."""
        tree = self.tree
        for bid, node in bif_node.items():
            bif = self.log.bifurcations[bid]
            pts = [np.array(tree.nodes[node]["pos"])]
            for child in bif.children.values():
                fit = self.fit.get(child)
                if fit is not None and np.isfinite(fit[1][0, 0]):
                    pts.append(fit[1][0])
            if len(pts) > 1:
                old = np.array(tree.nodes[node]["pos"])
                new = np.mean(pts, axis=0)
                tree.nodes[node]["pos"] = new
                # stubs keep their direction from the moved junction
                for kid in tree.successors(node):
                    if tree.nodes[kid].get("unexplored"):
                        tree.nodes[kid]["pos"] = np.asarray(tree.nodes[kid]["pos"]) + (new - old)


def _bridge(pos: np.ndarray, sig: np.ndarray, st: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill interior gaps (NaN stations) by linear interpolation in depth; leave leading/trailing gaps."""
    ok = np.isfinite(pos[:, 0])
    if ok.sum() < 2 or ok.all():
        return pos, sig
    idx = np.flatnonzero(ok)
    lo, hi = idx[0], idx[-1]
    inner = np.arange(lo, hi + 1)
    gap = inner[~ok[inner]]
    if len(gap):
        pos = pos.copy()
        sig = sig.copy()
        for k in range(3):
            pos[gap, k] = np.interp(st[gap], st[ok], pos[ok, k])
        # a bridged station is as uncertain as its ends plus the sagitta of an unknown bend across the gap
        left = np.searchsorted(st[ok], st[gap]) - 1
        span = st[ok][left + 1] - st[ok][left]
        sagitta = math.radians(TURN_SIGMA_DEG_PER_MM) * span ** 2 / 8.0
        sig[gap] = np.sqrt(np.interp(st[gap], st[ok], sig[ok]) ** 2 + sagitta ** 2 + (0.1 * span) ** 2)
    return pos, sig


def _local_linear(x: np.ndarray, y: np.ndarray, xe: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian-kernel local-linear regression of y (n, 3) on x at xe.

    Returns the (m, 3) values, the kernel weight sum and the effective sample count at each xe.
    """
    dx = xe[:, None] - x[None, :]
    w = np.exp(-0.5 * (dx / h) ** 2)
    w[np.abs(dx) > 4 * h] = 0.0
    s0 = w.sum(1)
    s1 = (w * -dx).sum(1)
    s2 = (w * dx * dx).sum(1)
    t0 = w @ y
    t1 = (w * -dx) @ y
    den = s0 * s2 - s1 * s1
    with np.errstate(invalid="ignore", divide="ignore"):
        ll = (s2[:, None] * t0 - s1[:, None] * t1) / den[:, None]
        nw = t0 / s0[:, None]
    good = den > 1e-6 * np.maximum(s0, 1e-12) ** 2 * h * h
    out = np.where(good[:, None], ll, nw)
    neff = s0 ** 2 / np.maximum((w * w).sum(1), 1e-300)
    return out, s0, neff


def _interp_rows(xe: np.ndarray, values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Linear interpolation of (m, 3) station values at depths x (NaN stations skipped)."""
    ok = np.isfinite(values[:, 0])
    if ok.sum() == 0:
        return np.full((len(x), 3), np.nan)
    return np.stack([np.interp(x, xe[ok], values[ok, k]) for k in range(3)], axis=1)


def _robust_fit(x: np.ndarray, y: np.ndarray, xe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Station positions (m, 3; NaN in gaps) and 1-SD uncertainties (mm) from tip samples y (BF mm) at depths x.

    A running median over +-2 bandwidths (at the stations) finds outliers;
    the rest are fitted by local-linear regression.
    """
    h = TRACKER_BANDWIDTH_MM
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    lo = np.searchsorted(x, xe - 2 * h)
    hi = np.searchsorted(x, xe + 2 * h, side="right")
    med = np.full((len(xe), 3), np.nan)
    for j in range(len(xe)):  # per station (tens), not per sample
        if hi[j] > lo[j]:
            med[j] = np.median(y[lo[j]:hi[j]], axis=0)
    ref = _interp_rows(xe, med, x)
    r = np.linalg.norm(y - ref, axis=1)
    mad = 1.4826 * float(np.median(r)) if len(r) else 0.0
    keep = r <= max(OUTLIER_MIN_MM, 4.0 * mad)
    x, y = x[keep], y[keep]
    if len(x) < 3:
        return np.full((len(xe), 3), np.nan), np.full(len(xe), np.nan)
    pos, s0, neff = _local_linear(x, y, xe, h)
    res = np.linalg.norm(y - _interp_rows(xe, pos, x), axis=1)
    noise = float(np.sqrt(np.mean(res ** 2) / 3.0)) if len(res) >= 10 else TRACKER_SIGMA_MM
    sig = np.maximum(np.sqrt(3.0) * noise / np.sqrt(np.maximum(neff, 1e-9)), TRACKER_FLOOR_MM)
    near = np.searchsorted(x, xe + h, side="right") - np.searchsorted(x, xe - h, side="left")
    gap = (s0 < MIN_WEIGHT) | (near == 0)
    pos[gap] = np.nan
    sig[gap] = np.nan
    return pos, sig


# --------------------------------------------------------------------------- findings


def findings_table(tree: DuctTree, log: NavLog) -> list[dict]:
    """One dict per finding: label, kind, size_mm, clock (wall, "H:MM"), extent_mm, node, path_mm
    (scope depth = distance along the duct from the orifice, mm), point_bf, sigma_mm, status,
    retrievals, verifications, line (in the log)."""
    by_label = {d["finding"]: n for n, d in tree.nodes(data=True) if "finding" in d}
    out = []
    for f in log.findings:
        node = by_label.get(f.label)
        d = tree.nodes[node] if node is not None else None
        out.append({
            "label": f.label, "kind": f.kind, "size_mm": f.size_mm,
            "clock": None if f.clock is None else format_clock(f.clock),
            "extent_mm": f.extent_mm, "note": f.note,
            "node": node, "path_mm": round(float(f.depth_mm), 3),
            "point_bf": None if d is None else [float(x) for x in d["pos"]],
            "sigma_mm": None if d is None else float(d["pos_sigma_mm"]),
            "status": f.status,
            "retrievals": [r["method"] for r in f.retrievals],
            "verifications": [v["result"] for v in f.verifications],
            "branch": f.branch, "line": f.line,
        })
    return out


def findings_as_lesion_specs(tree_or_log: "DuctTree | NavLog | str | PathLike") -> list["LesionSpec"]:
    """Scope findings as :class:`~ductree.case.LesionSpec` (``origin="navlog"``, the log's laterality).

    From a tree built or fused from a log (``tree.graph["findings"]``), each
    spec is located by ``point_bf`` on that tree; from a log (or its path),
    by ``path_mm`` along the duct of the log's ``orifice_clock``. The
    position uncertainty is in the spec's ``note`` (1 SD, mm) and, as the
    bound the lesion placer expects, in ``uncertainty_mm`` (2 SD, ~95%).
    """
    from ..case import LesionSpec

    specs: list[LesionSpec] = []
    if isinstance(tree_or_log, (str, PathLike)):
        tree_or_log = read_navlog(tree_or_log, warn=False)
    if isinstance(tree_or_log, NavLog):
        log = tree_or_log
        for i, f in enumerate(log.findings):
            sig = math.hypot(DEPTH_SIGMA_MM, 0.03 * f.depth_mm)
            spec = LesionSpec(label=f.label, kind=f.kind, size_mm=f.size_mm, path_mm=float(f.depth_mm),
                              orifice_clock=float(log.orifice_clock), origin="navlog", laterality=log.laterality,
                              key=f"navlog finding[{i}]",
                              note=f"scope finding ({f.status}), {f.depth_mm:.1f} mm along the duct of the "
                                   f"{format_clock(log.orifice_clock)} orifice, +-{sig:.1f} mm")
            spec.uncertainty_mm = 2.0 * sig
            specs.append(spec)
        return specs
    tree = tree_or_log
    for i, f in enumerate(tree.graph.get("findings") or []):
        if f.get("point_bf") is None:
            continue  # an ambiguous fusion placed nothing
        sig = f.get("sigma_mm") or 0.0
        spec = LesionSpec(label=f["label"], kind=f["kind"], size_mm=f.get("size_mm"),
                          point_bf=tuple(float(x) for x in f["point_bf"]), origin="navlog",
                          laterality=tree.laterality, key=f"navlog finding[{i}]",
                          note=f"scope finding ({f.get('status')}), {f['path_mm']:.1f} mm along the duct, "
                               f"+-{sig:.1f} mm")
        spec.uncertainty_mm = 2.0 * sig
        specs.append(spec)
    return specs


# --------------------------------------------------------------------------- entry points


def tree_from_navlog_file(path: str | PathLike, *, laterality: str | None = None) -> DuctTree:
    """Read a ``.jsonl``/``.csv`` scope log and rebuild the explored tree (what ``ductree build`` calls)."""
    log = read_navlog(path)
    return tree_from_navlog(log, laterality=laterality)


def tree_from_case(case: "Case") -> DuctTree:
    """The case's tree from its ``source.navlog``; the log's findings join ``case.lesions`` (origin navlog)."""
    log = read_navlog(case.source.navlog)
    if log.laterality != case.laterality:
        raise InputError(f"the scope log is for the {log.laterality} breast but the case is {case.laterality}",
                         source=case.source.navlog, key="laterality")
    tree = tree_from_navlog(log)
    add_specs_to_case(case, findings_as_lesion_specs(tree), source=case.source.navlog)
    return tree


def add_specs_to_case(case: "Case", specs: list, *, source: Any = None) -> None:
    """Append navlog lesion specs to a case, refusing a label the case already uses."""
    taken = {les.label for les in case.lesions}
    for s in specs:
        if s.label in taken:
            raise InputError(f"finding label {s.label!r} is also a [[lesion]] label in the case file",
                             source=source, key="label")
        case.lesions.append(s)
        taken.add(s.label)


def summary(path_or_log: "NavLog | str | PathLike") -> dict:
    """The session summary of a log (see :func:`ductree.io.navlog.session_summary`)."""
    log = path_or_log if isinstance(path_or_log, NavLog) else read_navlog(Path(path_or_log))
    return session_summary(log)
