"""DuctTree -> model: one closed body per duct system, plus lesions, context and a base plate.

:func:`tree_to_mesh` is the entry point (re-exported by :mod:`ductree.mesh`).
Systems are meshed independently (in threads: manifold3d releases the GIL),
each as the union of its swept tubes, then cleaned so that no two vertices
can weld when written as float32 (STL).
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from .bodies import (CONTEXT_COLOR, LESION_COLOR, PLATE_COLOR, Body, ModelBodies, NippleAreola, as_lesion_shapes,
                     base_plate as make_base_plate, lesion_body, nipple_areola_body,
                     system_color)
from .surface import clean_arrays, manifold_arrays, system_parts, to_manifold, union
from .tubes import QUALITIES, Tolerance

ENDS = ("round", "flat")


def _check_number(value: Any, name: str, *, positive: bool = True, allow_zero: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"must be a number, got {value!r}", key=name) from None
    if not math.isfinite(x) or (positive and (x < 0 or (x == 0 and not allow_zero))):
        raise InputError(f"must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}", key=name)
    return x


def resolve_tolerance(quality: str | Tolerance = "print", tolerance_mm: float | None = None) -> Tolerance:
    """The :class:`Tolerance` of a quality name (or a Tolerance itself), or a uniform one of ``tolerance_mm`` (mm)."""
    if isinstance(quality, Tolerance):
        return quality if tolerance_mm is None else Tolerance(0.0, _check_number(tolerance_mm, "tolerance_mm"),
                                                            quality.min_sides)
    if quality not in QUALITIES:
        raise InputError(f"unknown quality {quality!r}; choose one of {', '.join(QUALITIES)}", key="quality")
    tol = QUALITIES[quality]
    if tolerance_mm is not None:
        t = _check_number(tolerance_mm, "tolerance_mm")
        tol = Tolerance(0.0, t, tol.min_sides)
    return tol


def _system_arrays(tree, system: int, min_radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.flatnonzero(tree.system_ids == system)
    local = np.full(len(tree.radii), -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    par = tree.parent_index[rows]
    par = np.where(par >= 0, local[np.maximum(par, 0)], -1)
    rad = np.maximum(np.asarray(tree.radii[rows], dtype=float), min_radius)
    return np.asarray(tree.positions[rows], dtype=float), rad, par


def _extend_free_ends(pos: np.ndarray, rad: np.ndarray, par: np.ndarray, wall: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add a node beyond every tip and before the root so a lumen cut with them opens at the ends.

    The lumen is cut with flat ends, and each extension is just long enough
    for it to leave the shell: past the farthest point, along the exit ray,
    of the shell's node spheres (radius r + wall) that lie across the lumen
    there (the end's own sphere, and any other node sphere it crosses near
    the end), so the opening does not reach far into neighbouring ducts.
    """
    n = len(rad)
    has_kids = np.zeros(n, bool)
    has_kids[par[par >= 0]] = True
    tips = np.flatnonzero(~has_kids & (par >= 0))
    d = pos[tips] - pos[par[tips]]
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    root = int(np.flatnonzero(par < 0)[0])
    kids = np.flatnonzero(par == root)
    dr = (pos[kids] - pos[root]).mean(axis=0) if len(kids) else np.array([0.0, 1.0, 0.0])
    dr /= max(np.linalg.norm(dr), 1e-12)
    ends = np.concatenate([tips, [root]])
    out = np.vstack([d, -dr[None]])

    def reach(e: int, u: np.ndarray) -> float:
        rel = pos - pos[e]
        along = rel @ u
        perp = np.linalg.norm(rel - along[:, None] * u, axis=1)
        R = rad + wall
        near = (perp < R + rad[e]) & (np.linalg.norm(rel, axis=1) < 2.0 * (rad[e] + wall) + R)
        far = float(np.max(along[near] + R[near])) if np.any(near) else rad[e] + wall
        return 1.05 * max(far, rad[e] + wall) + 0.02

    lengths = np.array([reach(int(e), u) for e, u in zip(ends, out)])
    tip_pos = pos[tips] + d * lengths[:-1, None]
    new_root = pos[root] - dr * lengths[-1]
    # Prepend the new root (rows stay parents-first), append the tip extensions.
    P = np.vstack([new_root[None], pos, tip_pos])
    R = np.concatenate([[rad[root]], rad, rad[tips]])
    parent = np.concatenate([[-1], np.where(par >= 0, par + 1, 0), tips + 1])
    return P, R, parent


