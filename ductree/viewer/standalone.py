"""The standalone viewer: one self-contained HTML file (vtk.js + the scene) that opens offline.

:func:`export_html` writes a single file holding

- vtk.js, taken at export time from the installed ``trame-vtk`` package (its
  offline scene viewer, which also decodes a zipped scene); nothing is fetched
  from the network, neither when exporting nor when the file is opened;
- the case's 3D scene (the actors of :func:`ductree.scene.build_scene`, as
  vtk.js scene state with the polydata arrays base64-encoded in a zip);
- our own small page (``templates/standalone.html``): view buttons (CC,
  lateral, MLO, front, oblique, the cameras of :func:`ductree.scene.view_camera`),
  toggles, text labels that follow the 3D anchors, click-to-read on the duct
  centrelines (the same readings as the desktop and web viewers), the lesion
  table, the excision plan and the legend.

Coordinates are BF mm throughout.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zipfile
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .model import DEFAULT_VIEW, TOGGLES, VIEW_NAMES, VIEWER_VIEWS, ViewerModel, _ROLE_GROUP

TEMPLATE = Path(__file__).with_name("templates") / "standalone.html"
#: Spacing (mm) of the centreline samples the file carries for click-to-read.
STEP_MM = 1.0


def vtkjs_bundle() -> str:
    """The vtk.js offline viewer code (an ES module) shipped inside the installed ``trame-vtk`` package."""
    try:
        import trame_vtk
    except ImportError:
        raise InputError("export-html needs the trame-vtk package (pip install 'ductree[web]')") from None
    path = Path(trame_vtk.__file__).parent / "tools" / "static_viewer.html"
    if not path.is_file():
        raise InputError(f"trame-vtk has no offline vtk.js viewer at {path} (pip install -U trame-vtk)")
    text = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="module">(.*?)</script>', text, re.S)
    if m is None or "OfflineLocalView" not in m.group(1):
        raise InputError(f"unexpected trame-vtk viewer layout in {path} (pip install -U trame-vtk)")
    # vtk.js puts favicon links to its project web site into <head> when it loads: drop them (the
    # page's Content-Security-Policy would block them anyway; this keeps the console clean).
    return re.sub(r"\[16,32,96,160,196\]\.forEach\(", "[].forEach(", m.group(1), count=1)


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def scene_state(model: ViewerModel, *, view: str = DEFAULT_VIEW) -> tuple[dict, list[dict]]:
    """The vtk.js scene state of the model's actors and, in the same order, what each actor is.

    Returns ``(state, actors)``: ``state`` is ``{"scene": ..., "hashes": ...}``
    (vtk.js synchronizable render-window state with base64 arrays); ``actors``
    one dict per vtk.js actor, in the renderer's order: ``name``, ``views``,
    ``group`` and ``system`` (for the toggles).
    """
    from trame_vtk.modules.vtk.serializers import (SynchronizationContext, extract_array_hash,
                                                   initialize_serializers, serialize)
    from trame_vtk.modules.vtk.serializers.utils import reference_id
    from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow

    from .vtkactors import make_vtk_actor

    initialize_serializers()
    rw = vtkRenderWindow()  # never rendered: no OpenGL context is made
    rw.SetOffScreenRendering(1)
    ren = vtkRenderer()
    ren.SetBackground(1.0, 1.0, 1.0)
    rw.AddRenderer(ren)
    by_id = {}
    for a in model.actors():
        va = make_vtk_actor(a)  # left visible: the serializer skips hidden actors; the page sets visibility
        ren.AddActor(va)
        by_id[reference_id(va)] = {"name": a.name, "views": list(a.views), "group": model.group_of(a),
                                   "system": model.system_of(a)}
    cam = model.scene.camera(view, (1000, 1000))
    vc = ren.GetActiveCamera()
    vc.SetFocalPoint(*cam.focal)
    vc.SetPosition(*cam.position)
    vc.SetViewUp(*cam.up)
    ctx = SynchronizationContext()
    scene = serialize(None, rw, "ductree-view", ctx, 1)
    hashes = {}
    for entry in extract_array_hash(scene):
        h = entry["hash"]
        hashes[h] = dict(**entry, content=ctx.get_cached_data_array(h, False))
    order = []
    for r in scene.get("dependencies", []):
        for d in r.get("dependencies", []):
            if d.get("id") in by_id:
                order.append(by_id[d["id"]])
    if len(order) != len(by_id):
        raise RuntimeError(f"serialized {len(order)} of {len(by_id)} actors")
    return {"scene": scene, "hashes": hashes}, order


def _camera(model: ViewerModel, view: str) -> dict:
    cam = model.scene.camera(view, (1000, 1000))
    return {"position": [float(v) for v in cam.position], "focal": [float(v) for v in cam.focal],
            "up": [float(v) for v in cam.up], "parallel": cam.parallel_scale is not None,
            "scale": float(cam.parallel_scale or 0.0), "angle": float(cam.view_angle_deg)}


def reading_arrays(model: ViewerModel, step_mm: float = STEP_MM) -> dict:
    """Centreline samples every ``step_mm`` with what a click reads, as base64 arrays and lookup tables.

    The JavaScript formats the same one-line text as :attr:`ductree.viewer.model.Reading.text`.
    """
    from ..frame import locate_point
    from .model import centreline_samples

    c = centreline_samples(model.tree, step_mm)
    clocks: list[str] = []
    quads: list[str] = []
    thirds: list[str] = []
    n = len(c.points)
    ci, qi, ti = np.zeros(n, np.int16), np.zeros(n, np.int16), np.zeros(n, np.int16)
    fn = np.zeros(n)

    def code(table: list[str], value: str | None) -> int:
        v = value or ""
        if v not in table:
            table.append(v)
        return table.index(v)

    for k, p in enumerate(c.points):
        loc = locate_point(p, model.laterality, model.breast_depth_mm)
        ci[k] = code(clocks, loc.clock_half_hour)
        qi[k] = code(quads, loc.quadrant)
        ti[k] = code(thirds, loc.depth_third)
        fn[k] = loc.fn_mm
    from ..frame import format_clock

    orifices = {str(s): format_clock(model.tree.nodes[model.tree.root_of_system(s)].get("orifice_clock"),
                                     half_hour=True) for s in model.tree.systems()}
    return {
        "n": int(len(c.points)),
        "xyz": _b64(c.points.astype(np.float32)), "path": _b64(c.path_mm.astype(np.float32)),
        "fn": _b64(fn.astype(np.float32)), "system": _b64(c.system.astype(np.int16)),
        "generation": _b64(c.generation.astype(np.int16)), "clock": _b64(ci), "quadrant": _b64(qi),
        "third": _b64(ti), "clocks": clocks, "quadrants": quads, "thirds": thirds, "orifices": orifices,
    }


def _labels(model: ViewerModel) -> list[dict]:
    out = []
    for lab in model.labels():
        out.append({"text": lab.text, "anchor": [round(float(v), 2) for v in lab.anchor],
                    "views": [v for v in lab.views if v in VIEWER_VIEWS],
                    "group": _ROLE_GROUP.get(lab.role, "context"), "color": lab.color, "size": float(lab.size),
                    "bold": bool(lab.bold), "box": bool(lab.box), "avoid": float(lab.avoid_mm),
                    "offset": [float(lab.offset_px[0]), float(lab.offset_px[1])],
                    "grow": None if lab.grow_from is None else [round(float(v), 2) for v in lab.grow_from]})
    return out


def _panel_html(model: ViewerModel) -> str:
    """The side panel's static part: lesion table, plan, legend, warnings (HTML, escaped)."""
    e = html.escape
    rows = model.lesion_rows()
    cols = [("label", "lesion"), ("kind", "kind"), ("clock", "clock"), ("quadrant", "quad."),
            ("depth_mm", "depth mm"), ("third", "third"), ("fn_mm", "fn mm"), ("path_mm", "path mm"),
            ("system", "sys."), ("orifice", "orifice"), ("status", "status")]
    parts = ['<h2>Lesions</h2>']
    if rows:
        parts.append('<div class="scroll"><table id="lesion-table"><thead><tr>' + "".join(f"<th>{e(t)}</th>" for _, t in cols)
                     + "</tr></thead><tbody>")
        for r in rows:
            parts.append("<tr>" + "".join(f"<td>{e(str(r[k]))}</td>" for k, _ in cols) + "</tr>")
            if r["note"]:
                parts.append(f'<tr class="note"><td colspan="{len(cols)}">{e(r["note"])}</td></tr>')
        parts.append("</tbody></table></div>")
    else:
        parts.append('<p id="lesion-table">no lesion in this case</p>')
    parts.append('<h2>Excision plan</h2><div id="plan">')
    plans = model.plan_rows()
    if not plans:
        parts.append("<p>no plan (no placed lesion)</p>")
    for p in plans:
        parts.append(f"<h3>{e(p['title'])}</h3><table class=\"plan\">")
        for item, value in p["items"]:
            parts.append(f"<tr><th>{e(item)}</th><td>{e(value)}</td></tr>")
        parts.append("</table>")
    parts.append("</div><h2>Legend</h2><ul id=\"legend\">")
    for entry in model.legend_rows():
        parts.append(f'<li><span class="swatch" style="background:{e(entry["color"])}"></span>{e(entry["text"])}</li>')
    parts.append("</ul>")
    if model.warnings:
        parts.append('<h2>Warnings</h2><ul id="warnings">' + "".join(f"<li>{e(w)}</li>" for w in model.warnings)
                     + "</ul>")
    return "".join(parts)


