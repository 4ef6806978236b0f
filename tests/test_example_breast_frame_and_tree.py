"""The breast-frame example runs and prints what was worked by hand."""

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "breast_frame_and_tree.py"


def test_example_runs():
    r = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    # System 0: (0,1) (1,2) (1,3) (2,4) (2,5); system 1: (6,7,8) -> 6 branches, tips 3 4 5 8.
    assert "2 systems, 6 branches, 4 tips" in out and "orifices at 12:00, 6:00" in out
    # Node 4 at (-9, 38, 16): atan2(-9, 16) = -29.4 deg -> 11.02 h -> 11:00, fn = hypot(9, 16) = 18.4,
    # depth 38 of 90 mm is the middle third; toward the patient's right on a right breast = lateral.
    assert "node 4: 11:00 (UOQ, lateral), fn 18.4 mm, depth 38 mm (middle third)" in out
    assert "same point, left breast: 11:00 (UIQ, medial)" in out
    assert "[-14.14, 15.0, 14.14]" in out
    assert "subtree below node 2: nodes [2, 4, 5]" in out and "path 4 -> 3: [4, 2, 1, 3]" in out
