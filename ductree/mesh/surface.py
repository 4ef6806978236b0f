"""One closed surface per duct system: swept tubes unioned with manifold3d.

:func:`system_surface` turns one system's arrays into a ``manifold3d.Manifold``
(the union of its runs from :mod:`ductree.mesh.tubes`); :func:`triangle_estimate`
predicts the triangle count of a tolerance cheaply, which is how a triangle
budget is met.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tubes import (RunPlan, SystemGeometry, Tolerance, _Seg, build_tubes, drop_chain_nodes, plan_runs,
                    system_geometry)


@dataclass
class SystemParts:
    """The tube meshes of one system before the union (BF mm)."""

    geometry: SystemGeometry
    plan: RunPlan
    meshes: list[tuple[np.ndarray, np.ndarray]]

    @property
    def triangles(self) -> int:
        return int(sum(len(f) for _, f in self.meshes))


def system_parts(pos: np.ndarray, radius: np.ndarray, parent: np.ndarray, tol: Tolerance, *,
                 ends: str = "round") -> SystemParts:
    """Plan the runs of one system and build each as a closed tube (vertices, faces)."""
    g = drop_chain_nodes(system_geometry(pos, radius, parent), tol)
    seg = _Seg(g, tol)
    plan = plan_runs(g, tol, seg)
    return SystemParts(g, plan, build_tubes(g, plan, tol, ends=ends, seg=seg))


def to_manifold(verts: np.ndarray, faces: np.ndarray):
    """A ``manifold3d.Manifold`` from a closed mesh (double precision); raises if it is not manifold."""
    import manifold3d as m3

    mesh = m3.Mesh64(np.ascontiguousarray(verts, dtype=np.float64),
                     np.ascontiguousarray(faces, dtype=np.uint64))
    man = m3.Manifold(mesh)
    status = man.status()
    if status != m3.Error.NoError:
        raise RuntimeError(f"tube mesh rejected by manifold3d: {status}")
    return man


def union(manifolds: list):
    """Union of closed bodies (manifold3d batch boolean), without round-off specks (:func:`drop_slivers`)."""
    import manifold3d as m3

    if not manifolds:
        return m3.Manifold()
    if len(manifolds) == 1:
        return manifolds[0]
    return drop_slivers(m3.Manifold.batch_boolean(manifolds, m3.OpType.Add))


def manifold_arrays(man) -> tuple[np.ndarray, np.ndarray]:
    """(vertices float64 (V, 3), faces int64 (F, 3)) of a Manifold."""
    mesh = man.to_mesh64()
    # Copies: a view would keep the nanobind-owned Mesh64 alive as long as the arrays.
    v = np.array(mesh.vert_properties[:, :3], dtype=np.float64, copy=True)
    f = np.array(mesh.tri_verts, dtype=np.int64, copy=True)
    return v, f


def system_surface(pos: np.ndarray, radius: np.ndarray, parent: np.ndarray, tol: Tolerance, *,
                   ends: str = "round"):
    """The union of one system's tubes as a Manifold, and the parts it came from."""
    parts = system_parts(pos, radius, parent, tol, ends=ends)
    man = union([to_manifold(v, f) for v, f in parts.meshes])
    return man, parts


#: Pieces of a union smaller than this (mm^3) are round-off, not duct: the thinnest duct meshed
#: (radius 0.03 mm) holds 3e-3 mm^3 per mm of length.
SLIVER_MM3 = 1e-5


def drop_slivers(man):
    """The union without the specks manifold3d's round-off can leave beside it.

    A system's tubes are connected, so its union is one body; a random-tree test found a
    4-triangle, inside-out tetrahedron of -2.7e-6 mm^3 next to one (a second body in the model).
    Pieces under :data:`SLIVER_MM3` in absolute volume go; anything larger stays and would be
    reported by the watertight check.
    """
    import manifold3d as m3

    pieces = man.decompose()
    if len(pieces) <= 1:
        return man
    keep = [p for p in pieces if abs(p.volume()) >= SLIVER_MM3]
    if not keep:
        keep = [max(pieces, key=lambda p: abs(p.volume()))]
    return keep[0] if len(keep) == 1 else m3.Manifold.compose(keep)


#: Distinct vertices closer than this (mm) are pushed apart, so that writing float32 (STL)
#: and welding coincident vertices on reading can never merge two of them.
WELD_SAFE_MM = 1e-4


def separate_close_vertices(verts: np.ndarray, faces: np.ndarray, eps: float = WELD_SAFE_MM,
                            rounds: int = 8) -> np.ndarray:
    """Move apart every pair of vertices closer than ``eps`` (mm), symmetrically along their line.

    Boolean unions leave a few vertices a fraction of a micrometre apart where
    surfaces meet tangentially; STL stores float32 and readers weld equal
    coordinates, which would pinch the surface there. Each vertex moves by
    less than ``eps / 2``.
    """
    from scipy.spatial import cKDTree

    V = np.array(verts, dtype=float)
    used = np.unique(faces)
    for _ in range(rounds):
        pairs = cKDTree(V[used]).query_pairs(eps, output_type="ndarray")
        if not len(pairs):
            break
        i, j = used[pairs[:, 0]], used[pairs[:, 1]]
        d = V[j] - V[i]
        L = np.linalg.norm(d, axis=1)
        fallback = np.tile([1.0, 0.0, 0.0], (len(L), 1))
        dirn = np.where(L[:, None] > 1e-12, d / np.maximum(L, 1e-300)[:, None], fallback)
        push = 0.5 * (1.05 * eps - L)
        delta = np.zeros_like(V)
        np.add.at(delta, i, -dirn * push[:, None])
        np.add.at(delta, j, dirn * push[:, None])
        V += delta
    return V


