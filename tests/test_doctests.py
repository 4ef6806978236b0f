"""The docstring examples of the core modules run and hold."""

import doctest
import importlib

import pytest

MODULES = ["ductree", "ductree.frame", "ductree.tree", "ductree.edit", "ductree.errors", "ductree.atomic"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
