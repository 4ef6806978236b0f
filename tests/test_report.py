"""The planning report: self-contained HTML, a PDF that renders page by page, every warning that matters."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ductree.case import LesionSpec, load_case
from ductree.frame import parse_clock
from ductree.lesions import place_lesions
from ductree.plan import plan_lesions
from ductree.report import build_report, collect_warnings, render_html, write_report
from ductree.scene import SceneOptions, build_scene
from ductree.tree import DuctTree

SIZE = (256, 256)


@pytest.fixture(scope="module")
def case_path(tmp_path_factory):
    from ductree.phantom import write_phantom_case

    return write_phantom_case(tmp_path_factory.mktemp("report"), seed=5, systems=4, branches=25, lesions=2,
                              laterality="R")


@pytest.fixture(scope="module")
def written(case_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-out")
    case = load_case(case_path)
    scene = build_scene(case, options=SceneOptions(mesher="tubes"))
    paths = write_report(case, out / "report.html", pdf_path=out / "report.pdf", views=("front", "cc", "duct"),
                         size=SIZE, scene=scene)
    return case, paths


def test_html_is_self_contained(written):
    case, paths = written
    text = paths["html"].read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    refs = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]*)['"]""", text, flags=re.I)
    assert refs and all(r.startswith("data:image/png;base64,") for r in refs)
    assert not re.search(r"https?://", text) and "<link" not in text and "<script" not in text
    # Each embedded image decodes to a PNG of the asked size.
    for ref in refs:
        with Image.open(io.BytesIO(base64.b64decode(ref.split(",", 1)[1]))) as im:
            assert im.format == "PNG" and im.size == SIZE
    assert len(refs) == 3


def test_html_content(written):
    case, paths = written
    text = paths["html"].read_text(encoding="utf-8")
    assert case.id in text and "Right breast" in text and "tree.json" in text
    for les in case.lesions:
        assert f"<td>{les.label}</td>" in text
    for heading in ("Warnings", "Lesions", "Excision plan", "Ductal tree", "Views"):
        assert f"<h2>{heading}</h2>" in text
    # The phantom's L2 is ambiguous (several ducts fit its clock and depth): the surgeon is told.
    assert re.search(r"<li>Lesion L2: placement is ambiguous", text)


def test_pdf_renders_page_by_page(written, tmp_path):
    _, paths = written
    pdf = paths["pdf"]
    assert pdf.read_bytes().startswith(b"%PDF")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, encoding="utf-8", check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, flags=re.M).group(1))
    assert pages >= 2
    for page in range(1, pages + 1):
        stem = tmp_path / f"p{page}"
        subprocess.run(["pdftoppm", "-r", "30", "-png", "-f", str(page), "-l", str(page), "-singlefile", str(pdf),
                        str(stem)], check=True, capture_output=True, timeout=60)
        with Image.open(f"{stem}.png") as im:
            arr = np.asarray(im.convert("L"))
            assert arr.shape[0] > 200 and (arr < 128).mean() > 0.002    # A4 at 30 dpi, with ink on it


def hand_tree() -> DuctTree:
    # Two straight ducts: 3 o'clock toward (30, 60, 0) and 9 o'clock toward (-30, 60, 0).
    pos = [[1.5, 0, 0], [10, 20, 0], [20, 40, 0], [30, 60, 0], [-1.5, 0, 0], [-10, 20, 0], [-20, 40, 0]]
    return DuctTree.from_arrays(pos, [1.0] * 7, [-1, 0, 1, 2, -1, 4, 5], [0, 0, 0, 0, 1, 1, 1], laterality="L")


def test_warnings_for_unplaced_lesions_and_central_shortfall():
    tree = hand_tree()
    specs = [LesionSpec(label="deep", kind="dcis", clock=parse_clock(3), depth_mm=50.0, size_mm=4.0),
             LesionSpec(label="nowhere", kind="papilloma", clock=parse_clock(12), depth_mm=40.0, size_mm=3.0)]
    located = place_lesions(tree, specs, laterality="L", breast_depth_mm=100)
    assert [les.status for les in located] == ["placed", "unplaced"]
    plans = plan_lesions(tree, located, central_excision_mm=30.0)

    class _Case:   # only the case's own warnings are read here
        warnings = ["the mask touches the border of the volume: ducts may be cut off there"]

    w = collect_warnings(_Case(), tree, located, plans)
    assert w[0].startswith("the mask touches the border")
    assert any(s.startswith("Lesion nowhere: not placed on any duct") for s in w)
    # "deep" sits at depth 50 with a 2 mm radius and a 5 mm margin: reach 57 mm, 27 mm beyond 30 mm.
    miss = [s for s in w if "central excision would miss" in s]
    assert len(miss) == 1 and "reaches 57 mm deep, 27 mm beyond it" in miss[0]


