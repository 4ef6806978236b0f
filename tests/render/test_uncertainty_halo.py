"""The uncertainty halo: a translucent skin of radius + pos_sigma_mm round the uncertain stretches of a
tree (hand-made straight ducts; the geometry is worked out by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from ductree.scene import SceneOptions, build_scene, uncertainty_halo
from ductree.tree import DuctTree


def _two_ducts(sigma_deep: float) -> DuctTree:
    """Root at the nipple; duct A along +y to 20 mm (nodes every 0.5 mm, r 0.4), certain (sigma 0.2);
    duct B leaves A's node at y 5 along +x to x 15, its nodes beyond x 5 carry ``sigma_deep``."""
    pos, rad, par = [[0.0, 0.0, 0.0]], [0.4], [-1]
    for y in np.arange(0.5, 20.01, 0.5):
        pos.append([0.0, y, 0.0]); rad.append(0.4); par.append(len(pos) - 2)
    fork = 10                                       # row of (0, 5, 0)
    prev = fork
    for x in np.arange(0.5, 15.01, 0.5):
        pos.append([x, 5.0, 0.0]); rad.append(0.3); par.append(prev)
        prev = len(pos) - 1
    tree = DuctTree.from_arrays(pos, rad, par, laterality="R")
    for n in tree.node_ids:
        p = tree.nodes[n]["pos"]
        tree.nodes[n]["pos_sigma_mm"] = sigma_deep if p[0] > 5.0 else 0.2
    tree.touch()
    return tree


def _inside(mesh, points) -> np.ndarray:
    """Which points lie inside the closed surface (VTK's enclosed-points test)."""
    import pyvista as pv
    from vtkmodules.vtkFiltersModeling import vtkSelectEnclosedPoints

    sel = vtkSelectEnclosedPoints()
    sel.SetInputData(pv.PolyData(np.asarray(points, float)))
    sel.SetSurfaceData(mesh)
    sel.SetTolerance(1e-6)
    sel.Update()
    return np.array([bool(sel.IsInside(i)) for i in range(len(points))])


def test_halo_wraps_the_uncertain_stretch_at_radius_plus_sigma():
    tree = _two_ducts(1.5)
    halo = uncertainty_halo(tree)
    assert halo is not None and halo.n_points > 0
    assert halo.is_manifold
    # on the uncertain stretch (x 6-14, y 5): inside up to r + sigma = 1.8 mm off the centreline, not beyond
    xs = np.arange(6.0, 14.01, 1.0)
    assert _inside(halo, np.column_stack([xs, np.full_like(xs, 5.0), np.full_like(xs, 1.6)])).all()
    assert not _inside(halo, np.column_stack([xs, np.full_like(xs, 5.0), np.full_like(xs, 2.2)])).any()
    # the certain duct A well away from B, and B's first 4 mm, get no halo
    ys = np.arange(8.0, 20.01, 1.0)
    assert not _inside(halo, np.column_stack([np.zeros_like(ys), ys, np.zeros_like(ys)])).any()
    assert not _inside(halo, [[2.0, 5.0, 0.0], [3.0, 5.0, 0.0]]).any()


def test_no_halo_where_every_node_is_certain_or_no_sigma_is_known():
    assert uncertainty_halo(_two_ducts(0.6)) is None
    tree = _two_ducts(1.5)
    for n in tree.node_ids:
        del tree.nodes[n]["pos_sigma_mm"]
    tree.touch()
    assert uncertainty_halo(tree) is None


def test_a_single_flickering_node_draws_no_bead():
    tree = _two_ducts(0.2)
    lone = next(n for n in tree.node_ids if np.allclose(tree.nodes[n]["pos"], [10.0, 5.0, 0.0]))
    tree.nodes[lone]["pos_sigma_mm"] = 2.0          # one node over the threshold, its neighbours at 0.2
    tree.touch()
    assert uncertainty_halo(tree) is None


@pytest.mark.parametrize("show", [True, False])
def test_scene_draws_the_halo_with_its_legend_unless_turned_off(show):
    scene = build_scene(_two_ducts(1.5), options=SceneOptions(mesher="tubes", uncertainty=show),
                        case_id="halo", breast_depth_mm=60)
    halos = [a for a in scene.actors if a.role == "uncertainty"]
    legend = [e.text for e in scene.legend if "uncertain" in e.text]
    if show:
        assert len(halos) == 1 and 0 < halos[0].opacity < 0.5
        assert legend and "1 SD" in legend[0]
    else:
        assert not halos and not legend
