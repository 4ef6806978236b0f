"""Topology of hand-written logs, worked by hand; JSONL/CSV equivalence; the writer; findings and warnings."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from navlog_helpers import HAND, HEADER, jsonl, write_jsonl

from ductree.errors import DuctreeWarning, InputError
from ductree.io.navlog import parse_navlog, read_navlog, session_summary, write_navlog
from ductree.measures import branches, path_mm, tips
from ductree.reconstruct.scope import (STUB_LENGTH_MM, findings_as_lesion_specs, tree_from_navlog,
                                       tree_from_navlog_file)


@pytest.fixture
def hand_log(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuctreeWarning)
        return read_navlog(write_jsonl(tmp_path / "hand.jsonl", HAND))


def test_walk_of_the_hand_log(hand_log):
    log = hand_log
    # Worked by hand (see navlog_helpers.HAND):
    #   branch 0: orifice -> bifurcation 0 at 10 mm (lumens 3:00, 9:00)
    #   branch 1: lumen 0 of bif 0, 10 -> 20 mm, end terminal
    #   branch 2: lumen 1 of bif 0, 10 -> bifurcation 1 at 18 mm (lumens 12:00, 6:00)
    #   branch 3: lumen 0 of bif 1, 18 -> 25 mm, end too_narrow; lumen 1 of bif 1 never entered
    got = [(b.parent, b.bif, b.lumen, b.start_mm, b.max_depth_mm, b.end_bif, b.end_reason) for b in log.branches]
    assert got == [(-1, -1, -1, 0.0, 10.0, 0, None), (0, 0, 0, 10.0, 20.0, None, "terminal"),
                   (0, 0, 1, 10.0, 18.0, 1, None), (2, 1, 0, 18.0, 25.0, None, "too_narrow")]
    assert [b.lumens for b in log.bifurcations] == [[3.0, 9.0], [12.0, 6.0]]
    assert [b.children for b in log.bifurcations] == [{0: 1, 1: 2}, {0: 3}]
    # line 9 (10 mm, withdrawing) is still in branch 1 (hysteresis); line 10 (6 mm) is back in the main duct
    assert log.branch.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 0, 2, 2, 2, 3, 3, 3, 0]
    # bifurcation 0 was read at 10 mm three times (sighting and two enters)
    assert log.bifurcations[0].readings == [10.0, 10.0, 10.0]


def test_tree_of_the_hand_log(hand_log):
    tree = tree_from_navlog(hand_log)
    tree.validate()
    assert tree.laterality == "R" and len(tree.roots()) == 1
    root = tree.roots()[0]
    assert tree.nodes[root]["orifice_clock"] == 6.0
    # root on the nipple face at 6 o'clock, 1.5 mm from the centre
    assert np.allclose(tree.nodes[root]["pos"], [0.0, 0.0, -1.5], atol=1e-9)
    # three entered branches from two bifurcations, plus one stub: 5 branches, 3 tips
    assert len(branches(tree)) == 5 and len(tips(tree)) == 3
    stubs = [n for n, d in tree.nodes(data=True) if d["unexplored"]]
    assert len(stubs) == 1
    stub = tree.nodes[stubs[0]]
    assert stub["lumen_clock"] == 6.0 and stub["lumen"] == 1
    assert np.linalg.norm(stub["pos"] - tree.nodes[tree.parent(stubs[0])]["pos"]) == pytest.approx(STUB_LENGTH_MM)
    ends = {d["end_reason"] for n, d in tree.nodes(data=True) if "end_reason" in d}
    assert ends == {"terminal", "too_narrow"}
    # dead reckoning: path along the built tree equals the scope depth of every node
    pm = path_mm(tree)
    depth = np.array([tree.nodes[n]["depth_mm"] for n in tree.node_ids])
    explored = np.array([not tree.nodes[n]["unexplored"] for n in tree.node_ids])
    assert np.allclose(pm[explored], depth[explored], atol=1e-9)
    tip_depths = sorted(tree.nodes[n]["depth_mm"] for n in tips(tree) if not tree.nodes[n]["unexplored"])
    assert tip_depths == [20.0, 25.0]
    # uncertainty grows along every path from the orifice
    sig = np.array([tree.nodes[n]["pos_sigma_mm"] for n in tree.node_ids])
    par = tree.parent_index
    assert np.all(sig[par >= 0] >= sig[par[par >= 0]] - 1e-12)
    assert sig.min() > 0


def test_findings_status_and_warning(tmp_path):
    path = write_jsonl(tmp_path / "hand.jsonl", HAND)
    with pytest.warns(DuctreeWarning, match="'P1' was retrieved but the duct was never verified"):
        log = read_navlog(path)
    f = log.finding("P1")
    assert (f.branch, f.depth_mm, f.kind, f.size_mm, f.clock, f.status) == (2, 14.0, "papilloma", 3.0, 7.5,
                                                                            "retrieved")
    tree = tree_from_navlog(log)
    (row,) = tree.graph["findings"]
    assert row["label"] == "P1" and row["status"] == "retrieved" and row["retrievals"] == ["basket"]
    assert row["path_mm"] == 14.0 and row["clock"] == "7:30"
    assert tree.nodes[row["node"]]["finding"] == "P1" and tree.nodes[row["node"]]["depth_mm"] == 14.0
    assert np.allclose(row["point_bf"], tree.nodes[row["node"]]["pos"])
    # verified empty: no warning, status verified-empty; residual: status residual
    for result, status in (("empty", "verified-empty"), ("residual", "residual")):
        recs = copy.deepcopy(HAND)
        recs.insert(16, {"t": 14.5, "depth_mm": 14, "event": "verify", "label": "P1", "result": result})
        with warnings.catch_warnings():
            warnings.simplefilter("error", DuctreeWarning)
            log2 = parse_navlog(jsonl(recs), warn=True)
        assert log2.finding("P1").status == status
    # in situ
    recs = [r for r in HAND if r.get("event") != "retrieval"]
    assert parse_navlog(jsonl(recs)).finding("P1").status == "in-situ"


def test_findings_as_lesion_specs(hand_log):
    tree = tree_from_navlog(hand_log)
    (spec,) = findings_as_lesion_specs(tree)
    assert (spec.label, spec.kind, spec.size_mm, spec.origin, spec.laterality) == ("P1", "papilloma", 3.0,
                                                                                     "navlog", "R")
    assert spec.method == "point_bf" and spec.uncertainty_mm > 0 and "+-" in spec.note
    (spec2,) = findings_as_lesion_specs(hand_log)
    assert spec2.method == "path" and spec2.path_mm == 14.0 and spec2.orifice_clock == 6.0
    assert spec2.origin == "navlog" and spec2.laterality == "R"


def test_session_summary(hand_log):
    s = session_summary(hand_log)
    assert s["duration_s"] == 15.0 and s["deepest_mm"] == 25.0 and s["deepest_branch"] == 3
    assert (s["bifurcations"], s["lumens_seen"], s["branches_entered"], s["lumens_unexplored"]) == (2, 4, 3, 1)
    assert [t["end_reason"] for t in s["tips"]] == ["terminal", "too_narrow"]
    assert s["findings"][0]["status"] == "retrieved" and len(s["warnings"]) == 1
    assert not s["long_session"] and s["tracker"] == 0.0


def test_jsonl_and_csv_read_the_same(tmp_path):
    recs = copy.deepcopy(HAND)
    recs[0]["case_id"] = "c-1"
    recs[0]["note"] = "a note, with a comma"
    recs[3]["angles_deg"] = [30.0, 45.5]
    recs[5]["tip"] = [1.25, 15.0, -2.5]
    recs[11]["note"] = 'raspberry, "red"'
    recs[11]["extent_mm"] = 4.0
    recs.insert(10, {"t": 8.5, "depth_mm": 6, "event": "note", "text": "flush; saline"})
    a = write_navlog(recs, tmp_path / "s.jsonl")
    b = write_navlog(recs, tmp_path / "s.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuctreeWarning)
        la, lb = read_navlog(a), read_navlog(b)
    assert la.header == lb.header and la.header["note"] == "a note, with a comma"
    for k in ("t", "depth_mm", "branch"):
        assert np.array_equal(getattr(la, k), getattr(lb, k))
    assert np.array_equal(la.tip, lb.tip, equal_nan=True) and np.isfinite(la.tip).sum() == 3
    assert [(e.kind, e.fields, e.row) for e in la.events] == [(e.kind, e.fields, e.row) for e in lb.events]
    assert la.records() == lb.records()
    # and a log written back from records reads the same again
    c = write_navlog(la, tmp_path / "again.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuctreeWarning)
        assert read_navlog(c).records() == la.records()


def test_writer_refuses_an_invalid_log_and_writes_nothing(tmp_path):
    recs = copy.deepcopy(HAND)
    recs[5]["depth_mm"] = -2
    out = tmp_path / "bad.jsonl"
    with pytest.raises(InputError, match="refusing to write an invalid log"):
        write_navlog(recs, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="use .jsonl or .csv"):
        write_navlog(HAND, tmp_path / "s.txt")


def test_resighting_and_switching_lumens(tmp_path):
    recs = [HEADER,
            {"t": 0, "depth_mm": 0},
            {"t": 1, "depth_mm": 8, "event": "bifurcation", "lumens": [2, 10]},
            {"t": 2, "depth_mm": 8, "event": "enter", "lumen": 1},
            {"t": 3, "depth_mm": 16},
            {"t": 4, "depth_mm": 9},
            # seen again on the way back (within the tolerance): the same bifurcation, not a new one
            {"t": 5, "depth_mm": 8.5, "event": "bifurcation", "lumens": [2, 10]},
            {"t": 6, "depth_mm": 8, "event": "enter", "lumen": 0},
            {"t": 7, "depth_mm": 12},
            {"t": 8, "depth_mm": 8, "event": "enter", "lumen": 1},   # back into the first lumen: same branch
            {"t": 9, "depth_mm": 19, "event": "end", "reason": "stopped"}]
    log = parse_navlog(jsonl(recs))
    assert len(log.bifurcations) == 1 and log.bifurcations[0].readings == [8.0, 8.0, 8.5, 8.0, 8.0]
    assert [(b.parent, b.lumen) for b in log.branches] == [(-1, -1), (0, 1), (0, 0)]
    assert log.branches[1].max_depth_mm == 19.0 and log.branches[2].max_depth_mm == 12.0
    # a re-sighting with another lumen count is refused
    bad = copy.deepcopy(recs)
    bad[6]["lumens"] = [2, 6, 10]
    with pytest.raises(InputError) as exc:
        parse_navlog(jsonl(bad), source="s.jsonl")
    assert exc.value.line == 7 and exc.value.key == "lumens"
    # a bifurcation behind the deepest point reached that matches nothing known is refused
    bad = copy.deepcopy(recs)
    bad[6]["depth_mm"] = 12.0   # 4 mm behind the deepest 16 mm: not the scope's leading edge
    bad[5]["depth_mm"] = 12.5
    with pytest.raises(InputError) as exc:
        parse_navlog(jsonl(bad), source="s.jsonl")
    assert exc.value.line == 7 and "behind the deepest point" in str(exc.value)


def test_tree_from_navlog_file_and_laterality(tmp_path):
    p = write_jsonl(tmp_path / "hand.jsonl", HAND)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuctreeWarning)
        tree = tree_from_navlog_file(p)
        assert tree.graph["navlog"]["geometry"] == "dead-reckoned"
        assert tree_from_navlog_file(p, laterality="right").laterality == "R"
        with pytest.raises(InputError) as exc:
            tree_from_navlog_file(p, laterality="L")
    assert exc.value.key == "laterality"
