"""``centerlines.vtp``: VTK XML PolyData centerlines, one polyline per branch.

Layout (what :func:`write` produces; VMTK-style, so vmtk, 3D Slicer and
ParaView read it):

- one polyline cell per branch (:func:`ductree.measures.branches`), in
  depth-first order; a branch's first point is the junction it leaves,
  duplicated from the last point of its parent branch (so each cell owns its
  points, as VMTK's branch-split centerlines do); coordinates are float64;
- point data ``MaximumInscribedSphereRadius`` (float64, mm, as VMTK names
  the centerline radius);
- cell data ``BranchId``, ``ParentBranchId`` (-1 for a system's first
  branches), ``Generation``, ``System``, ``Anastomosis`` (0/1; int32) and
  ``OrificeClock`` (float64 hours of the system's orifice, NaN when unknown);
- each anastomosis (loop-closing edge) is one extra 2-point line with
  ``Anastomosis = 1`` and ``BranchId = ParentBranchId = Generation = -1``;
- field data ``SPACE`` (``"BF"``, or ``"LPS"`` when written with
  ``nipple_lps``: then points are ``p_LPS = nipple_LPS + p_BF`` and field
  array ``NippleLPS`` (3 floats, mm) is written so a reader can come back to
  BF), ``Laterality`` (``"L"``/``"R"``, when known) and ``Units`` = ``"mm"``.

What VTP loses: node ids (nodes are renumbered ``0..N-1`` in branch order)
and node attributes other than position, radius and system.

Reading
-------
Points in LPS (``SPACE = LPS``) are moved back to BF with ``NippleLPS``; a
file in LPS without ``NippleLPS`` is refused. A file without ``SPACE`` is
taken as BF.

- Files with ``BranchId`` and ``ParentBranchId`` (ductree's own) are rebuilt
  by topology: each branch's first point is its parent branch's last point
  (checked to be the same coordinates), and a system's first branches share
  its root.
- Other centerlines (VMTK and the like: polylines sharing end points, no
  topology arrays) are welded by point: points with exactly equal
  coordinates are one node. Each connected component is one duct system,
  numbered in file order (unless a ``System`` cell array says otherwise),
  and its **root is the degree-1 point (a polyline end that no other
  polyline shares) with the largest radius** — the orifice is where the duct
  is widest; a component without such an end uses its widest point. Edges are directed away from
  the root; edges that close a loop become anastomoses. The radius comes
  from ``MaximumInscribedSphereRadius`` (or a point array named ``Radius``
  / ``radius``). Limitation: VMTK's raw (not branch-split) centerlines run
  from the inlet to every outlet and overlap along shared segments without
  sharing exact points; they are not merged here — split them first
  (``vmtkbranchextractor``) or expect parallel, near-duplicate paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..atomic import atomic_path
from ..errors import InputError
from ..tree import DuctTree, ensure_tree, relabel_sequential

RADIUS_ARRAY = "MaximumInscribedSphereRadius"
_RADIUS_FALLBACKS = (RADIUS_ARRAY, "Radius", "radius")


# ---------------------------------------------------------------------------- writing

def to_polydata(tree: DuctTree, *, nipple_lps: Sequence[float] | None = None):
    """The ``vtkPolyData`` of the centerlines of ``tree`` (see module docs)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
    from vtkmodules.vtkCommonCore import vtkDoubleArray, vtkPoints, vtkStringArray
    from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

    from ..measures import branches

    tree = ensure_tree(tree)
    pos = tree.positions
    idx = tree.index
    brs = branches(tree)
    clock_of_system = {}
    for r in tree.roots():
        c = tree.nodes[r].get("orifice_clock")
        clock_of_system[int(tree.nodes[r]["system"])] = np.nan if c is None else float(c)

    rows = [b.rows for b in brs]
    loops = tree.anastomoses()
    rows += [np.array([idx[u], idx[v]], dtype=np.int64) for u, v in loops]
    counts = np.array([len(r) for r in rows], dtype=np.int64)
    all_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    points = pos[all_rows].astype(np.float64)
    space = "BF"
    if nipple_lps is not None:
        nip = np.asarray(nipple_lps, dtype=float).reshape(-1)
        if nip.shape != (3,) or not np.all(np.isfinite(nip)):
            raise InputError(f"nipple_lps must be 3 finite numbers (mm), got {nipple_lps!r}", key="nipple_lps")
        points = points + nip
        space = "LPS"

    pd = vtkPolyData()
    vpts = vtkPoints()
    vpts.SetDataTypeToDouble()
    vpts.SetData(numpy_to_vtk(np.ascontiguousarray(points), deep=True))
    pd.SetPoints(vpts)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    conn = np.arange(len(all_rows), dtype=np.int64)
    cells = vtkCellArray()
    cells.SetData(numpy_to_vtkIdTypeArray(offsets, deep=True), numpy_to_vtkIdTypeArray(conn, deep=True))
    pd.SetLines(cells)

    rad = numpy_to_vtk(np.ascontiguousarray(tree.radii[all_rows], dtype=np.float64), deep=True)
    rad.SetName(RADIUS_ARRAY)
    pd.GetPointData().AddArray(rad)

    nb, nl = len(brs), len(loops)
    sysid = tree.system_ids
    cell_int = {
        "BranchId": [b.index for b in brs] + [-1] * nl,
        "ParentBranchId": [b.parent for b in brs] + [-1] * nl,
        "Generation": [b.generation for b in brs] + [-1] * nl,
        "System": [b.system for b in brs] + [int(sysid[idx[u]]) for u, _ in loops],
        "Anastomosis": [0] * nb + [1] * nl,
    }
    for name, values in cell_int.items():
        arr = numpy_to_vtk(np.asarray(values, dtype=np.int32), deep=True)
        arr.SetName(name)
        pd.GetCellData().AddArray(arr)
    clocks = np.array([clock_of_system.get(s, np.nan) for s in cell_int["System"]], dtype=np.float64)
    arr = numpy_to_vtk(clocks, deep=True)
    arr.SetName("OrificeClock")
    pd.GetCellData().AddArray(arr)

    fd = pd.GetFieldData()

    def add_string(name: str, value: str) -> None:
        s = vtkStringArray()
        s.SetName(name)
        s.InsertNextValue(value)
        fd.AddArray(s)

    add_string("SPACE", space)
    add_string("Units", "mm")
    if tree.laterality:
        add_string("Laterality", tree.laterality)
    if space == "LPS":
        n = vtkDoubleArray()
        n.SetName("NippleLPS")
        n.SetNumberOfComponents(3)
        n.InsertNextTuple3(*nip.tolist())
        fd.AddArray(n)
    return pd


