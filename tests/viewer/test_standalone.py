"""The standalone HTML viewer in headless Chromium: it shows the tree the right way round, the view
buttons move the camera, the lesion table lists the lesions, a click reads the duct, and the page
makes no request to anything but itself. Bad input: exit 2, one line, nothing written."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from .browser_checks import (assert_front_orientation, images_differ, next_frames, screenshot,
                             wait_new_tree_image, wait_tree_pixels)


@pytest.fixture(scope="session")
def html_files(case_folder, models, tmp_path_factory):
    """Both cases exported through the command line."""
    from ductree.cli import main

    out = tmp_path_factory.mktemp("standalone")
    files = {}
    for lat in ("R", "L"):
        path = out / f"viewer-{lat}.html"
        assert main(["export-html", str(case_folder[lat]), "--out", str(path)]) == 0
        files[lat] = path
    return files


def open_page(browser, path):
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    return page, requests


def test_file_is_self_contained(html_files):
    text = html_files["R"].read_text(encoding="utf-8")
    assert "<script src" not in text and "<link rel=\"stylesheet\"" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert html_files["R"].stat().st_size < 6_000_000


@pytest.mark.parametrize("lat", ["R", "L"])
def test_opens_offline_and_shows_the_tree_the_right_way_round(browser, html_files, models, lat):
    page, requests = open_page(browser, html_files[lat])
    try:
        view = page.locator("#view")
        img = wait_tree_pixels(view, models[lat], "front")
        # Orientation, on the ducts alone (labels, envelope and context off, so nothing covers them).
        for k in ("labels", "envelope", "context"):
            page.click(f"#toggle-{k}")
        next_frames(page)
        assert_front_orientation(screenshot(view), models[lat])
        for k in ("labels", "envelope", "context"):
            page.click(f"#toggle-{k}")
        # The lesion table lists the case's lesions.
        table = page.inner_text("#lesion-table")
        for les in models[lat].located:
            assert les.label in table and les.clock_half_hour in table
        assert "Front: looking along (+0.00, +1.00, +0.00), up (+0.00, +0.00, +1.00)" in page.inner_text(
            "#camera-readout")
        # A view button changes the camera: readout and picture.
        page.click("#view-cc")
        page.wait_for_function("document.querySelector('#camera-readout').innerText.startsWith('CC:')")
        cc = wait_new_tree_image(view, img, models[lat], "cc")
        assert images_differ(img, cc)
        up = "(-1.00, +0.00, +0.00)" if lat == "R" else "(+1.00, +0.00, +0.00)"   # lateral side up
        assert f"up {up}" in page.inner_text("#camera-readout")
        # No request but the file itself (and in-page data/blob URLs).
        assert requests and all(u.startswith(("file:", "data:", "blob:")) for u in requests), requests
    finally:
        page.close()


def test_click_reads_the_same_as_python(browser, html_files, models):
    from ductree.viewer.model import centreline_samples
    from ductree.viewer.standalone import STEP_MM

    m = models["R"]
    page, _ = open_page(browser, html_files["R"])
    try:
        # The duct point farthest from the nipple axis in the front view: no other duct in front of it.
        c1 = centreline_samples(m.tree, STEP_MM)
        fn = np.hypot(c1.points[:, 0], c1.points[:, 2])
        i = int(np.argmax(fn))
        col, row, _ = page.evaluate("p => window.ductree.project(p)", c1.points[i].tolist())
        box = page.locator("#view").bounding_box()
        page.mouse.click(box["x"] + col, box["y"] + row)
        page.wait_for_function("document.querySelector('#reading').dataset.sample !== undefined")
        j = int(page.locator("#reading").get_attribute("data-sample"))
        assert j >= 0 and np.linalg.norm(c1.points[j] - c1.points[i]) < 3.0
        js_text = page.inner_text("#reading")
        one_mm = dataclasses.replace(m, centreline=c1, _kdtree=None)
        py_text = one_mm.read_point(c1.points[j]).text
        num = r"-?\d+\.\d"
        assert re.sub(num, "#", js_text) == re.sub(num, "#", py_text)
        assert np.allclose([float(x) for x in re.findall(num, js_text)],
                           [float(x) for x in re.findall(num, py_text)], atol=0.11)
        # A click on empty space reads nothing.
        page.mouse.click(box["x"] + 5, box["y"] + box["height"] - 5)
        page.wait_for_function("document.querySelector('#reading').innerText.startsWith('no duct')")
    finally:
        page.close()


def test_toggles_change_the_picture(browser, html_files, models):
    page, _ = open_page(browser, html_files["L"])
    try:
        view = page.locator("#view")
        before = wait_tree_pixels(view, models["L"], "front")
        page.click("#toggle-context")
        page.click("#toggle-envelope")
        next_frames(page)
        after = screenshot(view)
        assert images_differ(before, after)
    finally:
        page.close()


def test_bad_input_exits_2_and_writes_nothing(case_folder, tmp_path, capsys):
    from ductree.cli import main

    out = tmp_path / "v.html"
    for args in (["export-html", str(tmp_path / "nowhere"), "--out", str(out)],
                 ["export-html", str(case_folder["broken"]), "--out", str(out)],
                 ["export-html", str(case_folder["R"]), "--out", str(tmp_path / "no" / "v.html")],
                 ["export-html", str(case_folder["R"]), "--out", str(out), "--view", "top"]):
        capsys.readouterr()
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("ductree: error: ")
    assert not out.exists() and not list(tmp_path.glob(".v.*"))
    assert "broken" not in str(list(tmp_path.iterdir()))


def test_lesion_labels_close_together_do_not_cover_each_other(browser, case_folder, models, tmp_path):
    # Two lesions 1 mm apart on one duct: their labels would print at the same spot; the page steps
    # one off the other, and both stay readable.
    from ductree.cli import main

    tree = models["R"].tree
    p = tree.positions[len(tree.positions) // 2]
    src = case_folder["R"].parent
    text = (f'id = "close"\nlaterality = "R"\n[source]\ntree = "{(src / "tree.json").as_posix()}"\n'
            f'[[lesion]]\nlabel = "NEAR1"\npoint_bf = [{p[0]}, {p[1]}, {p[2]}]\nsize_mm = 2\n'
            f'[[lesion]]\nlabel = "NEAR2"\npoint_bf = [{p[0]}, {p[1] + 1.0}, {p[2]}]\nsize_mm = 2\n')
    (tmp_path / "case.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "close.html"
    assert main(["export-html", str(tmp_path / "case.toml"), "--out", str(out)]) == 0
    page, _ = open_page(browser, out)
    try:
        next_frames(page)
        boxes = page.evaluate("""() => Array.from(document.querySelectorAll('.lab.box'))
            .filter(e => e.style.display !== 'none' && e.textContent.startsWith('NEAR'))
            .map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
        assert len(boxes) == 2, boxes
        (a, b) = boxes
        assert not (a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]), boxes
    finally:
        page.close()
