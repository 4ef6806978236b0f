"""GraphML: layout, exact round trip, ids, foreign files, errors."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ductree.errors import InputError
from ductree.io import read_tree
from ductree.io.graphml import read, write
from ductree.measures import annotate
from ductree.tree import DuctTree

NS = {"g": "http://graphml.graphdrawing.org/xmlns"}


def small_tree() -> DuctTree:
    t = DuctTree.from_arrays([[0.1 + 0.2, 0, 1], [0, 10, 1 / 3], [3, 20, 0], [-3, 20, 0], [2, 0, 0], [2, 7, 0]],
                             [1, 0.9, 0.6, 0.5, 0.8, 0.3], [-1, 0, 1, 1, -1, 4], laterality="L")
    t.add_edge(2, 3, anastomosis=True)
    return t


def test_layout(tmp_path):
    write(small_tree(), tmp_path / "t.graphml")
    root = ET.parse(tmp_path / "t.graphml").getroot()
    keys = {(k.get("for"), k.get("attr.name")): (k.get("id"), k.get("attr.type")) for k in root.findall("g:key", NS)}
    for name in ("x", "y", "z", "radius"):
        assert keys[("node", name)][1] == "double"
    assert keys[("node", "system")][1] in ("int", "long")
    assert keys[("node", "orifice_clock")][1] == "double"
    assert keys[("edge", "anastomosis")][1] == "boolean"
    graph = root.find("g:graph", NS)
    assert graph.get("edgedefault") == "directed"
    gdata = {d.get("key"): d.text for d in graph.findall("g:data", NS)}
    assert gdata[keys[("graph", "laterality")][0]] == "L"
    assert gdata[keys[("graph", "units")][0]] == "mm" and gdata[keys[("graph", "frame")][0]] == "BF"
    node0 = next(n for n in graph.findall("g:node", NS) if n.get("id") == "0")
    data0 = {d.get("key"): d.text for d in node0.findall("g:data", NS)}
    assert float(data0[keys[("node", "x")][0]]) == 0.1 + 0.2      # shortest repr: exact
    # The root at (0.3, 0, 1): theta = atan2(0.3, 1) = 16.70 degrees = 0.5566 h (half past twelve, roughly).
    assert float(data0[keys[("node", "orifice_clock")][0]]) == pytest.approx(math.degrees(math.atan2(0.3, 1)) / 30)
    loops = [e for e in graph.findall("g:edge", NS)
             if {d.get("key"): d.text for d in e.findall("g:data", NS)}.get(keys[("edge", "anastomosis")][0]) == "True"]
    assert [(e.get("source"), e.get("target")) for e in loops] == [("2", "3")]


def test_round_trip_exact(tmp_path):
    t = small_tree()
    write(t, tmp_path / "t.graphml")
    back = read_tree(tmp_path / "t.graphml")
    assert sorted(back.nodes) == sorted(t.nodes)   # integer ids come back as ints
    for n in t.nodes:
        assert back.nodes[n]["pos"].tolist() == t.nodes[n]["pos"].tolist()
        assert back.nodes[n]["radius"] == t.nodes[n]["radius"]
        assert back.nodes[n]["system"] == t.nodes[n]["system"]
        assert back.nodes[n].get("orifice_clock") == t.nodes[n].get("orifice_clock")
    assert set(back.edges) == set(t.edges)
    assert back.anastomoses() == [(2, 3)]
    assert back.laterality == "L"


def test_string_ids_and_extra_attributes(tmp_path):
    t = DuctTree.from_arrays([[1, 0, 0], [1, 5, 0], [1, 9, 1]], [1, 0.5, 0.4], [-1, 0, 1],
                             node_ids=["orifice", "mid", "tip.1"], laterality="R")
    annotate(t)
    t.nodes["mid"]["label"] = "sinus"
    write(t, tmp_path / "t.graphml")
    back = read(tmp_path / "t.graphml")
    assert sorted(back.nodes) == ["mid", "orifice", "tip.1"]
    assert back.nodes["tip.1"]["path_mm"] == pytest.approx(5 + math.sqrt(17))
    assert back.nodes["mid"]["label"] == "sinus" and back.nodes["tip.1"]["generation"] == 0
    assert back.edges["mid", "tip.1"]["length"] == pytest.approx(math.sqrt(17))


FOREIGN = """<?xml version="1.0" encoding="UTF-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="kx" for="node" attr.name="x" attr.type="double"/>
  <key id="ky" for="node" attr.name="y" attr.type="double"/>
  <key id="kz" for="node" attr.name="z" attr.type="double"/>
  <key id="kr" for="node" attr.name="radius" attr.type="float"/>
  <graph id="G" edgedefault="directed">
    <node id="a"><data key="kx">0</data><data key="ky">0</data><data key="kz">2</data><data key="kr">1</data></node>
    <node id="b"><data key="kx">0</data><data key="ky">4</data><data key="kz">2</data><data key="kr">0.5</data></node>
    <node id="c"><data key="kx">-2</data><data key="ky">0</data><data key="kz">0</data><data key="kr">0.7</data></node>
    <node id="d"><data key="kx">-2</data><data key="ky">3</data><data key="kz">0</data><data key="kr">0.4</data></node>
    <edge source="a" target="b"/>
    <edge source="c" target="d"/>
  </graph>
</graphml>
"""


def test_foreign_graphml(tmp_path):
    p = tmp_path / "f.graphml"
    p.write_text(FOREIGN)
    t = read_tree(p, laterality="R")
    assert sorted(t.nodes) == ["a", "b", "c", "d"]
    # No system attribute: one system per component, in order of the smallest node id.
    assert t.nodes["a"]["system"] == t.nodes["b"]["system"] == 0
    assert t.nodes["c"]["system"] == t.nodes["d"]["system"] == 1
    assert t.nodes["a"]["orifice_clock"] == pytest.approx(12.0) and t.nodes["c"]["orifice_clock"] == pytest.approx(9.0)
    assert t.nodes["d"]["pos"].tolist() == [-2.0, 3.0, 0.0] and t.laterality == "R"


@pytest.mark.parametrize("mutate,words", [
    (lambda s: s.replace('<data key="kr">0.5</data>', ""), "node 'b' has no 'radius'"),
    (lambda s: s.replace('edgedefault="directed"', 'edgedefault="undirected"'), "undirected"),
    (lambda s: s.replace("<data key=\"ky\">4</data>", "<data key=\"ky\">four</data>"), "'four'"),
    (lambda s: s.replace("</graph>", "", 1), "not valid GraphML XML"),
    (lambda s: s.replace('<edge source="c" target="d"/>', '<edge source="c" target="d"/><edge source="d" target="c"/>'),
     "cycle"),
])
def test_errors(tmp_path, mutate, words):
    p = tmp_path / "bad.graphml"
    p.write_text(mutate(FOREIGN))
    with pytest.raises(InputError) as exc:
        read_tree(p)
    assert str(exc.value).startswith(str(p))
    assert words.lower() in str(exc.value).lower()


def test_positions_to_a_micrometre_fraction(tmp_path, phantom_like):
    write(phantom_like, tmp_path / "p.graphml")
    back = read(tmp_path / "p.graphml")
    diff = max(float(np.abs(back.nodes[n]["pos"] - phantom_like.nodes[n]["pos"]).max()) for n in phantom_like.nodes)
    assert diff <= 1e-6
