"""The excision plan on hand-built trees: envelope volume vs the analytic value, spared fractions,
central-excision reach, incision, wire target, and the markups it writes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ductree.case import LesionSpec
from ductree.errors import InputError
from ductree.frame import AREOLA_RADIUS_MM, clock_of_point
from ductree.lesions import place_lesions
from ductree.markups import NO_NIPPLE_NOTE, read_markups, write_markups
from ductree.plan import envelope_volume_mm3, plan_excision, plan_lesions, write_plan_outputs

from conftest import P, SEG_A, build_hand_tree, build_straight_tree


def capsule_union_sphere_mm3(a: float, length: float, b: float) -> float:
    """Capsule (radius a, axis length L) whose far end centre is the centre of a sphere of radius b >= a.

    Worked by hand: cylinder pi a^2 L + near hemicap 2/3 pi a^3 + sphere 4/3 pi b^3, minus the
    part of the cylinder inside the sphere: with h0 = sqrt(b^2 - a^2) the cylinder is wholly inside
    for the last h0 mm, and for u in [h0, b] from the centre the sphere's cross-section
    pi (b^2 - u^2) lies inside the cylinder: pi a^2 h0 + pi (2 b^3 / 3 - b^2 h0 + h0^3 / 3).
    (The far hemicap lies inside the sphere.)
    """
    h0 = math.sqrt(b * b - a * a)
    overlap = math.pi * a * a * h0 + math.pi * (2 * b ** 3 / 3 - b * b * h0 + h0 ** 3 / 3)
    return math.pi * a * a * length + 2 / 3 * math.pi * a ** 3 + 4 / 3 * math.pi * b ** 3 - overlap


def plan_straight(size=4.0, depth=25.0, margin=5.0, **kw):
    tree = build_straight_tree("R")
    (les,) = place_lesions(tree, [LesionSpec("S", point_bf=(1.5, depth, 0.0), size_mm=size)], laterality="R")
    assert les.status == "placed" and les.system == 0
    return tree, les, plan_excision(tree, les, margin_mm=margin, **kw)


@pytest.mark.parametrize("size,depth,margin", [(4.0, 25.0, 5.0), (10.0, 30.0, 3.0), (2.0, 12.0, 5.0)])
def test_envelope_volume_of_straight_duct_and_sphere_within_2_percent(size, depth, margin):
    _, les, plan = plan_straight(size=size, depth=depth, margin=margin)
    a = 0.5 + margin                 # duct radius + margin
    b = size / 2 + margin            # lesion radius + margin
    exact = capsule_union_sphere_mm3(a, depth, b)
    assert plan.envelope.volume_ml * 1000 == pytest.approx(exact, rel=0.02)
    assert plan.envelope.volume_ml * 1000 == pytest.approx(exact, rel=0.005)   # what we actually get
    # The description matches the geometry: one sphere at the lesion, capsules from the orifice.
    (sph,) = plan.envelope.spheres
    assert sph["radius_mm"] == pytest.approx(b) and sph["center"] == pytest.approx([1.5, depth, 0])
    assert plan.envelope.capsules[0]["a"] == pytest.approx([1.5, 0, 0])
    assert all(c["radius_mm"] == pytest.approx(a) for c in plan.envelope.capsules)
    assert sum(np.linalg.norm(np.subtract(c["b"], c["a"])) for c in plan.envelope.capsules) == pytest.approx(depth)


def test_volume_kernel_sphere_and_capsule():
    v, _ = envelope_volume_mm3([((3, 4, 5), 6.0)], [])
    assert v == pytest.approx(4 / 3 * math.pi * 216, rel=0.005)
    L = math.sqrt(10 ** 2 + 20 ** 2 + 5 ** 2)
    v, _ = envelope_volume_mm3([], [((0, 0, 0), (10, 20, 5), 2.0)])
    assert v == pytest.approx(math.pi * 4 * L + 4 / 3 * math.pi * 8, rel=0.005)
    # Two disjoint spheres add up.
    v, _ = envelope_volume_mm3([((0, 0, 0), 3.0), ((20, 0, 0), 4.0)], [])
    assert v == pytest.approx(4 / 3 * math.pi * (27 + 64), rel=0.005)


def test_spared_fractions_central_reach_and_wire_on_the_straight_duct():
    tree, les, plan = plan_straight(size=4.0, depth=25.0, margin=5.0, central_excision_mm=30.0)
    # Removed: all of system 0 (orifice to lesion, the rest of its segment, nothing beyond): 40 mm
    # of 70 mm in total; 1 of 2 tips; system 1 untouched.
    s = plan.spared
    assert s["length_total_mm"] == pytest.approx(70.0)
    assert s["length_removed_mm"] == pytest.approx(40.0)
    assert s["length_kept_fraction"] == pytest.approx(30 / 70)
    assert (s["tips_removed"], s["tips_total"]) == (1, 2)
    assert s["systems_kept_intact"] == 1 and s["systems_total"] == 2
    # Central excision 30 mm deep: lesion + margin reaches 25 + 2 + 5 = 32 mm (2 mm short);
    # the subtree (the duct beyond, to its end at 40 mm) 10 mm short.
    c = plan.central
    assert c["lesion_reach_mm"] == pytest.approx(32.0) and c["lesion_shortfall_mm"] == pytest.approx(2.0)
    assert c["subtree_reach_mm"] == pytest.approx(40.0) and c["subtree_shortfall_mm"] == pytest.approx(10.0)
    assert not c["reaches_lesion"] and not c["reaches_subtree"]
    (w,) = plan.wire_targets
    assert w["point_bf"] == pytest.approx([1.5, 25.0, 0.0]) and w["depth_mm"] == pytest.approx(25.0)
    assert plan.involved_node_ids == [0, 1] and plan.subtree_node_ids == [2]
    # A 45 mm central excision reaches both.
    plan45 = plan_excision(tree, les, central_excision_mm=45.0)
    assert plan45.central["reaches_lesion"] and plan45.central["reaches_subtree"]


def test_subtree_of_a_fork_is_removed_with_a_lesion_before_it():
    tree = build_hand_tree("R")
    # On F's trunk, path 4 mm (before the fork at 8.38 mm): both children are distal.
    (les,) = place_lesions(tree, [LesionSpec("F", path_mm=4, orifice_clock=6, size_mm=2)], laterality="R")
    plan = plan_excision(tree, les)
    ids = tree.node_ids
    f_nodes = [n for n in ids if tree.nodes[n]["system"] == 4]
    root = tree.root_of_system(4)
    assert plan.involved_node_ids == [root]
    assert sorted(plan.subtree_node_ids) == sorted(n for n in f_nodes if n != root)
    # Removed length: the whole of system F.
    f_len = (math.hypot(2.5, 8) + math.hypot(6, 22) + math.hypot(21, 12) + math.hypot(10, 2))
    assert plan.spared["length_removed_mm"] == pytest.approx(f_len, rel=1e-6)
    assert plan.spared["tips_removed"] == 2
    # A lesion on F2 past the fork leaves F1 in place.
    (les2,) = place_lesions(tree, [LesionSpec("F2", point_bf=tuple(P(6, 25, 20)), size_mm=2)], laterality="R")
    plan2 = plan_excision(tree, les2)
    assert plan2.spared["tips_removed"] == 1
    assert plan2.spared["length_removed_mm"] == pytest.approx(f_len - math.hypot(6, 22), rel=1e-6)


def test_incision_is_centred_on_the_duct_course_on_the_areola():
    tree = build_hand_tree("R")
    (les,) = place_lesions(tree, [LesionSpec("A", clock=10, depth_mm=30, size_mm=3)], laterality="R")
    inc = plan_excision(tree, les).incision
    assert inc["type"] == "periareolar" and inc["centre_clock_text"] == "10:00"
    assert "mean coronal direction" in inc["centre_basis"]
    assert 60 <= inc["arc_deg"] <= 90
    for k in ("start_bf", "centre_bf", "end_bf"):
        p = np.asarray(inc[k])
        assert p[1] == pytest.approx(0.0) and math.hypot(p[0], p[2]) == pytest.approx(AREOLA_RADIUS_MM)
    half = inc["arc_deg"] / 2 / 30
    assert clock_of_point(inc["start_bf"]) == pytest.approx(10 - half)
    assert clock_of_point(inc["end_bf"]) == pytest.approx(10 + half)
    assert inc["arc_length_mm"] == pytest.approx(math.radians(inc["arc_deg"]) * AREOLA_RADIUS_MM)


def test_incision_follows_the_course_not_the_orifice():
    # System E's orifice is at 1:00 but its duct runs to 12:00: the incision centre lies between,
    # closer to 12 (most of the course is near 12), and is not the orifice clock.
    tree = build_hand_tree("R")
    (les,) = place_lesions(tree, [LesionSpec("E", point_bf=tuple(P(12, 27.5, 27.5)), size_mm=2)], laterality="R")
    assert les.system == 3
    inc = plan_excision(tree, les).incision
    c = inc["centre_clock"]
    assert inc["orifice_clock_text"] == "1:00"
    assert c > 11.9 or c < 0.5   # between 12:00 and 12:30


def test_several_lesions_in_one_system_make_one_plan():
    tree = build_hand_tree("R")
    located = place_lesions(tree, [LesionSpec("a1", clock=10, depth_mm=15, size_mm=2),
                                   LesionSpec("a2", clock=10, depth_mm=35, size_mm=2),
                                   LesionSpec("b1", clock=3, depth_mm=20, size_mm=2),
                                   LesionSpec("none", clock=8, depth_mm=30)], laterality="R")
    plans = plan_lesions(tree, located)
    assert [p.system for p in plans] == [0, 1]
    assert plans[0].lesions == ["a1", "a2"] and len(plans[0].envelope.spheres) == 2
    # The corridor is shared, not doubled: its capsules run orifice -> a1 -> node -> a2 once.
    total = sum(np.linalg.norm(np.subtract(c["b"], c["a"])) for c in plans[0].envelope.capsules)
    assert total == pytest.approx(1.75 * SEG_A, rel=1e-6)
    with pytest.raises(InputError, match="unplaced"):
        plan_excision(tree, located[3])
    with pytest.raises(InputError, match="one duct system"):
        plan_excision(tree, located[:3])


def test_ambiguous_placement_is_planned_with_a_warning():
    tree = build_hand_tree("R")
    (les,) = place_lesions(tree, [LesionSpec("amb", clock=12, depth_mm=20, size_mm=2)], laterality="R")
    plan = plan_excision(tree, les)
    assert plan.status == "ambiguous" and any("ambiguous" in w for w in plan.warnings)
    # The 12:00 ray at depth 20 meets D (system 2) at fn 8 and E (system 3) at fn 25: path lengths
    # hypot(6.5, 20) = 21.0 mm and |(0, 20, 25) - (1, 0, 1.732)| = sqrt(1 + 400 + 541.5) = 30.7 mm. The warning
    # says which duct the plan assumed and where the other would be.
    (w,) = [w for w in plan.warnings if "ambiguous" in w]
    other = next(c for c in les.candidates if c.system != les.system)
    assert f"assumes system {les.system}, {les.path_mm:.0f} mm along" in w
    assert f"system {other.system} {other.path_mm:.0f} mm along" in w
    assert {round(les.path_mm), round(other.path_mm)} == {21, 31}


def test_bad_margin_is_refused():
    tree, les, _ = plan_straight()
    with pytest.raises(InputError, match="margin_mm"):
        plan_excision(tree, les, margin_mm=-1)


# --------------------------------------------------------------------------- outputs

def test_plan_outputs_json_and_markups_in_lps(tmp_path):
    tree = build_hand_tree("R")
    nipple = (12.5, -80.0, 40.0)
    located = place_lesions(tree, [LesionSpec("a1", clock=10, depth_mm=20, size_mm=3)], laterality="R",
                            nipple_lps=nipple)
    plans = plan_lesions(tree, located, nipple_lps=nipple)
    written = write_plan_outputs(tmp_path, "c1", "R", located, plans, nipple_lps=nipple)
    assert sorted(p.name for p in written) == ["incision.mrk.json", "lesions.mrk.json", "plan.json"]
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert doc["schema"] == "ductree.plan/1" and doc["lesions"][0]["label"] == "a1"
    assert doc["plans"][0]["envelope"]["volume_ml"] > 0
    mk = json.loads((tmp_path / "lesions.mrk.json").read_text(encoding="utf-8"))
    assert mk["@schema"].endswith("markups-schema-v1.0.3.json#")
    m = mk["markups"][0]
    assert m["type"] == "Fiducial" and m["coordinateSystem"] == "LPS" and m["coordinateUnits"] == "mm"
    pts = {label: pos for label, pos, _ in read_markups(tmp_path / "lesions.mrk.json")}
    assert pts["a1"] == pytest.approx(list(P(10, 9.5, 20) + nipple), abs=1e-3)
    assert pts["wire a1"] == pytest.approx(pts["a1"])
    assert {"incision start (system 0)", "incision centre (system 0)", "incision end (system 0)"} <= set(pts)
    curve = json.loads((tmp_path / "incision.mrk.json").read_text(encoding="utf-8"))["markups"][0]
    assert curve["type"] == "Curve" and len(curve["controlPoints"]) == 13
    assert not list(tmp_path.glob(".*tmp*"))


def test_markups_without_nipple_say_so(tmp_path):
    path = write_markups(tmp_path / "p.mrk.json", [("x", (1.0, 2.0, 3.0))], None)
    d = json.loads(path.read_text(encoding="utf-8"))
    cp = d["markups"][0]["controlPoints"][0]
    assert cp["position"] == [1.0, 2.0, 3.0] and NO_NIPPLE_NOTE in cp["description"]
    with pytest.raises(InputError, match="mrk.json"):
        write_markups(tmp_path / "p.json", [("x", (1, 2, 3))], None)


def test_anastomosis_edges_are_ignored_and_a_lone_orifice_is_plannable():
    from ductree.tree import DuctTree

    tree = build_hand_tree("R")
    ids = tree.node_ids
    # Join the tip of D (system 2) to the tip of E (system 3) by an anastomosis.
    d_tip, e_tip = ids[8], ids[11]
    tree.add_edge(d_tip, e_tip, anastomosis=True)
    tree.touch()
    tree.validate()
    # The 12:00 ray at depth 38 meets D at fn 11.6 and would meet the anastomosis (12:00, fn 12 -> 30,
    # depth 40 -> 35) at fn 19.2: only D counts.
    (les,) = place_lesions(tree, [LesionSpec("d", clock=12, depth_mm=38, size_mm=2)], laterality="R")
    assert les.status == "placed" and les.system == 2
    assert les.fn_mm == pytest.approx(11.6, abs=1e-3)
    plan = plan_excision(tree, les)
    assert all(tree.nodes[n]["system"] == 2 for n in plan.removed_node_ids)
    # A system that is one node (an orifice with no duct traced): the lesion snaps to it.
    t2 = DuctTree.from_arrays([[1.5, 0, 0], [1.5, 20, 0], [-2, 0, 0]], [0.5, 0.5, 0.6], [-1, 0, -1], laterality="L")
    (les2,) = place_lesions(t2, [LesionSpec("o", point_bf=(-2.0, 0.5, 0.0), size_mm=4)], laterality="L")
    assert les2.status == "placed" and les2.system == 1 and les2.segment == (2, 2)
    plan2 = plan_excision(t2, les2, margin_mm=5)
    assert plan2.subtree_node_ids == [] and plan2.envelope.capsules == []
    assert plan2.envelope.volume_ml * 1000 == pytest.approx(4 / 3 * math.pi * 7 ** 3, rel=0.01)
