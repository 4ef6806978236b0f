"""Simulated ductograms: one opacified duct system projected into a CC and a lateral mask.

What a galactogram shows (DOMAIN §1, §3), built from a phantom tree:

- **one system**: the cannulated one (the system of the first lesion, else the
  largest), and only it, as in a real ductogram;
- **terminal ducts taper**: a normal terminal duct narrows over its last
  2.5 mm (at most half its length) to 35% of its radius, as ducts thin into
  their lobules; ends made by an occlusion or a contrast front stay wide, and
  so does a branch holding a lesion;
- **contrast that did not reach** some thin terminal branches: each terminal
  branch thinner than ``unfilled_max_radius_mm`` is, with probability
  ``unfilled_probability``, filled only over its first part (or not at all),
  the contrast front thinning over its last millimetre;
- **lesions**: each lesion of the system is a filling defect. With
  probability ``occlusive_probability`` it blocks the duct: the contrast
  column stops at its proximal edge (an abrupt, wide cut-off) and nothing
  distal fills. Otherwise it is an intraluminal capsule (radius 0.6-0.85 of
  the duct's, a little off the axis, up to 6 mm long) that displaces the
  contrast: where it removes more than half of the column's thickness along
  the beam the mask has a hole, a notch or a gap, differently in each view;
- **geometry**: parallel projection with magnification ``M`` in 1.5-2.0 and
  detector pixels of 50-70 um (one device for both views), so 25-47 um at the
  breast; per view a compression that scales depth by ``1 +- delta``
  (``delta`` up to ``depth_scale``, opposite in the two views) and shifts
  tissue deeper than the nipple by ``+-offset`` mm (up to
  ``depth_offset_mm``, reached ``nipple_ramp_mm`` behind the nipple tip,
  opposite in the two views). The truth is the mean of the two views, the
  convention :mod:`ductree.reconstruct.biplane` documents;
- **image formation**: the contrast thickness along the beam (chord through
  each round cone, longer for ducts seen obliquely), blurred by the detector
  (Gaussian, 0.6-1.2 px), noisy near the edges, thresholded: soft, ragged
  edges; ducts of one system overlap and cross in projection.

The CC shows BF ``x`` across and depth ``y`` along; the lateral BF ``z`` and
depth. Images are hung the standard way (right CC ``P\\L``, lateral ``P\\F``;
left ``A\\R``, ``A\\F``) unless ``orientation`` says otherwise.

:func:`simulate_ductogram` returns everything in memory; :func:`simulate_biplane`
(the ``biplane`` entry of :data:`ductree.phantom.simulate.SIMULATORS`) writes
the files.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.images2d import DEFAULT_ORIENTATION, View2D
from ..tree import DuctTree

#: File names written by :func:`simulate_biplane`.
CC_PNG, LAT_PNG = "cc_mask.png", "ml_mask.png"
CC_DCM, LAT_DCM = "cc.dcm", "ml.dcm"
TRUTH_FILE = "ductogram_truth.json"
SIM_FILE = "ductogram_sim.json"
CASE_FILE = "case_ductogram.toml"
SIM_SCHEMA = "ductree.ductogram-sim/1"


@dataclass(frozen=True)
class DuctogramSettings:
    """Every knob of the ductogram simulation (mm unless said otherwise)."""

    magnification: tuple[float, float] = (1.5, 2.0)
    detector_pixel_mm: tuple[float, float] = (0.05, 0.07)
    depth_scale: float = 0.05            #: each view scales depth by 1 +- up to this (opposite signs)
    depth_offset_mm: float = 3.0         #: each view shifts deep tissue by +- up to this (opposite signs)
    nipple_ramp_mm: tuple[float, float] = (5.0, 10.0)
    unfilled_probability: float = 0.2
    unfilled_max_radius_mm: float = 0.25
    occlusive_probability: float = 0.25
    lesion_radius_fraction: tuple[float, float] = (0.6, 0.85)
    lesion_length_mm: tuple[float, float] = (1.5, 6.0)
    blur_px: tuple[float, float] = (0.6, 1.2)
    edge_noise_mm: float = 0.012
    threshold_mm: float = 0.05           #: contrast thickness along the beam that segments as foreground
    defect_fraction: float = 0.5         #: a lesion removing more than this of the column's thickness shows
    margin_mm: float = 4.0
    lateral_view: str = "ML"
    taper_mm: float = 2.5                #: normal terminal ducts narrow over this length ...
    taper_fraction: float = 0.35         #: ... to this fraction of their radius

    def check(self) -> "DuctogramSettings":
        lo, hi = self.magnification
        if not 1.0 <= lo <= hi <= 4.0:
            raise InputError(f"magnification range must lie in [1, 4], got {self.magnification}", key="magnification")
        lo, hi = self.detector_pixel_mm
        if not 0.01 <= lo <= hi <= 0.5:
            raise InputError(f"detector pixel range must lie in [0.01, 0.5] mm, got {self.detector_pixel_mm}",
                             key="detector_pixel_mm")
        if self.lateral_view not in ("ML", "LM"):
            raise InputError(f"lateral_view must be ML or LM, got {self.lateral_view!r}", key="lateral_view")
        return self


@dataclass
class SimView:
    """One simulated view: the mask with its geometry, and the compression that made it."""

    view: View2D
    depth_scale: float
    depth_offset_mm: float
    ramp_mm: float
    blur_px: float

    def depth(self, y: np.ndarray) -> np.ndarray:
        """The view's depth (mm at the breast) of true depths ``y`` (BF mm)."""
        y = np.asarray(y, dtype=float)
        return self.depth_scale * y + self.depth_offset_mm * np.clip(y / self.ramp_mm, 0.0, 1.0)


