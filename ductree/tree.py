"""DuctTree: the ductal tree every source produces and every output consumes.

A :class:`DuctTree` *is* a :class:`networkx.DiGraph` (CONVENTIONS §3):

- edges point away from the nipple;
- node attributes ``pos`` (numpy array of 3 floats, breast frame BF, mm),
  ``radius`` (mm) and ``system`` (integer duct-system id);
- one root per duct system, at its orifice, carrying ``orifice_clock`` (hours);
- graph attribute ``laterality`` (``"L"``/``"R"``, or ``None`` when unknown);
- an edge with attribute ``anastomosis=True`` closes a loop (an anastomosis);
  every other node has exactly one parent.

Numpy views (:attr:`DuctTree.node_ids`, :attr:`positions`, :attr:`radii`,
:attr:`parent_index`, :attr:`system_ids`) are built on first use and cached in
networkx's own graph cache, which every structural mutation clears. After
editing node attributes in place, call :meth:`DuctTree.touch` (or use
:meth:`set_positions` / :meth:`set_radii`, which do it for you).
Rows are in depth-first order from each root, so a parent always comes before
its children and each branch is contiguous.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import networkx as nx
import numpy as np

from .errors import InputError
from .frame import clock_of_point, parse_laterality

_CACHE_KEY = "ductree_arrays"


class DuctTree(nx.DiGraph):
    """A breast ductal tree (a forest of duct systems) in the breast frame, mm.

    Examples
    --------
    >>> import numpy as np
    >>> t = DuctTree.from_arrays(
    ...     positions=[[0, 0, 0], [0, 10, 0], [3, 20, 0], [-3, 20, 0]],
    ...     radii=[1.0, 0.9, 0.6, 0.5], parent=[-1, 0, 1, 1], laterality="R")
    >>> t.number_of_nodes(), t.roots(), t.positions.shape
    (4, [0], (4, 3))
    """

    # ------------------------------------------------------------------ building

    @classmethod
    def from_arrays(
        cls,
        positions: Sequence[Sequence[float]] | np.ndarray,
        radii: Sequence[float] | np.ndarray,
        parent: Sequence[int] | np.ndarray,
        system: Sequence[int] | np.ndarray | None = None,
        *,
        laterality: str | None = None,
        node_ids: Sequence[int] | None = None,
        orifice_clock: dict[int, float] | None = None,
    ) -> "DuctTree":
        """Build from row arrays: positions (N, 3) BF mm, radii (N,) mm, parent row (-1 = root).

        ``system`` gives each row's duct-system id; without it each root's
        component becomes a system numbered in root order. ``node_ids`` names
        the nodes (default ``0..N-1``). ``orifice_clock`` maps a system id to
        its orifice clock; by default it is the clock of the root position.
        """
        pos = np.asarray(positions, dtype=float)
        rad = np.asarray(radii, dtype=float).reshape(-1)
        par = np.asarray(parent, dtype=np.int64).reshape(-1)
        n = len(rad)
        if pos.shape != (n, 3) or par.shape != (n,):
            raise InputError(f"positions must be (N, 3) and parent (N,) for N={n} radii; got {pos.shape} and {par.shape}")
        if np.any((par < -1) | (par >= n)):
            raise InputError("parent index out of range")
        ids = np.arange(n) if node_ids is None else np.asarray(node_ids)
        if len(ids) != n or len(set(ids.tolist())) != n:
            raise InputError("node_ids must be N unique ids")
        if system is None:
            sysid = _components_from_parents(par)
        else:
            sysid = np.asarray(system, dtype=np.int64).reshape(-1)
            if sysid.shape != (n,):
                raise InputError("system must have one id per node")
        t = cls(laterality=None if laterality is None else parse_laterality(laterality))
        id_list = ids.tolist()
        pos_rows = pos.copy()  # one private array; each node's pos is a row view of it
        t.add_nodes_from(
            (nid, {"pos": pos_rows[i], "radius": r, "system": s})
            for i, (nid, r, s) in enumerate(zip(id_list, rad.tolist(), sysid.tolist())))
        t.add_edges_from((id_list[p], id_list[i]) for i, p in enumerate(par.tolist()) if p >= 0)
        _fill_orifice_clocks(t, orifice_clock, roots=[id_list[i] for i in np.flatnonzero(par < 0)])
        return t

    @classmethod
    def from_graph(cls, graph: nx.Graph, *, laterality: str | None = None) -> "DuctTree":
        """Copy any directed graph with ``pos``/``radius`` node attributes into a DuctTree.

        Positions become float arrays; missing ``system`` ids are assigned per
        weakly connected component; root ``orifice_clock`` is filled in from
        the root position where missing. Laterality comes from the argument,
        else from ``graph.graph["laterality"]``.
        """
        if not graph.is_directed():
            raise InputError("a ductal tree must be a directed graph (edges away from the nipple)")
        t = cls()
        t.graph.update(graph.graph)
        lat = laterality if laterality is not None else graph.graph.get("laterality")
        t.graph["laterality"] = None if lat is None else parse_laterality(lat)
        for n, data in graph.nodes(data=True):
            d = dict(data)
            if "pos" not in d or "radius" not in d:
                raise InputError(f"node {n!r} needs 'pos' and 'radius' attributes")
            d["pos"] = np.asarray(d["pos"], dtype=float).reshape(-1).copy()
            d["radius"] = float(d["radius"])
            t.add_node(n, **d)
        t.add_edges_from((u, v, dict(d)) for u, v, d in graph.edges(data=True))
        if any("system" not in d for _, d in t.nodes(data=True)):
            primary = nx.DiGraph((u, v) for u, v, a in t.edges(data=True) if not a.get("anastomosis"))
            primary.add_nodes_from(t.nodes)
            comps = sorted(nx.weakly_connected_components(primary), key=lambda c: min(map(_sort_key, c)))
            for k, comp in enumerate(comps):
                for n in comp:
                    t.nodes[n].setdefault("system", k)
        _fill_orifice_clocks(t, None)
        return t

    def __init__(self, incoming_graph_data: Any = None, **attr: Any) -> None:
        attr.setdefault("laterality", None)
        super().__init__(incoming_graph_data, **attr)

    # ------------------------------------------------------------------ metadata

    @property
    def laterality(self) -> str | None:
        """``"L"``, ``"R"`` or ``None`` (unknown)."""
        return self.graph.get("laterality")

    @laterality.setter
    def laterality(self, value: str | None) -> None:
        self.graph["laterality"] = None if value is None else parse_laterality(value)

    def roots(self) -> list:
        """Root node ids (one per system), sorted by system id."""
        return [self.node_ids[i] for i in np.flatnonzero(self.parent_index < 0)]

    def systems(self) -> list[int]:
        """Sorted duct-system ids."""
        return sorted(set(self.system_ids.tolist()))

    def root_of_system(self, system: int) -> Any:
        """The root node of one duct system."""
        for r in self.roots():
            if self.nodes[r]["system"] == system:
                return r
        raise InputError(f"no duct system {system!r}; systems are {self.systems()}", key="system")

    def is_primary_edge(self, u: Any, v: Any) -> bool:
        """True unless the edge is flagged as an anastomosis (a loop-closing join)."""
        return not self.edges[u, v].get("anastomosis", False)

    def anastomoses(self) -> list[tuple]:
        """The loop-closing edges flagged ``anastomosis=True``."""
        return [(u, v) for u, v, a in self.edges(data=True) if a.get("anastomosis")]

    def children(self, node: Any) -> list:
        """Children of ``node`` along primary (non-anastomosis) edges, sorted."""
        return sorted((v for v in self.successors(node) if self.is_primary_edge(node, v)), key=_sort_key)

    def parent(self, node: Any) -> Any | None:
        """The primary parent of ``node``, or ``None`` for a root."""
        for u in self.predecessors(node):
            if self.is_primary_edge(u, node):
                return u
        return None

    # ------------------------------------------------------------------ cached arrays

    def touch(self) -> None:
        """Drop cached arrays; call after editing node attributes in place."""
        nx._clear_cache(self)

    def _arrays(self) -> dict[str, Any]:
        cache = self.__networkx_cache__
        arrays = cache.get(_CACHE_KEY)
        if arrays is None:
            arrays = _build_arrays(self)
            cache[_CACHE_KEY] = arrays
        return arrays

    @property
    def node_ids(self) -> list:
        """Node ids in row order (depth-first from each root, roots by system)."""
        return self._arrays()["ids"]

    @property
    def index(self) -> dict:
        """Map node id -> row."""
        return self._arrays()["index"]

    @property
    def positions(self) -> np.ndarray:
        """(N, 3) positions, BF mm (read-only view)."""
        return self._arrays()["pos"]

    @property
    def radii(self) -> np.ndarray:
        """(N,) radii, mm (read-only view)."""
        return self._arrays()["radius"]

    @property
    def parent_index(self) -> np.ndarray:
        """(N,) row of each node's primary parent, -1 for roots (read-only view)."""
        return self._arrays()["parent"]

    @property
    def system_ids(self) -> np.ndarray:
        """(N,) duct-system id of each row (read-only view)."""
        return self._arrays()["system"]

    def cached(self, name: str, compute) -> Any:
        """Cache a derived value until the tree changes (used by ``ductree.measures``)."""
        arrays = self._arrays()
        extra = arrays.setdefault("derived", {})
        if name not in extra:
            extra[name] = compute(self)
        return extra[name]

    def set_positions(self, positions: np.ndarray) -> None:
        """Replace all positions (rows in :attr:`node_ids` order, BF mm)."""
        pos = np.asarray(positions, dtype=float)
        ids = self.node_ids
        if pos.shape != (len(ids), 3):
            raise InputError(f"expected positions of shape {(len(ids), 3)}, got {pos.shape}")
        for nid, p in zip(ids, pos):
            self.nodes[nid]["pos"] = p.copy()
        self.touch()

    def set_radii(self, radii: np.ndarray) -> None:
        """Replace all radii (rows in :attr:`node_ids` order, mm)."""
        rad = np.asarray(radii, dtype=float).reshape(-1)
        ids = self.node_ids
        if rad.shape != (len(ids),):
            raise InputError(f"expected {len(ids)} radii, got {rad.shape}")
        for nid, r in zip(ids, rad):
            self.nodes[nid]["radius"] = float(r)
        self.touch()

    def copy(self, as_view: bool = False) -> "DuctTree":  # type: ignore[override]
        """A deep-enough copy: positions are copied, so editing one never edits the other."""
        t = super().copy(as_view=as_view)
        if not as_view:
            for _, d in t.nodes(data=True):
                if "pos" in d:
                    d["pos"] = np.array(d["pos"], dtype=float)
        return t

    # ------------------------------------------------------------------ validation

    def validate(self, *, require_laterality: bool = False) -> "DuctTree":
        """Check the tree; raise :class:`InputError` naming the first problem. Returns self."""
        validate(self, require_laterality=require_laterality)
        return self