class _SystemJob:
    """Arrays and tube parts of one system (outer surface and, when hollow, the lumen)."""

    def __init__(self, tree, system: int, min_radius: float, hollow: float | None, ends: str) -> None:
        self.system = system
        self.ends = ends
        pos, rad, par = _system_arrays(tree, system, min_radius)
        self.pos, self.rad, self.par = pos, rad, par
        self.hollow = hollow
        self.outer = (pos, rad + (hollow or 0.0), par)
        # Anastomoses (loop-closing edges) starting in this system: each one more round cone.
        idx = tree.index
        self.loops = []
        for u, v in tree.anastomoses():
            if int(tree.nodes[u]["system"]) == system:
                a, b = idx[u], idx[v]
                ra = max(float(tree.radii[a]), min_radius) + (hollow or 0.0)
                rb = max(float(tree.radii[b]), min_radius) + (hollow or 0.0)
                self.loops.append((tree.positions[a].copy(), tree.positions[b].copy(), ra, rb))
        self.inner = _extend_free_ends(pos, rad, par, hollow) if hollow else None
        self.parts = None
        self.inner_parts = None

    def plan(self, tol: Tolerance) -> int:
        self.parts = system_parts(*self.outer, tol, ends=self.ends)
        for a, b, ra, rb in self.loops:
            if np.linalg.norm(b - a) > 0:
                extra = system_parts(np.stack([a, b]), np.array([ra, rb]), np.array([-1, 0]), tol)
                self.parts.meshes.extend(extra.meshes)
        tri = self.parts.triangles
        if self.inner is not None:
            self.inner_parts = system_parts(*self.inner, tol, ends="flat")
            tri += self.inner_parts.triangles
        return tri

    def build(self):
        man = union([to_manifold(v, f) for v, f in self.parts.meshes])
        self.dropped = []
        if self.inner_parts is not None:
            lumen = union([to_manifold(v, f) for v, f in self.inner_parts.meshes])
            man = man - lumen
            pieces = man.decompose()
            if len(pieces) > 1:
                # An end's opening that crosses a neighbouring duct cuts a sliver off it: keep the shell.
                pieces.sort(key=lambda m: -m.volume())
                self.dropped = [p.volume() for p in pieces[1:]]
                man = pieces[0]
        man.num_tri()  # manifold3d is lazy: force the boolean here, in the worker thread
        return man

    def build_arrays(self) -> tuple:
        """The union (Manifold) and its cleaned (vertices, faces), computed in the calling thread."""
        man = self.build()
        return man, clean_arrays(*manifold_arrays(man))


def _fit_tolerance(jobs: list[_SystemJob], tol: Tolerance, target: int) -> tuple[Tolerance, int]:
    """The finest coarsening of ``tol`` whose tubes have at most ``target`` triangles (before the union).

    Bisection on a log scale of the tolerance factor; when even a very coarse
    tolerance does not fit, fewer sides per ring are allowed (down to 3).
    Returns the tolerance and its triangle count (the jobs are left planned with it).
    """
    def count(t: Tolerance) -> int:
        return sum(j.plan(t) for j in jobs)

    c = count(tol)
    if c <= target:
        return tol, c
    hi = tol
    for min_sides in range(tol.min_sides, 2, -1):
        hi = Tolerance(tol.rel * 1e3, tol.abs_mm * 1e3, min_sides)
        if count(hi) <= target:
            break
    else:
        return hi, count(hi)
    lo_f, hi_f = 1.0, 1e3
    lo_t = Tolerance(tol.rel, tol.abs_mm, hi.min_sides)
    if count(lo_t) <= target:
        return lo_t, count(lo_t)
    for _ in range(14):
        mid = math.sqrt(lo_f * hi_f)
        if count(lo_t.scaled(mid)) <= target:
            hi_f = mid
        else:
            lo_f = mid
        if hi_f / lo_f < 1.1:
            break
    best = lo_t.scaled(hi_f)
    return best, count(best)