@dataclass
class Ductogram:
    """A simulated ductogram pair with its ground truth (BF mm)."""

    cc: SimView
    lateral: SimView
    truth: DuctTree                 #: the opacified part of the system (what the contrast filled)
    defects: list[dict]             #: one per lesion: kind, label, visible point, lesion point, size
    system: int
    laterality: str
    magnification: float
    detector_pixel_mm: float
    settings: DuctogramSettings
    seed: int
    unfilled: list[dict] = field(default_factory=list)

    @property
    def views(self) -> dict[str, SimView]:
        return {"cc": self.cc, "lateral": self.lateral}

    def lateral_to_cc_depth(self) -> tuple[float, float, float]:
        """The lateral -> CC depth map the two compressions made, as ``(scale, offset_mm, knee_mm)``:
        ``d_cc = scale * d_lat + offset_mm`` beyond ``knee_mm`` of lateral depth (the end of the lateral's
        nipple ramp; the views' ramps may differ, so it is approximate over the first 5-10 mm)."""
        c, lt = self.cc, self.lateral
        a = c.depth_scale / lt.depth_scale
        return a, c.depth_offset_mm - a * lt.depth_offset_mm, lt.depth_scale * lt.ramp_mm + lt.depth_offset_mm

    def as_dict(self) -> dict:
        """JSON-ready parameters and ground truth (not the masks)."""
        views = {}
        for k, v in self.views.items():
            d = v.view.describe()
            d.update({"depth_scale": v.depth_scale, "depth_offset_mm": v.depth_offset_mm,
                      "nipple_ramp_mm": v.ramp_mm, "blur_px": v.blur_px})
            views[k] = d
        return {"schema": SIM_SCHEMA, "seed": self.seed, "system": self.system, "laterality": self.laterality,
                "magnification": self.magnification, "detector_pixel_mm": self.detector_pixel_mm,
                "pixel_at_breast_mm": self.detector_pixel_mm / self.magnification,
                "views": views, "defects": self.defects, "unfilled": self.unfilled,
                "settings": asdict(self.settings)}


# --------------------------------------------------------------------------- the opacified tree

def _path_point(tree: DuctTree, node: Any, target_path: float) -> tuple[Any, Any, float]:
    """On the path root -> ``node``: the segment (parent, child) holding path length ``target_path`` and t."""
    from ..measures import path_mm

    pm = path_mm(tree)
    idx = tree.index
    cur = node
    while True:
        par = tree.parent(cur)
        if par is None:
            return cur, cur, 0.0
        a, b = pm[idx[par]], pm[idx[cur]]
        if a <= target_path + 1e-9 or tree.parent(par) is None:
            t = 0.0 if b - a < 1e-12 else float(np.clip((target_path - a) / (b - a), 0.0, 1.0))
            return par, cur, t
        cur = par