def validate(tree: nx.DiGraph, *, require_laterality: bool = False) -> None:
    """Check a ductal tree against CONVENTIONS §3; raise :class:`InputError` on the first problem.

    Checks: not empty; finite 3D positions; radius > 0; an integer ``system``
    on every node; no directed cycle; each node has at most one primary
    parent (extra parents only on edges flagged ``anastomosis``); exactly one
    root per system; every node reachable from its system's root; primary
    edges never join two systems.
    """
    if tree.number_of_nodes() == 0:
        raise InputError("the tree is empty (no nodes)")
    lat = tree.graph.get("laterality")
    if lat is not None and lat not in ("L", "R"):
        raise InputError(f"laterality must be 'L' or 'R', got {lat!r}", key="laterality")
    if require_laterality and lat is None:
        raise InputError("laterality is required ('L' or 'R')", key="laterality")
    for n, d in tree.nodes(data=True):
        p = d.get("pos")
        if p is None or np.shape(p) != (3,) or not np.all(np.isfinite(np.asarray(p, dtype=float))):
            raise InputError(f"node {n!r}: position must be 3 finite numbers, got {p!r}", key="pos")
        r = d.get("radius")
        if r is None or not np.isfinite(r) or r <= 0:
            raise InputError(f"node {n!r}: radius must be a finite number > 0 mm, got {r!r}", key="radius")
        s = d.get("system")
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise InputError(f"node {n!r}: system must be an integer id, got {s!r}", key="system")
    if not nx.is_directed_acyclic_graph(tree):
        cycle = nx.find_cycle(tree)
        raise InputError(f"the tree has a directed cycle through nodes {[u for u, _ in cycle]}")
    roots_by_system: dict[int, list] = {}
    for n in tree.nodes:
        primary_parents = [u for u in tree.predecessors(n) if not tree.edges[u, n].get("anastomosis")]
        if len(primary_parents) > 1:
            raise InputError(
                f"node {n!r} has {len(primary_parents)} parents {primary_parents}: a loop must be "
                "flagged as an anastomosis (edge attribute anastomosis=True)")
        s = int(tree.nodes[n]["system"])
        if primary_parents:
            u = primary_parents[0]
            if int(tree.nodes[u]["system"]) != s:
                raise InputError(f"edge {u!r}->{n!r} joins systems {tree.nodes[u]['system']} and {s} "
                                 "without being flagged as an anastomosis")
        elif tree.in_degree(n) > 0:
            raise InputError(f"node {n!r} is reached only through anastomosis edges")
        else:
            roots_by_system.setdefault(s, []).append(n)
    systems = {int(d["system"]) for _, d in tree.nodes(data=True)}
    for s in sorted(systems):
        roots = roots_by_system.get(s, [])
        if len(roots) != 1:
            what = "no root" if not roots else f"{len(roots)} roots {sorted(roots, key=_sort_key)}"
            raise InputError(f"duct system {s} has {what}; each system needs exactly one root at its orifice")
    # Reachability: every node of a system hangs below its root through primary edges.
    reached = 0
    for roots in roots_by_system.values():
        stack = list(roots)
        while stack:
            n = stack.pop()
            reached += 1
            stack.extend(v for v in tree.successors(n) if not tree.edges[n, v].get("anastomosis"))
    if reached != tree.number_of_nodes():
        raise InputError(f"{tree.number_of_nodes() - reached} node(s) are disconnected from every root")


