"""The docstring examples of the phantom modules run and hold."""

import doctest
import importlib

import pytest

MODULES = ["ductree.phantom", "ductree.phantom.grow", "ductree.phantom.lesions", "ductree.phantom.case",
           "ductree.phantom.space"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
