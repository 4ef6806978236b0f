"""What the scene draws: checked against the hand tree's geometry and the real lesion/plan modules."""

from __future__ import annotations

import numpy as np
import pytest

from ductree.case import LesionSpec
from ductree.errors import InputError
from ductree.frame import parse_clock
from ductree.lesions import place_lesions
from ductree.plan import plan_lesions
from ductree.render import layout_labels
from ductree.scene import (
    BREAST_VIEWS,
    SceneOptions,
    VIEWS,
    build_scene,
    check_views,
    envelope_mesh,
    row_colors,
    scene_meshes,
)

TUBES = dict(mesher="tubes")


def planned(tree, lat, clock="3:00", depth=40.0, size=4.0):
    """Place one lesion with the real module on the hand tree and plan it."""
    located = place_lesions(tree, [LesionSpec(label="L1", kind="papilloma", clock=parse_clock(clock), depth_mm=depth,
                                              size_mm=size)], laterality=lat, breast_depth_mm=100)
    return located, plan_lesions(tree, located)


@pytest.mark.parametrize("lat", ["R", "L"])
def test_scene_contents(hand_tree, lat):
    tree = hand_tree(lat)
    located, plans = planned(tree, lat)
    assert located[0].status == "placed" and located[0].system == 0
    scene = build_scene(tree, located, plans, SceneOptions(**TUBES), case_id="hand", breast_depth_mm=100)
    names = [a.name for a in scene.actors]
    # The lesion: a sphere of the stated size at the placed point (3 o'clock ray at 40 mm depth is (20, 40, 0)).
    les = scene.actor("lesion:L1")
    assert np.allclose(les.mesh.center, [20, 40, 0], atol=0.3)
    assert (les.mesh.bounds[1] - les.mesh.bounds[0]) == pytest.approx(4.0, rel=0.02)
    assert les.layer == 1 and set(les.views) == set(BREAST_VIEWS)
    # The involved system (0) is split: its removed part is drawn solid on the highlight layer,
    # everything of system 1 is spared.
    involved = [a for a in scene.actors if a.role == "tree-involved"]
    spared = [a for a in scene.actors if a.role == "tree-spared"]
    assert [a.name for a in involved] == ["tree:system0:involved"] and involved[0].layer == 1
    assert "tree:system1:spared" in names and "tree:system1:involved" not in names
    removed_rows = {tree.index[n] for n in plans[0].removed_node_ids}
    assert set(np.unique(involved[0].mesh.point_data["row"])) <= removed_rows
    assert all(a.layer == 0 for a in spared)
    # The envelope encloses the lesion and the corridor from the orifice.
    env = scene.actor("envelope").mesh
    b = env.bounds
    assert b[0] <= 18 and b[1] >= 22 and b[2] <= 0.5 and b[3] >= 42
    assert 0 < scene.actor("envelope").opacity < 0.5
    # The central excision zone: 30 mm deep behind the nipple, faint.
    zone = scene.actor("central-zone")
    assert zone.mesh.bounds[2] == pytest.approx(0.0, abs=1e-6) and zone.mesh.bounds[3] == pytest.approx(30.0)
    assert zone.opacity < 0.15
    # The clock face (front view only): "3" at +x and "12" at +z, whatever the breast.
    clock = {lab.text: np.asarray(lab.anchor) for lab in scene.labels if lab.role == "clock"}
    assert set(clock) == {str(h) for h in range(1, 13)}
    assert clock["3"][0] > 50 and abs(clock["3"][2]) < 1e-6 and clock["12"][2] > 50
    assert all(lab.views == ("front",) for lab in scene.labels if lab.role == "clock")
    # Depth rulers in the depth views, 10 mm ticks from the nipple.
    ticks = sorted(float(lab.text) for lab in scene.labels if lab.role == "ruler" and lab.views == ("cc",)
                   and lab.text.isdigit())
    assert ticks == [float(t) for t in range(0, 101, 10)]
    # A lesion label gives name, clock and depth.
    texts = [lab.text for lab in scene.labels if lab.role == "lesion" and "cc" in lab.views]
    assert texts == ["L1  3:00  40 mm deep"]
    # Legend: both systems, the lesion, the envelope, the central zone.
    legend = " | ".join(e.text for e in scene.legend_in("cc"))
    for word in ("system 0, orifice 3:00", "system 1, orifice 12:00", "lesion (papilloma)", "excision envelope",
                 "central excision zone (30 mm)"):
        assert word in legend


