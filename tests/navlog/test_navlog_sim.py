"""Simulated sessions on phantoms: valid logs, ground truth that the reader and the rebuild recover."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from ductree.cli import main
from ductree.errors import DuctreeWarning
from ductree.io.navlog import navlog_text, parse_navlog, read_navlog
from ductree.measures import path_mm
from ductree.phantom import generate_tree, insert_lesions, simulate
from ductree.phantom.navlog_sim import simulate_session
from ductree.reconstruct.fuse import fuse
from ductree.reconstruct.scope import tree_from_navlog

SEEDS = range(6)


@pytest.fixture(scope="module")
def sessions():
    out = []
    for seed in SEEDS:
        tree = generate_tree(seed=seed, systems=3, branches=40)
        (les,) = insert_lesions(tree, 1, seed=seed)
        out.append((tree, les, simulate_session(tree, les, seed=seed, tracker=True)))
    return out


def _read(sess):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuctreeWarning)
        return parse_navlog(navlog_text(sess.records, "jsonl"))


def test_reader_recovers_the_true_walk(sessions):
    for tree, les, sess in sessions:
        log = _read(sess)
        truth = sess.truth
        assert [(b["parent"], b["bif"], b["lumen"]) for b in truth["branches"]] == \
            [(b.parent, b.bif, b.lumen) for b in log.branches]
        assert [len(b["children_tree_branches"]) for b in truth["bifurcations"]] == \
            [len(b.lumens) for b in log.bifurcations]
        for b, tb in zip(log.bifurcations, truth["bifurcations"]):
            assert abs(b.depth_estimate_mm - tb["path_mm"]) < 2.0
        # reported lumen clocks are within an hour of the truth (then rounded to the half hour)
        for tb in truth["bifurcations"]:
            for rep, true in zip(tb["lumens_reported"], tb["lumens_true_clock"]):
                d = abs(rep - true) % 12
                assert min(d, 12 - d) <= 1.25 + 1e-9
        if truth["found"]:
            f = log.finding(les.label)
            assert abs(f.depth_mm - les.path_mm) < 2.0 and f.branch == truth["findings"][les.label]["log_branch"]


def test_true_path_ends_at_the_lesion(sessions):
    for tree, les, sess in sessions:
        nodes = sess.truth["path_nodes"]
        assert nodes[0] == tree.root_of_system(les.system) and nodes[-1] == les.node
        pm = path_mm(tree)
        assert pm[tree.index[nodes[-1]]] >= les.path_mm - 1e-9


def test_tracker_rebuild_is_close_to_the_phantom(sessions):
    for tree, les, sess in sessions:
        log = _read(sess)
        rebuilt = tree_from_navlog(log)
        assert rebuilt.graph["navlog"]["geometry"] == "tracker"
        # true explored centreline: the phantom nodes the scope passed
        rows = sorted({tree.index[n] for b in sess.truth["branches"] for n in _branch_nodes(tree, b)})
        ref = tree.positions[rows]
        got = np.array([d["pos"] for _, d in rebuilt.nodes(data=True) if not d["unexplored"]])
        err = np.min(np.linalg.norm(got[:, None] - ref[None], axis=2), axis=1)
        assert err.mean() < 1.5, err.mean()


def _branch_nodes(tree, b):
    from ductree.measures import branches

    br = {x.index: x for x in branches(tree)}[b["tree_branch"]]
    pm = path_mm(tree)
    ids = tree.node_ids
    return [ids[r] for r in br.rows if pm[r] <= b["max_path_mm"] + 0.5]


def test_fusion_of_simulated_logs(sessions):
    good = 0
    for tree, les, sess in sessions:
        res = fuse(tree, _read(sess))
        assert res.system == les.system
        f = res.findings[0]
        if f.placed and f.best is not None:
            p = f.best
            on_path = p.node in sess.truth["path_nodes"] or tree.parent(p.node) in sess.truth["path_nodes"]
            good += on_path and abs(p.path_mm - les.path_mm) <= 3.0
    assert good >= len(SEEDS) - 1


def test_same_seed_same_session():
    tree = generate_tree(seed=11, systems=2, branches=30)
    (les,) = insert_lesions(tree, 1, seed=11)
    a = simulate_session(tree, les, seed=5)
    b = simulate_session(tree, les, seed=5)
    c = simulate_session(tree, les, seed=6)
    assert a.records == b.records and a.records != c.records


def test_registry_and_phantom_command(tmp_path, capsys):
    tree = generate_tree(seed=2, systems=2, branches=30)
    les = insert_lesions(tree, 1, seed=2)
    paths = simulate("navlog", tmp_path, tree, les, seed=2, fmt="csv")
    assert [p.name for p in paths] == ["scope.csv", "scope_truth.json"]
    truth = json.loads(paths[1].read_text(encoding="utf-8"))
    assert truth["schema"] == "ductree.navlog-truth/1" and truth["goal"] == les[0].label
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuctreeWarning)
        assert read_navlog(paths[0]).laterality == "R"
    assert main(["phantom", "--out", str(tmp_path / "case"), "--seed", "4", "--systems", "2", "--branches", "30",
                 "--lesions", "1", "--simulate", "navlog"]) == 0
    assert (tmp_path / "case" / "scope.jsonl").is_file() and (tmp_path / "case" / "scope_truth.json").is_file()
    capsys.readouterr()
    assert main(["fuse", str(tmp_path / "case" / "tree.json"), str(tmp_path / "case" / "scope.jsonl"),
                 "--out", str(tmp_path / "case" / "fused.json")]) == 0
