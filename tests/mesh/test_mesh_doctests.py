"""The docstring examples of ductree.mesh run and hold."""

import doctest
import importlib

import pytest

MODULES = ["ductree.mesh.model", "ductree.mesh.quality"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_write_model_checks_options_first(tmp_path, trees):
    from ductree.errors import InputError
    from ductree.mesh import read_model, write_model

    with pytest.raises(InputError, match="scale"):
        write_model(trees.straight(), tmp_path / "m.stl", scale=0)
    assert list(tmp_path.iterdir()) == []
    model = write_model(trees.y_thin(), tmp_path / "m.3mf", quality="draft", base_plate=True,
                        lesions=[("L1", (0, 12, 0), 3.0)])
    assert [b.kind for b in model] == ["print", "lesion"]
    assert len(read_model(tmp_path / "m.3mf")) == 2
