"""Every tree format round-trips a phantom-like tree through read_tree/write_tree (dispatch by suffix)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ductree.errors import DuctreeWarning, InputError
from ductree.io import TREE_FORMATS, read_tree, write_tree
from ductree.io.vtp import write as write_vtp
from ductree.tree import DuctTree

#: suffix -> (holds anastomoses, keeps node ids)
FORMATS = {".json": (True, True), ".graphml": (True, True), ".vtp": (True, False), ".swc": (False, False)}


def test_every_registered_format_is_tested():
    assert set(TREE_FORMATS) == set(FORMATS)


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_phantom_like_round_trip(tmp_path, suffix, phantom_like, same_tree):
    tree = phantom_like
    assert len(tree.systems()) == 3 and tree.anastomoses()
    out = tmp_path / f"tree{suffix}"
    loops, keeps_ids = FORMATS[suffix]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_tree(tree, out)
    dropped = [w for w in caught if issubclass(w.category, DuctreeWarning)]
    assert len(dropped) == (0 if loops else 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]   # no temporary file left behind
    back = read_tree(out)
    same_tree(tree, back, atol=1e-6, loops=loops)
    if keeps_ids:
        assert back.node_ids == tree.node_ids
    if not loops:
        assert back.anastomoses() == []
        assert back.number_of_edges() == tree.number_of_edges() - len(tree.anastomoses())


def test_vtp_in_lps_round_trips_to_bf(tmp_path, phantom_like, same_tree):
    tree = phantom_like
    write_vtp(tree, tmp_path / "c.vtp", nipple_lps=[-103.7, 88.1, -1250.3])
    same_tree(tree, read_tree(tmp_path / "c.vtp"), atol=1e-6)


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_non_integer_ids(tmp_path, suffix, same_tree):
    t = DuctTree.from_arrays([[1, 0, 0], [1, 5, 0], [2, 9, 1], [0, 9, 1], [-1, 0.5, 0], [-1, 4, 0]],
                             [0.9, 0.8, 0.5, 0.5, 0.7, 0.4], [-1, 0, 1, 1, -1, 4],
                             node_ids=["o1", "m1", "t1.a", "t1.b", "o2", "t2"], laterality="L")
    write_tree(t, tmp_path / f"t{suffix}")
    back = read_tree(tmp_path / f"t{suffix}")
    same_tree(t, back, atol=0)
    if FORMATS[suffix][1]:
        assert back.node_ids == t.node_ids


def test_chain_of_conversions(tmp_path, phantom_like, same_tree):
    # json -> graphml -> vtp -> swc -> json: only the SWC step loses something (the loop).
    tree = phantom_like
    current = tree
    for suffix in (".json", ".graphml", ".vtp"):
        write_tree(current, tmp_path / f"t{suffix}")
        current = read_tree(tmp_path / f"t{suffix}")
        same_tree(tree, current, atol=1e-6)
    with pytest.warns(DuctreeWarning):
        write_tree(current, tmp_path / "t.swc")
    current = read_tree(tmp_path / "t.swc")
    write_tree(current, tmp_path / "t2.json")
    same_tree(tree, read_tree(tmp_path / "t2.json"), atol=1e-6, loops=False)


def test_single_node_tree(tmp_path):
    t = DuctTree.from_arrays([[0.5, 0, 0.5]], [0.8], [-1], laterality="R")
    for suffix in FORMATS:
        write_tree(t, tmp_path / f"one{suffix}")
        back = read_tree(tmp_path / f"one{suffix}")
        assert back.number_of_nodes() == 1 and back.positions.tolist() == [[0.5, 0.0, 0.5]]
        assert back.nodes[back.roots()[0]]["orifice_clock"] == pytest.approx(1.5)


def test_unknown_suffix_and_missing_folder(tmp_path, phantom_like):
    t = phantom_like
    with pytest.raises(InputError, match="unknown tree format '.xyz'"):
        write_tree(t, tmp_path / "t.xyz")
    with pytest.raises(InputError, match="output folder does not exist"):
        write_tree(t, tmp_path / "missing" / "t.swc")
    assert list(tmp_path.iterdir()) == []


def test_radii_positions_exact_where_the_format_allows(tmp_path, phantom_like):
    t = phantom_like
    for suffix in (".json", ".graphml", ".vtp", ".swc"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DuctreeWarning)
            write_tree(t, tmp_path / f"t{suffix}")
        back = read_tree(tmp_path / f"t{suffix}")
        # BF files store float64 with shortest repr or raw binary: bit-for-bit.
        assert np.array_equal(back.positions, t.positions), suffix
        assert np.array_equal(back.radii, t.radii), suffix


@pytest.fixture(scope="module")
def phantom():
    from ductree.phantom import generate_tree

    return generate_tree(seed=1, systems=4, branches=20, laterality="L")


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_generated_phantom_round_trip(tmp_path, suffix, phantom, same_tree):
    write_tree(phantom, tmp_path / f"p{suffix}")
    back = read_tree(tmp_path / f"p{suffix}")
    same_tree(phantom, back, atol=1e-6, loops=FORMATS[suffix][0])
    assert len(back.systems()) == 4 and back.laterality == "L"
    if suffix in (".json", ".graphml"):   # formats that keep graph attributes
        assert back.graph["breast_depth_mm"] == phantom.graph["breast_depth_mm"]