def write(tree: DuctTree, path: Path, *, nipple_lps: Sequence[float] | None = None) -> None:
    """Write the centerlines of ``tree`` as binary VTK XML PolyData, atomically.

    Parameters
    ----------
    tree : DuctTree
        The tree (BF mm).
    path : Path
        Output ``.vtp`` file.
    nipple_lps : 3 floats, optional
        The nipple tip in patient LPS (mm). When given, points are written in
        LPS (``p_LPS = nipple_LPS + p_BF``) with field data ``SPACE = "LPS"``
        and ``NippleLPS``, so they overlay the source volume in 3D Slicer.
    """
    from vtkmodules.vtkIOXML import vtkXMLPolyDataWriter

    pd = to_polydata(tree, nipple_lps=nipple_lps)
    with atomic_path(path) as tmp:
        w = vtkXMLPolyDataWriter()
        w.SetFileName(str(tmp))
        w.SetInputData(pd)
        w.SetDataModeToBinary()
        if w.Write() != 1:
            raise OSError(f"VTK could not write {tmp}")


# ---------------------------------------------------------------------------- reading

def _read_polydata(path: Path):
    """Read a .vtp; VTK's error text becomes an InputError instead of console noise."""
    from vtkmodules.vtkCommonCore import vtkCommand, vtkLogger, vtkOutputWindow, vtkStringOutputWindow
    from vtkmodules.vtkIOXML import vtkXMLPolyDataReader

    reader = vtkXMLPolyDataReader()
    reader.SetFileName(str(path))
    errors: list[str] = []
    reader.AddObserver(vtkCommand.ErrorEvent, lambda obj, ev: errors.append(ev))
    previous = vtkOutputWindow.GetInstance()
    sink = vtkStringOutputWindow()
    vtkOutputWindow.SetInstance(sink)
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)
    try:
        reader.Update()
    finally:
        vtkOutputWindow.SetInstance(previous)
        vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_INFO)
    text = sink.GetOutput()
    if errors or "ERROR" in text:
        detail = ""
        for line in text.splitlines():
            if "): " in line:
                detail = line.split("): ", 1)[1].strip()
                break
        raise InputError(f"not a readable VTK XML PolyData file{': ' + detail if detail else ''}", source=path)
    return reader.GetOutput()


