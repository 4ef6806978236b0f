"""Write one small ductal tree in every tree format, read each back, and compare.

Usage::

    python examples/convert_formats.py [OUT_FOLDER]

Builds a two-system tree (BF mm) with :meth:`DuctTree.from_arrays`, writes
``tree.json``, ``tree.swc``, ``tree.graphml``, ``centerlines.vtp`` and an LPS
copy ``centerlines_lps.vtp`` (nipple at a made-up LPS position), reads each
back with :func:`ductree.io.read_tree` and prints one line per format: what
came back and the largest position error (mm).
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ductree.errors import DuctreeWarning
from ductree.io import read_tree, write_tree
from ductree.io.vtp import write as write_vtp
from ductree.measures import branches
from ductree.tree import DuctTree


def build_tree() -> DuctTree:
    """Two duct systems, right breast: a 10:30 orifice with a trifurcation, a 4:00 orifice with a Y."""
    positions = [
        # system 0: orifice at 10:30, 2 mm from the nipple centre
        [-1.414, 0.0, 1.414], [-2.0, 5.0, 2.0], [-3.0, 10.0, 3.0],
        [-6.0, 16.0, 5.0], [-2.0, 17.0, 6.0], [-4.0, 15.0, 0.5],
        # system 1: orifice at 4:00
        [1.732, 0.0, -1.0], [3.0, 6.0, -2.0], [6.0, 12.0, -2.0], [2.0, 12.5, -5.0],
    ]
    radii = [0.9, 0.8, 0.7, 0.4, 0.4, 0.35, 0.8, 0.6, 0.35, 0.3]
    parent = [-1, 0, 1, 2, 2, 2, -1, 6, 7, 7]
    tree = DuctTree.from_arrays(positions, radii, parent, laterality="R")
    tree.add_edge(3, 4, anastomosis=True)  # a loop: SWC cannot hold it
    return tree


def main(out: Path) -> None:
    tree = build_tree()
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "tree.json", out / "tree.swc", out / "tree.graphml", out / "centerlines.vtp"]
    for path in files:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DuctreeWarning)
            write_tree(tree, path)
        for w in caught:
            print(f"  note while writing {path.name}: {w.message}")
    write_vtp(tree, out / "centerlines_lps.vtp", nipple_lps=[35.0, -120.0, 980.0])
    files.append(out / "centerlines_lps.vtp")

    for path in files:
        back = read_tree(path)
        err = float(np.abs(back.positions - tree.positions).max())
        print(f"{path.name:<22} {len(back.systems())} systems, {back.number_of_nodes()} nodes, "
              f"{len(branches(back))} branches, {len(back.anastomoses())} anastomoses, "
              f"laterality {back.laterality}, max position error {err:.1e} mm")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ductree-formats-")))
