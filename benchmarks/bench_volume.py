"""Volume -> tree: accuracy over seeded phantoms, and file-to-saved-tree time against skan and kimimaro.

Accuracy: phantom systems (seeded) voxelized with realistic defects at
0.1-0.2 mm, isotropic, anisotropic and oblique, rebuilt with the nipple
given, scored with :func:`ductree.metrics.compare_trees` (tolerance = the
largest voxel size).

Speed: one full-breast phantom (6 systems, 50 mm deep) at 0.1 mm (about 90
million voxels) written as ``.nii.gz``; each method runs in a fresh process
from the file to a saved tree (imports, JIT and lookup tables included):

- ductree: ``ductree build`` (tree.json with radii, pruning, loops handled);
- (a) scikit-image ``skeletonize`` (Lee) + ``skan.Skeleton`` / ``summarize``,
  saved as the branch table (no radii, no pruning, loops left in);
- (b) kimimaro ``skeletonize`` (TEASAR) saved as SWC.

Each peer's skeleton is also turned into a tree (rooted at the node nearest the
nipple in each component, spanning tree by breadth-first search) and scored
the same way. Also: one Euclidean distance transform (``edt``, the floor any
method pays) and ductree's peak memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .harness import Row

HERE = Path(__file__).resolve().parent
NIPPLE = (-90.0, -110.0, 40.0)


# --------------------------------------------------------------------------- accuracy

ACCURACY_CASES = [
    # (seed, systems, spacing, oblique)
    (101, 2, 0.1, False), (102, 2, 0.2, False), (103, 2, (0.1, 0.1, 0.2), False),
    (104, 2, 0.15, True), (105, 2, (0.12, 0.15, 0.2), True),
]


def _accuracy(quick: bool) -> dict:
    from ductree.metrics import compare_trees
    from ductree.phantom import generate_tree
    from ductree.phantom.voxelize import oblique_direction, voxelize_tree
    from ductree.reconstruct.volume import tree_from_volume

    cases = ACCURACY_CASES[:2] if quick else ACCURACY_CASES
    agg = {"tips_truth": 0, "tips_matched": 0, "tips_recon": 0, "recon_tips_matched": 0, "dist_vox": [],
           "radius": [], "bif_ok": 0, "bif_n": 0, "roots_ok": 0, "systems": 0, "branch_recall": [],
           "branch_precision": [], "cases": []}
    for seed, systems, spacing, oblique in cases:
        tree = generate_tree(seed=seed, systems=systems, branches=40 if quick else 80, breast_depth_mm=70)
        vol = voxelize_tree(tree, spacing, nipple_lps=NIPPLE, seed=seed,
                            direction=oblique_direction() if oblique else None)
        h = float(max(vol.spacing))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = tree_from_volume(vol, laterality="R", nipple_lps=NIPPLE)
        truth = tree.copy()
        truth.graph["nipple_lps"] = list(NIPPLE)
        s = compare_trees(rec, truth, tol_mm=h)
        agg["tips_truth"] += s.tips_truth
        agg["tips_matched"] += s.tips_matched
        agg["tips_recon"] += s.tips_recon
        agg["recon_tips_matched"] += round((s.tip_precision or 0) * s.tips_recon)
        agg["dist_vox"].append(s.recon_to_truth_mean_mm / float(np.mean(vol.spacing)))
        agg["radius"].append(s.radius_error_median)
        agg["bif_ok"] += round((s.bifurcations_within_tol or 0) * s.bifurcations_truth)
        agg["bif_n"] += s.bifurcations_truth
        agg["roots_ok"] += int(s.roots_matched) * s.systems_truth
        agg["systems"] += s.systems_truth
        agg["branch_recall"].append(s.branch_recall)
        agg["branch_precision"].append(s.branch_precision)
        agg["cases"].append({"seed": seed, "spacing": spacing, "oblique": oblique, **{
            k: v for k, v in s.as_dict().items() if k in (
                "tip_recall", "tip_precision", "recon_to_truth_mean_mm", "radius_error_median",
                "bifurcations_within_tol", "roots_matched", "systems_truth", "systems_recon")}})
    return agg


# --------------------------------------------------------------------------- speed

_HWM = """
def _hwm():
    # peak resident memory of this process in kB (VmHWM starts afresh at exec, unlike ru_maxrss)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

