"""Checks on screenshots of a viewer, shared by the standalone and the web browser tests."""

from __future__ import annotations

import time

import numpy as np

from .conftest import png_array, system_pixels, tree_box


def screenshot(locator) -> np.ndarray:
    return png_array(locator.screenshot())


def orange_system(model) -> int:
    """A duct system holding a lesion, preferring the orange one (its hue is far from every guide's)."""
    systems = sorted(model.lesion_systems)
    return 1 if 1 in systems else systems[0]


def wait_tree_pixels(locator, model, view: str, *, timeout: float = 30.0, minimum: int = 40) -> np.ndarray:
    """Screenshots of ``locator`` until the involved system's colour shows where the tree projects."""
    t0 = time.monotonic()
    s = orange_system(model)
    while True:
        img = screenshot(locator)
        size = (img.shape[1], img.shape[0])
        n = len(system_pixels(img, model, s, tree_box(model, view, size)))
        if n >= minimum:
            return img
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"only {n} tree pixels of system {s} in the {view} view after {timeout} s")
        time.sleep(0.2)


def wait_new_tree_image(locator, previous: np.ndarray, model, view: str, *, timeout: float = 30.0) -> np.ndarray:
    """Like :func:`wait_tree_pixels`, for a picture that must replace ``previous`` (a camera move): the
    server's next frame can arrive after the page's own state has changed, so wait for the change."""
    t0 = time.monotonic()
    while True:
        img = wait_tree_pixels(locator, model, view, timeout=timeout)
        if images_differ(previous, img) or time.monotonic() - t0 > timeout:
            return img
        time.sleep(0.2)


def assert_front_orientation(img: np.ndarray, model) -> None:
    """The involved system's pixels sit where the front camera projects it, not mirrored.

    The front view is seen facing the patient: 12 o'clock up and 3 o'clock
    (the patient's left, +x) on the viewer's right, for both breasts.
    """
    size = (img.shape[1], img.shape[0])
    s = orange_system(model)
    # Where the system is drawn in its own colour: the part of it the excision takes (the rest is faded).
    pts = np.vstack([a.mesh.points for a in model.actors() if a.role == "tree-involved" and model.system_of(a) == s])
    proj = model.scene.camera("front", size).project(pts)
    pix = system_pixels(img, model, s, tree_box(model, "front", size))
    assert len(pix) >= 40
    centre = np.array([size[0] / 2 - 0.5, size[1] / 2 - 0.5])
    want = proj.mean(axis=0)
    got = pix.mean(axis=0)
    axis = int(np.argmax(np.abs(want - centre)))   # the axis along which a mirror image would show
    mirrored = 2 * centre[axis] - want[axis]
    assert abs(got[axis] - want[axis]) < abs(got[axis] - mirrored), (got, want, axis)
    assert np.all(np.abs(got - want) < 15.0), (got, want)


def images_differ(a: np.ndarray, b: np.ndarray, min_fraction: float = 0.01) -> bool:
    if a.shape != b.shape:
        return True
    diff = np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 30
    return diff.mean() > min_fraction


def next_frames(page) -> None:
    """Wait until the page has painted twice more (what was just drawn is on screen)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
