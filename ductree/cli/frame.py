"""``ductree where`` and ``ductree point``: the breast frame and clock, answered directly."""

from __future__ import annotations

from typing import Optional

import typer

from .app import app


@app.command()
def where(
    x: float = typer.Argument(..., help="BF x, mm (+ toward the patient's left)."),
    y: float = typer.Argument(..., help="BF y, mm (+ posterior: depth behind the nipple)."),
    z: float = typer.Argument(..., help="BF z, mm (+ superior)."),
    laterality: str = typer.Option(..., "--laterality", "-l", help="Breast: L or R."),
    breast_depth: Optional[float] = typer.Option(None, "--breast-depth", help="Nipple-to-chest-wall depth, mm (enables depth thirds)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Where a breast-frame point lies: clock, quadrant, lateral/medial, fn, depth, third.

    Negative numbers need '--' before them, e.g. `ductree where -l R -- -20 15 0`.
    """
    from ..frame import locate_point
    from ..errors import InputError

    if breast_depth is not None and not breast_depth > 0:
        raise InputError(f"must be > 0, got {breast_depth}", key="--breast-depth")
    loc = locate_point([x, y, z], laterality, breast_depth)
    if as_json:
        from .common import print_json

        print_json(loc.as_dict())
        return
    side = "left" if loc.laterality == "L" else "right"
    lines = [
        f"breast      {side} ({loc.laterality})",
        f"clock       {loc.clock_half_hour} (exact {loc.clock_exact})" if loc.clock is not None
        else "clock       - (on the nipple axis)",
        f"quadrant    {loc.quadrant or '-'}",
        f"side        {loc.side or '-'}",
        f"region      {loc.region}",
        f"fn          {loc.fn_mm:.1f} mm from the nipple (coronal)",
        f"depth       {loc.depth_mm:.1f} mm behind the nipple",
        f"distance    {loc.distance_mm:.1f} mm (straight line)",
        f"third       {loc.depth_third}" if loc.depth_third else "third       - (give --breast-depth)",
    ]
    typer.echo("\n".join(lines))


@app.command()
def point(
    clock: str = typer.Option(..., "--clock", help="Clock position: 6, 6.5 or '6:30' (3 = patient's left)."),
    fn: float = typer.Option(..., "--fn", help="Coronal distance from the nipple, mm."),
    depth: float = typer.Option(..., "--depth", help="Depth behind the nipple, mm."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """The breast-frame point (x, y, z in mm) at a clock position, fn and depth."""
    from ..frame import parse_clock, point_from_clock

    hours = parse_clock(clock, key="--clock")
    p = point_from_clock(hours, fn, depth)
    p = [0.0 if abs(v) < 5e-13 else float(v) for v in p]
    if as_json:
        from .common import print_json

        print_json({"point_bf": p, "clock": hours, "fn_mm": fn, "depth_mm": depth})
        return
    typer.echo(f"{p[0]:.3f} {p[1]:.3f} {p[2]:.3f}")