def _cut_at(tree: DuctTree, parent: Any, child: Any, t: float, radius: float | None, next_id: int) -> int:
    """Remove ``child`` and everything below it; end the duct at fraction ``t`` of the segment instead."""
    from ..edit import subtree

    gone = list(subtree(tree, child).nodes)
    p0 = np.asarray(tree.nodes[parent]["pos"], dtype=float)
    p1 = np.asarray(tree.nodes[child]["pos"], dtype=float)
    r0, r1 = float(tree.nodes[parent]["radius"]), float(tree.nodes[child]["radius"])
    system = tree.nodes[parent]["system"]
    tree.remove_nodes_from(gone)
    if t * np.linalg.norm(p1 - p0) > 0.05:
        r = r0 + t * (r1 - r0) if radius is None else radius
        tree.add_node(next_id, pos=p0 + t * (p1 - p0), radius=float(r), system=system)
        tree.add_edge(parent, next_id)
        return next_id + 1
    return next_id


def opacified_tree(tree: DuctTree, lesions: list, rng: np.random.Generator,
                   settings: DuctogramSettings) -> tuple[DuctTree, list[dict], list[dict], int]:
    """The part of one system the contrast fills, its defects and its unfilled branch ends.

    Returns ``(truth, defects, unfilled, system)``; ``truth`` keeps the
    phantom's node ids (new end nodes get fresh ids) and is validated.
    """
    from ..edit import split
    from ..measures import branches, child_count, path_mm

    tree.validate()
    if lesions:
        system = int(lesions[0].system)
    else:
        lengths = {}
        from ..measures import segment_length

        seg = segment_length(tree)
        for s in tree.systems():
            lengths[s] = float(seg[tree.system_ids == s].sum())
        system = max(lengths, key=lambda s: (lengths[s], -s))
    sub = split(tree)[system]
    sub = DuctTree.from_graph(sub)
    sub.graph["laterality"] = tree.laterality
    next_id = max(int(n) for n in sub.nodes) + 1
    defects: list[dict] = []
    special_ends: set = set()       # ends made by an occlusion or by contrast that stopped: no taper
    # lesions: occlusive ones cut the duct first (deepest first so earlier cuts do not remove later lesions' ducts)
    mine = [les for les in lesions if int(les.system) == system]
    plans = []
    for les in mine:
        occlusive = bool(rng.uniform() < settings.occlusive_probability)
        length = float(np.clip(les.size_mm, *settings.lesion_length_mm))
        frac = float(rng.uniform(*settings.lesion_radius_fraction))
        plans.append((les, occlusive, length, frac))
    for les, occlusive, length, frac in sorted(plans, key=lambda p: -p[0].path_mm):
        if les.node not in sub:
            continue  # cut away by a more proximal occlusion (kept in order: deepest first)
        if occlusive:
            target = max(les.path_mm - 0.5 * length, 0.5)
            par, ch, t = _path_point(sub, les.node, target)
            p0, p1 = sub.nodes[par]["pos"], sub.nodes[ch]["pos"]
            end = p0 + t * (p1 - p0)
            r_here = float(sub.nodes[par]["radius"] + t * (sub.nodes[ch]["radius"] - sub.nodes[par]["radius"]))
            before = next_id
            next_id = _cut_at(sub, par, ch, t, r_here, next_id)
            # the column ends wide here: at the new end node, or at ``par`` when the cut fell on it
            special_ends.add(before if next_id > before else par)
            defects.append({"label": les.label, "kind": "cutoff", "point_bf": [float(v) for v in end],
                            "lesion_point_bf": list(les.point), "size_mm": les.size_mm, "length_mm": length,
                            "radius_mm": r_here, "occlusive": True, "lesion_kind": les.kind})
    sub.touch()
    for les, occlusive, length, frac in plans:
        if occlusive or les.node not in sub:
            continue
        par = sub.parent(les.node)
        if par is None:
            continue
        axis = np.asarray(sub.nodes[les.node]["pos"]) - np.asarray(sub.nodes[par]["pos"])
        axis = axis / max(np.linalg.norm(axis), 1e-9)
        r = float(les.radius_mm)
        v = rng.normal(size=3)
        v -= (v @ axis) * axis
        v /= max(np.linalg.norm(v), 1e-9)
        offset = float(rng.uniform(0.0, 1.0 - frac)) * r
        centre = np.asarray(les.point, dtype=float) + offset * v
        defects.append({"label": les.label, "kind": "filling_defect", "point_bf": [float(x) for x in les.point],
                        "lesion_point_bf": list(les.point), "size_mm": les.size_mm, "length_mm": length,
                        "radius_mm": r, "lesion_radius_mm": frac * r, "occlusive": False,
                        "capsule_centre_bf": [float(x) for x in centre], "capsule_axis": [float(x) for x in axis],
                        "node": int(les.node), "lesion_kind": les.kind})
    # contrast that did not reach thin terminal branches
    unfilled: list[dict] = []
    sub.touch()
    cc = child_count(sub)
    pm = path_mm(sub)
    ids = sub.node_ids
    protected = {int(d["node"]) for d in defects if "node" in d}
    radii0 = sub.radii.copy()
    for b in branches(sub):
        if cc[b.end_row] != 0 or b.parent < 0 or len(b.rows) < 2:
            continue
        rows = b.rows
        if float(np.median(radii0[rows[1:]])) >= settings.unfilled_max_radius_mm:
            continue
        if any(ids[r] in protected for r in rows):
            continue
        if rng.uniform() >= settings.unfilled_probability:
            continue
        if not all(ids[r] in sub for r in rows):
            continue
        keep = float(rng.uniform(0.0, 0.6)) * b.length_mm
        start_pos = [float(v) for v in np.asarray(sub.nodes[ids[rows[0]]]["pos"])]
        if keep < 0.8:
            sub.remove_nodes_from(_descendants(sub, ids[rows[1]]))
            unfilled.append({"from_bf": start_pos, "length_mm": b.length_mm, "filled_mm": 0.0})
            continue
        par, ch, t = _path_point(sub, ids[rows[-1]], float(pm[rows[0]]) + keep)
        r_end = 0.5 * float(sub.nodes[par]["radius"] + t * (sub.nodes[ch]["radius"] - sub.nodes[par]["radius"]))
        before = next_id
        next_id = _cut_at(sub, par, ch, t, r_end, next_id)
        if next_id > before:
            special_ends.add(before)
        elif sub.out_degree(par) == 0:
            sub.nodes[par]["radius"] = r_end      # the cut fell on ``par``: the contrast front ends there
            special_ends.add(par)
        unfilled.append({"from_bf": start_pos, "length_mm": b.length_mm, "filled_mm": keep})
    sub.touch()
    _taper_terminal_ducts(sub, special_ends, settings, protected)
    truth = DuctTree.from_graph(sub)
    truth.graph["laterality"] = tree.laterality
    truth.graph["opacified_system"] = system
    truth.validate()
    return truth, defects, unfilled, system


