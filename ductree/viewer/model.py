"""What every viewer front end shows of one case, as plain data: the scene, the tables, the readings.

:class:`ViewerModel` is built once per case (:func:`load_model`) and shared by
the desktop window (:mod:`ductree.viewer.desktop`), the web application
(:mod:`ductree.viewer.web`) and the standalone HTML file
(:mod:`ductree.viewer.standalone`). It holds

- the :class:`~ductree.scene.Scene` (the same one the PNG views draw, with the
  breast-outline context turned on), restricted to the 3D views;
- the *centreline samples*: points every ``step_mm`` along every duct segment
  (BF mm) with, for each, the duct system, the branch generation and the
  distance along the duct from the orifice (``path_mm``); a click on the tree is
  snapped to the nearest sample (:meth:`ViewerModel.read_point`);
- the lesion table and the excision plan as rows of text;
- the groups the viewers toggle (``systems``, ``envelope``, ``labels``,
  ``context``) and which actors belong to each.

Everything is in the breast frame (BF, mm: ``+x`` patient's left, ``+y``
posterior, ``+z`` superior, origin at the nipple tip).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..case import Case
    from ..scene import Actor, Label, Scene
    from ..tree import DuctTree

#: The views an interactive viewer offers, in button order, with their key (desktop) and name.
VIEWER_VIEWS = ("cc", "lateral", "mlo", "front", "oblique")
VIEW_KEYS = {"c": "cc", "l": "lateral", "m": "mlo", "f": "front", "o": "oblique"}
VIEW_NAMES = {"cc": "CC", "lateral": "Lateral", "mlo": "MLO", "front": "Front", "oblique": "Oblique"}
#: The view a viewer opens on.
DEFAULT_VIEW = "front"
#: The toggles, with their default state and what they hide.
TOGGLES = {
    "systems": "duct systems that hold no lesion",
    "envelope": "the excision envelope, the central-excision zone and the incision",
    "labels": "text labels",
    "context": "breast outline, nipple-areola, rulers, chest wall, clock face",
}
#: A click farther than this (mm) from every duct centreline reads nothing.
SNAP_LIMIT_MM = 6.0

_ROLE_GROUP = {
    "tree": "tree", "tree-involved": "tree", "tree-spared": "tree", "uncertainty": "tree",
    "lesion": "lesion", "lesion-alt": "lesion",
    "envelope": "envelope", "zone": "envelope", "incision": "envelope",
    "guide": "context", "clock": "context", "context": "context", "orifice": "context", "ruler": "context",
}


@dataclass
class Reading:
    """What a click on the tree reads: the nearest duct-centreline point and where it is.

    Lengths in mm, position in BF. ``text`` is the one-line summary the
    viewers print.
    """

    point_bf: tuple[float, float, float]
    snap_mm: float
    system: int
    orifice_clock: str
    generation: int
    path_mm: float
    clock: str
    quadrant: str | None
    depth_mm: float
    depth_third: str | None
    fn_mm: float
    row: int

    @property
    def text(self) -> str:
        quad = f" ({self.quadrant})" if self.quadrant else ""
        third = f", {self.depth_third} third" if self.depth_third else ""
        return (f"{self.clock}{quad}, depth {self.depth_mm:.1f} mm{third}, fn {self.fn_mm:.1f} mm, "
                f"path {self.path_mm:.1f} mm along duct system {self.system} "
                f"({'orifice clock not known' if self.orifice_clock == '-' else 'orifice ' + self.orifice_clock}), "
                f"generation {self.generation}")

    def as_dict(self) -> dict:
        return {"point_bf": [round(float(v), 2) for v in self.point_bf], "snap_mm": round(self.snap_mm, 2),
                "system": self.system, "orifice_clock": self.orifice_clock, "generation": self.generation,
                "path_mm": round(self.path_mm, 1), "clock": self.clock, "quadrant": self.quadrant,
                "depth_mm": round(self.depth_mm, 1), "depth_third": self.depth_third, "fn_mm": round(self.fn_mm, 1),
                "text": self.text}


@dataclass
class Centreline:
    """Samples along every duct segment (BF mm) with what a reading needs, one entry per sample."""

    points: np.ndarray        #: (n, 3) BF mm
    rows: np.ndarray          #: (n,) tree row of the segment's child end
    system: np.ndarray        #: (n,) duct system id
    generation: np.ndarray    #: (n,) branch generation
    path_mm: np.ndarray       #: (n,) distance along the duct from the orifice


def centreline_samples(tree: "DuctTree", step_mm: float = 0.5) -> Centreline:
    """Sample every parent->child segment every ``step_mm`` (every node is a sample too).

    ``path_mm`` is interpolated along each segment from the parent's value, so
    a sample halfway along a 10 mm segment reads 5 mm more than its parent.
    Anastomosis edges are not sampled (they are not ducts of the spanning tree).
    """
    from .. import measures

    pos = np.asarray(tree.positions, dtype=float)
    par = tree.parent_index
    pm = measures.path_mm(tree)
    gen = measures.generation(tree)
    sysid = np.asarray(tree.system_ids)
    # t in (0, 1]: the child node is the last sample of its segment; the parent (a bifurcation belongs
    # to the branch that ends there) is sampled by its own segment, a root below.
    pts, rows, t, _ = measures.sample_segments(tree, step_mm, end_inclusive=True)
    path = pm[par[rows]] + measures.segment_length(tree)[rows] * t
    roots = np.flatnonzero(par < 0)
    all_rows = np.concatenate([rows, roots])
    return Centreline(
        points=np.vstack([pts, pos[roots]]),
        rows=all_rows.astype(np.int64),
        system=sysid[all_rows].astype(np.int64),
        generation=gen[all_rows].astype(np.int64),
        path_mm=np.concatenate([path, pm[roots]]).astype(float),
    )


@dataclass
class ViewerModel:
    """One case as the viewers show it (see the module docstring)."""

    case_id: str
    laterality: str
    scene: "Scene"
    tree: "DuctTree"
    located: list
    plans: list
    breast_depth_mm: float | None
    centreline: Centreline
    case_path: Path | None = None
    warnings: list[str] = field(default_factory=list)
    _kdtree: Any = field(default=None, repr=False)

    # ------------------------------------------------------------------ actors and groups

    def actors(self) -> list["Actor"]:
        """The scene's actors that belong in the 3D viewer (not the flat duct view)."""
        return [a for a in self.scene.actors if any(v in VIEWER_VIEWS for v in a.views)]

    def labels(self) -> list["Label"]:
        return [lab for lab in self.scene.labels if any(v in VIEWER_VIEWS for v in lab.views)]

    def group_of(self, actor: "Actor") -> str:
        """``tree``, ``lesion``, ``envelope`` or ``context``."""
        return _ROLE_GROUP.get(actor.role, "context")

    def system_of(self, actor: "Actor") -> int | None:
        """The duct system a tree actor draws (from its vertices' tree rows), else ``None``."""
        if self.group_of(actor) != "tree" or "row" not in actor.mesh.point_data:
            return None
        rows = np.asarray(actor.mesh.point_data["row"])
        if len(rows) == 0:
            return None
        return int(np.bincount(self.tree.system_ids[rows]).argmax())

    @property
    def lesion_systems(self) -> set[int]:
        """Duct systems that hold a placed lesion."""
        return {int(les.system) for les in self.located if les.located and les.system is not None}

    def visible(self, actor: "Actor", view: str, toggles: dict[str, bool]) -> bool:
        """Whether ``actor`` shows in ``view`` with these toggles (see :data:`TOGGLES`)."""
        if view not in actor.views:
            return False
        group = self.group_of(actor)
        if group == "envelope" and not toggles.get("envelope", True):
            return False
        if group == "context" and not toggles.get("context", True):
            return False
        if group == "tree" and not toggles.get("systems", True):
            s = self.system_of(actor)
            if self.lesion_systems and s not in self.lesion_systems:
                return False
        return True

    def label_visible(self, label: "Label", view: str, toggles: dict[str, bool]) -> bool:
        if view not in label.views or not toggles.get("labels", True):
            return False
        group = _ROLE_GROUP.get(label.role, "context")
        if group == "context" and not toggles.get("context", True):
            return False
        if group == "envelope" and not toggles.get("envelope", True):
            return False
        return True

    # ------------------------------------------------------------------ readings

    def read_point(self, point_bf: Sequence[float], *, limit_mm: float | None = SNAP_LIMIT_MM) -> Reading | None:
        """Snap a BF point (mm) to the nearest duct-centreline sample and describe it.

        Returns ``None`` when the nearest centreline is farther than ``limit_mm``.
        """
        from scipy.spatial import cKDTree

        from ..frame import format_clock, locate_point

        p = np.asarray(point_bf, dtype=float).reshape(3)
        if not np.all(np.isfinite(p)):
            return None
        if self._kdtree is None:
            self._kdtree = cKDTree(self.centreline.points)
        dist, i = self._kdtree.query(p, k=1)
        if limit_mm is not None and dist > limit_mm:
            return None
        c = self.centreline
        q = c.points[i]
        loc = locate_point(q, self.laterality, self.breast_depth_mm)
        s = int(c.system[i])
        root = self.tree.root_of_system(s)
        return Reading(
            point_bf=(float(q[0]), float(q[1]), float(q[2])), snap_mm=float(dist), system=s,
            orifice_clock=format_clock(self.tree.nodes[root].get("orifice_clock"), half_hour=True),
            generation=int(c.generation[i]), path_mm=float(c.path_mm[i]), clock=loc.clock_half_hour,
            quadrant=loc.quadrant, depth_mm=float(loc.depth_mm), depth_third=loc.depth_third,
            fn_mm=float(loc.fn_mm), row=int(c.rows[i]))

    # ------------------------------------------------------------------ tables

    def lesion_rows(self) -> list[dict]:
        """One dict of display strings per lesion (placed, ambiguous or unplaced)."""
        from ..frame import format_clock

        out = []
        for les in self.located:
            def num(v: float | None, fmt: str = ".0f") -> str:
                return "-" if v is None else format(float(v), fmt)
            out.append({
                "label": les.label, "kind": les.kind, "size_mm": num(les.size_mm, ".1f"), "status": les.status,
                "system": "-" if les.system is None else str(les.system),
                "orifice": "-" if les.orifice_clock is None else format_clock(les.orifice_clock, half_hour=True),
                "clock": les.clock_half_hour or "-", "quadrant": les.quadrant or "-",
                "depth_mm": num(les.depth_mm), "third": les.depth_third or "-", "fn_mm": num(les.fn_mm),
                "path_mm": num(les.path_mm), "note": "" if les.located else les.reason,
            })
        return out

    def plan_rows(self) -> list[dict]:
        """One dict per excision plan: ``title`` and ``items`` (list of ``[item, value]``)."""
        from ..frame import orifice_text

        out = []
        for p in self.plans:
            s, c, inc, env = p.spared, p.central, p.incision, p.envelope
            title = f"System {p.system} ({orifice_text(p.orifice_clock, half_hour=True)}): {', '.join(p.lesions)}"
            if p.status == "ambiguous":
                title += " (ambiguous placement)"
            zone = f"{c['central_excision_mm']:g} mm central excision"
            if c["reaches_lesion"] and c["reaches_subtree"]:
                central = f"a {zone} reaches the lesion and its subtree"
            elif c["reaches_lesion"]:
                central = f"a {zone} reaches the lesion but leaves its subtree ({c['subtree_shortfall_mm']:.0f} mm short)"
            else:
                central = f"a {zone} misses the lesion by {c['lesion_shortfall_mm']:.0f} mm"
            items = [
                ["involved duct", f"{p.involved_path_mm:.0f} mm from the orifice to the lesion"],
                ["envelope", f"{env.volume_ml:.2f} mL, margin {p.margin_mm:g} mm"],
                ["removed", f"{100 * s['length_removed_fraction']:.0f}% of duct length, "
                            f"{s['tips_removed']} of {s['tips_total']} terminal branches"],
                ["spared", f"{s['systems_kept_intact']} of {s['systems_total']} systems intact"],
                ["central", central],
                ["incision", f"periareolar at {inc['centre_clock_text']} ({inc['arc_deg']:.0f} deg)"],
            ]
            items += [["warning", w] for w in p.warnings]
            out.append({"title": title, "items": items})
        return out

    def legend_rows(self, view: str = DEFAULT_VIEW) -> list[dict]:
        return [{"text": e.text, "color": e.color} for e in self.scene.legend_in(view)]


