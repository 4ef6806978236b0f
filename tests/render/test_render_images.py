"""Rendered pixels: the tree is drawn where the cameras say, every view renders, the CLI writes PNGs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ductree.case import load_case
from ductree.render import Renderer, render_views
from ductree.scene import VIEWS, SceneOptions, build_scene

from .conftest import SIZE

TUBES = SceneOptions(mesher="tubes")
#: Points on system 0 of the hand tree (midpoints of its segments, BF mm) and on system 1.
SYS0 = np.array([[5.75, 10, 0], [15, 30, 0], [25, 50, 0]])
SYS1 = np.array([[0, 10, 6.75], [0, 30, 18]])


def blueish(img, pt, r=2):
    """Is there a pixel of system 0's colour (#0072B2, lit: blue well above red) near ``pt``?"""
    c, row = int(round(pt[0])), int(round(pt[1]))
    win = img[max(row - r, 0):row + r + 1, max(c - r, 0):c + r + 1].reshape(-1, 3).astype(int)
    return bool(np.any((win[:, 2] - win[:, 0] > 60) & (win[:, 2] > 90)))


@pytest.mark.parametrize("lat", ["R", "L"])
def test_tree_pixels_where_the_cameras_project_them(renderer, hand_tree, lat):
    tree = hand_tree(lat)
    scene = build_scene(tree, options=TUBES, case_id="hand", breast_depth_mm=100)
    renderer.load(scene)
    for view in ("cc", "lateral", "mlo", "front", "oblique"):
        img = renderer.render(view, size=SIZE)
        assert img.shape == (SIZE[1], SIZE[0], 3) and img.dtype == np.uint8
        cam = scene.camera(view, SIZE)
        if view in ("cc", "mlo", "front", "oblique"):   # system 0 runs along +x: edge-on in a true lateral only
            for p in cam.project(SYS0):
                assert blueish(img, p), (view, p)
        # Empty space far from every duct (and from the translucent central zone) stays background.
        if view != "oblique":
            empty = cam.project([[-60.0, 80.0, -60.0]])[0]
            c, r = int(round(empty[0])), int(round(empty[1]))
            if 0 <= c < SIZE[0] and 0 <= r < SIZE[1]:
                assert img[r, c].min() > 240, view


@pytest.mark.parametrize("lat", ["R", "L"])
def test_front_view_3_oclock_on_the_viewers_right(renderer, hand_tree, lat):
    # System 0 heads for 3 o'clock (+x), system 1 for 12: on both breasts system 0 is drawn right of
    # the nipple and system 1 above it.
    scene = build_scene(hand_tree(lat), options=TUBES, case_id="hand")
    renderer.load(scene)
    img = renderer.render("front", size=SIZE).astype(int)
    blue = (img[:, :, 2] - img[:, :, 0] > 60) & (img[:, :, 2] > 90)
    rows, cols = np.nonzero(blue)
    w, h = SIZE
    near = np.hypot(cols - w / 2, rows - h / 2) < 0.3 * w     # inside the clock face: no legend, no letters
    rows, cols = rows[near], cols[near]
    assert len(cols) > 30
    assert np.mean(cols > w / 2) > 0.95
    nip = scene.camera("front", SIZE).project([[0, 0, 0]])[0]
    sys1 = scene.camera("front", SIZE).project(SYS1)
    assert all(p[1] < nip[1] - 5 for p in sys1)


@pytest.mark.parametrize("lat", ["R", "L"])
def test_every_view_of_a_phantom_case(renderer, phantom_cases, lat, tmp_path):
    case = load_case(phantom_cases[lat])
    images = {}
    written = render_views(case, views=VIEWS, out_dir=tmp_path, size=SIZE, renderer=renderer,
                           options=SceneOptions(mesher="tubes"), images=images)
    assert sorted(written) == sorted(VIEWS)
    for view, path in written.items():
        with Image.open(path) as im:
            assert im.size == SIZE and im.mode == "RGB"
        img = images[view]
        drawn = (img.min(axis=2) < 200).mean()
        assert 0.02 < drawn < 0.6, (view, drawn)
    # Lesions are drawn in red (papilloma #D7191C) in the breast views.
    red = (images["cc"][:, :, 0].astype(int) - images["cc"][:, :, 1] > 120)
    assert red.sum() > 5


