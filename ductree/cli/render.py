"""``ductree render`` and ``ductree report``: the planning views and the planning report of one case."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from .app import app

VIEWS_HELP = "Views, comma-separated or repeated: cc, lateral, mlo, front, oblique, duct (default: the case's [render] views)."


def split_views(values: Optional[List[str]]) -> Optional[list[str]]:
    """``["cc,front", "duct"]`` -> ``["cc", "front", "duct"]`` (``None`` stays ``None``); names are checked."""
    if not values:
        return None
    from ..scene import check_views

    names = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return list(check_views(names, key="--views"))


@app.command()
def render(
    case_file: Path = typer.Argument(..., help="The case file (case.toml, or its folder)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the PNGs into (created if missing)."),
    views: Optional[List[str]] = typer.Option(None, "--views", help=VIEWS_HELP),
    size: Optional[str] = typer.Option(None, "--size", help="Image size W,H in pixels (default: the case's, 1024,1024)."),
    color_by: Optional[str] = typer.Option(None, "--color-by", help="system, generation, radius or involvement."),
    colormap: Optional[str] = typer.Option(None, "--colormap", help="Matplotlib colormap for generation/radius (viridis)."),
    background: Optional[str] = typer.Option(None, "--background", help="Background colour name or #RRGGBB (white)."),
    mesher: Optional[str] = typer.Option(None, "--mesher", help="tubes (a tube per branch: fast; the default) or model "
                                         "(the watertight surfaces that are printed)."),
) -> None:
    """Render the standard planning views of a case as PNG files, one per view."""
    from ..errors import InputError
    from ..render import check_background, parse_size, render_views
    from ..scene import scene_options

    t0 = time.perf_counter()
    view_list = split_views(views)
    wh = parse_size(size, key="--size")
    if background is not None:
        check_background(background)
    from ..case import load_case

    case = load_case(case_file)
    try:
        options = scene_options(case, color_by=color_by, colormap=colormap, mesher=mesher)
    except InputError as exc:
        raise InputError(exc.message, key=f"--{exc.key.replace('_', '-')}" if exc.key else None) from None
    written = render_views(case, views=view_list, out_dir=out, size=wh, options=options, background=background)
    for view, path in written.items():
        typer.echo(f"{view:<8} {path}")
    typer.echo(f"{len(written)} view(s) of {case.id} in {time.perf_counter() - t0:.1f} s")


@app.command()
def report(
    case_file: Path = typer.Argument(..., help="The case file (case.toml, or its folder)."),
    out: Path = typer.Option(..., "--out", "-o", help="The HTML report to write (its folder must exist)."),
    pdf: Optional[Path] = typer.Option(None, "--pdf", help="Also write the report as PDF here."),
    views: Optional[List[str]] = typer.Option(None, "--views", help="Views in the report (default: front, cc, lateral, duct, mlo, oblique)."),
    size: Optional[str] = typer.Option(None, "--size", help="View size W,H in pixels (default 800,800)."),
) -> None:
    """Write the planning report of a case: one self-contained HTML file, optionally a PDF."""
    from ..atomic import check_output_path
    from ..render import parse_size
    from ..report import write_report

    view_list = split_views(views)
    wh = parse_size(size, key="--size")
    for p in (out, pdf):
        if p is not None:
            check_output_path(p)
    from ..case import load_case

    case = load_case(case_file)
    written = write_report(case, out, pdf_path=pdf, views=view_list, size=wh)
    for kind, path in written.items():
        typer.echo(f"{kind:<5} {path}")
