"""Scene actors (:class:`ductree.scene.Actor`) as plain VTK actors, the same look in every viewer.

The desktop and web viewers add these to a pyvista plotter; the standalone
HTML file serializes them for vtk.js. Geometry is BF mm.
"""

from __future__ import annotations

from typing import Any

from ..render import vtk_actor_for


def make_vtk_actor(a: Any, *, keep_arrays: tuple[str, ...] = ()) -> Any:
    """A ``vtkActor`` drawing one scene actor: colour or per-point RGB, opacity, lines or lit surface.

    Translucent context surfaces (the breast outline, the nipple–areola) cull
    their front faces, so they read as a backdrop and do not fog the ducts.
    Only the arrays the look needs (``rgb``, ``Normals``) and ``keep_arrays``
    are kept on the polydata handed to the mapper.
    """
    from vtkmodules.vtkCommonDataModel import vtkPolyData

    poly = vtkPolyData()
    poly.ShallowCopy(a.mesh)
    pd = poly.GetPointData()
    keep = {"Normals", *(keep_arrays or ())}
    if a.rgb:
        keep.add(a.rgb)
    for i in range(pd.GetNumberOfArrays() - 1, -1, -1):
        name = pd.GetArrayName(i)
        if name not in keep:
            pd.RemoveArray(i)
    cd = poly.GetCellData()
    for i in range(cd.GetNumberOfArrays() - 1, -1, -1):
        cd.RemoveArray(i)
    return vtk_actor_for(a, poly, line_scale=1.5, cull_context=True, default_color="#888888")
