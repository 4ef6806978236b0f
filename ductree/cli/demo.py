"""``ductree demo``: the whole pipeline on a built-in phantom case."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app


@app.command()
def demo(
    out: Path = typer.Option(Path("ductree-demo"), "--out", "-o", help="Folder to write the demo case into."),
    seed: int = typer.Option(7, "--seed", help="Phantom seed (reproducible)."),
) -> None:
    """Generate a phantom breast and run the pipeline on it; writes everything under --out."""
    from ..demo import run_demo

    run_demo(out, seed=seed)
