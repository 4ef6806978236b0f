"""Batch rendering: bad cases isolated, the manifest, resume by content hash, SIGKILL + resume, Dask."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from ductree.batch import STAMP, case_folder_names, run_batch

SMALL = ["--views", "cc,front", "--size", "160,160"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """Three small phantom cases (R, L, R) and four bad ones, as case.toml paths."""
    from ductree.phantom import write_phantom_case

    root = tmp_path_factory.mktemp("batch-cases")
    good = [write_phantom_case(root / f"good{i}", seed=30 + i, systems=3, branches=15, lesions=1,
                               laterality="RLR"[i]) for i in range(3)]
    bad = {}
    (root / "nosource").mkdir()
    bad["nosource"] = root / "nosource" / "case.toml"
    bad["nosource"].write_text('id = "nosource"\nlaterality = "R"\n[source]\ntree = "gone.json"\n')
    (root / "syntax").mkdir()
    bad["syntax"] = root / "syntax" / "case.toml"
    bad["syntax"].write_text('id = "syntax"\nlaterality = "R"\n[source\ntree = "t.json"\n')
    (root / "badview").mkdir()
    bad["badview"] = root / "badview" / "case.toml"
    bad["badview"].write_text(f'id = "badview"\nlaterality = "R"\n[source]\ntree = "{good[0].parent / "tree.json"}"\n'
                              '[render]\nviews = ["cc", "sideways"]\n')
    return good, bad


def _batch(*args, timeout=240, **kw):
    return subprocess.run([sys.executable, "-m", "ductree", "batch", *map(str, args)], capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout, **kw)


def _whole_outputs(folder: Path) -> list[str]:
    """Every output listed by the stamp is there and whole (PNGs decode fully, HTML closes)."""
    stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    for name in stamp["outputs"]:
        p = folder / name
        if name.endswith(".png"):
            with Image.open(p) as im:
                im.load()
        elif name.endswith(".html"):
            assert p.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert not list(folder.glob(".*.tmp*"))
    return sorted(stamp["outputs"])


def test_bad_cases_are_isolated(cases, tmp_path):
    good, bad = cases
    out = tmp_path / "out"
    out.mkdir()
    (out / "good2").write_text("a file where good2's folder should go")      # that folder cannot be made
    r = _batch(good[0], bad["nosource"], good[1], bad["syntax"], bad["badview"], good[2], "--out", out,
               "--jobs", "2", *SMALL)
    assert r.returncode == 2, r.stderr
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    rows = {row["folder"]: row for row in doc["results"]}
    assert [row["folder"] for row in doc["results"]] == ["good0", "nosource", "good1", "syntax", "badview", "good2"]
    assert rows["good0"]["status"] == rows["good1"]["status"] == "ok"
    assert rows["good0"]["views"] == 2 and rows["good0"]["outputs"] == ["cc.png", "front.png", "report.html"]
    assert "source.tree: file does not exist: gone.json" in rows["nosource"]["error"]
    assert "invalid TOML" in rows["syntax"]["error"] and "case.toml:3:" in rows["syntax"]["error"]
    assert "render.views: unknown view 'sideways'" in rows["badview"]["error"]
    assert rows["good2"]["status"] == "failed" and "not a folder" in rows["good2"]["error"]
    assert doc["counts"]["ok"] == 2 and doc["counts"]["failed"] == 4
    for name in ("good0", "good1"):
        assert _whole_outputs(out / name) == ["cc.png", "front.png", "report.html"]
    # One clear line per failed case on screen, naming the case's file and key.
    failed_lines = [ln for ln in r.stderr.splitlines() if ln.startswith("FAILED")]
    assert len(failed_lines) == 4
    assert any("nosource" in ln and "source.tree" in ln for ln in failed_lines)
    # The CSV carries the same rows.
    with open(out / "manifest.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert [row["status"] for row in csv_rows] == ["ok", "failed", "ok", "failed", "failed", "failed"]
    assert csv_rows[0]["outputs"] == "cc.png;front.png;report.html"


def test_unknown_view_option_stops_before_any_work(cases, tmp_path):
    good, _ = cases
    r = _batch(good[0], "--out", tmp_path / "o", "--views", "cc,top")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "--views" in r.stderr
    assert not (tmp_path / "o").exists()


def test_resume_by_content_hash(cases, tmp_path):
    good, _ = cases
    src = tmp_path / "c"
    src.mkdir()
    for name in ("case.toml", "tree.json"):
        (src / name).write_bytes((good[1].parent / name).read_bytes())
    out = tmp_path / "out"
    kw = dict(views=("cc",), size=(128, 128), jobs=1, report=False)
    first = run_batch([src / "case.toml"], out, **kw)
    assert [r.status for r in first.results] == ["ok"] and first.exit_code == 0
    again = run_batch([src / "case.toml"], out, resume=True, **kw)
    assert [r.status for r in again.results] == ["skipped"] and again.results[0].outputs == ["cc.png"]
    # A changed source file (same tree, one more byte) is a changed input: done again.
    (src / "tree.json").write_bytes((src / "tree.json").read_bytes() + b"\n")
    assert run_batch([src / "case.toml"], out, resume=True, **kw).results[0].status == "ok"
    # A damaged output is not complete: done again.
    png = out / "c" / "cc.png"
    png.write_bytes(png.read_bytes()[:200])
    assert run_batch([src / "case.toml"], out, resume=True, **kw).results[0].status == "ok"
    assert _whole_outputs(out / "c") == ["cc.png"]
    # Other options (another view) change the outputs: done again; without --resume always done.
    assert run_batch([src / "case.toml"], out, resume=True, **{**kw, "views": ("front",)}).results[0].status == "ok"
    assert run_batch([src / "case.toml"], out, **kw).results[0].status == "ok"


def test_sigkill_then_resume_leaves_every_output_whole(cases, tmp_path):
    good, _ = cases
    out = tmp_path / "out"
    args = [*good, "--out", out, "--jobs", "1", *SMALL]
    p = subprocess.Popen([sys.executable, "-m", "ductree", "batch", *map(str, args)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    first_stamp = out / "good0" / STAMP
    t0 = time.monotonic()
    while not first_stamp.exists():
        assert p.poll() is None, "the batch ended before the first case completed"
        assert time.monotonic() - t0 < 120
        time.sleep(0.01)
    os.killpg(p.pid, signal.SIGKILL)          # the batch and anything it started
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    r = _batch(*args, "--resume")
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    statuses = [row["status"] for row in doc["results"]]
    assert statuses[0] == "skipped" and set(statuses) <= {"ok", "skipped"}
    for name in ("good0", "good1", "good2"):
        assert _whole_outputs(out / name) == ["cc.png", "front.png", "report.html"]
        with Image.open(out / name / "cc.png") as im:
            assert im.size == (160, 160)


def test_dask_local_cluster(cases, tmp_path):
    distributed = pytest.importorskip("distributed")
    good, bad = cases
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        res = run_batch([good[0], bad["nosource"], good[2]], tmp_path / "out", views=("cc",), size=(128, 128),
                        report=False, scheduler=cluster.scheduler_address)
    assert [r.status for r in res.results] == ["ok", "failed", "ok"] and res.exit_code == 2
    assert _whole_outputs(tmp_path / "out" / "good2") == ["cc.png"]


def test_unreachable_scheduler_is_bad_input(cases, tmp_path):
    good, _ = cases
    r = _batch(good[0], "--out", tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9", "--views", "cc", timeout=120)
    assert r.returncode == 2 and "--scheduler" in r.stderr and "cannot reach" in r.stderr


def test_folder_names_are_unique_and_safe():
    assert case_folder_names(["a/case-7/case.toml", "b/case-7", "x/foo bar.toml", "y/foo bar.toml"]) == \
        ["case-7", "case-7-2", "foo_bar", "foo_bar-2"]
    # phantom folders: each holds case.toml and case_ductogram.toml; every case keeps its folder's name
    assert case_folder_names(["p1/case.toml", "p1/case_ductogram.toml", "p2/case_ductogram.toml"]) == \
        ["p1", "p1_ductogram", "p2_ductogram"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_timeout_stops_a_case_and_the_batch_goes_on(cases, tmp_path, jobs):
    # 1 ms is far less than reading, hashing and rendering any case takes, so every case times out; the
    # batch still finishes, says so per case, and leaves no stamp, so --resume redoes them.
    good, _ = cases
    out = tmp_path / "out"
    r = _batch(good[0], good[1], "--out", out, "--jobs", jobs, "--timeout", "0.001", *SMALL)
    assert r.returncode == 1, r.stderr
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [row["status"] for row in doc["results"]] == ["error", "error"]
    assert all("timed out after 0.001 s" in row["error"] and row["outputs"] == [] for row in doc["results"])
    for name in ("good0", "good1"):
        assert not (out / name / STAMP).exists()
        assert not list((out / name).glob(".*.tmp*"))
    # A generous limit lets them finish; --resume does not skip the timed-out cases.
    r = _batch(good[0], good[1], "--out", out, "--jobs", jobs, "--timeout", "600", "--resume", *SMALL)
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [row["status"] for row in doc["results"]] == ["ok", "ok"]
    assert _whole_outputs(out / "good0") == ["cc.png", "front.png", "report.html"]


def test_timeout_must_be_positive(cases, tmp_path):
    good, _ = cases
    r = _batch(good[0], "--out", tmp_path / "o", "--timeout", "0")
    assert r.returncode == 2 and "--timeout" in r.stderr and r.stderr.strip().count("\n") == 0
    assert not (tmp_path / "o").exists()


def test_in_process_timer_is_cleared_after_each_case(cases, tmp_path):
    # jobs=1 runs in this process: once the batch returns, no alarm may be left to go off here.
    good, _ = cases
    res = run_batch([good[0]], tmp_path / "o", views=["cc"], size=(96, 96), jobs=1, report=False, timeout_s=30)
    assert [r.status for r in res.results] == ["ok"]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler, None)


def test_each_case_s_warnings_reach_the_manifest_and_survive_resume(tmp_path):
    # A one-view ductogram case gives a planar tree: a researcher scanning the manifest must see it.
    from ductree.batch import run_batch
    from ductree.phantom import generate_tree, insert_lesions
    from ductree.phantom.simulate import simulate

    d = tmp_path / "oneview"
    d.mkdir()
    tree = generate_tree(seed=21, systems=2, branches=14, laterality="R", breast_depth_mm=70)
    simulate("biplane", d, tree, insert_lesions(tree, 1, seed=21), seed=21)
    (d / "case.toml").write_text('id = "cc-only"\nlaterality = "R"\n\n[source]\ncc = "cc.dcm"\n', encoding="utf-8")
    out = tmp_path / "out"
    kw = dict(views=("cc",), size=(200, 200), jobs=1, report=False)
    first = run_batch([d], out, **kw).results[0]
    assert first.status == "ok"
    assert any(w.startswith("one view only (cc)") for w in first.warnings), first.warnings
    assert "warning(s)" in first.line()
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert "one view only (cc)" in row["warnings"]
    again = run_batch([d], out, resume=True, **kw).results[0]
    assert again.status == "skipped" and again.warnings == first.warnings
