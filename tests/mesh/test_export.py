"""Export by suffix and read back: still closed, manifold, the same bodies, colours and placement."""

import struct

import numpy as np
import pytest
import trimesh

from ductree.errors import InputError
from ductree.mesh import MODEL_FORMATS, check_watertight, export_model, read_model, tree_to_mesh


@pytest.fixture(scope="module")
def model(trees):
    # two systems, a lesion inside a duct, and the context body: 4 bodies
    return tree_to_mesh(trees.two_close(), quality="draft", lesions=[("L1", (-0.75, 7, 0), 2.0)], context=True)


@pytest.mark.parametrize("suffix", sorted(MODEL_FORMATS))
def test_round_trip_keeps_bodies_closed(model, tmp_path, suffix):
    path = tmp_path / f"m{suffix}"
    export_model(model, path)
    back = read_model(path)
    assert len(back) == len(model)
    for b in back:
        c = check_watertight(b.mesh, expect_bodies=1)
        assert c.ok, (suffix, b.name, c.problems)
    # same geometry: total volume and bounds (float32 files round to ~1e-5 mm)
    vol = sorted(round(b.mesh.volume, 2) for b in model)
    assert sorted(round(b.mesh.volume, 2) for b in back) == pytest.approx(vol, abs=0.02)
    lo = np.min([b.mesh.bounds[0] for b in back], axis=0)
    assert lo == pytest.approx(np.min([b.mesh.bounds[0] for b in model], axis=0), abs=1e-4)
    if MODEL_FORMATS[suffix].colors:
        assert sorted(b.color[:3] for b in back) == sorted(b.color[:3] for b in model)
    # an independent reader agrees on closedness and the number of pieces (lxml-free formats)
    if suffix in (".stl", ".ply", ".obj", ".glb"):
        tm = trimesh.load(path, force="mesh", process=True)
        assert tm.is_watertight and len(tm.split(only_watertight=False)) == len(model)


def test_stl_weld_cannot_pinch(trees, tmp_path):
    # Welding on reading merges equal float32 coordinates only; the model has no such pairs.
    m = tree_to_mesh(trees.y_thin())
    export_model(m, tmp_path / "y.stl")
    data = (tmp_path / "y.stl").read_bytes()
    assert b"FRAME=BF UNITS=mm SCALE=1" in data[:80]
    (n,) = struct.unpack("<I", data[80:84])
    assert n == m.triangles and len(data) == 84 + 50 * n
    back = read_model(tmp_path / "y.stl")
    assert len(back) == 1 and check_watertight(back[0].mesh).ok
    assert len(back[0].mesh.vertices) == len(m[0].mesh.vertices)


@pytest.mark.parametrize("suffix", [".stl", ".ply", ".obj", ".vtp", ".3mf", ".glb"])
def test_lps_and_scale(model, tmp_path, suffix):
    nipple = (12.5, -140.0, 33.0)
    export_model(model, tmp_path / f"lps{suffix}", space="LPS", nipple_lps=nipple)
    back = read_model(tmp_path / f"lps{suffix}")
    assert back.info["space"] == "LPS"
    lo = np.min([b.mesh.bounds[0] for b in back], axis=0)
    expect = np.min([b.mesh.bounds[0] for b in model], axis=0) + nipple
    assert lo == pytest.approx(expect, abs=1e-4)
    export_model(model, tmp_path / f"x2{suffix}", scale=2.0)
    raw = read_model(tmp_path / f"x2{suffix}", to_bf=False)
    assert raw.info["scale"] == 2.0
    hi = np.max([b.mesh.bounds[1] for b in raw], axis=0)
    assert hi == pytest.approx(2 * np.max([b.mesh.bounds[1] for b in model], axis=0), abs=2e-4)


def test_vtp_field_data_says_lps(model, tmp_path):
    import vtk

    export_model(model, tmp_path / "m.vtp", space="LPS", nipple_lps=(0, 0, 0))
    r = vtk.vtkXMLPolyDataReader()
    r.SetFileName(str(tmp_path / "m.vtp"))
    r.Update()
    a = r.GetOutput().GetFieldData().GetAbstractArray("SPACE")
    assert a.GetValue(0) == "LPS"


def test_glb_is_metres_y_up(model, tmp_path):
    export_model(model, tmp_path / "m.glb")
    scene = trimesh.load(tmp_path / "m.glb")
    bounds = scene.bounds
    # BF y (depth, 0..15 mm) becomes -Z in metres; BF z becomes +Y
    assert bounds[0][2] == pytest.approx(-model[0].mesh.bounds[1][1] / 1000, abs=1e-6)


@pytest.mark.parametrize("kwargs, key", [
    ({"scale": 0}, "scale"), ({"scale": -2}, "scale"), ({"space": "RAS"}, "space"),
    ({"space": "LPS"}, "nipple_lps"), ({"space": "LPS", "nipple_lps": (1, 2)}, "nipple_lps"),
])
def test_bad_export_options_write_nothing(model, tmp_path, kwargs, key):
    with pytest.raises(InputError) as e:
        export_model(model, tmp_path / "m.stl", **kwargs)
    assert e.value.key == key
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix_and_missing_folder(model, tmp_path):
    with pytest.raises(InputError, match="unknown model format '.xyz'"):
        export_model(model, tmp_path / "m.xyz")
    with pytest.raises(InputError, match="output folder does not exist"):
        export_model(model, tmp_path / "nope" / "m.stl")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing(model, tmp_path, monkeypatch):
    from ductree.mesh import export as ex

    def boom(bodies, pl):
        raise RuntimeError("disk full")

    monkeypatch.setitem(ex.MODEL_FORMATS, ".stl", ex.ModelFormat("STL", boom, None))
    (tmp_path / "m.stl").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        export_model(model, tmp_path / "m.stl")
    assert (tmp_path / "m.stl").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.stl"]
