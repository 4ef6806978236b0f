"""``ductree batch``: the views (and reports) of many cases, in parallel, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .app import app


@app.command()
def batch(
    cases: List[Path] = typer.Argument(..., help="Case files (case.toml) or their folders."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing): one folder per case, "
                             "manifest.json and manifest.csv."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: CPU count; 1 = no workers)."),
    views: Optional[List[str]] = typer.Option(None, "--views", help="Views for every case, comma-separated or repeated "
                                              "(default: each case's [render] views)."),
    size: Optional[str] = typer.Option(None, "--size", help="Image size W,H for every case (default: each case's)."),
    resume: bool = typer.Option(False, "--resume", help="Skip cases whose outputs are complete and inputs unchanged."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html per case (default on)."),
    pdf: bool = typer.Option(False, "--pdf", help="Also write report.pdf per case."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask distributed scheduler address "
                                            "(tcp://host:8786) to run the cases on."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds one case may take; a case past it "
                                            "ends 'error' (timed out) and the batch goes on (not on --scheduler)."),
) -> int:
    """Render many cases: each into its own folder, with a manifest; one bad case never stops the others.

    Exit code 0 when every case is done (or skipped by --resume), 2 when some
    cases failed for bad input, 1 when some case hit an internal error.
    """
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..batch import run_batch
    from ..render import parse_size
    from .render import split_views

    view_list = split_views(views)
    wh = parse_size(size, key="--size")
    err = Console(stderr=True, highlight=False)
    out_console = Console(highlight=False)
    progress = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"),
                        TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=err, transient=True,
                        disable=not err.is_terminal)
    with progress:
        task = progress.add_task("cases", total=len(cases))

        def on_result(r, done, total):
            style = "" if r.status in ("ok", "skipped") else "bold red"
            progress.console.print(r.line(), style=style, markup=False, soft_wrap=True)
            progress.update(task, completed=done)

        result = run_batch([str(c) for c in cases], out, views=view_list, size=wh, jobs=jobs, resume=resume,
                           report=report, pdf=pdf, scheduler=scheduler, timeout_s=timeout,
                           on_result=on_result)
    c = result.counts
    views_n = result.views_rendered
    rate = views_n / result.seconds if result.seconds > 0 else 0.0
    summary = (f"{len(result.results)} case(s): {c['ok']} ok, {c['skipped']} skipped, {c['failed']} failed, "
               f"{c['error']} error; {views_n} view(s) in {result.seconds:.1f} s ({rate:.2f} views/s); "
               f"manifest {Path(out) / 'manifest.json'}")
    out_console.print(summary, markup=False, soft_wrap=True)
    if result.exit_code:
        sys.stderr.write(f"ductree: error: {c['failed'] + c['error']} case(s) did not finish; see the manifest\n")
    return result.exit_code
