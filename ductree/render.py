"""Offscreen standard views (PNG) of a case, through VTK and pyvista.

One :class:`Renderer` owns one offscreen render window (EGL when there is no
display) and is reused for every view and every case: a case's meshes are
uploaded once (:meth:`Renderer.load`), then each view only moves the camera,
toggles which actors are visible and redraws the 2D annotations. That reuse
is what makes batch rendering fast; :func:`render_views` uses a per-process
shared renderer unless one is passed.

What is drawn comes from :func:`ductree.scene.build_scene`; this module adds
the per-view annotations in pixels: the laterality marker and view name,
orientation letters on the image edges, a scale bar in mm, the legend, and
the text labels (lesion labels placed clear of the lesion with a leader line).

Examples
--------
>>> from ductree.render import render_views            # doctest: +SKIP
>>> for case in cases:                                  # doctest: +SKIP
...     render_views(case, views=("cc", "front"), out_dir=f"out/{case.id}")
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .atomic import make_output_dir
from .errors import DuctreeWarning, InputError
from .scene import (
    BREAST_VIEWS,
    DEPTH_VIEWS,
    Scene,
    SceneOptions,
    ViewCamera,
    build_scene,
    check_views,
    hex_to_rgb,
    outward_shift,
)

if TYPE_CHECKING:  # pragma: no cover
    import pyvista as pv

    from .case import Case

#: Pixel sizes below are for a 1024 px tall image and scale with the height.
REF_HEIGHT = 1024.0
ANTI_ALIASING = ("fxaa", "msaa", "none")


def _use_egl_without_display() -> None:
    """Without a display, go straight to EGL (VTK otherwise tries X first, which costs seconds)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def parse_size(text: str | Sequence[int] | None, *, key: str = "size") -> tuple[int, int] | None:
    """``"1024,768"`` (or ``1024x768``, or a pair) -> ``(1024, 768)``; 64..8192 px each."""
    if text is None:
        return None
    if isinstance(text, str):
        parts = text.replace("x", ",").replace("X", ",").split(",")
        try:
            vals = [int(p.strip()) for p in parts]
        except ValueError:
            raise InputError(f"must be W,H in pixels, got {text!r}", key=key) from None
    else:
        vals = [int(v) for v in text]
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2 or not all(64 <= v <= 8192 for v in vals):
        raise InputError(f"must be W,H in pixels (64..8192 each), got {text!r}", key=key)
    return (vals[0], vals[1])


def _rgb01(color: str | Sequence[float]) -> tuple[float, float, float]:
    if isinstance(color, str):
        if color.startswith("#"):
            c = hex_to_rgb(color) / 255.0
            return (float(c[0]), float(c[1]), float(c[2]))
        from vtkmodules.vtkCommonColor import vtkNamedColors

        named = vtkNamedColors()
        name = color.strip().lower().replace(" ", "").replace("_", "")
        if not named.ColorExists(name):
            name = name.replace("gray", "grey")
        if not named.ColorExists(name):
            raise ValueError(f"unknown colour {color!r}")
        c = named.GetColor3d(name)
        return (float(c.GetRed()), float(c.GetGreen()), float(c.GetBlue()))
    return (float(color[0]), float(color[1]), float(color[2]))


def check_background(color: str) -> str:
    """Validate a background colour name or ``#RRGGBB``; raise :class:`InputError` otherwise."""
    try:
        _rgb01(color)
    except (ValueError, KeyError, TypeError):
        raise InputError(f"unknown colour {color!r} (a name like white or #RRGGBB)", key="background") from None
    return color


# --------------------------------------------------------------------------- text measuring and label layout

_text_local = threading.local()


def _text_size(text: str, font_px: int, bold: bool = False) -> tuple[int, int]:
    """Width and height in pixels of a one-line text at ``font_px`` (FreeType, no GL needed)."""
    import vtkmodules.vtkRenderingFreeType  # noqa: F401  (registers the FreeType text back end)
    from vtkmodules.vtkRenderingCore import vtkTextProperty, vtkTextRenderer

    tr = getattr(_text_local, "renderer", None)
    if tr is None:
        tr = _text_local.renderer = vtkTextRenderer()
    tp = vtkTextProperty()
    tp.SetFontSize(int(font_px))
    tp.SetBold(bool(bold))
    tp.SetFontFamilyToArial()
    bbox = [0, 0, 0, 0]
    tr.GetBoundingBox(tp, text, bbox, 72)
    return (bbox[1] - bbox[0] + 1, bbox[3] - bbox[2] + 1)


