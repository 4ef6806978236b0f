"""Grow a phantom ductal tree: several duct systems from the nipple into a breast-shaped envelope.

The model (constants and their sources in :class:`~ductree.phantom.params.PhantomParams`):

1. **Orifices.** ``systems`` orifices on the nipple face (``y = 0``), 1-3 mm
   from its centre, at clock positions spread evenly around the clock with
   jitter. Each system also gets a *lobe* clock near its orifice clock and a
   lobe axis: posterior, tilted toward the lobe clock, so systems fan out
   radially.
2. **Main duct.** Radius 0.5-1.2 mm; it runs almost straight back through
   the nipple, optionally swelling into a 2-4 mm wide lactiferous sinus a few
   mm behind the orifice, and first divides 8 +- 5.5 mm from the orifice.
3. **Branching** (largest radius first, with one priority queue for all
   systems): one child keeps 0.65-0.99 of the parent's end radius, its
   sibling follows Murray's law ``r0^3 = r1^3 + r2^3``; each child leaves at
   Murray's optimal angle for its radius (the thinner deflects more) with
   jitter, the two on opposite sides of the parent's axis. A segment is a
   circular arc sampled every ~0.8 mm, bending toward its lobe's outward
   direction; its length scales with its radius. Branching stops when a child
   would be thinner than 0.1 mm, past ``max_generation``, or when the system
   has used its branch budget, so a budget leaves the finest branches unbuilt.
4. **Space.** Every candidate stays inside a half-ellipsoid breast (nipple to
   chest wall, minus skin and retromammary margins) and keeps ``clearance_mm``
   from every duct it does not meet at a junction (checked with an exact
   segment distance and a KD-tree). Of several candidate placements the valid
   one with the lowest direction + crowding cost wins; if none fits, the
   parent becomes a tip. So systems never touch: the phantom is a forest.

Everything is drawn from one ``numpy.random.Generator`` seeded with ``seed``:
the same arguments give the identical tree.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from ..errors import InputError
from ..frame import normalize_hours, parse_laterality
from ..tree import DuctTree
from .params import PhantomParams, murray_angles_deg, murray_sibling
from .space import SegmentSpace, segment_distance

Y = np.array([0.0, 1.0, 0.0])


# --------------------------------------------------------------------------- small geometry

def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def _coronal(hours: np.ndarray | float) -> np.ndarray:
    """Unit coronal direction(s) of clock hours (BF; 12 = +z, 3 = +x)."""
    th = np.radians(np.asarray(hours, dtype=float) * 30.0)
    return np.stack([np.sin(th), np.zeros_like(th), np.cos(th)], axis=-1)


def _perp_basis(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors completing ``t`` (unit, shape (3,)) to an orthonormal frame."""
    tx, ty, tz = float(t[0]), float(t[1]), float(t[2])
    # cross(t, e) with e the axis least aligned with t
    k = min(range(3), key=lambda i: abs((tx, ty, tz)[i]))
    if k == 0:
        ux, uy, uz = 0.0, tz, -ty
    elif k == 1:
        ux, uy, uz = -tz, 0.0, tx
    else:
        ux, uy, uz = ty, -tx, 0.0
    n = math.sqrt(ux * ux + uy * uy + uz * uz)
    ux, uy, uz = ux / n, uy / n, uz / n
    return np.array([ux, uy, uz]), np.array([ty * uz - tz * uy, tz * ux - tx * uz, tx * uy - ty * ux])


