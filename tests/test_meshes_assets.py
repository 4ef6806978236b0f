"""The shipped meshes/ assets: closed, manifold, small, and what their documented command makes."""

from pathlib import Path

import pytest

from ductree.mesh import check_watertight, read_model
from ductree.mesh.assets import template_bodies

MESHES = Path(__file__).resolve().parents[1] / "meshes"
EXPECTED = {"nipple_areola.stl": 1, "breast_outline.stl": 1, "demo_model.3mf": 3}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_asset_is_closed_manifold_and_small(name):
    path = MESHES / name
    assert path.stat().st_size < 800 * 1024
    model = read_model(path)
    assert len(model) == EXPECTED[name]
    for body in model:
        c = check_watertight(body.mesh, expect_bodies=1)
        assert c.ok and c.genus == [0], (name, body.name, c.problems)


def test_demo_model_is_one_print_piece_and_two_lesions():
    model = read_model(MESHES / "demo_model.3mf")
    assert [b.name for b in model] == ["print", "lesion L1", "lesion L2"]
    assert model[1].color[:3] == (220, 30, 40)


@pytest.mark.parametrize("name, body", template_bodies())
def test_templates_are_what_the_command_makes(name, body):
    shipped = read_model(MESHES / name)[0].mesh
    assert shipped.volume == pytest.approx(body.mesh.volume, rel=1e-5)
    assert shipped.bounds == pytest.approx(body.mesh.bounds, abs=1e-4)
