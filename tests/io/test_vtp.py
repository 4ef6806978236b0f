"""VTP centerlines: layout (cells, arrays, field data), LPS export, foreign VMTK-like files, errors."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from ductree.errors import InputError
from ductree.io import read_tree, write_tree
from ductree.io.vtp import read, write
from ductree.tree import DuctTree

NIPPLE_LPS = [10.25, -50.5, 20.125]


def y_tree() -> DuctTree:
    # 0 root -> 1 -> 2 (junction) -> {3 -> 4, 5}; system 1: 6 -> 7.
    return DuctTree.from_arrays(
        positions=[[0, 0, 2], [0, 5, 2], [0, 10, 2], [2, 15, 2], [3, 20, 2], [-2, 15, 2], [-1.5, 0, 0], [-1.5, 6, 0]],
        radii=[1.0, 0.9, 0.8, 0.5, 0.4, 0.45, 0.7, 0.3], parent=[-1, 0, 1, 2, 3, 2, -1, 6], laterality="R")


def cell_points(mesh: pv.PolyData) -> list[list[int]]:
    lines = mesh.lines
    out, i = [], 0
    while i < len(lines):
        k = lines[i]
        out.append(lines[i + 1:i + 1 + k].tolist())
        i += k + 1
    return out


def test_layout_one_polyline_per_branch(tmp_path):
    write(y_tree(), tmp_path / "c.vtp")
    m = pv.read(tmp_path / "c.vtp")
    assert m.n_cells == 4 and m.n_points == 10 and m.n_lines == 4 and m.GetNumberOfPolys() == 0
    cells = cell_points(m)
    # Branches (worked by hand): [0,1,2], [2,3,4], [2,5], [6,7]; each cell owns its points.
    expect = [[0, 1, 2], [2, 3, 4], [2, 5], [6, 7]]
    pos = y_tree().positions
    for pts, rows in zip(cells, expect):
        np.testing.assert_array_equal(m.points[pts], pos[rows])
    assert m.points.dtype == np.float64
    np.testing.assert_array_equal(m.point_data["MaximumInscribedSphereRadius"],
                                  [1.0, 0.9, 0.8, 0.8, 0.5, 0.4, 0.8, 0.45, 0.7, 0.3])
    assert m.cell_data["BranchId"].tolist() == [0, 1, 2, 3]
    assert m.cell_data["ParentBranchId"].tolist() == [-1, 0, 0, -1]
    assert m.cell_data["Generation"].tolist() == [0, 1, 1, 0]
    assert m.cell_data["System"].tolist() == [0, 0, 0, 1]
    assert m.cell_data["Anastomosis"].tolist() == [0, 0, 0, 0]
    # Orifices: (0, 0, 2) is 12 o'clock, (-1.5, 0, 0) is 9 o'clock.
    np.testing.assert_allclose(m.cell_data["OrificeClock"], [12, 12, 12, 9])
    assert m.field_data["SPACE"].tolist() == ["BF"] and m.field_data["Laterality"].tolist() == ["R"]
    assert "NippleLPS" not in m.field_data


def test_lps_export(tmp_path):
    t = y_tree()
    write(t, tmp_path / "c.vtp", nipple_lps=NIPPLE_LPS)
    m = pv.read(tmp_path / "c.vtp")
    assert m.field_data["SPACE"].tolist() == ["LPS"]
    np.testing.assert_array_equal(m.field_data["NippleLPS"].reshape(-1), NIPPLE_LPS)
    # p_LPS = nipple_LPS + p_BF, checked on the first point of each cell.
    np.testing.assert_allclose(m.points[[0, 3, 6, 8]], t.positions[[0, 2, 2, 6]] + NIPPLE_LPS, rtol=0, atol=1e-12)
    back = read(tmp_path / "c.vtp")
    np.testing.assert_allclose(back.positions, t.positions, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(back.parent_index, t.parent_index)


def test_round_trip_with_anastomosis(tmp_path):
    t = y_tree()
    t.add_edge(4, 5, anastomosis=True)
    write_tree(t, tmp_path / "c.vtp")
    m = pv.read(tmp_path / "c.vtp")
    assert m.n_cells == 5 and m.cell_data["Anastomosis"].tolist() == [0, 0, 0, 0, 1]
    back = read_tree(tmp_path / "c.vtp")
    assert back.anastomoses() == [(4, 5)]   # nodes renumbered in branch order = the original rows here
    assert back.positions.tolist() == t.positions.tolist() and back.radii.tolist() == t.radii.tolist()
    assert [back.nodes[r]["orifice_clock"] for r in back.roots()] == [12.0, 9.0]
    assert back.laterality == "R"


def test_root_junction_and_single_node_system(tmp_path):
    # System 0: the root itself splits in three; system 1: a lone node.
    t = DuctTree.from_arrays([[0, 0, 1], [1, 5, 1], [-1, 5, 1], [0, 5, 3], [0, 0, -1]], [1, 0.5, 0.5, 0.5, 0.6],
                             [-1, 0, 0, 0, -1], laterality="L")
    write(t, tmp_path / "c.vtp")
    m = pv.read(tmp_path / "c.vtp")
    assert cell_points(m) == [[0, 1], [2, 3], [4, 5], [6]]
    back = read(tmp_path / "c.vtp")
    np.testing.assert_array_equal(back.parent_index, [-1, 0, 0, 0, -1])
    assert back.positions.tolist() == t.positions.tolist()


# ----------------------------------------------------------------------------- foreign (VMTK-like)

def vmtk_like(shared: bool) -> pv.PolyData:
    """Centerlines as another tool writes them: float32, no topology arrays, no System."""
    y = [[0, 0, 0], [0, 5, 0], [0, 10, 0], [3, 15, 0], [6, 20, 0], [-3, 15, 0], [20, 0, 0], [20, 8, 0]]
    r = [1.0, 0.9, 0.8, 0.5, 0.4, 0.5, 0.7, 0.3]
    polylines = [[0, 1, 2], [2, 3, 4], [2, 5], [7, 6]]   # the last one drawn tip first
    if shared:
        pts, rad, lines = np.array(y, np.float32), np.array(r, np.float32), polylines
    else:  # every polyline owns its points; junctions are equal coordinates only
        flat = [i for pl in polylines for i in pl]
        pts, rad = np.array([y[i] for i in flat], np.float32), np.array([r[i] for i in flat], np.float32)
        lines, k = [], 0
        for pl in polylines:
            lines.append(list(range(k, k + len(pl))))
            k += len(pl)
    m = pv.PolyData(pts, lines=np.concatenate([[len(pl), *pl] for pl in lines]))
    m.point_data["MaximumInscribedSphereRadius"] = rad
    return m


@pytest.mark.parametrize("shared", [True, False])
def test_foreign_centerlines_welded(tmp_path, shared):
    vmtk_like(shared).save(tmp_path / "v.vtp")
    t = read_tree(tmp_path / "v.vtp", laterality="R")
    assert t.number_of_nodes() == 8 and t.laterality == "R"
    by_pos = {tuple(t.nodes[n]["pos"].tolist()): n for n in t.nodes}
    roots = [tuple(t.nodes[r]["pos"].tolist()) for r in t.roots()]
    # Roots: the widest free end of each component; systems in file order.
    assert roots == [(0.0, 0.0, 0.0), (20.0, 0.0, 0.0)]
    parent_pos = {p: (None if t.parent(n) is None else tuple(t.nodes[t.parent(n)]["pos"].tolist()))
                  for p, n in by_pos.items()}
    assert parent_pos[(0.0, 10.0, 0.0)] == (0.0, 5.0, 0.0)
    assert parent_pos[(3.0, 15.0, 0.0)] == (0.0, 10.0, 0.0) and parent_pos[(-3.0, 15.0, 0.0)] == (0.0, 10.0, 0.0)
    assert parent_pos[(6.0, 20.0, 0.0)] == (3.0, 15.0, 0.0)
    assert parent_pos[(20.0, 8.0, 0.0)] == (20.0, 0.0, 0.0)
    assert t.nodes[by_pos[(3.0, 15.0, 0.0)]]["radius"] == pytest.approx(0.5)
    assert t.nodes[t.roots()[1]]["orifice_clock"] == pytest.approx(3.0)
    assert t.anastomoses() == []


def test_foreign_loop_becomes_anastomosis(tmp_path):
    # A tail (0,-5,0) into a square loop a(0,0,0) b(2,2,0) c(0,4,0) d(-2,2,0).
    pts = np.array([[0, -5, 0], [0, 0, 0], [2, 2, 0], [0, 4, 0], [-2, 2, 0]], float)
    m = pv.PolyData(pts, lines=np.array([4, 0, 1, 2, 3, 3, 3, 4, 1]))
    m.point_data["Radius"] = np.array([1.0, 0.8, 0.6, 0.5, 0.6])
    m.save(tmp_path / "loop.vtp")
    t = read_tree(tmp_path / "loop.vtp")
    assert t.number_of_nodes() == 5 and len(t.anastomoses()) == 1
    u, v = t.anastomoses()[0]
    ends = {tuple(t.nodes[u]["pos"].tolist()), tuple(t.nodes[v]["pos"].tolist())}
    assert (0.0, 4.0, 0.0) in ends   # the loop closes at c, the point farthest from the root
    assert tuple(t.nodes[t.roots()[0]]["pos"].tolist()) == (0.0, -5.0, 0.0)


# ----------------------------------------------------------------------------- errors

def test_lps_without_nipple_is_refused(tmp_path):
    m = vmtk_like(True)
    m.field_data["SPACE"] = np.array(["LPS"])
    m.save(tmp_path / "lps.vtp")
    with pytest.raises(InputError, match="NippleLPS"):
        read_tree(tmp_path / "lps.vtp")


def test_surface_and_missing_radius_refused(tmp_path):
    pv.Sphere().save(tmp_path / "s.vtp")
    with pytest.raises(InputError, match="surface"):
        read(tmp_path / "s.vtp")
    m = vmtk_like(True)
    del m.point_data["MaximumInscribedSphereRadius"]
    m.save(tmp_path / "nr.vtp")
    with pytest.raises(InputError, match="MaximumInscribedSphereRadius"):
        read(tmp_path / "nr.vtp")


def test_garbage_file_one_clean_error(tmp_path, capfd):
    p = tmp_path / "g.vtp"
    p.write_text("this is not XML\n")
    with pytest.raises(InputError) as exc:
        read_tree(p)
    assert str(exc.value).startswith(f"{p}: not a readable VTK XML PolyData file")
    out, err = capfd.readouterr()
    assert err == "" and out == ""   # VTK's own console noise is swallowed


def test_laterality_conflict(tmp_path):
    write(y_tree(), tmp_path / "c.vtp")   # laterality R in field data
    with pytest.raises(InputError, match="laterality R but L was given"):
        read_tree(tmp_path / "c.vtp", laterality="L")


def test_bad_nipple(tmp_path):
    with pytest.raises(InputError, match="nipple_lps"):
        write(y_tree(), tmp_path / "c.vtp", nipple_lps=[1, 2])
    assert not (tmp_path / "c.vtp").exists() and list(tmp_path.iterdir()) == []