def _taper_terminal_ducts(tree: DuctTree, keep: set, settings: "DuctogramSettings", lesion_nodes: set) -> None:
    """Normal terminal ducts narrow into their lobules: over the last ``taper_mm`` (at most half the
    branch) the radius falls linearly to ``taper_fraction`` of its value. Ends in ``keep`` (an occlusion,
    a contrast front) are left as they are: those are the ones that end wide; so is a branch holding a
    lesion (a papilloma distends its duct)."""
    from ..measures import branches, child_count, path_mm

    tree.touch()
    cc = child_count(tree)
    pm = path_mm(tree)
    ids = tree.node_ids
    rad = tree.radii.copy()
    for b in branches(tree):
        end = b.end_row
        if cc[end] != 0 or ids[end] in keep or len(b.rows) < 2:
            continue
        if any(ids[r] in lesion_nodes for r in b.rows[1:]):
            continue
        length = min(settings.taper_mm, 0.5 * b.length_mm)
        if length <= 0:
            continue
        dist = pm[end] - pm[b.rows]
        f = np.clip(dist / length, 0.0, 1.0)
        scale = settings.taper_fraction + (1.0 - settings.taper_fraction) * f
        for r, sc in zip(b.rows[1:], scale[1:]):
            tree.nodes[ids[r]]["radius"] = float(rad[r] * sc)
    tree.touch()


def _descendants(tree: DuctTree, node: Any) -> list:
    out = [node]
    stack = [node]
    while stack:
        n = stack.pop()
        kids = list(tree.successors(n))
        out.extend(kids)
        stack.extend(kids)
    return out


# --------------------------------------------------------------------------- projection

