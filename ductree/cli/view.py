"""``ductree view``, ``ductree serve`` and ``ductree export-html``: the planning viewers of one case."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app

MESHER_HELP = "model (the watertight surfaces, default) or tubes (a tube per branch: faster to build)."
VIEW_HELP = "The view to open on: cc, lateral, mlo, front or oblique."


def _check_view(view: str) -> str:
    from ..errors import InputError
    from ..viewer.model import VIEWER_VIEWS

    if view not in VIEWER_VIEWS:
        raise InputError(f"unknown view {view!r}; use {', '.join(VIEWER_VIEWS)}", key="--view")
    return view


def _check_mesher(mesher: Optional[str]) -> None:
    from ..errors import InputError

    if mesher is not None and mesher not in ("model", "tubes"):
        raise InputError(f"must be model or tubes, got {mesher!r}", key="--mesher")


@app.command()
def view(
    case_file: Path = typer.Argument(..., help="The case file (case.toml, or its folder)."),
    size: str = typer.Option("1200,900", "--size", help="Window size W,H in pixels."),
    start_view: str = typer.Option("front", "--view", help=VIEW_HELP),
    screenshots: Path = typer.Option(Path("."), "--screenshots", help="Folder for the screenshots of the s key."),
    mesher: Optional[str] = typer.Option(None, "--mesher", help=MESHER_HELP),
) -> None:
    """Open the interactive 3D window on a case (needs a display; see `ductree serve` otherwise).

    Keys: c CC, l lateral, m MLO, f front, o oblique; d duct systems without a
    lesion, e envelope, t labels, x context; s screenshot; q quit. Click a duct
    to read its clock, depth, fn, path along the duct, system and generation.
    """
    from ..render import parse_size
    from ..viewer.desktop import check_display, run_desktop

    check_display()
    wh = parse_size(size, key="--size")
    _check_view(start_view)
    _check_mesher(mesher)
    run_desktop(case_file, size=wh, view=start_view, mesher=mesher, screenshot_dir=screenshots)


@app.command()
def serve(
    case_file: Path = typer.Argument(..., help="The case file (case.toml, or its folder)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8080, "--port", "-p", help="Port to listen on."),
    mesher: Optional[str] = typer.Option(None, "--mesher", help=MESHER_HELP),
    open_browser: bool = typer.Option(False, "--open/--no-open", help="Open the system browser on the viewer."),
) -> None:
    """Serve the web viewer of a case (and of its sibling case folders) until Ctrl-C."""
    from ..viewer.web import serve as serve_app

    _check_mesher(mesher)
    serve_app(case_file, host=host, port=port, mesher=mesher, open_browser=open_browser, echo=typer.echo)


@app.command("export-html")
def export_html(
    case_file: Path = typer.Argument(..., help="The case file (case.toml, or its folder)."),
    out: Path = typer.Option(..., "--out", "-o", help="The HTML file to write (its folder must exist)."),
    start_view: str = typer.Option("front", "--view", help=VIEW_HELP),
    mesher: Optional[str] = typer.Option(None, "--mesher", help=MESHER_HELP),
) -> None:
    """Write a standalone 3D viewer of a case: one HTML file that opens offline in any browser."""
    import time

    from ..atomic import check_output_path
    from ..viewer.standalone import export_html as write

    t0 = time.perf_counter()
    _check_view(start_view)
    _check_mesher(mesher)
    check_output_path(out)
    path = write(case_file, out, view=start_view, mesher=mesher)
    typer.echo(f"{path}  {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")
