"""Hand-drawn ductogram views for the biplane tests: 3D capsules projected by hand (no simulator code).

Conventions worked out by hand from DICOM Patient Orientation (first letter =
direction of increasing column, second = of increasing row):

- right CC ``P\\L``: column = c0 + depth / px, row = r0 + x / px;
- right lateral ``P\\F``: column = c0 + depth / px, row = r0 - z / px;
- left CC ``A\\R``: column = c0 - depth / px, row = r0 - x / px;
- left lateral ``A\\F``: column = c0 - depth / px, row = r0 - z / px.
"""

from __future__ import annotations

import numpy as np

from ductree.io.images2d import View2D


def pixel_of(kind: str, lat: str, u: float, d: float, r0: float, c0: float, px: float) -> tuple[float, float]:
    """(row, col) of in-plane coordinate ``u`` (x on a CC, z on a lateral) and depth ``d`` (mm)."""
    if kind == "cc":
        return (r0 + u / px, c0 + d / px) if lat == "R" else (r0 - u / px, c0 - d / px)
    return (r0 - u / px, c0 + d / px) if lat == "R" else (r0 - u / px, c0 - d / px)


def draw(kind: str, segments, *, lat: str = "R", px: float = 0.05, depth=lambda y: y, shape=(500, 1000),
         nipple=(250.0, 60.0), erase=()) -> View2D:
    """A boolean mask of capsules ``(p0, p1, r0, r1)`` (BF mm) seen in one view.

    ``depth`` maps true depth to the view's depth (compression); ``erase`` lists
    capsules (same form, in the view's (u, d) mm) cleared afterwards.
    """
    rr, cc = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    mask = np.zeros(shape, dtype=bool)
    r0, c0 = nipple
    if lat == "L" and kind in ("cc", "lateral"):
        c0 = shape[1] - c0 if nipple[1] < shape[1] / 2 else nipple[1]

    def paint(a, b, ra, rb, value):
        ab = b - a
        den = float(ab @ ab)
        t = np.clip(((rr - a[0]) * ab[0] + (cc - a[1]) * ab[1]) / den, 0.0, 1.0) if den > 0 else np.zeros_like(rr)
        dist = np.hypot(rr - a[0] - t * ab[0], cc - a[1] - t * ab[1]) * px
        inside = dist <= ra + t * (rb - ra)
        mask[inside] = value

    for p0, p1, ra, rb in segments:
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        pts = []
        for p in (p0, p1):
            u = p[0] if kind == "cc" else p[2]
            pts.append(np.array(pixel_of(kind, lat, u, float(depth(p[1])), r0, c0, px)))
        paint(pts[0], pts[1], ra, rb, True)
    for (u0, d0), (u1, d1), ra, rb in erase:
        a = np.array(pixel_of(kind, lat, u0, d0, r0, c0, px))
        b = np.array(pixel_of(kind, lat, u1, d1, r0, c0, px))
        paint(a, b, ra, rb, False)
    orient = {("cc", "R"): ("P", "L"), ("lateral", "R"): ("P", "F"), ("cc", "L"): ("A", "R"),
              ("lateral", "L"): ("A", "F")}[(kind, lat)]
    return View2D(mask=mask, kind=kind, spacing_mm=(px, px), orientation=orient, laterality=lat,
                  nipple_px=(r0, c0), name=f"{kind}.png")


def polyline(points, radii):
    """Capsules along a 3D polyline with per-point radii."""
    pts = [np.asarray(p, float) for p in points]
    return [(pts[i], pts[i + 1], radii[i], radii[i + 1]) for i in range(len(pts) - 1)]


def chain_reading(pos, radius: float = 0.45):
    """A hand-built 3D reading (BF mm): one chain of rows through ``pos``, each the parent of the next, seen
    in both views (CC at ``(x, y)``, lateral at ``(z, y)``: no compression)."""
    from ductree.reconstruct.biplane_match import Built

    pos = np.asarray(pos, dtype=float)
    n = len(pos)
    return Built(pos=pos, radius=np.full(n, radius), parent=np.arange(-1, n - 1), single_view=np.zeros(n, bool),
                 view=["both"] * n, sigma=np.full(n, 0.2), cc_ud=pos[:, [0, 1]].copy(),
                 lat_ud=pos[:, [2, 1]].copy(), pair_of=np.zeros(n, int), depth_residual=np.zeros(n))


def bench_branches(k: int) -> int:
    """Branches per system of the ``k``-th case (0-19) of a benchmark set (benchmarks/bench_biplane.py draws them
    from ``default_rng(7)``, the same for every set; the even cases are right breasts)."""
    rng = np.random.default_rng(7)
    return [int(rng.integers(20, 41)) for _ in range(k + 1)][k]


def simulated_pair(seed: int, branches: int, lat: str):
    """A seeded phantom (3 systems, 80 mm breast, one lesion) and its simulated ductogram (the truth)."""
    from ductree.phantom import generate_tree, insert_lesions
    from ductree.phantom.ductogram_sim import simulate_ductogram

    tree = generate_tree(seed=seed, systems=3, branches=branches, laterality=lat, breast_depth_mm=80)
    return simulate_ductogram(tree, insert_lesions(tree, 1, seed=seed), seed=seed)


def rebuild(sim, lat: str, **kwargs):
    """The 3D tree rebuilt from a simulated pair, with the nipple pixels marked (warnings silenced)."""
    import copy
    import warnings

    from ductree.reconstruct.biplane import tree_from_views

    cc, ml = copy.copy(sim.cc.view), copy.copy(sim.lateral.view)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tree_from_views(cc, ml, laterality=lat, nipple_cc=cc.nipple_px, nipple_lateral=ml.nipple_px,
                               **kwargs)


def rebuilt_cutoff(seed: int, branches: int, lat: str):
    """A seeded phantom whose one inserted lesion is a cut-off, rebuilt: the tree and each candidate
    finding paired with its distance (mm) to the inserted cut-off."""
    sim = simulated_pair(seed, branches, lat)
    rec = rebuild(sim, lat)
    (defect,) = sim.defects
    assert defect["kind"] == "cutoff"
    target = np.array(defect["point_bf"])
    return rec, [(f, float(np.linalg.norm(np.array(f["point_bf"]) - target)))
                 for f in rec.graph["candidate_findings"]]
