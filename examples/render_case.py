"""Render the planning views of a case and write its planning report (HTML and PDF).

Usage: ``python examples/render_case.py [OUT_DIR [SIZE]]`` (default: a new temporary folder, 768 px).

1. Writes two phantom cases, a right and a left breast (``case.toml``, ``tree.json``,
   ``truth.json``), each with lesions stated as a clinician would.
2. Renders every standard view of each (``ductree.render.render_views``): CC hung lateral side up,
   the true lateral, the MLO, the front view with its clock face, a 3D overview and the
   straightened involved duct. One offscreen window is reused for all twelve pictures.
3. Writes the right breast's planning report, ``report.html`` (self-contained) and ``report.pdf``,
   reusing the images already rendered.

The same from the command line::

    ductree render OUT_DIR/case-R/case.toml --out OUT_DIR/views-R
    ductree report OUT_DIR/case-R/case.toml --out OUT_DIR/report.html --pdf OUT_DIR/report.pdf
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ductree.case import load_case
from ductree.phantom import write_phantom_case
from ductree.render import Renderer, render_views
from ductree.report import write_report

VIEWS = ("cc", "lateral", "mlo", "front", "oblique", "duct")


def main(out_dir: Path, size: tuple[int, int] = (768, 768)) -> None:
    renderer = Renderer(size)          # one offscreen window for every view of every case
    images_r: dict = {}
    for lat, seed in (("R", 7), ("L", 11)):
        case_path = write_phantom_case(out_dir / f"case-{lat}", seed=seed, systems=6, branches=60, lesions=2,
                                       laterality=lat)
        case = load_case(case_path)
        t0 = time.perf_counter()
        images = images_r if lat == "R" else {}
        written = render_views(case, views=VIEWS, out_dir=out_dir / f"views-{lat}", size=size, renderer=renderer,
                               images=images)
        print(f"case {case.id} ({lat}): {len(written)} views in {time.perf_counter() - t0:.1f} s")
        for view, path in written.items():
            print(f"  {view:<8} {path}")
        if lat == "R":
            report = write_report(case, out_dir / "report.html", pdf_path=out_dir / "report.pdf", views=VIEWS,
                                  images=images)
            for kind, path in report.items():
                print(f"  report {kind:<4} {path}")
    renderer.close()


if __name__ == "__main__":
    px = int(sys.argv[2]) if len(sys.argv) > 2 else 768
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ductree-render-")), (px, px))
