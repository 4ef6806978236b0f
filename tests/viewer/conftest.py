"""Fixtures for the viewer tests: a folder of phantom cases, headless Chromium, pixel checks.

The folder of cases holds a right breast (``case-R``), a left breast
(``case-L``) and a case whose tree file is missing (``broken``), as the web
viewer's case picker sees them. Chromium is Debian's ``chromium`` driven by
Playwright with ``executable_path`` (never a downloaded browser).
"""

from __future__ import annotations

import colorsys
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1300, "height": 850}


@pytest.fixture(scope="session")
def case_folder(tmp_path_factory):
    """``{"root": folder, "R": case.toml, "L": case.toml, "broken": case.toml}``."""
    from ductree.phantom import write_phantom_case

    root = tmp_path_factory.mktemp("viewer-cases")
    out = {"root": root}
    for lat, seed in (("R", 5), ("L", 11)):
        out[lat] = write_phantom_case(root / f"case-{lat}", seed=seed, systems=4, branches=25, lesions=2,
                                      laterality=lat)
    broken = root / "broken"
    broken.mkdir()
    (broken / "case.toml").write_text('id = "broken"\nlaterality = "R"\n[source]\ntree = "tree.json"\n')
    out["broken"] = broken / "case.toml"
    return out


@pytest.fixture(scope="session")
def models(case_folder):
    """The viewer models of the right and the left case (built once)."""
    from ductree.viewer.model import load_model

    return {lat: load_model(case_folder[lat]) for lat in ("R", "L")}


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium context with a fresh user data dir (closed at the end)."""
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "install Debian's chromium: apt-get install -y chromium"
    profile = tempfile.mkdtemp(prefix="ductree-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                   headless=True, viewport=VIEWPORT)
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    """Wait until ``url`` answers (any HTTP status) or the process dies."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).read(10)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"server at {url} did not answer in {timeout} s")


@pytest.fixture(scope="session")
def server(case_folder):
    """``ductree serve`` on the right case in a subprocess on a free port of 127.0.0.1 (always terminated)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ductree", "serve", str(case_folder["R"]), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc)
        yield {"url": f"http://127.0.0.1:{port}/", "port": port, "proc": proc}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- pixels

def png_array(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def hue_mask(img: np.ndarray, color: str, *, hue_tol: float = 0.04, min_sat: float = 0.35,
             min_val: float = 0.15) -> np.ndarray:
    """Pixels of ``img`` (H, W, 3 uint8) with the hue of ``color`` (shading changes value, not hue)."""
    rgb = img.astype(float) / 255.0
    mx, mn = rgb.max(axis=2), rgb.min(axis=2)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    d = np.maximum(mx - mn, 1e-9)
    h = np.where(mx == r, ((g - b) / d) % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4)) / 6.0
    c = color.lstrip("#")
    h0, s0, _ = colorsys.rgb_to_hsv(*(int(c[i:i + 2], 16) / 255.0 for i in (0, 2, 4)))
    dh = np.abs(h - h0)
    dh = np.minimum(dh, 1 - dh)
    return (dh <= hue_tol) & (sat >= min(min_sat, 0.8 * s0)) & (mx >= min_val) & (mx - mn > 0.08)


def involved_colors(model) -> dict[int, str]:
    """Palette colour of each duct system that holds a lesion (drawn unfaded)."""
    from ductree.scene import system_color

    return {s: system_color(s) for s in sorted(model.lesion_systems)}


def tree_box(model, view: str, size: tuple[int, int], pad: float = 10.0) -> tuple[int, int, int, int]:
    """Pixel box (c0, r0, c1, r1) of the tree in ``view`` at ``size`` (from the scene's own camera)."""
    px = model.scene.camera(view, size).project(model.scene.tree_points)
    c0, r0 = np.floor(px.min(axis=0) - pad).astype(int)
    c1, r1 = np.ceil(px.max(axis=0) + pad).astype(int)
    return max(c0, 0), max(r0, 0), min(c1, size[0]), min(r1, size[1])


def system_pixels(img: np.ndarray, model, system: int, box) -> np.ndarray:
    """(n, 2) pixel (column, row) positions of one system's colour inside ``box``."""
    from ductree.scene import system_color

    c0, r0, c1, r1 = box
    m = hue_mask(img[r0:r1, c0:c1], system_color(system))
    rows, cols = np.nonzero(m)
    return np.column_stack([cols + c0, rows + r0])
