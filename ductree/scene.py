"""What a planning view draws: meshes, colours, labels, envelope, clock face, rulers.

:func:`build_scene` turns a case (or a bare tree) plus its located lesions and
excision plan into a :class:`Scene`: plain data (polydata in mm, colours,
opacities, text anchors) that any renderer can draw. The offscreen views
(:mod:`ductree.render`) and the interactive viewer share it, so what is drawn
is decided, and tested, in one place.

Geometry is in the breast frame (BF, mm: ``+x`` patient's left, ``+y``
posterior, ``+z`` superior, origin at the nipple tip), except for the actors
of the ``duct`` view, which live in that view's own flat frame (``x`` = path
distance along the duct from its orifice in mm, ``y`` = radius, exaggerated).

The cameras of the standard views are defined here too (:func:`view_camera`),
as pure numpy, so where a BF point lands in each image is testable without a
renderer:

- ``cc``: seen from above, hung as radiologists hang a CC: the lateral side
  up (the patient's right, ``-x``, at the top of a right breast's image,
  ``+x`` on a left breast), the nipple toward one side and the chest wall
  toward the other (right breast: chest wall on the image's right).
- ``lateral``: a true lateral, superior up. ``ML`` looks from medial to
  lateral (the standard view: right breast chest wall on the right, as the
  CC); ``LM`` looks from lateral to medial, so its image is the mirror.
- ``mlo``: the ML rotated about the nipple axis by ``mlo_angle_deg`` (45 by
  default) toward the CC: the beam runs superomedial to inferolateral and the
  axilla (superolateral) is up.
- ``front``: coronal, seen by someone facing the patient: superior up and the
  patient's left (3 o'clock) on the viewer's right, with a clock face.
- ``oblique``: a perspective overview from anterior, lateral and above.
- ``duct``: the involved duct straightened, from its orifice (left) to its
  deepest end (right), radius exaggerated, with depth ticks from the nipple.

Framing is fixed in mm (``fov_mm``, a standard breast box), never fitted to
one case, so views of different cases compare side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from .errors import InputError
from .frame import AREOLA_RADIUS_MM, clock_of_point, clock_to_direction, format_clock, orifice_text, parse_laterality

if TYPE_CHECKING:  # pragma: no cover
    import pyvista as pv

    from .case import Case
    from .lesions import LocatedLesion
    from .plan import ExcisionPlan
    from .tree import DuctTree

#: The standard views, in the order they are rendered.
VIEWS = ("cc", "lateral", "mlo", "front", "oblique", "duct")
#: Views with a parallel (mammogram-like) projection and a fixed mm scale.
PARALLEL_VIEWS = ("cc", "lateral", "mlo", "front", "duct")
#: Views that show the 3D breast (every view but the straightened duct).
BREAST_VIEWS = ("cc", "lateral", "mlo", "front", "oblique")
#: Views with a depth axis in the image plane (they get the depth ruler and chest-wall line).
DEPTH_VIEWS = ("cc", "lateral", "mlo")
COLOR_BY = ("system", "generation", "radius", "involvement")

#: Letters of the BF axes on image edges: +x L(eft), +y P(osterior), +z S(uperior).
_AXIS_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))

# Colour-blind-friendly palette for duct systems (no pure red: red is for lesions).
SYSTEM_PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#56B4E9", "#CC79A7", "#8C564B",
    "#17BECF", "#BCBD22", "#9467BD", "#7F7F7F", "#1B9E77", "#D95F02",
)
# Lesions are reds and magentas only: an orange or brown lesion vanishes on the involved duct
# (INVOLVED_PATH_COLOR) and on the orange duct systems.
LESION_COLORS = {
    "papilloma": "#D7191C", "dcis": "#C51B7D", "ectasia": "#9E0142", "stenosis": "#B2182B",
    "debris": "#67001F", "other": "#D7191C",
}
INVOLVED_PATH_COLOR = "#E8590C"    # the duct from the orifice to the lesion
INVOLVED_TREE_COLOR = "#F6A04D"    # the subtree the excision takes
SPARED_COLOR = "#A9B4C2"           # spared ducts in the involvement colouring
ENVELOPE_COLOR = "#2A9D8F"
CENTRAL_COLOR = "#6C757D"
GUIDE_COLOR = "#222222"
CLOCK_COLOR = "#333333"
INCISION_COLOR = "#7B2CBF"
NIPPLE_COLOR = "#3B3B3B"
UNCERTAIN_COLOR = "#8E8AC4"        # the halo round ducts whose position is uncertain (not a duct colour)
#: Ducts whose nodes carry ``pos_sigma_mm`` of at least this (1 SD, mm) get the uncertainty halo.
UNCERTAIN_SIGMA_MM = 1.0
HALO_SMOOTH_NODES = 5              # the halo follows the mean sigma over this many nodes of a branch
HALO_SPACING_MM = 0.4              # grid of the halo's skin


# --------------------------------------------------------------------------- options

@dataclass
class SceneOptions:
    """How a scene is drawn. Lengths in mm.

    ``color_by`` is one of ``system``, ``generation``, ``radius``,
    ``involvement``; ``colormap`` a matplotlib colormap name for generation
    and radius (default ``viridis``). ``fov_mm`` is the fixed field of view
    (the shorter image side) of the CC, lateral and MLO views and
    ``front_fov_mm`` that of the front view (wider, to fit the clock face
    beside the legend); ``depth_center_mm`` the
    depth at the centre of the CC, lateral and MLO images (so the nipple
    sits ``depth_center_mm`` from the middle). ``spared_opacity`` and
    ``fade`` apply to ducts outside the excision when a plan exists.
    """

    color_by: str = "system"
    colormap: str | None = None
    fov_mm: float = 160.0
    front_fov_mm: float = 190.0
    depth_center_mm: float = 56.0
    lateral_view: str = "ML"
    mlo_angle_deg: float = 45.0
    quality: str = "draft"
    #: ``tubes`` (default for views): one VTK tube per branch, much faster and indistinguishable at
    #: view scale; ``model``: the watertight per-system surfaces of :func:`ductree.mesh.tree_to_mesh`
    #: (what is printed and exported).
    mesher: str = "tubes"
    tube_sides: int = 10
    central_excision_mm: float = 30.0
    central_radius_mm: float = AREOLA_RADIUS_MM
    ruler_mm: float = 100.0
    spared_opacity: float = 1.0
    fade: float = 0.68
    envelope_opacity: float = 0.3
    central_opacity: float = 0.07
    envelope_spacing_mm: float = 1.0
    duct_exaggeration: float = 4.0
    clock_radius_mm: float = 55.0
    #: Draw the context templates of :mod:`ductree.mesh` (the breast outline, the nipple–areola),
    #: translucent, role ``context``. Off by default (the planning PNGs do not show them); the
    #: interactive viewers turn it on.
    breast_outline: bool = False
    breast_outline_opacity: float = 0.1
    #: Draw a translucent halo, radius + 1 SD, round ducts placed no better than ``UNCERTAIN_SIGMA_MM``
    #: (``pos_sigma_mm``: ductogram branches the readings disagree on or seen in one view, dead-reckoned
    #: scope paths). Trees without position uncertainties draw none.
    uncertainty: bool = True
    uncertainty_opacity: float = 0.22

    def check(self) -> "SceneOptions":
        if self.color_by not in COLOR_BY:
            raise InputError(f"must be one of {', '.join(COLOR_BY)}, got {self.color_by!r}", key="color_by")
        if self.lateral_view not in ("ML", "LM"):
            raise InputError(f"must be 'ML' or 'LM', got {self.lateral_view!r}", key="lateral_view")
        if not self.fov_mm > 0:
            raise InputError(f"must be > 0, got {self.fov_mm!r}", key="fov_mm")
        if not 0 < self.mlo_angle_deg < 90:
            raise InputError(f"must be in (0, 90) degrees, got {self.mlo_angle_deg!r}", key="mlo_angle_deg")
        if self.colormap is not None:
            _colormap(self.colormap)
        if self.mesher not in ("model", "tubes"):
            raise InputError(f"must be model or tubes, got {self.mesher!r}", key="mesher")
        return self


def check_views(views: Iterable[str], *, key: str = "views") -> tuple[str, ...]:
    """Validate view names; raise :class:`InputError` naming the first unknown one."""
    out = []
    for v in views:
        v = str(v).strip()
        if v not in VIEWS:
            raise InputError(f"unknown view {v!r}; use {', '.join(VIEWS)}", key=key)
        if v not in out:
            out.append(v)
    if not out:
        raise InputError("no views given", key=key)
    return tuple(out)


# --------------------------------------------------------------------------- cameras

@dataclass(frozen=True)
class ViewCamera:
    """The camera of one standard view, in BF mm (or the duct view's own frame).

    ``direction`` points from the camera into the scene, ``up`` is the image's
    up, and ``right = direction x up`` is the image's right. A parallel view
    has ``parallel_scale`` = half the image height in mm; a perspective view
    has ``parallel_scale = None`` and a vertical ``view_angle_deg``.
    """

    view: str
    title: str
    laterality: str
    direction: tuple[float, float, float]
    up: tuple[float, float, float]
    focal: tuple[float, float, float]
    size: tuple[int, int]
    parallel_scale: float | None
    view_angle_deg: float = 30.0
    distance: float = 600.0

    @property
    def d(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=float)

    @property
    def u(self) -> np.ndarray:
        return np.asarray(self.up, dtype=float)

    @property
    def r(self) -> np.ndarray:
        """Image right, ``direction x up``."""
        return np.cross(self.d, self.u)

    @property
    def position(self) -> np.ndarray:
        return np.asarray(self.focal, dtype=float) - self.distance * self.d

    @property
    def pixels_per_mm(self) -> float:
        """Image pixels per mm in the focal plane."""
        h = self.size[1]
        if self.parallel_scale is not None:
            return h / (2.0 * self.parallel_scale)
        return h / (2.0 * self.distance * math.tan(math.radians(self.view_angle_deg) / 2.0))

    def apply_to(self, vtk_camera: Any) -> None:
        """Set a ``vtkCamera`` to this view (focal point, position, up, projection, clipping)."""
        vtk_camera.SetFocalPoint(*self.focal)
        vtk_camera.SetPosition(*self.position)
        vtk_camera.SetViewUp(*self.up)
        if self.parallel_scale is not None:
            vtk_camera.ParallelProjectionOn()
            vtk_camera.SetParallelScale(self.parallel_scale)
        else:
            vtk_camera.ParallelProjectionOff()
            vtk_camera.SetViewAngle(self.view_angle_deg)
        vtk_camera.SetClippingRange(1.0, self.distance * 3.0)

    def project(self, points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """Pixel coordinates ``(column, row)`` of points, row 0 at the image top (PNG order).

        Column grows to the image's right, row downward. Points behind a
        perspective camera get ``nan``.
        """
        p = np.atleast_2d(np.asarray(points, dtype=float))
        w, h = self.size
        if self.parallel_scale is not None:
            q = p - np.asarray(self.focal, dtype=float)
            k = h / (2.0 * self.parallel_scale)
            x, y = q @ self.r * k, q @ self.u * k
        else:
            q = p - self.position
            z = q @ self.d
            k = (h / 2.0) / math.tan(math.radians(self.view_angle_deg) / 2.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(z > 1e-9, (q @ self.r) / z * k, np.nan)
                y = np.where(z > 1e-9, (q @ self.u) / z * k, np.nan)
        return np.column_stack([w / 2.0 + x - 0.5, h / 2.0 - y - 0.5])

    def mm_at(self, point: Sequence[float]) -> float:
        """Pixels per mm at a point (differs from :attr:`pixels_per_mm` only in perspective)."""
        if self.parallel_scale is not None:
            return self.pixels_per_mm
        z = float((np.asarray(point, dtype=float) - self.position) @ self.d)
        k = (self.size[1] / 2.0) / math.tan(math.radians(self.view_angle_deg) / 2.0)
        return k / max(z, 1e-6)

    def edge_letters(self) -> dict[str, str]:
        """Orientation letters for the image edges: ``top``, ``bottom``, ``left``, ``right``.

        Each is the patient direction the edge faces (R/L, A/P, S/I), with a
        second letter when the direction is oblique (e.g. ``SR`` for the axilla
        of a right MLO). Empty for the duct view (not a patient frame).
        """
        if self.view == "duct":
            return {"top": "", "bottom": "", "left": "", "right": ""}
        return {"top": _letters(self.u), "bottom": _letters(-self.u),
                "right": _letters(self.r), "left": _letters(-self.r)}


def _letters(v: np.ndarray) -> str:
    # Largest component first; on a tie S/I before R/L before A/P (so a right MLO's top reads "SR").
    order = sorted(range(3), key=lambda i: (-round(abs(float(v[i])), 6), (2, 0, 1).index(i)))
    out = []
    for i in order[:2]:
        if abs(v[i]) >= 0.38:
            out.append(_AXIS_LETTERS[i][0 if v[i] > 0 else 1])
    return "".join(out)


def view_camera(view: str, laterality: str, *, size: tuple[int, int] = (1024, 1024),
                options: SceneOptions | None = None, duct_span_mm: float | None = None,
                duct_rows: int = 1) -> ViewCamera:
    """The fixed camera of a standard view for one breast (see the module docstring).

    Parameters
    ----------
    view : str
        One of :data:`VIEWS`.
    laterality : {"L", "R"}
        The breast; it decides which image side is lateral.
    size : (width, height)
        Image size in pixels. The field of view ``options.fov_mm`` fits the
        shorter side.
    duct_span_mm : float, optional
        Length of the longest straightened duct (duct view only).
    duct_rows : int
        Number of straightened ducts stacked in the duct view.
    """
    opt = options or SceneOptions()
    lat = parse_laterality(laterality)
    view = check_views([view])[0]
    s = -1.0 if lat == "R" else 1.0          # sign of x toward the lateral side
    w, h = int(size[0]), int(size[1])
    half = opt.fov_mm / 2.0 * max(1.0, h / w)  # fov fits the shorter side
    yc = opt.depth_center_mm
    if view in ("cc", "mlo", "lateral"):
        # Tube angle from vertical: 0 = CC (beam down), 90 = ML (beam medial -> lateral).
        a = {"cc": 0.0, "mlo": opt.mlo_angle_deg, "lateral": 90.0}[view]
        ar = math.radians(a)
        d = np.array([s * math.sin(ar), 0.0, -math.cos(ar)])
        u = np.array([s * math.cos(ar), 0.0, math.sin(ar)])
        title = {"cc": "CC", "mlo": "MLO", "lateral": "ML"}[view]
        if view == "lateral" and opt.lateral_view == "LM":
            d, title = -d, "LM"
        return ViewCamera(view, f"{lat} {title}", lat, _t(d), _t(u), (0.0, yc, 0.0), (w, h), half)
    if view == "front":
        half_f = opt.front_fov_mm / 2.0 * max(1.0, h / w)
        return ViewCamera(view, f"{lat} front", lat, (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (0.0, 0.0, 0.0), (w, h), half_f)
    if view == "oblique":
        pos = np.array([0.55 * s, -0.78, 0.42])
        d = -pos / np.linalg.norm(pos)
        u = np.array([0.0, 0.0, 1.0]) - d[2] * d
        u /= np.linalg.norm(u)
        angle = 30.0
        dist = (opt.fov_mm * 0.55) / math.tan(math.radians(angle) / 2.0)
        return ViewCamera(view, f"{lat} 3D", lat, _t(d), _t(u), (0.0, 40.0, 0.0), (w, h), None, angle, dist)
    # duct: the flat frame, x = path mm from the orifice, y = exaggerated radius.
    span = max(120.0, 10.0 * math.ceil(float(duct_span_mm or 0.0) / 10.0) + 20.0)
    half_d = max(span / 2.0 * h / w, (duct_rows * DUCT_ROW_PITCH_MM + 40.0) / 2.0)
    return ViewCamera(view, f"{lat} duct", lat, (0.0, 0.0, -1.0), (0.0, 1.0, 0.0),
                      (span / 2.0 - 10.0, 0.0, 0.0), (w, h), half_d)


def _t(v: np.ndarray) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


# --------------------------------------------------------------------------- scene data

@dataclass
class Actor:
    """One thing to draw: a polydata (mm) with its look, in some views.

    ``rgb`` names a ``uint8`` (n, 3) point array of colours; otherwise the
    whole actor has ``color``. ``style`` is ``surface`` or ``lines``
    (``line_width`` in pixels at 1024 px image height). ``lighting=False`` for
    guides that should look flat.
    """

    name: str
    mesh: "pv.PolyData"
    views: tuple[str, ...]
    role: str
    color: str | None = None
    rgb: str | None = None
    opacity: float = 1.0
    style: str = "surface"
    line_width: float = 1.0
    lighting: bool = True
    #: 0 = the breast; 1 = the highlight drawn over it (involved ducts, lesions), always visible.
    layer: int = 0


@dataclass
class Label:
    """A text anchored at a point (mm) in some views.

    ``avoid_mm`` > 0 asks the renderer to place the text clear of a disc of
    that radius around the anchor (a lesion) and draw a leader line to it;
    otherwise the text is centred at the anchor moved by ``offset_px``
    (x right, y up, pixels at 1024 px image height). With ``grow_from`` (a
    point, mm) the text also moves sideways by half its width times the
    sideways part of the direction from that point to the anchor: a label
    outside a ring keeps its near end at the anchor instead of reaching back
    over the ring (see :func:`outward_shift`).
    """

    text: str
    anchor: tuple[float, float, float]
    views: tuple[str, ...]
    role: str
    color: str = GUIDE_COLOR
    size: float = 1.0
    avoid_mm: float = 0.0
    offset_px: tuple[float, float] = (0.0, 0.0)
    bold: bool = False
    box: bool = False
    grow_from: tuple[float, float, float] | None = None


def outward_shift(anchor_px: Sequence[float], from_px: Sequence[float], width_px: float) -> float:
    """Sideways shift (pixels, + right) of a label of ``width_px`` centred at ``anchor_px`` so that it
    grows away from ``from_px``: half its width times the sideways part of the unit direction."""
    d = np.asarray(anchor_px, dtype=float) - np.asarray(from_px, dtype=float)
    n = float(np.hypot(d[0], d[1]))
    return 0.0 if n < 1e-9 else 0.5 * width_px * float(d[0]) / n


@dataclass
class LegendEntry:
    text: str
    color: str
    views: tuple[str, ...] = BREAST_VIEWS


@dataclass
class Scene:
    """Everything a planning view draws, as plain data (see the module docstring)."""

    case_id: str
    laterality: str
    options: SceneOptions
    actors: list[Actor] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unplaced: list[tuple[str, str]] = field(default_factory=list)   #: (label, why) of lesions not drawn
    duct_span_mm: float = 0.0
    duct_rows: int = 1
    #: BF positions of every tree node (for label placement and tests).
    tree_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    #: Located lesions: label, BF centre, radius (mm), clock, depth, colour.
    lesions: list[dict] = field(default_factory=list)

    def camera(self, view: str, size: tuple[int, int] = (1024, 1024)) -> ViewCamera:
        """The camera of ``view`` for this scene's breast at this image size."""
        return view_camera(view, self.laterality, size=size, options=self.options, duct_span_mm=self.duct_span_mm,
                           duct_rows=self.duct_rows)

    def actors_in(self, view: str) -> list[Actor]:
        return [a for a in self.actors if view in a.views]

    def labels_in(self, view: str) -> list[Label]:
        return [lab for lab in self.labels if view in lab.views]

    def legend_in(self, view: str) -> list[LegendEntry]:
        return [e for e in self.legend if view in e.views]

    def actor(self, name: str) -> Actor:
        for a in self.actors:
            if a.name == name:
                return a
        raise KeyError(name)


# --------------------------------------------------------------------------- colours

def hex_to_rgb(color: str) -> np.ndarray:
    """``"#RRGGBB"`` -> uint8 (3,)."""
    c = color.lstrip("#")
    return np.array([int(c[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.uint8)


def rgb_to_hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{int(round(float(v))):02X}" for v in rgb[:3])


def _colormap(name: str):
    try:
        import matplotlib

        return matplotlib.colormaps[name]
    except (KeyError, ValueError):
        raise InputError(f"unknown colormap {name!r} (a matplotlib colormap name, e.g. viridis)",
                         key="colormap") from None


def system_color(system: int) -> str:
    return SYSTEM_PALETTE[int(system) % len(SYSTEM_PALETTE)]


#: At most this many other candidates of an ambiguous lesion are drawn.
MAX_ALTERNATIVES = 3
#: Radius bins (mm) for colouring by radius.
RADIUS_BINS_MM = (0.0, 0.2, 0.35, 0.5, 0.75, 1.0, np.inf)
#: Generation classes for colouring by generation (the last is open-ended).
GENERATION_CLASSES = 9


def row_colors(tree: "DuctTree", color_by: str, *, colormap: str | None = None,
               involved_rows: np.ndarray | None = None, path_rows: np.ndarray | None = None
               ) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """RGB colour (uint8, rows of the tree) and legend entries ``(text, hex)`` for a colouring.

    ``system`` colours by duct system; ``generation`` by branch generation
    (classes 0..7 and 8+); ``radius`` by radius bins (:data:`RADIUS_BINS_MM`);
    ``involvement`` paints the duct from the orifice to a lesion
    (``path_rows``), the rest of the subtree to be excised
    (``involved_rows``) and the spared ducts in three colours.
    """
    from . import measures

    n = tree.number_of_nodes()
    if color_by == "system":
        sysids = tree.system_ids
        pal = np.stack([hex_to_rgb(c) for c in SYSTEM_PALETTE])
        colors = pal[sysids % len(SYSTEM_PALETTE)]
        legend = []
        for r in tree.roots():
            s = int(tree.nodes[r]["system"])
            clock = tree.nodes[r].get("orifice_clock")
            legend.append((f"system {s}, {orifice_text(clock, half_hour=True)}", system_color(s)))
        return colors, legend
    if color_by == "generation":
        gen = np.minimum(measures.generation(tree), GENERATION_CLASSES - 1)
        cmap = _colormap(colormap or "viridis")
        lut = np.stack([hex_to_rgb(rgb_to_hex(np.asarray(cmap(k / (GENERATION_CLASSES - 1))) * 255))
                        for k in range(GENERATION_CLASSES)])
        legend = [(f"generation {k}" + ("+" if k == GENERATION_CLASSES - 1 else ""), rgb_to_hex(lut[k]))
                  for k in range(int(gen.max()) + 1)]
        return lut[gen], legend
    if color_by == "radius":
        bins = np.asarray(RADIUS_BINS_MM)
        k = np.clip(np.searchsorted(bins, tree.radii, side="right") - 1, 0, len(bins) - 2)
        cmap = _colormap(colormap or "viridis")
        nb = len(bins) - 1
        lut = np.stack([hex_to_rgb(rgb_to_hex(np.asarray(cmap(i / (nb - 1))) * 255)) for i in range(nb)])
        legend = []
        for i in range(nb):
            lo, hi = bins[i], bins[i + 1]
            text = f"radius >= {lo:g} mm" if not np.isfinite(hi) else f"radius {lo:g}-{hi:g} mm"
            legend.append((text, rgb_to_hex(lut[i])))
        return lut[k], legend
    if color_by == "involvement":
        colors = np.tile(hex_to_rgb(SPARED_COLOR), (n, 1))
        legend = [("spared ducts", SPARED_COLOR)]
        if involved_rows is not None and len(involved_rows):
            colors[involved_rows] = hex_to_rgb(INVOLVED_TREE_COLOR)
            legend.insert(0, ("subtree to excise", INVOLVED_TREE_COLOR))
        if path_rows is not None and len(path_rows):
            colors[path_rows] = hex_to_rgb(INVOLVED_PATH_COLOR)
            legend.insert(0, ("involved duct", INVOLVED_PATH_COLOR))
        return colors, legend
    raise InputError(f"must be one of {', '.join(COLOR_BY)}, got {color_by!r}", key="color_by")


# --------------------------------------------------------------------------- tree meshes

def scene_meshes(tree: "DuctTree", *, quality: str = "draft", sides: int = 10,
                 mesher: str = "model") -> list[tuple[str, "pv.PolyData"]]:
    """Surface meshes of the tree for the views: ``[(name, polydata)]``, BF mm.

    Every mesh carries an integer point array ``row``: the tree row (see
    :attr:`DuctTree.node_ids`) each vertex belongs to, which the scene uses
    to colour and split the surface. This is the one place that decides how
    the ducts are meshed for the pictures.
    """
    if mesher == "model":
        meshes = _mesh_from_package(tree, quality)
        if meshes is not None:
            return meshes
    elif mesher != "tubes":
        raise InputError(f"must be model or tubes, got {mesher!r}", key="mesher")
    return _tube_meshes(tree, sides=sides)


def _mesh_from_package(tree: "DuctTree", quality: str):
    """Per-system surfaces from :func:`ductree.mesh.tree_to_mesh` (``None`` if that is unavailable)."""
    try:
        from .mesh import tree_to_mesh
    except ImportError:
        return None
    import pyvista as pv

    bodies = tree_to_mesh(tree, quality=quality, workers=1)
    out = []
    for body in bodies.by_kind("system"):
        v = np.asarray(body.mesh.vertices, dtype=float)
        f = np.asarray(body.mesh.faces, dtype=np.int64)
        poly = pv.PolyData(v, np.column_stack([np.full(len(f), 3), f]).ravel())
        poly.point_data["row"] = vertex_rows(tree, v)
        poly = poly.compute_normals(cell_normals=False, split_vertices=False, auto_orient_normals=False)
        out.append((body.name, poly))
    return out


def vertex_rows(tree: "DuctTree", points: np.ndarray, *, step_mm: float = 0.4) -> np.ndarray:
    """The tree row nearest each surface vertex (nearest point on the centreline, sampled)."""
    from scipy.spatial import cKDTree

    from .measures import sample_segments

    pos = tree.positions
    samples, sample_rows, _, _ = sample_segments(tree, step_mm)
    allpts = np.vstack([pos, samples])
    allrows = np.concatenate([np.arange(len(pos)), sample_rows])
    _, idx = cKDTree(allpts).query(np.asarray(points, dtype=float), k=1)
    return allrows[idx].astype(np.int64)


def _tube_meshes(tree: "DuctTree", *, sides: int = 10) -> list[tuple[str, "pv.PolyData"]]:
    """One tube surface per duct system, following every branch with its radius (vtkTubeFilter)."""
    import pyvista as pv
    from vtkmodules.vtkFiltersCore import vtkTubeFilter

    from .measures import branches

    br = branches(tree)
    pos = tree.positions
    rad = tree.radii
    out = []
    for s in tree.systems():
        rows_list = [b.rows for b in br if b.system == s and len(b.rows) >= 2]
        if not rows_list:
            continue
        rows = np.concatenate(rows_list)
        lens = np.array([len(r) for r in rows_list])
        offsets = np.cumsum(lens) - lens
        cells = np.concatenate([np.concatenate([[n], o + np.arange(n)]) for n, o in zip(lens, offsets)])
        poly = pv.PolyData(pos[rows].astype(float), lines=cells.astype(np.int64))
        poly.point_data["radius"] = rad[rows].astype(float)
        poly.point_data["row"] = rows.astype(np.int64)
        poly.point_data.active_scalars_name = "radius"
        tube = vtkTubeFilter()
        tube.SetInputData(poly)
        tube.SetNumberOfSides(int(sides))
        tube.SetVaryRadiusToVaryRadiusByAbsoluteScalar()
        tube.SetCapping(True)
        tube.Update()
        mesh = pv.wrap(tube.GetOutput())
        mesh.point_data.remove("radius") if "radius" in mesh.point_data else None
        out.append((f"system{s}", mesh.triangulate()))
    return out


def uncertainty_halo(tree: "DuctTree", *, min_sigma_mm: float = UNCERTAIN_SIGMA_MM) -> "pv.PolyData | None":
    """A translucent skin of radius ``radius + pos_sigma_mm`` round every run of nodes with
    ``pos_sigma_mm >= min_sigma_mm`` (BF mm; point array ``row`` as in :func:`scene_meshes`), or ``None``
    when no node is that uncertain (or the tree carries no uncertainties).

    Each run starts at the last certain node before it; the halo is one smooth skin
    (:func:`envelope_mesh`) round capsules of radius ``radius + sigma``."""
    from .measures import branches

    sigma = np.array([float(tree.nodes[n].get("pos_sigma_mm") or 0.0) for n in tree.node_ids])
    if not (sigma >= min_sigma_mm).any():
        return None
    from scipy.ndimage import binary_closing, binary_opening, uniform_filter1d

    runs = []
    for br in branches(tree):
        rows = np.asarray(br.rows)
        if len(rows) < 2:
            continue
        # node sigmas flicker about the threshold; the halo follows their mean over ~2 mm of duct and
        # ignores runs and gaps of a node or two (a halo bead would read as a mass)
        sm = uniform_filter1d(sigma[rows], size=HALO_SMOOTH_NODES, mode="nearest")
        flag = np.zeros(len(rows) + 2, dtype=bool)
        flag[1:-1] = sm >= min_sigma_mm
        flag = binary_opening(binary_closing(flag, np.ones(3, bool)), np.ones(3, bool))[1:-1]
        flag[0] = False                                   # the junction belongs to the parent branch
        k = 1
        while k < len(rows):
            if not flag[k]:
                k += 1
                continue
            j = k
            while j < len(rows) and flag[j]:
                j += 1
            runs.append((rows[k - 1:j], sm[k - 1:j]))     # from the node before the run
            k = j
    if not runs:
        return None
    # one smooth skin round capsules of radius + sigma (a tube filter folds where the halo is wider
    # than the duct's bend)
    pos, rad = tree.positions, tree.radii
    caps = [(pos[i], pos[j], float(max(rad[i] + si, rad[j] + sj)))
            for run, sm in runs for i, j, si, sj in zip(run[:-1], run[1:], sm[:-1], sm[1:])]
    mesh = envelope_mesh([], caps, spacing_mm=HALO_SPACING_MM)
    if mesh is None:
        return None
    mesh.point_data["row"] = vertex_rows(tree, np.asarray(mesh.points, dtype=float))
    return mesh


# --------------------------------------------------------------------------- lesions and plan

def lesion_info(located: "LocatedLesion") -> dict | None:
    """The drawing facts of one located lesion, or ``None`` when it is unplaced (nothing to draw).

    Keys: label, kind, center (BF mm), radius_mm (half of ``size_mm``, or of
    the planner's default size), clock, depth_mm, status, node, system,
    color, and ``alternatives`` (BF points of the other candidates of an
    ambiguous placement).
    """
    from .plan import DEFAULT_LESION_SIZE_MM

    if not located.located or located.point_bf is None:
        return None
    p = np.asarray(located.point_bf, dtype=float).reshape(3)
    size = located.size_mm if located.size_mm is not None else DEFAULT_LESION_SIZE_MM
    clock = located.clock if located.clock is not None else clock_of_point(p)
    alternatives = []
    if located.ambiguous:
        alternatives = [np.asarray(c.point_bf, dtype=float) for c in located.candidates[1:]]
    return {
        "label": located.label, "kind": located.kind, "center": p, "radius_mm": float(size) / 2.0,
        "clock": clock, "depth_mm": float(p[1]), "status": located.status, "node": located.node,
        "system": located.system, "color": LESION_COLORS.get(located.kind, LESION_COLORS["other"]),
        "alternatives": alternatives,
    }


def lesion_text(info: dict) -> str:
    """``"L1  6:30  18 mm deep"``: name, clock (nearest half hour), depth behind the nipple."""
    text = f"{info['label']}  {format_clock(info['clock'], half_hour=True)}  {info['depth_mm']:.0f} mm deep"
    if info.get("status") == "ambiguous":
        text += "  (ambiguous)"
    return text


def _rows_of(tree: "DuctTree", ids: Iterable[Any] | None) -> np.ndarray:
    if ids is None:
        return np.zeros(0, dtype=np.int64)
    index = tree.index
    return np.array(sorted({index[n] for n in ids if n in index}), dtype=np.int64)


def plan_parts(tree: "DuctTree", plans: Sequence["ExcisionPlan"]) -> dict:
    """What the views draw of the plans: rows of the involved ducts (orifice to lesion) and of
    everything removed, the envelope's spheres and capsules (BF mm), the incisions and the
    central excision depth."""
    path_ids: list = []
    removed_ids: list = []
    spheres: list[tuple[np.ndarray, float]] = []
    capsules: list[tuple[np.ndarray, np.ndarray, float]] = []
    incisions: list[dict] = []
    central = None
    for plan in plans:
        path_ids += list(plan.involved_node_ids)
        removed_ids += list(plan.removed_node_ids)
        for sp in plan.envelope.spheres:
            spheres.append((np.asarray(sp["center"], dtype=float), float(sp["radius_mm"])))
        for cap in plan.envelope.capsules:
            capsules.append((np.asarray(cap["a"], dtype=float), np.asarray(cap["b"], dtype=float),
                             float(cap["radius_mm"])))
        if plan.incision:
            incisions.append(dict(plan.incision))
        central = float(plan.central_excision_mm)
    return {"path_rows": _rows_of(tree, path_ids), "involved_rows": _rows_of(tree, removed_ids),
            "spheres": spheres, "capsules": capsules, "incisions": incisions, "central_excision_mm": central}


def envelope_mesh(spheres: Sequence[tuple[np.ndarray, float]],
                  capsules: Sequence[tuple[np.ndarray, np.ndarray, float]], *, spacing_mm: float = 1.0
                  ) -> "pv.PolyData | None":
    """One smooth closed surface around the union of spheres and capsules (BF mm), or ``None``.

    The union's signed distance is sampled on a grid (``spacing_mm``; each
    primitive only inside its own bounding box) and contoured at zero, so
    overlapping pieces give one clean translucent skin.
    """
    import pyvista as pv

    prims = [(np.asarray(c, float), np.asarray(c, float), float(r)) for c, r in spheres]
    prims += [(np.asarray(a, float), np.asarray(b, float), float(r)) for a, b, r in capsules]
    if not prims:
        return None
    h = float(spacing_mm)
    lo = np.min([np.minimum(a, b) - r for a, b, r in prims], axis=0) - 2 * h
    hi = np.max([np.maximum(a, b) + r for a, b, r in prims], axis=0) + 2 * h
    shape = np.ceil((hi - lo) / h).astype(int) + 1
    sd = np.full(tuple(shape), 1e3, dtype=np.float32)
    axes = [lo[k] + h * np.arange(shape[k]) for k in range(3)]
    for a, b, r in prims:
        i0 = np.maximum(np.floor((np.minimum(a, b) - r - 2 * h - lo) / h).astype(int), 0)
        i1 = np.minimum(np.ceil((np.maximum(a, b) + r + 2 * h - lo) / h).astype(int) + 1, shape)
        X, Y, Z = np.meshgrid(*(axes[k][i0[k]:i1[k]] for k in range(3)), indexing="ij")
        P = np.stack([X, Y, Z], axis=-1)
        ab = b - a
        L2 = float(ab @ ab)
        t = np.clip(((P - a) @ ab) / L2, 0.0, 1.0)[..., None] if L2 > 1e-12 else 0.0
        d = np.linalg.norm(P - (a + t * ab), axis=-1) - r
        block = sd[i0[0]:i1[0], i0[1]:i1[1], i0[2]:i1[2]]
        np.minimum(block, d.astype(np.float32), out=block)
    grid = pv.ImageData(dimensions=tuple(int(x) for x in shape), spacing=(h, h, h), origin=tuple(lo))
    grid.point_data["sdf"] = sd.ravel(order="F")
    surf = grid.contour([0.0], scalars="sdf")
    if surf.n_points == 0:
        return None
    return surf.clean().triangulate()


# --------------------------------------------------------------------------- building the scene

def scene_options(case: "Case", **overrides: Any) -> SceneOptions:
    """Scene options from a case's ``[render]`` and ``[plan]`` tables, with ``overrides`` (None = keep)."""
    opt = SceneOptions(color_by=case.render.color_by, colormap=case.render.colormap,
                       central_excision_mm=case.plan.central_excision_mm,
                       lateral_view=case.source.lateral_view or "ML")
    for k, v in overrides.items():
        if v is not None:
            if not hasattr(opt, k):
                raise TypeError(f"unknown scene option {k!r}")
            setattr(opt, k, v)
    return opt.check()


def prepare_case(case: "Case") -> tuple["DuctTree", list, list]:
    """Load a case's tree, place its lesions and plan them, once (cached on the case).

    Returns ``(tree, located, plans)``. Every :class:`~ductree.errors.DuctreeWarning`
    raised on the way (dust dropped, a mask cut off at the volume border,
    a finding fused with low confidence, ...) is kept in ``case.warnings``
    for the report.
    """
    import warnings

    from .errors import DuctreeWarning

    cached = getattr(case, "_prepared", None)
    if cached is not None:
        return cached
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        tree = case.load_tree()
        located, plans = [], []
        if case.lesions:
            from .plan import case_plan

            located, plans = case_plan(case)
    for w in rec:
        # Kept for the report, and passed on: a low-confidence source must not pass unseen.
        if issubclass(w.category, DuctreeWarning) and str(w.message) not in case.warnings:
            case.warnings.append(str(w.message))
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    out = (tree, list(located), list(plans))
    case._prepared = out  # type: ignore[attr-defined]
    return out


def build_scene(case_or_tree: "Case | DuctTree", located: Sequence[Any] | None = None,
                plans: Any = None, options: SceneOptions | None = None, *,
                case_id: str | None = None, breast_depth_mm: float | None = None,
                meshes: list[tuple[str, "pv.PolyData"]] | None = None) -> Scene:
    """Build everything the standard views draw for one breast.

    Parameters
    ----------
    case_or_tree : Case or DuctTree
        A case (its tree is loaded; its lesions are placed and planned unless
        ``located``/``plans`` are given) or a bare tree with a laterality.
    located : list, optional
        Located lesions (``ductree.lesions.LocatedLesion``).
    plans : ExcisionPlan or list of them, optional
        Excision plan(s) (``ductree.plan.ExcisionPlan``).
    options : SceneOptions, optional
        Colouring, framing and look; by default from the case's ``[render]``.
    meshes : list, optional
        Pre-built :func:`scene_meshes` output (to reuse across option changes).

    Returns
    -------
    Scene
        Actors (tree surfaces, lesions, envelope, central zone, nipple,
        rulers, chest wall, clock face, the straightened duct), labels and
        legend entries, each tagged with the views it belongs to.
    """
    from .case import Case

    if isinstance(case_or_tree, Case):
        case = case_or_tree
        tree, case_located, case_plans = prepare_case(case)
        if options is None:
            options = scene_options(case)
        if located is None and plans is None:
            located, plans = case_located, case_plans
        case_id = case_id or case.id
        breast_depth_mm = breast_depth_mm if breast_depth_mm is not None else case.breast_depth_mm
        warnings = list(case.warnings)
    else:
        tree = case_or_tree
        warnings = []
    opt = (options or SceneOptions()).check()
    lat = tree.laterality
    if lat is None:
        raise InputError("the tree needs a laterality (L or R) to be drawn in the standard views",
                         key="laterality")
    if breast_depth_mm is None:
        breast_depth_mm = tree.graph.get("breast_depth_mm")
    plan_list = [] if plans is None else (list(plans) if isinstance(plans, (list, tuple)) else [plans])
    located = list(located or [])
    scene = Scene(case_id=case_id or str(tree.graph.get("id", "tree")), laterality=lat, options=opt,
                  warnings=warnings, tree_points=np.asarray(tree.positions, dtype=float).copy())
    parts = plan_parts(tree, plan_list)
    if parts["central_excision_mm"] is not None:
        opt.central_excision_mm = parts["central_excision_mm"]
    _add_tree(scene, tree, parts, meshes)
    infos = []
    for les in located:
        info = lesion_info(les)
        if info is None:
            scene.warnings.append(f"lesion {les.label!r} is unplaced ({les.reason}); it is not drawn")
            scene.unplaced.append((str(les.label), str(les.reason or "not placed").split(";")[0]))
        else:
            infos.append(info)
    scene.lesions = infos
    _add_lesions(scene, infos)
    _add_envelope_and_zone(scene, parts)
    _add_guides(scene, breast_depth_mm)
    if opt.breast_outline:
        _add_context(scene, breast_depth_mm)
    _add_clock_face(scene, tree, parts, infos)
    _add_duct_view(scene, tree, parts, infos)
    return scene


_BREAST = BREAST_VIEWS


def _add_tree(scene: Scene, tree: "DuctTree", parts: dict, meshes) -> None:
    opt = scene.options
    if meshes is None:
        meshes = scene_meshes(tree, quality=opt.quality, sides=opt.tube_sides, mesher=opt.mesher)
    colors, legend = row_colors(tree, opt.color_by, colormap=opt.colormap,
                                involved_rows=parts["involved_rows"], path_rows=parts["path_rows"])
    involved = np.zeros(tree.number_of_nodes(), dtype=bool)
    involved[parts["involved_rows"]] = True
    have_plan = bool(involved.any())
    faded = colors.astype(float)
    if have_plan and opt.color_by != "involvement":
        faded = faded + (255.0 - faded) * opt.fade
    for name, mesh in meshes:
        rows = np.asarray(mesh.point_data["row"])
        m = mesh.copy(deep=False)
        if not have_plan:
            m.point_data["rgb"] = colors[rows]
            scene.actors.append(Actor(f"tree:{name}", m, _BREAST, "tree", rgb="rgb"))
            continue
        # Split each body into the part the excision takes (drawn solid) and the spared part.
        vin = involved[rows]
        cells = _cells_by_points(mesh, vin)
        for part, sel, rgb, opacity in (("involved", cells, colors, 1.0),
                                         ("spared", ~cells, faded, opt.spared_opacity)):
            if not sel.any():
                continue
            sub = mesh.extract_cells(np.flatnonzero(sel)).extract_surface(algorithm=None)
            r = np.asarray(sub.point_data["row"])
            sub.point_data["rgb"] = np.clip(rgb[r], 0, 255).astype(np.uint8)
            scene.actors.append(Actor(f"tree:{name}:{part}", sub, _BREAST, f"tree-{part}", rgb="rgb",
                                      opacity=opacity, layer=1 if part == "involved" else 0))
    for text, color in legend:
        scene.legend.append(LegendEntry(text, color))
    halo = uncertainty_halo(tree) if opt.uncertainty else None
    if halo is not None:
        scene.actors.append(Actor("tree:uncertainty", halo, _BREAST, "uncertainty", color=UNCERTAIN_COLOR,
                                  opacity=opt.uncertainty_opacity))
        scene.legend.append(LegendEntry(f"position uncertain by {UNCERTAIN_SIGMA_MM:g} mm or more "
                                        "(halo: +1 SD)", UNCERTAIN_COLOR, _BREAST))
    if have_plan and opt.color_by != "involvement":
        scene.legend.append(LegendEntry("ducts spared by the excision (faded)", rgb_to_hex(
            hex_to_rgb("#808080") + (255 - hex_to_rgb("#808080")) * opt.fade), _BREAST))


def _cells_by_points(mesh: "pv.PolyData", point_mask: np.ndarray) -> np.ndarray:
    """Cells whose points are mostly in ``point_mask``."""
    faces = mesh.faces.reshape(-1, 4)[:, 1:] if mesh.is_all_triangles else None
    if faces is None:
        tri = mesh.triangulate()
        faces = tri.faces.reshape(-1, 4)[:, 1:]
    return point_mask[faces].sum(axis=1) >= 2


def _add_lesions(scene: Scene, infos: list[dict]) -> None:
    import pyvista as pv

    alt = False
    for info in infos:
        sph = pv.Sphere(radius=info["radius_mm"], center=info["center"], theta_resolution=32, phi_resolution=24)
        scene.actors.append(Actor(f"lesion:{info['label']}", sph, _BREAST, "lesion", color=info["color"], layer=1))
        scene.labels.append(Label(lesion_text(info), tuple(info["center"]), _BREAST, "lesion",
                                  color="#000000", size=1.0, avoid_mm=info["radius_mm"], bold=True, box=True))
        # An ambiguous placement: the other candidates, as faint rings of the lesion's size.
        for k, q in enumerate((info.get("alternatives") or [])[:MAX_ALTERNATIVES]):
            ring = pv.Sphere(radius=info["radius_mm"], center=q, theta_resolution=16, phi_resolution=8)
            scene.actors.append(Actor(f"lesion-alt:{info['label']}:{k}", ring, _BREAST, "lesion-alt",
                                      color=info["color"], opacity=0.35, layer=1))
            scene.labels.append(Label(f"{info['label']}?", tuple(q), _BREAST, "lesion-alt", color=info["color"],
                                      size=0.8, avoid_mm=info["radius_mm"]))
            alt = True
    if alt:
        scene.legend.append(LegendEntry("other possible placement (ambiguous)", "#F4A3A3"))
    kinds = []
    for info in infos:
        if info["kind"] not in kinds:
            kinds.append(info["kind"])
            scene.legend.append(LegendEntry(f"lesion ({info['kind']})", info["color"]))


def _add_envelope_and_zone(scene: Scene, parts: dict) -> None:
    import pyvista as pv

    opt = scene.options
    env = envelope_mesh(parts["spheres"], parts["capsules"], spacing_mm=opt.envelope_spacing_mm)
    if env is not None:
        scene.actors.append(Actor("envelope", env, _BREAST, "envelope", color=ENVELOPE_COLOR,
                                  opacity=opt.envelope_opacity))
        scene.legend.append(LegendEntry("excision envelope", ENVELOPE_COLOR))
    depth = opt.central_excision_mm
    zone = pv.Cylinder(center=(0.0, depth / 2.0, 0.0), direction=(0.0, 1.0, 0.0), radius=opt.central_radius_mm,
                       height=depth, resolution=72, capping=True).triangulate()
    scene.actors.append(Actor("central-zone", zone, _BREAST, "zone", color=CENTRAL_COLOR,
                              opacity=opt.central_opacity, lighting=False))
    # Its outline (the back rim and the two sides seen in profile), faint but readable.
    ring = _ring(opt.central_radius_mm, depth)
    scene.actors.append(Actor("central-zone-rim", ring, _BREAST, "zone", color=CENTRAL_COLOR, style="lines",
                              line_width=1.0, opacity=0.6, lighting=False))
    scene.legend.append(LegendEntry(f"central excision zone ({depth:.0f} mm)", "#C8CCD0"))


def _ring(radius: float, depth: float, n: int = 96) -> "pv.PolyData":
    import pyvista as pv

    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = np.column_stack([radius * np.sin(a), np.full(n, depth), radius * np.cos(a)])
    cells = np.concatenate([[n + 1], np.arange(n), [0]])
    return pv.PolyData(pts, lines=cells)


def _lines(segments: np.ndarray) -> "pv.PolyData":
    """Polydata of independent line segments, ``segments`` (k, 2, 3)."""
    import pyvista as pv

    seg = np.asarray(segments, dtype=float).reshape(-1, 2, 3)
    pts = seg.reshape(-1, 3)
    k = len(seg)
    cells = np.column_stack([np.full(k, 2), 2 * np.arange(k), 2 * np.arange(k) + 1]).ravel()
    return pv.PolyData(pts, lines=cells)


def _add_guides(scene: Scene, breast_depth_mm: float | None) -> None:
    """Nipple marker; depth ruler with 10 mm ticks and the chest wall in the depth views."""
    import pyvista as pv

    opt = scene.options
    nip = pv.Sphere(radius=1.6, center=(0.0, 0.0, 0.0), theta_resolution=20, phi_resolution=12)
    scene.actors.append(Actor("nipple", nip, DEPTH_VIEWS + ("oblique",), "guide", color=NIPPLE_COLOR))
    y_end = opt.ruler_mm
    ticks = np.arange(0.0, y_end + 1e-9, 10.0)
    for view in DEPTH_VIEWS + ("oblique",):
        cam = view_camera(view, scene.laterality, options=opt)
        if view == "oblique":
            down = np.array([0.0, 0.0, -1.0])
            base = down * 0.36 * opt.fov_mm
        else:
            down = -cam.u
            base = down * 0.40 * opt.fov_mm
        axis = np.array([0.0, 1.0, 0.0])
        segs = [[base, base + axis * y_end]]
        for t in ticks:
            tl = 4.0 if t % 50 == 0 else 2.5
            segs.append([base + axis * t, base + axis * t - down * tl])
        # A dashed drop line from the nipple to the ruler's zero.
        dash = np.linspace(0.0, 1.0, 25)
        for k in range(0, 24, 2):
            segs.append([base * dash[k], base * dash[k + 1]])
        scene.actors.append(Actor(f"ruler:{view}", _lines(np.asarray(segs)), (view,), "guide",
                                  color=GUIDE_COLOR, style="lines", line_width=1.5, lighting=False))
        for t in ticks:
            p = base + axis * t + down * 3.0
            scene.labels.append(Label(f"{t:.0f}", tuple(p), (view,), "ruler", size=0.75,
                                      offset_px=(0.0, -8.0) if view != "oblique" else (0.0, -10.0)))
        if view != "oblique":
            scene.labels.append(Label("depth behind the nipple (mm)", tuple(base + axis * (y_end / 2.0) + down * 3.0),
                                      (view,), "ruler", size=0.75, offset_px=(0.0, -30.0)))
        if breast_depth_mm is not None and view != "oblique":
            half = 0.42 * opt.fov_mm
            wall = np.array([0.0, breast_depth_mm, 0.0])
            segs = []
            dash = np.linspace(-half, half, 43)
            for k in range(0, 42, 2):
                segs.append([wall + cam.u * dash[k], wall + cam.u * dash[k + 1]])
            scene.actors.append(Actor(f"chest-wall:{view}", _lines(np.asarray(segs)), (view,), "guide",
                                      color="#555555", style="lines", line_width=1.2, lighting=False))
            scene.labels.append(Label("chest wall", tuple(wall + down * (0.40 * opt.fov_mm - 12.0)), (view,), "guide",
                                      color="#555555", size=0.75, offset_px=(0.0, 0.0)))
            # Depth thirds along the ruler.
            for k, name in enumerate(("anterior", "middle", "posterior")):
                mid = (k + 0.5) * breast_depth_mm / 3.0
                if mid < y_end:
                    scene.labels.append(Label(name, tuple(base + axis * mid - down * 6.0), (view,), "ruler",
                                              color="#777777", size=0.65))


BREAST_OUTLINE_COLOR = "#E3B7A0"
NIPPLE_AREOLA_COLOR = "#C9A08C"


def context_meshes(breast_depth_mm: float | None = None) -> list[tuple[str, "pv.PolyData"]]:
    """The context templates as polydata (BF mm): ``[("breast-outline", ...), ("nipple-areola", ...)]``.

    They are the shipped templates of :mod:`ductree.mesh.bodies` (the files in
    ``meshes/`` are made from the same functions): a breast dome 150 x 130 mm
    wide reaching the chest wall at ``breast_depth_mm`` (100 mm when unknown),
    and the nipple–areola skin (nipple tip at the origin). Generic shapes for
    orientation, not the patient's breast.
    """
    import pyvista as pv

    from .mesh.bodies import (BreastOutline, NippleAreola, breast_outline_body, manifold_to_trimesh,
                              nipple_areola_body)

    depth = float(breast_depth_mm) if breast_depth_mm else BreastOutline().depth_mm
    out = []
    for name, man in (("breast-outline", breast_outline_body(BreastOutline(depth_mm=max(depth, 20.0)))),
                      ("nipple-areola", nipple_areola_body(NippleAreola()))):
        tm = manifold_to_trimesh(man)
        f = np.asarray(tm.faces, dtype=np.int64)
        poly = pv.PolyData(np.asarray(tm.vertices, dtype=float), np.column_stack([np.full(len(f), 3), f]).ravel())
        out.append((name, poly.compute_normals(cell_normals=False, auto_orient_normals=False)))
    return out


def _add_context(scene: Scene, breast_depth_mm: float | None) -> None:
    """The breast outline and the nipple–areola (role ``context``, translucent, 3D views)."""
    opt = scene.options
    for name, mesh in context_meshes(breast_depth_mm):
        if name == "breast-outline":
            scene.actors.append(Actor(name, mesh, _BREAST, "context", color=BREAST_OUTLINE_COLOR,
                                      opacity=opt.breast_outline_opacity))
        else:
            scene.actors.append(Actor(name, mesh, _BREAST, "context", color=NIPPLE_AREOLA_COLOR, opacity=0.25))
    scene.legend.append(LegendEntry("breast outline (template, not the patient's)", BREAST_OUTLINE_COLOR))


def _add_clock_face(scene: Scene, tree: "DuctTree", parts: dict, infos: list[dict]) -> None:
    """The clock face of the front view: 12 up, 3 toward the patient's left (+x), on both breasts."""
    import pyvista as pv

    opt = scene.options
    R = opt.clock_radius_mm
    y = -25.0  # in front of the breast, toward the viewer
    a = np.linspace(0.0, 2 * np.pi, 145)
    ring = np.column_stack([R * np.sin(a), np.full(len(a), y), R * np.cos(a)])
    segs = [np.stack([ring[:-1], ring[1:]], axis=1)]
    tick_segs = []
    for half in range(24):
        h = 12.0 if half == 0 else half / 2.0
        v = clock_to_direction(h)
        tl = 6.0 if half % 6 == 0 else (4.0 if half % 2 == 0 else 2.0)
        tick_segs.append([v * R + [0, y, 0], v * (R - tl) + [0, y, 0]])
    segs.append(np.asarray(tick_segs))
    scene.actors.append(Actor("clock-face", _lines(np.concatenate(segs)), ("front",), "clock",
                              color=CLOCK_COLOR, style="lines", line_width=1.6, lighting=False))
    for hour in range(1, 13):
        v = clock_to_direction(float(hour))
        p = v * (R + 7.0) + np.array([0.0, y, 0.0])
        scene.labels.append(Label(str(hour), tuple(p), ("front",), "clock", color=CLOCK_COLOR,
                                  size=1.15 if hour % 3 == 0 else 0.9, bold=hour % 3 == 0))
    # The areola (faint) and each duct orifice on the nipple face.
    areola = np.column_stack([15.0 * np.sin(a), np.full(len(a), y + 1), 15.0 * np.cos(a)])
    scene.actors.append(Actor("areola", _lines(np.stack([areola[:-1], areola[1:]], axis=1)), ("front",), "clock",
                              color="#B08968", style="lines", line_width=1.0, lighting=False, opacity=0.8))
    # The orifice of each lesion's duct system, on the nipple face.
    seen = set()
    for info in infos:
        node = info.get("node")
        if node is None or node not in tree.index:
            continue
        s_id = int(tree.system_ids[tree.index[node]])
        if s_id in seen:
            continue
        seen.add(s_id)
        root = tree.root_of_system(s_id)
        p = np.asarray(tree.nodes[root]["pos"], dtype=float)
        dot = pv.Sphere(radius=0.9, center=(p[0], y + 2.0, p[2]), theta_resolution=16, phi_resolution=10)
        scene.actors.append(Actor(f"orifice:{s_id}", dot, ("front",), "orifice", color=INVOLVED_PATH_COLOR,
                                  layer=1, lighting=False))
        clock = tree.nodes[root].get("orifice_clock")
        scene.labels.append(Label(f"{orifice_text(clock, half_hour=True)} ({info['label']})",
                                  (p[0], y + 2.0, p[2]), ("front",), "orifice", color=INVOLVED_PATH_COLOR,
                                  size=0.8, avoid_mm=1.2, bold=True, box=True))
    # The planned periareolar incision: its arc on the areolar border (true geometry), and the
    # same sector on the clock ring, labelled.
    for inc in parts["incisions"]:
        c = inc.get("centre_clock")
        if c is None:
            continue
        arc_bf = np.asarray(inc.get("arc_bf") or [], dtype=float).reshape(-1, 3)
        if len(arc_bf) >= 2:
            arc_bf = arc_bf.copy()
            arc_bf[:, 1] = y + 0.5
            scene.actors.append(Actor(f"incision:{format_clock(c)}", _lines(np.stack([arc_bf[:-1], arc_bf[1:]], axis=1)),
                                      ("front",), "incision", color=INCISION_COLOR, style="lines", line_width=5.0,
                                      lighting=False))
        half_h = float(inc.get("arc_deg", 60.0)) / 60.0
        hh = np.linspace(float(c) - half_h, float(c) + half_h, 25)
        arc = np.stack([clock_to_direction(_wrap_h(x)) * (R + 1.5) + [0, y - 1, 0] for x in hh])
        scene.actors.append(Actor(f"incision-sector:{format_clock(c)}", _lines(np.stack([arc[:-1], arc[1:]], axis=1)),
                                  ("front",), "incision", color=INCISION_COLOR, style="lines", line_width=6.0,
                                  lighting=False))
        kind = inc.get("type") or "incision"
        text = f"{kind} incision {format_clock(c, half_hour=True)}"
        v = clock_to_direction(float(c))
        scene.labels.append(Label(text, tuple(v * (R + 17.0) + [0, y, 0]), ("front",), "incision",
                                  color=INCISION_COLOR, size=0.8, bold=True, grow_from=(0.0, y, 0.0)))
    if parts["incisions"]:
        scene.legend.append(LegendEntry("incision (areolar border) and its sector", INCISION_COLOR, ("front",)))


def _wrap_h(h: float) -> float:
    h = math.fmod(float(h), 12.0)
    return h + 12.0 if h <= 0 else h


#: Vertical pitch of the rows of the duct view (one row per involved duct), mm of the flat frame.
DUCT_ROW_PITCH_MM = 62.0
#: At most this many ducts are straightened in the duct view.
DUCT_ROWS_MAX = 3


def _add_duct_view(scene: Scene, tree: "DuctTree", parts: dict, infos: list[dict]) -> None:
    """The straightened ducts: one row per involved duct system (the first lesion's on top), each
    from its orifice (left) along the lesion's duct to its deepest end beyond."""
    rows_spec = _duct_rows(tree, infos)
    span = 0.0
    n = len(rows_spec)
    for k, (rows, caption, lesion_rows) in enumerate(rows_spec):
        y0 = (n - 1) / 2.0 * DUCT_ROW_PITCH_MM - k * DUCT_ROW_PITCH_MM
        span = max(span, _duct_row(scene, tree, parts, infos, rows, caption, lesion_rows, y0, f"{k}"))
    scene.duct_span_mm = span
    scene.duct_rows = n
    for text, color in (("involved duct", INVOLVED_PATH_COLOR), ("subtree to excise", INVOLVED_TREE_COLOR),
                        ("spared", SPARED_COLOR), ("central excision depth reached", "#C8CCD0"),
                        ("excision envelope", ENVELOPE_COLOR)):
        scene.legend.append(LegendEntry(text, color, ("duct",)))


def _duct_row(scene: Scene, tree: "DuctTree", parts: dict, infos: list[dict], rows: np.ndarray, caption: str,
              lesion_rows: list, y0: float, tag: str) -> float:
    """One straightened duct centred on ``y = y0`` of the duct view's frame; returns its length (mm)."""
    import pyvista as pv

    from . import measures

    opt = scene.options
    ex = opt.duct_exaggeration
    view = ("duct",)
    pos, rad = tree.positions[rows], tree.radii[rows]
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pos, axis=0), axis=1))])
    n = len(s)
    ymax = 14.0
    # Lumen as a filled ribbon between the two walls, radius exaggerated.
    top = np.column_stack([s, y0 + rad * ex, np.zeros_like(s)])
    bot = np.column_stack([s, y0 - rad * ex, np.zeros_like(s)])
    quads = np.column_stack([np.full(n - 1, 4), np.arange(n - 1), np.arange(1, n), n + np.arange(1, n),
                             n + np.arange(n - 1)]).ravel()
    ribbon = pv.PolyData(np.vstack([top, bot]), faces=quads)
    involved = np.zeros(tree.number_of_nodes(), dtype=bool)
    involved[parts["involved_rows"]] = True
    on_path = np.zeros(tree.number_of_nodes(), dtype=bool)
    on_path[parts["path_rows"]] = True
    rgb = np.tile(hex_to_rgb(SPARED_COLOR), (n, 1))
    rgb[involved[rows]] = hex_to_rgb(INVOLVED_TREE_COLOR)
    rgb[on_path[rows]] = hex_to_rgb(INVOLVED_PATH_COLOR)
    ribbon.point_data["rgb"] = np.vstack([rgb, rgb]).astype(np.uint8)
    scene.actors.append(Actor(f"duct{tag}:lumen", ribbon.triangulate(), view, "tree", rgb="rgb", lighting=False))
    walls = np.concatenate([np.stack([top[:-1], top[1:]], axis=1), np.stack([bot[:-1], bot[1:]], axis=1)])
    scene.actors.append(Actor(f"duct{tag}:walls", _lines(walls), view, "tree", color="#333333", style="lines",
                              line_width=1.2, lighting=False))
    # Side branches leaving the duct: short stubs, up and down alternately, coloured by involvement.
    kids = measures._children_rows(tree)
    in_row = set(rows.tolist())
    stubs_in, stubs_out = [], []
    flip = 1.0
    for k, r in enumerate(rows):
        for c in kids[r]:
            if c in in_row:
                continue
            base = np.array([s[k], y0 + flip * rad[k] * ex, 0.0])
            (stubs_in if involved[c] else stubs_out).append([base, base + np.array([4.0, flip * 6.0, 0.0])])
            flip = -flip
    for name, stubs, color in (("branches-involved", stubs_in, INVOLVED_TREE_COLOR),
                               ("branches-spared", stubs_out, "#8895A7")):
        if stubs:
            scene.actors.append(Actor(f"duct{tag}:{name}", _lines(np.asarray(stubs)), view, "tree", color=color,
                                      style="lines", line_width=2.0, lighting=False))
    # Depth behind the nipple: where the duct first crosses each 10 mm of depth (ticks above).
    depth = pos[:, 1]
    segs = []
    for dmm in np.arange(10.0, max(depth.max(), 10.0) + 1e-9, 10.0):
        idx = np.flatnonzero((depth[:-1] < dmm) & (depth[1:] >= dmm))
        if len(idx):
            i = idx[0]
            si = s[i] + (dmm - depth[i]) / (depth[i + 1] - depth[i]) * (s[i + 1] - s[i])
            segs.append([[si, y0 + ymax - 3.0, 0.0], [si, y0 + ymax, 0.0]])
            scene.labels.append(Label(f"{dmm:.0f}", (si, y0 + ymax + 2.5, 0.0), view, "ruler", size=0.7))
    L = max(10.0, 10.0 * math.ceil(s[-1] / 10.0))
    segs.append([[0.0, y0 + ymax, 0.0], [L, y0 + ymax, 0.0]])
    scene.labels.append(Label("depth behind the nipple (mm)", (0.0, y0 + ymax + 7.0, 0.0), view, "ruler",
                              size=0.7, offset_px=(90.0, 0.0)))
    # Distance along the duct from its orifice, 10 mm ticks (below).
    yb = y0 - ymax
    segs.append([[0.0, yb, 0.0], [L, yb, 0.0]])
    for t in np.arange(0.0, L + 1e-9, 10.0):
        segs.append([[t, yb, 0.0], [t, yb + 2.5, 0.0]])
        scene.labels.append(Label(f"{t:.0f}", (t, yb - 2.8, 0.0), view, "ruler", size=0.7))
    scene.labels.append(Label(f"{caption}: distance along the duct from its orifice (mm); lumen radius drawn x{ex:g}",
                              (L / 2.0, yb - 8.0, 0.0), view, "title", size=0.75, bold=True))
    scene.actors.append(Actor(f"duct{tag}:rulers", _lines(np.asarray(segs)), view, "guide", color=GUIDE_COLOR,
                              style="lines", line_width=1.4, lighting=False))
    # The stretch a central excision reaches (depth <= central_excision_mm).
    cz = np.flatnonzero(depth > opt.central_excision_mm)
    s_cz = s[cz[0]] if len(cz) else s[-1]
    if s_cz > 0:
        band = pv.Plane(center=(s_cz / 2.0, y0, -0.5), direction=(0, 0, 1), i_size=s_cz, j_size=2 * (ymax - 4.0))
        scene.actors.append(Actor(f"duct{tag}:central-zone", band.triangulate(), view, "zone", color="#C8CCD0",
                                  opacity=0.45, lighting=False))
        # The label sits at the band's deep end, or its shallow end when a lesion's ellipse covers that.
        spans = []
        for info, lr in zip(infos, lesion_rows):
            if lr is not None:
                sk = float(s[int(np.argmin(np.linalg.norm(pos - info["center"], axis=1)))])
                spans.append((sk - info["radius_mm"], sk + info["radius_mm"]))
        half = 7.5  # half the label's width along the duct (mm) at this view's usual scale
        spots = [max(s_cz - 9.0, 0.0), half, s_cz / 2.0]
        x_lab = next((x for x in spots if all(x + half < a or x - half > b for a, b in spans)), spots[0])
        scene.labels.append(Label(f"central {opt.central_excision_mm:.0f} mm", (x_lab, y0 - (ymax - 6.5), 0.0),
                                  view, "zone", color="#555555", size=0.65))
    # The envelope's stretch along the duct.
    env_s = _envelope_stretch(pos, s, parts)
    if env_s is not None:
        a, b = env_s
        band = pv.Plane(center=((a + b) / 2.0, y0, -0.4), direction=(0, 0, 1), i_size=max(b - a, 0.5),
                        j_size=2 * (ymax - 5.0))
        scene.actors.append(Actor(f"duct{tag}:envelope", band.triangulate(), view, "envelope",
                                  color=ENVELOPE_COLOR, opacity=0.25, lighting=False))
    # The lesions on this duct, at their distance along it.
    for info, lr in zip(infos, lesion_rows):
        if lr is None:
            continue
        k = int(np.argmin(np.linalg.norm(pos - info["center"], axis=1)))
        r = info["radius_mm"]
        ell = pv.Disc(center=(0.0, 0.0, 0.0), inner=0.0, outer=1.0, normal=(0, 0, 1), c_res=48)
        pts = ell.points.copy()
        pts[:, 0] = s[k] + pts[:, 0] * r
        pts[:, 1] = y0 + pts[:, 1] * min(r * ex, ymax - 5.0)
        pts[:, 2] = 0.5
        ell.points = pts
        scene.actors.append(Actor(f"duct{tag}:lesion:{info['label']}", ell.triangulate(), view, "lesion",
                                  color=info["color"], lighting=False))
        scene.labels.append(Label(f"{info['label']}  {s[k]:.0f} mm along, {info['depth_mm']:.0f} mm deep",
                                  (s[k], y0, 0.5), view, "lesion", color="#000000", avoid_mm=r, bold=True, box=True))
    return float(s[-1])