_DUCTREE = _HWM + """
import resource, sys, time, warnings
t0 = time.perf_counter()
from ductree.cli import main
code = main(["build", sys.argv[1], "--nipple", sys.argv[3], "-l", "R", "--out", sys.argv[2]])
dt = time.perf_counter() - t0
print("RESULT", dt, _hwm(), code)
"""

_SKAN = _HWM + """
import resource, sys, time
t0 = time.perf_counter()
import numpy as np, SimpleITK as sitk
from skimage.morphology import skeletonize
import skan
img = sitk.ReadImage(sys.argv[1])
mask = sitk.GetArrayFromImage(img) > 0
sk = skeletonize(mask)
spacing = img.GetSpacing()[::-1]
skel = skan.Skeleton(sk, spacing=spacing)
table = skan.summarize(skel, separator="_")
table.to_csv(sys.argv[2], index=False)
np.savez(sys.argv[2] + ".npz", coords=skel.coordinates, graph_row=skel.graph.tocoo().row,
         graph_col=skel.graph.tocoo().col)
dt = time.perf_counter() - t0
print("RESULT", dt, _hwm(), 0)
"""

_KIMIMARO = _HWM + """
import resource, sys, time
t0 = time.perf_counter()
import numpy as np, SimpleITK as sitk, kimimaro
img = sitk.ReadImage(sys.argv[1])
labels = sitk.GetArrayFromImage(img).astype(np.uint32)
sp = img.GetSpacing()[::-1]
skels = kimimaro.skeletonize(labels, anisotropy=sp, dust_threshold=12, fix_branching=True, progress=False,
                             parallel=1, teasar_params={"scale": 1.5, "const": 0.3})
with open(sys.argv[2], "w") as fh:
    for k, s in skels.items():
        fh.write(s.to_swc())
np.savez(sys.argv[2] + ".npz", **{f"v{k}": s.vertices for k, s in skels.items()},
         **{f"e{k}": s.edges for k, s in skels.items()}, **{f"r{k}": s.radius for k, s in skels.items()})
dt = time.perf_counter() - t0
print("RESULT", dt, _hwm(), 0)
"""


def _run(script: str, *args: str, timeout: float = 900) -> tuple[float, float]:
    """(wall seconds measured inside the process from its first line, peak RSS in MB)."""
    r = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, encoding="utf-8", timeout=timeout,
                       cwd=HERE.parent)
    line = [x for x in r.stdout.splitlines() if x.startswith("RESULT")]
    if r.returncode != 0 or not line:
        raise RuntimeError(f"benchmark subprocess failed: {r.stderr[-2000:]}")
    _, dt, rss, _ = line[-1].split()
    return float(dt), float(rss) / 1024.0


