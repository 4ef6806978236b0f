"""The view skeleton (biplane_graph._skeletonize) is scikit-image's Zhang-Suen skeleton, pixel for pixel."""

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

from ductree.reconstruct.biplane_graph import _skeletonize


def _masks():
    rng = np.random.default_rng(11)
    yield np.zeros((5, 5), dtype=bool)
    yield np.ones((5, 5), dtype=bool)
    yield np.ones((1, 7), dtype=bool)
    yield np.ones((60, 90), dtype=bool)                  # touches every border
    for i in range(120):
        h, w = (int(v) for v in rng.integers(2, 90, 2))
        kind = i % 4
        if kind == 0:
            m = rng.random((h, w)) < rng.uniform(0.1, 0.95)
        elif kind == 1:
            m = ndi.gaussian_filter(rng.random((h, w)), rng.uniform(1, 4)) > rng.uniform(0.45, 0.55)
        elif kind == 2:
            m = ndi.binary_dilation(rng.random((h, w)) < 0.01, iterations=int(rng.integers(1, 8)))
        else:                                            # thick bars crossing (ducts of many widths)
            m = np.zeros((h, w), dtype=bool)
            for _ in range(4):
                r0, c0 = int(rng.integers(0, h)), int(rng.integers(0, w))
                m[max(r0 - int(rng.integers(0, 15)), 0):r0 + int(rng.integers(1, 15)), :] = rng.random() < 0.5
                m[:, max(c0 - int(rng.integers(0, 15)), 0):c0 + int(rng.integers(1, 15))] |= rng.random() < 0.5
        yield m


def test_skeleton_is_scikit_images():
    n = 0
    for m in _masks():
        got = _skeletonize(m)
        assert got.dtype == bool and got.shape == m.shape
        assert np.array_equal(got, skeletonize(m)), m.shape
        n += 1
    assert n == 124


def test_skeleton_of_a_thick_bar_is_one_pixel_line():
    m = np.zeros((40, 100), dtype=bool)
    m[10:31, 10:90] = True                               # 21 px thick
    sk = _skeletonize(m)
    assert np.all(sk.sum(axis=0)[25:75] == 1)            # one pixel across along the bar's middle ...
    rows = np.flatnonzero(sk.any(axis=1))
    assert rows.min() >= 19 and rows.max() <= 21         # ... on its centre line (row 20)
    assert not sk[:, :10].any() and not sk[:, 90:].any()
