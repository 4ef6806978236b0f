"""A ductoscopy log written by hand: read it, rebuild the explored ducts, and fuse it onto a tree.

Usage::

    python examples/scope_log.py [OUT_FOLDER]

1. Writes a short session (right breast, the 6 o'clock orifice) as JSON Lines
   and as CSV (``scope.jsonl``, ``scope.csv``, format ``ductree-navlog`` v1)
   and checks that both read the same.
2. Prints the session summary and rebuilds the explored tree (dead-reckoned:
   no tracker), written as ``scope_tree.json``: every node has a position
   uncertainty, the unexplored lumen is a stub.
3. Builds a "ductogram" tree of the same breast by hand (two duct systems,
   BF mm) and fuses the log onto it: the duct system by the orifice clock,
   the path by the bifurcation depths and lumen clocks, the finding placed on
   the tree (``fused.json``), with the confidence and the runner-up.
"""

from __future__ import annotations

import math
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ductree.errors import DuctreeWarning
from ductree.io import write_tree
from ductree.io.navlog import read_navlog, session_summary, write_navlog
from ductree.reconstruct.fuse import fuse
from ductree.reconstruct.scope import tree_from_navlog
from ductree.tree import DuctTree

# The session as the surgeon's assistant would log it: time (s), insertion depth (mm), events.
SESSION = [
    {"type": "header", "format": "ductree-navlog", "version": 1, "laterality": "R", "orifice_clock": "6:00",
     "orifice_offset_mm": 2.0, "scope_od_mm": 0.9, "case_id": "example-1"},
    {"t": 0.0, "depth_mm": 0.0},
    {"t": 20.0, "depth_mm": 5.0},
    {"t": 40.0, "depth_mm": 10.0, "event": "bifurcation", "lumens": ["3:00", "9:00"]},
    {"t": 50.0, "depth_mm": 10.0, "event": "enter", "lumen": 1},          # the 9 o'clock lumen first
    {"t": 70.0, "depth_mm": 16.0},
    {"t": 80.0, "depth_mm": 21.0, "event": "end", "reason": "terminal"},
    {"t": 95.0, "depth_mm": 6.0},                                          # back above the bifurcation
    {"t": 110.0, "depth_mm": 10.0, "event": "enter", "lumen": 0},         # then the 3 o'clock lumen
    {"t": 130.0, "depth_mm": 20.0, "event": "bifurcation", "lumens": ["12:00", "6:00"]},
    {"t": 140.0, "depth_mm": 20.0, "event": "enter", "lumen": 1},
    {"t": 160.0, "depth_mm": 24.0, "event": "finding", "label": "P1", "kind": "papilloma", "size_mm": 3,
     "clock": "8:00", "note": "red raspberry"},
    {"t": 230.0, "depth_mm": 24.0, "event": "retrieval", "label": "P1", "method": "basket"},
    {"t": 260.0, "depth_mm": 24.5, "event": "verify", "label": "P1", "result": "empty"},
    {"t": 270.0, "depth_mm": 26.0, "event": "end", "reason": "stopped"},
    {"t": 300.0, "depth_mm": 0.0},
]


def ductogram_tree() -> DuctTree:
    """Two duct systems of the right breast (BF mm), as a ductogram might give them.

    System 0 (orifice 6:00): main duct 10 mm, junction J1 -> A (toward the patient's left, 3 o'clock,
    10 mm, ending in junction J2 at 20 mm -> A1 bending up, A2 bending down, 8 mm each) and B (toward
    the right, 9 o'clock, 12 mm). System 1 (orifice 12:00): one duct of 15 mm.
    """
    J1 = np.array([0.0, 10.0, -2.0])
    dA = np.array([math.sin(math.radians(40)), math.cos(math.radians(40)), 0.0])
    dB = np.array([-dA[0], dA[1], 0.0])
    J2 = J1 + 10 * dA
    up = np.array([0.0, 0.0, 1.0])
    c, s = math.cos(math.radians(35)), math.sin(math.radians(35))
    dA1, dA2 = c * dA + s * up, c * dA - s * up
    pos = [[0, 0, -2], [0, 5, -2], J1, J1 + 5 * dA, J2, J2 + 4 * dA1, J2 + 8 * dA1, J2 + 4 * dA2, J2 + 8 * dA2,
           J1 + 6 * dB, J1 + 12 * dB, [0, 0, 2], [0, 7.5, 2], [0, 15, 2]]
    radii = [0.8, 0.8, 0.7, 0.6, 0.6, 0.45, 0.4, 0.5, 0.45, 0.5, 0.45, 0.8, 0.7, 0.6]
    parent = [-1, 0, 1, 2, 3, 4, 5, 4, 7, 2, 9, -1, 11, 12]
    return DuctTree.from_arrays(pos, radii, parent, [0] * 11 + [1] * 3, laterality="R")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    a = write_navlog(SESSION, out / "scope.jsonl")
    b = write_navlog(SESSION, out / "scope.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DuctreeWarning)  # retrieved and verified: nothing to warn about
        log = read_navlog(a)
        same = read_navlog(b).records() == log.records()
    print(f"wrote {a.name} and {b.name}: {log.n_samples} samples, {len(log.events)} events; "
          f"JSONL and CSV read the same: {same}")

    s = session_summary(log)
    print(f"session: {s['duration_s']:.0f} s, deepest {s['deepest_mm']:.1f} mm, {s['bifurcations']} bifurcations, "
          f"{s['branches_entered']} of {s['lumens_seen']} lumens entered")
    for f in s["findings"]:
        print(f"  finding {f['label']}: {f['kind']} {f['size_mm']:g} mm at {f['depth_mm']:.1f} mm -> {f['status']}")

    tree = tree_from_navlog(log)
    write_tree(tree, out / "scope_tree.json")
    stubs = sum(1 for _, d in tree.nodes(data=True) if d["unexplored"])
    sig = max(d["pos_sigma_mm"] for _, d in tree.nodes(data=True))
    row = tree.graph["findings"][0]
    print(f"rebuilt ({tree.graph['navlog']['geometry']}): {tree.number_of_nodes()} nodes, {stubs} unexplored stub, "
          f"largest position uncertainty {sig:.1f} mm; {row['label']} at node {row['node']}, "
          f"{row['path_mm']:.1f} mm along the duct")

    ducto = ductogram_tree()
    res = fuse(ducto, log)
    write_tree(res.tree, out / "fused.json")
    f = res.findings[0]
    print(f"fused onto the ductogram tree: system {res.system}, path {res.path}, confidence {res.confidence:.3f}")
    print(f"  {f.label} placed: node {f.node}, {f.path_mm:.1f} mm along the duct, point "
          f"({f.best.point_bf[0]:.2f}, {f.best.point_bf[1]:.2f}, {f.best.point_bf[2]:.2f}) mm BF")
    ru = res.runner_up
    print(f"  runner-up: node {ru.node} (probability {ru.probability:.4f})")
    # The confidence is relative; the fit says whether the log belongs to this duct at all.
    print(f"  fit: {res.fit['matched']} of {res.fit['bifurcations']} bifurcations matched, "
          f"{res.fit['llr_per_bifurcation']:.1f} per bifurcation, {'good' if res.fit['good'] else 'POOR'}")
    print(f"wrote {out / 'scope_tree.json'}, {out / 'fused.json'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ductree-scope-")))
