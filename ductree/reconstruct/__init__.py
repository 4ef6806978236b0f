"""Sources -> DuctTree. One module per source; each returns a tree in BF mm.

:func:`tree_from_case` picks the builder from the case's ``[source]``:
a tree file is read directly; a volume, a ductogram pair or a scope log is
reconstructed by its module (``volume``, ``biplane``, ``scope``), each of
which provides ``tree_from_case(case) -> DuctTree``. A scope log given beside
another source is fused onto that source's tree (``fuse``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:
    from ..case import Case
    from ..tree import DuctTree

#: source kind -> module inside ductree.reconstruct providing tree_from_case(case)
BUILDERS = {
    "volume": "volume",
    "biplane": "biplane",
    "navlog": "scope",
}


def tree_from_case(case: "Case") -> "DuctTree":
    """Build the case's tree from its primary source (BF mm)."""
    kind = case.source.kind
    if kind == "tree":
        from ..io import read_tree

        tree = read_tree(case.source.tree, laterality=case.laterality)
    else:
        tree = _builder(kind, case).tree_from_case(case)
    if case.source.navlog is not None and kind != "navlog":
        tree = _builder("fuse", case).fuse_case(case, tree)
    return tree


def _builder(kind: str, case: "Case"):
    name = BUILDERS.get(kind, kind)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise InputError(f"source kind {kind!r} is not supported by this version of ductree",
                         source=case.path, key="source") from None
