"""The breast frame, the clock and the DuctTree API, by hand.

Run:  python examples/breast_frame_and_tree.py

Builds a small two-system right-breast tree from arrays (BF mm), asks where
points lie (clock, quadrant, lateral/medial, depth third), computes derived
attributes (generation, Strahler order, path length) and edits the tree
(resample, prune, subtree, split).
"""

from ductree import DuctTree, branches, locate_point, path_mm, point_from_clock, summary
from ductree import edit

# Two duct systems of a right breast: one from the 12 o'clock side of the nipple, one from 6.
positions = [
    [0, 0, 1.5], [0, 9, 2], [-6, 25, 10], [5, 24, 8], [-9, 38, 16], [-4, 40, 18],   # system 0
    [0, 0, -1.5], [0, 12, -3], [2, 30, -14],                                         # system 1
]
radii = [0.9, 0.85, 0.6, 0.5, 0.35, 0.3, 0.8, 0.7, 0.45]
parent = [-1, 0, 1, 1, 2, 2, -1, 6, 7]
tree = DuctTree.from_arrays(positions, radii, parent, laterality="R")
tree.validate()

s = summary(tree)
print(f"{s['systems']} systems, {s['branches']} branches, {s['tips']} tips, "
      f"deepest path {s['deepest_path_mm']:.1f} mm, orifices at "
      + ", ".join(p["orifice_clock"] for p in s["per_system"]))

# Where is the tip of system 0's outer branch?  (node 4)
loc = locate_point(tree.nodes[4]["pos"], "R", breast_depth_mm=90)
print(f"node 4: {loc.clock_half_hour} ({loc.quadrant}, {loc.side}), fn {loc.fn_mm:.1f} mm, "
      f"depth {loc.depth_mm:.0f} mm ({loc.depth_third} third), "
      f"{path_mm(tree)[tree.index[4]]:.1f} mm along the duct")

# The same point on the left breast keeps its coordinates; only the names mirror.
left = locate_point(tree.nodes[4]["pos"], "L")
print(f"same point, left breast: {left.clock_half_hour} ({left.quadrant}, {left.side})")

# A clock position + fn + depth back to a BF point.
p = point_from_clock("10:30", fn=20, depth=15)
print("10:30, fn 20 mm, 15 mm deep ->", [round(float(v), 2) for v in p])

# Edits return new trees.
fine = edit.resample(tree, 1.0)
print(f"resampled at 1 mm: {fine.number_of_nodes()} nodes, {len(branches(fine))} branches")
below = edit.subtree(tree, 2)
print(f"subtree below node 2: nodes {sorted(below.nodes)}")
parts = edit.split(tree)
print(f"split into systems {sorted(parts)}; path 4 -> 3: {edit.path_between(tree, 4, 3)}")
