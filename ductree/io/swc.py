"""``tree.swc``: the SWC morphology format, radius in mm.

Layout (one node per line, whitespace-separated)::

    # ductree SWC
    # laterality R
    # units mm
    # frame BF
    # system 0 root 1 orifice_clock 10.5 (10:30)
    # system 1 root 58 orifice_clock 3.25 (3:15)
    # columns: id type x y z radius parent
    1 1 0.0 0.0 2.1 0.9 -1
    2 5 0.2 4.8 2.3 0.85 1
    ...

Columns: ``id`` (integer), ``type`` (1 = orifice/root, 5 = duct, 6 =
terminal tip), ``x y z`` (breast frame BF, mm), ``radius`` (mm), ``parent``
(the parent's id, ``-1`` for a root). Each root is one duct system.

Writing
-------
Node ids are renumbered ``1..N`` in row order (depth-first from each root,
parents before children), so the file is valid for tools that insist on
sequential ids. Floats are written with Python's shortest round-tripping
``repr``, so positions and radii come back bit-for-bit. The header records
laterality and, per system, its id, root id and orifice clock (hours and
``H:MM``).

What SWC loses: the original node ids, every attribute other than position,
radius and system, and **anastomoses** — SWC gives each node one parent, so
a loop cannot be written. The writer drops the loop-closing edges (those
flagged ``anastomosis=True``) and says so with a
:class:`~ductree.errors.DuctreeWarning`.

Reading
-------
Accepts what SWC files from other tools contain: ``#`` comment lines anywhere,
blank lines, tabs and repeated spaces, Windows or old Mac line endings,
non-sequential ids, a parent listed after its child, several roots (any
negative parent marks a root; each root is one system, numbered in root
order unless the header names them), and extra trailing columns (ignored).
The type column must be a number but is otherwise ignored: roots and tips
follow from the topology. Coordinates are taken as mm; a ``# units um``
header line (also ``µm``, ``micron``) scales coordinates and radii to mm.

Refused with an :class:`~ductree.errors.InputError` naming the file and line:
fewer than 7 columns, a non-numeric field, a non-integer id, a duplicate id,
a parent id that does not exist, a cycle of parents, a non-finite
coordinate, a radius that is ``<= 0`` or NaN, a header line that
contradicts the data (bad laterality, unknown units, a system whose root is
not a root).

Parsing is vectorised (tokens are collected per line, then converted by
numpy in one call), so 100 000 lines read in a fraction of a second.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..errors import DuctreeWarning, InputError
from ..tree import DuctTree, ensure_tree

#: SWC type codes written by ductree.
TYPE_ROOT, TYPE_DUCT, TYPE_TIP = 1, 5, 6

COLUMNS = ("id", "type", "x", "y", "z", "radius", "parent")

_HEADER_LATERALITY = re.compile(r"^#\s*laterality\s*[:=]?\s*(\S+)\s*$", re.IGNORECASE)
_HEADER_UNITS = re.compile(r"^#\s*units\s*[:=]?\s*(\S+)\s*$", re.IGNORECASE)
_HEADER_FRAME = re.compile(r"^#\s*frame\s*[:=]?\s*(\S+)\s*$", re.IGNORECASE)
_HEADER_SYSTEM = re.compile(
    r"^#\s*system\s+(\S+)\s+root\s+(\S+)\s+orifice_clock\s+(\S+)(\s.*)?$", re.IGNORECASE)

_UNIT_SCALE = {"mm": 1.0, "um": 1e-3, "µm": 1e-3, "μm": 1e-3, "micron": 1e-3, "microns": 1e-3}


# ---------------------------------------------------------------------------- writing

def format_swc(tree: DuctTree) -> str:
    """The SWC text of ``tree`` (see module docs); warns when anastomoses are dropped."""
    from ..frame import format_clock
    from ..measures import child_count

    tree = ensure_tree(tree)
    loops = tree.anastomoses()
    if loops:
        warnings.warn(
            f"SWC cannot hold anastomosis loops: dropped {len(loops)} loop-closing edge(s) "
            f"{loops[:5]}{' ...' if len(loops) > 5 else ''}; write .json, .graphml or .vtp to keep them",
            DuctreeWarning, stacklevel=3)
    ids = tree.node_ids
    par = tree.parent_index
    types = np.where(par < 0, TYPE_ROOT, np.where(child_count(tree) == 0, TYPE_TIP, TYPE_DUCT))
    lat = tree.laterality
    head = ["# ductree SWC", f"# laterality {lat if lat else 'unknown'}", "# units mm", "# frame BF"]
    for row in np.flatnonzero(par < 0).tolist():
        d = tree.nodes[ids[row]]
        clock = d.get("orifice_clock")
        clock_text = "-" if clock is None else f"{float(clock)!r} ({format_clock(float(clock))})"
        head.append(f"# system {int(d['system'])} root {row + 1} orifice_clock {clock_text}")
    head.append("# columns: " + " ".join(COLUMNS))
    parent_ids = np.where(par < 0, -1, par + 1).tolist()
    body = [
        f"{i} {t} {x!r} {y!r} {z!r} {r!r} {p}"
        for i, t, (x, y, z), r, p in zip(range(1, len(ids) + 1), types.tolist(), tree.positions.tolist(),
                                         tree.radii.tolist(), parent_ids)
    ]
    return "\n".join(head + body) + "\n"


def write(tree: DuctTree, path: Path) -> None:
    """Write ``tree`` as SWC (radius in mm, BF), atomically. Anastomoses are dropped with a warning."""
    write_text(path, format_swc(tree))


# ---------------------------------------------------------------------------- reading

def read(path: Path) -> DuctTree:
    """Read an SWC file (see module docs) into a :class:`DuctTree` (BF mm)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", source=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # comments in an old 8-bit encoding; numbers are ASCII anyway
    return parse_swc(text, source=path)


