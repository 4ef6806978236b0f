"""DuctTree construction, cached views and validation (CONVENTIONS §3)."""

import networkx as nx
import numpy as np
import pytest

from ductree.errors import InputError
from ductree.tree import DuctTree


def y_tree(**kw):
    return DuctTree.from_arrays(
        positions=[[1, 0, 0], [1, 10, 0], [4, 20, 0], [-2, 20, 1]],
        radii=[1.0, 0.9, 0.6, 0.5], parent=[-1, 0, 1, 1], **kw)


def test_from_arrays_and_views():
    t = y_tree(laterality="left")
    assert t.laterality == "L" and isinstance(t, nx.DiGraph)
    assert t.roots() == [0] and t.children(1) == [2, 3] and t.parent(2) == 1 and t.parent(0) is None
    assert t.positions.shape == (4, 3) and t.radii.tolist() == [1.0, 0.9, 0.6, 0.5]
    assert t.parent_index.tolist() == [-1, 0, 1, 1]
    # The root sits 1 mm toward the patient's left of the nipple centre: a 3 o'clock orifice.
    assert t.nodes[0]["orifice_clock"] == pytest.approx(3.0)
    with pytest.raises(ValueError):
        t.positions[0, 0] = 5  # views are read-only


def test_cache_rebuilt_when_graph_changes():
    t = y_tree()
    assert t.number_of_nodes() == len(t.positions) == 4
    t.add_node(9, pos=np.array([0, 30.0, 0]), radius=0.3, system=0)
    t.add_edge(2, 9)
    assert len(t.positions) == 5 and t.parent_index[t.index[9]] == t.index[2]
    t.nodes[9]["radius"] = 0.2
    t.touch()
    assert t.radii[t.index[9]] == 0.2
    t.set_radii(np.full(5, 0.7))
    assert np.all(t.radii == 0.7) and t.nodes[0]["radius"] == 0.7


def test_rows_parents_first_and_systems():
    t = DuctTree.from_arrays(
        positions=[[0, 30, 0], [0, 0, 1], [0, 10, 1], [0, 0, -1], [0, 15, -1]],
        radii=[0.5, 1, 1, 1, 1], parent=[2, -1, 1, -1, 3])
    assert t.systems() == [0, 1]
    par = t.parent_index
    assert all(p < i for i, p in enumerate(par) if p >= 0)
    assert [t.nodes[r]["system"] for r in t.roots()] == [0, 1]
    assert t.nodes[1]["orifice_clock"] == pytest.approx(12.0)
    assert t.nodes[3]["orifice_clock"] == pytest.approx(6.0)


@pytest.mark.parametrize("mutate,words", [
    (lambda t: t.nodes[2].update(pos=np.array([np.nan, 0, 0])), "position"),
    (lambda t: t.nodes[2].update(radius=0.0), "radius"),
    (lambda t: t.nodes[2].update(radius=-1.0), "radius"),
    (lambda t: t.add_edge(3, 0), "cycle"),
    (lambda t: t.add_edge(2, 3), "parents"),
    (lambda t: t.nodes[3].update(system=1), "joins systems 0 and 1"),
    (lambda t: t.remove_edge(1, 2), "roots"),
])
def test_validation_errors(mutate, words):
    t = y_tree()
    mutate(t)
    t.touch()
    with pytest.raises(InputError, match=words):
        t.validate()


def test_empty_tree_and_flagged_anastomosis():
    with pytest.raises(InputError, match="empty"):
        DuctTree().validate()
    t = y_tree()
    t.add_edge(2, 3, anastomosis=True)  # a loop, flagged: allowed
    t.validate()
    assert t.anastomoses() == [(2, 3)] and t.parent(3) == 1


def test_from_graph_fills_systems_and_copies():
    g = nx.DiGraph()
    g.add_node("a", pos=[0, 0, 2], radius=1)
    g.add_node("b", pos=[0, 10, 2], radius=1)
    g.add_node("c", pos=[0, 0, -2], radius=1)
    g.add_edge("a", "b")
    t = DuctTree.from_graph(g, laterality="R")
    t.validate()
    assert t.systems() == [0, 1] and isinstance(t.nodes["a"]["pos"], np.ndarray)
    with pytest.raises(InputError):
        DuctTree.from_graph(nx.Graph(g))
    c = t.copy()
    c.nodes["a"]["pos"][0] = 99
    assert t.nodes["a"]["pos"][0] == 0
