"""``ductree phantom`` on the command line (subprocess) and the simulator registry."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest

from ductree.errors import InputError
from ductree.phantom import SIMULATORS, generate_tree, simulate


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ductree", "phantom", *map(str, args)],
                          capture_output=True, text=True, encoding="utf-8", cwd=cwd, timeout=120)


def test_writes_a_case_folder_and_prints_a_summary(tmp_path):
    out = tmp_path / "ph"
    r = run("--out", out, "--seed", 3, "--systems", 2, "--branches", 9, "--lesions", 1, "--laterality", "L",
            "--breast-depth", 80)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["case.toml", "tree.json", "truth.json"]
    assert "2 systems, 18 branches" in r.stdout and "L1:" in r.stdout and "max depth" in r.stdout
    data = tomllib.loads((out / "case.toml").read_text(encoding="utf-8"))
    assert data["id"] == "phantom-3" and data["laterality"] == "L" and data["breast_depth_mm"] == 80.0
    assert json.loads((out / "truth.json").read_text(encoding="utf-8"))["generator"]["systems"] == 2


@pytest.mark.parametrize("args,needle", [
    (["--systems", "0"], "--systems"),
    (["--branches", "0"], "--branches"),
    (["--lesions", "-1"], "--lesions"),
    (["--laterality", "Q"], "laterality"),
    (["--breast-depth", "5"], "--breast-depth"),
    (["--simulate", "bogus"], "bogus"),
    (["--seed", "abc"], "--seed"),
])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, args, needle, capsys):
    from ductree.cli import main

    out = tmp_path / "never"
    assert main(["phantom", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not out.exists()


def test_bad_argument_in_a_subprocess_is_one_line_and_exit_2(tmp_path):
    r = run("--out", tmp_path / "x", "--simulate", "bogus")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("ductree: error: --simulate: unknown simulation 'bogus'")
    assert not (tmp_path / "x").exists()


def test_out_must_be_given(tmp_path):
    r = run("--seed", "1", cwd=tmp_path)
    assert r.returncode == 2 and "--out" in r.stderr
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- registry

def test_unknown_simulation_kind_is_an_input_error(tmp_path):
    tree = generate_tree(seed=0, systems=1, branches=3)
    with pytest.raises(InputError) as exc:
        simulate("no-such-kind", tmp_path, tree, [], seed=0)
    assert "no-such-kind" in str(exc.value)


def test_simulate_dispatches_through_the_registry(tmp_path, monkeypatch):
    """A kind registered as "module:function" is called with the case and returns what it wrote."""
    mod = tmp_path / "fake_sim_mod.py"
    mod.write_text(
        "def run(case_dir, tree, lesions, seed, **options):\n"
        "    p = case_dir / 'sim.txt'\n"
        "    p.write_text(f'{tree.number_of_nodes()} {len(lesions)} {seed} {options}')\n"
        "    return [p]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(SIMULATORS, "fake", "fake_sim_mod:run")
    tree = generate_tree(seed=0, systems=1, branches=3)
    out = simulate("fake", tmp_path, tree, ["x"], seed=5, level=2)
    assert out == [tmp_path / "sim.txt"]
    assert (tmp_path / "sim.txt").read_text(encoding="utf-8") == f"{tree.number_of_nodes()} 1 5 {{'level': 2}}"


def test_cli_simulate_runs_registered_kinds(tmp_path, monkeypatch, capsys):
    mod = tmp_path / "fake_sim_mod2.py"
    mod.write_text(
        "def run(case_dir, tree, lesions, seed, **options):\n"
        "    p = case_dir / 'sim2.txt'\n"
        "    p.write_text('ok')\n"
        "    return p\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(SIMULATORS, "fake2", "fake_sim_mod2:run")
    from ductree.cli import main

    code = main(["phantom", "--out", str(tmp_path / "c"), "--systems", "1", "--branches", "3",
                 "--lesions", "0", "--simulate", "fake2"])
    assert code == 0
    assert (tmp_path / "c" / "sim2.txt").read_text(encoding="utf-8") == "ok"
    assert "sim2.txt" in capsys.readouterr().out
