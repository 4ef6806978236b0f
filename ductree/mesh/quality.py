"""Is a surface printable, and how far is it from the ideal duct surface?

Two independent checks, neither using the mesher's internals:

- :func:`check_watertight` — topology from the triangles alone: every edge
  shared by exactly two triangles with opposite directions (closed, oriented),
  one fan of triangles around every vertex (vertex-manifold), positive volume
  (outward), bodies (connected components) and the genus of each, and whether
  two distinct vertices would weld together when written as float32 (STL).
- :func:`fidelity` — the distance from surface samples (vertices, edge
  midpoints, triangle centroids and random points) to the *ideal* surface:
  the union of round cones (convex hulls of the two node spheres of every
  segment), by an exact point-to-round-cone signed distance, vectorised; and
  the other way, from samples of the ideal surface to the mesh. Each is
  compared with the tolerance at the local radius, ``max(rel * r, abs_mm)``.

The signed distance of a union is the minimum of the cones' distances: exact
outside the union, a lower bound inside where cones overlap; the reverse
(ideal -> mesh) direction covers that case. The tolerance a point is held to
is that of the duct it lies on: outside the union, a point passes when it is
within the tolerance band of some segment's surface (near a junction a thick
duct's band may hold points nearer a thin branch); inside, the tolerance of
the segment it is deepest in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from .tubes import QUALITIES, Tolerance

# ----------------------------------------------------------------------------- topology


@dataclass
class MeshCheck:
    """What :func:`check_watertight` found. ``ok`` is True when the mesh is printable as is."""

    closed: bool
    oriented: bool
    edge_manifold: bool
    vertex_manifold: bool
    outward: bool
    bodies: int
    genus: list[int]
    volume_mm3: float
    triangles: int
    degenerate_triangles: int
    float32_welds: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def watertight(self) -> bool:
        """Closed, edge- and vertex-manifold and consistently oriented."""
        return self.closed and self.oriented and self.edge_manifold and self.vertex_manifold

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        d["watertight"] = self.watertight
        return d


def _components(n: int, a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    return connected_components(g, directed=False)


def check_watertight(mesh, *, expect_bodies: int | None = None) -> MeshCheck:
    """Check a triangle mesh (a ``trimesh.Trimesh`` or a ``(vertices, faces)`` pair) for printing.

    Returns a :class:`MeshCheck`; ``problems`` lists every failed condition in
    words (empty when the mesh is closed, manifold, outward and weld-safe).
    ``expect_bodies`` adds a problem when the body count differs.

    Examples
    --------
    >>> import trimesh
    >>> c = check_watertight(trimesh.creation.icosphere(2))
    >>> c.ok, c.bodies, c.genus
    (True, 1, [0])
    """
    if isinstance(mesh, tuple):
        verts, faces = mesh
    else:
        verts, faces = mesh.vertices, mesh.faces
    V = np.asarray(verts, dtype=float)
    F = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    problems: list[str] = []
    nf = len(F)
    if nf == 0:
        return MeshCheck(False, False, False, False, False, 0, [], 0.0, 0, 0, 0, ["no triangles"])
    # Half-edges (i -> j) of every triangle, and their twins (j -> i).
    he_from = F.reshape(-1)
    he_to = F[:, [1, 2, 0]].reshape(-1)
    nv = len(V)
    key = he_from * nv + he_to
    twin_key = he_to * nv + he_from
    order = np.argsort(key, kind="stable")
    sk = key[order]
    dup_directed = int(np.sum(sk[1:] == sk[:-1]))
    pos = np.searchsorted(sk, twin_key)
    pos = np.clip(pos, 0, len(sk) - 1)
    has_twin = sk[pos] == twin_key
    twin = np.where(has_twin, order[pos], -1)
    und = np.sort(np.stack([he_from, he_to], 1), axis=1)
    _, counts = np.unique(und[:, 0] * nv + und[:, 1], return_counts=True)
    closed = bool(np.all(counts == 2)) and bool(np.all(has_twin))
    edge_manifold = bool(np.all(counts <= 2))
    oriented = dup_directed == 0 and bool(np.all(has_twin))
    if not closed:
        problems.append(f"open: {int(np.sum(counts == 1))} boundary edge(s)")
    if not edge_manifold:
        problems.append(f"{int(np.sum(counts > 2))} edge(s) shared by more than two triangles")
    if dup_directed:
        problems.append(f"{dup_directed} edge(s) with inconsistent winding")
    # Vertex fans: outgoing half-edge h (v -> j) links to twin(prev(h)), the next outgoing edge around v.
    vertex_manifold = False
    if closed and oriented:
        idx = np.arange(3 * nf)
        prev = (idx // 3) * 3 + (idx % 3 + 2) % 3
        nxt = twin[prev]
        ncomp, lab = _components(3 * nf, idx, nxt)
        used = np.bincount(he_from, minlength=nv) > 0
        # number of distinct fan components per vertex
        pair = np.unique(he_from * ncomp + lab)
        fans = np.bincount(pair // ncomp, minlength=nv)
        bad = int(np.sum(fans[used] != 1))
        vertex_manifold = bad == 0
        if bad:
            problems.append(f"{bad} non-manifold vertex(es) (two fans of triangles meet at one point)")
    # Bodies and genus.
    # Bodies: faces connected across shared edges.
    f_a = np.arange(3 * nf)[twin >= 0] // 3
    f_b = twin[twin >= 0] // 3
    nb, face_lab = _components(nf, f_a, f_b)
    genus: list[int] = []
    for b in range(nb):
        fb = F[face_lab == b]
        vb = len(np.unique(fb))
        e2 = np.sort(np.stack([fb[:, [0, 1, 2]].reshape(-1), fb[:, [1, 2, 0]].reshape(-1)], 1), axis=1)
        eb = len(np.unique(e2[:, 0] * nv + e2[:, 1]))
        chi = vb - eb + len(fb)
        genus.append(int((2 - chi) // 2))
    tri = V[F]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area2 = np.linalg.norm(cross, axis=1)
    volume = float(np.einsum("ij,ij->i", tri[:, 0], cross).sum() / 6.0)
    outward = volume > 0
    if not outward:
        problems.append(f"inward-facing (volume {volume:.4g} mm^3)")
    # Degenerate: so flat (height over the longest edge) that rounding to float32 could flip it.
    longest = np.linalg.norm(np.stack([tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 1], tri[:, 0] - tri[:, 2]], 1),
                             axis=2).max(axis=1)
    flat_limit = 1e-7 * max(float(np.abs(V).max()), 1.0)
    degenerate = int(np.sum(area2 / np.maximum(longest, 1e-300) < flat_limit))
    if degenerate:
        problems.append(f"{degenerate} degenerate (flat) triangle(s)")
    used_v = np.unique(F)
    v32 = np.ascontiguousarray(V[used_v].astype(np.float32))
    welds = int(len(used_v) - len(np.unique(v32.view(np.dtype((np.void, 12))))))
    if welds:
        problems.append(f"{welds} vertex(es) would weld with another when written as float32")
    if expect_bodies is not None and nb != expect_bodies:
        problems.append(f"{nb} bodies, expected {expect_bodies}")
    return MeshCheck(closed, oriented, edge_manifold, vertex_manifold, outward, int(nb), genus, volume,
                     nf, degenerate, welds, problems)


# ----------------------------------------------------------------------------- the ideal surface

@dataclass
class RoundCones:
    """The ideal surface as pieces: round cones from ``a`` (radius ``ra``) to ``b`` (``rb``), BF mm.

    A piece with ``a == b`` is a sphere.
    """

    a: np.ndarray
    b: np.ndarray
    ra: np.ndarray
    rb: np.ndarray

    def __len__(self) -> int:
        return len(self.ra)

    def split(self, max_len: float) -> "RoundCones":
        """Cut long cones into pieces no longer than ``max_len`` (the union is unchanged)."""
        L = np.linalg.norm(self.b - self.a, axis=1)
        n = np.maximum(1, np.ceil(L / max_len)).astype(np.int64)
        idx = np.repeat(np.arange(len(L)), n)
        k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        t0 = (k / n[idx])[:, None]
        t1 = ((k + 1) / n[idx])[:, None]
        a, b = self.a[idx], self.b[idx]
        ra, rb = self.ra[idx][:, None], self.rb[idx][:, None]
        return RoundCones(a + (b - a) * t0, a + (b - a) * t1, (ra + (rb - ra) * t0)[:, 0], (ra + (rb - ra) * t1)[:, 0])


def round_cones_of_tree(tree, *, systems: Sequence[int] | None = None,
                        min_radius_mm: float | None = None) -> RoundCones:
    """Every segment of the tree (or of the chosen systems) as a round cone; lone nodes as spheres.

    Anastomoses (edges flagged ``anastomosis=True``) are included, with the
    system of the node they start from.
    """
    pos, rad, par, sysid = tree.positions, np.array(tree.radii, dtype=float), tree.parent_index, tree.system_ids
    if min_radius_mm:
        rad = np.maximum(rad, min_radius_mm)
    keep = np.ones(len(rad), bool) if systems is None else np.isin(sysid, list(systems))
    child = np.flatnonzero(keep & (par >= 0))
    a, b = pos[par[child]], pos[child]
    ra, rb = rad[par[child]], rad[child]
    has_child = np.zeros(len(rad), bool)
    has_child[par[child]] = True
    lone = np.flatnonzero(keep & (par < 0) & ~has_child)
    # anastomoses (loop-closing edges) are segments too, counted with the system they start in
    idx = tree.index
    loops = [(idx[u], idx[v]) for u, v in tree.anastomoses() if keep[idx[u]]]
    la = np.array([p for p, _ in loops], dtype=np.int64)
    lb = np.array([q for _, q in loops], dtype=np.int64)
    return RoundCones(np.concatenate([a, pos[lone], pos[la]]), np.concatenate([b, pos[lone], pos[lb]]),
                      np.concatenate([ra, rad[lone], rad[la]]), np.concatenate([rb, rad[lone], rad[lb]]))


def round_cone_sdf(p: np.ndarray, a: np.ndarray, b: np.ndarray, ra: np.ndarray, rb: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance (mm, negative inside) from points ``p`` to round cones, row by row.

    Works in the meridian half-plane: ``u`` along the axis from ``a``, ``v``
    from the axis. The side line has unit normal ``(s, c)`` with
    ``s = (ra - rb) / L``; ``lam = u c - v s`` runs along it from the tangent
    point on sphere A (``lam = 0``) to the one on sphere B (``lam = L c``).
    Returns the distance and the radius of the swept sphere at the nearest
    point (the local radius the tolerance refers to).
    """
    w = b - a
    L = np.linalg.norm(w, axis=1)
    q = p - a
    safe = np.where(L > 0, L, 1.0)
    e = w / safe[:, None]
    u = np.einsum("ij,ij->i", q, e)
    v = np.linalg.norm(q - u[:, None] * e, axis=1)
    s = (ra - rb) / safe
    sphere_only = (L <= 0) | (np.abs(s) >= 1.0)
    c = np.sqrt(np.clip(1.0 - s * s, 0.0, 1.0))
    lam = u * c - v * s
    dA = np.sqrt(u * u + v * v) - ra
    dB = np.sqrt((u - L) ** 2 + v * v) - rb
    dS = u * s + v * c - ra
    inA = lam < 0
    inB = lam > L * c
    d = np.where(inA, dA, np.where(inB, dB, dS))
    t = np.clip(lam / np.where(L * c > 0, L * c, 1.0), 0.0, 1.0)
    r_local = np.where(inA, ra, np.where(inB, rb, ra + (rb - ra) * t))
    # One sphere holds the other: the piece is the bigger sphere.
    big_a = ra >= rb
    d_sph = np.where(big_a, np.linalg.norm(p - a, axis=1) - ra, np.linalg.norm(p - b, axis=1) - rb)
    d = np.where(sphere_only, d_sph, d)
    r_local = np.where(sphere_only, np.maximum(ra, rb), r_local)
    return d, r_local


