"""Write a phantom breast case (ductal tree + lesions + ground truth) and print what it holds.

Usage::

    python examples/phantom_case.py [OUT_FOLDER] [SEED]

Grows a phantom right breast with 8 duct systems of up to 120 branches each
(:func:`ductree.phantom.generate_tree`), places 4 lesions on its ducts
(:func:`ductree.phantom.insert_lesions`) and writes the case folder
(``case.toml``, ``tree.json``, ``truth.json``). Then it reads the folder back
the way any other part of ductree would (``load_case``, ``read_tree``) and
prints the tree summary, each system, and each lesion as the case file states
it (clock to the half hour, whole mm) beside its exact ground truth.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from ductree.case import load_case
from ductree.frame import format_clock
from ductree.io import read_tree
from ductree.measures import summary
from ductree.phantom import write_phantom_case


def main(out: Path, seed: int = 7) -> None:
    case_path = write_phantom_case(out, seed=seed, systems=8, branches=120, lesions=4, laterality="R",
                                   breast_depth_mm=100.0)
    case = load_case(case_path)
    tree = read_tree(case_path.parent / "tree.json")
    truth = json.loads((case_path.parent / "truth.json").read_text())
    s = summary(tree)
    print(f"case {case.id} ({case.laterality}), written to {case_path.parent}")
    print(f"tree: {s['systems']} systems, {s['branches']} branches, {s['tips']} tips, "
          f"max generation {s['max_generation']}, depth {s['depth_min_mm']:.0f}-{s['depth_max_mm']:.1f} mm, "
          f"radius {s['radius_min_mm']:.2f}-{s['radius_max_mm']:.2f} mm, total length {s['total_length_mm'] / 10:.0f} cm")
    for p in s["per_system"]:
        print(f"  system {p['system']}: orifice {p['orifice_clock']}, {p['branches']} branches, "
              f"reaches {p['depth_max_mm']:.0f} mm deep")
    for spec, t in zip(case.lesions, truth["lesions"]):
        print(f"lesion {spec.label} {spec.kind} {spec.size_mm:g} mm: case file {format_clock(spec.clock)} "
              f"o'clock, {spec.depth_mm:.0f} mm deep | truth {t['clock_text']}, {t['depth_mm']:.2f} mm deep, "
              f"system {t['system']}, {t['path_mm']:.1f} mm along the duct")


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="phantom-"))
    main(folder, int(sys.argv[2]) if len(sys.argv) > 2 else 7)
