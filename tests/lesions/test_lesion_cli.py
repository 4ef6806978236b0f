"""``ductree locate`` and ``ductree plan`` on a hand-built case folder: output, files, bad input (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ductree.cli import main
from ductree.io import write_tree

from conftest import P, build_hand_tree

LESIONS = """
[[lesion]]
label = "L1"
clock = "10:00"
depth_mm = 20
size_mm = 4
kind = "papilloma"

[[lesion]]
label = "L2"
clock = 12
depth_mm = 20
size_mm = 3

[[lesion]]
label = "L3"
clock = 8
depth_mm = 30
"""


def make_case(folder: Path, lesions: str = LESIONS, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_tree(build_hand_tree("R"), folder / "tree.json")
    text = f'id = "hand"\nlaterality = "R"\nbreast_depth_mm = 100\n{extra}\n[source]\ntree = "tree.json"\n{lesions}'
    (folder / "case.toml").write_text(text)
    return folder / "case.toml"


def test_locate_text_makes_ambiguity_and_unplaced_plain(tmp_path, capsys):
    case = make_case(tmp_path / "c")
    assert main(["locate", str(case)]) == 0
    out = capsys.readouterr().out
    assert "L1" in out and "placed" in out and "UOQ" in out and "10:00" in out
    assert "AMBIGUOUS L2" in out and "system 2" in out and "system 3" in out
    assert "UNPLACED L3" in out and "nearest duct" in out


def test_locate_json(tmp_path, capsys):
    case = make_case(tmp_path / "c")
    assert main(["locate", str(case), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    by = {les["label"]: les for les in d["lesions"]}
    assert by["L1"]["status"] == "placed" and by["L1"]["system"] == 0
    assert by["L1"]["point_bf"] == pytest.approx(list(P(10, 9.5, 20)), abs=1e-6)
    assert by["L1"]["depth_third"] == "anterior" and by["L1"]["side"] == "lateral"
    assert by["L2"]["status"] == "ambiguous" and len(by["L2"]["candidates"]) == 2
    assert by["L3"]["status"] == "unplaced" and by["L3"]["nearest"]["distance_mm"] > 3


def test_locate_uncertainty_widens_the_tolerance(tmp_path, capsys):
    case = make_case(tmp_path / "c", lesions='[[lesion]]\nlabel = "X"\nclock = "10:30"\ndepth_mm = 40\n')
    assert main(["locate", str(case), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lesions"][0]["status"] == "unplaced"
    assert main(["locate", str(case), "--json", "--uncertainty", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["lesions"][0]["status"] == "placed"


def test_plan_writes_json_and_markups(tmp_path, capsys):
    case = make_case(tmp_path / "c", extra="nipple_lps = [10.0, -60.0, 25.0]\n[plan]\nmargin_mm = 4\n")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["plan", str(case), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Excision plan: system 0" in text and "envelope" in text and "periareolar" in text
    assert sorted(p.name for p in out.iterdir()) == ["incision.mrk.json", "lesions.mrk.json", "plan.json"]
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert doc["schema"] == "ductree.plan/1" and doc["unplaced"] == ["L3"] and doc["ambiguous"] == ["L2"]
    assert {p["system"] for p in doc["plans"]} == {0, doc["lesions"][1]["system"]}
    assert all(p["margin_mm"] == 4 for p in doc["plans"])
    assert main(["plan", str(case), "--out", str(out), "--margin", "2"]) == 0
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert all(p["margin_mm"] == 2 for p in doc["plans"])
    mk = json.loads((out / "lesions.mrk.json").read_text(encoding="utf-8"))["markups"][0]
    l1 = next(cp for cp in mk["controlPoints"] if cp["label"] == "L1")
    assert l1["position"] == pytest.approx(list(P(10, 9.5, 20) + [10.0, -60.0, 25.0]), abs=1e-3)


BAD = [
    ('[[lesion]]\nlabel = "B"\nclock = 13\ndepth_mm = 10\n', "lesion[0].clock", "13"),
    ('[[lesion]]\nlabel = "B"\nclock = "6:75"\ndepth_mm = 10\n', "lesion[0].clock", "6:75"),
    ('[[lesion]]\nlabel = "B"\nclock = 6\ndepth_mm = -4\n', "lesion[0].depth_mm", ">= 0"),
    ('[[lesion]]\nlabel = "B"\nclock = 6\ndepth_mm = 4\n[[lesion]]\nlabel = "B"\nclock = 3\ndepth_mm = 4\n',
     "lesion[1].label", "twice"),
    ('[[lesion]]\nlabel = "B"\npath_mm = 90\norifice_clock = 10\n', "lesion[0].path_mm", "longer than the duct"),
]


@pytest.mark.parametrize("lesions,key,words", BAD)
@pytest.mark.parametrize("command", ["locate", "plan"])
def test_bad_lesions_exit_2_with_one_line_and_no_output(tmp_path, lesions, key, words, command):
    case = make_case(tmp_path / "c", lesions=lesions)
    out = tmp_path / "out"
    out.mkdir()
    args = [command, str(case)] + (["--out", str(out)] if command == "plan" else [])
    r = subprocess.run([sys.executable, "-m", "ductree", *args], capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "case.toml" in lines[0] and key in lines[0] and words in lines[0], lines
    assert "Traceback" not in r.stderr
    assert list(out.iterdir()) == []


def test_plan_out_folder_and_lesions(tmp_path, capsys):
    case = make_case(tmp_path / "c")
    # A missing output folder is created (as render and batch do) ...
    assert main(["plan", str(case), "--out", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "plan.json").is_file()
    capsys.readouterr()
    # ... a file in its place is refused, and a bad case never creates the folder.
    (tmp_path / "afile").write_text("x")
    assert main(["plan", str(case), "--out", str(tmp_path / "afile")]) == 2
    assert "--out" in capsys.readouterr().err
    bad = make_case(tmp_path / "b", lesions=BAD[0][0])
    assert main(["plan", str(bad), "--out", str(tmp_path / "never")]) == 2
    assert not (tmp_path / "never").exists()
    case2 = make_case(tmp_path / "d", lesions="")
    (tmp_path / "o").mkdir()
    assert main(["plan", str(case2), "--out", str(tmp_path / "o")]) == 2
    assert "nothing to plan" in capsys.readouterr().err
    assert main(["plan", str(case), "--out", str(tmp_path / "o"), "--margin", "-1"]) == 2
    assert list((tmp_path / "o").iterdir()) == []


def test_case_file_names_the_discharging_orifice_beside_clock_and_depth(tmp_path, capsys):
    # L2's 12:00 ray at depth 20 crosses systems 2 (orifice 12:00) and 3 (orifice 1:00); the case
    # names the discharging pore at 1:00, so L2 is placed on system 3 alone.
    lesions = LESIONS.replace('clock = 12\ndepth_mm = 20', 'clock = 12\ndepth_mm = 20\norifice_clock = "1:00"')
    case = make_case(tmp_path / "c", lesions)
    assert main(["locate", str(case), "--json"]) == 0
    by = {les["label"]: les for les in json.loads(capsys.readouterr().out)["lesions"]}
    assert by["L2"]["status"] == "placed" and by["L2"]["system"] == 3
    assert by["L2"]["spec"]["orifice_clock_text"] == "1:00"