def _field_string(fd, name: str) -> str | None:
    arr = fd.GetAbstractArray(name)
    if arr is None or arr.GetNumberOfTuples() == 0:
        return None
    if hasattr(arr, "GetValue") and arr.IsA("vtkStringArray"):
        return str(arr.GetValue(0))
    return None


def read(path: Path) -> DuctTree:
    """Read centerlines from a ``.vtp`` (see module docs) into a :class:`DuctTree` (BF mm)."""
    path = Path(path)
    return from_polydata(_read_polydata(path), source=path)


def from_polydata(pd, *, source: str | Path | None = None) -> DuctTree:
    """Rebuild a :class:`DuctTree` from centerline ``vtkPolyData`` (see module docs)."""
    from vtkmodules.util.numpy_support import vtk_to_numpy

    def fail(message: str, key: str | None = None) -> InputError:
        return InputError(message, source=source, key=key)

    lines = pd.GetLines()
    if pd.GetNumberOfPolys() or pd.GetNumberOfStrips():
        raise fail("the file holds a surface (polygons), not centerlines; expected polyline cells")
    if pd.GetNumberOfPoints() == 0 or lines is None or lines.GetNumberOfCells() == 0:
        raise fail("no centerlines: the file has no points or no line cells")
    points = vtk_to_numpy(pd.GetPoints().GetData()).astype(np.float64).reshape(-1, 3)
    offsets = vtk_to_numpy(lines.GetOffsetsArray()).astype(np.int64)
    conn = vtk_to_numpy(lines.GetConnectivityArray()).astype(np.int64)
    n_cells = len(offsets) - 1
    # Line cells come after any vertex cells in vtkPolyData's cell numbering.
    cell_base = pd.GetNumberOfVerts()

    pdata = pd.GetPointData()
    radius = None
    for name in _RADIUS_FALLBACKS:
        arr = pdata.GetArray(name)
        if arr is not None:
            radius = vtk_to_numpy(arr).astype(np.float64).reshape(-1)
            break
    if radius is None:
        raise fail(f"no point array {RADIUS_ARRAY!r} (the centerline radius, mm)", key=RADIUS_ARRAY)

    fd = pd.GetFieldData()
    space = _field_string(fd, "SPACE")
    if space is not None and space.upper() not in ("BF", "LPS"):
        raise fail(f"unknown SPACE {space!r} (expected BF or LPS)", key="SPACE")
    if space is not None and space.upper() == "LPS":
        nip = fd.GetArray("NippleLPS")
        if nip is None or nip.GetNumberOfTuples() < 1 or nip.GetNumberOfComponents() * nip.GetNumberOfTuples() < 3:
            raise fail("points are in LPS but field data 'NippleLPS' is missing, so the breast frame "
                       "cannot be recovered", key="NippleLPS")
        nipple = vtk_to_numpy(nip).astype(np.float64).reshape(-1)[:3]
        points = points - nipple
    laterality = _field_string(fd, "Laterality")

    cdata = pd.GetCellData()

    def cell_array(name: str) -> np.ndarray | None:
        arr = cdata.GetArray(name)
        if arr is None:
            return None
        values = vtk_to_numpy(arr).reshape(-1)
        return values[cell_base:cell_base + n_cells]

    branch_id = cell_array("BranchId")
    parent_branch = cell_array("ParentBranchId")
    system = cell_array("System")
    clocks = cell_array("OrificeClock")
    loops = cell_array("Anastomosis")
    cells = [conn[offsets[c]:offsets[c + 1]] for c in range(n_cells)]
    if not np.all(np.isfinite(points[conn])):
        raise fail("centerline points must be finite numbers", key="points")

    if branch_id is not None and parent_branch is not None and system is not None:
        tree = _from_topology(cells, points, radius, branch_id.astype(np.int64), parent_branch.astype(np.int64),
                              system.astype(np.int64), clocks,
                              None if loops is None else loops.astype(np.int64), laterality, fail)
    else:
        tree = _from_welding(cells, points, radius, None if system is None else system.astype(np.int64),
                             clocks, laterality, fail)
    return tree


