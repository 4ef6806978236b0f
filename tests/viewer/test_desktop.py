"""Desktop viewer: the window's set-up run offscreen for a few frames, keys pressed through the
plotter's key callbacks, a click read through the point picker; no display -> one line, exit 2."""

from __future__ import annotations

import numpy as np
import pytest

SIZE = (640, 560)


@pytest.fixture
def desktop(models, tmp_path):
    import pyvista as pv

    from ductree.render import _use_egl_without_display
    from ductree.viewer.desktop import setup_desktop

    _use_egl_without_display()
    lines: list[str] = []
    pl = pv.Plotter(off_screen=True, window_size=list(SIZE))
    session = setup_desktop(pl, models["R"], screenshot_dir=tmp_path, echo=lines.append)
    yield pl, session, lines, tmp_path
    pl.close()


def press(pl, key: str) -> None:
    for cb in pl.iren._key_press_event_callbacks[key]:
        cb()


def camera(pl) -> tuple:
    vc = pl.renderer.GetActiveCamera()
    return (np.round(vc.GetPosition(), 3), np.round(vc.GetViewUp(), 3), bool(vc.GetParallelProjection()))


def test_view_keys_move_the_camera_to_the_standard_views(desktop, models):
    pl, session, _, _ = desktop
    scene = models["R"].scene
    frames = []
    for key, view in (("c", "cc"), ("l", "lateral"), ("f", "front"), ("o", "oblique"), ("m", "mlo")):
        before = camera(pl)
        press(pl, key)
        frames.append(np.asarray(pl.screenshot(return_img=True)))   # a frame drawn in each view
        after = camera(pl)
        assert session.view == view
        assert not (np.allclose(before[0], after[0]) and np.allclose(before[1], after[1])), view
        expected = scene.camera(view, SIZE)
        vc = pl.renderer.GetActiveCamera()
        assert np.allclose(vc.GetPosition(), expected.position, atol=1e-6)
        assert np.allclose(vc.GetViewUp(), expected.up, atol=1e-6)
        assert bool(vc.GetParallelProjection()) == (expected.parallel_scale is not None)
    # The frames differ from view to view and are not blank.
    assert all(f.std() > 5 for f in frames)
    assert not np.array_equal(frames[0], frames[2])


def test_vtk_own_keys_do_not_fight_ours(desktop):
    """A real key press (KeyPress then Char event): 'f' must give the front view, not VTK's fly-to."""
    pl, session, _, _ = desktop
    press(pl, "c")
    iren = pl.iren.interactor
    iren.SetEventPosition(SIZE[0] // 2, SIZE[1] // 2)
    iren.SetKeyCode("f")
    iren.SetKeySym("f")
    iren.InvokeEvent("KeyPressEvent")
    iren.InvokeEvent("CharEvent")
    pl.render()
    assert session.view == "front"
    vc = pl.renderer.GetActiveCamera()
    assert np.allclose(vc.GetDirectionOfProjection(), (0.0, 1.0, 0.0), atol=1e-6)  # looking posterior
    assert np.allclose(vc.GetViewUp(), (0.0, 0.0, 1.0), atol=1e-6)               # 12 o'clock up


def test_toggles_hide_their_actors(desktop):
    pl, session, _, _ = desktop
    press(pl, "f")
    by_name = {a.name: va for a, va in session._actors}
    assert by_name["envelope"].GetVisibility()
    press(pl, "e")
    assert not by_name["envelope"].GetVisibility() and session.toggles["envelope"] is False
    press(pl, "x")
    assert not by_name["breast-outline"].GetVisibility() and not by_name["clock-face"].GetVisibility()
    press(pl, "t")
    assert not any(la.GetVisibility() for _, _, la in session._labels)
    press(pl, "d")
    m = session.model
    for a, va in session._actors:
        if m.group_of(a) == "tree":
            assert bool(va.GetVisibility()) == (m.system_of(a) in m.lesion_systems)
    for key in "extd":
        press(pl, key)
    assert all(session.toggles.values())
    assert by_name["envelope"].GetVisibility()


def test_click_reads_the_duct_under_the_cursor(desktop, models):
    pl, session, lines, _ = desktop
    press(pl, "f")
    pl.render()
    m = models["R"]
    # A point on a duct of a system with a lesion, projected with the front camera.
    c = m.centreline
    i = int(np.argmax((c.path_mm > 8) & np.isin(c.system, sorted(m.lesion_systems))))
    target = c.points[i]
    col, row = m.scene.camera("front", SIZE).project([target])[0]
    # Display coordinates: pixels from the bottom-left corner.
    session.on_pick_at(col + 0.5, SIZE[1] - (row + 0.5))
    r = session.last_reading
    assert r is not None
    assert lines[-1] == r.text
    assert np.linalg.norm(np.asarray(r.point_bf)[[0, 2]] - target[[0, 2]]) < 3.0  # same spot seen from the front
    assert "along duct system" in r.text and "generation" in r.text
    # A click on empty background reads nothing.
    session.on_pick_at(5, 5)
    assert session.last_reading is None and lines[-1] == "no duct under the cursor"


def test_screenshot_key_writes_a_png(desktop):
    pl, session, lines, folder = desktop
    press(pl, "o")
    press(pl, "s")
    shots = list(folder.glob("ductree-phantom-5-oblique-*.png"))
    assert len(shots) == 1 and lines[-1] == f"screenshot {shots[0]}"
    from PIL import Image

    img = np.asarray(Image.open(shots[0]))
    assert img.shape[:2] == (SIZE[1], SIZE[0]) and img.std() > 5


def test_view_without_a_display_fails_in_one_line(case_folder, monkeypatch, capsys):
    from ductree.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code = main(["view", str(case_folder["R"])])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "no display" in err
    assert "ductree serve" in err and "ductree render" in err


def test_lesion_labels_are_all_shown_apart_and_off_the_lesions(desktop, models):
    # VTK's label placer drops one of two overlapping labels (a second lesion's label vanished in the
    # CC view): every boxed label is its own actor, laid out before each render.
    pl, session, _, _ = desktop
    m = models["R"]
    placed = [les for les in m.located if les.located]
    assert len(placed) >= 2
    for key in ("c", "l", "f", "o"):
        press(pl, key)
        pl.render_window.Render()  # pyvista's render() waits for show(); the labels are laid out per render
        ren = pl.renderer
        boxes = {lab.text.split()[0]: box for lab, box in session.boxed_label_boxes() if lab.role == "lesion"}
        assert set(boxes) == {les.label for les in placed}, (key, boxes)
        items = list(boxes.values())
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                a, b = items[i], items[j]
                assert not (a[0] < b[2] and a[2] > b[0] and a[1] < b[3] and a[3] > b[1]), (key, boxes)
        # No label covers the centre of a lesion.
        for les in placed:
            ren.SetWorldPoint(*les.point_bf, 1.0)
            ren.WorldToDisplay()
            x, y, _ = ren.GetDisplayPoint()
            assert not any(a[0] <= x <= a[2] and a[1] <= y <= a[3] for a in items), (key, les.label)
