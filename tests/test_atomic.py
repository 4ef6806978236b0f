"""Atomic outputs: nothing half-written under a final name, inputs never overwritten."""

import os
import stat

import pytest

from ductree.atomic import atomic_path, protect_input, write_text
from ductree.errors import InputError


def test_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_existing_file_kept_until_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
            raise ValueError
    assert target.read_text(encoding="utf-8") == "old"
    write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new"


def test_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        p = write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644


def test_refuses_inputs_and_missing_folders(tmp_path):
    src = tmp_path / "input.swc"
    src.write_text("1 1 0 0 0 1 -1\n")
    protect_input(src)
    with pytest.raises(InputError, match="overwrite an input"):
        write_text(src, "x")
    assert src.read_text(encoding="utf-8").startswith("1 1")
    with pytest.raises(InputError, match="does not exist"):
        write_text(tmp_path / "nope" / "a.txt", "x")


def test_inputs_read_are_protected(tmp_path):
    from ductree.io import read_tree, write_tree
    from ductree.tree import DuctTree

    t = DuctTree.from_arrays([[0, 0, 1], [0, 10, 1]], [1, .5], [-1, 0], laterality="R")
    write_tree(t, tmp_path / "t.json")
    read_tree(tmp_path / "t.json")
    with pytest.raises(InputError, match="overwrite an input"):
        write_tree(t, tmp_path / "t.json")
