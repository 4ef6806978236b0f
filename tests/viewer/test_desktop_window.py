"""The desktop viewer in a real X window (Debian's Xvfb as the display): the window is an X OpenGL
window that maps, the keys move the camera, the screenshot key writes the picture, and ``ductree
view`` runs its event loop until it is closed."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

XVFB = shutil.which("Xvfb") or "/usr/bin/Xvfb"

WINDOW_SCRIPT = r"""
import sys
from ductree.viewer.desktop import check_display, setup_desktop
from ductree.viewer.model import load_model
check_display()
import pyvista as pv
model = load_model(sys.argv[1], mesher="tubes")
lines = []
pl = pv.Plotter(window_size=[640, 560], title="ductree test")
session = setup_desktop(pl, model, screenshot_dir=sys.argv[2], echo=lines.append)
pl.show(interactive_update=True, auto_close=False)
rw = pl.render_window
print("window", rw.GetClassName(), rw.GetMapped(), rw.GetOffScreenRendering())
for key in ("c", "s"):
    for cb in pl.iren._key_press_event_callbacks[key]:
        cb()
    pl.update()
print(session.view, lines[-1])
print("labels", sorted(lab.text.split()[0] for lab, _ in session.boxed_label_boxes() if lab.role == "lesion"))
pl.close()
"""


@pytest.fixture(scope="module")
def display():
    """A private X display (Xvfb) on a number of this process's own (two test workers never race for
    the same one), ready when it has written its number (``-displayfd``) and its socket accepts."""
    assert os.path.exists(XVFB), "install Debian's xvfb: apt-get install -y xvfb"
    for number in range(100 + os.getpid() % 800, 1000):
        if os.path.exists(f"/tmp/.X{number}-lock"):
            continue
        r, w = os.pipe()
        proc = subprocess.Popen([XVFB, f":{number}", "-displayfd", str(w), "-screen", "0", "1280x1024x24", "-noreset",
                                 "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        os.close(w)
        ready, _, _ = select.select([r], [], [], 30)
        got = os.read(r, 64).decode().strip() if ready else ""
        if got == str(number):
            break  # the read end stays open while the server runs: a later write must not SIGPIPE it
        os.close(r)
        proc.kill()
        proc.wait(timeout=10)
    else:
        raise AssertionError("no free X display number for Xvfb")
    try:
        path = f"/tmp/.X11-unix/X{number}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as so:
                    so.connect(path)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, f"no X server on {path}"
                time.sleep(0.1)
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        os.close(r)


def _env(display: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VTK_DEFAULT_OPENGL_WINDOW", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = display
    return env


def test_a_real_window_opens_and_answers_its_keys(display, case_folder, models, tmp_path):
    r = subprocess.run([sys.executable, "-c", WINDOW_SCRIPT, str(case_folder["R"]), str(tmp_path)],
                       capture_output=True, text=True, encoding="utf-8", timeout=180, env=_env(display))
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout.splitlines()
    assert len(out) >= 3 and out[0] == "window vtkXOpenGLRenderWindow 1 0", (r.stdout, r.stderr[-2000:])
    view, shot = out[1].split(" ", 1)
    assert view == "cc" and shot.startswith("screenshot ")
    from PIL import Image

    img = np.asarray(Image.open(shot.split(" ", 1)[1]).convert("RGB")).astype(float)
    assert img.shape[:2] == (560, 640)
    # Duct pixels: saturated colours of the system palette on the white background.
    sat = img.max(axis=2) - img.min(axis=2)
    assert (sat > 60).mean() > 0.002          # a blank or context-only window has none
    placed = sorted(les.label for les in models["R"].located if les.located)
    assert out[2] == f"labels {placed}"


def test_ductree_view_runs_until_closed(display, case_folder):
    proc = subprocess.Popen([sys.executable, "-m", "ductree", "view", str(case_folder["R"]), "--mesher", "tubes",
                             "--size", "640,480"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", env=_env(display))
    try:
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert proc.poll() is None, f"ductree view exited with {proc.returncode}: {proc.stderr.read()[-2000:]}"
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert "Traceback" not in err, err[-2000:]
