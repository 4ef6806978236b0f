"""The command line: exit codes, one-line errors, fast --help, where/point/info."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ductree.cli import main
from ductree.io import write_tree
from ductree.tree import DuctTree

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ductree", *args], capture_output=True, text=True, encoding="utf-8", cwd=cwd)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0 and "Usage: ductree" in r.stdout and "where" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and re.match(r"ductree \d+\.\d+\.\d+", r.stdout)


def test_cli_import_pulls_in_nothing_heavy():
    # --help must answer at once: importing the CLI may not import numpy, networkx, VTK or pyvista.
    code = ("import sys, ductree.cli; heavy = [m for m in ('numpy', 'networkx', 'vtk', 'pyvista', 'trimesh', "
            "'scipy', 'SimpleITK', 'trame') if m in sys.modules]; print(heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_where_text_and_json():
    r = run("where", "-20", "15", "0", "--laterality", "R", "--breast-depth", "90")
    assert r.returncode == 0
    assert "9:00" in r.stdout and "LOQ/UOQ" in r.stdout and "lateral" in r.stdout and "anterior" in r.stdout
    r = run("where", "--json", "-l", "L", "--", "-14.142", "30", "14.142")
    d = json.loads(r.stdout)
    assert d["clock_half_hour"] == "10:30" and d["quadrant"] == "UIQ" and d["side"] == "medial"
    assert d["depth_third"] is None and d["fn_mm"] == pytest.approx(20, abs=1e-3)


def test_point_round_trips_with_where():
    r = run("point", "--clock", "4:30", "--fn", "25", "--depth", "40", "--json")
    p = json.loads(r.stdout)["point_bf"]
    r2 = run("where", *map(str, p), "-l", "R", "--json")
    d = json.loads(r2.stdout)
    assert d["clock_exact"] == "4:30" and d["fn_mm"] == pytest.approx(25) and d["depth_mm"] == pytest.approx(40)


@pytest.mark.parametrize("args,words", [
    (("point", "--clock", "13", "--fn", "2", "--depth", "3"), "'13'"),
    (("point", "--clock", "6:75", "--fn", "2", "--depth", "3"), "'6:75'"),
    (("where", "1", "2", "3", "-l", "X"), "'L' or 'R'"),
    (("info", "nonexistent.json"), "no such file"),
    (("info", "tree.txt"), "unknown tree format"),
])
def test_bad_input_one_line_exit_2(tmp_path, args, words):
    (tmp_path / "tree.txt").write_text("x")
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.stderr


def test_debug_shows_traceback(tmp_path):
    r = run("--debug", "info", "nonexistent.json", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_usage_error_exit_2():
    assert run("where", "1", "2").returncode == 2
    assert run("no-such-command").returncode == 2


def test_info_prints_summary(tmp_path, capsys):
    t = DuctTree.from_arrays([[0, 0, 1], [0, 10, 1], [2, 30, 1], [-2, 25, 1]], [1, .8, .5, .4], [-1, 0, 1, 1],
                             laterality="L")
    write_tree(t, tmp_path / "t.json")
    assert main(["info", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert "left (L)" in out and "branches          3" in out and "12:00" in out
    assert main(["info", str(tmp_path / "t.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tips"] == 2


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert len(blocks) >= 2 and "ductree demo" in blocks[0]
    test_cmd = blocks[1].strip()
    assert "pytest" in test_cmd and test_cmd in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_ascii_terminal_does_not_crash(tmp_path):
    # LC_ALL=C without UTF-8 mode gives an ASCII stdout; the CLI replaces what it cannot print.
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUTF8", "PYTHONIOENCODING")}
    env.update(LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONIOENCODING="ascii")
    r = subprocess.run([sys.executable, "-m", "ductree", "point", "--clock", "6:75", "--fn", "1", "--depth", "1"],
                       capture_output=True, env=env)
    assert r.returncode == 2 and b"6:75" in r.stderr and b"Traceback" not in r.stderr
    # After main() has run, text an ASCII stream cannot encode ("±") is replaced, not raised.
    r = subprocess.run([sys.executable, "-c", "from ductree.cli import main; "
                        "main(['where', '1', '2', '3', '-l', 'R']); print('depth \\u00b1 2 mm')"],
                       capture_output=True, env=env)
    assert r.returncode == 0 and b"clock" in r.stdout and b"depth ? 2 mm" in r.stdout, r.stderr
