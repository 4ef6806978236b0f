"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package lists ``name -> module`` and gets ``__getattr__`` / ``__dir__``
that import the module on first use, so importing the package (and the
command line's ``--help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, namespace: dict[str, Any], exports: dict[str, str], *,
                 also: tuple[str, ...] = ()) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose globals are ``namespace``.

    ``exports`` maps a public name to its module, absolute (``"ductree.tree"``)
    or relative to the package (``".model"``). A value is cached in the
    package's namespace after its first import. ``also`` names eager
    attributes that ``dir()`` should list too (``__version__``).
    """
    public = sorted(exports) + list(also)

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return public

    return __getattr__, __dir__