def _clock_map(system: np.ndarray | None, clocks: np.ndarray | None) -> dict[int, float]:
    out: dict[int, float] = {}
    if system is None or clocks is None:
        return out
    for s, c in zip(system.tolist(), np.asarray(clocks, dtype=float).tolist()):
        if np.isfinite(c) and 0 < c <= 12 and s not in out:
            out[int(s)] = float(c)
    return out


def _from_topology(cells, points, radius, branch_id, parent_branch, system, clocks, loops, laterality, fail):
    """Rebuild ductree's own centerlines: branch k starts at the last point of ParentBranchId[k]."""
    is_loop = np.zeros(len(cells), dtype=bool) if loops is None else loops != 0
    cell_of_branch: dict[int, int] = {}
    for c in np.flatnonzero(~is_loop).tolist():
        b = int(branch_id[c])
        if b in cell_of_branch:
            raise fail(f"BranchId {b} is used by two cells ({cell_of_branch[b]} and {c})", key="BranchId")
        if len(cells[c]) == 0:
            raise fail(f"cell {c} (BranchId {b}) has no points", key="BranchId")
        cell_of_branch[b] = c
    pos: list[np.ndarray] = []
    rad: list[float] = []
    par: list[int] = []
    sysl: list[int] = []
    last_node: dict[int, int] = {}   # branch id -> node row of its last point
    root_of_system: dict[int, int] = {}

    def add_node(point: int, parent: int, s: int) -> int:
        pos.append(points[point])
        rad.append(float(radius[point]))
        par.append(parent)
        sysl.append(s)
        return len(pos) - 1

    pending = [c for c in np.flatnonzero(~is_loop).tolist()]
    while pending:
        waiting = []
        for c in pending:
            pb, s, pts = int(parent_branch[c]), int(system[c]), cells[c]
            if pb < 0:
                if s in root_of_system:
                    start = root_of_system[s]
                    if not np.array_equal(points[pts[0]], pos[start]):
                        raise fail(f"cell {c}: first branches of system {s} do not start at the same root point",
                                   key="ParentBranchId")
                else:
                    start = add_node(int(pts[0]), -1, s)
                    root_of_system[s] = start
            elif pb in last_node:
                start = last_node[pb]
                if not np.allclose(points[pts[0]], pos[start], rtol=0, atol=1e-9):
                    raise fail(f"cell {c}: its first point {points[pts[0]].tolist()} is not the last point of "
                               f"its parent branch {pb}", key="ParentBranchId")
            elif pb not in cell_of_branch:
                raise fail(f"cell {c}: ParentBranchId {pb} names no branch", key="ParentBranchId")
            else:
                waiting.append(c)
                continue
            prev = start
            for p in pts[1:].tolist():
                prev = add_node(p, prev, s)
            last_node[int(branch_id[c])] = prev
        if len(waiting) == len(pending):
            raise fail(f"ParentBranchId forms a cycle through cells {waiting[:5]}", key="ParentBranchId")
        pending = waiting

    tree = DuctTree.from_arrays(np.array(pos).reshape(-1, 3), np.array(rad), np.array(par, dtype=np.int64),
                                np.array(sysl, dtype=np.int64), laterality=laterality,
                                orifice_clock=_clock_map(system[~is_loop], None if clocks is None
                                                         else clocks[~is_loop]))
    if is_loop.any():
        lookup: dict[tuple, int] = {}
        for row, p in enumerate(pos):
            lookup.setdefault(tuple(p.tolist()), row)
        for c in np.flatnonzero(is_loop).tolist():
            pts = cells[c]
            if len(pts) != 2:
                raise fail(f"anastomosis cell {c} must have 2 points, has {len(pts)}", key="Anastomosis")
            ends = [lookup.get(tuple(points[p].tolist())) for p in pts]
            if None in ends:
                raise fail(f"anastomosis cell {c} does not join two centerline points", key="Anastomosis")
            tree.add_edge(ends[0], ends[1], anastomosis=True)
    return tree


