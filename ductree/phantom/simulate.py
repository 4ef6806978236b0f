"""Simulated inputs made from a phantom case (volumes, biplane ductograms, scope logs).

A registry, as :data:`ductree.io.TREE_FORMATS` is for formats: each kind
names ``"module:function"`` and later parts of ductree add their own entry.
The function is called as ``function(case_dir=..., tree=..., lesions=...,
seed=..., **options)`` and returns the paths it wrote.
"""

from __future__ import annotations

import importlib
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from ..tree import DuctTree
    from .lesions import PhantomLesion

#: kind -> "module:function" (e.g. "volume" -> "ductree.phantom.volume:simulate_volume").
SIMULATORS: dict[str, str] = {
    "biplane": "ductree.phantom.ductogram_sim:simulate_biplane",
    "navlog": "ductree.phantom.navlog_sim:simulate_navlog",
    "volume": "ductree.phantom.voxelize:simulate_volume",
}


def simulate(kind: str, case_dir: str | PathLike, tree: "DuctTree", lesions: "list[PhantomLesion]",
             seed: int = 0, **options: Any) -> Any:
    """Run the simulator registered for ``kind`` on a phantom case; return what it returns.

    Raises :class:`InputError` naming the kind when none is registered.
    """
    target = SIMULATORS.get(kind)
    if target is None:
        known = ", ".join(sorted(SIMULATORS)) or "none registered yet"
        raise InputError(f"unknown simulation {kind!r}; known: {known}", key="simulate")
    module, _, func = target.partition(":")
    fn = getattr(importlib.import_module(module), func)
    return fn(case_dir=Path(case_dir), tree=tree, lesions=lesions, seed=seed, **options)
