"""A printable 3D model of a ductal tree, from Python: the API behind ``ductree mesh``.

Usage: ``python examples/print_model.py [OUT_DIR]`` (default: a new temporary folder).

1. Grows a phantom breast (3 duct systems) and meshes it at print quality: one closed,
   manifold, outward body per duct system (``ductree.mesh.tree_to_mesh``), plus a lesion
   body and the nipple–areola context body.
2. Checks every body (``check_watertight``) and measures how far each system is from the
   ideal surface, the union of round cones of its segments (``fidelity``): every sampled
   point must lie within max(5 % of the local radius, 0.02 mm).
3. Writes the model as STL, 3MF, GLB, PLY, OBJ and VTP (``export_model``; colours per
   system and lesion where the format has them), and one LPS copy for 3D Slicer; reads
   each back (``read_model``) and checks it is still closed with the same bodies.
4. Makes a one-piece 2:1 print: the systems joined by a base plate on the nipple face,
   ducts thinner than 0.3 mm thickened, as a hollow shell (0.4 mm wall) whose lumen is the duct.

The same from the command line::

    ductree phantom --out OUT_DIR/case --seed 11 --systems 3 --branches 30
    ductree mesh OUT_DIR/case/tree.json --out OUT_DIR/model.3mf --context --lesion L1,X,Y,Z,4
    ductree mesh OUT_DIR/case/tree.json --out OUT_DIR/print_2to1.stl --base-plate --min-radius 0.3 \\
        --hollow 0.4 --scale 2
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ductree.mesh import (MODEL_FORMATS, check_watertight, export_model, fidelity, read_model,
                          round_cones_of_tree, tree_to_mesh)
from ductree.phantom import generate_tree


def main(out_dir: Path) -> int:
    tree = generate_tree(seed=11, systems=3, branches=30)
    lesion_at = tree.positions[len(tree.radii) // 3]  # a point on a duct (BF mm)
    model = tree_to_mesh(tree, quality="print", lesions=[("L1", lesion_at, 4.0)], context=True)
    print(f"model: {len(model)} bodies, {model.triangles} triangles, {model.info['seconds']['total']:.2f} s")
    for body in model:
        c = check_watertight(body.mesh, expect_bodies=1)
        line = (f"  {body.name:<14} {body.kind:<8} {body.triangles:>6} triangles  genus {c.genus[0]}  "
                f"{'closed and manifold' if c.ok else 'PROBLEM: ' + '; '.join(c.problems)}")
        if body.kind == "system":
            f = fidelity(body.mesh, round_cones_of_tree(tree, systems=[body.meta["system"]]), n_random=30_000,
                         reverse=False)
            line += f"  max deviation {f.max_dev_mm:.4f} mm ({100 * f.max_ratio:.0f}% of tolerance)"
        print(line)
    for w in model.warnings:
        print("  warning:", w)

    for suffix in sorted(MODEL_FORMATS):
        path = export_model(model, out_dir / f"model{suffix}")
        back = read_model(path)
        ok = len(back) == len(model) and all(check_watertight(b.mesh, expect_bodies=1).ok for b in back)
        print(f"wrote {path.name:<10} read back: {len(back)} bodies, {'closed' if ok else 'NOT closed'}")
    lps = export_model(model, out_dir / "model_lps.vtp", space="LPS", nipple_lps=(12.0, -160.0, 40.0))
    print(f"wrote {lps.name} (patient LPS, nipple at 12, -160, 40 mm)")

    one_piece = tree_to_mesh(tree, quality="draft", base_plate=True, min_radius_mm=0.3, hollow_mm=0.4)
    path = export_model(one_piece, out_dir / "print_2to1.stl", scale=2.0)
    back = read_model(path)
    c = check_watertight(back[0].mesh)
    print(f"wrote {path.name}: {len(back)} body, genus {c.genus[0]} (one lumen opening per tip), "
          f"{'closed and manifold' if c.ok else 'NOT closed'}, {len(one_piece.warnings)} warning(s)")
    return 0


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ductree-print-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"output folder: {out}")
    sys.exit(main(out))