def _tree_from_points(points: np.ndarray, radii: np.ndarray, edges: np.ndarray, nipple: np.ndarray):
    """A DuctTree (BF mm) from an undirected skeleton: BFS spanning tree per component, rooted nearest the nipple."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    from ductree.tree import DuctTree

    n = len(points)
    a = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    a = a + a.T
    nc, lab = connected_components(a, directed=False)
    parent = np.full(n, -1, dtype=np.int64)
    keep = np.zeros(n, dtype=bool)
    loops = 0
    for c in range(nc):
        members = np.flatnonzero(lab == c)
        if len(members) < 3:
            continue
        root = members[np.argmin(np.linalg.norm(points[members] - nipple, axis=1))]
        order, pred = breadth_first_order(a, root, directed=False, return_predecessors=True)
        parent[order[1:]] = pred[order[1:]]
        keep[order] = True
        loops += int(a[members][:, members].nnz // 2 - (len(members) - 1))
    idx = np.flatnonzero(keep)
    remap = np.full(n, -1, dtype=np.int64)
    remap[idx] = np.arange(len(idx))
    par = np.where(parent[idx] >= 0, remap[np.maximum(parent[idx], 0)], -1)
    tree = DuctTree.from_arrays(points[idx] - nipple, np.maximum(radii[idx], 1e-3), par, laterality="R")
    tree.graph["nipple_lps"] = [float(v) for v in nipple]
    return tree, loops


def _skan_tree(npz: Path, vol) -> tuple:
    d = np.load(npz)
    kji = d["coords"]
    pts = vol.array_to_lps(kji)
    e = np.stack([d["graph_row"], d["graph_col"]], axis=1)
    e = e[e[:, 0] < e[:, 1]]
    r = np.full(len(pts), float(np.mean(vol.spacing)))       # skan gives no radii
    return _tree_from_points(pts, r, e, np.asarray(NIPPLE))


def _kimimaro_tree(npz: Path, vol) -> tuple:
    d = np.load(npz)
    pts_all, r_all, e_all = [], [], []
    off = 0
    for key in sorted(k for k in d.files if k.startswith("v")):
        lab = key[1:]
        v = d[key]                                   # physical units along array axes (k, j, i), from 0
        kji = v / vol.array_spacing
        pts_all.append(vol.array_to_lps(kji))
        r_all.append(d["r" + lab])
        e_all.append(d["e" + lab] + off)
        off += len(v)
    return _tree_from_points(np.vstack(pts_all), np.concatenate(r_all), np.vstack(e_all), np.asarray(NIPPLE))


def _speed(quick: bool, workdir: Path) -> dict:
    from ductree.io import read_tree
    from ductree.io.volumes import read_volume, write_volume
    from ductree.metrics import compare_trees
    from ductree.phantom import generate_tree
    from ductree.phantom.voxelize import voxelize_tree

    tree = generate_tree(seed=11, systems=3 if quick else 6, breast_depth_mm=40 if quick else 50,
                         branches=40 if quick else 60)
    spacing = 0.2 if quick else 0.1
    vol = voxelize_tree(tree, spacing, nipple_lps=NIPPLE, seed=11)
    src = write_volume(vol, workdir / "breast.nii.gz")
    truth = tree.copy()
    truth.graph["nipple_lps"] = list(NIPPLE)
    out: dict = {"voxels": int(vol.array.size), "foreground": int(vol.array.sum()), "spacing": spacing}

    nip = ",".join(str(v) for v in NIPPLE)
    out["ductree_s"], out["ductree_mb"] = _run(_DUCTREE, str(src), str(workdir / "tree.json"), nip)
    rec = read_tree(workdir / "tree.json")
    out["ductree_score"] = compare_trees(rec, truth, tol_mm=spacing)

    out["skan_s"], out["skan_mb"] = _run(_SKAN, str(src), str(workdir / "skan.csv"))
    back = read_volume(src)
    st, loops = _skan_tree(Path(str(workdir / "skan.csv") + ".npz"), back)
    out["skan_score"], out["skan_loops"] = compare_trees(st, truth, tol_mm=spacing), loops

    out["kimimaro_s"], out["kimimaro_mb"] = _run(_KIMIMARO, str(src), str(workdir / "kimimaro.swc"),
                                                 timeout=1800)
    kt, kloops = _kimimaro_tree(Path(str(workdir / "kimimaro.swc") + ".npz"), back)
    out["kimimaro_score"], out["kimimaro_loops"] = compare_trees(kt, truth, tol_mm=spacing), kloops

    import edt

    mask = back.array > 0
    t0 = time.perf_counter()
    edt.edt(mask, anisotropy=tuple(back.array_spacing), parallel=os.cpu_count() or 1)
    out["edt_s"] = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- rows

def run(quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    acc = _accuracy(quick)
    n = len(acc["cases"])
    note = f"{acc['systems']} phantom systems in {n} volumes, 0.1-0.2 mm, iso/aniso/oblique"
    rows += [
        Row("volume", "tip recall", 100 * acc["tips_matched"] / max(acc["tips_truth"], 1), "%",
            higher_is_better=True, target=">= 98%", note=note),
        Row("volume", "tip precision", 100 * acc["recon_tips_matched"] / max(acc["tips_recon"], 1), "%",
            higher_is_better=True, target=">= 98%"),
        Row("volume", "branch recall (min over volumes)", 100 * min(acc["branch_recall"]), "%",
            higher_is_better=True),
        Row("volume", "mean centreline distance (max over volumes)", max(acc["dist_vox"]), "voxel",
            target="<= 0.5 voxel"),
        Row("volume", "median relative radius error (max over volumes)", 100 * max(acc["radius"]), "%",
            target="<= 10%"),
        Row("volume", "bifurcations within 1 voxel + radius", 100 * acc["bif_ok"] / max(acc["bif_n"], 1), "%",
            higher_is_better=True, target="100%", note=f"{acc['bif_n']} bifurcations"),
        Row("volume", "systems rooted at the right end", 100 * acc["roots_ok"] / max(acc["systems"], 1), "%",
            higher_is_better=True, target="100%"),
    ]
    with tempfile.TemporaryDirectory(prefix="ductree-bench-volume-") as tmp:
        sp = _speed(quick, Path(tmp))
    size = f"{sp['voxels'] / 1e6:.0f} M voxels at {sp['spacing']} mm, {sp['foreground'] / 1e6:.2f} M foreground"
    rows += [
        Row("volume", "file -> saved tree", sp["ductree_s"], "s", "skimage skeletonize + skan", sp["skan_s"],
            target=">= 2x faster", note=size),
        Row("volume", "file -> saved tree", sp["ductree_s"], "s", "kimimaro", sp["kimimaro_s"],
            target=">= 10x faster"),
        Row("volume", "time / one EDT of the volume", sp["ductree_s"] / sp["edt_s"], "x",
            note=f"edt {sp['edt_s']:.2f} s"),
        Row("volume", "peak memory", sp["ductree_mb"], "MB", "skimage + skan", sp["skan_mb"],
            target=f"< 3 GB for 100 M voxels ({sp['voxels'] / 1e6:.0f} M here)"),
        Row("volume", "peak memory", sp["ductree_mb"], "MB", "kimimaro", sp["kimimaro_mb"]),
    ]
    for name, key in (("skimage + skan", "skan"), ("kimimaro", "kimimaro")):
        d, p = sp["ductree_score"], sp[f"{key}_score"]
        rows += [
            Row("volume", "big phantom: tip precision", 100 * (d.tip_precision or 0), "%", name,
                100 * (p.tip_precision or 0), higher_is_better=True,
                note=f"{name} loops left: {sp[key + '_loops']}"),
            Row("volume", "big phantom: tip recall", 100 * (d.tip_recall or 0), "%", name,
                100 * (p.tip_recall or 0), higher_is_better=True),
            Row("volume", "big phantom: mean centreline distance", d.recon_to_truth_mean_mm, "mm", name,
                p.recon_to_truth_mean_mm),
            Row("volume", "big phantom: bifurcations within tol", 100 * (d.bifurcations_within_tol or 0), "%",
                name, 100 * (p.bifurcations_within_tol or 0), higher_is_better=True),
        ]
    d, k = sp["ductree_score"], sp["kimimaro_score"]
    rows.append(Row("volume", "big phantom: median radius error", 100 * (d.radius_error_median or 0), "%",
                    "kimimaro", 100 * (k.radius_error_median or 0), note="skan has no radii"))
    return rows


if __name__ == "__main__":  # pragma: no cover
    from .harness import format_table

    print(format_table(run(quick="--quick" in sys.argv)))
