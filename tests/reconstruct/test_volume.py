"""Volume -> tree on hand-made masks (tube, Y, touching tubes, a real loop, bumps, dust) and bad input.

Ground truth is the tree each mask was voxelized from (ductree.phantom.voxelize), never the output
of the code under test.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from ductree.errors import DuctreeWarning, InputError
from ductree.io.volumes import Volume, mask_labels, read_volume, write_volume
from ductree.measures import bifurcations, tips
from ductree.metrics import compare_trees
from ductree.phantom.voxelize import Defects, oblique_direction, voxelize_tree
from ductree.reconstruct.volume import tree_from_volume
from ductree.tree import DuctTree

H = 0.1
NIP = np.array([-50.0, -80.0, 20.0])
CLEAN = Defects.none()


def build(truth, spacing=H, defects=CLEAN, nipple=True, seed=0, **kw):
    vol = voxelize_tree(truth, spacing, nipple_lps=NIP, defects=defects, seed=seed, **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DuctreeWarning)
        tree = tree_from_volume(vol, laterality="R", nipple_lps=NIP if nipple else None)
    truth = truth.copy()
    truth.graph["nipple_lps"] = NIP.tolist()
    msgs = [str(w.message) for w in caught if issubclass(w.category, DuctreeWarning)]
    return tree, truth, msgs, vol


def y_truth(r0=0.4, r1=0.3):
    pos = [[0, 0, 0], [0, 3, 0], [0, 6, 0], [1.5, 9, 0.3], [2.6, 12, 0.6], [-1.5, 9, -0.2], [-2.8, 12, -0.5]]
    return DuctTree.from_arrays(pos, [r0, r0, r0, r1, r1, r1, r1], [-1, 0, 1, 2, 3, 2, 5], laterality="R")


def test_straight_tube_radius_and_centreline():
    rng = np.random.default_rng(3)
    d = rng.normal(size=3)
    d /= np.linalg.norm(d)
    d[1] = abs(d[1]) + 0.5
    d /= np.linalg.norm(d)
    r = 0.3  # 3 voxels
    truth = DuctTree.from_arrays([[0, 0, 0], d * 6.0], [r, r], [-1, 0], laterality="R")
    tree, truth, msgs, _ = build(truth)
    assert len(tree.systems()) == 1 and len(bifurcations(tree)) == 0 and len(tips(tree)) == 1
    s = compare_trees(tree, truth, tol_mm=H)
    assert s.recon_to_truth_mean_mm <= 0.5 * H
    assert s.radius_error_median <= 0.10
    # the root is the end next to the nipple
    root = tree.roots()[0]
    assert np.linalg.norm(tree.nodes[root]["pos"]) <= r + H
    assert tree.graph["nipple_lps"] == pytest.approx(NIP.tolist())


def test_radius_corrected_for_the_grid():
    # a nearest-surface distance alone would read about half a voxel low (2 instead of 2.5 voxels here)
    truth = DuctTree.from_arrays([[0, 0, 0], [0.2, 5.0, 0.1]], [0.25, 0.25], [-1, 0], laterality="R")
    tree, truth, _, _ = build(truth)
    inner = tree.radii[1:-1]
    assert np.median(inner) == pytest.approx(0.25, rel=0.08)


def test_y_bifurcation_tips_and_root():
    tree, truth, msgs, _ = build(y_truth(), defects=Defects(holes_per_100mm=0, bumps_per_100mm=0,
                                                            dust_per_100mm=0))
    s = compare_trees(tree, truth, tol_mm=H)
    assert s.tip_recall == 1.0 and s.tip_precision == 1.0
    assert len(bifurcations(tree)) == 1
    assert s.bifurcations_within_tol == 1.0           # within one voxel + the local radius
    assert s.recon_to_truth_mean_mm <= 0.5 * H
    assert s.roots_matched and s.loops_recon == 0
    assert not msgs


def test_anisotropic_oblique_grid_lands_in_lps():
    tree, truth, _, vol = build(y_truth(), spacing=(0.1, 0.12, 0.16), direction=oblique_direction((25, -15, 30)))
    assert not np.allclose(vol.direction, np.eye(3))
    s = compare_trees(tree, truth, tol_mm=0.16)
    assert s.tip_recall == 1.0 and s.tip_precision == 1.0 and s.roots_matched
    assert s.recon_to_truth_mean_mm <= 0.5 * 0.12


@pytest.mark.parametrize("r,spacing", [(0.3, 0.1), (0.2, 0.1), (0.4, 0.2), (0.25, 0.2)])
def test_duct_ends_reach_the_rounded_end(r, spacing):
    # thinning stops a curve short of a duct's rounded end; the end goes back to the cap's centre (within a voxel)
    d = np.array([0.3, 1.0, 0.2])
    d /= np.linalg.norm(d)
    truth = DuctTree.from_arrays([[0, 0, 0], d * 6.0], [r, r], [-1, 0], laterality="R")
    tree, _, _, _ = build(truth, spacing=spacing, defects=Defects(holes_per_100mm=0, bumps_per_100mm=0,
                                                                  dust_per_100mm=0), seed=1)
    tip = tree.nodes[tips(tree)[0]]["pos"]
    root = tree.nodes[tree.roots()[0]]["pos"]
    assert np.linalg.norm(tip - d * 6.0) <= spacing
    assert np.linalg.norm(root) <= spacing


def test_tunnel_through_a_fork_crotch_is_one_bifurcation():
    # a hole pierced through the web where the two daughters are still fused: thinning keeps it as a small
    # cycle of junctions, which must become one bifurcation at the fork, not a loop or a junction beyond it
    truth = y_truth()
    vol = voxelize_tree(truth, H, nipple_lps=NIP, defects=CLEAN)
    p = vol.array_to_lps(np.argwhere(np.ones(vol.array.shape, bool))) - NIP
    for y in (6.3, 6.5):
        a = vol.array.copy()
        a.reshape(-1)[np.flatnonzero(np.hypot(p[:, 0], p[:, 1] - y) <= 0.09)] = 0   # along z, through the web
        pierced = Volume(a, vol.spacing, vol.origin, vol.direction)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = tree_from_volume(pierced, laterality="R", nipple_lps=NIP)
        t = truth.copy()
        t.graph["nipple_lps"] = NIP.tolist()
        s = compare_trees(tree, t, tol_mm=H)
        assert len(bifurcations(tree)) == 1 and len(tree.anastomoses()) == 0
        assert s.bifurcations_within_tol == 1.0 and s.tip_recall == 1.0 and s.tip_precision == 1.0


def test_touching_branches_do_not_make_a_loop():
    # two daughters bend toward each other until their walls touch at y = 10, then part again
    r = 0.25
    pos = [[0, 0, 0], [0, 5, 0], [1.0, 7.5, 0], [r, 10, 0], [1.5, 13, 0],
           [-1.0, 7.5, 0], [-r, 10, 0], [-1.5, 13, 0]]
    truth = DuctTree.from_arrays(pos, [0.35, 0.35] + [r] * 6, [-1, 0, 1, 2, 3, 1, 5, 6], laterality="R")
    tree, truth, msgs, vol = build(truth)
    assert len(tree.anastomoses()) == 0
    assert len(tips(tree)) == 2 and len(bifurcations(tree)) == 1
    s = compare_trees(tree, truth, tol_mm=H)
    assert s.tip_recall == 1.0 and s.branch_recall == 1.0


def test_real_anastomosis_is_kept_and_flagged():
    truth = y_truth()
    # a connecting duct between the two daughters (a true loop in the lumen)
    a, b = 3, 5   # nodes [1.5, 9, 0.3] and [-1.5, 9, -0.2]
    truth.add_edge(a, b, anastomosis=True)
    tree, truth, msgs, _ = build(truth)
    assert len(tree.anastomoses()) == 1
    assert any("anastomos" in m for m in msgs)
    tree.validate()
    s = compare_trees(tree, truth, tol_mm=H)
    assert s.loops_recon == 1 and s.tip_recall == 1.0


def test_bumps_are_not_branches_and_dust_is_counted():
    truth = DuctTree.from_arrays([[0, 0, 0], [0, 4, 0], [0, 8, 0]], [0.4, 0.4, 0.4], [-1, 0, 1], laterality="R")
    vol = voxelize_tree(truth, H, nipple_lps=NIP, defects=CLEAN)
    a = vol.array
    # bumps: hemispheres of radius 0.15 mm on the wall at y = 3 and y = 5.5 mm
    kji = np.argwhere(np.ones(a.shape, bool))
    p = vol.array_to_lps(kji) - NIP
    for c in ([0.4, 3.0, 0.0], [0.0, 5.5, -0.4]):
        inside = np.linalg.norm(p - c, axis=1) <= 0.15
        a.reshape(-1)[np.flatnonzero(inside)] = 1
    # dust: two specks well away from the duct, one on the volume's edge
    a[0, 1, 1] = 1
    a[2, -3, 2:4] = 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DuctreeWarning)
        tree = tree_from_volume(vol, laterality="R", nipple_lps=NIP)
    msgs = [str(w.message) for w in caught]
    assert len(tips(tree)) == 1 and len(bifurcations(tree)) == 0 and len(tree.systems()) == 1
    assert any("dropped 2 speck" in m for m in msgs)
    assert not any("border" in m for m in msgs)      # dust on the edge cuts no duct off


def test_duct_cut_by_the_volume_border_warns():
    truth = DuctTree.from_arrays([[0, 0, 0], [0, 6, 0]], [0.3, 0.3], [-1, 0], laterality="R")
    vol = voxelize_tree(truth, H, nipple_lps=NIP, defects=CLEAN)
    cut = Volume(vol.array[:, :-20, :].copy(), vol.spacing, vol.origin, vol.direction)  # the grid ends in the duct
    assert cut.array[:, -1, :].any()
    with pytest.warns(DuctreeWarning, match="border of the volume"):
        tree = tree_from_volume(cut, laterality="R", nipple_lps=NIP)
    assert len(tree.systems()) == 1


def test_two_systems_and_estimated_nipple():
    pos = [[1.5, 0, 0], [2.5, 6, 1], [3.5, 12, 2], [-1.5, 0, 0], [-2.5, 6, -1], [-3.5, 12, -2]]
    truth = DuctTree.from_arrays(pos, [0.5, 0.45, 0.4, 0.45, 0.4, 0.35], [-1, 0, 1, -1, 3, 4], laterality="R")
    tree, truth_lps, msgs, _ = build(truth, nipple=False)
    assert len(tree.systems()) == 2
    assert any("nipple not given" in m for m in msgs)
    # estimated nipple: the mean of the two orifices (the true nipple here), within a voxel + their radius
    assert np.linalg.norm(np.asarray(tree.graph["nipple_lps"]) - NIP) < H + 0.45
    s = compare_trees(tree, truth_lps, tol_mm=H)
    assert s.roots_matched and s.systems_recon == 2


def test_label_volume_one_system_per_label():
    truth = y_truth()
    vol = voxelize_tree(truth, H, nipple_lps=NIP, defects=CLEAN)
    other = DuctTree.from_arrays([[4, 0, 0], [5, 8, 0]], [0.3, 0.3], [-1, 0])
    shifted = voxelize_tree(other, H, nipple_lps=NIP, defects=CLEAN)
    # paint the second duct as label 7 into the first volume's grid
    lab = vol.array.astype(np.uint8)
    p = shifted.array_to_lps(np.argwhere(shifted.array > 0))
    kji = np.rint(vol.lps_to_array(p)).astype(int)
    ok = np.all((kji >= 0) & (kji < np.array(lab.shape)), axis=1)
    lab[tuple(kji[ok].T)] = 7
    lv = Volume(lab, vol.spacing, vol.origin, vol.direction)
    assert sorted(np.unique(mask_labels(lv))) == [0, 1, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = tree_from_volume(lv, laterality="R", nipple_lps=NIP)
        only7 = tree_from_volume(lv, laterality="R", nipple_lps=NIP, label=7)
    assert len(both.systems()) == 2 and len(only7.systems()) == 1
    with pytest.raises(InputError, match=r"label 3 does not exist.*\[1, 7\]"):
        tree_from_volume(lv, laterality="R", label=3)


def test_file_round_trip_and_nipple_voxel(tmp_path):
    truth = y_truth()
    vol = voxelize_tree(truth, H, nipple_lps=NIP, defects=CLEAN)
    path = write_volume(vol, tmp_path / "seg.nii.gz")
    back = read_volume(path)
    assert back.spacing == pytest.approx(vol.spacing) and np.allclose(back.direction, vol.direction)
    assert np.array_equal(back.array, vol.array)
    ijk = np.rint(vol.lps_to_array(NIP)[::-1]).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = tree_from_volume(path, laterality="R", nipple_voxel=ijk.tolist())
    t2 = truth.copy()
    t2.graph["nipple_lps"] = NIP.tolist()
    assert compare_trees(tree, t2, tol_mm=H).roots_matched
    assert tree.graph["nipple_from"] == "given as a voxel index"


def test_bad_volumes(tmp_path):
    z = Volume(np.zeros((5, 5, 5), np.uint8), (0.1, 0.1, 0.1))
    with pytest.raises(InputError, match="empty"):
        tree_from_volume(z, laterality="R")
    with pytest.raises(InputError, match="full"):
        tree_from_volume(Volume(np.ones((5, 5, 5), np.uint8), (0.1, 0.1, 0.1)), laterality="R")
    one = np.zeros((9, 9, 9), np.uint8)
    one[2:7, 2:7, 2:7] = 1
    v = Volume(one, (0.1, 0.1, 0.1))
    with pytest.raises(InputError, match="outside the volume"):
        tree_from_volume(v, laterality="R", nipple_lps=(50, 0, 0))
    with pytest.raises(InputError, match="outside the volume"):
        tree_from_volume(v, laterality="R", nipple_voxel=(9, 0, 0))
    np.save(tmp_path / "m.npy", one)
    with pytest.raises(InputError, match="spacing"):
        read_volume(tmp_path / "m.npy")
    assert read_volume(tmp_path / "m.npy", spacing=(0.1, 0.1, 0.2)).spacing == (0.1, 0.1, 0.2)
    np.save(tmp_path / "flat.npy", one[0])
    with pytest.raises(InputError, match="2D"):
        read_volume(tmp_path / "flat.npy", spacing=(0.1, 0.1, 0.1))
    import SimpleITK as sitk

    sitk.WriteImage(sitk.GetImageFromArray(one[0]), str(tmp_path / "flat.nii.gz"))
    with pytest.raises(InputError, match="2D"):
        read_volume(tmp_path / "flat.nii.gz")
    good = write_volume(v, tmp_path / "v.nii.gz")
    data = good.read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.nii.gz"):
        read_volume(tmp_path / "cut.nii.gz")
    (tmp_path / "junk.nii.gz").write_bytes(b"not a nifti at all")
    with pytest.raises(InputError, match="junk.nii.gz"):
        read_volume(tmp_path / "junk.nii.gz")


PATIENT = {"0010|0010": "Doe^Jane", "0010|0020": "PID-12345", "0010|0030": "19700101", "0008|0050": "ACC-98765"}


def _write_dicom_series(vol: Volume, folder) -> None:
    """One DICOM file per k-slice, with the volume's geometry and made-up patient identifiers in every header."""
    import SimpleITK as sitk

    folder.mkdir()
    uid = "1.2.826.0.1.3680043.2.1125.1.4242"
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    d = vol.direction
    orient = "\\".join(f"{x:.6f}" for x in (*d[:, 0], *d[:, 1]))
    for k in range(vol.array.shape[0]):
        sl = sitk.GetImageFromArray(vol.array[k].astype(np.int16))
        sl.SetSpacing(vol.spacing[:2])
        pos = vol.index_to_lps([0, 0, k])
        tags = {**PATIENT, "0008|0060": "CT", "0008|0016": "1.2.840.10008.5.1.4.1.1.2", "0020|000d": uid + ".1",
                "0020|000e": uid + ".2", "0008|0018": f"{uid}.3.{k}", "0020|0013": str(k + 1),
                "0020|0037": orient, "0020|0032": "\\".join(f"{x:.6f}" for x in pos),
                "0028|0030": f"{vol.spacing[1]}\\{vol.spacing[0]}", "0018|0050": str(vol.spacing[2])}
        for t, v in tags.items():
            sl.SetMetaData(t, v)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(sl)