def test_incision_on_the_areolar_border_at_the_plan_clock(hand_tree):
    tree = hand_tree("R")
    located, plans = planned(tree, "R")
    scene = build_scene(tree, located, plans, SceneOptions(**TUBES), case_id="hand")
    inc = [a for a in scene.actors if a.name.startswith("incision:")]
    assert len(inc) == 1 and inc[0].views == ("front",)
    pts = inc[0].mesh.points
    assert np.allclose(np.hypot(pts[:, 0], pts[:, 2]), 15.0, atol=1e-6)     # the areolar border, 15 mm
    mean_dir = pts[:, [0, 2]].mean(axis=0)
    assert mean_dir[0] > 0 and abs(mean_dir[1]) < 0.3 * mean_dir[0]         # centred on 3 o'clock


def test_duct_view_puts_the_lesion_at_its_path_distance(hand_tree):
    tree = hand_tree("L")
    located, plans = planned(tree, "L", clock="3:00", depth=40.0)
    scene = build_scene(tree, located, plans, SceneOptions(**TUBES), case_id="hand")
    ell = scene.actor("duct0:lesion:L1").mesh
    # Path from the orifice (1.5, 0, 0) through (10, 20, 0) to (20, 40, 0).
    path = np.hypot(8.5, 20) + np.hypot(10, 20)
    assert ell.center[0] == pytest.approx(path, abs=0.6)
    assert located[0].path_mm == pytest.approx(path, abs=0.6)
    depth_ticks = [float(lab.text) for lab in scene.labels if lab.views == ("duct",) and lab.role == "ruler"
                   and lab.anchor[1] > 0 and lab.text.isdigit()]
    assert depth_ticks == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert all(a.views == ("duct",) for a in scene.actors if a.name.startswith("duct"))


def test_duct_view_zone_label_moves_off_a_lesion_at_the_band_end(hand_tree):
    # The central-excision band runs along system 0 to its first node deeper than 30 mm, (20, 40, 0):
    # s = hypot(8.5, 20) + hypot(10, 20) = 44.09 mm. The zone label's usual spot is 9 mm short of that
    # (35.1, about 15 mm wide). A 6 mm lesion at depth 32 sits 0.6 along the second segment,
    # s = 21.73 + 0.6 * 22.36 = 35.1, right under it: the label goes to the band's shallow end.
    tree = hand_tree("R")
    s_end = np.hypot(8.5, 20) + np.hypot(10, 20)
    located, plans = planned(tree, "R", clock="3:00", depth=32.0, size=6.0)
    assert located[0].path_mm == pytest.approx(np.hypot(8.5, 20) + 0.6 * np.hypot(10, 20), abs=0.3)
    scene = build_scene(tree, located, plans, SceneOptions(**TUBES), case_id="hand")
    (zone,) = [lab for lab in scene.labels if lab.views == ("duct",) and lab.text.startswith("central")]
    assert abs(zone.anchor[0] - located[0].path_mm) > 7.5 + 3.0
    assert zone.anchor[0] < s_end
    # A small lesion deeper than the band leaves the label at its usual spot.
    located, plans = planned(tree, "R", clock="3:00", depth=50.0, size=2.0)
    scene = build_scene(tree, located, plans, SceneOptions(**TUBES), case_id="hand")
    (zone,) = [lab for lab in scene.labels if lab.views == ("duct",) and lab.text.startswith("central")]
    assert zone.anchor[0] == pytest.approx(s_end - 9.0, abs=1e-6)


