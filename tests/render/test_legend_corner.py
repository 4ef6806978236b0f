"""The legend goes to the free corner that hides least: never over a lesion or the incision when
another corner is clear of them."""

import numpy as np

from ductree.render import legend_corner
from ductree.scene import Scene, SceneOptions

CORNERS = [(True, True), (False, False)]          # top right, bottom left (the front view's free corners)


def _scene(lesion_bf, tree_points=np.zeros((0, 3))):
    s = Scene(case_id="t", laterality="R", options=SceneOptions())
    s.tree_points = np.asarray(tree_points, dtype=float).reshape(-1, 3)
    if lesion_bf is not None:
        s.lesions = [{"label": "L1", "center": np.asarray(lesion_bf, dtype=float)}]
    return s


def _box_around(px, half=40.0):
    return (px[0] - half, px[1] - half, px[0] + half, px[1] + half)


def test_legend_avoids_the_corner_holding_a_lesion():
    # Two lesions seen from the front: one up and to the viewer's right (patient's left, +x, +z),
    # one down and to the viewer's left. Boxes are drawn around each lesion's own projection, so
    # which box holds which lesion is known by construction.
    up_right, down_left = np.array([40.0, 20.0, 40.0]), np.array([-40.0, 20.0, -40.0])
    cam = _scene(None).camera("front", (1024, 1024))
    p_ur, p_dl = cam.project([up_right])[0], cam.project([down_left])[0]
    assert p_ur[0] > 512 > p_dl[0] and p_ur[1] < 512 < p_dl[1]      # image rows grow downward
    boxes = [_box_around(p_ur), _box_around(p_dl)]
    # A lesion under the top-right box only: the legend goes bottom left, and the other way round.
    assert legend_corner(_scene(up_right), "front", cam, boxes, CORNERS) == (False, False)
    assert legend_corner(_scene(down_left), "front", cam, boxes, CORNERS) == (True, True)


def test_one_lesion_outweighs_many_duct_points():
    cam = _scene(None).camera("front", (1024, 1024))
    up_right, down_left = np.array([40.0, 20.0, 40.0]), np.array([-40.0, 20.0, -40.0])
    boxes = [_box_around(cam.project([up_right])[0]), _box_around(cam.project([down_left])[0])]
    ducts = np.repeat(down_left[None, :], 50, axis=0)                # 50 duct nodes under the bottom-left box
    assert legend_corner(_scene(None, ducts), "front", cam, boxes, CORNERS) == (True, True)
    assert legend_corner(_scene(up_right, ducts), "front", cam, boxes, CORNERS) == (False, False)
