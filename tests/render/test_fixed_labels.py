"""Fixed labels (incision, orifice) never print over the legend or the title."""

from ductree.render import _fixed_label_box, _overlap


def test_label_moves_off_a_reserved_box():
    legend = (700, 40, 990, 340)
    # A 160x20 label centred at (780, 250) would sit inside the legend.
    box = _fixed_label_box(780, 250, 160, 20, 1024, 1024, [legend])
    assert _overlap(box, legend) == 0
    assert 0 <= box[0] and box[2] <= 1024 and 0 <= box[1] and box[3] <= 1024
    # It moves to the nearest clear side. Worked by hand: below the legend the centre moves
    # 340 + 4 + 10 - 250 = 104 px; left of it 780 - (700 - 4 - 80) = 164 px; so below.
    assert box[1] >= legend[3] and (box[1] + box[3]) / 2 == 354 and (box[0] + box[2]) / 2 == 780


def test_label_clear_of_everything_stays_put():
    box = _fixed_label_box(300, 300, 100, 20, 1024, 1024, [(700, 40, 990, 340)])
    assert box == (250, 290, 350, 310)


def test_label_kept_inside_the_image():
    box = _fixed_label_box(1020, 5, 100, 20, 1024, 1024, [])
    assert box[2] <= 1024 - 2 and box[1] >= 2