def _view_geometry(kind: str, lat: str, pixel_mm: float, magnification: float, detector_mm: float,
                   orientation: tuple[str, str] | None, view_position: str) -> View2D:
    orient = orientation or DEFAULT_ORIENTATION[(kind, lat)]
    return View2D(mask=np.zeros((1, 1), bool), kind=kind, spacing_mm=(pixel_mm, pixel_mm), orientation=orient,
                  laterality=lat, view_position=view_position, magnification=magnification,
                  detector_spacing_mm=(detector_mm, detector_mm), spacing_from="simulated",
                  orientation_from="simulated", nipple_px=(0.0, 0.0))


def _segments(tree: DuctTree) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(a rows, b rows) of every parent->child segment, plus lone roots as zero-length ones."""
    par = tree.parent_index
    kids = np.flatnonzero(par >= 0)
    a, b = par[kids], kids
    return a, b, tree.positions, tree.radii, kids


def render_view(tree: DuctTree, sv: SimView, defects: list[dict], rng: np.random.Generator,
                settings: DuctogramSettings) -> np.ndarray:
    """Rasterise the tree into ``sv.view`` (sets its mask and nipple pixel); returns the thickness map (mm)."""
    view = sv.view
    pos = tree.positions
    u = pos[:, 0] if view.kind == "cc" else pos[:, 2]
    w = pos[:, 2] if view.kind == "cc" else pos[:, 0]   # the coordinate along the beam
    d = sv.depth(pos[:, 1])
    rad = tree.radii
    px = view.pixel_mm
    # image extent: every duct and the nipple, plus a margin
    margin = settings.margin_mm
    lo_u = min(float((u - rad).min()), 0.0) - margin
    hi_u = max(float((u + rad).max()), 0.0) + margin
    lo_d = min(float((d - rad).min()), 0.0) - margin
    hi_d = float((d + rad).max()) + margin
    corners = np.array([[lo_u, lo_d], [lo_u, hi_d], [hi_u, lo_d], [hi_u, hi_d]])
    view.nipple_px = (0.0, 0.0)
    c_px = view.to_px(corners)
    shift = -c_px.min(axis=0)
    shape = np.ceil(c_px.max(axis=0) + shift).astype(int) + 1
    view.nipple_px = (float(shift[0]), float(shift[1]))
    rc = view.to_px(np.column_stack([u, d]))
    thick = np.zeros(tuple(shape), dtype=np.float32)
    a_rows, b_rows, _, _, _ = _segments(tree)

    # lesion capsules, and the segments of each lesion's duct near it
    caps = []
    for df in defects:
        if df["kind"] != "filling_defect":
            continue
        c = np.asarray(df["capsule_centre_bf"], dtype=float)
        ax = np.asarray(df["capsule_axis"], dtype=float)
        half = max(0.5 * df["length_mm"] - df["lesion_radius_mm"], 0.0)
        p0, p1 = c - half * ax, c + half * ax
        node = df["node"]
        near_rows = _duct_rows_near(tree, node, c, 0.5 * df["length_mm"] + 2.0 * df["radius_mm"] + 0.5)
        q = np.array([p0, p1])
        qu = q[:, 0] if view.kind == "cc" else q[:, 2]
        qw = q[:, 2] if view.kind == "cc" else q[:, 0]
        qd = sv.depth(q[:, 1])
        caps.append({"rc": view.to_px(np.column_stack([qu, qd])), "r": df["lesion_radius_mm"],
                     "len3": float(np.linalg.norm(np.array([qu[1] - qu[0], qd[1] - qd[0], qw[1] - qw[0]]))),
                     "rows": near_rows})
    lesion_seg = np.zeros(len(b_rows), dtype=np.int64) - 1
    for k, cap in enumerate(caps):
        lesion_seg[np.isin(b_rows, cap["rows"])] = k
    lesion_thick = [np.zeros(tuple(shape), dtype=np.float32) for _ in caps]

    for s in range(len(b_rows)):
        i, j = a_rows[s], b_rows[s]
        A, B = rc[i], rc[j]
        ra, rb = float(rad[i]), float(rad[j])
        rmax = max(ra, rb)
        ext = rmax / px + 2.0
        r0 = max(int(math.floor(min(A[0], B[0]) - ext)), 0)
        r1 = min(int(math.ceil(max(A[0], B[0]) + ext)), shape[0] - 1)
        c0 = max(int(math.floor(min(A[1], B[1]) - ext)), 0)
        c1 = min(int(math.ceil(max(A[1], B[1]) + ext)), shape[1] - 1)
        if r1 < r0 or c1 < c0:
            continue
        rr, cc_ = np.mgrid[r0:r1 + 1, c0:c1 + 1]
        P = np.stack([rr.ravel(), cc_.ravel()], axis=1).astype(float)
        AB = B - A
        den = float(AB @ AB)
        t = np.clip(((P - A) @ AB) / den, 0.0, 1.0) if den > 0 else np.zeros(len(P))
        dist = np.linalg.norm(P - (A + t[:, None] * AB), axis=1) * px
        r = ra + t * (rb - ra)
        len2 = math.sqrt(den) * px
        len3 = math.sqrt(len2 ** 2 + (w[j] - w[i]) ** 2)
        sin_phi = max(len2 / len3, 0.25) if len3 > 1e-9 else 1.0
        chord = 2.0 * np.sqrt(np.maximum(r * r - dist * dist, 0.0)) / sin_phi
        k = lesion_seg[s]
        block = (slice(r0, r1 + 1), slice(c0, c1 + 1))
        if k >= 0:
            cap = caps[k]
            QA, QB = cap["rc"][0], cap["rc"][1]
            QAB = QB - QA
            qden = float(QAB @ QAB)
            tq = np.clip(((P - QA) @ QAB) / qden, 0.0, 1.0) if qden > 0 else np.zeros(len(P))
            dq = np.linalg.norm(P - (QA + tq[:, None] * QAB), axis=1) * px
            qlen2 = math.sqrt(qden) * px
            qsin = max(qlen2 / cap["len3"], 0.25) if cap["len3"] > 1e-9 else 1.0
            les = 2.0 * np.sqrt(np.maximum(cap["r"] ** 2 - dq * dq, 0.0)) / qsin
            rest = np.maximum(chord - les, 0.0)
            rest = np.where(rest < settings.defect_fraction * chord, 0.0, rest)
            cur = lesion_thick[k][block]
            lesion_thick[k][block] = np.maximum(cur, rest.reshape(cur.shape).astype(np.float32))
        else:
            cur = thick[block]
            thick[block] = np.maximum(cur, chord.reshape(cur.shape).astype(np.float32))
    for lt in lesion_thick:
        np.maximum(thick, lt, out=thick)

    from scipy.ndimage import gaussian_filter

    blurred = gaussian_filter(thick, sv.blur_px)
    edge = blurred > 0.2 * settings.threshold_mm
    noisy = blurred + np.where(edge, rng.normal(0.0, settings.edge_noise_mm, size=blurred.shape), 0.0)
    view.mask = noisy > settings.threshold_mm
    return thick


def _duct_rows_near(tree: DuctTree, node: Any, centre: np.ndarray, reach: float) -> np.ndarray:
    """Rows of the lesion's own duct (its root path and the main continuation below) within ``reach`` mm."""
    idx = tree.index
    rows = []
    cur = node
    while cur is not None:
        rows.append(idx[cur])
        cur = tree.parent(cur)
    cur = node
    while True:
        kids = tree.children(cur)
        if not kids:
            break
        cur = max(kids, key=lambda k: tree.nodes[k]["radius"])
        rows.append(idx[cur])
        if np.linalg.norm(tree.nodes[cur]["pos"] - centre) > reach + 5.0:
            break
    rows_a = np.asarray(rows, dtype=np.int64)
    close = np.linalg.norm(tree.positions[rows_a] - centre, axis=1) <= reach + 1.0
    return rows_a[close]