def _segment_closest(p1, q1, p2, q2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise closest points of segments p1-q1 and p2-q2: (distance, s, t) with s, t in [0, 1]."""
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = np.einsum("ij,ij->i", d1, d1)
    e = np.einsum("ij,ij->i", d2, d2)
    f = np.einsum("ij,ij->i", d2, r)
    c = np.einsum("ij,ij->i", d1, r)
    b = np.einsum("ij,ij->i", d1, d2)
    denom = a * e - b * b
    safe_a = np.where(a > 1e-300, a, 1.0)
    safe_e = np.where(e > 1e-300, e, 1.0)
    s = np.where(denom > 1e-12 * np.maximum(a * e, 1e-300), np.clip((b * f - c * e) / np.where(denom > 0, denom, 1.0), 0, 1), 0.0)
    t = (b * s + f) / safe_e
    # clamp t and recompute s where needed
    t_lo, t_hi = t < 0, t > 1
    t = np.clip(t, 0.0, 1.0)
    s = np.where(t_lo, np.clip(-c / safe_a, 0, 1), np.where(t_hi, np.clip((b - c) / safe_a, 0, 1), s))
    s = np.where(a > 1e-300, s, 0.0)
    t = np.where(e > 1e-300, t, 0.0)
    dist = np.linalg.norm((p1 + d1 * s[:, None]) - (p2 + d2 * t[:, None]), axis=1)
    return dist, s, t


def _overlapping_systems(tree, systems: Sequence[int], min_radius: float) -> list[tuple[int, int, np.ndarray]]:
    """Pairs of systems whose ideal surfaces overlap (capsule test on every pair of nearby segments).

    Returns ``(system a, system b, BF point)`` for each overlapping pair, the
    point being the middle of the deepest overlap found.
    """
    from scipy.spatial import cKDTree

    pos, par, sysid = tree.positions, tree.parent_index, tree.system_ids
    rad = np.maximum(np.asarray(tree.radii, float), min_radius)
    child = np.flatnonzero((par >= 0) & np.isin(sysid, list(systems)))
    if len(child) == 0 or len(set(sysid[child].tolist())) < 2:
        return []
    a, b = pos[par[child]], pos[child]
    ra, rb = rad[par[child]], rad[child]
    ss = sysid[child]
    mid = 0.5 * (a + b)
    reach = 0.5 * np.linalg.norm(b - a, axis=1) + np.maximum(ra, rb)
    pairs = cKDTree(mid).query_pairs(2.0 * float(reach.max()), output_type="ndarray")
    if not len(pairs):
        return []
    i, j = pairs[:, 0], pairs[:, 1]
    keep = (ss[i] != ss[j]) & (np.linalg.norm(mid[i] - mid[j], axis=1) < reach[i] + reach[j])
    i, j = i[keep], j[keep]
    if not len(i):
        return []
    dist, s, t = _segment_closest(a[i], b[i], a[j], b[j])
    depth = dist - (ra[i] + (rb[i] - ra[i]) * s) - (ra[j] + (rb[j] - ra[j]) * t)
    hit = depth < -1e-3
    found: dict[tuple[int, int], tuple[float, np.ndarray]] = {}
    for k in np.flatnonzero(hit):
        key = (int(min(ss[i[k]], ss[j[k]])), int(max(ss[i[k]], ss[j[k]])))
        if key not in found or depth[k] < found[key][0]:
            p = 0.5 * (a[i[k]] + (b[i[k]] - a[i[k]]) * s[k] + a[j[k]] + (b[j[k]] - a[j[k]]) * t[k])
            found[key] = (float(depth[k]), p)
    return [(k[0], k[1], v[1]) for k, v in sorted(found.items())]


def tree_to_mesh(
    tree,
    *,
    quality: str | Tolerance = "print",
    tolerance_mm: float | None = None,
    max_triangles: int | None = None,
    min_radius_mm: float | None = None,
    end: str = "round",
    systems: Sequence[int] | None = None,
    hollow_mm: float | None = None,
    lesions: Sequence[Any] | None = None,
    base_plate: bool = False,
    context: bool | NippleAreola = False,
    workers: int | None = None,
) -> ModelBodies:
    """Mesh a ductal tree: one closed, manifold, outward body per duct system (BF mm).

    Parameters
    ----------
    tree : DuctTree
        The tree (validated first: an empty tree, a radius <= 0 or a
        non-finite position raises :class:`~ductree.errors.InputError`).
    quality : {"print", "draft"} or Tolerance
        ``"print"`` keeps every surface point within ``max(5 % of the local
        radius, 0.02 mm)`` of the ideal surface (the union of round cones);
        ``"draft"`` within ``max(15 %, 0.05 mm)``, for viewers; or any
        :class:`~ductree.mesh.tubes.Tolerance`.
    tolerance_mm : float, optional
        A uniform tolerance (mm) instead of the quality's.
    max_triangles : int, optional
        Coarsen the tolerance until the model has at most this many triangles
        (lesions, context and plate not counted).
    min_radius_mm : float, optional
        Thicken ducts thinner than this (mm) so they print.
    end : {"round", "flat"}
        Free ends (tips and orifices) rounded (the node sphere) or cut flat.
    systems : sequence of int, optional
        Mesh only these duct systems.
    hollow_mm : float, optional
        Wall thickness (mm): each system becomes a shell whose lumen is the
        duct, open at the orifice and at every tip.
    lesions : sequence, optional
        Lesions as ``(label, point_bf, size_mm)`` tuples, dicts or objects
        (see :func:`ductree.mesh.bodies.as_lesion_shapes`); each becomes a
        separate red body (sphere, or ellipsoid for three diameters).
    base_plate : bool
        Join all systems with a disc on the nipple face into one printable
        body (``kind="print"``).
    context : bool or NippleAreola
        Add the nipple–areola skin shell as a context body.
    workers : int, optional
        Threads for meshing systems in parallel (default: CPU count).

    Returns
    -------
    ModelBodies
        Bodies in order: systems (or the joined print), lesions, context.

    Examples
    --------
    >>> from ductree.tree import DuctTree
    >>> t = DuctTree.from_arrays([[0, 0, 0], [0, 8, 0], [2, 14, 0], [-2, 13, 1]],
    ...                          [1.0, 0.9, 0.6, 0.4], [-1, 0, 1, 1], laterality="R")
    >>> model = tree_to_mesh(t, quality="draft")
    >>> [b.name for b in model], model[0].mesh.is_watertight
    (['system 0'], True)
    """
    from ..tree import ensure_tree

    t0 = time.perf_counter()
    tree = ensure_tree(tree)
    tree.validate()
    tol = resolve_tolerance(quality, tolerance_mm)
    # Lesions and the plate keep the requested tolerance (a triangle budget only coarsens the ducts).
    tol_abs = max(float(tol.abs_mm), 0.02)
    if end not in ENDS:
        raise InputError(f"unknown end style {end!r}; choose round or flat", key="end")
    min_r = 0.0 if min_radius_mm is None else _check_number(min_radius_mm, "min_radius_mm", allow_zero=True)
    hollow = None if hollow_mm is None else _check_number(hollow_mm, "hollow_mm")
    if max_triangles is not None:
        if isinstance(max_triangles, bool) or int(max_triangles) != max_triangles or max_triangles < 100:
            raise InputError(f"must be an integer >= 100, got {max_triangles!r}", key="max_triangles")
        max_triangles = int(max_triangles)
    all_systems = tree.systems()
    if systems is None:
        chosen = all_systems
    else:
        chosen = sorted({int(s) for s in systems})
        missing = [s for s in chosen if s not in all_systems]
        if missing:
            raise InputError(f"no duct system {missing[0]}; systems are {all_systems}", key="systems")
        if not chosen:
            raise InputError("no systems chosen", key="systems")
    shapes, warnings = as_lesion_shapes(lesions or [])

    jobs = [_SystemJob(tree, s, min_r, hollow, end) for s in chosen]
    nworkers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))

    def build_all() -> list:
        if nworkers > 1:
            with ThreadPoolExecutor(nworkers) as ex:
                return list(ex.map(lambda j: j.build_arrays(), jobs))
        return [j.build_arrays() for j in jobs]

    t_union = 0.0
    if max_triangles is None:
        for j in jobs:
            j.plan(tol)
        t_plan = time.perf_counter()
        built = build_all()
    else:
        # The union adds triangles where tubes cut each other: aim below the budget, then correct.
        target = int(0.9 * max_triangles)
        for _ in range(4):
            tol, planned = _fit_tolerance(jobs, tol, target)
            t_plan = time.perf_counter()
            built = build_all()
            final = sum(len(f) for _, (_, f) in built)
            if final <= max_triangles or planned > target:
                break
            target = int(target * max_triangles / final * 0.97)
        if final > max_triangles:
            warnings.append(f"could not meet the budget of {max_triangles} triangles: the coarsest mesh "
                            f"has {final}")
    t_union = time.perf_counter()

    for a, b, where in _overlapping_systems(tree, chosen, min_r + (hollow or 0.0)):
        warnings.append(f"systems {a} and {b} overlap near BF ({where[0]:.1f}, {where[1]:.1f}, {where[2]:.1f}) mm; "
                        "their bodies intersect")

    for job in jobs:
        if getattr(job, "dropped", None):
            warnings.append(f"system {job.system}: hollow: {len(job.dropped)} piece(s) of "
                            f"{sum(job.dropped):.3g} mm^3 cut off by a duct end's opening were left out")
    if hollow is None:
        for job, (man, _) in zip(jobs, built):
            g = int(man.genus())
            if g > len(job.loops):  # each anastomosis closes one loop: one handle expected per loop
                warnings.append(f"system {job.system}: the surface has {g - len(job.loops)} handle(s) more than its "
                                "anastomoses make: ducts of this system touch or overlap (in the tree, or because "
                                "the tolerance is coarse)")
    model = ModelBodies(warnings=warnings)
    if base_plate:
        roots = [tree.root_of_system(s) for s in chosen]
        idx = [tree.index[r] for r in roots]
        plate = make_base_plate(tree.positions[idx], np.maximum(tree.radii[idx], min_r) + (hollow or 0.0),
                                tolerance_mm=tol_abs)
        joined = union([m for m, _ in built] + [plate])
        model.bodies.append(_body_from_manifold("print", "print", joined, PLATE_COLOR,
                                                {"systems": list(chosen)}))
    else:
        for s, (man, arrays) in zip(chosen, built):
            model.bodies.append(_body_from_manifold(f"system {s}", "system", man, system_color(s), {"system": s},
                                                    arrays=arrays))
    for shape in shapes:
        man = lesion_body(shape, tolerance_mm=tol_abs)
        model.bodies.append(_body_from_manifold(f"lesion {shape.label}", "lesion", man, LESION_COLOR,
                                                {"label": shape.label, "size_mm": shape.size_mm,
                                                 "center_mm": list(shape.center_mm), "kind": shape.kind}))
    if context:
        params = context if isinstance(context, NippleAreola) else NippleAreola()
        model.bodies.append(_body_from_manifold("nipple-areola", "context", nipple_areola_body(params),
                                                CONTEXT_COLOR, {}))
    model.info = {
        "quality": quality if isinstance(quality, str) else "custom", "tolerance": {"rel": tol.rel, "abs_mm": tol.abs_mm}, "end": end,
        "min_radius_mm": min_r or None, "hollow_mm": hollow, "systems": list(chosen),
        "laterality": tree.laterality, "triangles": model.triangles,
        "seconds": {"plan": round(t_plan - t0, 3), "union": round(t_union - t_plan, 3),
                    "total": round(time.perf_counter() - t0, 3)},
    }
    return model


def _body_from_manifold(name: str, kind: str, man, color, meta: dict, arrays: tuple | None = None) -> Body:
    import trimesh

    v, f = arrays if arrays is not None else clean_arrays(*manifold_arrays(man))
    mesh = trimesh.Trimesh(v, f, process=False)
    meta = dict(meta)
    meta["genus"] = int(man.genus())
    return Body(name, kind, mesh, tuple(int(c) for c in color), meta)


def write_model(tree, path, *, space: str = "BF", nipple_lps: Sequence[float] | None = None, scale: float = 1.0,
                **options: Any) -> ModelBodies:
    """Mesh ``tree`` (``options`` as for :func:`tree_to_mesh`), write it to ``path`` and check the file.

    The export options are checked before any meshing; the written file is
    read back and must give the same number of closed, manifold bodies
    (else ``RuntimeError``). Returns the model. This is what ``ductree demo``
    calls for its printable model, e.g.
    ``write_model(tree, out / "model.3mf", quality="draft", base_plate=True, lesions=lesions)``.
    """
    from ..atomic import check_output_path
    from .export import export_model, model_format, placement, read_model
    from .quality import check_watertight

    model_format(path)
    check_output_path(path)
    placement(space, nipple_lps=nipple_lps, scale=scale)
    model = tree_to_mesh(tree, **options)
    export_model(model, path, space=space, nipple_lps=nipple_lps, scale=scale)
    back = read_model(path)
    if len(back) != len(model) or not all(check_watertight(b.mesh, expect_bodies=1).ok for b in back):
        raise RuntimeError(f"{path} did not read back as {len(model)} closed, manifold bodies")
    return model
