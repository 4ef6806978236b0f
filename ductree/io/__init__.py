"""Tree formats, read and written by file suffix (as trimesh's exchange does).

``read_tree(path)`` and ``write_tree(tree, path)`` look the suffix up in
:data:`TREE_FORMATS`; adding a format is one entry naming its module, which
provides ``read(path) -> DuctTree`` and ``write(tree, path) -> None``.
Writers always go through :mod:`ductree.atomic`, so nothing half-written
stands under a final name.
"""

from __future__ import annotations

import importlib
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:
    from ..tree import DuctTree

#: suffix -> module (inside ductree.io) with read() and write()
TREE_FORMATS: dict[str, str] = {
    ".json": "treejson",
    ".swc": "swc",
    ".graphml": "graphml",
    ".vtp": "vtp",
}


def tree_suffix(path: str | PathLike) -> str:
    """The lower-case suffix that picks a tree format."""
    return Path(path).suffix.lower()


def _module(path: str | PathLike, purpose: str):
    suffix = tree_suffix(path)
    name = TREE_FORMATS.get(suffix)
    if name is None:
        known = ", ".join(sorted(TREE_FORMATS))
        raise InputError(f"unknown tree format {suffix or '(no suffix)'!r} for {purpose}; known: {known}",
                         source=path)
    return importlib.import_module(f"{__name__}.{name}")


def read_tree(path: str | PathLike, *, laterality: str | None = None) -> "DuctTree":
    """Read a ductal tree from ``path`` (format by suffix) and validate it.

    ``laterality`` fills in a laterality the file does not carry (SWC, say);
    a file that carries a different one is an error.
    """
    from ..atomic import protect_input

    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", source=p)
    protect_input(p)  # an input is never overwritten by an output of this run
    tree = _module(p, "reading").read(p)
    if laterality is not None:
        from ..frame import parse_laterality

        lat = parse_laterality(laterality)
        if tree.laterality not in (None, lat):
            raise InputError(f"the tree is laterality {tree.laterality} but {lat} was given",
                             source=p, key="laterality")
        tree.laterality = lat
    try:
        tree.validate()
    except InputError as exc:
        raise exc.located(source=p) from None
    return tree


def write_tree(tree: "DuctTree", path: str | PathLike) -> Path:
    """Write ``tree`` to ``path`` (format by suffix), atomically. Returns the path."""
    from ..atomic import check_output_path

    module = _module(path, "writing")
    check_output_path(path)
    tree.validate()
    module.write(tree, Path(path))
    return Path(path)