def simulate_ductogram(tree: DuctTree, lesions: list, seed: int = 0,
                       settings: DuctogramSettings | None = None, *,
                       orientation: dict[str, tuple[str, str]] | None = None) -> Ductogram:
    """Simulate a CC + lateral ductogram of one system of ``tree`` (see the module docs).

    ``orientation`` may override the hanging per view (``{"cc": ("A", "R")}``).
    Everything is drawn from ``seed``.
    """
    cfg = (settings or DuctogramSettings()).check()
    rng = np.random.default_rng([int(seed), 0xD0C7])
    lat = tree.laterality or "R"
    truth, defects, unfilled, system = opacified_tree(tree, lesions, rng, cfg)
    mag = float(rng.uniform(*cfg.magnification))
    det = float(rng.uniform(*cfg.detector_pixel_mm))
    px = det / mag
    delta = float(rng.uniform(-cfg.depth_scale, cfg.depth_scale))
    off = float(rng.uniform(-cfg.depth_offset_mm, cfg.depth_offset_mm))
    ramp = float(rng.uniform(*cfg.nipple_ramp_mm))
    orient = orientation or {}
    views = {}
    for kind, sign, vp in (("cc", 1.0, "CC"), ("lateral", -1.0, cfg.lateral_view)):
        geo = _view_geometry(kind, lat, px, mag, det, orient.get(kind), vp)
        sv = SimView(view=geo, depth_scale=1.0 + sign * delta, depth_offset_mm=sign * off, ramp_mm=ramp,
                     blur_px=float(rng.uniform(*cfg.blur_px)))
        render_view(truth, sv, defects, rng, cfg)
        views[kind] = sv
    return Ductogram(cc=views["cc"], lateral=views["lateral"], truth=truth, defects=defects, system=system,
                     laterality=lat, magnification=mag, detector_pixel_mm=det, settings=cfg, seed=int(seed),
                     unfilled=unfilled)


