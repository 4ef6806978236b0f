"""``ductree phantom``: write a phantom case folder (tree, ground truth, case file)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import InputError
from .app import app


@app.command()
def phantom(
    out: Path = typer.Option(..., "--out", "-o", help="Case folder to write (created if missing)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same case."),
    systems: int = typer.Option(6, "--systems", help="Duct systems (orifices), 1-20."),
    branches: int = typer.Option(60, "--branches", help="Target branches per system (400 = a full system)."),
    lesions: int = typer.Option(2, "--lesions", help="Lesions to place on the ducts (0 for none)."),
    laterality: str = typer.Option("R", "--laterality", "-l", help="Breast side: L or R."),
    breast_depth: float = typer.Option(100.0, "--breast-depth", help="Nipple-to-chest-wall depth, mm (30-300)."),
    simulate: Optional[List[str]] = typer.Option(
        None, "--simulate", help="Also write simulated inputs of this kind (repeatable; e.g. volume, biplane, navlog)."),
) -> None:
    """Generate a phantom breast ductal tree with lesions; write tree.json, truth.json and case.toml."""
    from ..frame import parse_laterality
    from ..phantom.simulate import SIMULATORS

    lat = parse_laterality(laterality, key="--laterality")
    kinds = [k.strip() for item in (simulate or []) for k in item.split(",") if k.strip()]
    for k in kinds:
        if k not in SIMULATORS:
            known = ", ".join(sorted(SIMULATORS)) or "none registered yet"
            raise InputError(f"unknown simulation {k!r}; known: {known}", key="--simulate")
    if not 1 <= systems <= 20:
        raise InputError(f"must be 1-20, got {systems}", key="--systems")
    if not 1 <= branches <= 5000:
        raise InputError(f"must be 1-5000, got {branches}", key="--branches")
    if lesions < 0:
        raise InputError(f"must be >= 0, got {lesions}", key="--lesions")
    if not 30.0 <= breast_depth <= 300.0:
        raise InputError(f"must be 30-300 mm, got {breast_depth:g}", key="--breast-depth")
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", source=out, key="--out")

    import time

    from ..measures import summary
    from ..phantom import phantom_case
    from ..phantom.simulate import simulate as run_simulation

    t0 = time.perf_counter()
    case = phantom_case(out, seed, systems, branches, lesions, lat, breast_depth)
    s = summary(case.tree)
    written = [case.case_path, case.tree_path, case.truth_path]
    for k in kinds:
        result = run_simulation(k, case.folder, case.tree, case.lesions, seed)
        if isinstance(result, (str, Path)):
            written.append(Path(result))
        elif isinstance(result, (list, tuple)):
            written.extend(Path(x) for x in result if isinstance(x, (str, Path)))
    dt = time.perf_counter() - t0
    typer.echo(f"phantom-{seed}: {s['systems']} systems, {s['branches']} branches, {s['tips']} tips, "
               f"max depth {s['depth_max_mm']:.1f} mm, deepest path {s['deepest_path_mm']:.1f} mm, "
               f"radius {s['radius_min_mm']:.2f}-{s['radius_max_mm']:.2f} mm ({dt:.2f} s)")
    for les in case.lesions:
        from ..frame import format_clock

        typer.echo(f"  {les.label}: {les.kind} {les.size_mm:g} mm, system {les.system} "
                   f"(orifice {format_clock(les.orifice_clock)}), {format_clock(les.clock, half_hour=True)} "
                   f"o'clock, {les.depth_mm:.0f} mm deep, {les.path_mm:.0f} mm along the duct")
    if not case.lesions:
        typer.echo("  no lesions")
    typer.echo("wrote " + ", ".join(str(p) for p in written))
