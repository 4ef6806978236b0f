"""Export a case's standalone 3D viewer, read a duct point as the viewers do, and save an offscreen frame.

Usage: ``python examples/viewer_export.py [OUT_DIR]`` (default: a new temporary folder).

1. Writes a phantom case (right breast, two lesions).
2. Builds its viewer model once (``ductree.viewer.load_model``): the same scene as the PNG views,
   with the breast outline, plus the duct-centreline samples a click snaps to.
3. Reads the duct point farthest from the nipple axis, as a click in any viewer would
   (clock, depth, fn, path along the duct, system, generation).
4. Writes ``viewer.html``: one self-contained file (vtk.js and the scene inside) that opens offline.
5. Draws the desktop window's set-up offscreen, presses the front-view key and saves ``front.png``.

The same from the command line::

    ductree export-html OUT_DIR/case/case.toml --out OUT_DIR/viewer.html
    ductree serve OUT_DIR/case/case.toml        # then open http://127.0.0.1:8080/
    ductree view OUT_DIR/case/case.toml         # needs a display
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ductree.phantom import write_phantom_case
from ductree.viewer import export_html, load_model


def main(out_dir: Path) -> None:
    case_path = write_phantom_case(out_dir / "case", seed=5, systems=4, branches=25, lesions=2, laterality="R")
    t0 = time.perf_counter()
    model = load_model(case_path)
    print(f"case {model.case_id} ({model.laterality}): {len(model.actors())} objects, "
          f"{len(model.centreline.points)} duct points to read, built in {time.perf_counter() - t0:.1f} s")
    for row in model.lesion_rows():
        print(f"lesion {row['label']}: {row['kind']} at {row['clock']}, {row['depth_mm']} mm deep, system {row['system']}")
    c = model.centreline
    far = c.points[int(np.argmax(np.hypot(c.points[:, 0], c.points[:, 2])))]
    print(f"reading: {model.read_point(far).text}")

    t0 = time.perf_counter()
    html = export_html(model, out_dir / "viewer.html")
    print(f"wrote {html} ({html.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")

    from ductree.render import _use_egl_without_display

    _use_egl_without_display()
    import pyvista as pv

    from ductree.viewer import setup_desktop

    plotter = pv.Plotter(off_screen=True, window_size=[800, 700])
    session = setup_desktop(plotter, model, screenshot_dir=out_dir, echo=None)
    for callback in plotter.iren._key_press_event_callbacks["f"]:   # the front-view key
        callback()
    png = session.screenshot(out_dir / "front.png")
    plotter.close()
    print(f"wrote {png}: {session.camera_text()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ductree-viewer-")))