def ideal_sdf(points: np.ndarray, cones: RoundCones, *, chunk: int = 200_000,
              tolerance: Tolerance | None = None):
    """Signed distance (mm) from each point to the union of ``cones``, and the local radius there.

    Candidate cones per point come from a k-d tree of the cone centres: a
    first estimate from the 8 nearest pieces bounds the answer, then every
    piece whose bounding sphere could beat that bound is evaluated exactly.

    With ``tolerance``, also returns (third) each point's deviation relative
    to the tolerance of the duct it lies on: outside the union, the smallest
    ``distance / tolerance(r)`` over the pieces (a point within the tolerance
    band of a thick duct is fine there, even if a thin branch's surface
    happens to be nearer); inside, the depth over the tolerance of the piece
    it is deepest in; and (fourth) the largest tolerance of the pieces whose
    tolerance band holds the point (what a mesh may deviate by there).
    """
    from scipy.spatial import cKDTree

    pieces = cones.split(max_len=max(1.0, 2.0 * float(np.median(np.maximum(cones.ra, cones.rb)))))
    mid = 0.5 * (pieces.a + pieces.b)
    half = 0.5 * np.linalg.norm(pieces.b - pieces.a, axis=1)
    bound = half + np.maximum(pieces.ra, pieces.rb)
    kd = cKDTree(mid)
    pts = np.asarray(points, dtype=float)
    out_d = np.empty(len(pts))
    out_r = np.empty(len(pts))
    out_q = np.empty(len(pts))
    out_b = np.empty(len(pts))
    k = min(8, len(pieces))
    for lo in range(0, len(pts), chunk):
        P = pts[lo:lo + chunk]
        _, nn = kd.query(P, k=k)
        nn = nn.reshape(len(P), k)
        rows = np.repeat(np.arange(len(P)), k)
        cols = nn.reshape(-1)
        d0, _ = round_cone_sdf(P[rows], pieces.a[cols], pieces.b[cols], pieces.ra[cols], pieces.rb[cols])
        upper = d0.reshape(len(P), k).min(axis=1)
        reach = np.maximum(upper, 0.0) + bound.max() + 1e-9
        lists = kd.query_ball_point(P, reach)
        lens = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        rows = np.repeat(np.arange(len(P)), lens)
        cols = np.fromiter((c for x in lists for c in x), dtype=np.int64, count=int(lens.sum()))
        # drop pieces whose bounding sphere cannot beat the upper bound
        gap = np.linalg.norm(P[rows] - mid[cols], axis=1) - bound[cols]
        keep = gap <= upper[rows] + 1e-9
        rows, cols = rows[keep], cols[keep]
        d, r = round_cone_sdf(P[rows], pieces.a[cols], pieces.b[cols], pieces.ra[cols], pieces.rb[cols])
        best = np.full(len(P), np.inf)
        np.minimum.at(best, rows, d)
        # radius at the winning piece
        win = d <= best[rows]
        rad = np.zeros(len(P))
        rad[rows[win]] = r[win]
        out_d[lo:lo + chunk] = best
        out_r[lo:lo + chunk] = rad
        if tolerance is not None:
            t = tolerance.at(r)
            rel = np.full(len(P), np.inf)
            np.minimum.at(rel, rows, np.maximum(d, 0.0) / t)
            inside = best < 0
            rel[inside] = -best[inside] / tolerance.at(rad[inside])
            out_q[lo:lo + chunk] = rel
            band = tolerance.at(rad)
            near = np.abs(d) <= t
            np.maximum.at(band, rows[near], t[near])
            out_b[lo:lo + chunk] = band
    if tolerance is not None:
        return out_d, out_r, out_q, out_b
    return out_d, out_r


