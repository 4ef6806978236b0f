"""``ductree mesh``: writes a checked model; bad input is one line on stderr, exit 2, no file."""

import json
import subprocess
import sys

import pytest

from ductree.io import write_tree


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ductree", *args], capture_output=True, text=True, encoding="utf-8", cwd=cwd)


@pytest.fixture(scope="module")
def tree_file(tmp_path_factory, trees):
    path = tmp_path_factory.mktemp("t") / "tree.json"
    write_tree(trees.two_close(), path)
    return path


def test_mesh_writes_a_checked_model(tree_file, tmp_path):
    out = tmp_path / "model.stl"
    r = run("mesh", str(tree_file), "--out", str(out), "--quality", "draft")
    assert r.returncode == 0, r.stderr
    assert out.is_file() and r.stderr == ""
    assert "system 0" in r.stdout and "system 1" in r.stdout
    assert "2 bodies" in r.stdout and "all closed and manifold" in r.stdout
    assert "read back: same bodies, closed and manifold" in r.stdout


def test_mesh_options_and_json(tree_file, tmp_path):
    out = tmp_path / "model.3mf"
    r = run("mesh", str(tree_file), "-o", str(out), "--json", "--base-plate", "--lesion", "L1,-0.75,7,0,2",
            "--context", "--scale", "2", "--space", "LPS", "--nipple-lps", "10,-150,30", "--ends", "flat")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [b["kind"] for b in d["bodies"]] == ["print", "lesion", "context"]
    assert all(b["watertight"] for b in d["bodies"]) and d["read_back_ok"]
    assert d["space"] == "LPS" and d["scale"] == 2.0


def test_mesh_verify_reports_the_deviation(tree_file, tmp_path):
    r = run("mesh", str(tree_file), "-o", str(tmp_path / "m.ply"), "--verify", "--systems", "1")
    assert r.returncode == 0, r.stderr
    assert "system 1: max deviation" in r.stdout and "system 0" not in r.stdout


BAD_SWC = {
    "radius0.swc": "1 1 0 0 0 1.0 -1\n2 3 0 5 0 0 1\n",
    "nan.swc": "1 1 0 0 0 1.0 -1\n2 3 0 nan 0 0.5 1\n",
    "empty.swc": "# nothing here\n",
}


@pytest.mark.parametrize("name, expect", [
    ("radius0.swc", "radius"), ("nan.swc", "finite"), ("empty.swc", "no nodes"),
])
def test_bad_trees_exit_2(tmp_path, name, expect):
    src = tmp_path / name
    src.write_text(BAD_SWC[name])
    out = tmp_path / "m.stl"
    r = run("mesh", str(src), "--out", str(out))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and name in lines[0]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("args, expect", [
    (["--out", "m.xyz"], "unknown model format '.xyz'"),
    (["--out", "nofolder/m.stl"], "output folder does not exist"),
    (["--out", "m.stl", "--scale", "0"], "scale"),
    (["--out", "m.stl", "--scale", "-1"], "scale"),
    (["--out", "m.stl", "--quality", "best"], "--quality"),
    (["--out", "m.stl", "--systems", "4"], "no duct system 4"),
    (["--out", "m.stl", "--space", "LPS"], "nipple"),
    (["--out", "m.stl", "--nipple-lps", "1,2"], "--nipple-lps"),
    (["--out", "m.stl", "--lesion", "L1,0,0,2"], "--lesion"),
    (["--out", "m.stl", "--ends", "square"], "--ends"),
])
def test_bad_options_exit_2(tree_file, tmp_path, args, expect):
    r = run("mesh", str(tree_file), *args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ductree: error:") and expect in lines[0], r.stderr
    assert list(tmp_path.iterdir()) == []
