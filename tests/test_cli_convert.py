"""``ductree convert IN OUT``: success lines, exit code 2 with one line naming the problem, nothing written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ductree.io import read_tree, write_tree
from ductree.tree import DuctTree


def ductree_cmd() -> list[str]:
    exe = shutil.which("ductree") or str(Path(sys.executable).with_name("ductree"))
    return [exe] if Path(exe).exists() else [sys.executable, "-m", "ductree"]


def run(*args, cwd=None):
    return subprocess.run([*ductree_cmd(), *map(str, args)], capture_output=True, text=True, encoding="utf-8", cwd=cwd)


def y_tree() -> DuctTree:
    # Two systems, 8 nodes; branches by hand: [0,1,2], [2,3,4], [2,5], [6,7] -> 4.
    return DuctTree.from_arrays(
        positions=[[0, 0, 2], [0, 5, 2], [0, 10, 2], [2, 15, 2], [3, 20, 2], [-2, 15, 2], [-1.5, 0, 0], [-1.5, 6, 0]],
        radii=[1.0, 0.9, 0.8, 0.5, 0.4, 0.45, 0.7, 0.3], parent=[-1, 0, 1, 2, 3, 2, -1, 6], laterality="R")


@pytest.fixture
def tree_json(tmp_path) -> Path:
    p = tmp_path / "tree.json"
    write_tree(y_tree(), p)
    return p


@pytest.mark.parametrize("suffix,name", [(".swc", "SWC"), (".graphml", "GraphML"), (".vtp", "VTP centerlines"),
                                         (".json", "tree.json")])
def test_convert_success(tmp_path, tree_json, suffix, name):
    out = tmp_path / f"out{suffix}"
    r = run("convert", tree_json, out)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"wrote {out} ({name}): 2 systems, 8 nodes, 4 branches\n"
    assert r.stderr == ""
    back = read_tree(out)
    assert back.positions.tolist() == y_tree().positions.tolist() and back.laterality == "R"


def test_convert_swc_drops_loop_with_warning(tmp_path):
    t = y_tree()
    t.add_edge(4, 5, anastomosis=True)
    write_tree(t, tmp_path / "loop.json")
    r = run("convert", tmp_path / "loop.json", tmp_path / "t.swc")
    assert r.returncode == 0
    assert r.stdout.endswith("2 systems, 8 nodes, 4 branches\n")
    assert r.stderr.startswith("ductree: warning: SWC cannot hold anastomosis loops: dropped 1")
    r = run("convert", tmp_path / "loop.json", tmp_path / "t.graphml")
    assert r.stdout.endswith("4 branches, 1 anastomosis\n") and r.stderr == ""


def test_laterality_option_fills_swc(tmp_path):
    swc = tmp_path / "foreign.swc"
    swc.write_text("# from another tool\n1 1 1 0 0 1 -1\n2 3 1 4 0 0.5 1\n")
    r = run("convert", swc, tmp_path / "t.json", "--laterality", "L")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))["graph"]["laterality"] == "L"
    assert r.stdout == f"wrote {tmp_path / 't.json'} (tree.json): 1 system, 2 nodes, 1 branch\n"


def assert_refused(r, tmp_path, before, *words):
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ductree: error: ")
    for w in words:
        assert w in lines[0]
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == before   # nothing written, no temp file


def test_unknown_suffix(tmp_path, tree_json):
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = run("convert", tree_json, tmp_path / "t.xyz")
    assert_refused(r, tmp_path, before, "t.xyz", "unknown tree format '.xyz'")
    r = run("convert", tmp_path / "t.stl", tmp_path / "t.swc")
    assert_refused(r, tmp_path, before, "unknown tree format '.stl'")


def test_bad_swc_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.swc"
    bad.write_text("# header\n1 1 0 0 0 1 -1\n2 3 0 1 0 1 1\n3 3 0 2 0 1 7\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = run("convert", bad, tmp_path / "t.json")
    assert_refused(r, tmp_path, before, f"{bad}:4:", "parent: no node has id 7")


def test_output_folder_missing(tmp_path, tree_json):
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = run("convert", tree_json, tmp_path / "nowhere" / "t.swc")
    assert_refused(r, tmp_path, before, "output folder does not exist")


def test_out_equals_in(tmp_path, tree_json):
    text = tree_json.read_text(encoding="utf-8")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = run("convert", tree_json, tree_json)
    assert_refused(r, tmp_path, before, "refusing to overwrite an input")
    # The same file under another spelling is refused too.
    r = run("convert", "tree.json", "./tree.json", cwd=tmp_path)
    assert_refused(r, tmp_path, before, "refusing to overwrite an input")
    assert tree_json.read_text(encoding="utf-8") == text


def test_missing_input_and_laterality_conflict(tmp_path, tree_json):
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = run("convert", tmp_path / "nope.json", tmp_path / "t.swc")
    assert_refused(r, tmp_path, before, "nope.json", "no such file")
    r = run("convert", tree_json, tmp_path / "t.swc", "-l", "L")
    assert_refused(r, tmp_path, before, "laterality R but L was given")