def ideal_surface_samples(cones: RoundCones, spacing_mm: float | None = None, *, max_points: int = 400_000,
                          seed: int = 0, tolerance: Tolerance | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Points on the ideal surface (on some cone, inside no other) and the local radius there.

    Each cone is sampled on its side and both end spheres at about
    ``spacing_mm`` (default: a quarter of the median radius); samples inside
    another piece of the union are dropped. With ``tolerance``, the second
    array is instead the tolerance a mesh has there: the largest over the
    pieces whose tolerance band holds the point (near a thick duct, a thin
    branch's base may be covered by the thick duct's allowed deviation).
    """
    rng = np.random.default_rng(seed)
    rmax = np.maximum(cones.ra, cones.rb)
    if spacing_mm is None:
        spacing_mm = 0.25 * float(np.median(rmax))
    L = np.linalg.norm(cones.b - cones.a, axis=1)
    # area of each piece, roughly: side + two spheres
    area = 2 * np.pi * rmax * L + 4 * np.pi * (cones.ra ** 2 + cones.rb ** 2)
    n = np.maximum(16, np.ceil(area / spacing_mm ** 2)).astype(np.int64)
    if n.sum() > max_points:
        n = np.maximum(8, (n * (max_points / n.sum())).astype(np.int64))
    idx = np.repeat(np.arange(len(L)), n)
    # Random points on a sphere swept along the segment; the envelope = points with normal
    # tilted by the taper: p = c(t) + r(t) * (cos(alpha) * radial + sin(alpha) * axial).
    t = rng.random(len(idx))
    dirs = rng.normal(size=(len(idx), 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    a, b, ra, rb = cones.a[idx], cones.b[idx], cones.ra[idx], cones.rb[idx]
    w = b - a
    Li = np.linalg.norm(w, axis=1)
    e = w / np.where(Li > 0, Li, 1.0)[:, None]
    s = np.clip((ra - rb) / np.where(Li > 0, Li, 1.0), -1, 1)
    # a third of the points on each end sphere, the rest on the side envelope
    kind = rng.integers(0, 3, len(idx))
    side = (kind == 2) & (Li > 0) & (np.abs(s) < 1)
    radial = dirs - np.einsum("ij,ij->i", dirs, e)[:, None] * e
    radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-12)
    c = np.sqrt(1 - s * s)
    r_t = ra + (rb - ra) * t
    centre_t = a + w * t[:, None]
    p_side = centre_t + r_t[:, None] * (c[:, None] * radial + s[:, None] * e)
    p_a = a + ra[:, None] * dirs
    p_b = b + rb[:, None] * dirs
    pts = np.where(side[:, None], p_side, np.where((kind == 0)[:, None], p_a, p_b))
    if tolerance is None:
        d, r = ideal_sdf(pts, cones)
    else:
        d, _, _, r = ideal_sdf(pts, cones, tolerance=tolerance)
    on = d > -1e-6 * np.maximum(np.abs(r), 1e-3)
    return pts[on], r[on]


def surface_samples(vertices: np.ndarray, faces: np.ndarray, n_random: int = 100_000, *, seed: int = 0,
                    max_structured: int | None = None) -> np.ndarray:
    """Points on a mesh: every vertex, edge midpoint and centroid, plus random points by area.

    ``max_structured`` caps the vertices, midpoints and centroids kept (a
    seeded random subset), for meshes of millions of triangles.
    """
    V = np.asarray(vertices, float)
    F = np.asarray(faces, np.int64)
    tri = V[F]
    mids = np.concatenate([(tri[:, 0] + tri[:, 1]) / 2, (tri[:, 1] + tri[:, 2]) / 2, (tri[:, 2] + tri[:, 0]) / 2])
    cent = tri.mean(axis=1)
    rng = np.random.default_rng(seed)
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if n_random and area.sum() > 0:
        pick = rng.choice(len(F), size=n_random, p=area / area.sum())
        r1, r2 = rng.random(n_random), rng.random(n_random)
        flip = r1 + r2 > 1
        r1, r2 = np.where(flip, 1 - r1, r1), np.where(flip, 1 - r2, r2)
        t = tri[pick]
        rand = t[:, 0] + r1[:, None] * (t[:, 1] - t[:, 0]) + r2[:, None] * (t[:, 2] - t[:, 0])
    else:
        rand = np.empty((0, 3))
    structured = np.concatenate([V[np.unique(F)], mids, cent])
    if max_structured is not None and len(structured) > max_structured:
        structured = structured[rng.choice(len(structured), size=max_structured, replace=False)]
    return np.concatenate([structured, rand])


def mesh_distance(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unsigned distance (mm) from points to a triangle mesh (VTK's implicit poly-data distance)."""
    import pyvista as pv

    faces = np.asarray(faces, np.int64)
    surf = pv.PolyData(np.asarray(vertices, float), np.hstack([np.full((len(faces), 1), 3), faces]).ravel())
    cloud = pv.PolyData(np.asarray(points, float))
    d = cloud.compute_implicit_distance(surf)["implicit_distance"]
    return np.abs(np.asarray(d))


@dataclass
class Fidelity:
    """Deviation of a mesh from the ideal surface (mm), and relative to the tolerance (1.0 = at the limit)."""

    max_dev_mm: float          #: mesh -> ideal, worst sample
    p99_dev_mm: float
    max_ratio: float           #: mesh -> ideal, worst deviation / tolerance of the duct the point lies on
    max_gap_mm: float          #: ideal -> mesh, worst sample (a missing or shrunken piece shows here)
    max_gap_ratio: float
    samples: int
    tolerance: Tolerance

    @property
    def ok(self) -> bool:
        return self.max_ratio <= 1.0 and self.max_gap_ratio <= 1.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def fidelity(mesh, cones: RoundCones, *, tolerance: Tolerance | str = "print", n_random: int = 100_000,
             reverse: bool = True, seed: int = 0, max_structured: int | None = None,
             ideal_points: int = 400_000) -> Fidelity:
    """Measure a mesh against the ideal union of round cones (see module docs).

    ``mesh`` is a ``trimesh.Trimesh`` or ``(vertices, faces)``; ``cones`` from
    :func:`round_cones_of_tree`; ``tolerance`` a :class:`Tolerance` or a
    quality name (``"print"``: 5 % of the local radius, at least 0.02 mm).
    ``n_random``, ``max_structured`` and ``ideal_points`` size the samples
    (mesh -> ideal and ideal -> mesh).
    """
    tol = QUALITIES[tolerance] if isinstance(tolerance, str) else tolerance
    V, F = (mesh if isinstance(mesh, tuple) else (mesh.vertices, mesh.faces))
    pts = surface_samples(V, F, n_random, seed=seed, max_structured=max_structured)
    d, r, ratio, _ = ideal_sdf(pts, cones, tolerance=tol)
    dev = np.abs(d)
    gap, gap_ratio = 0.0, 0.0
    if reverse:
        ip, band = ideal_surface_samples(cones, seed=seed, max_points=ideal_points, tolerance=tol)
        g = mesh_distance(ip, V, F)
        gap = float(g.max(initial=0.0))
        gap_ratio = float((g / band).max(initial=0.0))
    return Fidelity(float(dev.max()), float(np.percentile(dev, 99)), float(ratio.max()), gap, gap_ratio,
                    int(len(pts)), tol)