def parse_swc(text: str, *, source: str | Path | None = None) -> DuctTree:
    """Parse SWC text into a :class:`DuctTree`; errors name ``source`` and the line."""
    lines = text.splitlines()
    toks = [ln.split() for ln in lines]
    data_idx = [i for i, t in enumerate(toks) if t and t[0][0] != "#"]
    if not data_idx:
        raise InputError("no nodes: every line is blank or a comment", source=source)
    lineno = np.asarray(data_idx, dtype=np.int64) + 1  # 1-based line of each data row

    def err(row: int | None, message: str, key: str | None = None) -> InputError:
        return InputError(message, source=source, line=None if row is None else int(lineno[row]), key=key)

    short = [k for k, i in enumerate(data_idx) if len(toks[i]) < 7]
    if short:
        k = short[0]
        n = len(toks[data_idx[k]])
        raise err(k, f"expected 7 columns (id type x y z radius parent), found {n}")
    flat = [v for i in data_idx for v in toks[i][:7]]
    try:
        values = np.array(flat, dtype=np.float64).reshape(-1, 7)
    except ValueError:
        values = None
    if values is None:
        for k, i in enumerate(data_idx):
            for col, v in zip(COLUMNS, toks[i][:7]):
                try:
                    float(v)
                except ValueError:
                    raise err(k, f"not a number: {v!r}", key=col) from None
        raise err(None, "unreadable numbers")  # pragma: no cover - numpy and float() agree

    n = len(values)
    id_f, par_f = values[:, 0], values[:, 6]
    for col, arr in (("id", id_f), ("parent", par_f)):
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))
        if len(bad):
            raise err(int(bad[0]), f"must be an integer, got {toks[data_idx[bad[0]]][COLUMNS.index(col)]!r}",
                      key=col)
    ids = id_f.astype(np.int64)
    parent_id = par_f.astype(np.int64)
    xyz = values[:, 2:5].copy()
    radius = values[:, 5].copy()

    bad = np.flatnonzero(~np.isfinite(xyz).all(axis=1))
    if len(bad):
        raise err(int(bad[0]), f"coordinates must be finite numbers, got {xyz[bad[0]].tolist()}", key="x y z")
    bad = np.flatnonzero(~(radius > 0) | ~np.isfinite(radius))
    if len(bad):
        raise err(int(bad[0]), f"must be a finite number > 0 mm, got {float(radius[bad[0]])!r}", key="radius")

    # Duplicate ids: report the second occurrence.
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if len(dup):
        second = order[dup + 1]
        k = int(second.min())
        first = int(order[np.searchsorted(sorted_ids, ids[k])])
        raise err(k, f"{ids[k]} is used twice (first on line {lineno[first]})", key="id")

    # Parent id -> row.
    is_root = parent_id < 0
    pos_in_sorted = np.searchsorted(sorted_ids, parent_id)
    pos_in_sorted = np.clip(pos_in_sorted, 0, n - 1)
    found = sorted_ids[pos_in_sorted] == parent_id
    missing = np.flatnonzero(~is_root & ~found)
    if len(missing):
        k = int(missing[0])
        raise err(k, f"no node has id {parent_id[k]}", key="parent")
    parent_row = np.where(is_root, -1, order[pos_in_sorted]).astype(np.int64)

    root_of = _root_rows(parent_row)
    if np.any(root_of < 0):
        k = int(np.flatnonzero(root_of < 0)[0])
        cycle = _find_cycle(parent_row, k)
        names = " -> ".join(str(ids[c]) for c in cycle + [cycle[0]])
        raise err(int(min(cycle)), f"cycle of parents: {names}", key="parent")

    header = _parse_header(lines, toks, source)
    if header["scale"] != 1.0:
        xyz *= header["scale"]
        radius *= header["scale"]

    roots = np.flatnonzero(is_root)
    id_to_root_row = {int(ids[r]): int(r) for r in roots}
    system_of_root: dict[int, int] = {}
    clocks: dict[int, float] = {}
    for sys_id, root_id, clock, line in header["systems"]:
        r = id_to_root_row.get(root_id)
        if r is None:
            raise InputError(f"header names root {root_id} for system {sys_id}, but no root has that id",
                             source=source, line=line, key="system")
        if sys_id in system_of_root.values():
            raise InputError(f"system {sys_id} is named twice in the header", source=source, line=line,
                             key="system")
        system_of_root[r] = sys_id
        if clock is not None:
            clocks[sys_id] = clock
    next_id = max(system_of_root.values(), default=-1) + 1
    for r in roots.tolist():
        if r not in system_of_root:
            system_of_root[r] = next_id
            next_id += 1
    root_system = np.full(n, -1, dtype=np.int64)
    root_system[roots] = [system_of_root[r] for r in roots.tolist()]
    system = root_system[root_of]

    return DuctTree.from_arrays(xyz, radius, parent_row, system, laterality=header["laterality"],
                                node_ids=ids.tolist(), orifice_clock=clocks)


