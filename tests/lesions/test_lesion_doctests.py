"""The docstring examples of the lesion, plan and markups modules run and hold."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["ductree.lesions", "ductree.plan", "ductree.markups"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
