"""examples/scope_log.py runs: the hand log reads the same in JSONL and CSV, rebuilds, and fuses onto A2."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_scope_log(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "scope_log.py"), str(tmp_path)],
                       capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "JSONL and CSV read the same: True" in out
    # by hand: 2 bifurcations, 4 lumens, 3 entered (9:00, then 3:00, then 6:00 at the second)
    assert "deepest 26.0 mm, 2 bifurcations, 3 of 4 lumens entered" in out
    assert "finding P1: papilloma 3 mm at 24.0 mm -> verified-empty" in out
    assert "1 unexplored stub" in out
    # the hand-built ductogram: P1 at 24 mm is 4 mm down A2 (node 7), via nodes 0-1-2-3-4-7
    assert "system 0, path [0, 1, 2, 3, 4, 7]" in out and "P1 placed: node 7, 24.0 mm along the duct" in out
    assert "fit: 2 of 2 bifurcations matched" in out and out.rstrip().splitlines()[-2].endswith("good")
    for name in ("scope.jsonl", "scope.csv", "scope_tree.json", "fused.json"):
        assert (tmp_path / name).is_file()
    fused = json.loads((tmp_path / "fused.json").read_text(encoding="utf-8"))
    assert fused["graph"]["findings"][0]["node"] == 7
    assert r.stderr == ""
