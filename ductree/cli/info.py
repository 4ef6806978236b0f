"""``ductree info``: the summary of a tree file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app


def format_summary(s: dict) -> str:
    """Human-readable lines for a :func:`ductree.measures.summary` dict."""
    lat = {"L": "left (L)", "R": "right (R)", None: "unknown"}[s.get("laterality")]
    lines = [
        f"laterality        {lat}",
        f"duct systems      {s['systems']}",
        f"branches          {s['branches']}  (tips {s['tips']}, bifurcations {s['bifurcations']}, "
        f"anastomoses {s['anastomoses']})",
        f"max generation    {s['max_generation']}  (max Strahler order {s['max_order']})",
        f"total length      {s['total_length_mm']:.1f} mm",
        f"depth extent      {s['depth_min_mm']:.1f} to {s['depth_max_mm']:.1f} mm behind the nipple",
        f"deepest path      {s['deepest_path_mm']:.1f} mm along a duct from its orifice",
        f"radius range      {s['radius_min_mm']:.3f} to {s['radius_max_mm']:.3f} mm",
    ]
    if s.get("per_system"):
        lines.append("")
        lines.append("system  orifice  branches  tips  max gen  length mm  deepest path mm  max depth mm")
        for p in s["per_system"]:
            lines.append(f"{p['system']:>6}  {p['orifice_clock'] or '-':>7}  {p['branches']:>8}  {p['tips']:>4}  "
                         f"{p['max_generation']:>7}  {p['length_mm']:>9.1f}  {p['deepest_path_mm']:>15.1f}  "
                         f"{p['depth_max_mm']:>12.1f}")
    return "\n".join(lines)


@app.command()
def info(
    tree_file: Path = typer.Argument(..., help="A tree file: .json, .swc, .graphml or .vtp."),
    laterality: Optional[str] = typer.Option(None, "--laterality", "-l", help="L or R, when the file does not say."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Summarise a tree: systems, branches, tips, generations, length, depth, radii."""
    from ..io import read_tree
    from ..measures import summary

    tree = read_tree(tree_file, laterality=laterality)
    s = summary(tree)
    if as_json:
        from .common import print_json

        print_json(s)
    else:
        typer.echo(format_summary(s))
