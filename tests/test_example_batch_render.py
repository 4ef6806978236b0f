"""examples/batch_render.py: a batch with one broken case, then a resume that skips the finished ones."""

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_batch_render(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "batch_render.py"), str(tmp_path)],
                       capture_output=True, text=True, encoding="utf-8", timeout=240)
    assert r.returncode == 0, r.stderr
    assert "first run: 4 ok, 1 failed, exit code 2, 8 views" in r.stdout
    assert "resumed:   4 skipped, 0 ok, 1 failed" in r.stdout
    assert r.stdout.count("FAILED  broken") == 1 and "source.tree: file does not exist: missing.json" in r.stdout
    with open(tmp_path / "batch" / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["folder"] for row in rows] == ["case-0", "case-1", "broken", "case-2", "case-3"]
    assert [row["status"] for row in rows] == ["skipped", "skipped", "failed", "skipped", "skipped"]
    for i in range(4):
        assert sorted(p.name for p in (tmp_path / "batch" / f"case-{i}").iterdir() if not p.name.startswith(".")) \
            == ["cc.png", "front.png", "report.html"]
    assert len(list((tmp_path / "loop").glob("*/cc.png"))) == 4
