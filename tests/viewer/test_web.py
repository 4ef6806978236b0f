"""The web viewer (``ductree serve``) in a subprocess on 127.0.0.1, driven by headless Chromium:
the tree shows, a view button moves the camera, the lesion table lists the lesions, a click reads
the duct, the case picker opens a sibling case and refuses a bad name; bad HTTP requests do not
crash it. Bad input on the command line: one line, exit 2."""

from __future__ import annotations

import http.client
import socket

import numpy as np
import pytest

from .browser_checks import (assert_front_orientation, images_differ, next_frames, screenshot,
                             wait_new_tree_image, wait_tree_pixels)


@pytest.fixture(scope="module")
def page(browser, server):
    page = browser.new_page()
    page.goto(server["url"])
    page.wait_for_selector("#lesion-table", timeout=60000)
    yield page
    page.close()


def test_shows_the_tree_lesions_and_moves_the_camera(page, models):
    m = models["R"]
    view = page.locator("#ductree-view")
    front = wait_tree_pixels(view, m, "front")
    table = page.inner_text("#lesion-table")
    for les in m.located:
        assert les.label in table and les.clock_half_hour in table
    assert page.inner_text("#camera-readout").startswith("Front: looking along (+0.00, +1.00, +0.00)")
    page.click("#view-cc")
    page.wait_for_function("document.querySelector('#camera-readout').innerText.startsWith('CC:')")
    cc = wait_new_tree_image(view, front, m, "cc")
    assert images_differ(front, cc)
    assert "up (-1.00, +0.00, +0.00)" in page.inner_text("#camera-readout")   # right breast: lateral up
    page.click("#view-front")
    page.wait_for_function("document.querySelector('#camera-readout').innerText.startsWith('Front:')")


def test_click_reads_the_duct(page, models):
    m = models["R"]
    page.click("#view-front")
    page.wait_for_function("document.querySelector('#camera-readout').innerText.startsWith('Front:')")
    view = page.locator("#ductree-view")
    wait_tree_pixels(view, m, "front")
    box = view.bounding_box()
    size = (int(round(box["width"])), int(round(box["height"])))
    c = m.centreline
    i = int(np.argmax(np.hypot(c.points[:, 0], c.points[:, 2])))     # the duct point farthest from the axis
    col, row = m.scene.camera("front", size).project([c.points[i]])[0]
    page.mouse.click(box["x"] + col + 0.5, box["y"] + row + 0.5)
    page.wait_for_function("document.querySelector('#reading').innerText.includes('along duct system')",
                           timeout=20000)
    text = page.inner_text("#reading")
    assert f"along duct system {int(c.system[i])} " in text
    expected = m.read_point(c.points[i])
    assert expected.clock.split(":")[0] in text.split(",")[0]


def test_case_picker_refuses_bad_names_and_opens_a_sibling(page, server, models):
    page.evaluate("window.trame.state.set('case_name', '../../etc')")
    page.wait_for_function("document.querySelector('#ductree-error').innerText.includes('no case named')")
    page.evaluate("window.trame.state.set('case_name', 'broken')")
    page.wait_for_function("document.querySelector('#ductree-error').innerText.includes('tree.json')")
    assert "phantom-5" in page.inner_text("#case-title")
    assert server["proc"].poll() is None
    page.evaluate("window.trame.state.set('case_name', 'case-L')")
    page.wait_for_function("document.querySelector('#case-title').innerText.includes('phantom-11')", timeout=30000)
    table = page.inner_text("#lesion-table")
    for les in models["L"].located:
        assert les.label in table and les.clock_half_hour in table
    view = page.locator("#ductree-view")
    wait_tree_pixels(view, models["L"], "front")
    for k in ("labels", "envelope", "context"):
        page.click(f"#toggle-{k}")
    page.wait_for_function("document.querySelector('#camera-readout').innerText.startsWith('Front:')")
    # The server re-renders after each toggle; wait for a picture without the guides.
    img = None
    for _ in range(50):
        next_frames(page)
        img = screenshot(view)
        try:
            assert_front_orientation(img, models["L"])
            break
        except AssertionError:
            continue
    assert_front_orientation(img, models["L"])
    for k in ("labels", "envelope", "context"):
        page.click(f"#toggle-{k}")


def test_bad_http_requests_do_not_crash_it(server):
    for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "/case.toml",
                 "/tree.json", "/case-R/case.toml", "/" + "x" * 5000):
        conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        # aiohttp answers an over-long file name with 500 (the OS refuses the name); never with content.
        allowed = (400, 403, 404, 414) + ((500,) if len(path) > 1000 else ())
        assert resp.status in allowed, (path[:40], resp.status)
        assert b"root:" not in body and b"laterality" not in body
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().status in (200, 302)
    conn.close()
    assert server["proc"].poll() is None


def test_bad_command_lines_exit_2_in_one_line(case_folder, tmp_path, capsys):
    from ductree.cli import main

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        cases = [
            (["serve", str(tmp_path / "missing")], "no such case file"),
            (["serve", str(case_folder["broken"])], "tree.json"),
            (["serve", str(case_folder["R"]), "--port", str(busy.getsockname()[1])], "in use"),
            (["serve", str(case_folder["R"]), "--port", "70000"], "--port"),
        ]
        for args, words in cases:
            capsys.readouterr()
            assert main(args) == 2, args
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith("ductree: error: ") and words in err, err
    finally:
        busy.close()