# ---------------------------------------------------------------------- helpers

def _sort_key(n: Any) -> tuple:
    return (0, n, "") if isinstance(n, (int, np.integer)) else (1, 0, str(n))


def _components_from_parents(parent: np.ndarray) -> np.ndarray:
    """Label each row with the index (in root order) of the root it hangs from.

    Pointer jumping: each round every row's pointer jumps to its pointer's
    pointer, so a chain of length L settles in log2(L) vectorised rounds.
    """
    n = len(parent)
    rows = np.arange(n)
    ptr = np.where(parent < 0, rows, parent)
    for _ in range(max(1, int(np.ceil(np.log2(max(n, 2))))) + 1):
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            break
        ptr = nxt
    if np.any(parent[ptr] >= 0):
        raise InputError("parent indices contain a cycle")
    roots = np.flatnonzero(parent < 0)
    label = np.full(n, -1, dtype=np.int64)
    label[roots] = np.arange(len(roots))
    return label[ptr]


def _fill_orifice_clocks(tree: DuctTree, given: dict[int, float] | None, roots: list | None = None) -> None:
    """Set ``orifice_clock`` on roots: given per system, else the clock of the root position."""
    if roots is None:
        roots = [n for n in tree.nodes
                 if not any(not tree.edges[u, n].get("anastomosis") for u in tree.predecessors(n))]
    for n in roots:
        d = tree.nodes[n]
        if given and d.get("system") in given:
            d["orifice_clock"] = float(given[d["system"]])
        elif d.get("orifice_clock") is None:
            clock = clock_of_point(d["pos"]) if "pos" in d else None
            if clock is not None:
                d["orifice_clock"] = clock


