"""The web viewer: ``ductree serve case.toml``, a trame application.

The 3D view is rendered on the server (an offscreen VTK window, EGL when
there is no display) and streamed to the browser as images
(``VtkRemoteView``): it works in any browser, with or without WebGL or a
GPU, and the browser sees exactly the actors, labels and cameras of the
desktop window (both use :class:`~ductree.viewer.session.ViewerSession`).

The side panel holds the case picker (the sibling case folders of the given
case: the subfolders of its parent folder that contain a ``case.toml``), the
view buttons (CC, lateral, MLO, front, oblique), the toggles, the camera
readout, the reading of the last click on a duct, the lesion table, the
excision plan, the legend and the warnings.

Safety: the server binds to 127.0.0.1 unless told otherwise; it serves no
file of the user's over HTTP (only trame's own client assets), and a case is
opened only by a name from the picker's list, never by a path, so nothing
outside the folder of cases can be reached. A bad request (an unknown case
name, a case with errors, a click outside the tree) is reported in the panel
and the server carries on.
"""

from __future__ import annotations

import functools
import socket
import sys
import traceback
from os import PathLike
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError
from .model import TOGGLES, VIEW_NAMES, VIEWER_VIEWS, ViewerModel, load_model

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
LESION_COLUMNS = (("label", "lesion"), ("kind", "kind"), ("clock", "clock"), ("quadrant", "quad."),
                  ("depth_mm", "depth mm"), ("third", "third"), ("fn_mm", "fn mm"), ("path_mm", "path mm"),
                  ("system", "sys."), ("orifice", "orifice"), ("status", "status"))
_STYLE = """
#ductree-panel { font-size: 13px; line-height: 1.35; }
#ductree-panel h3 { font-size: 14px; margin: 12px 0 4px; border-bottom: 1px solid #ddd; }
#ductree-panel h4 { font-size: 13px; margin: 8px 0 2px; }
#lesion-table { border-collapse: collapse; font-size: 11px; }
#lesion-table th, #lesion-table td { border: 1px solid #ddd; padding: 1px 4px; text-align: left; }
table.plan { font-size: 12px; } table.plan th { text-align: left; padding-right: 8px; vertical-align: top; }
#camera-readout { font-family: monospace; font-size: 11px; color: #333; }
#reading { background: #fff8d6; border: 1px solid #e6d37a; padding: 4px 6px; border-radius: 4px; }
#ductree-error { color: #b00020; font-weight: 600; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; border: 1px solid #555; vertical-align: -2px; }
"""


def list_cases(root: str | PathLike) -> list[str]:
    """Names of the subfolders of ``root`` that hold a ``case.toml`` (sorted); symlinks are skipped."""
    root = Path(root)
    out = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    for p in entries:
        if p.is_dir() and not p.is_symlink() and (p / "case.toml").is_file():
            out.append(p.name)
    return sorted(out)


def case_file_of(path: str | PathLike) -> Path:
    """The ``case.toml`` a command-line path names (the file, or its folder); must exist."""
    p = Path(path)
    if p.is_dir():
        p = p / "case.toml"
    if not p.is_file():
        raise InputError("no such case file", source=p)
    return p


def check_port(host: str, port: int) -> None:
    """Raise :class:`InputError` unless ``host:port`` can be listened on now."""
    if not 1 <= int(port) <= 65535:
        raise InputError(f"must be 1..65535, got {port}", key="--port")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(f"cannot use host {host!r}: {exc.strerror}", key="--host") from None
    family, _, _, _, addr = infos[0]
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        # The same option the server's listener uses, so a port in TIME_WAIT is not refused.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(addr)
        s.listen(1)
    except OSError as exc:
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise InputError(f"port {port} on {host} is in use (choose another with --port)", key="--port") from None
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}", key="--host") from None
    finally:
        s.close()


