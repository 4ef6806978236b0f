"""``ductree demo``: the whole pipeline on a built-in phantom case.

Generates a seeded phantom breast (nothing is downloaded), then runs every
stage ductree has on it and writes the results under one folder::

    case/            the phantom case: case.toml, tree.json, truth.json
    tree/            the tree in every format (json, swc, graphml, vtp)
    summary.txt      the tree summary (as ``ductree info`` prints it)
    summary.json

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
    return written