#: Triangles lower than this (mm, height over their longest edge) are flipped away: their
#: orientation would not survive rounding to float32.
FLAT_HEIGHT_MM = 2e-5


def _triangle_shape(V: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per triangle: edge lengths (T, 3), normal x twice the area (T, 3) and height over the longest
    edge (T,), mm."""
    tri = V[F]
    edges = np.stack([tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 1], tri[:, 0] - tri[:, 2]], 1)
    lens = np.linalg.norm(edges, axis=2)
    cross = np.cross(edges[:, 0], -edges[:, 2])
    height = np.linalg.norm(cross, axis=1) / np.maximum(lens.max(axis=1), 1e-300)
    return lens, cross, height


def flip_flat_triangles(verts: np.ndarray, faces: np.ndarray, min_height: float = FLAT_HEIGHT_MM,
                        rounds: int = 6) -> np.ndarray:
    """Remove zero-height triangles by flipping their longest edge; returns new faces.

    A boolean leaves a few triangles whose third vertex lies on their longest
    edge ``u-v``. Flipping ``u-v`` to ``c-d`` (``d`` the far vertex of the
    neighbour across ``u-v``) splits the neighbour at ``c`` and drops the flat
    triangle; the surface does not move. A flip that would duplicate an
    existing edge is skipped.
    """
    V = np.asarray(verts, float)
    F = np.array(faces, dtype=np.int64)
    nv = max(len(V), 1)
    cand = np.arange(len(F))
    for _ in range(rounds):
        lens, _, height = _triangle_shape(V, F[cand])
        flat = height < min_height
        bad = cand[flat]
        longest = np.argmax(lens[flat], axis=1)
        if not len(bad):
            break
        he_key = (F * nv + np.roll(F, -1, axis=1)).reshape(-1)  # directed edge (F[i], F[i+1])
        order = np.argsort(he_key)
        sorted_keys = he_key[order]

        def find(u: int, v: int) -> int:
            key = u * nv + v
            p = int(np.searchsorted(sorted_keys, key))
            return int(order[p]) if p < len(sorted_keys) and sorted_keys[p] == key else -1

        touched: set[int] = set()
        for f, kk in zip(bad.tolist(), longest.tolist()):
            if f in touched:
                continue
            u, v, c = int(F[f, kk]), int(F[f, (kk + 1) % 3]), int(F[f, (kk + 2) % 3])
            h = find(v, u)
            if h < 0:
                continue
            g = h // 3
            if g in touched or g == f:
                continue
            d = int(F[g, (h % 3 + 2) % 3])
            if d == c or find(c, d) >= 0 or find(d, c) >= 0:
                continue
            F[f] = (u, d, c)
            F[g] = (d, v, c)
            touched.update((f, g))
        if not touched:
            break
        cand = np.unique(np.concatenate([bad, np.fromiter(touched, dtype=np.int64)]))
    return F


def nudge_flat_triangles(verts: np.ndarray, faces: np.ndarray, min_height: float = FLAT_HEIGHT_MM) -> np.ndarray:
    """Lift the apex of every remaining flat triangle off its longest edge by ``2 * min_height``; new vertices.

    For the few flat triangles a flip cannot remove (the new edge exists
    already), the vertex opposite the longest edge moves within the local
    tangent plane (the mean normal of its other triangles), to the side that
    gives the triangle the same orientation as its neighbours.
    """
    V = np.array(verts, dtype=float)
    F = np.asarray(faces, dtype=np.int64)
    lens, cross, height = _triangle_shape(V, F)
    area2 = np.linalg.norm(cross, axis=1)
    bad = np.flatnonzero(height < min_height)
    for f in bad.tolist():
        kk = int(np.argmax(lens[f]))
        u, v, c = F[f, kk], F[f, (kk + 1) % 3], F[f, (kk + 2) % 3]
        around = np.flatnonzero((F == c).any(axis=1))
        around = around[(around != f) & (area2[around] > 0)]
        if not len(around):
            continue
        n = (cross[around] / area2[around][:, None]).sum(axis=0)
        e = V[v] - V[u]
        w = np.cross(n, e)
        wn = np.linalg.norm(w)
        if wn == 0:
            continue
        V[c] += (2.0 * min_height) * w / wn
    return V


def clean_arrays(verts: np.ndarray, faces: np.ndarray, rounds: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Make a union's mesh safe to write: no near-coincident vertices, no flat triangles.

    :func:`separate_close_vertices`, then :func:`flip_flat_triangles`, then
    :func:`nudge_flat_triangles` (the last two again, up to ``rounds`` times, while a flat
    triangle is left); vertices move by less than 0.1 micrometre per round.
    """
    v = separate_close_vertices(verts, faces)
    f = np.asarray(faces, dtype=np.int64)
    for _ in range(rounds):
        f = flip_flat_triangles(v, f)
        v = nudge_flat_triangles(v, f)
        # A nudged apex can flatten a neighbour of its own (a random tree did): go round again.
        if not np.any(_triangle_shape(v, f)[2] < FLAT_HEIGHT_MM):
            break
    return v, f
