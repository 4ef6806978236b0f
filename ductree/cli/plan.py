"""``ductree locate`` and ``ductree plan``: lesions on the tree, and the excision plan."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app


def _fmt(v, spec: str = ".1f", none: str = "-") -> str:
    if v is None:
        return none
    text = format(v, spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _xyz(p) -> str:
    return "(" + ", ".join(_fmt(float(v)) for v in p) + ")"


def locate_table(located):
    """A rich table of located lesions, one row each (mm; clock = nearest half hour, exact in brackets)."""
    from rich.table import Table

    from ..frame import format_clock

    from rich import box

    t = Table(title="Lesions on the ductal tree (mm; clock: nearest half hour (exact); system (its orifice clock))",
              box=box.SIMPLE_HEAD)
    for col in ("lesion", "status", "clock", "quadrant", "side", "depth", "fn", "third",
                "system", "path", "gen", "radius", "other sys"):
        t.add_column(col, overflow="fold")
    for les in located:
        status = les.status.upper() if les.status != "placed" else "placed"
        clock = "-" if les.clock_half_hour is None else f"{les.clock_half_hour} ({les.clock_exact})"
        system = "-" if les.system is None else f"{les.system} ({format_clock(les.orifice_clock)})"
        t.add_row(les.label, status, clock, les.quadrant or "-", les.side or "-", _fmt(les.depth_mm),
                  _fmt(les.fn_mm), les.depth_third or "-", system, _fmt(les.path_mm), _fmt(les.generation, "d"),
                  _fmt(les.radius_mm, ".2f"), _fmt(les.nearest_other_system_mm))
    return t


def locate_details(located) -> list[str]:
    """Plain lines spelling out every ambiguous and unplaced lesion."""
    from ..frame import format_clock

    lines = []
    for les in located:
        if les.status == "ambiguous":
            lines.append(f"AMBIGUOUS {les.label} ({les.ambiguity}): {les.reason}")
            for k, c in enumerate(les.candidates):
                mark = "chosen" if k == 0 else "      "
                lines.append(f"  {mark} system {c.system} (orifice {format_clock(c.orifice_clock)}): "
                             f"{c.distance_mm:.1f} mm from the spec, misfit {c.misfit:.2f}, path {c.path_mm:.1f} mm, "
                             f"generation {c.generation}, at {_xyz(c.point_bf)} BF" + (f" [{c.note}]" if c.note else ""))
        elif les.status == "unplaced":
            lines.append(f"UNPLACED {les.label}: {les.reason}")
    return lines


def plan_tables(plans):
    """One two-column rich table per plan."""
    from rich.table import Table

    from ..frame import format_clock

    out = []
    for p in plans:
        t = Table(title=f"Excision plan: system {p.system} (orifice {format_clock(p.orifice_clock)}), "
                        f"lesions {', '.join(p.lesions)}" + ("  [AMBIGUOUS placement]" if p.status == "ambiguous" else ""),
                  show_header=False)
        t.add_column("item", no_wrap=True)
        t.add_column("value")
        s, c, inc, env = p.spared, p.central, p.incision, p.envelope
        t.add_row("involved duct", f"{p.involved_path_mm:.1f} mm along the duct from the orifice to the lesion")
        t.add_row("distal subtree", f"{len(p.subtree_node_ids)} node(s) beyond the lesion, lost with it")
        t.add_row("envelope", f"{env.volume_ml:.2f} mL (margin {p.margin_mm:g} mm; {len(env.spheres)} sphere(s), "
                              f"{len(env.capsules)} capsule(s))")
        t.add_row("removed", f"{100 * s['length_removed_fraction']:.1f}% of duct length "
                             f"({s['length_removed_mm']:.0f} of {s['length_total_mm']:.0f} mm), "
                             f"{s['tips_removed']} of {s['tips_total']} terminal branches")
        t.add_row("spared", f"{100 * s['length_kept_fraction']:.1f}% of length, "
                            f"{s['systems_kept_intact']} of {s['systems_total']} systems intact")
        zone = f"a {c['central_excision_mm']:g} mm central excision"
        if c["reaches_lesion"] and c["reaches_subtree"]:
            central = f"{zone} reaches the lesion (with margin) and its whole subtree"
        elif c["reaches_lesion"]:
            central = (f"{zone} reaches the lesion (with margin, {c['lesion_reach_mm']:.1f} mm deep) but leaves "
                       f"its subtree: {c['subtree_shortfall_mm']:.1f} mm short")
        else:
            central = (f"{zone} falls short of the lesion (with margin) by {c['lesion_shortfall_mm']:.1f} mm "
                       f"and of its subtree by {c['subtree_shortfall_mm']:.1f} mm")
        t.add_row("central (Hadfield)", central)
        t.add_row("incision", f"periareolar at {inc['centre_clock_text']} ({inc['start_clock_text']} to "
                              f"{inc['end_clock_text']}, {inc['arc_deg']:.0f} deg, {inc['arc_length_mm']:.0f} mm); "
                              f"{inc['centre_basis']}")
        for w in p.wire_targets:
            t.add_row(f"wire target {w['label']}", f"{_xyz(w['point_bf'])} BF, depth {w['depth_mm']:.1f} mm, "
                                                   f"fn {w['fn_mm']:.1f} mm, {w['clock']}")
        for warning in p.warnings:
            t.add_row("warning", warning)
        out.append(t)
    return out


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
    from ..lesions import place_lesions

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
    out: Path = typer.Option(..., "--out", "-o", help="Existing folder for plan.json and the .mrk.json markups."),
    margin: Optional[float] = typer.Option(None, "--margin", help="Tissue margin, mm (default: case [plan] margin_mm, else 5)."),
    central: Optional[float] = typer.Option(None, "--central",
                                            help="Central (Hadfield) excision depth, mm (default: case [plan], else 30)."),
    uncertainty: Optional[float] = typer.Option(
        None, "--uncertainty", help="Position uncertainty of the stated lesions, mm (as for locate)."),
) -> None:
    """Plan the targeted excision of each involved duct system; write plan.json and Slicer markups."""
    from ..case import load_case
    from ..errors import InputError
    from ..plan import case_plan, write_plan_outputs

    if margin is not None and not margin >= 0:
        raise InputError(f"must be >= 0 mm, got {margin}", key="--margin")
    if central is not None and not central > 0:
        raise InputError(f"must be > 0 mm, got {central}", key="--central")
    _check_uncertainty(uncertainty)
    if not out.is_dir():
        raise InputError("output folder does not exist", source=out, key="--out")
    case = load_case(case_file)
    if not case.lesions:
        raise InputError("the case has no [[lesion]]; nothing to plan", source=case.path, key="lesion")
    located, plans = case_plan(case, margin_mm=margin, central_excision_mm=central, uncertainty_mm=uncertainty)
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
