"""case.toml reading: every error names the file and the key (CONVENTIONS §5)."""

import textwrap

import pytest

from ductree.case import Case, load_case, write_case
from ductree.errors import InputError
from ductree.io import write_tree
from ductree.tree import DuctTree

GOOD = """
id = "case-007"
laterality = "R"
breast_depth_mm = 95

[source]
tree = "tree.json"

[[lesion]]
label = "L1"
clock = "6:30"
depth_mm = 18
size_mm = 3
kind = "papilloma"

[[lesion]]
label = "L2"
path_mm = 25
orifice_clock = 12

[render]
views = ["cc", "lateral", "front", "oblique"]
size = [1024, 1024]
"""


@pytest.fixture
def folder(tmp_path):
    t = DuctTree.from_arrays([[0, 0, 1], [0, 10, 1], [2, 30, 1]], [1, .8, .5], [-1, 0, 1], laterality="R")
    write_tree(t, tmp_path / "tree.json")
    return tmp_path


def write(folder, text):
    p = folder / "case.toml"
    p.write_text(textwrap.dedent(text))
    return p


def test_good_case(folder):
    c = load_case(write(folder, GOOD))
    assert c.id == "case-007" and c.laterality == "R" and c.breast_depth_mm == 95
    assert c.lesions[0].clock == 6.5 and c.lesions[0].method == "clock+depth"
    assert c.lesions[1].method == "path" and c.lesions[1].orifice_clock == 12
    assert c.render.size == (1024, 1024) and c.source.kind == "tree"
    tree = c.load_tree()
    assert tree.laterality == "R" and tree.number_of_nodes() == 3
    # A case written back reads the same.
    write_case(c, folder / "again.toml")
    again = load_case(folder / "again.toml")
    assert [les.label for les in again.lesions] == ["L1", "L2"] and again.lesions[0].clock == 6.5


@pytest.mark.parametrize("change,key,words", [
    (("laterality = \"R\"", "laterality = \"X\""), "laterality", "'L' or 'R'"),
    (("laterality = \"R\"", ""), "laterality", "missing"),
    (("breast_depth_mm = 95", "breast_depht_mm = 95"), "breast_depht_mm", "unknown key"),
    (("clock = \"6:30\"", "clock = \"6:75\""), "lesion[0].clock", "'6:75'"),
    (("clock = \"6:30\"", "clock = 13"), "lesion[0].clock", "13"),
    (("depth_mm = 18", "depth_mm = -4"), "lesion[0].depth_mm", ">= 0"),
    (("label = \"L2\"", "label = \"L1\""), "lesion[1].label", "used twice"),
    (("tree = \"tree.json\"", "tree = \"missing.json\""), "source.tree", "does not exist"),
    (("kind = \"papilloma\"", "kind = \"wart\""), "lesion[0].kind", "unknown kind"),
    (("size = [1024, 1024]", "size = [10, 1024]"), "render.size", "pixels"),
    (("views = [\"cc\", \"lateral\", \"front\", \"oblique\"]", "views = [\"top\"]"), "render.views", "unknown view"),
    (("orifice_clock = 12", "colour = 1"), "lesion[1].colour", "unknown key"),
    (("depth_mm = 18", "depth_mm = 18\nfn_mm = 20"), "lesion[0].fn_mm", "not both"),
])
def test_errors_name_file_and_key(folder, change, key, words):
    old, new = change
    assert old in GOOD
    p = write(folder, GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as e:
        load_case(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and f" {key}: " in msg and words in msg
    assert "\n" not in msg


def test_bad_toml_names_line(folder):
    p = write(folder, 'id = "x"\nlaterality = R\n')
    with pytest.raises(InputError, match=r"case.toml:2: invalid TOML"):
        load_case(p)


def test_case_in_code():
    c = Case(id="x", laterality="L")
    assert c.render.views == ("cc", "lateral", "front", "oblique") and c.plan.margin_mm == 5.0
