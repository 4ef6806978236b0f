"""examples/print_model.py meshes a phantom, checks and exports every format, and makes a one-piece print."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_print_model(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "print_model.py"), str(tmp_path)],
                       capture_output=True, text=True, encoding="utf-8", timeout=180)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"model: 5 bodies, \d+ triangles", out)
    systems = re.findall(r"^  system \d .* closed and manifold  max deviation ([\d.]+) mm \((\d+)% of tolerance\)",
                         out, flags=re.M)
    assert len(systems) == 3 and all(int(pct) <= 100 for _, pct in systems)
    assert len(re.findall(r"^wrote model\.\w+ +read back: 5 bodies, closed$", out, flags=re.M)) == 6
    assert re.search(r"wrote print_2to1\.stl: 1 body, genus \d+ \(one lumen opening per tip\), closed and manifold",
                     out)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["model.3mf", "model.glb", "model.obj", "model.ply", "model.stl", "model.vtp",
                            "model_lps.vtp", "print_2to1.stl"])
