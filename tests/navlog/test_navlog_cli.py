"""``ductree fuse`` and ``ductree navlog-summary``: output, exit codes, one-line errors, nothing written on error."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from navlog_helpers import HAND, write_jsonl
from test_navlog_fuse import CLEAR, _log, hand_tree

from ductree.cli import main
from ductree.io import read_tree, write_tree


@pytest.fixture
def files(tmp_path):
    tree = write_tree(hand_tree(), tmp_path / "tree.json")
    log = write_jsonl(tmp_path / "scope.jsonl", CLEAR)
    return tmp_path, tree, log


def test_fuse_writes_the_fused_tree(files, capsys):
    d, tree, log = files
    out = d / "fused.json"
    assert main(["fuse", str(tree), str(log), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "duct system 0" in text and "F1: papilloma 2 mm (in-situ) -> node 7, 24.0 mm along the duct" in text
    assert "fit: 2 of 2 log bifurcations matched" in text and "(good)" in text
    fused = read_tree(out)
    assert fused.graph["findings"][0]["node"] == 7
    assert fused.graph["navlog_fusion"]["system"] == 0
    assert main(["fuse", str(tree), str(log), "--out", str(d / "f2.json"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["findings"][0]["best"]["node"] == 7 and rep["confidence"] > 0.95 and rep["path"][-1] == 7


def test_fuse_ambiguous_warns_and_still_writes(files, capsys):
    d, tree, _ = files
    log = write_jsonl(d / "amb.jsonl", _log([
        {"depth_mm": 0},
        {"depth_mm": 10, "event": "bifurcation", "lumens": [12, 6]},
        {"depth_mm": 10, "event": "enter", "lumen": 0},
        {"depth_mm": 15, "event": "finding", "label": "F1", "kind": "dcis", "size_mm": 3}]))
    out = d / "fused.json"
    assert main(["fuse", str(tree), str(log), "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert "NOT PLACED, ambiguous" in cap.out and "warning: finding 'F1' is ambiguous" in cap.err
    assert read_tree(out).graph["findings"][0]["node"] is None


def _bad(args, capsys, out):
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("ductree: error: "), err
    assert not out.exists()
    return err[0]


def test_fuse_bad_input_exit_2_nothing_written(files, capsys):
    d, tree, log = files
    out = d / "fused.json"
    bad = [dict(r) for r in CLEAR]
    bad[4]["depth_mm"] = -3
    p = write_jsonl(d / "neg.jsonl", bad)
    msg = _bad(["fuse", str(tree), str(p), "--out", str(out)], capsys, out)
    assert f"{p}:5: depth_mm: negative depth" in msg
    left = write_jsonl(d / "left.jsonl", _log([{"depth_mm": 0}], lat="L"))
    msg = _bad(["fuse", str(tree), str(left), "--out", str(out)], capsys, out)
    assert "laterality" in msg and "L breast but the tree is R" in msg
    three = write_jsonl(d / "three.jsonl", _log([{"depth_mm": 0}], clock="3:00"))
    msg = _bad(["fuse", str(tree), str(three), "--out", str(out)], capsys, out)
    assert "orifice_clock" in msg and "matches no duct system" in msg
    empty = d / "empty.jsonl"
    empty.write_text("")
    msg = _bad(["fuse", str(tree), str(empty), "--out", str(out)], capsys, out)
    assert "empty file" in msg
    msg = _bad(["fuse", str(tree), str(tree), "--out", str(out)], capsys, out)  # a tree.json given as the log
    assert "not a ductree-navlog" in msg
    msg = _bad(["fuse", str(tree), str(log), "--out", str(d / "fused.txt")], capsys, d / "fused.txt")
    assert "unknown tree format" in msg
    msg = _bad(["fuse", str(tree), str(d / "none.jsonl"), "--out", str(out)], capsys, out)
    assert "no such file" in msg
    msg = _bad(["fuse", str(tree), str(log), "--out", str(d / "nodir" / "f.json")], capsys, d / "nodir" / "f.json")
    assert "output folder does not exist" in msg


def test_fuse_exit_code_in_a_real_process(files):
    d, tree, _ = files
    left = write_jsonl(d / "left.jsonl", _log([{"depth_mm": 0}], lat="L"))
    r = subprocess.run([sys.executable, "-m", "ductree", "fuse", str(tree), str(left), "--out", str(d / "o.json")],
                       capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (d / "o.json").exists()


def test_navlog_summary(tmp_path, capsys):
    p = write_jsonl(tmp_path / "hand.jsonl", HAND)
    assert main(["navlog-summary", str(p)]) == 0
    out = capsys.readouterr().out
    assert "deepest point     25.0 mm" in out and "2: 4 lumens seen, 3 entered, 1 left unexplored" in out
    assert "P1: papilloma 3 mm at 14.0 mm, wall 7:30 -> retrieved, retrieved (basket)" in out
    assert "warning: finding 'P1' retrieved without an empty-duct verification" in out
    assert main(["navlog-summary", str(p), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["branches_entered"] == 3 and s["findings"][0]["status"] == "retrieved"
    bad = tmp_path / "bad.csv"
    bad.write_text("# format=ductree-navlog\n# version=1\n# laterality=R\n# orifice_clock=6\nt,depth_mm,speed\n")
    code = main(["navlog-summary", str(bad)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"ductree: error: {bad}:5: speed: unknown column 'speed'; columns are " \
        "t, depth_mm, tip, event, lumens, angles_deg, lumen, label, kind, size_mm, clock, extent_mm, note, " \
        "reason, method, result, text"


def test_build_takes_the_side_from_the_log_header(tmp_path, capsys):
    """``ductree build LOG`` without --laterality: the log's header says the breast (R for the hand log);
    given and different, it is refused."""
    p = write_jsonl(tmp_path / "hand.jsonl", HAND)
    out = tmp_path / "t.json"
    assert main(["build", str(p), "--out", str(out)]) == 0, capsys.readouterr().err
    assert read_tree(out).laterality == "R"
    out2 = tmp_path / "t2.json"
    code = main(["build", str(p), "-l", "L", "--out", str(out2)])
    err = capsys.readouterr().err
    assert code == 2 and "the log is for the R breast but L was given" in err and not out2.exists()
