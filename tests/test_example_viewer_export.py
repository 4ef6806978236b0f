"""examples/viewer_export.py exports a standalone viewer, reads a duct point and saves an offscreen frame."""

import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def test_example_viewer_export(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "viewer_export.py"), str(tmp_path)],
                       capture_output=True, text=True, encoding="utf-8", timeout=240)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"^case phantom-5 \(R\): \d+ objects, \d+ duct points to read", out, flags=re.M)
    assert re.search(r"^lesion L1: \w+ at \d{1,2}:\d\d, \d+ mm deep, system \d+$", out, flags=re.M)
    assert re.search(r"^reading: \d{1,2}:\d\d .*fn [\d.]+ mm, path [\d.]+ mm along duct system \d+ "
                     r"\(orifice \d{1,2}:\d\d\), generation \d+$", out, flags=re.M)
    html = (tmp_path / "viewer.html").read_text(encoding="utf-8")
    assert "phantom-5" in html and "OfflineLocalView" in html and "<script src" not in html
    assert "wrote " + str(tmp_path / "front.png") + ": Front: looking along (+0.00, +1.00, +0.00)" in out
    with Image.open(tmp_path / "front.png") as im:
        assert im.size == (800, 700)
