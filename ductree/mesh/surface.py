"""One closed surface per duct system: swept tubes unioned with manifold3d.

:func:`system_surface` turns one system's arrays into a ``manifold3d.Manifold``
(the union of its runs from :mod:`ductree.mesh.tubes`); :func:`triangle_estimate`
predicts the triangle count of a tolerance cheaply, which is how a triangle
budget is met.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tubes import RunPlan, SystemGeometry, Tolerance, _Seg, build_tubes, plan_runs, system_geometry


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
    g = system_geometry(pos, radius, parent)
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
    """Union of closed bodies (manifold3d batch boolean)."""
    import manifold3d as m3

    if not manifolds:
        return m3.Manifold()
    if len(manifolds) == 1:
        return manifolds[0]
    return m3.Manifold.batch_boolean(manifolds, m3.OpType.Add)


def manifold_arrays(man) -> tuple[np.ndarray, np.ndarray]:
    """(vertices float64 (V, 3), faces int64 (F, 3)) of a Manifold."""
    mesh = man.to_mesh64()
    v = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    f = np.asarray(mesh.tri_verts, dtype=np.int64)
    return v, f


def system_surface(pos: np.ndarray, radius: np.ndarray, parent: np.ndarray, tol: Tolerance, *,
                   ends: str = "round"):
    """The union of one system's tubes as a Manifold, and the parts it came from."""
    parts = system_parts(pos, radius, parent, tol, ends=ends)
    man = union([to_manifold(v, f) for v, f in parts.meshes])
    return man, parts


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
