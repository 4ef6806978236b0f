"""The two views read side by side (ductree.reconstruct.both): the results and errors of reading them in turn."""

from __future__ import annotations

import threading

import pytest

from ductree.reconstruct.both import both


def test_results_in_order_and_the_second_on_another_thread():
    where = {}

    def first():
        where["first"] = threading.get_ident()
        return "cc"

    def second():
        where["second"] = threading.get_ident()
        return "lateral"

    assert both(first, second) == ("cc", "lateral")
    assert where["first"] == threading.get_ident() != where["second"]


def test_the_first_views_error_wins_and_the_second_is_finished():
    done, started, finished = threading.Event(), threading.Event(), threading.Event()

    def second():
        started.set()
        done.wait(5)
        finished.set()
        raise ValueError("lateral")

    def first():
        done.set()
        raise KeyError("cc")

    with pytest.raises(KeyError, match="cc"):
        both(first, second)
    # nothing of the lateral is left running behind the error: cancelled before it began, or finished
    assert finished.is_set() or not started.is_set()
    with pytest.raises(ValueError, match="lateral"):
        both(lambda: "cc", second)


def test_nested_and_after_a_fork():
    """On the worker itself the two run in turn (the worker would wait for itself); a forked child, whose
    copy of the parent's pool has no thread, gets a pool of its own."""
    import multiprocessing as mp

    got = []
    t = threading.Thread(target=lambda: got.append(both(lambda: both(lambda: 1, lambda: 2),
                                                        lambda: both(lambda: 3, lambda: 4))), daemon=True)
    t.start()
    t.join(20)                                   # a worker waiting for itself would never return
    assert got == [((1, 2), (3, 4))]
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as p:
        assert p.apply_async(both, (_cc, _lateral)).get(timeout=20) == ("cc", "lateral")


def _cc():
    return "cc"


def _lateral():
    return "lateral"