def _perp_part(v: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Component of ``v`` perpendicular to unit ``d`` (row-wise)."""
    return v - (v * d).sum(-1, keepdims=True) * d


def _arcs(start: np.ndarray, d0: np.ndarray, bend: np.ndarray, turn: np.ndarray, length: np.ndarray,
          step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample circular arcs (one per row) every ~``step`` mm, excluding their start points.

    Each arc leaves ``start`` along unit ``d0``, bends toward unit ``bend``
    (perpendicular to ``d0``) by ``turn`` radians in total over ``length`` mm.
    Returns points (P, 3), owner row (P,), points per arc (C,), end tangents (C, 3).
    """
    m = np.maximum(2, np.ceil(length / step - 1e-9)).astype(np.int64)
    owner = np.repeat(np.arange(len(m)), m)
    first = np.cumsum(m) - m
    k = np.arange(len(owner)) - first[owner] + 1
    s = k / m[owner] * length[owner]
    kappa = turn / length
    ks = kappa[owner] * s
    curved = kappa[owner] > 1e-9
    kap = np.where(curved, kappa[owner], 1.0)
    along = np.where(curved, np.sin(ks) / kap, s)
    side = np.where(curved, (1.0 - np.cos(ks)) / kap, 0.0)
    pts = start[owner] + along[:, None] * d0[owner] + side[:, None] * bend[owner]
    tan_end = np.cos(turn)[:, None] * d0 + np.sin(turn)[:, None] * bend
    return pts, owner, m, tan_end


def _spread_orifices(pts: np.ndarray, radii: np.ndarray, gap: float, max_offset: float,
                     min_radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Nudge orifice centres (y = 0) apart until neighbouring ducts clear by ``gap`` mm.

    Pairs that overlap push each other apart; the points stay within
    ``max_offset`` of the nipple centre, and clock neighbours keep at least
    half their even share of the clock face apart (up to 0.5 h), so every
    orifice keeps a clock position of its own. If they cannot all fit (many
    wide ducts on a small nipple), the ducts are made a little thinner and
    the nudging repeats. Deterministic.
    """
    pts = pts[:, [0, 2]].astype(float).copy()
    radii = radii.astype(float).copy()
    n = len(pts)
    if n == 1:
        return np.array([[pts[0, 0], 0.0, pts[0, 1]]]), radii
    min_gap = math.radians(30.0 * min(0.5, 0.5 * 12.0 / n))
    for _ in range(40):
        need = radii[:, None] + radii[None, :] + gap
        np.fill_diagonal(need, 0.0)
        for _ in range(200):
            diff = pts[:, None, :] - pts[None, :, :]
            dist = np.linalg.norm(diff, axis=-1)
            np.fill_diagonal(dist, np.inf)
            over = need - dist
            ang = np.arctan2(pts[:, 0], pts[:, 1])
            order = np.argsort(ang)
            gaps = np.diff(np.append(ang[order], ang[order[0]] + 2 * np.pi))
            if np.all(over <= 1e-9) and np.all(gaps >= min_gap - 1e-9):
                break
            push = np.where(over > 0, over * 0.55, 0.0) / np.maximum(dist, 1e-9)
            pts = pts + (diff * push[..., None]).sum(axis=1)
            rho = np.linalg.norm(pts, axis=1)
            rho = np.minimum(rho, max_offset)
            # keep clock neighbours apart
            ang = np.arctan2(pts[:, 0], pts[:, 1])
            order = np.argsort(ang)
            gaps = np.diff(np.append(ang[order], ang[order[0]] + 2 * np.pi))
            deficit = np.maximum(min_gap * 1.02 - gaps, 0.0) / 2
            shift = np.zeros(n)
            shift[order] -= deficit
            shift[np.roll(order, -1)] += deficit
            ang = ang + shift
            pts = np.stack([rho * np.sin(ang), rho * np.cos(ang)], axis=1)
        else:
            radii = np.maximum(radii * 0.95, min_radius)
            continue
        break
    return np.stack([pts[:, 0], np.zeros(n), pts[:, 1]], axis=1), radii


# --------------------------------------------------------------------------- envelope

class Envelope:
    """The breast: a half-ellipsoid from the nipple to the chest wall, plus the nipple (BF mm).

    The ellipsoid is centred on the chest wall (``y = breast_depth_mm``) with
    coronal semi-axis ``radius`` and its apex at the nipple; ducts stay
    ``skin_margin_mm`` inside the skin and ``posterior_margin_mm`` in front of
    the chest wall. The nipple and the base of the areola are a cone of
    radius ``nipple_radius_mm + y`` down to ``y = nipple_length_mm``, where
    the main ducts start.

    Examples
    --------
    >>> import numpy as np
    >>> env = Envelope(100.0, PhantomParams())
    >>> env.inside(np.array([[0.0, 0.0, 2.0], [0.0, 95.0, 0.0], [80.0, 50.0, 0.0]])).tolist()
    [True, False, False]
    """

    def __init__(self, breast_depth_mm: float, params: PhantomParams) -> None:
        d = float(breast_depth_mm)
        self.depth = d
        self.radius = params.envelope_radius_mm if params.envelope_radius_mm is not None else 0.75 * d + 15.0
        m = params.skin_margin_mm
        self.ay = d - m            # semi-axis along y, centred on the chest wall: apex at y = m
        self.ar = self.radius - m  # coronal semi-axis
        self.y_max = d - params.posterior_margin_mm
        self.nipple_r = params.nipple_radius_mm
        self.nipple_len = params.nipple_length_mm

    def inside(self, p: np.ndarray) -> np.ndarray:
        """(P,) bool: points (P, 3) inside the allowed volume."""
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        fn2 = x * x + z * z
        ell = fn2 / self.ar ** 2 + ((y - self.depth) / self.ay) ** 2 <= 1.0
        nip = (fn2 <= (self.nipple_r + np.maximum(y, 0.0)) ** 2) & (y <= self.nipple_len)
        return (y >= -1e-9) & (y <= self.y_max) & (ell | nip)


# --------------------------------------------------------------------------- the grower

class _Grower:
    def __init__(self, rng: np.random.Generator, params: PhantomParams, systems: int, branches: int,
                 breast_depth_mm: float, sinus: bool, clearance_mm: float, max_generation: int | None) -> None:
        self.rng = rng
        self.p = params
        self.n_systems = systems
        self.budget = branches
        self.sinus = sinus
        self.clearance = clearance_mm
        self.max_generation = max_generation
        self.env = Envelope(breast_depth_mm, params)
        self.length_scale = params.length_scale_mm * breast_depth_mm / 100.0
        self.space = SegmentSpace(clearance_mm)
        # nodes
        self.pos: list[np.ndarray] = []
        self.rad: list[np.ndarray] = []
        self.par: list[np.ndarray] = []
        self.sysid: list[np.ndarray] = []
        self.n_nodes = 0
        # branches
        self.br_end_node: list[int] = []
        self.br_end: list[np.ndarray] = []
        self.br_tan: list[np.ndarray] = []
        self.br_r: list[float] = []
        self.br_gen: list[int] = []
        self.br_len: list[float] = []
        self.br_sys: list[int] = []
        self.count = np.zeros(systems, dtype=np.int64)
        # crowding grid: mm of duct per cell, per system
        h = params.density_cell_mm
        self.cell = h
        self.grid_lo = np.array([-self.env.radius, 0.0, -self.env.radius])
        shape = np.ceil(np.array([2 * self.env.radius, breast_depth_mm, 2 * self.env.radius]) / h).astype(int) + 1
        self.grid = np.zeros((systems, *shape))
        self.grid_shape = shape
        self.heap: list[tuple[float, int, int]] = []
        self.tick = 0

    # ----------------------------------------------------------------- systems
    def layout_systems(self) -> None:
        p, rng, s = self.p, self.rng, self.n_systems
        spacing = 12.0 / s
        start = rng.uniform(0.0, 12.0)
        self.orifice_clock = np.mod(start + spacing * np.arange(s)
                                    + rng.uniform(-1, 1, s) * p.orifice_clock_jitter * spacing, 12.0)
        # Lobes spread evenly around the clock in the same cyclic order as their orifices; a lobe's
        # clock differs from its orifice's by the orifice jitter plus a common turn (DOMAIN §2 caution).
        turn_h = rng.uniform(-1, 1) * min(p.lobe_clock_jitter_h, 0.3 * spacing)
        self.lobe_clock = np.mod(start + turn_h + spacing * np.arange(s)
                                 + rng.uniform(-0.1, 0.1, s) * spacing, 12.0)
        tilt = np.radians(rng.uniform(*p.lobe_tilt_deg, s))
        self.lobe_axis = _unit(np.cos(tilt)[:, None] * Y + np.sin(tilt)[:, None] * _coronal(self.lobe_clock))
        self.main_radius = rng.uniform(*p.main_radius_mm, s)
        mu, sd = p.first_branch_mm
        self.first_branch = np.clip(rng.normal(mu, sd, s), *p.first_branch_clamp_mm)
        offset = rng.uniform(*p.orifice_offset_mm, s)
        pts = offset[:, None] * _coronal(self.orifice_clock)
        self.orifice, self.main_radius = _spread_orifices(pts, self.main_radius, self.clearance + 0.1,
                                                          p.max_orifice_offset_mm, p.min_radius_mm)
        self.orifice_clock = np.array([math.degrees(math.atan2(x, z)) / 30.0 for x, _, z in self.orifice]) % 12.0

    def pref_dir(self, system: int, points: np.ndarray) -> np.ndarray:
        """Preferred growth direction(s) in a lobe: its axis blended with the ray from the nipple."""
        ray = _unit(points + np.array([0.0, 10.0, 0.0]))
        return _unit(self.lobe_axis[system] + 0.8 * ray)

    # ----------------------------------------------------------------- storing
    def _add_nodes(self, pts: np.ndarray, radii: np.ndarray, first_parent: int, system: int) -> np.ndarray:
        n = len(pts)
        idx = np.arange(self.n_nodes, self.n_nodes + n)
        par = idx - 1
        par[0] = first_parent
        self.pos.append(pts)
        self.rad.append(radii)
        self.par.append(par)
        self.sysid.append(np.full(n, system, dtype=np.int64))
        self.n_nodes += n
        return idx

    def _add_branch(self, end_node: int, end: np.ndarray, tan: np.ndarray, r_end: float, gen: int,
                    length: float, system: int) -> int:
        b = len(self.br_r)
        self.br_end_node.append(end_node)
        self.br_end.append(end)
        self.br_tan.append(tan)
        self.br_r.append(r_end)
        self.br_gen.append(gen)
        self.br_len.append(length)
        self.br_sys.append(system)
        self.count[system] += 1
        heapq.heappush(self.heap, (-r_end / self.main_radius[system], self.tick, b))
        self.tick += 1
        return b

    def _crowd_add(self, system: int, a: np.ndarray, b: np.ndarray) -> None:
        mid = 0.5 * (a + b)
        length = np.sqrt(np.einsum("ij,ij->i", b - a, b - a))
        ijk = np.clip(((mid - self.grid_lo) / self.cell).astype(int), 0, self.grid_shape - 1)
        np.add.at(self.grid[system], (ijk[:, 0], ijk[:, 1], ijk[:, 2]), length)

    def _crowding(self, system: int, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ijk = np.clip(((pts - self.grid_lo) / self.cell).astype(int), 0, self.grid_shape - 1)
        cells = self.grid[:, ijk[:, 0], ijk[:, 1], ijk[:, 2]]  # (S, P)
        own = cells[system]
        return own, cells.sum(0) - own

    # ----------------------------------------------------------------- main ducts
    def place_roots(self) -> None:
        """Place every main duct as a plain tube, then swell the sinuses as far as space allows."""
        p, rng = self.p, self.rng
        sinus_plan = []
        for s in range(self.n_systems):
            r0 = float(self.main_radius[s])
            length = float(self.first_branch[s])
            ex = p.junction_exempt_factor * r0 + self.clearance
            length = max(length, ex + 0.5)
            sinus = None
            if self.sinus:
                width = rng.uniform(*p.sinus_width_mm)
                sa = rng.uniform(*p.sinus_start_mm)
                sl = rng.uniform(*p.sinus_length_mm)
                sb = min(sa + sl, length - r0 - 1.0)
                if sb - sa >= 2.5 and width / 2 > r0:
                    sinus = (sa, sb, width / 2)
            origin = self.orifice[s]
            k_all = p.root_candidates
            outward = np.radians(rng.uniform(*p.root_outward_deg, k_all))
            # later candidates may lean toward a neighbouring clock to get out of the way
            out_clock = self.orifice_clock[s] + rng.uniform(-1.5, 1.5, k_all) * np.linspace(0, 1, k_all)
            turn_frac = rng.uniform(0.2, 0.7, k_all)
            step = min(p.step_mm, 0.5)
            for k in range(k_all):
                d0 = _unit(np.cos(outward[k]) * Y + np.sin(outward[k]) * _coronal(out_clock[k]))
                axis = self.lobe_axis[s]
                ang = math.acos(float(np.clip(d0 @ axis, -1.0, 1.0)))
                bend = _perp_part(axis, d0)
                bend = _unit(bend) if np.linalg.norm(bend) > 1e-9 else _perp_basis(d0)[0]
                turn = min(ang * turn_frac[k], math.radians(30.0))
                pts, _, _, tan_end = _arcs(origin[None], d0[None], bend[None], np.array([turn]),
                                           np.array([length]), step)
                pts = np.vstack([origin[None], pts])
                if not self.env.inside(pts).all():
                    continue
                a, b = pts[:-1], pts[1:]
                m = len(a)
                rseg = np.full(m, r0)
                bad = self.space.violations(a, b, rseg, np.full(m, -1), np.zeros((m, 3)), np.zeros(m),
                                            np.zeros(m, dtype=bool))
                if bad.any():
                    continue
                chunk = len(self.rad)
                idx = self._add_nodes(pts, np.full(len(pts), r0), -1, s)
                br = self._add_branch(int(idx[-1]), pts[-1].copy(), tan_end[0], r0, 0, length, s)
                seg = self.space.add(a, b, rseg, br)
                self._crowd_add(s, a, b)
                sinus_plan.append((s, chunk, seg, br, pts, sinus))
                break
            else:
                raise RuntimeError(f"phantom: could not place the main duct of system {s} "
                                   f"(too many systems for the nipple?)")
        # Sinuses: the widest dilation (up to the drawn width) that keeps clear of every other duct.
        for s, chunk, seg, br, pts, sinus in sinus_plan:
            if sinus is None:
                continue
            r0 = float(self.main_radius[s])
            sa, sb, rs_full = sinus
            s_along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
            inside = (s_along > sa) & (s_along < sb)
            shape = np.sin(np.pi * (s_along[inside] - sa) / (sb - sa)) ** 2
            a, b = pts[:-1], pts[1:]
            m = len(a)
            for frac in (1.0, 0.8, 0.6, 0.4, 0.2):
                rs = r0 + (rs_full - r0) * frac
                if rs - r0 < 0.1:
                    break
                radii = np.full(len(pts), r0)
                radii[inside] = r0 + (rs - r0) * shape
                rseg = np.maximum(radii[:-1], radii[1:])
                if not self.env.inside(pts).all():
                    break
                bad = self.space.violations(a, b, rseg, np.full(m, br), pts[:-1], np.full(m, 1e9),
                                            np.ones(m, dtype=bool))
                if not bad.any():
                    self.rad[chunk] = radii
                    self.space.set_radius(seg, rseg)
                    break

    # ----------------------------------------------------------------- branching
    def split(self, b: int) -> bool:
        """Try to give branch ``b`` two children; False leaves it a tip."""
        p, rng = self.p, self.rng
        r0 = self.br_r[b]
        rmin = p.min_radius_mm
        lo = max(p.child_radius_fraction[0], rmin / r0)
        hi = p.child_radius_fraction[1]
        if r0 > rmin:
            hi = min(hi, murray_sibling(rmin / r0, p.murray_exponent))
        else:
            return False
        if lo > hi:
            return False
        f1 = rng.uniform(lo, hi)
        for length_factor in (1.0, 0.6, 0.35):
            if self._try_split(b, f1, length_factor):
                return True
        return False

    def _try_split(self, b: int, f1: float, length_factor: float) -> bool:
        """One round of candidate placements for the children of ``b``; True if one fitted.

        All candidates are drawn at once; the ones inside the envelope are
        ranked by cost and checked for clearance best-first (in two batches),
        so the usual case checks a single pair.
        """
        p, rng = self.p, self.rng
        r0 = self.br_r[b]
        f2 = float(murray_sibling(f1, p.murray_exponent))
        a1, a2 = (float(x) for x in murray_angles_deg(f1, f2))
        system = self.br_sys[b]
        J = self.br_end[b]
        T = self.br_tan[b]
        K = p.candidates
        amin, amax = np.radians(p.angle_range_deg)
        jit = math.radians(p.angle_jitter_deg)
        th1 = np.clip(math.radians(a1) + rng.normal(0.0, jit, K), amin, amax)
        th2 = np.clip(math.radians(a2) + rng.normal(0.0, jit, K), amin, amax)
        phi = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(K) / K + rng.uniform(-np.pi / K, np.pi / K, K)
        u, v = _perp_basis(T)
        w = np.cos(phi)[:, None] * u + np.sin(phi)[:, None] * v
        d = np.vstack([np.cos(th1)[:, None] * T + np.sin(th1)[:, None] * w,
                       np.cos(th2)[:, None] * T - np.sin(th2)[:, None] * w])
        radius = np.concatenate([np.full(K, f1 * r0), np.full(K, f2 * r0)])
        ex = p.junction_exempt_factor * r0 + self.clearance
        rel = radius / self.main_radius[system]
        length = self.length_scale * rel ** p.length_exponent * rng.uniform(*p.length_jitter, 2 * K)
        if self.br_gen[b] >= 1:
            lp = self.br_len[b]
            length = np.clip(length, p.child_length_fraction[0] * lp, p.child_length_fraction[1] * lp)
        length = np.maximum(length * length_factor, max(p.min_segment_mm, ex + 0.2))
        # bends: toward the lobe's preferred direction, mixed with a random direction
        pref = self.pref_dir(system, J[None])[0]
        toward = d @ pref
        toward = pref[None, :] - toward[:, None] * d
        rnd = rng.normal(size=d.shape)
        rnd = _unit(rnd - (rnd * d).sum(1, keepdims=True) * d)
        tn = np.sqrt((toward * toward).sum(1, keepdims=True))
        bend = _unit(p.tropism * toward / np.maximum(tn, 1e-9) * np.minimum(1.0, 3 * tn) + (1 - p.tropism) * rnd)
        turn = np.radians(rng.uniform(*p.arc_turn_deg, 2 * K))
        start = np.broadcast_to(J, d.shape)
        pts, owner, m, tan_end = _arcs(start, d, bend, turn, length, p.step_mm)
        first = np.cumsum(m) - m
        inside = np.bincount(owner, weights=~self.env.inside(pts), minlength=2 * K) == 0
        cand_ok = inside[:K] & inside[K:]
        if not cand_ok.any():
            return False
        # cost: misalignment with the lobe + crowding at the two ends
        ends = pts[first + m - 1]
        dir_cost = 1.0 - (tan_end * self.pref_dir(system, ends)).sum(1)
        own, other = self._crowding(system, ends)
        norm = self.cell ** 3 / 50.0
        cost = p.cost_direction * dir_cost + (p.cost_density_own * own + p.cost_density_other * other) / norm
        cost = cost[:K] + cost[K:]
        order = [int(k) for k in np.argsort(cost, kind="stable") if cand_ok[k]]
        a = np.empty_like(pts)
        a[1:] = pts[:-1]
        a[first] = J
        rseg = radius[owner]
        rseg[first] = r0  # the segment leaving the junction tapers from the parent's radius
        ex2 = ex * ex
        in_ball = (((a - J) ** 2).sum(1) <= ex2) & (((pts - J) ** 2).sum(1) <= ex2)
        for batch in (order[:1], order[1:3], order[3:]):
            if not batch:
                continue
            k = self._first_clear(batch, K, owner, a, pts, rseg, b, J, ex, in_ball)
            if k is not None:
                self._commit(b, k, K, first, m, pts, a, rseg, radius, tan_end, length, system)
                return True
        return False

    def _first_clear(self, batch: list[int], K: int, owner: np.ndarray, a: np.ndarray, pts: np.ndarray,
                     rseg: np.ndarray, b: int, J: np.ndarray, ex: float, in_ball: np.ndarray) -> int | None:
        """The first candidate of ``batch`` (best first) whose two children clear everything."""
        kids = np.zeros(2 * K, dtype=bool)
        kids[batch] = True
        kids[[k + K for k in batch]] = True
        sel = np.flatnonzero(kids[owner])
        n = len(sel)
        bad = self.space.violations(a[sel], pts[sel], rseg[sel], np.full(n, b), np.broadcast_to(J, (n, 3)),
                                    np.full(n, ex), in_ball[sel])
        bad_child = np.bincount(owner[sel], weights=bad, minlength=2 * K) > 0
        for k in batch:
            if bad_child[k] or bad_child[k + K]:
                continue
            # the two siblings must clear each other away from the junction
            i1 = np.flatnonzero((owner == k) & ~in_ball)
            i2 = np.flatnonzero((owner == k + K) & ~in_ball)
            if len(i1) and len(i2):
                ii = np.repeat(i1, len(i2))
                jj = np.tile(i2, len(i1))
                dist = segment_distance(a[ii], pts[ii], a[jj], pts[jj])
                if np.any(dist < rseg[ii] + rseg[jj] + self.clearance):
                    continue
            return k
        return None

    def _commit(self, b: int, k: int, K: int, first: np.ndarray, m: np.ndarray, pts: np.ndarray, a: np.ndarray,
                rseg: np.ndarray, radius: np.ndarray, tan_end: np.ndarray, length: np.ndarray,
                system: int) -> None:
        gen = self.br_gen[b] + 1
        parent_node = self.br_end_node[b]
        for c in (k, K + k):
            sl = slice(first[c], first[c] + m[c])
            cp = pts[sl]
            idx = self._add_nodes(cp, np.full(m[c], radius[c]), parent_node, system)
            br = self._add_branch(int(idx[-1]), cp[-1].copy(), tan_end[c], float(radius[c]), gen,
                                  float(length[c]), system)
            self.space.add(a[sl], cp, rseg[sl], br)
            self._crowd_add(system, a[sl], cp)

    def _extend(self, b: int, mm: float) -> bool:
        """Run branch ``b`` on straight along its end tangent by ``mm``; False if it does not fit."""
        J, T, r = self.br_end[b], self.br_tan[b], self.br_r[b]
        m = max(2, int(math.ceil(mm / self.p.step_mm)))
        pts = J + np.outer(np.arange(1, m + 1) * (mm / m), T)
        if not self.env.inside(pts).all():
            return False
        a = np.vstack([J[None], pts[:-1]])
        rseg = np.full(m, r)
        bad = self.space.violations(a, pts, rseg, np.full(m, b), np.broadcast_to(J, (m, 3)), np.full(m, 1e9),
                                    np.ones(m, dtype=bool))
        if bad.any():
            return False
        system = self.br_sys[b]
        idx = self._add_nodes(pts, rseg.copy(), self.br_end_node[b], system)
        self.space.add(a, pts, rseg, b)
        self._crowd_add(system, a, pts)
        self.br_end_node[b] = int(idx[-1])
        self.br_end[b] = pts[-1].copy()
        self.br_len[b] += mm
        return True

    def grow(self) -> None:
        while self.heap:
            _, _, b = heapq.heappop(self.heap)
            s = self.br_sys[b]
            if self.count[s] + 2 > self.budget:
                continue
            if self.max_generation is not None and self.br_gen[b] + 1 > self.max_generation:
                continue
            if not self.split(b) and self.br_gen[b] == 0:
                # A main duct hemmed in by its neighbours inside the nipple: run it on a few mm
                # (the ducts diverge with depth) and try again.
                if self.br_len[b] + 3.0 <= self.p.first_branch_clamp_mm[1] + 3.0 and self._extend(b, 3.0):
                    heapq.heappush(self.heap, (-self.br_r[b] / self.main_radius[self.br_sys[b]], self.tick, b))
                    self.tick += 1

    # ----------------------------------------------------------------- output
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (np.vstack(self.pos), np.concatenate(self.rad), np.concatenate(self.par),
                np.concatenate(self.sysid))


def generate_tree(
    seed: int = 0,
    systems: int = 6,
    branches: int = 60,
    *,
    laterality: str = "R",
    breast_depth_mm: float = 100.0,
    sinus: bool = True,
    clearance_mm: float = 0.3,
    max_generation: int | None = None,
    params: PhantomParams | None = None,
) -> DuctTree:
    """Grow a phantom ductal tree (a forest of duct systems) in the breast frame, mm.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same arguments give the identical tree.
    systems : int
        Number of duct systems (orifices on the nipple), 1-20.
    branches : int
        Target number of branches *per system* (root branch included); a
        system ends with fewer when its ducts reach the minimum radius (a thin
        main duct allows fewer generations) or run out of room.
    laterality : {"R", "L"}
        Breast side. The left breast is the mirror image (x -> -x) of the right.
    breast_depth_mm : float
        Nipple-to-chest-wall distance; the envelope and the lengths scale with it.
    sinus : bool
        Give main ducts a lactiferous sinus (a 2-4 mm wide dilation).
    clearance_mm : float
        Minimum surface gap between ducts that do not meet at a junction.
    max_generation : int, optional
        Deepest branch generation (0 = the main duct); overrides ``params``.
    params : PhantomParams, optional
        All other constants (defaults follow DOMAIN.md §2).

    Returns
    -------
    DuctTree
        Node attributes ``pos``, ``radius``, ``system``; roots carry
        ``orifice_clock`` and ``lobe_clock``; graph attributes ``laterality``,
        ``source = "phantom"``, ``phantom_seed``, ``breast_depth_mm``.

    Examples
    --------
    >>> tree = generate_tree(seed=1, systems=2, branches=9)
    >>> len(tree.roots()), tree.laterality
    (2, 'R')
    """
    params = (params or PhantomParams()).check()
    lat = parse_laterality(laterality)
    for name, value, lo, hi in (("systems", systems, 1, 20), ("branches", branches, 1, 5000)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
            raise InputError(f"must be an integer in {lo}..{hi}, got {value!r}", key=name)
    if not (isinstance(breast_depth_mm, (int, float, np.integer, np.floating))
            and math.isfinite(breast_depth_mm) and 30.0 <= breast_depth_mm <= 300.0):
        raise InputError(f"must be between 30 and 300 mm, got {breast_depth_mm!r}", key="breast_depth_mm")
    if not (math.isfinite(clearance_mm) and 0.0 <= clearance_mm <= 5.0):
        raise InputError(f"must be between 0 and 5 mm, got {clearance_mm!r}", key="clearance_mm")
    if max_generation is None:
        max_generation = params.max_generation
    if max_generation is not None and (not isinstance(max_generation, (int, np.integer)) or max_generation < 0):
        raise InputError(f"must be an integer >= 0, got {max_generation!r}", key="max_generation")
    rng = np.random.default_rng(int(seed))
    g = _Grower(rng, params, int(systems), int(branches), float(breast_depth_mm), bool(sinus),
                float(clearance_mm), max_generation)
    g.layout_systems()
    g.place_roots()
    g.grow()
    pos, rad, par, sysid = g.arrays()
    orifice_clock = {s: normalize_hours(g.orifice_clock[s]) for s in range(systems)}
    lobe_clock = {s: normalize_hours(g.lobe_clock[s]) for s in range(systems)}
    if lat == "L":
        pos = pos * np.array([-1.0, 1.0, 1.0])
        orifice_clock = {s: _mirror_clock(h) for s, h in orifice_clock.items()}
        lobe_clock = {s: _mirror_clock(h) for s, h in lobe_clock.items()}
    tree = DuctTree.from_arrays(pos, rad, par, sysid, laterality=lat, orifice_clock=orifice_clock)
    for r in tree.roots():
        tree.nodes[r]["lobe_clock"] = lobe_clock[tree.nodes[r]["system"]]
    tree.graph.update(source="phantom", phantom_seed=int(seed), breast_depth_mm=float(breast_depth_mm))
    return tree


def _mirror_clock(hours: float) -> float:
    """Clock hours of the mirror image x -> -x, in (0, 12]."""
    h = math.fmod(12.0 - float(hours), 12.0)
    return 12.0 if h <= 0 else h
