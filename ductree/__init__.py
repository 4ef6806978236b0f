"""ductree: rebuild the 3D ductal tree of the breast and plan a targeted excision.

All coordinates are in the breast frame (BF, millimetres; see
:mod:`ductree.frame`) unless a name says LPS.

The public names below are imported lazily, so ``import ductree`` (and the
command line's ``--help``) stays fast.

Examples
--------
>>> import ductree
>>> tree = ductree.DuctTree.from_arrays([[0, 0, 0], [0, 10, 0]], [1.0, 0.8], [-1, 0], laterality="L")
>>> ductree.summary(tree)["branches"]
1
"""

from __future__ import annotations

from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "DuctTree": "ductree.tree",
    "validate": "ductree.tree",
    "InputError": "ductree.errors",
    "generation": "ductree.measures",
    "strahler": "ductree.measures",
    "segment_length": "ductree.measures",
    "path_mm": "ductree.measures",
    "branches": "ductree.measures",
    "tips": "ductree.measures",
    "bifurcations": "ductree.measures",
    "summary": "ductree.measures",
    "annotate": "ductree.measures",
    "read_tree": "ductree.io",
    "write_tree": "ductree.io",
    "locate_point": "ductree.frame",
    "parse_clock": "ductree.frame",
    "point_from_clock": "ductree.frame",
    "Case": "ductree.case",
    "load_case": "ductree.case",
    "place_lesions": "ductree.lesions",
    "plan_excision": "ductree.plan",
    "case_plan": "ductree.plan",
    "generate_tree": "ductree.phantom",
    "insert_lesions": "ductree.phantom",
    "write_phantom_case": "ductree.phantom",
    "compare_trees": "ductree.metrics",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS, also=("__version__",))
