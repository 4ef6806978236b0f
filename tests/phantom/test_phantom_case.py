"""A phantom case folder: tree.json, truth.json and a case.toml that follows CONVENTIONS §5."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from ductree.case import load_case
from ductree.errors import InputError
from ductree.frame import clock_difference_h, parse_clock
from ductree.io import read_tree
from ductree.phantom import generate_tree, insert_lesions, phantom_case, write_phantom_case


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ph") / "case-a"  # does not exist yet: created
    path = write_phantom_case(out, seed=4, systems=3, branches=21, lesions=3, laterality="L",
                              breast_depth_mm=90.0)
    assert path == out / "case.toml"
    return out


def test_files_written(case_dir):
    assert sorted(p.name for p in case_dir.iterdir()) == ["case.toml", "tree.json", "truth.json"]


def test_case_toml_has_the_conventions_keys(case_dir):
    data = tomllib.loads((case_dir / "case.toml").read_text(encoding="utf-8"))
    assert set(data) == {"id", "laterality", "breast_depth_mm", "source", "lesion"}
    assert data["id"] == "phantom-4" and data["laterality"] == "L" and data["breast_depth_mm"] == 90.0
    assert data["source"] == {"tree": "tree.json"}
    assert len(data["lesion"]) == 3
    for les in data["lesion"]:
        assert set(les) == {"label", "clock", "depth_mm", "size_mm", "kind"}
        h, m = les["clock"].split(":")
        assert m in ("00", "30") and 1 <= int(h) <= 12
        assert isinstance(les["depth_mm"], int)
    assert "[[lesion]]" in (case_dir / "case.toml").read_text(encoding="utf-8")
    case = load_case(case_dir / "case.toml")  # the strict reader accepts it
    assert case.id == "phantom-4" and len(case.lesions) == 3


def test_tree_json_is_the_generated_tree(case_dir):
    tree = read_tree(case_dir / "tree.json")
    again = generate_tree(seed=4, systems=3, branches=21, laterality="L", breast_depth_mm=90.0)
    assert np.array_equal(tree.positions, again.positions) and np.array_equal(tree.radii, again.radii)
    assert tree.laterality == "L"


def test_truth_matches_the_lesions_and_the_case_file(case_dir):
    truth = json.loads((case_dir / "truth.json").read_text(encoding="utf-8"))
    assert truth["schema"] == "ductree.phantom-truth/1"
    assert truth["case_id"] == "phantom-4" and truth["laterality"] == "L"
    assert truth["generator"]["seed"] == 4 and truth["generator"]["branches_per_system"] == 21
    assert truth["tree"]["file"] == "tree.json" and truth["tree"]["summary"]["systems"] == 3
    assert len(truth["systems"]) == 3
    tree = read_tree(case_dir / "tree.json")
    expected = insert_lesions(tree, 3, seed=4, breast_depth_mm=90.0)
    spec = tomllib.loads((case_dir / "case.toml").read_text(encoding="utf-8"))["lesion"]
    for t, e, s in zip(truth["lesions"], expected, spec):
        assert t["label"] == e.label == s["label"]
        assert t["point"] == pytest.approx(list(e.point), abs=1e-12)
        assert t["clock"] == pytest.approx(e.clock) and t["path_mm"] == pytest.approx(e.path_mm)
        # the case file is the clinically rounded truth
        assert clock_difference_h(parse_clock(s["clock"]), t["clock"]) <= 0.25 + 1e-9
        assert abs(s["depth_mm"] - t["depth_mm"]) <= 0.5
        assert s["size_mm"] == t["size_mm"] and s["kind"] == t["kind"]


def test_no_lesions(tmp_path):
    path = write_phantom_case(tmp_path, seed=1, systems=2, branches=9, lesions=0)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert "lesion" not in data
    assert json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))["lesions"] == []


def test_phantom_case_returns_its_parts(tmp_path):
    pc = phantom_case(tmp_path / "x", seed=2, systems=2, branches=9, lesions=1)
    assert pc.case_path.is_file() and pc.tree_path.is_file() and pc.truth_path.is_file()
    assert len(pc.lesions) == 1 and pc.tree.number_of_nodes() > 10


def test_out_dir_that_is_a_file(tmp_path):
    f = tmp_path / "taken"
    f.write_text("x")
    with pytest.raises(InputError):
        write_phantom_case(f, seed=1, systems=1, branches=3)
