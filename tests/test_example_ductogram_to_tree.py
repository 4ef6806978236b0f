"""examples/ductogram_to_tree.py simulates a DICOM ductogram pair, rebuilds the tree and scores it."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_ductogram_to_tree(tmp_path):
    out = tmp_path / "d"
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "ductogram_to_tree.py"), str(out), "5"],
                       capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert r.returncode == 0, r.stderr
    for name in ("cc.dcm", "ml.dcm", "cc_mask.png", "ml_mask.png", "ductogram_truth.json", "tree.json"):
        assert (out / name).is_file(), name
    assert re.search(r"^cc: \d+x\d+ px, [\d.]+ um at the breast \(magnification 1\.\d\d, DICOM Imager Pixel",
                     r.stdout, flags=re.M)
    assert re.search(r"^match: depth map lateral->CC scale [\d.]+, offset [-+][\d.]+ mm", r.stdout, flags=re.M)
    err = float(re.search(r"centreline error ([\d.]+) mm", r.stdout).group(1))
    assert err < 2.0
    assert re.search(r"^uncertain: \d+% of the tree", r.stdout, flags=re.M)
    within = float(re.search(r"^uncertainty: (\d+)% of nodes within 2 pos_sigma_mm", r.stdout, flags=re.M).group(1))
    assert within >= 60
    m = re.search(r"inserted filling defect \(L1\) at depth [\d.]+ mm: nearest candidate ([\d.inf]+) mm away",
                  r.stdout)
    assert m is not None
    data = json.loads((out / "tree.json").read_text(encoding="utf-8"))
    assert data["graph"]["source"] == "ductogram" and data["graph"]["laterality"] == "R"
    assert "PHANTOM" not in (out / "tree.json").read_text(encoding="utf-8")
