"""Render many cases at once, resumably, from Python: the API behind ``ductree batch``.

Usage: ``python examples/batch_render.py [OUT_DIR]`` (default: a new temporary folder).

1. Writes four phantom cases (right and left breasts) and one broken case whose tree file is missing.
2. Runs the batch on two worker processes (``ductree.batch.run_batch``): each case into its own folder
   with its views and report, a manifest (JSON and CSV) with each case's status; the broken case is
   reported in one line and the others go on.
3. Runs it again with ``resume=True``: every finished case is skipped (its inputs have not changed).
4. The same loop written by hand: ``render_views`` on each case with one reused renderer.

The same from the command line::

    ductree batch OUT_DIR/cases/*/case.toml --out OUT_DIR/batch --jobs 2 --views cc,front
    ductree batch OUT_DIR/cases/*/case.toml --out OUT_DIR/batch --jobs 2 --views cc,front --resume
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ductree.batch import run_batch
from ductree.case import load_case
from ductree.phantom import write_phantom_case
from ductree.render import Renderer, render_views


def main(out_dir: Path) -> int:
    cases = [write_phantom_case(out_dir / "cases" / f"case-{i}", seed=40 + i, systems=4, branches=25, lesions=1,
                                laterality="RL"[i % 2]) for i in range(4)]
    broken = out_dir / "cases" / "broken" / "case.toml"
    broken.parent.mkdir(parents=True)
    broken.write_text('id = "broken"\nlaterality = "L"\n[source]\ntree = "missing.json"\n')
    paths = [*cases[:2], broken, *cases[2:]]

    def show(result, done, total):
        print(f"[{done}/{total}] {result.line()}")

    batch = out_dir / "batch"
    # timeout_s: a case that hangs is stopped after 10 minutes and the others go on.
    res = run_batch(paths, batch, views=("cc", "front"), size=(384, 384), jobs=2, timeout_s=600, on_result=show)
    print(f"first run: {res.counts['ok']} ok, {res.counts['failed']} failed, exit code {res.exit_code}, "
          f"{res.views_rendered} views in {res.seconds:.1f} s; manifest {batch / 'manifest.csv'}")
    res = run_batch(paths, batch, views=("cc", "front"), size=(384, 384), jobs=2, resume=True)
    print(f"resumed:   {res.counts['skipped']} skipped, {res.counts['ok']} ok, {res.counts['failed']} failed")

    # The same by hand: one renderer, reused for every case.
    renderer = Renderer((384, 384))
    for p in cases:
        case = load_case(p)
        written = render_views(case, views=("cc",), out_dir=out_dir / "loop" / case.id, renderer=renderer)
        print(f"loop: {case.id} -> {written['cc']}")
    renderer.close()
    return res.exit_code


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ductree-batch-")))
