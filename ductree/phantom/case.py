"""Write a phantom case folder: ``tree.json``, ``truth.json`` and ``case.toml``.

- ``tree.json`` — the phantom tree (:func:`ductree.io.write_tree`);
- ``truth.json`` — the ground truth, schema ``ductree.phantom-truth/1``:
  generator settings, the tree summary, each system's orifice and lobe clock,
  and every lesion with its exact values (:class:`PhantomLesion`);
- ``case.toml`` — what a user would write (CONVENTIONS §5): lesion clocks
  rounded to the nearest half hour and depths to whole mm, as reported
  clinically, so a pipeline run on the case can be scored against the truth.

Every file is written atomically (:mod:`ductree.atomic`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from ..atomic import write_text
from ..errors import InputError
from ..frame import format_clock, parse_laterality
from ..tree import DuctTree
from .grow import generate_tree
from .lesions import PhantomLesion, insert_lesions
from .params import PhantomParams

TRUTH_SCHEMA = "ductree.phantom-truth/1"
TREE_FILE = "tree.json"
TRUTH_FILE = "truth.json"
CASE_FILE = "case.toml"


@dataclass
class PhantomCase:
    """A phantom case written to ``folder``: its files, tree and lesions."""

    folder: Path
    case_path: Path
    tree_path: Path
    truth_path: Path
    tree: DuctTree
    lesions: list[PhantomLesion]
    truth: dict = field(repr=False)


def case_toml_dict(case_id: str, laterality: str, breast_depth_mm: float, lesions: list[PhantomLesion],
                   tree_file: str = TREE_FILE) -> dict:
    """The ``case.toml`` content (CONVENTIONS §5) for a phantom: clinically rounded lesion specs."""
    data: dict = {"id": case_id, "laterality": laterality, "breast_depth_mm": float(breast_depth_mm),
                  "source": {"tree": tree_file}}
    if lesions:
        data["lesion"] = [{
            "label": les.label,
            "clock": format_clock(les.clock, half_hour=True),
            "depth_mm": int(round(les.depth_mm)),
            "size_mm": float(les.size_mm),
            "kind": les.kind,
        } for les in lesions]
    return data


def case_toml_text(data: dict) -> str:
    """TOML text of a case dict, with one ``[[lesion]]`` table per lesion (never inline)."""
    import tomli_w

    head = {k: v for k, v in data.items() if k != "lesion"}
    text = "# A phantom case written by ductree phantom; the exact ground truth is in truth.json.\n"
    text += tomli_w.dumps(head)
    for les in data.get("lesion", []):
        text += "\n[[lesion]]\n" + tomli_w.dumps(les)
    return text


def truth_dict(tree: DuctTree, lesions: list[PhantomLesion], *, case_id: str, seed: int, systems: int,
               branches: int, breast_depth_mm: float, params: PhantomParams, sinus: bool,
               clearance_mm: float) -> dict:
    """The ground truth of a phantom case (schema ``ductree.phantom-truth/1``)."""
    from ..measures import summary

    per_system = []
    for r in tree.roots():
        d = tree.nodes[r]
        per_system.append({
            "system": int(d["system"]), "root": int(r), "orifice_bf": [float(x) for x in d["pos"]],
            "orifice_clock": float(d["orifice_clock"]), "orifice_clock_text": format_clock(d["orifice_clock"]),
            "lobe_clock": float(d["lobe_clock"]) if d.get("lobe_clock") is not None else None,
        })
    return {
        "schema": TRUTH_SCHEMA,
        "case_id": case_id,
        "frame": "BF",
        "units": "mm",
        "laterality": tree.laterality,
        "breast_depth_mm": float(breast_depth_mm),
        "generator": {"seed": int(seed), "systems": int(systems), "branches_per_system": int(branches),
                      "sinus": bool(sinus), "clearance_mm": float(clearance_mm), "params": params.as_dict()},
        "tree": {"file": TREE_FILE, "summary": summary(tree)},
        "systems": per_system,
        "lesions": [les.as_dict() for les in lesions],
    }


def phantom_case(
    out_dir: str | PathLike,
    seed: int = 0,
    systems: int = 6,
    branches: int = 60,
    lesions: int = 2,
    laterality: str = "R",
    breast_depth_mm: float = 100.0,
    *,
    sinus: bool = True,
    clearance_mm: float = 0.3,
    params: PhantomParams | None = None,
) -> PhantomCase:
    """Generate a phantom with lesions and write its case folder; return everything made.

    See :func:`write_phantom_case` for the files. The folder is created if needed.
    """
    lat = parse_laterality(laterality)
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError("exists and is not a folder", source=folder)
    params = params or PhantomParams()
    tree = generate_tree(seed, systems, branches, laterality=lat, breast_depth_mm=breast_depth_mm,
                         sinus=sinus, clearance_mm=clearance_mm, params=params)
    found = insert_lesions(tree, lesions, seed, breast_depth_mm=breast_depth_mm)
    case_id = f"phantom-{int(seed)}"
    truth = truth_dict(tree, found, case_id=case_id, seed=seed, systems=systems, branches=branches,
                       breast_depth_mm=breast_depth_mm, params=params, sinus=sinus, clearance_mm=clearance_mm)
    folder.mkdir(parents=True, exist_ok=True)
    from ..io import write_tree
    from ..io.treejson import _plain

    tree_path = write_tree(tree, folder / TREE_FILE)
    truth_path = write_text(folder / TRUTH_FILE, json.dumps(_plain(truth), indent=1) + "\n")
    case_path = write_text(folder / CASE_FILE, case_toml_text(case_toml_dict(case_id, lat, breast_depth_mm, found)))
    return PhantomCase(folder=folder, case_path=case_path, tree_path=tree_path, truth_path=truth_path,
                       tree=tree, lesions=found, truth=truth)


def write_phantom_case(
    out_dir: str | PathLike,
    seed: int = 0,
    systems: int = 6,
    branches: int = 60,
    lesions: int = 2,
    laterality: str = "R",
    breast_depth_mm: float = 100.0,
) -> Path:
    """Write a phantom case folder and return the path of its ``case.toml``.

    Files (all atomic): ``tree.json`` (the tree), ``truth.json`` (ground
    truth, schema ``ductree.phantom-truth/1``) and ``case.toml`` (id
    ``phantom-<seed>``, laterality, breast depth, ``[source] tree``, one
    ``[[lesion]]`` per lesion with its clock to the nearest half hour and its
    depth to the nearest mm).

    Examples
    --------
    >>> import tempfile
    >>> p = write_phantom_case(tempfile.mkdtemp(), seed=3, systems=2, branches=9, lesions=1)
    >>> p.name, sorted(x.name for x in p.parent.iterdir())
    ('case.toml', ['case.toml', 'tree.json', 'truth.json'])
    """
    return phantom_case(out_dir, seed, systems, branches, lesions, laterality, breast_depth_mm).case_path
