"""Work on the two views of a ductogram side by side, in two threads.

Reading a view is mostly numpy and scipy on whole images, which let go of
the GIL, so the CC and the lateral views are read at once on a machine with
two cores. The results, and the error raised first, are those of doing the CC
view and then the lateral one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

A = TypeVar("A")
B = TypeVar("B")

_POOL: list[ThreadPoolExecutor] = []


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """``(first(), second())``, the second run in a worker thread while the first runs here."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="ductree-view"))
    other = _POOL[0].submit(second)
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
