"""Phantom trees shared by the phantom tests (generated once per session)."""

from __future__ import annotations

import pytest

from ductree.phantom import generate_tree


@pytest.fixture(scope="session")
def small_tree():
    """One small system (15 branches): the unit-test size."""
    return generate_tree(seed=0, systems=1, branches=15)


@pytest.fixture(scope="session")
def case7_tree():
    """The seed-7 case: 8 systems x 120 branches."""
    return generate_tree(seed=7, systems=8, branches=120)


@pytest.fixture(scope="session")
def full_systems_tree():
    """Three full-size systems (400 branches each, GMo06's 440 segments)."""
    return generate_tree(seed=5, systems=3, branches=400)