def scene_options_for_viewer(case: "Case", **overrides: Any):
    """The case's scene options with the viewer's defaults (breast outline on, model surfaces)."""
    from ..scene import scene_options

    kw = {"breast_outline": True, "mesher": "model"}  # close-ups deserve the watertight surfaces
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return scene_options(case, **kw)


def load_model(case_or_path: "Case | str | PathLike", *, mesher: str | None = None,
               color_by: str | None = None, step_mm: float = 0.5) -> ViewerModel:
    """Load a case (a ``case.toml``, its folder, or a :class:`~ductree.case.Case`), place and plan its
    lesions, and build what the viewers show. Bad input raises :class:`InputError`."""
    from ..case import Case, load_case
    from ..scene import build_scene, prepare_case

    case = case_or_path if isinstance(case_or_path, Case) else load_case(case_or_path)
    tree, located, plans = prepare_case(case)
    try:
        options = scene_options_for_viewer(case, mesher=mesher, color_by=color_by)
    except InputError as exc:
        raise InputError(exc.message, key=f"--{exc.key.replace('_', '-')}" if exc.key else None) from None
    from ..report import collect_warnings

    scene = build_scene(case, located, plans, options)
    # the report's warnings (placement, plans, fusion, cut-off scope ends, an uncertain ductogram rebuild),
    # then what only the views add (a lesion not drawn)
    warnings = collect_warnings(case, tree, located, plans)
    warnings += [w for w in scene.warnings if w not in warnings]
    return ViewerModel(case_id=case.id, laterality=case.laterality, scene=scene, tree=tree, located=list(located),
                       plans=list(plans), breast_depth_mm=case.breast_depth_mm,
                       centreline=centreline_samples(tree, step_mm), case_path=case.path,
                       warnings=warnings)
