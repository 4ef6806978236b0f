"""Inner loops compiled by numba (a dependency), with their plain-Python fallbacks.

A loop written scalar by scalar is compiled once (cached on disk next to its
module) the first time it is asked for. The compiled code does the same
operations in the same order as the plain loop (no fast-math), so it gives the
very same values; callers keep a numpy path for when numba is missing, its
cache is broken, or ``DUCTREE_NO_NUMBA`` is set.
"""

from __future__ import annotations

import os
from typing import Callable

_COMPILED: dict[Callable, Callable | None] = {}

#: Called once per process, with the loop's name, when a loop has no usable compiled copy on disk and so
#: is compiled now (seconds, once per machine and version): the command line says so. ``None``: silent.
on_compile: Callable[[str], None] | None = None


def compiled(func: Callable) -> Callable | None:
    """``func`` compiled by numba, or ``None`` (use the numpy path) without numba, after a failure, or with
    ``DUCTREE_NO_NUMBA`` set."""
    if os.environ.get("DUCTREE_NO_NUMBA"):
        return None
    if func not in _COMPILED:
        try:
            import numba
        except ImportError:                    # pragma: no cover - numba is a dependency
            _COMPILED[func] = None
        else:
            _COMPILED[func] = numba.njit(cache=True)(func)
            _tell_if_compiling(_COMPILED[func], func.__name__)
    return _COMPILED[func]


def _tell_if_compiling(dispatcher, name: str) -> None:
    """Call :data:`on_compile` (once) when ``dispatcher`` has no usable cache: its first call compiles."""
    global on_compile
    if on_compile is None:
        return
    try:
        # numba's own test of its cache index: empty when missing, of another numba or of another source
        cached = bool(dispatcher._cache._cache_file._load_index())
    except Exception:                          # pragma: no cover - numba's internals moved: say nothing
        return
    if not cached:
        hook, on_compile = on_compile, None
        hook(name)


def failed(func: Callable) -> None:
    """Stop using the compiled ``func`` (a broken cache or build): its numpy path serves from now on."""
    _COMPILED[func] = None
