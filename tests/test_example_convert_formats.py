"""examples/convert_formats.py runs and reports every format coming back intact."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_convert_formats(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "convert_formats.py"), str(tmp_path)],
                       capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 0, r.stderr
    lines = {ln.split()[0]: ln for ln in r.stdout.splitlines() if not ln.startswith(" ")}
    assert set(lines) == {"tree.json", "tree.swc", "tree.graphml", "centerlines.vtp", "centerlines_lps.vtp"}
    for name, line in lines.items():
        # The tree built in the example: 2 systems, 10 nodes; branches by hand 4 + 3 = 7.
        assert "2 systems, 10 nodes, 7 branches" in line and "laterality R" in line
        loops = 0 if name == "tree.swc" else 1
        assert f"{loops} anastomoses" in line
        err = float(re.search(r"max position error (\S+) mm", line).group(1))
        assert err <= 1e-6
        assert (tmp_path / name).is_file()
    assert "SWC cannot hold anastomosis loops" in r.stdout
