"""Where known breast-frame points land in each standard view (pure projection, no renderer).

Ground truth is the clinical convention itself (DOMAIN.md §3-4, CONVENTIONS §1-2):
CC hung lateral side up with the chest walls back to back (right breast: nipple pointing left);
front view as seen facing the patient, 12 up and 3 o'clock (the patient's left, +x) on the
viewer's right, on both breasts; true lateral superior up; MLO axilla (superolateral) up.
"""

from __future__ import annotations

import numpy as np
import pytest

from ductree.errors import InputError
from ductree.frame import clock_to_direction, point_from_clock
from ductree.scene import SceneOptions, view_camera

W = H = 1024
CX = CY = W / 2 - 0.5


def px(view, lat, points, **kw):
    return view_camera(view, lat, size=(W, H), **kw).project(points)


@pytest.mark.parametrize("lat", ["R", "L"])
def test_cc_lateral_side_up(lat):
    lateral_x = -40.0 if lat == "R" else 40.0          # lateral = patient's right on R, left on L
    lat_pt, med_pt = px("cc", lat, [[lateral_x, 50, 0], [-lateral_x, 50, 0]])
    assert lat_pt[1] < CY - 200 and med_pt[1] > CY + 200
    # Superior/inferior does not move a point in a CC (seen from above).
    a, b = px("cc", lat, [[10, 50, -30], [10, 50, 30]])
    assert np.allclose(a, b)


def test_cc_back_to_back():
    # Right CC: the nipple points to the image's left, the chest wall is on the right; left CC mirrored.
    r_nip, r_deep = px("cc", "R", [[0, 0, 0], [0, 100, 0]])
    l_nip, l_deep = px("cc", "L", [[0, 0, 0], [0, 100, 0]])
    assert r_nip[0] < r_deep[0] and l_nip[0] > l_deep[0]
    # 100 mm of depth is 100 * 1024 / 160 pixels at the default fixed field of view.
    assert abs(r_deep[0] - r_nip[0] - 640.0) < 1e-6


@pytest.mark.parametrize("lat", ["R", "L"])
def test_front_clock_face(lat):
    pts = [clock_to_direction(float(h)) * 40.0 for h in (12, 3, 6, 9)]
    p12, p3, p6, p9 = px("front", lat, pts)
    assert p12[1] < CY - 100 and abs(p12[0] - CX) < 1e-6      # 12 up
    assert p3[0] > CX + 100 and abs(p3[1] - CY) < 1e-6        # 3 on the viewer's right
    assert p6[1] > CY + 100 and p9[0] < CX - 100
    # 3 o'clock is the patient's left (+x) on both breasts.
    assert px("front", lat, [[25, 10, 0]])[0][0] > CX
    cam = view_camera("front", lat)
    assert cam.edge_letters() == {"top": "S", "bottom": "I", "right": "L", "left": "R"}


@pytest.mark.parametrize("lat, posterior_right", [("R", True), ("L", False)])
def test_true_lateral(lat, posterior_right):
    sup, inf, nip, deep = px("lateral", lat, [[0, 40, 30], [0, 40, -30], [0, 0, 0], [0, 100, 0]])
    assert sup[1] < inf[1]
    assert (deep[0] > nip[0]) == posterior_right
    # Left-right does not move a point in a true lateral.
    assert np.allclose(*px("lateral", lat, [[-30, 40, 5], [30, 40, 5]]))
    # LM looks from the other side: the same image mirrored left-right.
    lm = px("lateral", lat, [[0, 100, 0]], options=SceneOptions(lateral_view="LM"))[0]
    assert abs((lm[0] - CX) + (deep[0] - CX)) < 1e-6
    assert view_camera("lateral", lat, options=SceneOptions(lateral_view="LM")).title == f"{lat} LM"


@pytest.mark.parametrize("lat", ["R", "L"])
def test_mlo_axilla_up(lat):
    s = -1.0 if lat == "R" else 1.0
    axilla, inferomedial = px("mlo", lat, [[s * 30, 40, 30], [-s * 30, 40, -30]])
    assert axilla[1] < CY - 200 and inferomedial[1] > CY + 200
    assert view_camera("mlo", lat).edge_letters()["top"] == "S" + ("R" if lat == "R" else "L")


def test_cc_edge_letters():
    assert view_camera("cc", "R").edge_letters() == {"top": "R", "bottom": "L", "left": "A", "right": "P"}
    assert view_camera("cc", "L").edge_letters() == {"top": "L", "bottom": "R", "left": "P", "right": "A"}


def test_fixed_framing_independent_of_the_case():
    # Cameras depend on the view, the breast and the image size only: no auto-zoom per case.
    a = view_camera("cc", "R", size=(512, 512))
    b = view_camera("cc", "R", size=(512, 512))
    assert a == b and a.pixels_per_mm == pytest.approx(512 / 160)
    # A wide image keeps the field of view on its shorter side (height).
    wide = view_camera("cc", "R", size=(1024, 512))
    assert wide.pixels_per_mm == pytest.approx(512 / 160)


def test_oblique_perspective_sees_the_nipple_and_the_depth():
    cam = view_camera("oblique", "R", size=(W, H))
    nip, deep = cam.project([[0, 0, 0], [0, 80, 0]])
    assert np.all((nip > 0) & (nip < W)) and np.all((deep > 0) & (deep < W))
    # Seen from the anterolateral side of the right breast, depth runs toward the viewer's left.
    assert deep[0] < nip[0]
    assert np.isnan(cam.project([cam.position - 10 * np.asarray(cam.direction)])).all()


def test_lesion_point_from_clock_lands_in_its_quadrant_of_the_front_view():
    p = point_from_clock("1:30", 30, 20)      # upper, toward the patient's left
    c = px("front", "R", [p])[0]
    assert c[0] > CX and c[1] < CY


def test_unknown_view_is_refused():
    with pytest.raises(InputError, match="unknown view 'side'"):
        view_camera("side", "R")