def test_renderer_is_reused_across_cases(phantom_cases, tmp_path):
    r = Renderer(SIZE)
    try:
        n0 = r.views_rendered
        window = r._rw
        for lat in ("R", "L"):
            case = load_case(phantom_cases[lat])
            render_views(case, views=("cc", "front"), out_dir=tmp_path / lat, size=SIZE, renderer=r,
                         options=SceneOptions(mesher="tubes"))
        assert r.views_rendered - n0 == 4 and r._rw is window
        assert sorted(p.name for p in (tmp_path / "L").iterdir()) == ["cc.png", "front.png"]
    finally:
        r.close()


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "ductree", *args], capture_output=True, text=True, encoding="utf-8", timeout=timeout)


def test_cli_render(phantom_cases, tmp_path):
    out = tmp_path / "views"
    r = _cli("render", str(phantom_cases["L"]), "--out", str(out), "--views", "cc,front", "--size", "256,200",
             "--mesher", "tubes")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["cc.png", "front.png"]
    with Image.open(out / "front.png") as im:
        assert im.size == (256, 200)
    assert "2 view(s) of phantom-11" in r.stdout


@pytest.mark.parametrize("args, words", [
    (["--views", "cc,side"], ["--views", "unknown view 'side'"]),
    (["--size", "10,10"], ["--size"]),
    (["--color-by", "age"], ["--color-by", "age"]),
])
def test_cli_render_bad_options(phantom_cases, tmp_path, args, words):
    out = tmp_path / "views"
    r = _cli("render", str(phantom_cases["R"]), "--out", str(out), *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), r.stderr
    assert not out.exists() or not any(out.iterdir())


def test_cli_render_output_folder_not_writable(phantom_cases, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the output folder should be")
    r = _cli("render", str(phantom_cases["R"]), "--out", str(blocker), "--views", "cc", "--mesher", "tubes")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "taken" in r.stderr and "not a folder" in r.stderr
    assert blocker.read_text(encoding="utf-8").startswith("a file")


def test_cli_render_case_with_missing_source(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text('id = "x"\nlaterality = "R"\n[source]\ntree = "nowhere.json"\n')
    r = _cli("render", str(case), "--out", str(tmp_path / "v"))
    assert r.returncode == 2 and "source.tree" in r.stderr and "nowhere.json" in r.stderr
    assert not (tmp_path / "v").exists()


def test_a_lesion_that_cannot_be_placed_is_named_on_the_picture_and_in_a_warning(phantom_cases, tmp_path):
    import shutil

    folder = tmp_path / "case"
    shutil.copytree(phantom_cases["L"].parent, folder)
    toml = folder / phantom_cases["L"].name
    plain = _cli("render", str(toml), "--out", str(tmp_path / "before"), "--views", "front", "--size", "512,512",
                 "--mesher", "tubes")
    assert plain.returncode == 0, plain.stderr
    # a lesion 95 mm deep at 6 o'clock: no duct of the phantom reaches there
    toml.write_text(toml.read_text() + '\n[[lesion]]\nlabel = "X9"\nclock = "6:00"\ndepth_mm = 95\n'
                    'kind = "papilloma"\n')
    r = _cli("render", str(toml), "--out", str(tmp_path / "after"), "--views", "front", "--size", "512,512",
             "--mesher", "tubes")
    assert r.returncode == 0, r.stderr
    assert "lesion 'X9' is not drawn" in r.stderr
    assert "not drawn" not in plain.stderr

    def red_in_title_band(path):
        with Image.open(path) as im:
            img = np.asarray(im.convert("RGB")).astype(int)
        band = img[: img.shape[0] // 6, : img.shape[1] // 2]
        return int(((band[:, :, 0] > 150) & (band[:, :, 1] < 90) & (band[:, :, 2] < 90)).sum())

    # the caption under the case name is written in red, where the picture had none
    assert red_in_title_band(tmp_path / "before" / "front.png") == 0
    assert red_in_title_band(tmp_path / "after" / "front.png") > 20
