"""Library warnings reach the user of every command as one plain line each, with no Python file name
or source line, and are not lost when a command (render, locate) loads a case whose source is shaky."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ductree.phantom import generate_tree, insert_lesions
from ductree.phantom.simulate import simulate


@pytest.fixture(scope="module")
def one_view_case(tmp_path_factory):
    """A ductogram case with the CC only: the planar tree it gives must be flagged to whoever opens it."""
    d = tmp_path_factory.mktemp("oneview")
    tree = generate_tree(seed=21, systems=2, branches=14, laterality="R", breast_depth_mm=70)
    simulate("biplane", d, tree, insert_lesions(tree, 1, seed=21), seed=21)
    (d / "case_cc.toml").write_text('id = "cc-only"\nlaterality = "R"\n\n[source]\ncc = "cc.dcm"\n\n'
                                    '[[lesion]]\nlabel = "L1"\nclock = "9:00"\ndepth_mm = 20\n', encoding="utf-8")
    return d / "case_cc.toml"


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ductree", *map(str, args)], capture_output=True, text=True,
                          encoding="utf-8", cwd=cwd)


@pytest.mark.parametrize("command", [["locate"], ["render", "--views", "cc", "--size", "300,300", "--out", "{out}"]])
def test_a_planar_tree_is_flagged_once_in_plain_words(one_view_case, tmp_path, command):
    args = [a.replace("{out}", str(tmp_path)) for a in command]
    r = _run(args[0], one_view_case, *args[1:])
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    flagged = [x for x in lines if x.startswith("ductree: warning: one view only (cc)")]
    assert len(flagged) == 1, r.stderr
    # Nothing of Python's own warning display: no file path, no "DuctreeWarning", no source line.
    assert not any(".py:" in x or "DuctreeWarning" in x for x in lines), r.stderr
    assert all(x.startswith("ductree: warning: ") for x in lines), r.stderr