def test_lesion_colours_stand_out_from_ducts():
    # Every lesion colour is far (RGB distance > 50 of 441; the old orange ectasia was 14) from the involved-duct colours and every
    # duct-system colour, so a lesion never vanishes on the duct it sits in.
    from ductree.scene import INVOLVED_PATH_COLOR, INVOLVED_TREE_COLOR, LESION_COLORS, SYSTEM_PALETTE

    def rgb(h):
        return np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)

    ducts = [INVOLVED_PATH_COLOR, INVOLVED_TREE_COLOR, *SYSTEM_PALETTE]
    for kind, c in LESION_COLORS.items():
        d = min(np.linalg.norm(rgb(c) - rgb(o)) for o in ducts)
        assert d > 50, (kind, c, d)


def test_tree_without_plan_is_drawn_whole(hand_tree):
    tree = hand_tree("R")
    scene = build_scene(tree, options=SceneOptions(**TUBES), case_id="hand")
    trees = [a for a in scene.actors if a.name.startswith("tree:")]
    assert sorted(a.name for a in trees) == ["tree:system0", "tree:system1"]
    assert "envelope" not in [a.name for a in scene.actors]
    # Tube surfaces follow the duct: every vertex within radius + tolerance of the centreline.
    m = scene.actor("tree:system0").mesh
    assert m.bounds[1] == pytest.approx(31.5, abs=0.3) and m.bounds[3] == pytest.approx(61.5, abs=1.0)


@pytest.mark.parametrize("color_by", ["system", "generation", "radius", "involvement"])
def test_colourings(hand_tree, color_by):
    tree = hand_tree("R")
    tree.set_radii(np.array([1.5, 0.8, 0.4, 0.15, 1.2, 1.2, 1.2]))
    rgb, legend = row_colors(tree, color_by, involved_rows=np.array([1, 2]), path_rows=np.array([0]))
    assert rgb.shape == (7, 3) and rgb.dtype == np.uint8 and legend
    if color_by == "system":
        assert not np.array_equal(rgb[0], rgb[4]) and np.array_equal(rgb[0], rgb[3])
    if color_by == "involvement":
        assert not np.array_equal(rgb[0], rgb[1]) and not np.array_equal(rgb[1], rgb[4])
    if color_by == "radius":
        # Bins 0-0.2, 0.2-0.35, 0.35-0.5, 0.5-0.75, 0.75-1, >= 1 mm: 1.5 and 1.2 share one, the rest differ.
        assert np.array_equal(rgb[0], rgb[4])
        assert len({tuple(c) for c in rgb[:4]}) == 4


def test_bad_options_are_refused(hand_tree):
    with pytest.raises(InputError, match="color_by"):
        SceneOptions(color_by="age").check()
    with pytest.raises(InputError, match="unknown colormap"):
        SceneOptions(colormap="no-such-map").check()
    with pytest.raises(InputError, match="unknown view 'top'"):
        check_views(["cc", "top"])
    tree = hand_tree("R")
    tree.laterality = None
    with pytest.raises(InputError, match="laterality"):
        build_scene(tree, options=SceneOptions(**TUBES))


def test_envelope_mesh_of_a_sphere_and_a_capsule():
    m = envelope_mesh([(np.zeros(3), 5.0)], [(np.zeros(3), np.array([0.0, 20.0, 0.0]), 3.0)], spacing_mm=0.5)
    b = m.bounds
    assert b[0] == pytest.approx(-5, abs=0.3) and b[3] == pytest.approx(23, abs=0.3)
    # Union volume by hand: sphere + cylinder outside it + the far hemispherical cap.
    # Cylinder r=3 from y = 4 (where it leaves the r=5 sphere) to y = 20, plus the small cap
    # of the cylinder inside the sphere's shell: about pi*9*16 + 523.6 + 56.5 + ~40.
    expected = np.pi * 9 * 16 + 4 / 3 * np.pi * 125 + 2 / 3 * np.pi * 27
    assert m.volume == pytest.approx(expected, rel=0.06)
    assert envelope_mesh([], []) is None


