"""Simulate a segmentation volume from a phantom, rebuild the ductal tree from it, and score it.

Usage::

    python examples/volume_to_tree.py [OUT_FOLDER]

1. grows a small phantom (2 duct systems, seeded) and writes it as a case
   folder with a simulated mask (``seg.nii.gz``, 0.15 mm voxels, partial
   volume, holes, bumps, dust) and its ground truth (``seg_truth.json``);
2. rebuilds the tree from the file with the nipple given in LPS, exactly as
   ``ductree build seg.nii.gz --nipple X,Y,Z -l R --out rebuilt.json`` does;
3. scores it against the truth with :func:`ductree.metrics.compare_trees`
   and prints the score.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

from ductree.errors import DuctreeWarning
from ductree.io import read_tree, write_tree
from ductree.metrics import compare_trees
from ductree.phantom import generate_tree
from ductree.phantom.voxelize import simulate_volume
from ductree.reconstruct.volume import tree_from_volume


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    phantom = generate_tree(seed=5, systems=2, branches=25, breast_depth_mm=60, laterality="R")
    nipple = (-90.0, -110.0, 40.0)
    seg, truth_path, case_path = simulate_volume(out, phantom, [], seed=5, spacing_mm=0.15, nipple_lps=nipple)
    print(f"simulated {seg.name} and {truth_path.name} (nipple at LPS {nipple})")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DuctreeWarning)
        tree = tree_from_volume(seg, laterality="R", nipple_lps=nipple)
    for w in caught:
        print(f"warning: {w.message}")
    rebuilt = write_tree(tree, out / "rebuilt.json")
    print(f"rebuilt {rebuilt.name}: {len(tree.systems())} systems, {tree.number_of_nodes()} nodes")

    truth = read_tree(truth_path)
    score = compare_trees(tree, truth, tol_mm=0.15)
    print(score.format())


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ductree-volume-"))
    main(folder)
