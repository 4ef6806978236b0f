"""examples/render_case.py renders every view of a right and a left phantom case and writes a report."""

import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
VIEWS = ["cc", "duct", "front", "lateral", "mlo", "oblique"]


def test_example_render_case(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "render_case.py"), str(tmp_path), "384"],
                       capture_output=True, text=True, encoding="utf-8", timeout=240)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^case phantom-7 \(R\): 6 views in [\d.]+ s$", r.stdout, flags=re.M)
    assert re.search(r"^case phantom-11 \(L\): 6 views in [\d.]+ s$", r.stdout, flags=re.M)
    for lat in ("R", "L"):
        folder = tmp_path / f"views-{lat}"
        assert sorted(p.stem for p in folder.iterdir()) == VIEWS
        with Image.open(folder / "front.png") as im:
            assert im.size == (384, 384)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "phantom-7" in html and html.count("data:image/png;base64,") == 6 and "http" not in html
    assert (tmp_path / "report.pdf").read_bytes()[:4] == b"%PDF"
