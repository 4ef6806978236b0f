"""Rebuild a 3D ductal tree from a simulated ductogram (CC + lateral DICOM masks) and check it.

Usage::

    python examples/ductogram_to_tree.py [OUT_FOLDER] [SEED]

1. Grows a phantom right breast (3 duct systems) with one lesion and
   simulates the ductogram of the lesion's system
   (``ductree.phantom.simulate("biplane", ...)``): ``cc.dcm`` and ``ml.dcm``
   (magnified masks carrying Imager Pixel Spacing, the magnification factor,
   laterality, view and orientation), the same masks as PNG, the opacified
   ground truth and the simulation parameters.
2. Reads the DICOM pair back and rebuilds the tree
   (:func:`ductree.reconstruct.biplane.tree_from_files`), with the nipple
   pixel of each view as a user would mark it.
3. Prints the match quality, the branches seen in one view only and the
   candidate findings (as ``ductree build`` does), the scores against the
   truth (:func:`ductree.metrics.compare_trees`), how many nodes lie within
   two of their stated ``pos_sigma_mm`` of the truth, the inserted defect
   beside the nearest finding, and writes ``tree.json``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ductree.io import read_tree, write_tree
from ductree.metrics import compare_trees
from ductree.phantom import generate_tree, insert_lesions
from ductree.phantom.simulate import simulate
from ductree.reconstruct.biplane import findings_as_lesion_specs, report_lines, tree_from_files


def main(out: Path, seed: int = 5) -> None:
    out.mkdir(parents=True, exist_ok=True)
    phantom = generate_tree(seed=seed, systems=3, branches=24, laterality="R", breast_depth_mm=80)
    lesions = insert_lesions(phantom, 1, seed=seed)
    written = simulate("biplane", out, phantom, lesions, seed=seed)
    print("simulated:", ", ".join(p.name for p in written))
    sim = json.loads((out / "ductogram_sim.json").read_text())
    print(f"magnification {sim['magnification']:.2f}, detector pixel {1000 * sim['detector_pixel_mm']:.1f} um, "
          f"depth scales CC {sim['views']['cc']['depth_scale']:.3f} / lateral "
          f"{sim['views']['lateral']['depth_scale']:.3f}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tree = tree_from_files(out / "cc.dcm", out / "ml.dcm", laterality="R",
                               nipple_cc=tuple(sim["views"]["cc"]["nipple_px"]),
                               nipple_lateral=tuple(sim["views"]["lateral"]["nipple_px"]))
    for w in caught:
        print("warning:", w.message)
    for line in report_lines(tree):
        print(line)
    write_tree(tree, out / "tree.json")

    truth = read_tree(out / "ductogram_truth.json")
    s = compare_trees(tree, truth, min_branch_length_mm=3.0, tol_mm=0.5)
    print(f"against the truth: centreline error {s.recon_to_truth_mean_mm:.2f} mm (mean), branch recall "
          f"{100 * s.branch_recall:.0f}%, precision {100 * s.branch_precision:.0f}%, bifurcations within "
          f"tolerance {100 * s.bifurcations_within_tol:.0f}%")
    # how honest the stated uncertainty is: each node's distance to the true centreline against its 1 SD
    from scipy.spatial import cKDTree

    tp, par = truth.positions, truth.parent_index
    kids = np.flatnonzero(par >= 0)
    t = np.linspace(0.0, 1.0, 21)
    dense = (tp[par[kids]][:, None, :] + t[None, :, None] * (tp[kids] - tp[par[kids]])[:, None, :]).reshape(-1, 3)
    err = cKDTree(dense).query(tree.positions)[0]
    sigma = np.array([tree.nodes[n]["pos_sigma_mm"] for n in tree.node_ids])
    off = err > 1.0
    print(f"uncertainty: {100 * np.mean(err <= 2 * sigma):.0f}% of nodes within 2 pos_sigma_mm of the truth; "
          f"{int(np.sum(off & (sigma >= 1.0)))} of the {int(off.sum())} nodes more than 1 mm off are flagged "
          "uncertain (sigma >= 1 mm)")
    found = tree.graph["candidate_findings"]
    for d in sim["defects"]:
        p = np.array(d["point_bf"])
        dist = min((np.linalg.norm(np.array(f["point_bf"]) - p) for f in found), default=float("inf"))
        print(f"inserted {d['kind'].replace('_', ' ')} ({d['label']}) at depth {p[1]:.1f} mm: nearest candidate "
              f"{dist:.1f} mm away")
    specs = findings_as_lesion_specs(tree)
    print(f"{len(specs)} candidate finding(s) offered as lesion specs (origin {specs[0].origin if specs else '-'})")
    print(f"wrote {out / 'tree.json'}")


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ductogram-"))
    main(folder, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
