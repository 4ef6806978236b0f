"""examples/locate_and_plan.py runs, prints the tables and writes the plan and the Slicer markups."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_locate_and_plan(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "locate_and_plan.py"), str(tmp_path)],
                       capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Lesions on the ductal tree" in r.stdout and "Excision plan: system" in r.stdout
    assert "NOT listed" not in r.stdout          # the true system is always among the candidates
    doc = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert doc["schema"] == "ductree.plan/1" and len(doc["lesions"]) == 3
    truth = json.loads((tmp_path / "case" / "truth.json").read_text(encoding="utf-8"))
    assert {les["label"] for les in truth["lesions"]} == {les["label"] for les in doc["lesions"]}
    mk = json.loads((tmp_path / "plan" / "lesions.mrk.json").read_text(encoding="utf-8"))["markups"][0]
    assert mk["coordinateSystem"] == "LPS"
    # The markups are in LPS: nipple (-62, -95, 1120) + BF.
    les = next(les for les in doc["lesions"] if les["status"] != "unplaced")
    cp = next(cp for cp in mk["controlPoints"] if cp["label"] == les["label"])
    assert all(abs(a - (b + n)) < 1e-3 for a, b, n in zip(cp["position"], les["point_bf"], (-62.0, -95.0, 1120.0)))
    assert "scope finding 12 mm along" in r.stdout
    # Naming the discharging pore keeps only the true system among the candidates.
    line = next(ln for ln in r.stdout.splitlines() if "with the discharging pore" in ln)
    chosen, true = line.split("system ")[1].split(" (true ")
    assert chosen == true.split(")")[0]
