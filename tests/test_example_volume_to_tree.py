"""examples/volume_to_tree.py simulates a volume, rebuilds the tree and scores it."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_volume_to_tree(tmp_path):
    out = tmp_path / "case"
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "volume_to_tree.py"), str(out)],
                       capture_output=True, text=True, encoding="utf-8", timeout=180)
    assert r.returncode == 0, r.stderr
    assert {"seg.nii.gz", "seg_truth.json", "case_volume.toml", "rebuilt.json"} <= {p.name for p in out.iterdir()}
    assert "rebuilt rebuilt.json: 2 systems" in r.stdout
    m = re.search(r"tips\s+recall ([\d.]+)% precision ([\d.]+)%", r.stdout)
    assert m and float(m.group(1)) >= 90 and float(m.group(2)) >= 90
    assert "roots matched" in r.stdout
