"""The shipped mesh assets (``meshes/``), rebuilt by one command.

``python -m ductree.mesh.assets [FOLDER]`` (default ``meshes``) writes:

- ``nipple_areola.stl`` — the nipple–areola skin template (:class:`~ductree.mesh.bodies.NippleAreola`
  defaults: nipple 5 mm radius, 7 mm tall, areola 18 mm radius, skin 1.2 mm), BF mm, tip at the origin;
- ``breast_outline.stl`` — the breast outline template (:class:`~ductree.mesh.bodies.BreastOutline`
  defaults: 150 x 130 mm wide, 100 mm deep, skin 1.5 mm), BF mm;
- ``demo_model.3mf`` — the demo's printed model: the ``ductree demo`` phantom (seed 7, 8 systems x
  120 branches, right breast, 100 mm deep) at draft quality within 50 000 duct triangles (the least that keeps every system genus 0), the systems
  joined by a base plate into one piece, and the phantom's two lesions as separate red ellipsoids.

Every file is checked closed and manifold before it is written (and ``tests/test_meshes_assets.py``
checks the shipped copies).
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The demo phantom (must match ``ductree.demo``).
DEMO_SEED = 7
DEMO_TRIANGLES = 50_000


def template_bodies():
    """The two context templates as (file name, Body) pairs."""
    from .bodies import (CONTEXT_COLOR, Body, BreastOutline, NippleAreola, breast_outline_body, manifold_to_trimesh,
                         nipple_areola_body)

    return [
        ("nipple_areola.stl", Body("nipple-areola", "context", manifold_to_trimesh(nipple_areola_body(NippleAreola())),
                                   CONTEXT_COLOR)),
        ("breast_outline.stl", Body("breast outline", "context",
                                    manifold_to_trimesh(breast_outline_body(BreastOutline())), CONTEXT_COLOR)),
    ]


def demo_model():
    """The demo's printed model (see module docs) as ModelBodies."""
    from ..demo import DEMO_BRANCHES, DEMO_BREAST_DEPTH_MM, DEMO_LESIONS, DEMO_SYSTEMS
    from ..phantom.case import phantom_case
    from .model import tree_to_mesh
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        case = phantom_case(d, DEMO_SEED, DEMO_SYSTEMS, DEMO_BRANCHES, DEMO_LESIONS, "R", DEMO_BREAST_DEPTH_MM)
    tree = case.tree
    lesions = []
    for les in case.lesions:
        row = tree.index[les.node]
        parent = tree.parent_index[row]
        axis = tree.positions[row] - tree.positions[parent] if parent >= 0 else None
        size = (les.extent_mm, les.size_mm, les.size_mm) if les.extent_mm != les.size_mm else les.size_mm
        lesions.append({"label": les.label, "point": les.point, "size_mm": size, "axis": axis, "kind": les.kind})
    return tree_to_mesh(tree, quality="draft", max_triangles=DEMO_TRIANGLES, base_plate=True, lesions=lesions)


def write_assets(folder: str | Path = "meshes") -> list[Path]:
    """Write every asset into ``folder`` (which must exist); return the paths."""
    from .export import export_model
    from .quality import check_watertight

    folder = Path(folder)
    written = []
    for name, body in template_bodies():
        c = check_watertight(body.mesh, expect_bodies=1)
        if not c.ok:
            raise RuntimeError(f"{name}: {c.problems}")
        written.append(export_model([body], folder / name))
    model = demo_model()
    for b in model:
        c = check_watertight(b.mesh, expect_bodies=1)
        if not c.ok:
            raise RuntimeError(f"demo model {b.name}: {c.problems}")
    written.append(export_model(model, folder / "demo_model.3mf"))
    return written


if __name__ == "__main__":
    for p in write_assets(sys.argv[1] if len(sys.argv) > 1 else "meshes"):
        print(f"wrote {p} ({p.stat().st_size // 1024} KB)")
