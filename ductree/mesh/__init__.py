"""Watertight surfaces of a ductal tree, for printing and viewing, and model export.

- :func:`tree_to_mesh` — DuctTree -> :class:`ModelBodies`: one closed,
  2-manifold, outward body per duct system (the union of smooth swept tubes,
  within a tolerance of the ideal union of round cones), lesions, an optional
  nipple–areola context body and a base plate;
- :func:`write_model` — mesh, write and check the file in one call;
- :func:`export_model` / :func:`read_model` — STL, 3MF, GLB, PLY, OBJ, VTP by
  suffix, in BF or patient LPS;
- :func:`check_watertight`, :func:`fidelity` — independent checks.

Everything is in the breast frame (BF, mm) unless a name says LPS.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "tree_to_mesh": ".model",
    "write_model": ".model",
    "resolve_tolerance": ".model",
    "ModelBodies": ".bodies",
    "Body": ".bodies",
    "LesionShape": ".bodies",
    "NippleAreola": ".bodies",
    "BreastOutline": ".bodies",
    "nipple_areola_body": ".bodies",
    "breast_outline_body": ".bodies",
    "lesion_body": ".bodies",
    "base_plate": ".bodies",
    "export_model": ".export",
    "read_model": ".export",
    "MODEL_FORMATS": ".export",
    "check_watertight": ".quality",
    "MeshCheck": ".quality",
    "fidelity": ".quality",
    "Fidelity": ".quality",
    "round_cones_of_tree": ".quality",
    "Tolerance": ".tubes",
    "QUALITIES": ".tubes",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
