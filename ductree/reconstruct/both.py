"""Work on the two views of a ductogram side by side, in two threads.

Reading a view is mostly numpy and scipy on whole images, which let go of
the GIL, so the CC and the lateral views are read at once on a machine with
two cores. The results, and the error raised first, are those of doing the CC
view and then the lateral one.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

A = TypeVar("A")
B = TypeVar("B")

_NAME = "ductree-view"
_POOL: dict[int, ThreadPoolExecutor] = {}     #: per process: a pool made before a fork has no thread after it


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """``(first(), second())``, the second run in a worker thread while the first runs here (in turn when
    already on that worker: it would wait for itself)."""
    if threading.current_thread().name.startswith(_NAME):
        return first(), second()
    pool = _POOL.get(os.getpid())
    if pool is None:
        pool = _POOL[os.getpid()] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_NAME)
    other = pool.submit(second)
    try:
        a = first()
    except BaseException:
        other.cancel()
        try:
            other.result()              # let it finish: nothing of it is left running behind the error
        except BaseException:
            pass
        raise
    return a, other.result()
