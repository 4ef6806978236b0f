"""The hole classification and speck removal give the same answer counted per piece (few pieces) or over the
whole crop (many): the two ways of counting in biplane_graph must agree exactly."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from ductree.reconstruct import biplane_graph as bg


def _mask(rng, h=220, w=260):
    m = np.zeros((h, w), dtype=bool)
    for _ in range(6):                                   # thick bars (ducts) crossing, leaving enclosed gaps
        r, c = int(rng.integers(10, h - 10)), int(rng.integers(10, w - 10))
        t = int(rng.integers(6, 26))
        if rng.random() < 0.5:
            m[r:r + t, 5:w - 5] = True
        else:
            m[5:h - 5, c:c + t] = True
    # lucencies inside the bars (holes of many sizes, some pinholes) and specks outside
    ys, xs = np.nonzero(m)
    for k in rng.choice(len(ys), 25, replace=False):
        rr = int(rng.integers(0, 5))
        m[max(ys[k] - rr, 0):ys[k] + rr + 1, max(xs[k] - rr, 0):xs[k] + rr + 1] = False
    bg_ = ~ndi.binary_dilation(m, iterations=3)
    ys, xs = np.nonzero(bg_)
    for k in rng.choice(len(ys), 15, replace=False):
        m[ys[k]:ys[k] + int(rng.integers(1, 4)), xs[k]:xs[k] + int(rng.integers(1, 3))] = True
    return m


@pytest.mark.parametrize("seed", range(6))
def test_holes_same_either_way(seed, monkeypatch):
    m = _mask(np.random.default_rng(seed))
    opt = bg.ViewOptions()
    few_out, few_rec = bg._classify_holes(m.copy(), 0.05, opt)
    monkeypatch.setattr(bg, "_FEW_LABELS", -1)
    all_out, all_rec = bg._classify_holes(m.copy(), 0.05, opt)
    assert np.array_equal(few_out, all_out)
    assert few_rec == all_rec
    assert len(few_rec) > 0 and not np.array_equal(few_out, m)   # holes were found and some filled


def test_view_graph_same_either_way(monkeypatch):
    """Specks dropped and holes filled the same way: the whole view graph (skeleton pixels, nodes, records)."""
    from ductree.io.images2d import View2D

    m = _mask(np.random.default_rng(3))
    assert ndi.label(m, structure=np.ones((3, 3), dtype=bool))[1] > 5          # specks present

    def graph():
        v = View2D(mask=m.copy(), kind="cc", spacing_mm=(0.05, 0.05), orientation=("P", "L"), laterality="R")
        return bg.view_graph(v)

    few = graph()
    monkeypatch.setattr(bg, "_FEW_LABELS", -1)
    whole = graph()
    assert few.specks == whole.specks > 0
    assert np.array_equal(few.mask, whole.mask)
    assert few.holes == whole.holes and few.gaps == whole.gaps and few.fragments == whole.fragments
    assert few.skeleton_px == whole.skeleton_px
    assert sorted(few.g.nodes) == sorted(whole.g.nodes)
    for n in few.g.nodes:
        assert np.array_equal(few.g.nodes[n]["rc"], whole.g.nodes[n]["rc"])
