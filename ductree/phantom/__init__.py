"""Phantom ductal trees with ground truth: the test bed of every other part of ductree.

- :func:`generate_tree` grows a forest of duct systems from the nipple
  (figures from DOMAIN.md §2; constants in :class:`PhantomParams`);
- :func:`insert_lesions` places lesions on its ducts with their true location;
- :func:`write_phantom_case` writes ``tree.json``, ``truth.json`` and ``case.toml``;
- :func:`simulate` turns a phantom case into simulated inputs through :data:`SIMULATORS`.

Everything is reproducible from the seed.

Examples
--------
>>> from ductree.phantom import generate_tree, insert_lesions
>>> tree = generate_tree(seed=7, systems=3, branches=15)
>>> [les.system for les in insert_lesions(tree, 3, seed=7)] != []
True
"""

from .case import PhantomCase, phantom_case, write_phantom_case
from .grow import Envelope, generate_tree
from .lesions import KINDS, PhantomLesion, insert_lesions
from .params import PhantomParams
from .simulate import SIMULATORS, simulate

__all__ = [
    "Envelope", "KINDS", "PhantomCase", "PhantomLesion", "PhantomParams", "SIMULATORS",
    "generate_tree", "insert_lesions", "phantom_case", "simulate", "write_phantom_case",
]
