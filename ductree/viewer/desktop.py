"""The desktop viewer: an interactive VTK window (pyvista) on one case.

Keys: ``c`` CC, ``l`` lateral, ``m`` MLO, ``f`` front, ``o`` oblique (the
standard views of :func:`ductree.scene.view_camera`); toggles ``d`` duct
systems without a lesion, ``e`` envelope, ``t`` text labels, ``x`` context
(breast outline, rulers, clock face); ``s`` screenshot; ``q`` quit. A click
(press and release without dragging) on a duct or a lesion reads the nearest
duct-centreline point: clock, depth, fn, ``path_mm``, duct system and
generation, shown in the window and printed on stdout.

:func:`setup_desktop` does everything but open the window, so a test can run
it on an offscreen plotter and press the keys through the plotter's key
callbacks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from ..errors import InputError
from .model import DEFAULT_VIEW, VIEW_KEYS, VIEW_NAMES, ViewerModel, load_model
from .session import ViewerSession

if TYPE_CHECKING:  # pragma: no cover
    import pyvista as pv

TOGGLE_KEYS = {"d": "systems", "e": "envelope", "t": "labels", "x": "context"}
#: A press and release closer than this (pixels) is a click, not a drag.
CLICK_SLOP_PX = 4


def check_display() -> None:
    """Raise :class:`InputError` when there is no display to open a window on (Linux without X or Wayland)."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise InputError("no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset); "
                         "use `ductree serve CASE` to view it in a browser, or `ductree render CASE --out DIR` "
                         "for PNG views")


def setup_desktop(plotter: "pv.Plotter", model: ViewerModel, *, view: str = DEFAULT_VIEW,
                  screenshot_dir: str | Path = ".", echo: Callable[[str], None] | None = print) -> ViewerSession:
    """Draw ``model`` into ``plotter`` and bind the keys and the click-to-read (see the module docstring).

    ``echo`` receives every line the viewer prints (a reading, a screenshot
    path); ``None`` keeps quiet.
    """
    session = ViewerSession(plotter, model, view=view)
    say = echo or (lambda _text: None)
    shots = {"n": 0}
    out_dir = Path(screenshot_dir)

    def status(text: str) -> None:
        plotter.add_text(text, position="lower_left", font_size=10, color="black", name="ductree-status",
                         render=False)
        plotter.render()

    def title() -> None:
        m = session.model
        plotter.add_text(f"{m.laterality} {VIEW_NAMES[session.view]}   case {m.case_id}", position="upper_left", font_size=12, color="black",
                         name="ductree-title", render=False)

    def on_view(v: str) -> Callable[[], None]:
        def cb() -> None:
            session.set_view(v, render=False)
            title()
            plotter.render()
        return cb

    def on_toggle(name: str) -> Callable[[], None]:
        def cb() -> None:
            state = session.toggle(name, render=False)
            status(f"{name}: {'on' if state else 'off'}")
        return cb

    def on_screenshot() -> None:
        shots["n"] += 1
        path = out_dir / f"ductree-{session.model.case_id}-{session.view}-{shots['n']}.png"
        session.screenshot(path)
        say(f"screenshot {path}")
        status(f"screenshot {path}")

    for key, v in VIEW_KEYS.items():
        plotter.add_key_event(key, on_view(v))
    for key, name in TOGGLE_KEYS.items():
        plotter.add_key_event(key, on_toggle(name))
    plotter.add_key_event("s", on_screenshot)
    plotter.add_key_event("h", lambda: say(session.help_text()))

    def on_pick_at(x: float, y: float) -> None:
        r = session.pick_display(x, y)
        text = r.text if r is not None else "no duct under the cursor"
        say(text)
        status(text)

    session.on_pick_at = on_pick_at  # type: ignore[attr-defined]
    iren = plotter.iren
    if iren is not None:
        press = {"pos": None}

        def on_press(obj, _event) -> None:
            press["pos"] = obj.GetEventPosition()

        def on_release(obj, _event) -> None:
            p0, p1 = press["pos"], obj.GetEventPosition()
            press["pos"] = None
            if p0 is not None and abs(p0[0] - p1[0]) <= CLICK_SLOP_PX and abs(p0[1] - p1[1]) <= CLICK_SLOP_PX:
                on_pick_at(*p1)

        iren.interactor.AddObserver("LeftButtonPressEvent", on_press, 10.0)
        iren.interactor.AddObserver("LeftButtonReleaseEvent", on_release, 10.0)
        # VTK's own one-letter keys (f = fly to, e = exit, s = surface, w = wireframe, 3 = stereo...)
        # would fight ours: a no-op CharEvent observer on the style turns them off.
        style = iren.interactor.GetInteractorStyle()
        if style is not None:
            style.AddObserver("CharEvent", lambda *_: None)
    title()
    plotter.add_text(session.help_text(), position="upper_right", font_size=8, color="#444444", name="ductree-help",
                     render=False)
    status("click a duct to read where it is")
    return session


def run_desktop(case_file: str | Path, *, size: Sequence[int] = (1200, 900), view: str = DEFAULT_VIEW,
                mesher: str | None = None, screenshot_dir: str | Path = ".") -> None:
    """Open the interactive window on a case (blocks until it is closed).

    Fails with :class:`InputError` before loading anything when there is no display.
    """
    check_display()
    if not Path(screenshot_dir).is_dir():
        raise InputError("folder does not exist", source=screenshot_dir, key="--screenshots")
    model = load_model(case_file, mesher=mesher)
    import pyvista as pv

    plotter = pv.Plotter(window_size=list(size), title=f"ductree - {model.case_id} ({model.laterality})")
    setup_desktop(plotter, model, view=view, screenshot_dir=screenshot_dir)
    for w in model.warnings:
        print(f"warning: {w}")
    plotter.show()
