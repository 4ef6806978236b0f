"""The benchmark table: each row is one figure beside the peer's figure from the same run.

A benchmark module is ``benchmarks/bench_<name>.py`` with a function
``run(quick: bool) -> list[Row]``. This machine is shared and noisy:
absolute times drift, ratios measured in one run hold, so every row carries
the ratio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Row:
    """One line of the table.

    ``figure`` is ductree's number, ``peer`` the peer library's from the same
    run (``None`` where there is no peer), ``unit`` says what both are in,
    ``ratio`` is computed as peer / figure for times (``higher_is_better=False``:
    a ratio > 1 means ductree is faster) and figure / peer otherwise.
    ``target`` states the goal in words; ``note`` anything else.
    """

    benchmark: str
    metric: str
    figure: float
    unit: str
    peer_name: str = "-"
    peer: float | None = None
    higher_is_better: bool = False
    target: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.peer is None or self.figure == 0 or self.peer == 0:
            return None
        return self.figure / self.peer if self.higher_is_better else self.peer / self.figure


def timed(fn: Callable, *args, repeat: int = 1, **kwargs) -> tuple[float, object]:
    """Best wall time (s) over ``repeat`` calls, and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, result


def format_table(rows: list[Row]) -> str:
    header = ("benchmark", "metric", "ductree", "peer", "peer figure", "ratio", "target")
    body = []
    for r in rows:
        body.append((
            r.benchmark, r.metric, f"{r.figure:.4g} {r.unit}", r.peer_name,
            "-" if r.peer is None else f"{r.peer:.4g} {r.unit}",
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target + (f" ({r.note})" if r.note else ""),
        ))
    widths = [max(len(str(x[i])) for x in [header, *body]) for i in range(len(header))]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, body)])
