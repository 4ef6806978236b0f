"""``ductree locate`` and ``ductree plan``: lesions on the tree, and the excision plan."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app


def _check_uncertainty(value) -> None:
    from ..errors import InputError

    if value is not None and not value >= 0:
        raise InputError(f"must be >= 0 mm, got {value}", key="--uncertainty")


def _console():
    from rich.console import Console

    import shutil

    return Console(highlight=False, width=max(130, shutil.get_terminal_size((130, 40)).columns))


@app.command()
def locate(
    case_file: Path = typer.Argument(..., help="A case.toml (or the folder holding it)."),
    as_json: bool = typer.Option(False, "--json", help="Print the located lesions as JSON."),
    uncertainty: Optional[float] = typer.Option(
        None, "--uncertainty", help="Position uncertainty of the stated lesions, mm (widens the tolerance; "
                                    "default 0 for case-file lesions)."),
) -> None:
    """Place the case's lesions on its ductal tree: duct system, path, depth, clock, ambiguity."""
    from ..case import load_case
    from ..errors import InputError
    from ..lesions import locate_details, locate_table, place_lesions

    _check_uncertainty(uncertainty)
    case = load_case(case_file)
    tree = case.load_tree()
    try:
        located = place_lesions(tree, case.lesions, laterality=case.laterality,
                                breast_depth_mm=case.breast_depth_mm, nipple_lps=case.nipple_lps,
                                uncertainty_mm=uncertainty)
    except InputError as exc:
        raise exc.located(source=case.path) from None
    if as_json:
        from .common import print_json

        print_json({"schema": "ductree.lesions/1", "case": case.id, "laterality": case.laterality,
                    "lesions": [les.as_dict() for les in located]})
        return
    con = _console()
    if not located:
        con.print(f"case {case.id}: no [[lesion]] to locate")
        return
    con.print(locate_table(located))
    for line in locate_details(located):
        con.print(line)


@app.command()
def plan(
    case_file: Path = typer.Argument(..., help="A case.toml (or the folder holding it)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for plan.json and the .mrk.json markups (created if missing)."),
    margin: Optional[float] = typer.Option(None, "--margin", help="Tissue margin, mm (default: case [plan] margin_mm, else 5)."),
    central: Optional[float] = typer.Option(None, "--central",
                                            help="Central (Hadfield) excision depth, mm (default: case [plan], else 30)."),
    uncertainty: Optional[float] = typer.Option(
        None, "--uncertainty", help="Position uncertainty of the stated lesions, mm (as for locate)."),
) -> None:
    """Plan the targeted excision of each involved duct system; write plan.json and Slicer markups."""
    from ..case import load_case
    from ..errors import InputError
    from ..lesions import locate_details, locate_table
    from ..atomic import make_output_dir
    from ..plan import case_plan, plan_tables, write_plan_outputs

    if margin is not None and not margin >= 0:
        raise InputError(f"must be >= 0 mm, got {margin}", key="--margin")
    if central is not None and not central > 0:
        raise InputError(f"must be > 0 mm, got {central}", key="--central")
    _check_uncertainty(uncertainty)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", source=out, key="--out")
    case = load_case(case_file)
    if not case.lesions:
        raise InputError("the case has no [[lesion]]; nothing to plan", source=case.path, key="lesion")
    located, plans = case_plan(case, margin_mm=margin, central_excision_mm=central, uncertainty_mm=uncertainty)
    make_output_dir(out)  # only once the case is known good: bad input leaves nothing behind
    written = write_plan_outputs(out, case.id, case.laterality, located, plans, nipple_lps=case.nipple_lps,
                                 breast_depth_mm=case.breast_depth_mm)
    con = _console()
    con.print(locate_table(located))
    for line in locate_details(located):
        con.print(line)
    for t in plan_tables(plans):
        con.print(t)
    if not plans:
        con.print("no lesion could be placed: nothing to plan")
    for p in written:
        con.print(f"wrote {p}")