def _root_rows(parent_row: np.ndarray) -> np.ndarray:
    """Row of the root above each row (pointer doubling); -1 for rows in or under a cycle."""
    n = len(parent_row)
    up = np.where(parent_row < 0, np.arange(n), parent_row)
    for _ in range(max(1, int(math.ceil(math.log2(n + 1)))) + 1):
        nxt = up[up]
        if np.array_equal(nxt, up):
            break
        up = nxt
    return np.where(parent_row[up] < 0, up, -1)


def _find_cycle(parent_row: np.ndarray, start: int) -> list[int]:
    """The rows of the parent cycle reached from ``start`` (``start`` is in or under it)."""
    seen: dict[int, int] = {}
    path: list[int] = []
    j = start
    while j not in seen:
        seen[j] = len(path)
        path.append(j)
        j = int(parent_row[j])
    return path[seen[j]:]


def _parse_header(lines: list[str], toks: list[list[str]], source) -> dict:
    """Laterality, unit scale and per-system lines from the ``#`` comments."""
    from ..frame import parse_clock, parse_laterality

    out: dict = {"laterality": None, "scale": 1.0, "systems": []}
    for i, t in enumerate(toks):
        if not t or t[0][0] != "#":
            continue
        line = lines[i].strip()
        m = _HEADER_LATERALITY.match(line)
        if m:
            value = m.group(1)
            if value.lower() in ("unknown", "-", "none", "?"):
                out["laterality"] = None
            else:
                try:
                    out["laterality"] = parse_laterality(value)
                except InputError as exc:
                    raise exc.located(source=source, line=i + 1) from None
            continue
        m = _HEADER_UNITS.match(line)
        if m:
            unit = m.group(1).lower()
            if unit not in _UNIT_SCALE:
                raise InputError(f"unknown units {m.group(1)!r} (expected mm or um)", source=source,
                                 line=i + 1, key="units")
            out["scale"] = _UNIT_SCALE[unit]
            continue
        m = _HEADER_FRAME.match(line)
        if m:
            if m.group(1).upper() != "BF":
                raise InputError(f"frame {m.group(1)!r} is not supported; SWC trees are in the breast frame BF",
                                 source=source, line=i + 1, key="frame")
            continue
        m = _HEADER_SYSTEM.match(line)
        if m:
            try:
                sys_id, root_id = int(m.group(1)), int(m.group(2))
            except ValueError:
                raise InputError("expected '# system <int> root <id> orifice_clock <hours>'", source=source,
                                 line=i + 1, key="system") from None
            clock_text = m.group(3)
            try:
                clock = None if clock_text == "-" else parse_clock(clock_text, key="orifice_clock")
            except InputError as exc:
                raise exc.located(source=source, line=i + 1) from None
            out["systems"].append((sys_id, root_id, clock, i + 1))
    return out

