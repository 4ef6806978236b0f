"""Geometry of a rebuilt log: dead reckoning worked by hand, and tracker tips (noise, outliers, dropouts)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from navlog_helpers import jsonl

from ductree.io.navlog import parse_navlog
from ductree.reconstruct.scope import (DEFAULT_DEFLECTION_DEG, LOBE_TILT_DEG, ROOT_TILT_DEG, STUB_LENGTH_MM,
                                       TURN_DEG_PER_MM, lumen_clock, lumen_direction, tree_from_navlog)

HEAD12 = {"type": "header", "format": "ductree-navlog", "version": 1, "laterality": "L", "orifice_clock": 12,
          "orifice_offset_mm": 2.0}


def _node_at(tree, branch, depth):
    for n, d in tree.nodes(data=True):
        if d["branch"] == branch and abs(d["depth_mm"] - depth) < 1e-9 and not d["unexplored"]:
            return n
    raise KeyError((branch, depth))


def test_lumen_direction_and_clock_are_inverse():
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = rng.normal(size=3)
        a[1] = abs(a[1]) + 0.5          # ducts run posteriorly
        a /= np.linalg.norm(a)
        if a[1] < 0.35:                 # a duct axis nearly in the coronal plane has no exact inverse
            continue
        clock = rng.uniform(0.01, 12)
        th = rng.uniform(5, 80)
        v = lumen_direction(a, clock, th)
        assert math.degrees(math.acos(np.clip(v @ a, -1, 1))) == pytest.approx(th, abs=1e-6)
        d = abs(lumen_clock(a, v) - clock) % 12
        assert min(d, 12 - d) < 1e-6
    # looking straight down +y: 3 o'clock is the patient's left (+x), 12 is superior (+z)
    assert np.allclose(lumen_direction([0, 1, 0], 3, 90), [1, 0, 0])
    assert np.allclose(lumen_direction([0, 1, 0], 12, 90), [0, 0, 1])


def test_dead_reckoning_worked_by_hand():
    recs = [HEAD12,
            {"t": 0, "depth_mm": 0},
            {"t": 1, "depth_mm": 5},
            {"t": 2, "depth_mm": 10, "event": "bifurcation", "lumens": [3, 9]},
            {"t": 3, "depth_mm": 10, "event": "enter", "lumen": 0},
            {"t": 4, "depth_mm": 14, "event": "end", "reason": "stopped"}]
    tree = tree_from_navlog(parse_navlog(jsonl(recs)))
    root = tree.roots()[0]
    assert np.allclose(tree.nodes[root]["pos"], [0, 0, 2])       # 12 o'clock, 2 mm from the nipple centre
    # The main duct leaves tilted ROOT_TILT_DEG toward 12 (+z) and turns toward the lobe direction
    # (LOBE_TILT_DEG) by TURN_DEG_PER_MM each mm: step i runs at 9 + 1.75 i degrees from +y.
    assert (ROOT_TILT_DEG, TURN_DEG_PER_MM, LOBE_TILT_DEG) == (9.0, 1.75, 42.5)
    p = np.array([0.0, 0.0, 2.0])
    for i in range(1, 11):
        th = math.radians(9.0 + 1.75 * i)
        p = p + np.array([0.0, math.cos(th), math.sin(th)])
        assert np.allclose(tree.nodes[_node_at(tree, 0, float(i))]["pos"], p, atol=1e-9)
    bif = _node_at(tree, 0, 10.0)
    assert tree.nodes[bif]["bifurcation"] == 0
    # At the bifurcation the axis is 26.5 degrees from +y; the 9 o'clock lumen (never entered) is a stub
    # leaving it by the default 37.5 degrees toward -x (the patient's right).
    a = np.array([0.0, math.cos(math.radians(26.5)), math.sin(math.radians(26.5))])
    c, s = math.cos(math.radians(DEFAULT_DEFLECTION_DEG)), math.sin(math.radians(DEFAULT_DEFLECTION_DEG))
    (stub,) = [n for n in tree.successors(bif) if tree.nodes[n]["unexplored"]]
    assert np.allclose(tree.nodes[stub]["pos"], p + STUB_LENGTH_MM * (c * a + s * np.array([-1.0, 0, 0])))
    # The entered 3 o'clock lumen starts at c a + s (+x) and then turns 1.75 degrees toward the lobe
    first = _node_at(tree, 1, 11.0)
    step = tree.nodes[first]["pos"] - p
    ang = math.degrees(math.acos(step @ a / np.linalg.norm(step)))
    assert abs(ang - DEFAULT_DEFLECTION_DEG) <= TURN_DEG_PER_MM + 1e-6 and step[0] > 0.5
    assert abs(lumen_clock(a, step) - 3.0) < 0.3
    tip = _node_at(tree, 1, 14.0)
    assert tree.nodes[tip]["end_reason"] == "stopped"


def test_given_angles_are_used():
    recs = [HEAD12,
            {"t": 0, "depth_mm": 0},
            {"t": 2, "depth_mm": 10, "event": "bifurcation", "lumens": [3, 9], "angles_deg": [20, 55]},
            {"t": 3, "depth_mm": 10, "event": "end", "reason": "too_narrow"}]
    tree = tree_from_navlog(parse_navlog(jsonl(recs)))
    bif = _node_at(tree, 0, 10.0)
    a = np.array([0.0, math.cos(math.radians(26.5)), math.sin(math.radians(26.5))])
    got = {}
    for n in tree.successors(bif):
        v = tree.nodes[n]["pos"] - tree.nodes[bif]["pos"]
        got[tree.nodes[n]["lumen_clock"]] = math.degrees(math.acos(v @ a / np.linalg.norm(v)))
    assert got == pytest.approx({3.0: 20.0, 9.0: 55.0})
    assert tree.nodes[bif]["end_reason"] if "end_reason" in tree.nodes[bif] else True


# ---------------------------------------------------------------------- tracker

def _true_geometry():
    """A main duct 10 mm along +y, then an arc to the patient's left (A) and a straight duct to the right (B)."""
    root = np.array([0.0, 0.0, -1.5])
    J = root + np.array([0.0, 10.0, 0.0])
    R = 20.0

    def main(s):
        return root + np.array([0.0, s, 0.0])

    def arc_a(s):  # s from the junction; starts heading 30 degrees toward +x and bends further out
        th0 = math.radians(30)
        th = th0 + s / R
        # integrate the heading: x' = sin th, y' = cos th
        return J + R * np.array([math.cos(th0) - math.cos(th), 0.0, 0.0]) + R * np.array(
            [0.0, math.sin(th) - math.sin(th0), 0.0])

    dB = np.array([-math.sin(math.radians(35)), math.cos(math.radians(35)), 0.0])

    def line_b(s):
        return J + s * dB

    return J, main, arc_a, line_b