def simulate_biplane(case_dir: str | PathLike, tree: DuctTree, lesions: list, seed: int = 0, *,
                     png: bool = True, dicom: bool = True, settings: DuctogramSettings | None = None,
                     **options: Any) -> list[Path]:
    """The ``biplane`` simulator of :data:`ductree.phantom.simulate.SIMULATORS`.

    Writes into ``case_dir``: ``cc_mask.png`` and ``ml_mask.png`` (0/255
    masks; give ``--spacing`` = the detector pixel and ``--magnification``),
    ``cc.dcm`` and ``ml.dcm`` (the same masks as DICOM mammograms carrying
    Imager Pixel Spacing, Estimated Radiographic Magnification Factor, Image
    Laterality, View Position and Patient Orientation; dummy patient
    ``PHANTOM``), ``ductogram_truth.json`` (the opacified tree, BF mm),
    ``ductogram_sim.json`` (view parameters, nipple pixels, defects) and
    ``case_ductogram.toml`` (a case whose source is the DICOM pair).
    Options are :class:`DuctogramSettings` fields. Returns the paths written.
    """
    from pydicom.uid import generate_uid

    from ..atomic import write_text
    from ..io import write_tree
    from ..io.images2d import write_mask_dicom, write_mask_png
    from ..io.treejson import _plain
    from .case import case_toml_dict, case_toml_text

    cfg = settings or DuctogramSettings()
    if options:
        unknown = set(options) - set(DuctogramSettings.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown ductogram option(s) {sorted(unknown)}", key="simulate")
        cfg = replace(cfg, **options)
    sim = simulate_ductogram(tree, lesions, seed, cfg)
    folder = Path(case_dir)
    written: list[Path] = []
    if png:
        written.append(write_mask_png(sim.cc.view.mask, folder / CC_PNG))
        written.append(write_mask_png(sim.lateral.view.mask, folder / LAT_PNG))
    if dicom:
        study = generate_uid()
        for sv, name in ((sim.cc, CC_DCM), (sim.lateral, LAT_DCM)):
            v = sv.view
            written.append(write_mask_dicom(v.mask, folder / name, view_position=v.view_position or "CC",
                                            laterality=sim.laterality, orientation=v.orientation,
                                            imager_pixel_spacing_mm=sim.detector_pixel_mm,
                                            magnification=sim.magnification, study_uid=study,
                                            patient_id=f"PHANTOM-{int(seed)}"))
    truth = sim.truth.copy()
    written.append(write_tree(truth, folder / TRUTH_FILE))
    written.append(write_text(folder / SIM_FILE, json.dumps(_plain(sim.as_dict()), indent=1) + "\n"))
    if dicom:
        sys_lesions = [les for les in lesions if int(les.system) == sim.system]
        data = case_toml_dict(folder.name or "phantom", sim.laterality,
                              float(tree.graph.get("breast_depth_mm", 100.0)), sys_lesions)
        data["id"] = f"{data['id']}-ductogram"
        data["source"] = {"cc": CC_DCM, "lateral": LAT_DCM}
        written.append(write_text(folder / CASE_FILE, case_toml_text(data)))
    return written
