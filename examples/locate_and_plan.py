"""Locate lesions on a ductal tree and plan their targeted excision.

Usage: ``python examples/locate_and_plan.py [OUT_DIR]`` (default: a new temporary folder).

1. Writes a phantom case folder (``tree.json``, ``truth.json``, ``case.toml``
   with each lesion stated as a clinician would: clock to the half hour,
   depth to the mm), adds the nipple's LPS position, and loads it.
2. Places the lesions on the tree (``ductree.lesions.place_lesions``) and
   prints where each one is, with ambiguity made plain.
3. Plans the excision of each involved duct system
   (``ductree.plan.plan_lesions``) and writes ``plan.json`` and the 3D Slicer
   markups (``lesions.mrk.json``, ``incision.mrk.json``, LPS mm).
4. Also places a hand-stated lesion given as a path along a named orifice's duct,
   and restates the first lesion with the discharging pore named beside its
   clock and depth (``orifice_clock``), which leaves only that duct system.

The same from the command line::

    ductree locate OUT_DIR/case/case.toml
    ductree plan OUT_DIR/case/case.toml --out OUT_DIR/plan
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from ductree.case import LesionSpec, load_case
from ductree.lesions import locate_details, locate_table, place_lesions
from ductree.phantom import write_phantom_case
from ductree.plan import case_plan, plan_tables, write_plan_outputs


def main(out_dir: Path) -> None:
    con = Console(highlight=False, width=130)
    case_path = write_phantom_case(out_dir / "case", seed=5, systems=6, branches=40, lesions=3)
    # Say where the nipple is in the patient (LPS mm), so the markups land on an image in Slicer.
    text = case_path.read_text().replace("[source]", "nipple_lps = [-62.0, -95.0, 1120.0]\n\n[source]", 1)
    case_path.write_text(text)
    case = load_case(case_path)
    con.print(f"case {case.id}: {case.laterality} breast, {len(case.lesions)} lesions, tree {case.source.tree.name}")

    located, plans = case_plan(case)
    con.print(locate_table(located))
    for line in locate_details(located):
        con.print(line)
    for t in plan_tables(plans):
        con.print(t)

    plan_dir = out_dir / "plan"
    plan_dir.mkdir(exist_ok=True)
    for p in write_plan_outputs(plan_dir, case.id, case.laterality, located, plans,
                                nipple_lps=case.nipple_lps, breast_depth_mm=case.breast_depth_mm):
        con.print(f"wrote {p}")

    # Compare with the phantom's ground truth.
    truth = {t["label"]: t for t in json.loads((case_path.parent / "truth.json").read_text())["lesions"]}
    for les in located:
        t = truth[les.label]
        listed = any(c.system == t["system"] for c in les.candidates)
        con.print(f"{les.label}: {les.status}, chosen system {les.system}, true system {t['system']} "
                  f"({'listed' if listed else 'NOT listed'} among {len(les.candidates)} candidate(s))")

    # A lesion stated as a path along the duct of a named orifice: 12 mm in from the first system's orifice.
    tree = case.load_tree()
    root = tree.roots()[0]
    clock = tree.nodes[root]["orifice_clock"]
    spec = LesionSpec("scope", path_mm=12, orifice_clock=round(clock * 2) / 2, size_mm=3)
    (les,) = place_lesions(tree, [spec], laterality=case.laterality, breast_depth_mm=case.breast_depth_mm)
    con.print(f"scope finding 12 mm along the {les.spec['orifice_clock_text']} orifice: {les.status}, "
              f"system {les.system}, depth {les.depth_mm:.1f} mm, {les.clock_half_hour}, {les.quadrant} -- {les.reason}")

    # The first lesion again, now naming the pore that discharges (the duct that was cannulated).
    first = case.lesions[0]
    pore = truth[first.label]["orifice_clock_text"]
    h, m = (int(x) for x in pore.split(":"))
    spec = LesionSpec(first.label, clock=first.clock, depth_mm=first.depth_mm, size_mm=first.size_mm,
                      orifice_clock=round((h + m / 60) * 2) / 2 or 12.0)
    (les,) = place_lesions(tree, [spec], laterality=case.laterality)
    con.print(f"{first.label} with the discharging pore at {les.spec['orifice_clock_text']}: {les.status}, "
              f"system {les.system} (true {truth[first.label]['system']}), {len(les.candidates)} candidate(s)")


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ductree-plan-"))
    out.mkdir(parents=True, exist_ok=True)
    main(out)
