"""``tree.json``: networkx node-link JSON with a ``schema`` version.

Layout (schema ``ductree.tree/1``)::

    {"schema": "ductree.tree/1", "directed": true, "multigraph": false,
     "graph": {"laterality": "R", "units": "mm", "frame": "BF", ...},
     "nodes": [{"id": 0, "pos": [x, y, z], "radius": r, "system": 0, ...}, ...],
     "edges": [{"source": 0, "target": 1, ...}, ...]}

This is what ``networkx.node_link_data(tree, edges="edges")`` produces, plus
the schema. Positions are BF mm unless ``graph.frame`` says otherwise.
Floats are written with Python's shortest round-tripping repr, so a round
trip is exact. ``"links"`` is accepted in place of ``"edges"`` (older
networkx).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text
from ..errors import InputError
from ..tree import DuctTree

SCHEMA = "ductree.tree/1"


def _plain(value: Any) -> Any:
    """Numpy values to JSON-able Python values."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_dict(tree: DuctTree) -> dict:
    """The node-link dict of a tree (what :func:`write` serialises)."""
    graph = {k: _plain(v) for k, v in tree.graph.items()}
    graph.setdefault("units", "mm")
    graph.setdefault("frame", "BF")
    nodes = []
    for n in tree.node_ids:  # row order: parents first, readable by hand
        d = {"id": _plain(n)}
        d.update({k: _plain(v) for k, v in tree.nodes[n].items()})
        nodes.append(d)
    edges = [{"source": _plain(u), "target": _plain(v), **{k: _plain(x) for k, x in d.items()}}
             for u, v, d in tree.edges(data=True)]
    return {"schema": SCHEMA, "directed": True, "multigraph": False, "graph": graph,
            "nodes": nodes, "edges": edges}


def from_dict(data: Any, *, source: str | Path | None = None) -> DuctTree:
    """Build a tree from a node-link dict (see module docs)."""
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", source=source)
    schema = data.get("schema")
    if schema is None:
        raise InputError("missing 'schema' (expected 'ductree.tree/1')", source=source, key="schema")
    if not (isinstance(schema, str) and schema.startswith("ductree.tree/")):
        raise InputError(f"unknown schema {schema!r} (expected 'ductree.tree/1')", source=source, key="schema")
    if schema != SCHEMA:
        raise InputError(f"schema {schema!r} is newer than this ductree reads ({SCHEMA})",
                         source=source, key="schema")
    nodes = data.get("nodes")
    edges = data.get("edges", data.get("links"))
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise InputError("expected lists 'nodes' and 'edges'", source=source, key="nodes")
    tree = DuctTree()
    graph = data.get("graph") or {}
    if not isinstance(graph, dict):
        raise InputError("'graph' must be an object", source=source, key="graph")
    tree.graph.update(graph)
    for i, nd in enumerate(nodes):
        if not isinstance(nd, dict) or "id" not in nd:
            raise InputError(f"node #{i} has no 'id'", source=source, key="nodes")
        attrs = {k: v for k, v in nd.items() if k != "id"}
        for key in ("pos", "radius"):
            if key not in attrs:
                raise InputError(f"node {nd['id']!r} has no {key!r}", source=source, key=key)
        try:
            pos = np.asarray(attrs["pos"], dtype=float)
            attrs["radius"] = float(attrs["radius"])
        except (TypeError, ValueError):
            raise InputError(f"node {nd['id']!r}: pos and radius must be numbers", source=source,
                             key="pos") from None
        if pos.shape != (3,):
            raise InputError(f"node {nd['id']!r}: pos must have 3 numbers", source=source, key="pos")
        attrs["pos"] = pos
        tree.add_node(_hashable(nd["id"]), **attrs)
    for i, ed in enumerate(edges):
        if not isinstance(ed, dict) or "source" not in ed or "target" not in ed:
            raise InputError(f"edge #{i} needs 'source' and 'target'", source=source, key="edges")
        u, v = _hashable(ed["source"]), _hashable(ed["target"])
        for end in (u, v):
            if end not in tree:
                raise InputError(f"edge #{i} names unknown node {end!r}", source=source, key="edges")
        tree.add_edge(u, v, **{k: x for k, x in ed.items() if k not in ("source", "target")})
    try:
        return DuctTree.from_graph(tree)
    except InputError as exc:
        raise exc.located(source=source) from None


def _hashable(x: Any) -> Any:
    return tuple(x) if isinstance(x, list) else x


def read(path: Path) -> DuctTree:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", source=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", source=path, line=exc.lineno) from None
    return from_dict(data, source=path)


def write(tree: DuctTree, path: Path) -> None:
    write_text(path, dumps(to_dict(tree)))


def dumps(doc: dict) -> str:
    """A node-link document as JSON text: one node and one link per line.

    Readable in an editor and diffable line by line, and each line goes
    through json's C encoder (``indent=`` uses the pure-Python one). On a
    3364-node tree: 29% smaller than ``indent=1`` and 1.4x faster to write.
    """
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    parts = []
    for key, value in doc.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            rows = ",\n".join(json.dumps(x, **compact) for x in value)
            parts.append(f"{json.dumps(key)}: [\n{rows}\n]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value, **compact)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"
