"""One case drawn in a pyvista plotter, with the viewer's controls: views, toggles, picking.

:class:`ViewerSession` is the set-up shared by the desktop window (an
on-screen plotter, :mod:`ductree.viewer.desktop`) and the web application (an
offscreen plotter whose render window trame streams to the browser,
:mod:`ductree.viewer.web`), so both draw the same actors, cameras, labels and
readings. Smoke tests drive it offscreen.

Coordinates are BF mm; display coordinates are pixels from the bottom-left
corner of the render window (VTK's convention).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .model import DEFAULT_VIEW, TOGGLES, VIEW_NAMES, VIEWER_VIEWS, Reading, ViewerModel

if TYPE_CHECKING:  # pragma: no cover
    import pyvista as pv

#: Font size (points at a ~1000 px window) of a label of size 1.0.
LABEL_FONT = 15


class ViewerSession:
    """Draw a :class:`ViewerModel` into ``plotter`` and control it.

    Parameters
    ----------
    plotter : pyvista.Plotter
        On screen (desktop) or ``off_screen=True`` (web, tests).
    model : ViewerModel
        The case to show.
    view : str
        The standard view to open on (``cc``, ``lateral``, ``mlo``, ``front``, ``oblique``).
    """

    def __init__(self, plotter: "pv.Plotter", model: ViewerModel, *, view: str = DEFAULT_VIEW) -> None:
        self.plotter = plotter
        self.toggles: dict[str, bool] = {k: True for k in TOGGLES}
        self.view = view
        self.model: ViewerModel | None = None
        self.last_reading: Reading | None = None
        self._actors: list[tuple[Any, Any]] = []        # (scene Actor, vtkActor)
        self._labels: list[tuple[str, str, Any]] = []   # (view, group, vtkActor2D)
        self._texts: list[tuple[Any, Any]] = []         # (scene Label, vtkTextActor), laid out each render
        self._boxed: list[tuple[Any, Any]] = []         # the boxed ones among them (lesions, orifices)
        self._wanted: dict[int, bool] = {}              # id(text actor) -> shown by view and toggles
        self._layout_observer = None
        self._leaders = None                            # vtkActor2D of the lesion labels' leader lines
        self._marker = None
        plotter.set_background("white")
        self.load(model, view=view)

    # ------------------------------------------------------------------ loading

    def load(self, model: ViewerModel, *, view: str | None = None) -> None:
        """Show another case (its actors replace the previous case's)."""
        pl = self.plotter
        for _, va in self._actors:
            pl.remove_actor(va, render=False)
        for _, _, la in self._labels:
            pl.remove_actor(la, render=False)
        if self._marker is not None:
            pl.remove_actor(self._marker, render=False)
            self._marker = None
        self._actors, self._labels, self._texts, self._boxed, self._wanted = [], [], [], [], {}
        self.model = model
        self.last_reading = None
        for k, a in enumerate(model.actors()):
            self._actors.append((a, self._add_actor(a, k)))
        self._add_labels()
        self.set_view(view or self.view, render=False)

    def _add_actor(self, a, k: int):
        from .vtkactors import make_vtk_actor

        va = make_vtk_actor(a)
        va.SetPickable(self.model.group_of(a) in ("tree", "lesion"))
        self.plotter.add_actor(va, name=f"ductree-{k}-{a.name}", reset_camera=False, render=False,
                               pickable=bool(va.GetPickable()))
        return va

    def _add_labels(self) -> None:
        """Every label as its own text actor, laid out before each render (:meth:`_layout_labels`).

        VTK's label placer (pyvista's point labels) silently drops one of two labels that overlap
        (a second lesion's label vanished in the CC view) and ignores the scene's pixel offsets (a
        third's name printed over a ruler number); laying them out here does neither.
        """
        from .model import _ROLE_GROUP

        for lab in self.model.labels():
            for v in lab.views:
                if v in VIEWER_VIEWS:
                    self._add_text_label(v, _ROLE_GROUP.get(lab.role, "context"), lab)
        if self._texts and self._layout_observer is None:
            self._layout_observer = self.plotter.renderer.AddObserver("StartEvent", lambda *_: self._layout_labels())

    def _add_text_label(self, view: str, group: str, lab) -> None:
        from vtkmodules.vtkRenderingCore import vtkTextActor

        from ..scene import hex_to_rgb

        rgb = [c / 255.0 for c in hex_to_rgb(lab.color)]
        ta = vtkTextActor()
        ta.SetInput(lab.text)
        tp = ta.GetTextProperty()
        tp.SetFontSize(int(round(LABEL_FONT * lab.size)))
        tp.SetColor(*rgb)
        tp.SetBold(bool(lab.bold))
        if lab.box:
            tp.SetBackgroundColor(1.0, 1.0, 1.0)
            tp.SetBackgroundOpacity(0.8)
            tp.SetFrame(True)
            tp.SetFrameColor(*rgb)
        tp.SetJustificationToLeft()
        tp.SetVerticalJustificationToBottom()
        ta.SetPickable(False)
        self.plotter.renderer.AddViewProp(ta)
        self._labels.append((view, group, ta))
        self._texts.append((lab, ta))
        if lab.box:
            self._boxed.append((lab, ta))

    def _layout_labels(self) -> None:
        """Before each render, in display pixels (origin bottom-left).

        Fixed labels are centred at their anchor moved by the scene's ``offset_px`` (x right, y up,
        at 1024 px height); a ruler, guide or zone label that would print over a label already placed
        is left out of this frame (as the offline renderer does on small images). Boxed labels
        (lesions, orifices) take the nearest of 24 places around their anchor (8 directions, 3
        reaches) that covers no lesion, no label placed before them and stays in the window; a
        leader joins each to its anchor when they are apart.
        """
        from ..render import label_box_around
        from ..scene import outward_shift

        ren = self.plotter.renderer
        w_px, h_px = (int(v) for v in self.plotter.window_size)
        k = h_px / 1024.0
        cam = ren.GetActiveCamera()
        right = np.cross(np.subtract(cam.GetFocalPoint(), cam.GetPosition()), cam.GetViewUp())
        right = right / (np.linalg.norm(right) or 1.0)

        def display(p) -> tuple[float, float]:
            ren.SetWorldPoint(*p, 1.0)
            ren.WorldToDisplay()
            x, y, _ = ren.GetDisplayPoint()
            return x, y

        def size(ta) -> tuple[float, float]:
            ta.GetBoundingBox(ren, bbox)
            return bbox[1] - bbox[0], bbox[3] - bbox[2]

        def hits(box, taken):
            return next((t for t in taken if box[0] < t[2] and box[2] > t[0] and box[1] < t[3] and box[3] > t[1]),
                        None)

        bbox = [0.0] * 4
        shown = [(lab, ta) for lab, ta in self._texts if self._wanted.get(id(ta), False)]
        taken: list[tuple[float, float, float, float]] = []
        for lab, ta in shown:  # the lesions first: no label may cover one
            if lab.box and lab.avoid_mm > 0:
                x, y = display(lab.anchor)
                ex, ey = display(np.asarray(lab.anchor) + right * lab.avoid_mm)
                r = float(np.hypot(ex - x, ey - y))
                taken.append((x - r, y - r, x + r, y + r))
        fixed: list[tuple[float, float, float, float]] = []
        for lab, ta in shown:
            if lab.box:
                continue
            x, y = display(lab.anchor)
            w, h = size(ta)
            if lab.grow_from is not None:
                x += outward_shift((x, y), display(lab.grow_from), w)
            cx = min(max(x + lab.offset_px[0] * k, w / 2 + 2), w_px - w / 2 - 2)
            cy = min(max(y + lab.offset_px[1] * k, h / 2 + 2), h_px - h / 2 - 2)
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            drop = lab.role in ("ruler", "guide", "zone") and hits(box, fixed) is not None
            ta.SetVisibility(not drop)
            if not drop:
                ta.SetPosition(box[0], box[1])
                fixed.append(box)
        taken += fixed
        leaders: list = []

        for lab, ta in shown:
            if not lab.box:
                continue
            ta.SetVisibility(True)
            x, y = display(lab.anchor)
            r = 0.0
            if lab.avoid_mm > 0:
                ex, ey = display(np.asarray(lab.anchor) + right * lab.avoid_mm)
                r = float(np.hypot(ex - x, ey - y))
            w, h = size(ta)
            # The offline renderer's search: the nearest of 24 places covering no lesion, no label.
            box = label_box_around(x, y, w, h, 10.0 + r, taken, (w_px, h_px), y_up=True)
            ta.SetPosition(box[0], box[1])
            taken.append(box)
            # A leader from the anchor (the lesion's edge) to the box's nearest point, when apart.
            nx_, ny_ = min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])
            d = np.array([nx_ - x, ny_ - y])
            dist = float(np.linalg.norm(d))
            if dist > r + 3.0:
                e = np.array([x, y]) + d / dist * r
                leaders.append(((e[0], e[1]), (nx_, ny_)))
        self._set_leaders(leaders)

    def boxed_label_boxes(self) -> list[tuple[Any, tuple[float, float, float, float]]]:
        """Each shown boxed label with its box in display pixels ``(x0, y0, x1, y1)`` (as last laid out)."""
        out = []
        bbox = [0.0] * 4
        for lab, ta in self._boxed:
            if ta.GetVisibility():
                ta.GetBoundingBox(self.plotter.renderer, bbox)  # relative to the actor's position
                x, y = ta.GetPosition()
                out.append((lab, (x + bbox[0], y + bbox[2], x + bbox[1], y + bbox[3])))
        return out

    def _set_leaders(self, segments: list) -> None:
        """Draw the lesion labels' leader lines (display pixels) as one 2D actor."""
        import pyvista as pv
        from vtkmodules.vtkRenderingCore import vtkActor2D, vtkPolyDataMapper2D

        pts = np.array([[*a, 0.0] for seg in segments for a in seg], dtype=float).reshape(-1, 3)
        poly = pv.PolyData(pts, lines=np.hstack([[2, 2 * k, 2 * k + 1] for k in range(len(segments))])
                           if segments else None)
        if self._leaders is None:
            mapper = vtkPolyDataMapper2D()
            self._leaders = vtkActor2D()
            self._leaders.SetMapper(mapper)
            self._leaders.GetProperty().SetColor(0.1, 0.1, 0.1)
            self._leaders.GetProperty().SetLineWidth(1.0)
            self._leaders.SetPickable(False)
            ren = self.plotter.renderer
            ren.AddViewProp(self._leaders)
            for _, ta in self._texts:  # 2D props draw in the order added: labels over the leaders
                ren.RemoveViewProp(ta)
                ren.AddViewProp(ta)
        self._leaders.GetMapper().SetInputData(poly)

    # ------------------------------------------------------------------ views and toggles

    def set_view(self, view: str, *, render: bool = True) -> None:
        """Move the camera to a standard view (:func:`ductree.scene.view_camera`) and show its actors."""
        if view not in VIEWER_VIEWS:
            raise ValueError(f"unknown view {view!r}; use {', '.join(VIEWER_VIEWS)}")
        self.view = view
        w, h = (int(v) for v in self.plotter.window_size)
        cam = self.model.scene.camera(view, (max(w, 16), max(h, 16)))
        cam.apply_to(self.plotter.renderer.GetActiveCamera())
        self.plotter.camera_set = True  # pyvista would otherwise reset the camera on the first render
        self.apply_visibility(render=False)
        self.plotter.renderer.ResetCameraClippingRange()
        if render:
            self.plotter.render()

    def toggle(self, name: str, value: bool | None = None, *, render: bool = True) -> bool:
        """Flip (or set) one of :data:`~ductree.viewer.model.TOGGLES`; return its new state."""
        if name not in self.toggles:
            raise ValueError(f"unknown toggle {name!r}; use {', '.join(self.toggles)}")
        self.toggles[name] = (not self.toggles[name]) if value is None else bool(value)
        self.apply_visibility(render=render)
        return self.toggles[name]

    def apply_visibility(self, *, render: bool = True) -> None:
        m = self.model
        for a, va in self._actors:
            va.SetVisibility(m.visible(a, self.view, self.toggles))
        for view, group, la in self._labels:
            show = view == self.view and self.toggles["labels"] and (
                group not in ("context", "envelope") or self.toggles[group])
            la.SetVisibility(show)
            self._wanted[id(la)] = show
        if render:
            self.plotter.render()

    def camera_state(self) -> dict:
        """The current camera: position, focal point, view up (BF mm), projection and scale."""
        vc = self.plotter.renderer.GetActiveCamera()
        return {"view": self.view, "position": [round(v, 2) for v in vc.GetPosition()],
                "focal_point": [round(v, 2) for v in vc.GetFocalPoint()],
                "view_up": [round(v, 4) for v in vc.GetViewUp()],
                "parallel": bool(vc.GetParallelProjection()), "parallel_scale": round(vc.GetParallelScale(), 2)}

    def camera_text(self) -> str:
        c = self.camera_state()
        d = np.asarray(c["focal_point"]) - np.asarray(c["position"])
        d = d / (np.linalg.norm(d) or 1.0)
        return (f"{VIEW_NAMES[self.view]}: looking along ({d[0]:+.2f}, {d[1]:+.2f}, {d[2]:+.2f}), "
                f"up ({c['view_up'][0]:+.2f}, {c['view_up'][1]:+.2f}, {c['view_up'][2]:+.2f}) BF")

    # ------------------------------------------------------------------ picking

    def pickable_actors(self) -> list:
        return [va for a, va in self._actors if self.model.group_of(a) in ("tree", "lesion") and va.GetVisibility()]

    def pick_display(self, x: float, y: float) -> Reading | None:
        """Pick the tree at display pixel ``(x, y)`` (origin bottom-left) and read the nearest
        centreline point; ``None`` when no duct is under the cursor."""
        from vtkmodules.vtkRenderingCore import vtkPointPicker

        picker = vtkPointPicker()
        picker.SetTolerance(0.01)
        picker.PickFromListOn()
        for va in self.pickable_actors():
            picker.AddPickList(va)
        if not picker.Pick(float(x), float(y), 0.0, self.plotter.renderer) or picker.GetPointId() < 0:
            return self.show_reading(None)
        return self.show_reading(self.model.read_point(picker.GetPickPosition()))

    def read_point(self, point_bf) -> Reading | None:
        """Read a BF point (mm) directly (snapped to the nearest centreline point)."""
        return self.show_reading(self.model.read_point(point_bf))

    def show_reading(self, reading: Reading | None) -> Reading | None:
        """Put a marker on the read point and remember it (front ends show ``reading.text``)."""
        import pyvista as pv

        pl = self.plotter
        self.last_reading = reading
        if self._marker is not None:
            pl.remove_actor(self._marker, render=False)
            self._marker = None
        if reading is not None:
            ball = pv.Sphere(radius=1.2, center=reading.point_bf, theta_resolution=16, phi_resolution=12)
            self._marker = pl.add_mesh(ball, color="#FFD400", name="ductree-reading", pickable=False,
                                       reset_camera=False, render=False)
        return reading

    # ------------------------------------------------------------------ images

    def screenshot(self, path: str | Path) -> Path:
        """Write the window as a PNG (atomically)."""
        from ..render import write_png

        self.plotter.render()
        img = self.plotter.screenshot(return_img=True)
        return write_png(np.asarray(img)[:, :, :3], path)

    def help_text(self) -> str:
        return ("views: c CC  l lateral  m MLO  f front  o oblique\n"
                "toggles: d duct systems  e envelope  t labels  x context\n"
                "click a duct: read it   s screenshot   q quit")
