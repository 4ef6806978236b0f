"""``ductree demo``: the whole pipeline on a built-in phantom case.

Generates a seeded phantom breast (nothing is downloaded), then runs every
stage ductree has on it and writes the results under one folder::

    case/            the phantom case: case.toml, tree.json, truth.json
    tree/            the tree in every format (json, swc, graphml, vtp)
    summary.txt      the tree summary (as ``ductree info`` prints it)
    summary.json
    model/           the printable model: model.stl (one piece on a base plate, lesions
                     as separate bodies in model.3mf / model.glb with colours)
    plan/            located lesions and excision plan: plan.json, lesions.mrk.json,
                     incision.mrk.json (3D Slicer markups, LPS)
    views/           the standard planning views (PNG)
    report.html      the self-contained planning report, and report.pdf

Each stage prints one line saying what it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from .errors import InputError

#: Phantom size of the demo: a full-size right breast, quick to generate.
DEMO_SYSTEMS = 8
DEMO_BRANCHES = 120
DEMO_LESIONS = 2
DEMO_BREAST_DEPTH_MM = 100.0


def run_demo(out: str | Path, *, seed: int = 7, echo: Callable[[str], None] = print) -> dict:
    """Run the demo pipeline into ``out``; return a dict of the files written (name -> path)."""
    from .atomic import write_text
    from .case import load_case
    from .io import TREE_FORMATS, write_tree
    from .measures import summary
    from .phantom import write_phantom_case

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", source=out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    case_dir = out / "case"
    case_dir.mkdir(exist_ok=True)
    case_path = write_phantom_case(case_dir, seed=seed, systems=DEMO_SYSTEMS, branches=DEMO_BRANCHES,
                                   lesions=DEMO_LESIONS, laterality="R", breast_depth_mm=DEMO_BREAST_DEPTH_MM)
    written["case"] = Path(case_path)
    case = load_case(case_path)
    tree = case.load_tree()
    echo(f"phantom case        {case_path}  ({case.id}, {len(case.lesions)} lesions)")

    tree_dir = out / "tree"
    tree_dir.mkdir(exist_ok=True)
    for suffix in sorted(TREE_FORMATS):
        path = tree_dir / f"tree{suffix}"
        write_tree(tree, path)
        written[f"tree{suffix}"] = path
    echo(f"tree formats        {tree_dir}/tree{{{','.join(sorted(TREE_FORMATS))}}}")

    from .cli.info import format_summary

    s = summary(tree)
    written["summary.txt"] = write_text(out / "summary.txt", format_summary(s) + "\n")
    written["summary.json"] = write_text(out / "summary.json", json.dumps(s, indent=1) + "\n")
    echo(f"summary             {out / 'summary.txt'}  ({s['systems']} systems, {s['branches']} branches, "
         f"depth to {s['depth_max_mm']:.0f} mm)")

    from .plan import case_plan, write_plan_outputs

    located, plans = case_plan(case)
    plan_dir = out / "plan"
    plan_dir.mkdir(exist_ok=True)
    for path in write_plan_outputs(plan_dir, case.id, case.laterality, located, plans,
                                   nipple_lps=case.nipple_lps, breast_depth_mm=case.breast_depth_mm):
        written[f"plan/{path.name}"] = path
    states = ", ".join(f"{les.label} {les.status}" for les in located)
    echo(f"lesions and plan    {plan_dir}  ({states}; {len(plans)} plan(s))")

    from .mesh import export_model, tree_to_mesh

    lesion_bodies = [(les.label, les.point_bf, les.spec.get("size_mm") or 3.0)
                     for les in located if les.point_bf is not None]
    model = tree_to_mesh(tree, quality="print", base_plate=True, lesions=lesion_bodies)
    model_dir = out / "model"
    model_dir.mkdir(exist_ok=True)
    for suffix in (".stl", ".3mf", ".glb"):
        written[f"model{suffix}"] = export_model(model, model_dir / f"model{suffix}")
    closed = all(b.mesh.is_watertight for b in model)
    echo(f"printable model     {model_dir}/model{{.stl,.3mf,.glb}}  ({len(model)} bodies, "
         f"{sum(len(b.mesh.faces) for b in model)} triangles, {'all closed' if closed else 'NOT CLOSED'})")

    from .render import render_views
    from .report import write_report

    images: dict = {}
    views = render_views(case, out_dir=out / "views", images=images)
    written.update({f"views/{Path(p).name}": Path(p) for p in views.values()})
    echo(f"planning views      {out / 'views'}  ({', '.join(views)})")
    report = write_report(case, out / "report.html", pdf_path=out / "report.pdf", images=images)
    written.update({f"report{Path(p).suffix}": Path(p) for p in report.values()})
    echo(f"planning report     {out / 'report.html'} and report.pdf")
    return written