def standalone_html(model: ViewerModel, *, view: str = DEFAULT_VIEW) -> str:
    """The whole standalone page for one case (see the module docstring)."""
    if view not in VIEWER_VIEWS:
        raise InputError(f"unknown view {view!r}; use {', '.join(VIEWER_VIEWS)}", key="--view")
    state, actors = scene_state(model, view=view)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("index.json", json.dumps(state, separators=(",", ":")))
    meta = {
        "case_id": model.case_id, "laterality": model.laterality, "default_view": view,
        "views": [{"id": v, "name": VIEW_NAMES[v], "camera": _camera(model, v)} for v in VIEWER_VIEWS],
        "actors": actors, "lesion_systems": sorted(model.lesion_systems), "labels": _labels(model),
        "toggles": TOGGLES, "readings": reading_arrays(model),
    }
    meta_json = json.dumps(meta, separators=(",", ":")).replace("</", "<\\/")
    page = TEMPLATE.read_text(encoding="utf-8")
    subs = {
        "@@TITLE@@": html.escape(f"ductree viewer - {model.case_id} ({model.laterality})"),
        "@@CASE@@": html.escape(f"{model.case_id}"),
        "@@LATERALITY@@": "right" if model.laterality == "R" else "left",
        "@@PANEL@@": _panel_html(model),
        "@@META@@": meta_json,
        "@@SCENE@@": base64.b64encode(buf.getvalue()).decode("ascii"),
    }
    for k, v in subs.items():
        if page.count(k) != 1:
            raise RuntimeError(f"template placeholder {k} must appear once")
        page = page.replace(k, v)
    # Last, so nothing inside vtk.js can be mistaken for a placeholder.
    head, tail = page.split("/*@@VTKJS@@*/")
    return head + vtkjs_bundle() + tail


def export_html(case_or_model: Any, out: str | PathLike, *, view: str = DEFAULT_VIEW,
                mesher: str | None = None) -> Path:
    """Write the standalone viewer of a case (a ``case.toml``, a Case or a :class:`ViewerModel`) to ``out``.

    The file is written atomically; its folder must exist. Returns its path.
    """
    from ..atomic import check_output_path, write_text
    from .model import load_model

    check_output_path(out)
    model = case_or_model if isinstance(case_or_model, ViewerModel) else load_model(case_or_model, mesher=mesher)
    return write_text(out, standalone_html(model, view=view))