def test_warnings_from_the_tree_flags():
    tree = hand_tree()
    tree.nodes[3]["end_reason"] = "too_narrow"       # the scope stopped: the duct goes on
    tree.nodes[6]["end_reason"] = "terminal"         # a true end: no warning
    tree.nodes[5]["unexplored"] = True
    tree.graph["navlog_fusion"] = {"system": 0, "confidence": 0.55, "ambiguous": True,
                                   "branch_map": {"0": [0], "1": []}}
    tree.graph["findings"] = [{"label": "F1", "status": "ambiguous", "placed": False, "confidence": 0.4}]
    tree.add_edge(2, 6, anastomosis=True)

    class _Case:
        warnings: list = []

    w = " | ".join(collect_warnings(_Case(), tree, [], []))
    assert "low confidence (0.55)" in w and "(ambiguous)" in w
    assert "1 scope branch(es) matched no duct" in w
    assert "Scope finding F1: ambiguous (confidence 0.40)" in w
    assert "1 duct(s) end where the scope stopped (too narrow)" in w
    assert "1 lumen(s) seen by the scope were not explored" in w
    assert "1 loop(s) (anastomoses)" in w


def test_warning_says_how_much_of_a_ductogram_rebuild_is_uncertain():
    class _Case:
        warnings: list = []

    tree = hand_tree()
    tree.graph["biplane"] = {"uncertain": {"sigma_mm": 1.0, "length_mm": 38.4, "fraction": 0.243}}
    w = " | ".join(collect_warnings(_Case(), tree, [], []))
    assert "Ductogram rebuild: 24% of the tree (38 mm) is placed no better than +-1 mm (drawn with a halo)" in w
    tree.graph["biplane"] = {"uncertain": {"sigma_mm": 1.0, "length_mm": 0.0, "fraction": 0.0}}
    assert not any("Ductogram rebuild" in x for x in collect_warnings(_Case(), tree, [], []))


def test_report_without_lesions_says_so(tmp_path):
    from ductree.io import write_tree

    tree = hand_tree()
    write_tree(tree, tmp_path / "tree.json")
    (tmp_path / "case.toml").write_text('id = "plain"\nlaterality = "L"\n[source]\ntree = "tree.json"\n')
    case = load_case(tmp_path / "case.toml")
    data = build_report(case, views=("front",), size=(128, 128))
    html = render_html(data)
    assert "No lesions in this case." in html and "No warnings." in html and "Left breast" in html


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ductree", *args], capture_output=True, text=True, encoding="utf-8", timeout=180)


def test_cli_report(case_path, tmp_path):
    r = _cli("report", str(case_path), "--out", str(tmp_path / "r.html"), "--pdf", str(tmp_path / "r.pdf"),
             "--views", "cc", "--size", "200,200")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r.html").stat().st_size > 1000 and (tmp_path / "r.pdf").read_bytes()[:4] == b"%PDF"


def test_cli_report_bad_output_folder(case_path, tmp_path):
    r = _cli("report", str(case_path), "--out", str(tmp_path / "missing" / "r.html"))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "output folder does not exist" in r.stderr
    assert not (tmp_path / "missing").exists()


def test_pdf_never_ends_a_page_with_a_heading(case_path, tmp_path):
    # However long the warnings run, a section heading is never the last line of a page: it moves
    # with its first table (the demo's report once printed "Excision plan" alone at a page foot).
    import dataclasses

    from ductree.report import write_pdf

    base = build_report(load_case(case_path), views=("front",), size=(64, 64))
    headings = {"Case", "Sources used", "Warnings", "Lesions", "Excision plan", "Ductal tree", "Views"}
    for n in range(0, 40, 3):
        data = dataclasses.replace(base, warnings=[f"warning number {k}: " + "words " * 25 for k in range(n)],
                                   images={})
        pdf = write_pdf(data, tmp_path / f"r{n}.pdf")
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              encoding="utf-8", check=True).stdout
        for page in text.split("\f"):
            lines = [ln.strip() for ln in page.splitlines() if ln.strip()]
            if lines:
                assert lines[-1] not in headings, (n, lines[-3:])


def test_plan_of_a_duct_whose_orifice_clock_is_not_known():
    # A ductogram's tree starts at the cannulated orifice, whose clock the images do not give.
    from ductree.report import _plan_row

    tree = hand_tree()
    for root in tree.roots():
        tree.nodes[root].pop("orifice_clock", None)
    tree.touch()
    located = place_lesions(tree, [LesionSpec(label="L1", kind="papilloma", clock=parse_clock(3), depth_mm=30.0,
                                              size_mm=3.0)], laterality="L", breast_depth_mm=100)
    row = _plan_row(plan_lesions(tree, located)[0])
    assert row["orifice"] == "clock not known"