def _tracked_log(seed=0, dropout=True, outliers=True):
    rng = np.random.default_rng(seed)
    J, main, arc_a, line_b = _true_geometry()
    hz, speed = 10.0, 2.0
    samples = []  # (true path, true point, event, branch)
    name = {main: "main", arc_a: "A", line_b: "B"}

    def go(f, s0, s1, base):
        n = int(abs(s1 - s0) / speed * hz)
        for k in range(1, n + 1):
            s = s0 + (s1 - s0) * k / n
            samples.append((base + s, f(s), None, name[f]))

    def dwell(f, s, base, ev, n=15):
        for k in range(n):
            samples.append((base + s, f(s), ev if k == n // 2 else None, name[f]))

    dwell(main, 0.0, 0.0, None, 5)
    go(main, 0, 10, 0)
    dwell(main, 10, 0, {"event": "bifurcation", "lumens": [3, 9]})
    dwell(arc_a, 0, 10, {"event": "enter", "lumen": 0})
    go(arc_a, 0, 15, 10)
    dwell(arc_a, 15, 10, {"event": "end", "reason": "terminal"})
    go(arc_a, 15, 0, 10)
    dwell(line_b, 0, 10, {"event": "enter", "lumen": 1})
    go(line_b, 0, 12, 10)
    dwell(line_b, 12, 10, {"event": "end", "reason": "too_narrow"})
    go(line_b, 12, 0, 10)
    go(main, 10, 0, 0)
    n = len(samples)
    path = np.array([s[0] for s in samples])
    pts = np.array([s[1] for s in samples])
    depth = np.round(np.maximum(path + rng.uniform(-1, 1, n), 0), 1)
    tips = pts + rng.normal(0, 1.0, pts.shape)
    if outliers:
        bad = rng.choice(n, size=n // 50, replace=False)
        d = rng.normal(size=(len(bad), 3))
        tips[bad] += 12.0 * d / np.linalg.norm(d, axis=1, keepdims=True)
    if dropout:
        # no tracker in branch A between 15 and 19 mm, going in and coming out
        tips[np.array([s[3] == "A" and 15 < s[0] < 19 for s in samples])] = np.nan
    recs = [{"type": "header", "format": "ductree-navlog", "version": 1, "laterality": "R", "orifice_clock": 6,
             "orifice_offset_mm": 1.5}]
    for i in range(n):
        r = {"t": round(i / hz, 2), "depth_mm": float(depth[i])}
        if np.isfinite(tips[i, 0]):
            r["tip"] = [round(float(x), 3) for x in tips[i]]
        if samples[i][2]:
            r.update(samples[i][2])
        recs.append(r)
    return recs


def _dense_truth():
    J, main, arc_a, line_b = _true_geometry()
    s = np.linspace(0, 1, 400)
    return np.concatenate([np.array([main(10 * x) for x in s]), np.array([arc_a(15 * x) for x in s]),
                           np.array([line_b(12 * x) for x in s])])


def test_tracker_geometry_follows_the_ducts():
    log = parse_navlog(jsonl(_tracked_log()))
    assert log.has_tracker
    tree = tree_from_navlog(log)
    assert tree.graph["navlog"]["geometry"] == "tracker"
    truth = _dense_truth()
    explored = [n for n, d in tree.nodes(data=True) if not d["unexplored"]]
    pos = np.array([tree.nodes[n]["pos"] for n in explored])
    err = np.min(np.linalg.norm(pos[:, None, :] - truth[None, :, :], axis=2), axis=1)
    assert err.mean() < 0.6 and err.max() < 2.0, (err.mean(), err.max())
    # the bifurcation is where the paths part
    J = _true_geometry()[0]
    (bif,) = [n for n, d in tree.nodes(data=True) if "bifurcation" in d]
    assert np.linalg.norm(tree.nodes[bif]["pos"] - J) < 1.5
    # tracked nodes are more certain than dead-reckoned ones of the same log
    dr = tree_from_navlog(log, geometry="dead-reckoned")
    sig_t = np.mean([d["pos_sigma_mm"] for _, d in tree.nodes(data=True) if not d["unexplored"]])
    sig_d = np.mean([d["pos_sigma_mm"] for _, d in dr.nodes(data=True) if not d["unexplored"]])
    assert sig_t < 1.0 < sig_d
    # and the uncertainty says where the dropout was: larger in the bridged stretch of branch A
    a_nodes = sorted((d["depth_mm"], d["pos_sigma_mm"]) for _, d in tree.nodes(data=True) if d["branch"] == 1)
    in_gap = [s for dep, s in a_nodes if 16 < dep < 18]  # the 15-19 mm gap less one bandwidth each side
    outside = [s for dep, s in a_nodes if dep > 22]
    assert min(in_gap) > max(outside)


def test_tracker_without_outlier_rejection_would_be_worse():
    # the same log with outliers but no dropout: error stays small because outliers are rejected
    log = parse_navlog(jsonl(_tracked_log(seed=3, dropout=False)))
    tree = tree_from_navlog(log)
    truth = _dense_truth()
    pos = np.array([d["pos"] for _, d in tree.nodes(data=True) if not d["unexplored"]])
    err = np.min(np.linalg.norm(pos[:, None, :] - truth[None, :, :], axis=2), axis=1)
    assert err.max() < 2.0


def test_tracker_geometry_needs_tips():
    from ductree.errors import InputError

    recs = [{k: v for k, v in r.items() if k != "tip"} for r in _tracked_log()]
    log = parse_navlog(jsonl(recs))
    assert not log.has_tracker
    with pytest.raises(InputError, match="no tracker"):
        tree_from_navlog(log, geometry="tracker")