def _envelope_stretch(pos: np.ndarray, s: np.ndarray, parts: dict) -> tuple[float, float] | None:
    prims = [(c, c, r) for c, r in parts["spheres"]] + list(parts["capsules"])
    if not prims:
        return None
    inside = np.zeros(len(pos), dtype=bool)
    for a, b, r in prims:
        ab = b - a
        t = np.clip(((pos - a) @ ab) / max(float(ab @ ab), 1e-12), 0, 1)
        inside |= np.linalg.norm(pos - (a + t[:, None] * ab), axis=1) <= r
    if not inside.any():
        return None
    return float(s[inside].min()), float(s[inside].max())


def _duct_rows(tree: "DuctTree", infos: list[dict]) -> list[tuple[np.ndarray, str, list]]:
    """The ducts to straighten: one per duct system holding a lesion (at most :data:`DUCT_ROWS_MAX`),
    each as (rows from the orifice through the first lesion to the deepest end beyond, caption,
    the row of every lesion on it or None). Without lesions: the duct that reaches furthest."""
    from . import measures

    par = tree.parent_index
    pm = measures.path_mm(tree)
    kids = measures._children_rows(tree)
    far = _reach(kids, pm)
    ids = tree.node_ids
    pos = tree.positions
    lesion_row = []
    for info in infos:
        node = info.get("node")
        row = tree.index[node] if node is not None and node in tree.index else \
            int(np.argmin(np.linalg.norm(pos - info["center"], axis=1)))
        lesion_row.append(row)
    targets: list[tuple[int, str]] = []
    seen_systems: set[int] = set()
    for info, row in zip(infos, lesion_row):
        sysid = int(tree.system_ids[row])
        if sysid in seen_systems:
            continue
        seen_systems.add(sysid)
        targets.append((row, f"duct of {info['label']}"))
    if not targets:
        targets = [(int(np.argmax(pm)), "no lesion: the longest duct")]
    out = []
    for target, caption in targets[:DUCT_ROWS_MAX]:
        up = [target]
        while par[up[-1]] >= 0:
            up.append(int(par[up[-1]]))
        rows = up[::-1]
        cur = target
        while kids[cur]:
            cur = max(kids[cur], key=lambda c: far[c])
            rows.append(cur)
        on = set(rows)
        root = ids[rows[0]]
        clock = tree.nodes[root].get("orifice_clock")
        cap = f"{caption} (system {int(tree.system_ids[rows[0]])}, {orifice_text(clock, half_hour=True)})"
        out.append((np.asarray(rows, dtype=np.int64), cap, [r if r in on else None for r in lesion_row]))
    return out


def _reach(kids: list[list[int]], pm: np.ndarray) -> np.ndarray:
    far = pm.copy()
    for i in range(len(kids) - 1, -1, -1):
        for c in kids[i]:
            far[i] = max(far[i], far[c])
    return far