def test_dicom_series_geometry_and_no_patient_identifiers(tmp_path):
    truth = y_truth()
    vol = voxelize_tree(truth, (0.1, 0.12, 0.15), nipple_lps=NIP, defects=CLEAN,
                        direction=oblique_direction((10, -5, 20)))
    series = tmp_path / "series"
    _write_dicom_series(vol, series)
    back = read_volume(series)
    assert back.spacing == pytest.approx(vol.spacing, abs=1e-6) and back.origin == pytest.approx(vol.origin, abs=1e-4)
    assert np.allclose(back.direction, vol.direction, atol=1e-5)
    assert np.array_equal(back.array, vol.array)
    assert not any(hasattr(back, name) for name in ("metadata", "header", "tags"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = tree_from_volume(series, laterality="R", nipple_lps=NIP)
    t = truth.copy()
    t.graph["nipple_lps"] = NIP.tolist()
    s = compare_trees(tree, t, tol_mm=0.15)
    assert s.roots_matched and s.tip_recall == 1.0 and s.tip_precision == 1.0
    # nothing from the headers reaches the tree or any file written from it, nor the command's output
    from ductree.io import write_tree

    outs = [write_tree(tree, tmp_path / name) for name in ("t.json", "t.swc", "t.graphml")]
    r = subprocess.run([sys.executable, "-m", "ductree", "build", str(series), "-l", "R", "--out",
                        str(tmp_path / "cli.json"), "--nipple", ",".join(str(v) for v in NIP)],
                       capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 0, r.stderr
    texts = [p.read_text(encoding="utf-8") for p in [*outs, tmp_path / "cli.json"]] + [r.stdout, r.stderr, repr(tree.graph)]
    for value in PATIENT.values():
        for needle in {value, value.replace("^", " "), value.split("^")[0]}:
            assert all(needle not in text for text in texts), needle


def test_case_file_with_a_volume_source(tmp_path):
    from ductree.case import load_case
    from ductree.reconstruct import tree_from_case

    truth = y_truth()
    vol = voxelize_tree(truth, 0.1, nipple_lps=NIP, defects=CLEAN)
    write_volume(vol, tmp_path / "seg.nii.gz")
    np.save(tmp_path / "seg.npy", vol.array)
    t = truth.copy()
    t.graph["nipple_lps"] = NIP.tolist()
    nip = ", ".join(str(v) for v in NIP)
    (tmp_path / "case.toml").write_text(f'id = "vol-1"\nlaterality = "R"\nnipple_lps = [{nip}]\n\n'
                                        '[source]\nvolume = "seg.nii.gz"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = tree_from_case(load_case(tmp_path / "case.toml"))
    s = compare_trees(tree, t, tol_mm=H)
    assert tree.laterality == "R" and tree.graph["nipple_lps"] == pytest.approx(NIP.tolist())
    assert s.roots_matched and s.tip_recall == 1.0 and s.bifurcations_within_tol == 1.0
    # a .npy source needs its spacing in the case; the nipple as a voxel index
    ijk = np.rint(vol.lps_to_array(NIP)[::-1]).astype(int).tolist()
    (tmp_path / "npy.toml").write_text('id = "vol-2"\nlaterality = "R"\n\n[source]\nvolume = "seg.npy"\n'
                                       f'spacing_mm = [0.1, 0.1, 0.1]\nnipple_voxel = {ijk}\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree2 = tree_from_case(load_case(tmp_path / "npy.toml"))
    assert tree2.graph["nipple_from"] == "given as a voxel index" and len(tips(tree2)) == 2
    (tmp_path / "bad.toml").write_text('id = "vol-3"\nlaterality = "R"\n\n[source]\nvolume = "seg.npy"\n')
    with pytest.raises(InputError, match="spacing"):
        tree_from_case(load_case(tmp_path / "bad.toml"))
