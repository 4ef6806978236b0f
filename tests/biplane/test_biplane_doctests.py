"""The docstring examples of the ductogram modules run and hold."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["ductree.io.images2d"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
