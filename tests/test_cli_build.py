"""``ductree build`` from volumes: output, summary, warnings, and one-line errors for bad input."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from ductree.cli import main
from ductree.io import read_tree
from ductree.io.volumes import Volume, write_volume
from ductree.phantom.voxelize import Defects, voxelize_tree
from ductree.tree import DuctTree

NIP = (-60.0, -100.0, 30.0)


@pytest.fixture(scope="module")
def seg(tmp_path_factory):
    d = tmp_path_factory.mktemp("seg")
    pos = [[0, 0, 0], [0, 4, 0], [1.2, 7, 0.2], [-1.2, 7, -0.2]]
    t = DuctTree.from_arrays(pos, [0.35, 0.3, 0.25, 0.25], [-1, 0, 1, 1], laterality="R")
    vol = voxelize_tree(t, 0.1, nipple_lps=NIP, defects=Defects(holes_per_100mm=0, bumps_per_100mm=0))
    path = write_volume(vol, d / "seg.nii.gz")
    np.save(d / "seg.npy", vol.array)
    return d, path, vol


def run_main(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code, err, *words):
    assert code == 2, err
    lines = [x for x in err.strip().splitlines() if x.startswith("ductree: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]


def test_build_with_nipple(seg, tmp_path, capsys):
    d, path, _ = seg
    out = tmp_path / "tree.json"
    code, stdout, err = run_main(capsys, "build", str(path), "--nipple", ",".join(map(str, NIP)), "-l", "R",
                                 "--out", str(out))
    assert code == 0, err
    assert "1 duct system(s)" in stdout and "2 tips" in stdout and "1 bifurcations" in stdout
    assert "given (LPS)" in stdout
    tree = read_tree(out)
    assert tree.laterality == "R" and tree.graph["nipple_lps"] == pytest.approx(NIP)
    root = tree.roots()[0]
    assert np.linalg.norm(tree.nodes[root]["pos"]) < 0.5


def test_build_any_tree_format_and_estimated_nipple(seg, tmp_path, capsys):
    d, path, _ = seg
    out = tmp_path / "tree.swc"
    code, stdout, err = run_main(capsys, "build", str(path), "-l", "R", "--out", str(out))
    assert code == 0 and out.is_file()
    assert "ductree: warning: nipple not given" in err
    assert "estimated" in stdout


def test_build_npy_needs_spacing(seg, tmp_path, capsys):
    d, _, vol = seg
    out = tmp_path / "t.json"
    code, _, err = run_main(capsys, "build", str(d / "seg.npy"), "-l", "R", "--out", str(out))
    assert_one_line_error(code, err, "seg.npy", "--spacing")
    assert not out.exists()
    code, stdout, err = run_main(capsys, "build", str(d / "seg.npy"), "-l", "R", "--out", str(out),
                                 "--spacing", "0.1,0.1,0.1", "--nipple-voxel", "1,1,1")
    assert code == 0, err
    assert "given as a voxel index" in stdout and out.is_file()


@pytest.mark.parametrize("what,words", [
    ("empty", ["empty"]), ("full", ["full"]), ("flat", ["2D"]), ("cut", ["cut.nii.gz"]), ("junk", ["junk.nii.gz"]),
])
def test_bad_volumes_exit_2_without_output(tmp_path, capsys, what, words):
    src = tmp_path / f"{what}.nii.gz"
    if what == "empty":
        write_volume(Volume(np.zeros((6, 6, 6), np.uint8)), src)
    elif what == "full":
        write_volume(Volume(np.ones((6, 6, 6), np.uint8)), src)
    elif what == "flat":
        import SimpleITK as sitk

        sitk.WriteImage(sitk.GetImageFromArray(np.ones((6, 6), np.uint8)), str(src))
    elif what == "cut":
        a = np.zeros((20, 20, 20), np.uint8)
        a[5:15, 5:15, 5:15] = 1
        good = write_volume(Volume(a), tmp_path / "good.nii.gz")
        data = good.read_bytes()
        src.write_bytes(data[: len(data) // 2])
    else:
        src.write_bytes(b"\x1f\x8b this is no nifti")
    out = tmp_path / "tree.json"
    code, _, err = run_main(capsys, "build", str(src), "-l", "R", "--out", str(out))
    assert_one_line_error(code, err, *words)
    assert not out.exists()


def test_bad_options(seg, tmp_path, capsys):
    d, path, _ = seg
    out = tmp_path / "t.json"
    cases = [
        (["--label", "4"], ["label 4 does not exist"]),
        (["--nipple", "900,0,0"], ["nipple", "outside the volume"]),
        (["--nipple-voxel", "0,0,5000"], ["nipple_voxel", "outside the volume"]),
        (["--nipple", "1,2"], ["--nipple", "3 values"]),
        (["--nipple", "1,2,3", "--nipple-voxel", "1,2,3"], ["not both"]),
    ]
    for extra, words in cases:
        code, _, err = run_main(capsys, "build", str(path), "-l", "R", "--out", str(out), *extra)
        assert_one_line_error(code, err, *words)
        assert not out.exists()
    code, _, err = run_main(capsys, "build", str(path), "-l", "R", "--out", str(tmp_path / "no" / "t.json"))
    assert_one_line_error(code, err, "output folder does not exist")
    code, _, err = run_main(capsys, "build", str(path), "-l", "R", "--out", str(tmp_path / "t.xyz"))
    assert_one_line_error(code, err, "unknown tree format")
    code, _, err = run_main(capsys, "build", str(tmp_path / "nothing.nii.gz"), "-l", "R", "--out", str(out))
    assert_one_line_error(code, err, "no such file")
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = run_main(capsys, "build", str(tmp_path / "notes.txt"), "-l", "R", "--out", str(out))
    assert_one_line_error(code, err, "notes.txt", "cannot tell")
    assert not out.exists()


def test_other_sources_dispatch(tmp_path, capsys):
    out = tmp_path / "t.json"
    cc, lat = tmp_path / "cc.png", tmp_path / "ml.png"
    cc.write_bytes(b"x")
    lat.write_bytes(b"x")
    code, _, err = run_main(capsys, "build", "--cc", str(cc), "--lateral", str(lat), "-l", "R", "--out", str(out))
    if importlib.util.find_spec("ductree.reconstruct.biplane") is None:
        assert_one_line_error(code, err, "not supported yet")
    else:
        assert code == 2 and "Traceback" not in err    # a builder exists: these files are not ductograms
    assert not out.exists()
    bad_log = tmp_path / "scope.jsonl"
    bad_log.write_text("{not json\n")
    code, _, err = run_main(capsys, "build", str(bad_log), "-l", "R", "--out", str(out))
    assert code == 2 and "scope.jsonl" in err and "Traceback" not in err
    assert not out.exists()


def test_border_warning_and_no_traceback_in_a_real_process(tmp_path):
    a = np.zeros((30, 12, 12), np.uint8)
    a[0:25, 4:8, 4:8] = 1     # a duct running out of the volume at k = 0
    src = write_volume(Volume(a, (0.1, 0.1, 0.1)), tmp_path / "edge.nii.gz")
    out = tmp_path / "t.json"
    r = subprocess.run([sys.executable, "-m", "ductree", "build", str(src), "-l", "L", "--out", str(out)],
                       capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 0, r.stderr
    assert "ductree: warning: the mask touches the border of the volume" in r.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["graph"]["touches_border"] is True
