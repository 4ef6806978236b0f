"""Phantom generation speed: a full breast (10 systems x 400 branches) and one small system.

Peer: there is no Python library that grows breast ductal trees (VICTRE's
breastPhantom is C++ and makes voxel phantoms). The peer here is a naive
baseline doing the same work without the spatial index: every clearance
check compares the candidate segments with *all* placed segments. The same
seed gives the identical tree either way (checked below), so the ratio is
what the KD-tree buys.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .harness import Row, timed


@contextmanager
def _brute_force_space():
    """Swap the generator's segment index for a brute-force one (same answers, no KD-tree)."""
    from ductree.phantom import grow, space

    class BruteSpace(space.SegmentSpace):
        def near(self, center, radius):  # every placed segment; the exact checks do the rest
            return np.arange(self.n)

    saved = grow.SegmentSpace
    grow.SegmentSpace = BruteSpace
    try:
        yield
    finally:
        grow.SegmentSpace = saved


def _case(seed: int, systems: int, branches: int, *, repeat: int, peer: bool, target: str, name: str):
    from ductree.measures import summary
    from ductree.phantom import generate_tree

    t, tree = timed(generate_tree, seed, systems, branches, repeat=repeat)
    s = summary(tree)
    n_br = s["branches"]
    peer_t = None
    note = f"{s['systems']} systems, {n_br} branches, {s['nodes']} nodes, depth {s['depth_max_mm']:.0f} mm"
    if peer:
        with _brute_force_space():
            peer_t, ptree = timed(generate_tree, seed, systems, branches, repeat=min(repeat, 3))
        same = np.array_equal(ptree.positions, tree.positions)
        note += "; identical tree from the baseline" if same else "; BASELINE TREE DIFFERS"
    else:
        note += "; baseline skipped (--quick)"
    rows = [
        Row("phantom", f"{name}: time", t, "s", peer_name="brute-force clearance", peer=peer_t,
            higher_is_better=False, target=target, note=note),
        Row("phantom", f"{name}: branches per second", n_br / t, "branches/s", peer_name="brute-force clearance",
            peer=None if peer_t is None else n_br / peer_t, higher_is_better=True),
    ]
    return rows


def run(quick: bool) -> list[Row]:
    rows = _case(1, 10, 400, repeat=1 if quick else 2, peer=not quick, target="< 5 s", name="full breast 10x400")
    rows += _case(0, 1, 15, repeat=5, peer=True, target="< 0.5 s", name="small system 1x15")
    if quick:
        rows += _case(7, 8, 120, repeat=1, peer=True, target="", name="seed-7 case 8x120")
    return rows