def _from_welding(cells, points, radius, system, clocks, laterality, fail):
    """Weld polylines at exactly equal points; root each component at its widest free end."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    used = np.unique(np.concatenate(cells)) if cells else np.zeros(0, dtype=np.int64)
    # One node per distinct coordinate among the used points (first occurrence keeps its radius).
    uniq, first, inverse = np.unique(points[used], axis=0, return_index=True, return_inverse=True)
    node_of_point = np.full(len(points), -1, dtype=np.int64)
    node_of_point[used] = inverse.reshape(-1)
    n = len(uniq)
    node_rad = radius[used[first]]
    # Edges between consecutive points of each cell, without self-loops and duplicates.
    a_parts, b_parts, cell_parts = [], [], []
    for c, pts in enumerate(cells):
        nodes = node_of_point[pts]
        if len(nodes) >= 2:
            a_parts.append(nodes[:-1])
            b_parts.append(nodes[1:])
            cell_parts.append(np.full(len(nodes) - 1, c))
    if a_parts:
        a, b = np.concatenate(a_parts), np.concatenate(b_parts)
        edge_cell = np.concatenate(cell_parts)
    else:
        a = b = edge_cell = np.zeros(0, dtype=np.int64)
    keep = a != b
    a, b, edge_cell = a[keep], b[keep], edge_cell[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    _, ufirst = np.unique(lo * n + hi, return_index=True)
    lo, hi, edge_cell = lo[ufirst], hi[ufirst], edge_cell[ufirst]
    adj = coo_matrix((np.ones(len(lo)), (lo, hi)), shape=(n, n)).tocsr()
    adj = adj + adj.T
    degree = np.diff(adj.indptr)
    n_comp, comp = connected_components(adj, directed=False)
    # Number the components in file order: the component of the first cell is 0, and so on.
    seq = comp[node_of_point[np.concatenate(cells)]]
    _, first_at = np.unique(seq, return_index=True)
    comp = np.argsort(np.argsort(first_at))[comp].astype(np.int64)

    # Node system: a System cell array if present, else the component.
    node_system = comp.astype(np.int64)
    if system is not None:
        node_system = np.full(n, -1, dtype=np.int64)
        for c, pts in enumerate(cells):
            nodes = node_of_point[pts]
            node_system[nodes[node_system[nodes] < 0]] = int(system[c])

    parent = np.full(n, -1, dtype=np.int64)
    depth = np.full(n, -1, dtype=np.int64)
    roots = []
    for k in range(n_comp):
        members = np.flatnonzero(comp == k)
        ends = members[degree[members] <= 1]
        pool = ends if len(ends) else members
        root = int(pool[np.argmax(node_rad[pool])])
        roots.append(root)
        order, pred = breadth_first_order(adj, root, directed=False, return_predecessors=True)
        parent[order[1:]] = pred[order[1:]]
        depth[root] = 0
        for v in order[1:].tolist():
            depth[v] = depth[pred[v]] + 1
    if system is not None:
        root_sys = {}
        for r in roots:
            s = int(node_system[r])
            if s in root_sys:
                # Two components claim one system id: keep the first, renumber the rest after the maximum.
                s = int(max(node_system.max(), max(root_sys)) + 1)
            root_sys[s] = r
            members = comp == comp[r]
            node_system[members] = s
    tree = DuctTree.from_arrays(uniq, node_rad, parent, node_system, laterality=laterality,
                                orifice_clock=_clock_map(system, clocks) if system is not None else None)
    # Edges not in the BFS forest close loops: anastomoses, directed away from the root.
    is_tree_edge = (parent[hi] == lo) | (parent[lo] == hi)
    for u, v in zip(lo[~is_tree_edge].tolist(), hi[~is_tree_edge].tolist()):
        if depth[u] > depth[v]:
            u, v = v, u
        tree.add_edge(u, v, anastomosis=True)
    # Name the nodes 0..N-1 in row order (depth-first from each root), as the topology path does.
    return relabel_sequential(tree)
