"""``ductree build --cc/--lateral``: DICOM and PNG end to end, one view, and bad input (exit 2, one line,
no output written); no DICOM patient identifier reaches an output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ductree.cli import main
from ductree.io import read_tree
from ductree.io.images2d import write_mask_dicom
from ductree.metrics import compare_trees
from ductree.phantom import generate_tree, insert_lesions
from ductree.phantom.simulate import simulate


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("ductogram")
    tree = generate_tree(seed=21, systems=2, branches=14, laterality="R", breast_depth_mm=70)
    simulate("biplane", d, tree, insert_lesions(tree, 1, seed=21), seed=21)
    other = tmp_path_factory.mktemp("other")
    tree2 = generate_tree(seed=8, systems=2, branches=16, laterality="R", breast_depth_mm=70)
    simulate("biplane", other, tree2, insert_lesions(tree2, 1, seed=8), seed=8)
    return d, other, json.loads((d / "ductogram_sim.json").read_text(encoding="utf-8"))


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code, err, *words):
    assert code == 2, err
    lines = [x for x in err.strip().splitlines() if x.startswith("ductree: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]


def nipple(sim, view):
    r, c = sim["views"][view]["nipple_px"]
    return f"{r:.3f},{c:.3f}"


def test_dicom_pair_end_to_end(case, tmp_path, capsys):
    d, _, sim = case
    out = tmp_path / "tree.json"
    code, stdout, err = run(capsys, "build", "--cc", d / "cc.dcm", "--lateral", d / "ml.dcm", "-l", "R", "--out", out,
                            "--cc-nipple", nipple(sim, "cc"), "--lateral-nipple", nipple(sim, "lateral"))
    assert code == 0, err
    assert "from the ductograms" in stdout and "match: depth map lateral->CC scale" in stdout
    assert "Estimated Radiographic Magnification Factor" in stdout and "candidate" in stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    g = data["graph"]
    assert g["source"] == "ductogram" and g["laterality"] == "R" and g["nipple_from"]["cc"] == "given"
    # the depth map found is near the simulated relative compression (CC scale / lateral scale): a
    # magnification or pixel spacing misread in one view would put it off by 0.25 or more (1.5-2.0 vs 1);
    # the map is chosen by how well its reading explains both masks, which allows a few percent
    want = sim["views"]["cc"]["depth_scale"] / sim["views"]["lateral"]["depth_scale"]
    assert abs(g["biplane"]["depth_map"]["scale"] - want) < 0.1
    # and the tree read from the DICOM pair lies on the simulated ducts
    s = compare_trees(read_tree(out), read_tree(d / "ductogram_truth.json"), min_branch_length_mm=3.0, tol_mm=0.5)
    assert s.recon_to_truth_mean_mm < 0.5, s.recon_to_truth_mean_mm
    assert all("single_view" in n and "pos_sigma_mm" in n for n in data["nodes"])


def test_png_pair_needs_spacing_and_matches_dicom(case, tmp_path, capsys):
    d, _, sim = case
    out = tmp_path / "t.json"
    code, _, err = run(capsys, "build", "--cc", d / "cc_mask.png", "--lateral", d / "ml_mask.png", "-l", "R",
                       "--out", out)
    one_line_error(code, err, "cc_mask.png", "--spacing")
    assert not out.exists()
    # the geometry the DICOM pair carries, as written there (DS strings round the simulator's values to ~6
    # digits; a pixel size 3e-6 off can change which runner-up depth maps are read, so the same numbers)
    import pydicom

    ds = pydicom.dcmread(d / "cc.dcm", stop_before_pixels=True)
    spacing, magnification = str(ds.ImagerPixelSpacing[0]), str(ds.EstimatedRadiographicMagnificationFactor)
    args = ["build", "--cc", d / "cc_mask.png", "--lateral", d / "ml_mask.png", "-l", "R", "--out", out,
            "--spacing", spacing, "--magnification", magnification,
            "--cc-nipple", nipple(sim, "cc"), "--lateral-nipple", nipple(sim, "lateral")]
    code, stdout, err = run(capsys, *args)
    assert code == 0, err
    assert "orientation P\\L (default (standard hanging))" in stdout
    png = json.loads(out.read_text(encoding="utf-8"))
    out2 = tmp_path / "d.json"
    assert run(capsys, "build", "--cc", d / "cc.dcm", "--lateral", d / "ml.dcm", "-l", "R", "--out", out2,
               "--cc-nipple", nipple(sim, "cc"), "--lateral-nipple", nipple(sim, "lateral"))[0] == 0
    dcm = json.loads(out2.read_text(encoding="utf-8"))
    assert len(png["nodes"]) == len(dcm["nodes"])
    p1 = np.array([n["pos"] for n in png["nodes"]])
    p2 = np.array([n["pos"] for n in dcm["nodes"]])
    assert np.abs(p1 - p2).max() < 0.01


def test_one_view_gives_a_planar_tree(case, tmp_path, capsys):
    d, _, _ = case
    out = tmp_path / "planar.json"
    code, stdout, err = run(capsys, "build", "--lateral", d / "ml.dcm", "-l", "R", "--out", out)
    assert code == 0, err
    assert "one view only (lateral)" in err and "nipple not given" in err
    g = json.loads(out.read_text(encoding="utf-8"))["graph"]
    assert g["planar"] is True and list(g["views"]) == ["lateral"]


def test_no_patient_identifier_reaches_the_output(case, tmp_path, capsys):
    d, _, sim = case
    from ductree.io.images2d import read_view

    planted = {"PatientName": "DOE^JANE", "PatientID": "MRN-0042424", "PatientBirthDate": "19700101",
               "InstitutionName": "St Elsewhere", "AccessionNumber": "ACC-777"}
    paths = []
    for view, name, vp, orient in (("cc", "cc.dcm", "CC", ("P", "L")), ("lateral", "ml.dcm", "ML", ("P", "F"))):
        v = read_view(d / name, view)
        paths.append(write_mask_dicom(v.mask, tmp_path / f"id_{name}", view_position=vp, laterality="R",
                                      orientation=orient, imager_pixel_spacing_mm=sim["detector_pixel_mm"],
                                      magnification=sim["magnification"], patient_name="DOE^JANE",
                                      patient_id="MRN-0042424", extra=planted))
    for suffix in (".json", ".graphml", ".swc", ".vtp"):
        out = tmp_path / f"t{suffix}"
        code, stdout, err = run(capsys, "build", "--cc", paths[0], "--lateral", paths[1], "-l", "R", "--out", out)
        assert code == 0, err
        blob = out.read_bytes() + stdout.encode() + err.encode()
        for value in ("DOE", "JANE", "MRN-0042424", "19700101", "Elsewhere", "ACC-777"):
            assert value.encode() not in blob, (suffix, value)


def test_bad_inputs_exit_2_without_output(case, tmp_path, capsys):
    d, other, sim = case
    out = tmp_path / "t.json"
    grey = tmp_path / "grey.png"
    img = np.array(Image.open(d / "cc_mask.png")).astype(float)
    from scipy.ndimage import gaussian_filter

    Image.fromarray(gaussian_filter(img, 2).astype(np.uint8)).save(grey)
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros((80, 80), np.uint8)).save(empty)
    left = write_mask_dicom(np.array(Image.open(d / "ml_mask.png")) > 0, tmp_path / "left_ml.dcm", view_position="ML",
                            laterality="L", orientation=("A", "F"), imager_pixel_spacing_mm=0.06, magnification=1.8)
    sp = ["--spacing", "0.06", "--magnification", "1.8"]
    cases = [
        (["--cc", grey, "--lateral", d / "ml_mask.png", *sp], ["grey.png", "not a binary mask", "Otsu"]),
        (["--cc", empty, "--lateral", d / "ml_mask.png", *sp], ["empty.png", "empty"]),
        (["--cc", d / "cc.dcm", "--lateral", left], ["different breasts", "left_ml.dcm is L"]),
        (["--cc", d / "ml.dcm", "--lateral", d / "cc.dcm"], ["ml.dcm", "ML view, given as the cc view"]),
        (["--cc", d / "cc.dcm", "--lateral", d / "ml.dcm", "--cc-nipple", "1,2,3"], ["--cc-nipple", "2 values"]),
        (["--cc", d / "cc.dcm", "--lateral", d / "ml.dcm", "--magnification", "-1"], ["--magnification"]),
        (["--cc", d / "cc.dcm", "--lateral", d / "ml.dcm", "--cc-orientation", "P,F"], ["orientation", "cc view"]),
    ]
    for extra, words in cases:
        code, _, err = run(capsys, "build", "-l", "R", "--out", out, *extra)
        one_line_error(code, err, *words)
        assert not out.exists()
    code, _, err = run(capsys, "build", "-l", "L", "--out", out, "--cc", d / "cc.dcm", "--lateral", d / "ml.dcm")
    one_line_error(code, err, "cc.dcm", "R breast but the L breast was given")
    assert not out.exists()


def test_dicom_views_give_the_breast_side(case, tmp_path, capsys):
    """Without --laterality, DICOM views give the side (their Image Laterality: R here); plain images and
    volumes, which cannot, are a one-line error naming what to give."""
    d, _, sim = case
    out = tmp_path / "tree.json"
    code, _, err = run(capsys, "build", "--cc", d / "cc.dcm", "--lateral", d / "ml.dcm", "--out", out)
    assert code == 0, err
    assert json.loads(out.read_text(encoding="utf-8"))["graph"]["laterality"] == "R"
    out2 = tmp_path / "t2.json"
    code, _, err = run(capsys, "build", "--cc", d / "cc_mask.png", "--lateral", d / "ml_mask.png", "--spacing", "0.06",
                       "--out", out2)
    one_line_error(code, err, "cc_mask.png", "laterality")
    vol = tmp_path / "seg.npy"
    np.save(vol, np.ones((4, 4, 4), dtype=np.uint8))
    code, _, err = run(capsys, "build", vol, "--spacing", "0.5", "--out", out2)
    one_line_error(code, err, "--laterality", "L or R")
    assert not out2.exists()


def test_views_of_different_ducts_are_refused_or_flagged(case, tmp_path, capsys):
    d, other, _ = case
    out = tmp_path / "t.json"
    code, stdout, err = run(capsys, "build", "-l", "R", "--out", out, "--cc", d / "cc.dcm", "--lateral",
                            other / "ml.dcm")
    if code == 2:
        one_line_error(code, err, "do not seem to show the same ducts")
        assert not out.exists()
    else:
        assert code == 0 and "low-confidence match" in err and "confidence low" in stdout


def test_phantom_simulate_biplane_in_a_real_process(tmp_path):
    r = subprocess.run([sys.executable, "-m", "ductree", "phantom", "--out", str(tmp_path / "c"), "--seed", "2",
                        "--systems", "1", "--branches", "8", "--lesions", "1", "--simulate", "biplane"],
                       capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 0, r.stderr
    assert "cc.dcm" in r.stdout and (tmp_path / "c" / "case_ductogram.toml").is_file()


def test_case_file_route_adds_ductogram_findings(case):
    import warnings

    from ductree.case import load_case
    from ductree.reconstruct import tree_from_case

    d, _, _ = case
    c = load_case(d / "case_ductogram.toml")
    assert c.source.kind == "biplane"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = tree_from_case(c)
    assert tree.graph["source"] == "ductogram"
    found = tree.graph["candidate_findings"]
    mine = [les for les in c.lesions if les.origin == "ductogram"]
    assert [les.label for les in mine] == [f["label"] for f in found]
    assert all(les.point_bf is not None and les.laterality == "R" for les in mine)
    assert {les.label for les in c.lesions if les.origin == "case"} == {"L1"}


def test_first_build_on_a_machine_says_it_compiles_then_later_builds_do_not(case, tmp_path):
    # The reconstruction's inner loops are compiled by numba on first use and cached on disk: a cold cache
    # (a cache folder of its own) makes the first build seconds longer, and the command line says why, once.
    d, _, _ = case
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    env.pop("DUCTREE_NO_NUMBA", None)
    outs = []
    for k in range(2):
        out = tmp_path / f"t{k}.json"
        r = subprocess.run([sys.executable, "-m", "ductree", "build", "--cc", str(d / "cc.dcm"), "--lateral",
                            str(d / "ml.dcm"), "-l", "R", "--out", str(out)],
                           capture_output=True, text=True, encoding="utf-8", env=env)
        assert r.returncode == 0, r.stderr
        outs.append((r.stderr, read_tree(out)))
    notes = [[x for x in err.splitlines() if x.startswith("ductree: note: compiling")] for err, _ in outs]
    assert len(notes[0]) == 1 and notes[1] == [], [err for err, _ in outs]
    a, b = outs[0][1], outs[1][1]
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.radii, b.radii)
