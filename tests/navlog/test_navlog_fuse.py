"""Fusion of hand-written logs onto a hand-built tree: the right path, an ambiguous case, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from navlog_helpers import jsonl, write_jsonl

from ductree.case import Case, SourceSpec
from ductree.errors import DuctreeWarning, InputError
from ductree.frame import clock_difference_h
from ductree.io import write_tree
from ductree.io.navlog import parse_navlog
from ductree.reconstruct import tree_from_case
from ductree.reconstruct.fuse import fuse
from ductree.reconstruct.scope import junction_lumens
from ductree.tree import DuctTree


def _u(deg_from_y_toward_x):
    a = math.radians(deg_from_y_toward_x)
    return np.array([math.sin(a), math.cos(a), 0.0])


def hand_tree(laterality="R") -> DuctTree:
    """System 0 (orifice 6:00): main duct 10 mm; junction J1 -> A (to the left, 10 mm) and B (to the right,
    12 mm, terminal); A ends in junction J2 at 20 mm -> A1 (bends up, 12 o'clock) and A2 (down, 6 o'clock),
    8 mm each. System 1 (orifice 12:00): one straight duct of 15 mm."""
    J1 = np.array([0.0, 10.0, -2.0])
    dA, dB = _u(40), _u(-40)
    J2 = J1 + 10 * dA
    up = np.array([0.0, 0.0, 1.0])
    dA1 = math.cos(math.radians(35)) * dA + math.sin(math.radians(35)) * up
    dA2 = math.cos(math.radians(35)) * dA - math.sin(math.radians(35)) * up
    pos = [[0, 0, -2], [0, 5, -2], J1, J1 + 5 * dA, J2, J2 + 4 * dA1, J2 + 8 * dA1, J2 + 4 * dA2, J2 + 8 * dA2,
           J1 + 6 * dB, J1 + 12 * dB, [0, 0, 2], [0, 7.5, 2], [0, 15, 2]]
    parent = [-1, 0, 1, 2, 3, 4, 5, 4, 7, 2, 9, -1, 11, 12]
    system = [0] * 11 + [1] * 3
    return DuctTree.from_arrays(pos, [0.5] * 14, parent, system, laterality=laterality)


def _log(rows, clock="6:00", lat="R"):
    head = {"type": "header", "format": "ductree-navlog", "version": 1, "laterality": lat, "orifice_clock": clock}
    return [head] + [dict(t=float(i), **r) for i, r in enumerate(rows)]


CLEAR = _log([
    {"depth_mm": 0}, {"depth_mm": 5},
    {"depth_mm": 10, "event": "bifurcation", "lumens": [3, 9]},
    {"depth_mm": 10, "event": "enter", "lumen": 0},
    {"depth_mm": 15},
    {"depth_mm": 20, "event": "bifurcation", "lumens": [12, 6]},
    {"depth_mm": 20, "event": "enter", "lumen": 1},
    {"depth_mm": 24, "event": "finding", "label": "F1", "kind": "papilloma", "size_mm": 2},
    {"depth_mm": 26, "event": "end", "reason": "stopped"},
    {"depth_mm": 0}])


def test_the_hand_tree_lumen_clocks():
    t = hand_tree()
    _, lum = junction_lumens(t, 2)
    assert [(c, round(k, 6)) for c, k, _ in lum] == [(3, 3.0), (9, 9.0)]
    _, lum = junction_lumens(t, 4)
    assert [c for c, _, _ in lum] == [5, 7]
    assert [clock_difference_h(k, want) for (_, k, _), want in zip(lum, (12.0, 6.0))] == pytest.approx([0, 0])
    assert [a for _, _, a in lum] == pytest.approx([35.0, 35.0])


def test_clear_log_goes_down_the_right_path():
    tree = hand_tree()
    res = fuse(tree, parse_navlog(jsonl(CLEAR)))
    assert res.system == 0 and not res.ambiguous and res.confidence > 0.95
    (f,) = res.findings
    assert f.placed and f.label == "F1"
    # F1 at 24 mm: 4 mm down A2 from J2 (node 7)
    assert f.node == 7 and f.path_mm == pytest.approx(24.0)
    assert np.allclose(f.best.point_bf, tree.nodes[7]["pos"])
    assert res.path == [0, 1, 2, 3, 4, 7]
    # log branches map onto main duct, A, A2; the log's bifurcations onto J1 and J2
    assert res.bifurcation_map == {0: 2, 1: 4}
    row = res.tree.graph["findings"][0]
    assert row["node"] == 7 and row["path_mm"] == pytest.approx(24.0) and row["confidence"] > 0.95
    assert 7 in [n for n, d in res.tree.nodes(data=True) if d.get("scope_explored")]
    assert not res.tree.nodes[10].get("scope_explored")  # branch B was never entered
    # the runner-up is the sibling A1 (same depth, the other clock), far less likely
    assert res.runner_up is not None and res.runner_up.node == 5 and res.runner_up.probability < 0.05
    assert tree.graph.get("findings") is None  # the input tree is untouched


def test_equal_fits_are_ambiguous_and_not_placed():
    # lumens reported at 12 and 6: both of J1's children (3 and 9 o'clock) fit equally badly, and both
    # ducts are long enough: the finding at 15 mm could be in A or in B
    log = parse_navlog(jsonl(_log([
        {"depth_mm": 0},
        {"depth_mm": 10, "event": "bifurcation", "lumens": [12, 6]},
        {"depth_mm": 10, "event": "enter", "lumen": 0},
        {"depth_mm": 15, "event": "finding", "label": "F1", "kind": "dcis", "size_mm": 3},
        {"depth_mm": 16, "event": "end", "reason": "stopped"}])))
    res = fuse(hand_tree(), log)
    (f,) = res.findings
    assert f.ambiguous and not f.placed and f.node is None
    assert 0.4 < f.confidence < 0.6
    assert {c.branch for c in f.candidates} and len(f.candidates) == 2
    assert abs(f.candidates[0].probability - f.candidates[1].probability) < 0.05
    assert {c.node for c in f.candidates} == {3, 10} or {c.path_mm for c in f.candidates} == {15.0}
    row = res.tree.graph["findings"][0]
    assert row["ambiguous"] and row["node"] is None and row["point_bf"] is None and len(row["candidates"]) == 2


def test_structure_decides_when_clocks_do_not():
    # uninformative clocks at J1, but only A has a junction at 20 mm, whose lumens then fit 12/6
    log = parse_navlog(jsonl(_log([
        {"depth_mm": 0},
        {"depth_mm": 10, "event": "bifurcation", "lumens": [12, 6]},
        {"depth_mm": 10, "event": "enter", "lumen": 0},
        {"depth_mm": 20, "event": "bifurcation", "lumens": [12, 6]},
        {"depth_mm": 20, "event": "enter", "lumen": 1},
        {"depth_mm": 25, "event": "finding", "label": "F1", "kind": "papilloma", "size_mm": 2}])))
    res = fuse(hand_tree(), log)
    (f,) = res.findings
    assert f.placed and f.node == 8 and f.path_mm == pytest.approx(25.0)  # A2, between 24 and 28 mm


def test_orifice_clock_picks_the_system():
    log = parse_navlog(jsonl(_log([
        {"depth_mm": 0}, {"depth_mm": 12, "event": "finding", "label": "F2", "kind": "ectasia", "size_mm": 4},
        {"depth_mm": 14, "event": "end", "reason": "stopped"}], clock="11:30")))
    res = fuse(hand_tree(), log)
    assert res.system == 1 and res.findings[0].node == 13 and res.findings[0].path_mm == pytest.approx(12.0)


def test_bad_input():
    with pytest.raises(InputError) as exc:
        fuse(hand_tree(), parse_navlog(jsonl(_log([{"depth_mm": 0}], lat="L")), source="s.jsonl"))
    assert exc.value.key == "laterality" and "L breast but the tree is R" in str(exc.value)
    assert exc.value.source == "s.jsonl"
    with pytest.raises(InputError) as exc:
        fuse(hand_tree(), parse_navlog(jsonl(_log([{"depth_mm": 0}], clock="3:00")), source="s.jsonl"))
    assert exc.value.key == "orifice_clock" and "3:00 matches no duct system" in str(exc.value)
    assert "6:00" in str(exc.value) and "12:00" in str(exc.value)


def test_fuse_through_a_case(tmp_path):
    tree_path = write_tree(hand_tree(), tmp_path / "tree.json")
    log_path = write_jsonl(tmp_path / "scope.jsonl", CLEAR)
    case = Case(id="c", laterality="R", source=SourceSpec(tree=tree_path, navlog=log_path), path=tmp_path / "case.toml")
    tree = tree_from_case(case)
    assert tree.graph["findings"][0]["node"] == 7
    (spec,) = case.lesions
    assert spec.label == "F1" and spec.origin == "navlog" and spec.laterality == "R" and spec.method == "point_bf"
    assert np.allclose(spec.point_bf, tree.nodes[7]["pos"])
    # a case on the other breast is refused, naming the log
    case = Case(id="c", laterality="L", source=SourceSpec(tree=tree_path, navlog=log_path))
    with pytest.raises(InputError) as exc:
        tree_from_case(case)
    assert exc.value.key == "laterality"


def test_navlog_as_the_case_source(tmp_path):
    log_path = write_jsonl(tmp_path / "scope.jsonl", CLEAR)
    case = Case(id="c", laterality="R", source=SourceSpec(navlog=log_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DuctreeWarning)
        tree = tree_from_case(case)
    assert tree.graph["navlog"]["geometry"] == "dead-reckoned" and [s.label for s in case.lesions] == ["F1"]


# --------------------------------------------------------------------------- absolute fit

def _phantom_log(seed: int):
    from ductree.io.navlog import navlog_text
    from ductree.phantom import generate_tree, insert_lesions
    from ductree.phantom.navlog_sim import simulate_session

    tree = generate_tree(seed=seed, systems=4, branches=40)
    (les,) = insert_lesions(tree, 1, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = parse_navlog(navlog_text(simulate_session(tree, les, seed=seed).records, "jsonl"))
    return tree, log


def test_fit_is_good_on_the_logs_own_tree_and_poor_on_another():
    # Ground truth from the phantom: a session simulated on tree k fits tree k, and not tree k + 500
    # (fused there on the system whose orifice is nearest the log's, forced). Sessions without any
    # bifurcation cannot be tested and say so (good is None).
    tested = 0
    for seed in range(2000, 2008):
        tree, log = _phantom_log(seed)
        res = fuse(tree, log)
        if not log.bifurcations:
            assert res.fit["good"] is None and res.fit["llr_per_bifurcation"] is None
            continue
        tested += 1
        assert res.fit["good"] is True, (seed, res.fit)
        assert res.fit["bifurcations"] == len(log.bifurcations) and res.fit["matched"] <= res.fit["bifurcations"]
        other, _ = _phantom_log(seed + 500)
        clocks = {int(other.nodes[r]["system"]): other.nodes[r]["orifice_clock"] for r in other.roots()}
        s = min(clocks, key=lambda k: clock_difference_h(clocks[k], log.orifice_clock))
        bad = fuse(other, log, system=s)
        assert bad.fit["good"] is False, (seed, bad.fit)
        assert "fits the tree poorly" in bad.fit["reason"]
    assert tested >= 5


def _ductogram_like(tree: DuctTree) -> DuctTree:
    """System 0 only, as a ductogram gives it: one opacified system, its root at the nipple with no
    orifice clock (the images do not give the cannulated orifice's clock)."""
    keep = [n for n in tree.nodes if tree.nodes[n]["system"] == 0]
    t = DuctTree.from_graph(tree.subgraph(keep).copy())
    for r in t.roots():
        t.nodes[r].pop("orifice_clock", None)
        t.nodes[r]["pos"] = np.zeros(3)
    t.touch()
    return t


def test_a_log_fuses_onto_a_ductogram_tree_and_names_its_orifice():
    tree = _ductogram_like(hand_tree())
    res = fuse(tree, parse_navlog(jsonl(CLEAR)))          # the log says orifice 6:00
    (f,) = res.findings
    assert res.system == 0 and f.placed and f.node == 7 and f.path_mm == pytest.approx(24.0, abs=0.3)
    assert res.fit["good"]
    (root,) = res.tree.roots()
    assert res.tree.nodes[root]["orifice_clock"] == 6.0
    assert res.tree.nodes[root]["orifice_clock_from"] == "scope log"
    (root_in,) = tree.roots()
    assert tree.nodes[root_in].get("orifice_clock") is None   # the input tree is untouched


def test_a_poor_fit_does_not_name_the_orifice():
    # A log of another duct: two bifurcations at depths the ductogram tree does not have.
    log = parse_navlog(jsonl(_log([
        {"depth_mm": 0},
        {"depth_mm": 3, "event": "bifurcation", "lumens": [12, 6]},
        {"depth_mm": 3, "event": "enter", "lumen": 0},
        {"depth_mm": 6, "event": "bifurcation", "lumens": [3, 9]},
        {"depth_mm": 6, "event": "enter", "lumen": 0},
        {"depth_mm": 30, "event": "end", "reason": "stopped"}])))
    res = fuse(_ductogram_like(hand_tree()), log)
    assert res.fit["good"] is False
    (root,) = res.tree.roots()
    assert res.tree.nodes[root].get("orifice_clock") is None
