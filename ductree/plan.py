"""The excision plan: what a targeted excision of a located lesion takes out, and what it spares.

Per duct system holding one or more located lesions (:func:`plan_excision`),
in the breast frame (BF, mm):

- **involved duct** — the path from the system's orifice to each lesion;
- **distal subtree** — every branch fed through the lesion's segment. A
  targeted excision cuts the duct at the lesion, so these ducts are lost with
  it (counted as removed in the spared fractions), although the envelope
  below does not chase them into the breast;
- **excision envelope** — a sphere per lesion (radius ``size/2 + margin``)
  joined to a corridor along the involved path from the orifice (capsules of
  radius ``duct radius + margin``, the larger end's radius per segment). Its
  volume (mL) is integrated on a voxel grid with partial-volume weights
  (signed distance ramp across each boundary voxel), accurate to well under
  1% of the analytic value on simple shapes;
- **spared** — fractions of the whole tree's length, terminal branches and
  systems removed and kept;
- **central (Hadfield) excision** — whether a central excision
  ``central_excision_mm`` deep behind the nipple would reach the lesion (with
  its margin) and its subtree, and by how many mm it would fall short;
- **incision** — periareolar, on the areolar border (radius
  :data:`ductree.frame.AREOLA_RADIUS_MM`, plane ``y = 0``), centred on the
  clock of the *course of the involved duct*: the mean coronal direction of
  the involved path sampled every mm from orifice to lesion (falling back to
  the lesion's clock, then the orifice clock, when the path runs straight
  back along the nipple axis); the arc covers the duct's angular spread plus
  15 degrees on each side, between 60 and 90 degrees;
- **wire targets** — each lesion's centre (the localisation wire's tip) and
  its depth.

Anastomosis edges are ignored (the plan follows the primary spanning tree).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .errors import InputError
from .frame import AREOLA_RADIUS_MM, clock_difference_h, clock_to_direction, direction_to_clock, format_clock, orifice_text
from .lesions import LocatedLesion, _plain, fmt_xyz, place_lesions, subtree_rows
from .measures import child_count, segment_length
from .tree import DuctTree

if TYPE_CHECKING:
    from .case import Case

SCHEMA = "ductree.plan/1"
#: Lesion diameter assumed when a spec gives no size_mm (mm).
DEFAULT_LESION_SIZE_MM = 5.0
DEFAULT_MARGIN_MM = 5.0
DEFAULT_CENTRAL_EXCISION_MM = 30.0
#: The periareolar incision's arc: the duct's angular spread plus this on each side, clamped.
INCISION_PAD_DEG = 15.0
INCISION_MIN_DEG = 60.0
INCISION_MAX_DEG = 90.0
#: Voxels per smallest envelope radius, and the cap on grid size, for the volume integral.
VOXELS_PER_RADIUS = 12
MAX_VOXELS = 8_000_000


# --------------------------------------------------------------------------- envelope geometry

@dataclass
class Envelope:
    """Union of spheres and capsules (BF mm) and its volume.

    ``spheres``: ``[{"center": [x, y, z], "radius_mm": r, "label": ...}]``;
    ``capsules``: ``[{"a": [...], "b": [...], "radius_mm": r}]`` (a segment
    swept by a ball).
    """

    spheres: list[dict]
    capsules: list[dict]
    margin_mm: float
    volume_ml: float
    voxel_mm: float

    def as_dict(self) -> dict:
        return _plain(asdict(self))


def envelope_volume_mm3(spheres: Sequence[tuple[Sequence[float], float]],
                        capsules: Sequence[tuple[Sequence[float], Sequence[float], float]],
                        *, voxel_mm: float | None = None) -> tuple[float, float]:
    """Volume (mm^3) of a union of spheres ``(center, r)`` and capsules ``(a, b, r)``, BF mm.

    Integrated on a regular grid with partial-volume weights: each voxel
    counts ``clip(0.5 - sd / h, 0, 1)`` of its volume, ``sd`` being the
    union's signed distance bound (``min`` over primitives). Returns
    ``(volume_mm3, voxel_mm)``. The default voxel is a twelfth of the
    smallest radius (coarsened if the grid would exceed :data:`MAX_VOXELS`).

    Examples
    --------
    >>> v, h = envelope_volume_mm3([((0, 0, 0), 5.0)], [])
    >>> abs(v / (4 / 3 * math.pi * 125) - 1) < 0.01
    True
    """
    prims = [("s", np.asarray(c, float), np.asarray(c, float), float(r)) for c, r in spheres]
    prims += [("c", np.asarray(a, float), np.asarray(b, float), float(r)) for a, b, r in capsules]
    if not prims:
        return 0.0, 0.0
    if any(not p[3] > 0 for p in prims):
        raise InputError("envelope radii must be > 0 mm", key="radius_mm")
    lo = np.min([np.minimum(p[1], p[2]) - p[3] for p in prims], axis=0)
    hi = np.max([np.maximum(p[1], p[2]) + p[3] for p in prims], axis=0)
    h = float(voxel_mm) if voxel_mm else min(p[3] for p in prims) / VOXELS_PER_RADIUS
    span = hi - lo
    while np.prod(np.ceil(span / h) + 3) > MAX_VOXELS:
        h *= 1.25
    lo = lo - 1.5 * h
    shape = (np.ceil((hi + 1.5 * h - lo) / h)).astype(int) + 1
    sd = np.full(tuple(shape), np.inf, dtype=np.float32)
    axes = [lo[k] + h * np.arange(shape[k]) for k in range(3)]
    for kind, a, b, r in prims:
        i0 = np.maximum(np.floor((np.minimum(a, b) - r - h - lo) / h).astype(int), 0)
        i1 = np.minimum(np.ceil((np.maximum(a, b) + r + h - lo) / h).astype(int) + 1, shape)
        gx, gy, gz = (axes[k][i0[k]:i1[k]] for k in range(3))
        X, Y, Z = np.meshgrid(gx, gy, gz, indexing="ij")
        P = np.stack([X, Y, Z], axis=-1)
        if kind == "s":
            d = np.linalg.norm(P - a, axis=-1)
        else:
            ab = b - a
            L2 = float(ab @ ab)
            t = np.clip(((P - a) @ ab) / L2, 0.0, 1.0) if L2 > 0 else np.zeros(P.shape[:-1])
            d = np.linalg.norm(P - (a + t[..., None] * ab), axis=-1)
        block = sd[i0[0]:i1[0], i0[1]:i1[1], i0[2]:i1[2]]
        np.minimum(block, (d - r).astype(np.float32), out=block)
    frac = np.clip(0.5 - sd / h, 0.0, 1.0)
    return float(frac.sum(dtype=np.float64) * h ** 3), h


# --------------------------------------------------------------------------- the plan

@dataclass
class ExcisionPlan:
    """A targeted excision of one duct system holding one or more located lesions (BF mm).

    ``involved_node_ids``: orifice to the last node before each lesion (the
    involved duct); ``subtree_node_ids``: the child end of each lesion's
    segment and everything below it (lost with the lesion); together they are
    ``removed_node_ids``. ``lesion_segments`` are ``(parent, child)`` node ids.
    """

    system: int
    orifice_clock: float | None
    lesions: list[str]
    status: str                                   #: "planned" or "ambiguous" (a placement was ambiguous)
    warnings: list[str]
    margin_mm: float
    central_excision_mm: float
    involved_node_ids: list
    subtree_node_ids: list
    lesion_segments: list[tuple[Any, Any]]
    involved_path_mm: float                      #: longest orifice-to-lesion path, mm
    envelope: Envelope
    spared: dict
    central: dict
    incision: dict
    wire_targets: list[dict]

    @property
    def removed_node_ids(self) -> list:
        seen = set()
        out = []
        for n in [*self.involved_node_ids, *self.subtree_node_ids]:
            if n not in seen:
                seen.add(n)
                out.append(n)
        return out

    def as_dict(self) -> dict:
        d = asdict(self)
        d["envelope"] = self.envelope.as_dict()
        d["orifice_clock_text"] = format_clock(self.orifice_clock)
        d["lesion_segments"] = [list(s) for s in self.lesion_segments]
        return _plain(d)


def plan_excision(
    tree: DuctTree,
    located: LocatedLesion | Sequence[LocatedLesion],
    *,
    margin_mm: float = DEFAULT_MARGIN_MM,
    central_excision_mm: float = DEFAULT_CENTRAL_EXCISION_MM,
    breast_depth_mm: float | None = None,
    voxel_mm: float | None = None,
    nipple_lps: Sequence[float] | None = None,
) -> ExcisionPlan:
    """Plan the targeted excision of located lesion(s) in one duct system (BF mm).

    Parameters
    ----------
    tree : DuctTree
    located : LocatedLesion or sequence of them
        Placed or ambiguous lesions, all in one system (the chosen candidate
        is used for an ambiguous one, with a warning).
    margin_mm : float
        Tissue margin around the lesion and the duct corridor (mm, >= 0).
    central_excision_mm : float
        Depth of a central (Hadfield) excision behind the nipple (mm, > 0).
    breast_depth_mm : float, optional
        Nipple-to-chest-wall depth; reported with the reach.
    voxel_mm : float, optional
        Grid step for the volume integral (default: see :func:`envelope_volume_mm3`).
    nipple_lps : 3 floats, optional
        Adds LPS coordinates to the wire targets and incision points.
    """
    lesions = [located] if isinstance(located, LocatedLesion) else list(located)
    if not lesions:
        raise InputError("no lesion to plan")
    for les in lesions:
        if not les.located:
            raise InputError(f"lesion {les.label!r} is unplaced ({les.reason}); it cannot be planned",
                             key=f"lesion {les.label!r}")
    systems = sorted({les.system for les in lesions})
    if len(systems) != 1:
        raise InputError(f"one plan covers one duct system; these lesions are in systems {systems}")
    if not (math.isfinite(margin_mm) and margin_mm >= 0):
        raise InputError(f"must be a number >= 0 mm, got {margin_mm!r}", key="margin_mm")
    if not (math.isfinite(central_excision_mm) and central_excision_mm > 0):
        raise InputError(f"must be a number > 0 mm, got {central_excision_mm!r}", key="central_excision_mm")
    system = systems[0]
    ids, index = tree.node_ids, tree.index
    par = tree.parent_index
    pos, rad = tree.positions, tree.radii
    seg = segment_length(tree)
    cc = child_count(tree)
    n = len(par)

    path_mask = np.zeros(n, bool)       # rows on an orifice->lesion path (node before the lesion, and up)
    subtree_mask = np.zeros(n, bool)    # rows fed through a lesion's segment
    spheres: list[dict] = []
    capsules: list[dict] = []
    chains: list[tuple[list[int], int, int, np.ndarray, float]] = []
    lesion_segments = []
    wire_targets = []
    course_pts: list[np.ndarray] = []
    warnings: list[str] = []
    status = "planned"
    nip = None if nipple_lps is None else np.asarray(nipple_lps, float)
    for les in lesions:
        child = index[les.node]
        parent = index[les.parent_node]
        lesion_segments.append((les.parent_node, les.node))
        if les.ambiguous:
            status = "ambiguous"
            others = [c for c in les.candidates[1:]]
            warnings.append(
                f"Lesion {les.label}: this plan assumes system {les.system}, {les.path_mm:.0f} mm along the duct; "
                "the placement is ambiguous and would differ for "
                + ", ".join(f"system {c.system} {c.path_mm:.0f} mm along" for c in others)
                + ": confirm by ductoscopy or ductography")
        # Orifice -> lesion: rows up from the segment's parent (a one-node system has parent == child).
        chain = []
        r = parent
        while r >= 0:
            chain.append(r)
            r = int(par[r])
        chain.reverse()
        path_mask[chain] = True
        if child != parent:
            lo, hi = subtree_rows(tree, child)
            subtree_mask[lo:hi] = True
        p_les = np.asarray(les.point_bf, float)
        pts = [pos[r] for r in chain] + [p_les]
        chains.append((chain, child, parent, p_les, float(les.radius_mm)))
        size = les.size_mm if les.size_mm is not None else DEFAULT_LESION_SIZE_MM
        if les.size_mm is None:
            warnings.append(f"lesion {les.label!r}: no size_mm given; assumed {DEFAULT_LESION_SIZE_MM:g} mm")
        sphere_r = size / 2.0 + margin_mm
        spheres.append({"label": les.label, "center": p_les.tolist(), "radius_mm": sphere_r,
                        "lesion_size_mm": size, "size_assumed": les.size_mm is None})
        course_pts.append(_sample_polyline(np.array(pts), 1.0))
        wt = {"label": les.label, "point_bf": p_les.tolist(), "depth_mm": float(p_les[1]),
              "fn_mm": float(math.hypot(p_les[0], p_les[2])), "distance_from_nipple_mm": float(np.linalg.norm(p_les)),
              "path_mm": float(les.path_mm), "clock": les.clock_half_hour, "clock_exact": les.clock_exact}
        if nip is not None:
            wt["point_lps"] = (p_les + nip).tolist()
        wire_targets.append(wt)

    # The corridor: every full segment on an orifice->lesion path once, then each lesion's partial
    # segment (its parent node -> the lesion) unless another lesion's path covers that whole segment.
    for r in np.flatnonzero(path_mask):
        p = int(par[r])
        if p >= 0 and seg[r] > 1e-9:
            capsules.append({"a": pos[p].tolist(), "b": pos[r].tolist(),
                             "radius_mm": max(rad[p], rad[r]) + margin_mm})
    for chain, child, parent, p_les, r_les in chains:
        if child != parent and path_mask[child]:
            continue
        if np.linalg.norm(p_les - pos[parent]) > 1e-9:
            capsules.append({"a": pos[parent].tolist(), "b": p_les.tolist(),
                             "radius_mm": max(rad[parent], r_les) + margin_mm})

    removed_rows = path_mask | subtree_mask
    # The lesion segment's own length counts as removed: its child row is in the subtree mask.
    involved_ids = [ids[i] for i in np.flatnonzero(path_mask)]
    subtree_ids = [ids[i] for i in np.flatnonzero(subtree_mask)]

    vol_mm3, h = envelope_volume_mm3([(s["center"], s["radius_mm"]) for s in spheres],
                                     [(c["a"], c["b"], c["radius_mm"]) for c in capsules], voxel_mm=voxel_mm)
    envelope = Envelope(spheres=spheres, capsules=capsules, margin_mm=float(margin_mm),
                        volume_ml=vol_mm3 / 1000.0, voxel_mm=h)

    total_len = float(seg.sum())
    removed_len = float(seg[removed_rows].sum())
    tips = cc == 0
    n_tips = int(tips.sum())
    removed_tips = int((tips & removed_rows).sum())
    all_systems = tree.systems()
    spared = {
        "length_total_mm": total_len,
        "length_removed_mm": removed_len,
        "length_removed_fraction": removed_len / total_len if total_len > 0 else 0.0,
        "length_kept_fraction": 1.0 - removed_len / total_len if total_len > 0 else 1.0,
        "tips_total": n_tips,
        "tips_removed": removed_tips,
        "tips_removed_fraction": removed_tips / n_tips if n_tips else 0.0,
        "tips_kept_fraction": 1.0 - removed_tips / n_tips if n_tips else 1.0,
        "systems_total": len(all_systems),
        "systems_involved": [system],
        "systems_kept_intact": len(all_systems) - 1,
        "systems_kept_fraction": (len(all_systems) - 1) / len(all_systems),
        "note": "removed = the involved duct from the orifice plus every branch distal to the lesion",
    }

    sub_depth = [float(pos[subtree_mask, 1].max())] if subtree_mask.any() else []
    lesion_reach = max(s["center"][1] + s["radius_mm"] for s in spheres)
    subtree_reach = max(sub_depth + [float(np.asarray(les.point_bf)[1]) for les in lesions])
    central = {
        "central_excision_mm": float(central_excision_mm),
        "lesion_reach_mm": lesion_reach,
        "subtree_reach_mm": subtree_reach,
        "reaches_lesion": lesion_reach <= central_excision_mm,
        "reaches_subtree": subtree_reach <= central_excision_mm,
        "lesion_shortfall_mm": max(0.0, lesion_reach - central_excision_mm),
        "subtree_shortfall_mm": max(0.0, subtree_reach - central_excision_mm),
        "lesion_fn_reach_mm": max(math.hypot(s["center"][0], s["center"][2]) + s["radius_mm"] for s in spheres),
        "areola_radius_mm": AREOLA_RADIUS_MM,
        "systems_cut_by_central_excision": len(all_systems),
        "note": ("depth reach = deepest point of lesion+margin and of the distal subtree behind the nipple; "
                 "a central excision divides every duct system"),
    }
    if breast_depth_mm is not None:
        central["breast_depth_mm"] = float(breast_depth_mm)

    root = tree.root_of_system(system)
    orifice_clock = tree.nodes[root].get("orifice_clock")
    incision = _incision(np.concatenate(course_pts), lesions, orifice_clock, nip)
    return ExcisionPlan(
        system=system, orifice_clock=None if orifice_clock is None else float(orifice_clock),
        lesions=[les.label for les in lesions], status=status, warnings=warnings,
        margin_mm=float(margin_mm), central_excision_mm=float(central_excision_mm),
        involved_node_ids=involved_ids, subtree_node_ids=subtree_ids, lesion_segments=lesion_segments,
        involved_path_mm=max(float(les.path_mm) for les in lesions), envelope=envelope, spared=spared,
        central=central, incision=incision, wire_targets=wire_targets,
    )


def plan_lesions(tree: DuctTree, located: Sequence[LocatedLesion], **kwargs: Any) -> list[ExcisionPlan]:
    """One :class:`ExcisionPlan` per duct system holding located lesions (unplaced ones are skipped)."""
    by_system: dict[int, list[LocatedLesion]] = {}
    for les in located:
        if les.located:
            by_system.setdefault(int(les.system), []).append(les)
    return [plan_excision(tree, by_system[s], **kwargs) for s in sorted(by_system)]


def case_plan(case: "Case", *, margin_mm: float | None = None, central_excision_mm: float | None = None,
              uncertainty_mm: float | None = None) -> tuple[list[LocatedLesion], list[ExcisionPlan]]:
    """Load the case's tree, place its lesions and plan each involved system.

    ``margin_mm`` / ``central_excision_mm`` override the case's ``[plan]``;
    ``uncertainty_mm`` widens every lesion's placement tolerance (see
    :func:`ductree.lesions.place_lesions`).
    Bad input raises :class:`InputError` naming the case file, the lesion and the field.
    """
    tree = case.load_tree()
    try:
        located = place_lesions(tree, case.lesions, laterality=case.laterality,
                                breast_depth_mm=case.breast_depth_mm, nipple_lps=case.nipple_lps,
                                uncertainty_mm=uncertainty_mm)
        plans = plan_lesions(
            tree, located,
            margin_mm=case.plan.margin_mm if margin_mm is None else margin_mm,
            central_excision_mm=case.plan.central_excision_mm if central_excision_mm is None else central_excision_mm,
            breast_depth_mm=case.breast_depth_mm, nipple_lps=case.nipple_lps)
    except InputError as exc:
        raise exc.located(source=case.path) from None
    return located, plans


# --------------------------------------------------------------------------- incision

def _sample_polyline(pts: np.ndarray, step: float) -> np.ndarray:
    if len(pts) < 2:
        return pts.reshape(-1, 3)
    out = [pts[:1]]
    for a, b in zip(pts[:-1], pts[1:]):
        L = float(np.linalg.norm(b - a))
        k = max(1, int(math.ceil(L / step)))
        t = np.arange(1, k + 1) / k
        out.append(a + t[:, None] * (b - a))
    return np.concatenate(out)


def _incision(course: np.ndarray, lesions: Sequence[LocatedLesion], orifice_clock: float | None,
              nip: np.ndarray | None) -> dict:
    mean = course[:, [0, 2]].mean(axis=0)
    if float(np.hypot(*mean)) >= 1.0:
        centre = direction_to_clock(float(mean[0]), float(mean[1]))
        basis = "mean coronal direction of the involved duct, orifice to lesion"
    elif lesions[0].clock is not None:
        centre = float(lesions[0].clock)
        basis = "clock of the lesion (the involved duct runs straight back along the nipple axis)"
    elif orifice_clock is not None:
        centre = float(orifice_clock)
        basis = "orifice clock (the lesion lies on the nipple axis)"
    else:
        centre = 12.0
        basis = "12 o'clock (no direction available)"
    # Angular spread of the course away from the nipple axis, relative to the centre.
    fn = np.hypot(course[:, 0], course[:, 2])
    far = course[fn >= 3.0]
    if len(far):
        clocks = np.degrees(np.arctan2(far[:, 0], far[:, 2])) / 30.0
        dev_h = np.array([_signed_clock_diff(c, centre) for c in clocks])
        half_deg = float(np.max(np.abs(dev_h))) * 30.0 + INCISION_PAD_DEG
    else:
        half_deg = INCISION_MIN_DEG / 2.0
    arc = float(np.clip(2 * half_deg, INCISION_MIN_DEG, INCISION_MAX_DEG))
    start_h, end_h = centre - arc / 60.0, centre + arc / 60.0
    hours = np.linspace(start_h, end_h, 13)
    arc_pts = [AREOLA_RADIUS_MM * clock_to_direction(float(_wrap(h))) for h in hours]
    out = {
        "type": "periareolar",
        "centre_clock": centre,
        "centre_clock_text": format_clock(centre),
        "centre_basis": basis,
        "orifice_clock": orifice_clock,
        "orifice_clock_text": format_clock(orifice_clock),
        "lesion_clocks": [les.clock_exact for les in lesions],
        "arc_deg": arc,
        "arc_length_mm": math.radians(arc) * AREOLA_RADIUS_MM,
        "areola_radius_mm": AREOLA_RADIUS_MM,
        "start_clock_text": format_clock(_wrap(start_h)),
        "end_clock_text": format_clock(_wrap(end_h)),
        "start_bf": arc_pts[0].tolist(),
        "centre_bf": arc_pts[len(arc_pts) // 2].tolist(),
        "end_bf": arc_pts[-1].tolist(),
        "arc_bf": [p.tolist() for p in arc_pts],
    }
    if orifice_clock is not None:
        out["centre_minus_orifice_h"] = clock_difference_h(centre, orifice_clock)
    if nip is not None:
        for k in ("start", "centre", "end"):
            out[f"{k}_lps"] = (np.asarray(out[f"{k}_bf"]) + nip).tolist()
    return out


def _wrap(h: float) -> float:
    h = math.fmod(h, 12.0)
    return h + 12.0 if h <= 0 else h


def _signed_clock_diff(a: float, b: float) -> float:
    d = (a - b) % 12.0
    return d - 12.0 if d > 6.0 else d


# --------------------------------------------------------------------------- outputs

def plan_document(case_id: str, laterality: str, located: Sequence[LocatedLesion], plans: Sequence[ExcisionPlan],
                  *, nipple_lps: Sequence[float] | None = None, breast_depth_mm: float | None = None) -> dict:
    """The ``plan.json`` document (schema :data:`SCHEMA`), BF mm (LPS where named)."""
    return _plain({
        "schema": SCHEMA,
        "case": case_id,
        "laterality": laterality,
        "frame": "BF (mm, +x patient's left, +y posterior, +z superior, origin at the nipple tip)",
        "nipple_lps": None if nipple_lps is None else [float(v) for v in nipple_lps],
        "breast_depth_mm": breast_depth_mm,
        "lesions": [les.as_dict() for les in located],
        "plans": [p.as_dict() for p in plans],
        "unplaced": [les.label for les in located if les.status == "unplaced"],
        "ambiguous": [les.label for les in located if les.status == "ambiguous"],
    })


def markup_points(located: Sequence[LocatedLesion], plans: Sequence[ExcisionPlan]
                  ) -> tuple[list[tuple[str, list[float]]], list[str]]:
    """``(label, point_bf)`` and a description for each lesion, wire target and incision point."""
    pts: list[tuple[str, list[float]]] = []
    desc: list[str] = []
    for les in located:
        if les.located:
            pts.append((les.label, list(les.point_bf)))
            desc.append(f"{les.kind} lesion, {les.status}, system {les.system}, depth {les.depth_mm:.1f} mm, "
                        f"{les.clock_half_hour}")
    for p in plans:
        for wt in p.wire_targets:
            pts.append((f"wire {wt['label']}", wt["point_bf"]))
            desc.append(f"localisation wire target for {wt['label']}, depth {wt['depth_mm']:.1f} mm")
        inc = p.incision
        tag = f"system {p.system}"
        for k, word in (("start", "start"), ("centre", "centre"), ("end", "end")):
            pts.append((f"incision {word} ({tag})", inc[f"{k}_bf"]))
            desc.append(f"periareolar incision {word}, {inc[f'{k}_clock_text'] if k != 'centre' else inc['centre_clock_text']}"
                        f", arc {inc['arc_deg']:.0f} deg")
    return pts, desc


def write_plan_outputs(out_dir: str | PathLike, case_id: str, laterality: str, located: Sequence[LocatedLesion],
                       plans: Sequence[ExcisionPlan], *, nipple_lps: Sequence[float] | None = None,
                       breast_depth_mm: float | None = None) -> list[Path]:
    """Write ``plan.json``, ``lesions.mrk.json`` and (when planned) ``incision.mrk.json`` into ``out_dir``.

    Every file is written atomically; the folder must exist.
    """
    from .atomic import write_text
    from .markups import write_markups

    out = Path(out_dir)
    if not out.is_dir():
        raise InputError("output folder does not exist", source=out, key="--out")
    doc = plan_document(case_id, laterality, located, plans, nipple_lps=nipple_lps, breast_depth_mm=breast_depth_mm)
    text = json.dumps(doc, indent=2) + "\n"
    pts, desc = markup_points(located, plans)
    written = [write_text(out / "plan.json", text)]
    written.append(write_markups(out / "lesions.mrk.json", pts, nipple_lps, descriptions=desc))
    if plans:
        arc_pts = [(f"{p.system}-{i}", q) for p in plans for i, q in enumerate(p.incision["arc_bf"])]
        written.append(write_markups(out / "incision.mrk.json", arc_pts, nipple_lps, kind="Curve",
                                     color=(0.1, 0.6, 1.0)))
    return written


def plan_tables(plans: Sequence[ExcisionPlan]) -> list:
    """One two-column rich table per plan (what the ``ductree plan`` command prints)."""
    from rich.table import Table

    out = []
    for p in plans:
        t = Table(title=f"Excision plan: system {p.system} ({orifice_text(p.orifice_clock)}), "
                        f"lesions {', '.join(p.lesions)}" + ("  [AMBIGUOUS placement]" if p.status == "ambiguous" else ""),
                  show_header=False)
        t.add_column("item", no_wrap=True)
        t.add_column("value")
        s, c, inc, env = p.spared, p.central, p.incision, p.envelope
        t.add_row("involved duct", f"{p.involved_path_mm:.1f} mm along the duct from the orifice to the lesion")
        t.add_row("distal subtree", f"{len(p.subtree_node_ids)} node(s) beyond the lesion, lost with it")
        t.add_row("envelope", f"{env.volume_ml:.2f} mL (margin {p.margin_mm:g} mm; {len(env.spheres)} sphere(s), "
                              f"{len(env.capsules)} capsule(s))")
        t.add_row("removed", f"{100 * s['length_removed_fraction']:.1f}% of duct length "
                             f"({s['length_removed_mm']:.0f} of {s['length_total_mm']:.0f} mm), "
                             f"{s['tips_removed']} of {s['tips_total']} terminal branches")
        t.add_row("spared", f"{100 * s['length_kept_fraction']:.1f}% of length, "
                            f"{s['systems_kept_intact']} of {s['systems_total']} systems intact")
        zone = f"a {c['central_excision_mm']:g} mm central excision"
        if c["reaches_lesion"] and c["reaches_subtree"]:
            central = f"{zone} reaches the lesion (with margin) and its whole subtree"
        elif c["reaches_lesion"]:
            central = (f"{zone} reaches the lesion (with margin, {c['lesion_reach_mm']:.1f} mm deep) but leaves "
                       f"its subtree: {c['subtree_shortfall_mm']:.1f} mm short")
        else:
            central = (f"{zone} falls short of the lesion (with margin) by {c['lesion_shortfall_mm']:.1f} mm "
                       f"and of its subtree by {c['subtree_shortfall_mm']:.1f} mm")
        t.add_row("central (Hadfield)", central)
        t.add_row("incision", f"periareolar at {inc['centre_clock_text']} ({inc['start_clock_text']} to "
                              f"{inc['end_clock_text']}, {inc['arc_deg']:.0f} deg, {inc['arc_length_mm']:.0f} mm); "
                              f"{inc['centre_basis']}")
        for w in p.wire_targets:
            t.add_row(f"wire target {w['label']}", f"{fmt_xyz(w['point_bf'])} BF, depth {w['depth_mm']:.1f} mm, "
                                                   f"fn {w['fn_mm']:.1f} mm, {w['clock']}")
        for warning in p.warnings:
            t.add_row("warning", warning)
        out.append(t)
    return out
