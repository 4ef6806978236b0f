"""examples/phantom_case.py writes a phantom case folder and prints its summary."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_phantom_case(tmp_path):
    out = tmp_path / "case"
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "phantom_case.py"), str(out)],
                       capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["case.toml", "tree.json", "truth.json"]
    assert "case phantom-7 (R)" in r.stdout
    assert re.search(r"tree: 8 systems, \d+ branches", r.stdout)
    assert len(re.findall(r"^  system \d: orifice \d+:\d\d", r.stdout, flags=re.M)) == 8
    lesions = re.findall(r"^lesion (L\d) .* case file (\d+:\d\d) o'clock, (\d+) mm deep \| truth "
                         r"(\d+:\d\d), ([\d.]+) mm deep", r.stdout, flags=re.M)
    assert [x[0] for x in lesions] == ["L1", "L2", "L3", "L4"]
    for _, clock, depth, _, true_depth in lesions:
        assert clock.endswith((":00", ":30")) and abs(int(depth) - float(true_depth)) <= 0.5
    assert len(tomllib.loads((out / "case.toml").read_text(encoding="utf-8"))["lesion"]) == 4
