"""``tree.graphml``: GraphML through networkx's reader and writer.

Layout: a directed graph (edges away from the nipple) with

- graph data ``format = "ductree-graphml"``, ``units = "mm"``, ``frame = "BF"``
  and ``laterality`` (``"L"``/``"R"``; absent when unknown);
- node data ``x``, ``y``, ``z`` (double, BF mm — GraphML cannot hold an
  array, so ``pos`` is split into three attributes), ``radius`` (double, mm),
  ``system`` (integer) and, on each root, ``orifice_clock`` (double, hours);
- edge data ``anastomosis`` (boolean; ``true`` on the loop-closing edges).

Any other scalar node, edge or graph attribute (``generation``, ``order``,
``path_mm`` after :func:`ductree.measures.annotate`, say) is written too;
attributes that are not scalars are left out. Floats are written with
Python's shortest round-tripping repr, so positions and radii come back
exactly.

Node ids: GraphML ids are text. On reading, when every id is a decimal
integer (``"0"``, ``"17"``) they become ints again; otherwise they stay
strings. So a tree with integer ids round-trips its ids; other ids come back
as their ``str()``.

Reading a GraphML written by another tool: it must be directed and give every
node ``x``, ``y``, ``z`` and ``radius`` (mm); ``system`` and
``orifice_clock`` are filled in (per connected component, and from the root
position) when missing.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_bytes
from ..errors import InputError
from ..tree import DuctTree, ensure_tree

FORMAT = "ductree-graphml"
_INT_ID = re.compile(r"^-?(0|[1-9][0-9]*)$")
_SCALARS = (bool, int, float, str)


def _scalar(value: Any) -> Any:
    """A GraphML-writable Python scalar, or ``None`` to leave the attribute out."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value if isinstance(value, _SCALARS) else None


def to_graph(tree: DuctTree):
    """A plain :class:`networkx.DiGraph` with GraphML-friendly scalar attributes."""
    import networkx as nx

    tree = ensure_tree(tree)
    g = nx.DiGraph()
    for k, v in tree.graph.items():
        s = _scalar(v)
        if s is not None:
            g.graph[k] = s
    g.graph["format"] = FORMAT
    g.graph["units"] = "mm"
    g.graph["frame"] = "BF"
    for n in tree.node_ids:
        d = tree.nodes[n]
        attrs: dict[str, Any] = {}
        for k, v in d.items():
            if k in ("pos", "x", "y", "z"):
                continue
            s = _scalar(v)
            if s is not None:
                attrs[k] = s
        x, y, z = (float(c) for c in np.asarray(d["pos"], dtype=float))
        attrs.update(x=x, y=y, z=z, radius=float(d["radius"]), system=int(d["system"]))
        g.add_node(n, **attrs)
    for u, v, d in tree.edges(data=True):
        attrs = {k: s for k, s in ((k, _scalar(x)) for k, x in d.items()) if s is not None}
        attrs["anastomosis"] = bool(d.get("anastomosis", False))
        g.add_edge(u, v, **attrs)
    return g


def write(tree: DuctTree, path: Path) -> None:
    """Write ``tree`` as GraphML (BF mm), atomically."""
    import networkx as nx

    buf = io.BytesIO()
    nx.write_graphml(to_graph(tree), buf, encoding="utf-8", prettyprint=True)
    write_bytes(path, buf.getvalue())


def read(path: Path) -> DuctTree:
    """Read a GraphML file (see module docs) into a :class:`DuctTree`."""
    import xml.etree.ElementTree as ET

    import networkx as nx

    path = Path(path)
    try:
        g = nx.read_graphml(path)
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise InputError(f"not valid GraphML XML: {exc}", source=path, line=line) from None
    except (nx.NetworkXError, KeyError, ValueError, TypeError) as exc:
        raise InputError(f"not a readable GraphML graph: {exc}", source=path) from None
    return from_graph(g, source=path)


def from_graph(g, *, source: str | Path | None = None) -> DuctTree:
    """Turn a graph as networkx reads it from GraphML into a :class:`DuctTree`."""
    import networkx as nx

    if not g.is_directed():
        raise InputError("the GraphML graph is undirected; a ductal tree needs edges directed away "
                         "from the nipple (edgedefault=\"directed\")", source=source)
    if g.is_multigraph():
        raise InputError("the GraphML graph has parallel edges; a ductal tree has at most one edge "
                         "between two nodes", source=source)
    as_int = all(isinstance(n, str) and _INT_ID.match(n) for n in g.nodes)
    key = (lambda n: int(n)) if as_int else (lambda n: n)
    out = nx.DiGraph()
    for k, v in g.graph.items():
        if k not in ("node_default", "edge_default", "format", "units", "frame"):
            out.graph[k] = v
    units = g.graph.get("units", "mm")
    if units != "mm":
        raise InputError(f"units {units!r} are not supported (expected mm)", source=source, key="units")
    frame = g.graph.get("frame", "BF")
    if frame != "BF":
        raise InputError(f"frame {frame!r} is not supported (expected BF)", source=source, key="frame")
    for n, d in g.nodes(data=True):
        attrs = dict(d)
        for c in ("x", "y", "z", "radius"):
            if c not in attrs:
                raise InputError(f"node {n!r} has no {c!r} attribute", source=source, key=c)
        try:
            pos = np.array([float(attrs.pop("x")), float(attrs.pop("y")), float(attrs.pop("z"))])
            attrs["radius"] = float(attrs["radius"])
        except (TypeError, ValueError):
            raise InputError(f"node {n!r}: x, y, z and radius must be numbers", source=source,
                             key="x") from None
        attrs["pos"] = pos
        if "system" in attrs:
            try:
                attrs["system"] = int(attrs["system"])
            except (TypeError, ValueError):
                raise InputError(f"node {n!r}: system must be an integer, got {attrs['system']!r}",
                                 source=source, key="system") from None
        if "orifice_clock" in attrs:
            attrs["orifice_clock"] = float(attrs["orifice_clock"])
        out.add_node(key(n), **attrs)
    for u, v, d in g.edges(data=True):
        attrs = dict(d)
        if not attrs.get("anastomosis", False):
            attrs.pop("anastomosis", None)  # keep the tree's convention: the flag only on loops
        else:
            attrs["anastomosis"] = True
        out.add_edge(key(u), key(v), **attrs)
    try:
        return DuctTree.from_graph(out)
    except InputError as exc:
        raise exc.located(source=source) from None
