"""`ductree demo` runs the whole pipeline on a built-in phantom and every output holds up."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    r = subprocess.run([sys.executable, "-m", "ductree", "demo", "--out", str(out)], capture_output=True,
                       text=True, encoding="utf-8", timeout=600)
    assert r.returncode == 0, r.stderr
    return out


def test_tree_formats_agree(demo_dir):
    from ductree.io import read_tree

    ref = read_tree(demo_dir / "case" / "tree.json")
    for suffix in (".json", ".swc", ".graphml", ".vtp"):
        t = read_tree(demo_dir / "tree" / f"tree{suffix}", laterality="R")
        assert t.number_of_nodes() == ref.number_of_nodes() and t.systems() == ref.systems()
        assert np.allclose(np.sort(t.positions, axis=0), np.sort(ref.positions, axis=0), atol=1e-6)


def test_summary_matches_truth(demo_dir):
    s = json.loads((demo_dir / "summary.json").read_text(encoding="utf-8"))
    truth = json.loads((demo_dir / "case" / "truth.json").read_text(encoding="utf-8"))
    assert s["laterality"] == "R" and s["systems"] == 8
    assert 40 <= s["depth_max_mm"] <= 100 and s["radius_min_mm"] >= 0.1
    assert len(truth["lesions"]) == 2


def test_plan_and_markups(demo_dir):
    plan = json.loads((demo_dir / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["schema"].startswith("ductree.plan/")
    marks = json.loads((demo_dir / "plan" / "lesions.mrk.json").read_text(encoding="utf-8"))
    assert marks["markups"][0]["coordinateSystem"] == "LPS"


def test_model_is_closed_after_reading_back(demo_dir):
    import trimesh

    mesh = trimesh.load(demo_dir / "model" / "model.stl", force="mesh")
    parts = mesh.split(only_watertight=False)
    assert len(parts) >= 1 and all(p.is_watertight and p.is_winding_consistent for p in parts)
    assert mesh.volume > 0


def test_views_and_report(demo_dir):
    from PIL import Image

    for view in ("cc", "lateral", "front", "oblique"):
        img = np.asarray(Image.open(demo_dir / "views" / f"{view}.png").convert("RGB"))
        assert img.shape[:2] == (1024, 1024) and (img.std(axis=2) > 20).mean() > 0.01  # coloured tree pixels
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    assert "phantom-7" in html and not re.search(r"""(src|href)=["']https?://""", html)
    assert (demo_dir / "report.pdf").read_bytes().startswith(b"%PDF")