def _build_arrays(tree: DuctTree) -> dict[str, Any]:
    """Row arrays in depth-first order from each root (parents before children)."""
    primary_children: dict[Any, list] = {n: [] for n in tree.nodes}
    has_parent = set()
    for u, v, a in tree.edges(data=True):
        if not a.get("anastomosis"):
            primary_children[u].append(v)
            has_parent.add(v)
    roots = [n for n in tree.nodes if n not in has_parent]
    roots.sort(key=lambda n: (int(tree.nodes[n].get("system", 0)), _sort_key(n)))
    ids: list = []
    parent_rows: list[int] = []
    index: dict = {}
    for r in roots:
        stack = [(r, -1)]
        while stack:
            n, prow = stack.pop()
            if n in index:  # only possible in an invalid graph; validate() reports it
                continue
            index[n] = len(ids)
            ids.append(n)
            parent_rows.append(prow)
            kids = sorted(primary_children[n], key=_sort_key)
            stack.extend((k, index[n]) for k in reversed(kids))
    nodes = tree.nodes
    pos = np.array([np.asarray(nodes[n].get("pos", (np.nan,) * 3), dtype=float) for n in ids]).reshape(-1, 3)
    rad = np.array([float(nodes[n].get("radius", np.nan)) for n in ids])
    sysid = np.array([int(nodes[n].get("system", 0)) for n in ids], dtype=np.int64)
    par = np.array(parent_rows, dtype=np.int64)
    for a in (pos, rad, sysid, par):
        a.setflags(write=False)
    return {"ids": ids, "index": index, "pos": pos, "radius": rad, "system": sysid, "parent": par}


def iter_rows_children(parent_index: np.ndarray) -> list[list[int]]:
    """For each row, the list of its child rows (from a parent-index array)."""
    kids: list[list[int]] = [[] for _ in range(len(parent_index))]
    for i, p in enumerate(parent_index.tolist()):
        if p >= 0:
            kids[p].append(i)
    return kids


def ensure_tree(obj: Any, *, laterality: str | None = None) -> DuctTree:
    """Return ``obj`` as a DuctTree (copying a plain graph)."""
    if isinstance(obj, DuctTree):
        return obj
    if isinstance(obj, nx.DiGraph):
        return DuctTree.from_graph(obj, laterality=laterality)
    raise TypeError(f"expected a DuctTree or networkx.DiGraph, got {type(obj).__name__}")


def relabel_sequential(tree: DuctTree) -> DuctTree:
    """A copy whose node ids are ``0..N-1`` in row order (parents before children)."""
    mapping = {n: i for i, n in enumerate(tree.node_ids)}
    out = nx.relabel_nodes(tree, mapping, copy=True)
    assert isinstance(out, DuctTree)
    return out


def concat_ids(parts: Iterable[Sequence]) -> list:
    out: list = []
    for p in parts:
        out.extend(p)
    return out