@pytest.mark.parametrize("lat", ["R", "L"])
def test_lesion_labels_never_cover_a_lesion(phantom_cases, lat):
    from ductree.case import load_case

    case = load_case(phantom_cases[lat])
    case.render.color_by = "system"
    scene = build_scene(case, options=SceneOptions(**TUBES))
    assert scene.lesions, "the phantom case has placed lesions"
    for view in VIEWS:
        cam = scene.camera(view, (512, 512))
        placed = layout_labels(scene, view, (512, 512))
        discs = [(cam.project([lab.anchor])[0], lab.avoid_mm * cam.mm_at(lab.anchor))
                 for lab in scene.labels_in(view) if lab.avoid_mm > 0]
        for pt in placed:
            if pt.role not in ("lesion", "lesion-alt", "orifice"):
                continue
            x0, y0, x1, y1 = pt.box
            for c, r in discs:
                nx_, ny_ = min(max(c[0], x0), x1), min(max(c[1], y0), y1)
                assert np.hypot(c[0] - nx_, c[1] - ny_) >= r - 0.5, (view, pt.text)


def test_scene_meshes_model_and_tubes_agree_on_extent(hand_tree):
    tree = hand_tree("R")
    for mesher in ("model", "tubes"):
        meshes = dict(scene_meshes(tree, mesher=mesher))
        assert len(meshes) == 2
        pts = np.vstack([m.points for m in meshes.values()])
        assert pts[:, 1].max() == pytest.approx(61.5, abs=1.0) and pts[:, 0].max() == pytest.approx(31.5, abs=0.5)
        rows = set(np.concatenate([m.point_data["row"] for m in meshes.values()]).tolist())
        # Every vertex names a real row, and every branch end (tips, the first node past each root)
        # has vertices; an interior node on a straight run may carry none (the model mesher drops
        # rings where a chord stays within tolerance), which colouring by row does not need.
        assert rows <= set(range(7)) and {1, 3, 5, 6} <= rows


def test_a_root_without_orifice_clock_says_so_in_words(hand_tree):
    # A tree rebuilt from a ductogram starts at the cannulated orifice, whose clock the images do
    # not give: legend, duct caption and plan title must say that, not print "orifice -".
    tree = hand_tree("R")
    for root in tree.roots():
        tree.nodes[root].pop("orifice_clock", None)
    tree.touch()
    located, plans = planned(tree, "R")
    scene = build_scene(tree, located, plans, SceneOptions(**TUBES), case_id="hand", breast_depth_mm=100)
    texts = [e.text for e in scene.legend_in("cc")] + [lab.text for lab in scene.labels]
    assert "system 0, orifice clock not known" in texts
    assert not any("orifice -" in t for t in texts)


@pytest.mark.parametrize("lat", ["R", "L"])
def test_incision_label_grows_away_from_the_clock_numerals(hand_tree, lat):
    # The 3 o'clock lesion's incision is labelled beside the 3 of the clock face: the label keeps its near
    # end outside the ring instead of reaching back over the numeral (it read "periareolar incision 3:003").
    tree = hand_tree(lat)
    located, plans = planned(tree, lat)
    scene = build_scene(tree, located, plans, SceneOptions(**TUBES), case_id="hand")
    placed = layout_labels(scene, "front", (1024, 1024))
    (inc,) = [p for p in placed if p.role == "incision"]
    numerals = [p for p in placed if p.role == "clock"]
    assert len(numerals) == 12
    hit = [p.text for p in numerals if inc.box[0] < p.box[2] and inc.box[2] > p.box[0]
           and inc.box[1] < p.box[3] and inc.box[3] > p.box[1]]
    assert hit == []
    three = next(p for p in numerals if p.text == "3")
    # 3 o'clock is the patient's left: image right on both breasts; the label lies beyond the numeral
    assert inc.box[0] > three.box[2]


def test_outward_shift_by_hand():
    from ductree.scene import outward_shift

    assert outward_shift((300, 500), (500, 500), 100) == -50.0       # left of the centre: grows left
    assert outward_shift((700, 500), (500, 500), 100) == 50.0
    assert outward_shift((500, 200), (500, 500), 100) == 0.0          # straight above: stays centred
    assert outward_shift((600, 600), (500, 500), 100) == pytest.approx(50.0 / np.sqrt(2))