@dataclass
class PlacedText:
    """A text laid out in pixels: box ``(col0, row0, col1, row1)`` (rows from the top)."""

    text: str
    box: tuple[float, float, float, float]
    font_px: int
    color: str
    bold: bool = False
    frame: bool = False
    leader: tuple[tuple[float, float], tuple[float, float]] | None = None
    role: str = ""


def _overlap(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def _circle_box_overlap(box: Sequence[float], c: Sequence[float], r: float) -> float:
    """Approximate overlap area of a box with a disc (0 when they do not touch)."""
    nx_ = min(max(c[0], box[0]), box[2])
    ny_ = min(max(c[1], box[1]), box[3])
    d = math.hypot(c[0] - nx_, c[1] - ny_)
    if d >= r:
        return 0.0
    return _overlap(box, (c[0] - r, c[1] - r, c[0] + r, c[1] + r)) + (r - d) * 10.0


def _fixed_label_box(cx: float, cy: float, tw: float, th: float, w: int, h: int,
                     reserved: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """Box of a fixed label centred near (cx, cy), inside the image and clear of reserved boxes.

    A label that would print over the legend or the title moves just beside
    (left of, or below) the box it hits, whichever moves it least.
    """
    def clamp(x: float, y: float) -> tuple[float, float, float, float]:
        x = min(max(x, tw / 2 + 2), w - tw / 2 - 2)
        y = min(max(y, th / 2 + 2), h - th / 2 - 2)
        return (x - tw / 2, y - th / 2, x + tw / 2, y + th / 2)

    box = clamp(cx, cy)
    hits = [b for b in reserved if _overlap(box, b) > 0]
    if not hits:
        return box
    options = []
    for b in hits:
        options.append(clamp(b[0] - tw / 2 - 4, cy))  # left of it
        options.append(clamp(cx, b[3] + th / 2 + 4))  # below it
        options.append(clamp(cx, b[1] - th / 2 - 4))  # above it
    clear = [o for o in options if not any(_overlap(o, b) > 0 for b in reserved)]
    pick = clear or options
    return min(pick, key=lambda o: math.hypot((o[0] + o[2]) / 2 - cx, (o[1] + o[3]) / 2 - cy))


#: Where a label may go around its anchor, in order of preference: 8 directions (degrees,
#: counter-clockwise from the right) at 3 reaches (multiples of the gap).
LABEL_DIRECTIONS = (45, 135, -45, -135, 90, -90, 0, 180)
LABEL_REACHES = (1.0, 1.8, 2.8)


def label_box_around(x: float, y: float, w: float, h: float, gap: float,
                     taken: Sequence[Sequence[float]], window: tuple[float, float], *, y_up: bool = False,
                     extra_cost=None) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1) of a w x h label near an anchor (x, y), in pixels.

    The cheapest of :data:`LABEL_DIRECTIONS` x :data:`LABEL_REACHES` at ``gap``: preference
    order and reach, plus what it covers of the ``taken`` boxes and how much of it leaves the
    ``window`` (w, h), plus ``extra_cost(box)``. ``y_up`` for VTK display pixels (origin
    bottom-left); image pixels (origin top-left) otherwise. Shared by the offline renderer
    (:func:`layout_labels`) and the viewers.
    """
    win = (2.0, 2.0, window[0] - 2.0, window[1] - 2.0)
    best = None
    for pref, ang in enumerate(LABEL_DIRECTIONS):
        dx, dy = math.cos(math.radians(ang)), math.sin(math.radians(ang)) * (1.0 if y_up else -1.0)
        for reach in LABEL_REACHES:
            px, py = x + dx * gap * reach, y + dy * gap * reach
            x0 = px if dx > 0.3 else (px - w if dx < -0.3 else px - w / 2)
            y0 = py if dy > 0.3 else (py - h if dy < -0.3 else py - h / 2)
            box = (x0, y0, x0 + w, y0 + h)
            cost = pref * 0.5 + (reach - 1.0) * 20.0
            cost += sum(_overlap(box, b) for b in taken) * 50.0
            cost += (w * h - _overlap(box, win)) * 200.0
            if extra_cost is not None:
                cost += extra_cost(box)
            if best is None or cost < best[0]:
                best = (cost, box)
    return best[1]


def layout_labels(scene: Scene, view: str, size: tuple[int, int], *,
                  reserved: Sequence[Sequence[float]] = ()) -> list[PlacedText]:
    """Lay out the scene's labels for one view, in pixels.

    Fixed labels are centred at their projected anchor plus ``offset_px``.
    Lesion labels (``avoid_mm > 0``) try eight directions around the lesion
    and take the one that covers no lesion, no other label and no reserved
    box (title, legend), stays in the image and covers the fewest tree
    points; a leader line joins the label to the lesion's edge.
    """
    cam = scene.camera(view, size)
    w, h = size
    k = h / REF_HEIGHT
    labels = scene.labels_in(view)
    out: list[PlacedText] = []
    boxes = [tuple(b) for b in reserved]
    discs = []
    for lab in labels:
        if lab.avoid_mm > 0:
            c = cam.project([lab.anchor])[0]
            discs.append((c, lab.avoid_mm * cam.mm_at(lab.anchor)))
    fixed_boxes: list[tuple[float, float, float, float]] = []
    tree_px = cam.project(scene.tree_points) if view in BREAST_VIEWS and len(scene.tree_points) else np.zeros((0, 2))
    for lab in labels:
        font = max(8, int(round(17 * lab.size * k)))
        tw, th = _text_size(lab.text, font, lab.bold)
        pad = 3 * k if lab.box else 0.0
        tw, th = tw + 2 * pad, th + 2 * pad
        c = cam.project([lab.anchor])[0]
        if not np.all(np.isfinite(c)):
            continue
        if lab.avoid_mm <= 0:
            cx, cy = c[0] + lab.offset_px[0] * k, c[1] - lab.offset_px[1] * k
            if lab.grow_from is not None:
                cx += outward_shift(c, cam.project([lab.grow_from])[0], tw)
            box = _fixed_label_box(cx, cy, tw, th, w, h, boxes)
            # Small images: drop a guide label that would overprint one already placed.
            if lab.role in ("ruler", "guide", "zone") and any(_overlap(box, b) > 0 for b in fixed_boxes):
                continue
            fixed_boxes.append(box)
            out.append(PlacedText(lab.text, box, font, lab.color, lab.bold, lab.box, None, lab.role))
            continue
        r = lab.avoid_mm * cam.mm_at(lab.anchor)

        def crowding(box) -> float:
            cost = sum(_circle_box_overlap(box, dc, dr + 2 * k) for dc, dr in discs) * 100.0
            if len(tree_px):
                inside = ((tree_px[:, 0] >= box[0]) & (tree_px[:, 0] <= box[2])
                          & (tree_px[:, 1] >= box[1]) & (tree_px[:, 1] <= box[3]))
                cost += float(inside.sum()) * 0.05
            return cost

        box = label_box_around(c[0], c[1], tw, th, 14 * k + r, boxes, (w, h), extra_cost=crowding)
        # Leader: from the box's nearest point to the lesion's edge.
        nx_ = min(max(c[0], box[0]), box[2])
        ny_ = min(max(c[1], box[1]), box[3])
        v = np.array([nx_ - c[0], ny_ - c[1]])
        dist = float(np.linalg.norm(v))
        leader = None
        if dist > r + 2:
            e = c + v / dist * (r + 1.0)
            leader = ((float(nx_), float(ny_)), (float(e[0]), float(e[1])))
        placed = PlacedText(lab.text, box, font, lab.color, lab.bold, lab.box, leader, lab.role)
        out.append(placed)
        boxes.append(box)
    return out


#: What a legend box may hide, per point: a lesion, the planned incision, clock-face marks, a duct node.
LEGEND_HIDE_COST = {"lesion": 400.0, "incision": 40.0, "clock": 30.0, "tree": 1.0}


def legend_corner(scene: Scene, view: str, cam: ViewCamera, boxes: Sequence[Sequence[float]],
                  corners: Sequence[tuple[bool, bool]]) -> tuple[bool, bool]:
    """The corner ``(right, top)`` whose legend box hides least of the picture.

    What each box would cover is weighed by :data:`LEGEND_HIDE_COST` (lesions, then the incision
    and its sector, then the clock face and its numerals, then duct nodes), from the scene's
    geometry projected with the view's camera; ties go to the first corner.
    """
    pts: dict[str, list] = {"tree": [scene.tree_points]}
    for les in scene.lesions:
        pts.setdefault("lesion", []).append(np.asarray(les["center"], dtype=float).reshape(1, 3))
    for a in scene.actors_in(view):
        if a.role in ("incision", "clock"):
            pts.setdefault(a.role, []).append(np.asarray(a.mesh.points, dtype=float))
    for lab in scene.labels_in(view):
        if lab.role in ("incision", "clock"):
            pts.setdefault(lab.role, []).append(np.asarray(lab.anchor, dtype=float).reshape(1, 3))
    cost = np.zeros(len(boxes))
    for role, arrays in pts.items():
        p = np.concatenate([x for x in arrays if len(x)] or [np.zeros((0, 3))])
        if not len(p):
            continue
        px = cam.project(p)
        for i, b in enumerate(boxes):
            inside = (px[:, 0] >= b[0]) & (px[:, 0] <= b[2]) & (px[:, 1] >= b[1]) & (px[:, 1] <= b[3])
            cost[i] += LEGEND_HIDE_COST[role] * float(inside.sum())
    return corners[int(np.argmin(cost))]


def vtk_actor_for(a: Any, poly: Any = None, *, line_scale: float | None = None,
                  cull_context: bool = False, default_color: str | None = None) -> Any:
    """A ``vtkActor`` with the look of one scene actor; shared by the renderer and the viewers.

    Colour or per-point RGB (``a.rgb``), opacity, wireframe lines or a lit
    Phong surface. ``poly`` replaces ``a.mesh`` as the mapper's input;
    ``line_scale`` sets line widths to ``a.line_width * line_scale``;
    ``cull_context`` culls the front faces of translucent context surfaces so
    they read as a backdrop; ``default_color`` colours an actor that has none
    (else VTK's default).
    """
    from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

    mapper = vtkPolyDataMapper()
    mapper.SetInputData(a.mesh if poly is None else poly)
    if a.rgb:
        mapper.SetScalarModeToUsePointFieldData()
        mapper.SelectColorArray(a.rgb)
        mapper.SetColorModeToDirectScalars()
        mapper.ScalarVisibilityOn()
    else:
        mapper.ScalarVisibilityOff()
    actor = vtkActor()
    actor.SetMapper(mapper)
    prop = actor.GetProperty()
    if a.color or default_color:
        prop.SetColor(*_rgb01(a.color or default_color))
    prop.SetOpacity(float(a.opacity))
    if a.style == "lines":
        prop.SetRepresentationToWireframe()
        if line_scale is not None:
            prop.SetLineWidth(max(1.0, float(a.line_width) * line_scale))
    else:
        prop.SetInterpolationToPhong()
        prop.SetSpecular(0.25)
        prop.SetSpecularPower(20.0)
        if cull_context and a.role == "context":
            prop.FrontfaceCullingOn()
    if not a.lighting:
        prop.LightingOff()
    return actor


# --------------------------------------------------------------------------- the renderer

class Renderer:
    """One offscreen render window, reused for every view and case.

    Parameters
    ----------
    size : (width, height)
        Image size in pixels.
    background : str
        Background colour (a name or ``#RRGGBB``).
    anti_aliasing : {"fxaa", "msaa", "none"}
        Fast approximate anti-aliasing (the default: a cheap image pass),
        4x multisampling (sharper thin lines, ~10x the cost per view on a
        software renderer) or none.
    plotter : pyvista.Plotter, optional
        Draw into an existing offscreen plotter instead of creating one.
    """

    def __init__(self, size: Sequence[int] = (1024, 1024), *, background: str = "white",
                 anti_aliasing: str = "fxaa", plotter: "pv.Plotter | None" = None) -> None:
        _use_egl_without_display()
        # The OpenGL and FreeType back ends register themselves on import.
        import vtkmodules.vtkRenderingFreeType  # noqa: F401
        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401
        from vtkmodules.vtkRenderingCore import vtkLightKit, vtkRenderer, vtkRenderWindow, vtkWindowToImageFilter

        if anti_aliasing not in ANTI_ALIASING:
            raise InputError(f"must be one of {', '.join(ANTI_ALIASING)}, got {anti_aliasing!r}",
                             key="anti_aliasing")
        self.size = (int(size[0]), int(size[1]))
        self.background = check_background(background)
        self.anti_aliasing = anti_aliasing
        self.plotter = plotter
        if plotter is not None:
            # Draw into a pyvista plotter's window (its first renderer is the base layer).
            rw = plotter.render_window
            base = plotter.renderer
            plotter.window_size = list(self.size)
            plotter.disable_depth_peeling()
        else:
            # A bare offscreen VTK window: no pyvista plotting machinery to import or set up.
            rw = vtkRenderWindow()
            rw.SetOffScreenRendering(1)
            rw.SetSize(*self.size)
            rw.SetMultiSamples(4 if anti_aliasing == "msaa" else 0)
            base = vtkRenderer()
            rw.AddRenderer(base)
            vtkLightKit().AddLightsToRenderer(base)
        base.SetBackground(*_rgb01(self.background))
        # Depth peeling drops translucent actors under Mesa EGL; VTK's default order-independent
        # transparency (weighted blending) draws them correctly.
        base.SetUseDepthPeeling(False)
        # A second layer for the highlight (involved ducts, lesions) and the 2D annotations: it shares
        # the camera and lights, and its own depth buffer keeps it in front of the breast.
        top = vtkRenderer()
        top.SetLayer(rw.GetNumberOfLayers())
        rw.SetNumberOfLayers(rw.GetNumberOfLayers() + 1)
        top.SetActiveCamera(base.GetActiveCamera())
        top.InteractiveOff()
        rw.AddRenderer(top)
        lights = base.GetLights()
        lights.InitTraversal()
        for _ in range(lights.GetNumberOfItems()):
            top.AddLight(lights.GetNextItem())
        top.AutomaticLightCreationOff()
        if anti_aliasing == "fxaa":
            base.UseFXAAOn()
            top.UseFXAAOn()
        self._rw, self._base, self._top = rw, base, top
        self._grab = vtkWindowToImageFilter()
        self._grab.SetInput(rw)
        self._grab.SetInputBufferTypeToRGB()
        self._grab.ReadFrontBufferOff()
        self._grab.ShouldRerenderOff()
        self.scene: Scene | None = None
        self._actors: list[tuple[Any, Any]] = []   # (scene Actor, vtkActor)
        self._overlay: list[Any] = []
        self.views_rendered = 0

    # ------------------------------------------------------------------ scene

    def load(self, scene: Scene) -> None:
        """Upload a scene's meshes (replacing the previous scene's)."""
        self._clear_overlay()
        for a, va in self._actors:
            (self._top if a.layer else self._base).RemoveViewProp(va)
        self._actors = []
        for a in scene.actors:
            va = vtk_actor_for(a)
            va.SetVisibility(False)
            (self._top if a.layer else self._base).AddViewProp(va)
            self._actors.append((a, va))
        self.scene = scene

    def _clear_overlay(self) -> None:
        for act in self._overlay:
            self._top.RemoveViewProp(act)
        self._overlay = []

    def resize(self, size: Sequence[int]) -> None:
        size = (int(size[0]), int(size[1]))
        if size != self.size:
            self._rw.SetSize(*size)
            self.size = size

    def render(self, view: str, *, size: Sequence[int] | None = None) -> np.ndarray:
        """Render one view of the loaded scene; return the image, uint8 (H, W, 3)."""
        if self.scene is None:
            raise RuntimeError("load a scene first")
        view = check_views([view])[0]
        if size is not None:
            self.resize(size)
        scene = self.scene
        w, h = self.size
        k = h / REF_HEIGHT
        for a, va in self._actors:
            va.SetVisibility(view in a.views)
            if a.style == "lines":
                va.GetProperty().SetLineWidth(max(1.0, a.line_width * k))
        cam = scene.camera(view, self.size)
        self._set_camera(cam)
        self._clear_overlay()
        self._annotate(scene, view, cam)
        self._rw.Render()
        self._grab.Modified()
        self._grab.Update()
        from vtkmodules.util.numpy_support import vtk_to_numpy

        out = self._grab.GetOutput()
        w, h = out.GetDimensions()[:2]
        img = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, -1)[::-1, :, :3]
        self.views_rendered += 1
        return np.ascontiguousarray(img)

    def save(self, view: str, path: str | PathLike, *, size: Sequence[int] | None = None) -> Path:
        """Render one view into a PNG file (written atomically)."""
        img = self.render(view, size=size)
        return write_png(img, path)

    def close(self) -> None:
        """Release the window (a wrapped plotter is left to its owner)."""
        if self.plotter is None and self._rw is not None:
            self._rw.Finalize()
        self._rw = None

    def _set_camera(self, cam: ViewCamera) -> None:
        vc = self._base.GetActiveCamera()
        cam.apply_to(vc)
        self._top.SetActiveCamera(vc)

    # ------------------------------------------------------------------ annotations

    def _annotate(self, scene: Scene, view: str, cam: ViewCamera) -> None:
        w, h = self.size
        k = h / REF_HEIGHT
        margin = 14 * k
        # Which side is the chest wall (depth views): the legend goes there, the title opposite.
        chest_right = True
        if view in DEPTH_VIEWS:
            chest_right = float(cam.r[1]) > 0
        title_left = chest_right
        reserved = []
        # Title: laterality marker and view name, then the case id.
        tfont = int(round(40 * k))
        title = cam.title
        tw, th = _text_size(title, tfont, True)
        x0 = margin + 24 * k if title_left else w - margin - 24 * k - tw
        y0 = margin + 18 * k
        self._text(title, (x0, y0, x0 + tw, y0 + th), tfont, "#000000", bold=True)
        sub = f"case {scene.case_id}"
        sfont = int(round(16 * k))
        sw, sh = _text_size(sub, sfont)
        sx0 = x0 if title_left else w - margin - 24 * k - sw
        self._text(sub, (sx0, y0 + th + 4 * k, sx0 + sw, y0 + th + 4 * k + sh), sfont, "#444444")
        reserved.append((min(x0, sx0) - 4, y0 - 4, max(x0 + tw, sx0 + sw) + 4, y0 + th + sh + 8 * k))
        # A lesion of the case that could not be placed is not in the picture: say so on it.
        ly = y0 + th + sh + 10 * k
        for label, why in scene.unplaced:
            note = f"{label} not drawn: {why}"
            nw, nh = _text_size(note, sfont, True)
            nx0 = x0 if title_left else w - margin - 24 * k - nw
            self._text(note, (nx0, ly, nx0 + nw, ly + nh), sfont, "#C0392B", bold=True)
            reserved.append((nx0 - 4, ly - 4, nx0 + nw + 4, ly + nh + 4))
            ly += nh + 4 * k
        # Orientation letters at the edge midpoints.
        lfont = int(round(30 * k))
        for edge, text in cam.edge_letters().items():
            if not text:
                continue
            lw, lh = _text_size(text, lfont, True)
            cx, cy = {"top": (w / 2, margin + lh / 2), "bottom": (w / 2, h - margin - lh / 2),
                      "left": (margin + lw / 2, h / 2), "right": (w - margin - lw / 2, h / 2)}[edge]
            box = (cx - lw / 2, cy - lh / 2, cx + lw / 2, cy + lh / 2)
            self._text(text, box, lfont, "#1F3A93", bold=True)
            reserved.append(box)
        # Scale bar in mm (parallel views), bottom corner on the chest-wall side.
        if cam.parallel_scale is not None and view != "duct":
            reserved.append(self._scale_bar(cam, right=chest_right))
        # Legend: on the chest-wall side in the depth views; elsewhere in the free corner that hides least.
        entries = scene.legend_in(view)
        if entries:
            corners = [(chest_right, True)]
            if view not in DEPTH_VIEWS:
                corners += [(not title_left, False), (title_left, False)]
            bw, bh = self._legend_size(entries)
            free = [c for c in corners if not any(_overlap(self._legend_box(bw, bh, *c), b) > 0 for b in reserved)]
            right, top = legend_corner(scene, view, cam, [self._legend_box(bw, bh, *c) for c in free], free) \
                if len(free) > 1 else corners[0]
            reserved.append(self._legend(entries, right=right, top=top))
        # Labels.
        for pt in layout_labels(scene, view, self.size, reserved=reserved):
            if pt.leader is not None:
                self._polyline([pt.leader[0], pt.leader[1]], "#000000", 1.5 * k)
            self._text(pt.text, pt.box, pt.font_px, pt.color, bold=pt.bold, frame=pt.frame)

    def _scale_bar(self, cam: ViewCamera, *, right: bool) -> tuple[float, float, float, float]:
        w, h = self.size
        k = h / REF_HEIGHT
        ppm = cam.pixels_per_mm
        length = next((L for L in (5, 10, 20, 25, 50, 100) if L * ppm >= 0.11 * w), 100)
        px = length * ppm
        margin = 26 * k
        y = h - margin
        x1 = w - margin if right else margin + px
        x0 = x1 - px
        tick = 7 * k
        self._polyline([(x0, y - tick), (x0, y), (x1, y), (x1, y - tick)], "#000000", 3.0 * k)
        text = f"{length} mm"
        font = int(round(17 * k))
        tw, th = _text_size(text, font, True)
        cx = (x0 + x1) / 2
        box = (cx - tw / 2, y - tick - 4 * k - th, cx + tw / 2, y - tick - 4 * k)
        self._text(text, box, font, "#000000", bold=True)
        return (x0 - 4, box[1] - 4, x1 + 4, y + 4)

    def _legend_layout(self, entries) -> tuple[int, list, float, float, float]:
        """Font, text sizes, row height and box width and height of the legend (pixels)."""
        k = self.size[1] / REF_HEIGHT
        font = int(round(13 * k))
        sizes = [_text_size(e.text, font) for e in entries]
        row_h = max(s[1] for s in sizes) + 6 * k
        return font, sizes, row_h, max(s[0] for s in sizes) + 38 * k, row_h * len(entries) + 12 * k

    def _legend_size(self, entries) -> tuple[float, float]:
        return self._legend_layout(entries)[3:]

    def _legend_box(self, bw: float, bh: float, right: bool, top: bool) -> tuple[float, float, float, float]:
        w, h = self.size
        k = h / REF_HEIGHT
        margin = 14 * k + 24 * k
        x0 = w - margin - bw if right else margin
        y0 = margin + 10 * k if top else h - margin - 10 * k - bh
        return (x0, y0, x0 + bw, y0 + bh)

    def _legend(self, entries, *, right: bool, top: bool) -> tuple[float, float, float, float]:
        k = self.size[1] / REF_HEIGHT
        font, sizes, row_h, bw, bh = self._legend_layout(entries)
        sw = 16 * k
        x0, y0, x1, y1 = self._legend_box(bw, bh, right, top)
        self._rect((x0, y0, x1, y1), "#FFFFFF", 0.85, edge="#999999", width=1.0 * k)
        for i, (e, (tw, th)) in enumerate(zip(entries, sizes)):
            ry = y0 + 6 * k + i * row_h
            sq = (x0 + 8 * k, ry + (row_h - sw) / 2, x0 + 8 * k + sw, ry + (row_h + sw) / 2)
            self._rect(sq, e.color, 1.0, edge="#555555", width=1.0)
            tx = sq[2] + 6 * k
            self._text(e.text, (tx, ry + (row_h - th) / 2, tx + tw, ry + (row_h + th) / 2), font, "#111111")
        return (x0, y0, x1, y1)

    # ------------------------------------------------------------------ 2D primitives (pixels, rows from the top)

    def _text(self, text: str, box, font_px: int, color: str, *, bold: bool = False, frame: bool = False) -> None:
        from vtkmodules.vtkRenderingCore import vtkTextActor

        h = self.size[1]
        ta = vtkTextActor()
        ta.SetInput(text)
        tp = ta.GetTextProperty()
        tp.SetFontSize(int(font_px))
        tp.SetFontFamilyToArial()
        tp.SetBold(bool(bold))
        tp.SetColor(*_rgb01(color))
        tp.SetJustificationToCentered()
        tp.SetVerticalJustificationToCentered()
        if frame:
            tp.SetBackgroundColor(1.0, 1.0, 1.0)
            tp.SetBackgroundOpacity(0.82)
            tp.SetFrame(True)
            tp.SetFrameColor(*_rgb01(color))
        cx = (box[0] + box[2]) / 2.0
        cy = h - (box[1] + box[3]) / 2.0
        ta.SetPosition(cx, cy)
        self._top.AddViewProp(ta)
        self._overlay.append(ta)

    def _polyline(self, pts, color: str, width: float) -> None:
        import vtk

        h = self.size[1]
        points = vtk.vtkPoints()
        for x, y in pts:
            points.InsertNextPoint(float(x), float(h - y), 0.0)
        lines = vtk.vtkCellArray()
        lines.InsertNextCell(len(pts))
        for i in range(len(pts)):
            lines.InsertCellPoint(i)
        self._add2d(points, lines, None, color, width, 1.0)

    def _rect(self, box, color: str, opacity: float, *, edge: str | None = None, width: float = 1.0) -> None:
        import vtk

        h = self.size[1]
        x0, y0, x1, y1 = box
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        points = vtk.vtkPoints()
        for x, y in corners:
            points.InsertNextPoint(float(x), float(h - y), 0.0)
        polys = vtk.vtkCellArray()
        polys.InsertNextCell(4)
        for i in range(4):
            polys.InsertCellPoint(i)
        self._add2d(points, None, polys, color, width, opacity)
        if edge:
            self._polyline(corners + [corners[0]], edge, width)

    def _add2d(self, points, lines, polys, color: str, width: float, opacity: float) -> None:
        import vtk

        pd = vtk.vtkPolyData()
        pd.SetPoints(points)
        if lines is not None:
            pd.SetLines(lines)
        if polys is not None:
            pd.SetPolys(polys)
        coord = vtk.vtkCoordinate()
        coord.SetCoordinateSystemToDisplay()
        mapper = vtk.vtkPolyDataMapper2D()
        mapper.SetInputData(pd)
        mapper.SetTransformCoordinate(coord)
        act = vtk.vtkActor2D()
        act.SetMapper(mapper)
        act.GetProperty().SetColor(*_rgb01(color))
        act.GetProperty().SetLineWidth(float(width))
        act.GetProperty().SetOpacity(float(opacity))
        self._top.AddViewProp(act)
        self._overlay.append(act)


# --------------------------------------------------------------------------- files

def write_png(img: np.ndarray, path: str | PathLike, *, compress_level: int = 2) -> Path:
    """Write an (H, W, 3) uint8 image as PNG, atomically."""
    from PIL import Image

    from .atomic import atomic_path

    p = Path(path)
    with atomic_path(p) as tmp:
        Image.fromarray(np.ascontiguousarray(img)).save(tmp, format="PNG", compress_level=compress_level)
    return p


def png_bytes(img: np.ndarray, *, compress_level: int = 6) -> bytes:
    """PNG-encode an (H, W, 3) uint8 image in memory."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


# --------------------------------------------------------------------------- the shared renderer and the API

_local = threading.local()


def shared_renderer(size: Sequence[int] = (1024, 1024), *, background: str = "white",
                    anti_aliasing: str = "fxaa") -> Renderer:
    """This thread's reusable renderer (created on first use, resized and recoloured as asked)."""
    r: Renderer | None = getattr(_local, "renderer", None)
    if r is not None and r.background == background and r.anti_aliasing == anti_aliasing:
        r.resize(size)
        return r
    if r is not None:
        r.close()
    r = Renderer(size, background=background, anti_aliasing=anti_aliasing)
    _local.renderer = r
    return r


def case_views(case: "Case", views: Sequence[str] | None) -> tuple[str, ...]:
    """The views to render: the given ones, else the case's ``[render] views``."""
    return check_views(views if views is not None else case.render.views)


def render_views(case: "Case", views: Sequence[str] | None = None, out_dir: str | PathLike | None = None, *,
                 size: Sequence[int] | None = None, renderer: Renderer | None = None,
                 plotter: "pv.Plotter | None" = None, scene: Scene | None = None,
                 options: SceneOptions | None = None, background: str | None = None,
                 located: Sequence[Any] | None = None, plans: Any = None,
                 images: dict[str, np.ndarray] | None = None) -> dict[str, Path]:
    """Render a case's standard views as PNG files ``<out_dir>/<view>.png``.

    Parameters
    ----------
    case : Case
        The case (its tree is loaded, its lesions placed and planned once).
    views : sequence of str, optional
        Any of ``cc, lateral, mlo, front, oblique, duct``; default: the case's
        ``[render] views``.
    out_dir : path, optional
        Folder to write into (created if missing); ``None`` renders into
        ``images`` only.
    size : (width, height), optional
        Pixels; default the case's ``[render] size``.
    renderer, plotter : optional
        Reuse this renderer (or wrap this offscreen pyvista plotter); by
        default the calling thread's shared renderer, so a loop over cases
        reuses one render window.
    scene : Scene, optional
        A scene already built for this case (skips :func:`build_scene`).
    images : dict, optional
        Filled with ``view -> (H, W, 3) uint8`` arrays as they are rendered.

    Returns
    -------
    dict
        ``view -> path`` of the PNGs written (empty when ``out_dir`` is None).
    """
    views = case_views(case, views)
    size = parse_size(size) if size is not None else tuple(case.render.size)
    bg = background or case.render.background
    out = None
    if out_dir is not None:
        out = Path(out_dir)
        make_output_dir(out)
    if scene is None:
        scene = build_scene(case, located, plans, options)
    for label, why in scene.unplaced:       # what the pictures leave out is said, not only written on them
        warnings.warn(f"{case.id}: lesion {label!r} is not drawn: {why}", DuctreeWarning, stacklevel=2)
    if renderer is None:
        if plotter is not None:
            renderer = Renderer(size, background=bg, plotter=plotter)
        else:
            renderer = shared_renderer(size, background=bg)
    renderer.resize(size)
    renderer.load(scene)
    written: dict[str, Path] = {}
    for view in views:
        img = renderer.render(view)
        if images is not None:
            images[view] = img
        if out is not None:
            written[view] = write_png(img, out / f"{view}.png")
    return written


