"""Planning views: ``ductree batch`` against a naive render loop, and the time to the first image.

- **Batch throughput**: N phantom cases (50; ``--quick`` 5) x 4 views (cc, lateral, front,
  oblique) at 1024 x 1024, through the real command line (``ductree batch --jobs 2 --no-report``,
  so process start-up and imports count), in views per second of wall time.
- **Naive peer**, same run, same drawing code: for every view a fresh case load, the scene and its
  meshes rebuilt, a new ``pyvista.Plotter``, one render, the plotter closed. It is timed on the
  first few cases (the rate is what is compared) to keep the run short.
- **Reuse alone**: the batch with ``--jobs 1`` on a subset, to separate window/mesh reuse from
  the two worker processes.
- **Time to first image** of ``ductree render CASE --views cc`` (a fresh process, import time
  included), with the default watertight model surfaces and with ``--mesher tubes``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .harness import Row

VIEWS = ("cc", "lateral", "front", "oblique")
SIZE = (1024, 1024)


def _cases(root: Path, n: int) -> list[Path]:
    from ductree.phantom import write_phantom_case

    return [write_phantom_case(root / f"case-{i:02d}", seed=100 + i, systems=6, branches=60, lesions=2,
                               laterality="RL"[i % 2]) for i in range(n)]


def _cli_batch(cases: list[Path], out: Path, jobs: int) -> float:
    cmd = [sys.executable, "-m", "ductree", "batch", *map(str, cases), "--out", str(out), "--jobs", str(jobs),
           "--views", ",".join(VIEWS), "--size", f"{SIZE[0]},{SIZE[1]}", "--no-report"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8")
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"batch failed ({r.returncode}): {r.stderr[-2000:]}")
    return dt


def _naive(cases: list[Path], out: Path) -> float:
    """New plotter and rebuilt meshes for every view (same scene and drawing code as the batch)."""
    import pyvista as pv

    from ductree.case import load_case
    from ductree.render import Renderer, _use_egl_without_display, write_png
    from ductree.scene import build_scene

    _use_egl_without_display()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for path in cases:
        for view in VIEWS:
            case = load_case(path)                      # fresh: tree, placement and plan again
            scene = build_scene(case)                   # meshes rebuilt
            plotter = pv.Plotter(off_screen=True, window_size=list(SIZE))
            r = Renderer(SIZE, plotter=plotter)
            r.load(scene)
            write_png(r.render(view), out / f"{case.id}-{view}.png")
            plotter.close()
    return time.perf_counter() - t0


def _first_image(case: Path, out: Path, mesher: str, repeat: int) -> float:
    best = float("inf")
    for k in range(repeat):
        d = out / f"{mesher}-{k}"
        cmd = [sys.executable, "-m", "ductree", "render", str(case), "--out", str(d), "--views", "cc",
               "--mesher", mesher]
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        target = d / "cc.png"
        while not target.exists():
            if p.poll() is not None and not target.exists():
                raise RuntimeError(f"render failed: {p.stderr.read().decode()[-2000:]}")
            time.sleep(0.01)
        best = min(best, time.perf_counter() - t0)
        p.wait()
    return best


def run(quick: bool) -> list[Row]:
    n = 5 if quick else 50
    n_naive = 2 if quick else 6
    n_one = 3 if quick else 10
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        root = Path(tmp)
        cases = _cases(root / "cases", n)
        t_batch = _cli_batch(cases, root / "batch2", jobs=2)
        t_one = _cli_batch(cases[:n_one], root / "batch1", jobs=1)
        t_naive = _naive(cases[:n_naive], root / "naive")
        ttfi_model = _first_image(cases[0], root / "first", "model", repeat=2 if quick else 3)
        ttfi_tubes = _first_image(cases[0], root / "first", "tubes", repeat=2 if quick else 3)
    vps_batch = len(VIEWS) * n / t_batch
    vps_one = len(VIEWS) * n_one / t_one
    vps_naive = len(VIEWS) * n_naive / t_naive
    peer = "naive: new plotter + meshes per view"
    note = f"{os.cpu_count()} cores; naive timed on {n_naive} cases; phantom 6 systems x 60 branches, 2 lesions"
    return [
        Row("render", f"ductree batch --jobs 2, {n} cases x 4 views {SIZE[0]}px", vps_batch, "views/s", peer,
            vps_naive, True, ">= 3x the naive loop", note),
        Row("render", f"ductree batch --jobs 1, {n_one} cases x 4 views (reuse only)", vps_one, "views/s", peer,
            vps_naive, True, "", ""),
        Row("render", "time to first image, ductree render (default: tubes)", ttfi_tubes, "s", target="< 3 s",
            note="fresh process, imports included; best of runs"),
        Row("render", "time to first image, ductree render --mesher model", ttfi_model, "s",
            note="the watertight surfaces; fresh process, best of runs"),
    ]