class ViewerApp:
    """The trame application around one :class:`ViewerSession` (see the module docstring).

    Building it loads the case (bad input raises :class:`InputError` before
    anything is served).
    """

    def __init__(self, case_file: str | PathLike, *, mesher: str | None = None, server: Any = None,
                 size: tuple[int, int] = (900, 800)) -> None:
        from ..render import _use_egl_without_display

        _use_egl_without_display()
        self.case_file = case_file_of(case_file)
        self.root = self.case_file.resolve().parent.parent
        self.mesher = mesher
        model = load_model(self.case_file, mesher=mesher)
        import pyvista as pv

        from .session import ViewerSession

        self.plotter = pv.Plotter(off_screen=True, window_size=list(size))
        self.session = ViewerSession(self.plotter, model)
        self.current = self.case_file.resolve().parent.name
        if server is None:
            from trame.app import get_server

            server = get_server(f"ductree-{id(self)}", client_type="vue3")
        self.server = server
        self.state, self.ctrl = server.state, server.controller
        self._publish_case()
        self.state.update({"case_name": self.current, "cases": self._case_items(), "error": "",
                           "reading": "click a duct to read where it is", "ready": False})
        for k in TOGGLES:
            self.state[f"toggle_{k}"] = True
        self._bind()
        self._layout()

    # ------------------------------------------------------------------ state

    def _case_items(self) -> list[str]:
        names = list_cases(self.root)
        if self.current not in names:
            names.append(self.current)
        return sorted(names)

    def _publish_case(self) -> None:
        m: ViewerModel = self.session.model
        self.state.update({
            "case_title": f"Case {m.case_id} ({'right' if m.laterality == 'R' else 'left'} breast)",
            "lesions": m.lesion_rows(), "plans": m.plan_rows(), "legend": m.legend_rows(),
            "warnings": list(m.warnings), "view": self.session.view, "camera_text": self.session.camera_text(),
        })

    def _guard(self, fn: Callable) -> Callable:
        """Run a UI callback; any failure is shown in the panel, never raised into the server."""
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except InputError as exc:
                self.state.error = str(exc)
            except Exception as exc:  # an internal error must not take the server down
                traceback.print_exc(file=sys.stderr)
                self.state.error = f"internal error: {type(exc).__name__}: {exc}"
            return None
        return wrapper

    def _bind(self) -> None:
        state = self.state

        @state.change("case_name")
        def _case(case_name: Any = None, **_: Any) -> None:
            self._guard(self.open_case)(case_name)

        for k in TOGGLES:
            def make(name: str) -> Callable:
                def _toggle(**kwargs: Any) -> None:
                    self._guard(self.set_toggle)(name, kwargs.get(f"toggle_{name}"))
                return _toggle
            state.change(f"toggle_{k}")(make(k))

    def update_view(self) -> None:
        self.state.camera_text = self.session.camera_text()
        self.state.view = self.session.view
        if hasattr(self.ctrl, "view_update"):
            self.ctrl.view_update()

    # ------------------------------------------------------------------ actions

    def set_view(self, view: str) -> None:
        if view not in VIEWER_VIEWS:
            raise InputError(f"unknown view {view!r}")
        self.session.set_view(view, render=False)
        self.state.error = ""
        self.update_view()

    def set_toggle(self, name: str, value: Any) -> None:
        if name not in TOGGLES:
            raise InputError(f"unknown toggle {name!r}")
        self.session.toggle(name, bool(value), render=False)
        self.update_view()

    def on_click(self, event: Any) -> None:
        """A click in the view: read the duct under it (display pixels, origin bottom-left)."""
        try:
            pos = event["position"]
            x, y = float(pos["x"]), float(pos["y"])
        except (TypeError, KeyError, ValueError):
            raise InputError("bad click event") from None
        r = self.session.pick_display(x, y)
        self.state.reading = r.text if r is not None else "no duct under the cursor"
        self.state.error = ""
        self.update_view()

    def open_case(self, name: Any) -> None:
        """Open a sibling case by its folder name (only names listed by :func:`list_cases`)."""
        if name == self.current:
            return
        names = list_cases(self.root)
        if not isinstance(name, str) or name not in names:
            self.state.case_name = self.current
            raise InputError(f"no case named {str(name)[:80]!r} in the folder of cases")
        try:
            model = load_model(self.root / name / "case.toml", mesher=self.mesher)
        except InputError:
            self.state.case_name = self.current
            raise
        self.session.load(model)
        self.current = name
        self.state.update({"cases": self._case_items(), "error": "", "reading": "click a duct to read where it is"})
        self._publish_case()
        self.update_view()

    # ------------------------------------------------------------------ layout

    def _layout(self) -> None:
        from trame.ui.vuetify3 import SinglePageWithDrawerLayout
        from trame.widgets import client, html
        from trame.widgets import vtk as vtk_widgets
        from trame.widgets import vuetify3 as v3

        server = self.server
        with SinglePageWithDrawerLayout(server, full_height=True) as layout:
            layout.title.set_text("ductree viewer")
            with layout.toolbar:
                v3.VSpacer()
                v3.VSelect(v_model=("case_name",), items=("cases",), label="case", density="compact",
                           hide_details=True, style="max-width: 320px", id="case-picker")
            with layout.drawer as drawer:
                drawer.width = 460
                with html.Div(id="ductree-panel", classes="pa-3"):
                    client.Style(_STYLE)
                    html.H3("{{ case_title }}", id="case-title")
                    html.Div("{{ error }}", id="ductree-error", v_show="error")
                    with html.Div(classes="my-1"):
                        for v in VIEWER_VIEWS:
                            v3.VBtn(VIEW_NAMES[v], id=f"view-{v}", size="small", classes="mr-1 mb-1",
                                    color=(f"view === '{v}' ? 'indigo' : undefined",),
                                    click=(self._guard(self.set_view), f"['{v}']"))
                    with html.Div(classes="d-flex flex-wrap"):
                        for k in TOGGLES:
                            v3.VCheckbox(v_model=(f"toggle_{k}",), label=k, density="compact", hide_details=True,
                                         id=f"toggle-{k}", classes="mr-2")
                    html.Div("{{ camera_text }}", id="camera-readout")
                    html.H3("Reading")
                    html.Div("{{ reading }}", id="reading")
                    html.H3("Lesions")
                    with html.Div(style="overflow-x: auto"):
                        with html.Table(id="lesion-table", v_if="lesions.length"):
                            with html.Thead():
                                with html.Tr():
                                    for _, title in LESION_COLUMNS:
                                        html.Th(title)
                            with html.Tbody():
                                with html.Tr(v_for="row in lesions", key="row.label"):
                                    for key, _ in LESION_COLUMNS:
                                        html.Td(f"{{{{ row.{key} }}}}")
                        html.Div("no lesion in this case", v_if="!lesions.length")
                    html.H3("Excision plan")
                    with html.Div(id="plan"):
                        html.Div("no plan (no placed lesion)", v_if="!plans.length")
                        with html.Div(v_for="p in plans", key="p.title"):
                            html.H4("{{ p.title }}")
                            with html.Table(classes="plan"):
                                with html.Tr(v_for="(it, i) in p.items", key="i"):
                                    html.Th("{{ it[0] }}")
                                    html.Td("{{ it[1] }}")
                    html.H3("Legend")
                    with html.Div(id="legend"):
                        with html.Div(v_for="(e, i) in legend", key="i"):
                            html.Span(classes="swatch", style=("{ background: e.color }",))
                            html.Span("{{ e.text }}")
                    with html.Div(v_if="warnings.length"):
                        html.H3("Warnings")
                        with html.Ul(id="warnings"):
                            html.Li("{{ w }}", v_for="(w, i) in warnings", key="i")
            with layout.content:
                with v3.VContainer(fluid=True, classes="pa-0 fill-height", id="ductree-stage"):
                    view = vtk_widgets.VtkRemoteView(
                        self.plotter.render_window, interactive_ratio=1, still_quality=95,
                        picking_modes=("['click']",), click=(self._guard(self.on_click), "[$event]"),
                        id="ductree-view")
                    self.ctrl.view_update = view.update
                    self.ctrl.view_reset_camera = view.reset_camera
        self.layout = layout

    # ------------------------------------------------------------------ running

    def start(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, open_browser: bool = False) -> None:
        """Serve until interrupted (blocks)."""
        self.state.ready = True
        argv = sys.argv
        # trame reads its own options from sys.argv; give it none of ours.
        sys.argv = [argv[0] if argv else "ductree", "--server"]
        try:
            self.server.start(host=host, port=int(port), open_browser=open_browser, show_connection_info=False,
                              timeout=0, disable_logging=True)
        finally:
            sys.argv = argv


def serve(case_file: str | PathLike, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          mesher: str | None = None, open_browser: bool = False, echo: Callable[[str], None] = print) -> None:
    """Check the port, load the case, then serve the web viewer until interrupted.

    Bad input (a missing or broken case, a port in use, a bad host) raises
    :class:`InputError` before anything is served.
    """
    path = case_file_of(case_file)
    check_port(host, port)
    app = ViewerApp(path, mesher=mesher)
    shown = f"[{host}]" if ":" in host else host
    echo(f"ductree viewer: case {app.session.model.case_id} at http://{shown}:{port}/ "
         f"(cases from {app.root}; Ctrl-C to stop)")
    sys.stdout.flush()
    app.start(host, port, open_browser=open_browser)
