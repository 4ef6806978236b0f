"""Reading ductogram views: DICOM geometry tags (spacing, magnification, laterality, view, orientation),
plain images with given spacing, and refusals that name the file and the key."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ductree.errors import InputError
from ductree.io.images2d import axes_matrix, check_pair, parse_orientation, read_view, write_mask_dicom


def mask(shape=(60, 90)):
    m = np.zeros(shape, dtype=bool)
    m[28:33, 5:80] = True
    return m


def dicom(path, **kw):
    args = dict(view_position="CC", laterality="R", orientation=("P", "L"), imager_pixel_spacing_mm=0.06,
                magnification=1.5)
    args.update(kw)
    return write_mask_dicom(mask(), path, **args)


def test_dicom_spacing_is_imager_spacing_over_magnification(tmp_path):
    p = dicom(tmp_path / "cc.dcm", laterality="L", orientation=("A", "R"), imager_pixel_spacing_mm=0.07,
              magnification=1.75)
    v = read_view(p, "cc")
    assert v.spacing_mm == pytest.approx((0.04, 0.04))          # 0.07 / 1.75
    assert v.magnification == pytest.approx(1.75) and v.detector_spacing_mm == pytest.approx((0.07, 0.07))
    assert v.laterality == "L" and v.view_position == "CC" and v.orientation == ("A", "R")
    assert "Magnification" in v.spacing_from and "Patient Orientation" in v.orientation_from
    assert v.mask.dtype == bool and v.mask.sum() == mask().sum()


def test_dicom_calibrated_pixel_spacing_wins(tmp_path):
    p = dicom(tmp_path / "cc.dcm", extra={"PixelSpacing": ["0.05", "0.05"], "PixelSpacingCalibrationType": "GEOMETRY"})
    v = read_view(p, "cc")
    assert v.spacing_mm == pytest.approx((0.05, 0.05)) and "calibrated" in v.spacing_from


def test_dicom_without_magnification_tag_and_given_magnification(tmp_path):
    p = dicom(tmp_path / "ml.dcm", view_position="ML", orientation=("P", "F"))
    import pydicom

    ds = pydicom.dcmread(p)
    del ds.EstimatedRadiographicMagnificationFactor
    ds.save_as(p)
    v = read_view(p, "lateral")
    assert v.spacing_mm == pytest.approx((0.06, 0.06)) and any("Magnification" in n for n in v.notes)
    v = read_view(p, "lateral", magnification=2.0)
    assert v.spacing_mm == pytest.approx((0.03, 0.03)) and "given magnification" in v.spacing_from


def test_dicom_monochrome1_is_inverted(tmp_path):
    import pydicom

    p = dicom(tmp_path / "cc.dcm")
    ds = pydicom.dcmread(p)
    arr = np.where(mask(), 0, 1).astype(np.uint8)     # MONOCHROME1: low values are bright (contrast)
    ds.PixelData = arr.tobytes()
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(p)
    assert np.array_equal(read_view(p, "cc").mask, mask())


def test_dicom_view_refusals(tmp_path):
    mlo = dicom(tmp_path / "mlo.dcm", view_position="MLO", orientation=("P", "F"))
    with pytest.raises(InputError, match="oblique") as e:
        read_view(mlo, "lateral", key="--lateral")
    assert "mlo.dcm" in str(e.value)
    lat = dicom(tmp_path / "ml.dcm", view_position="ML", orientation=("P", "F"))
    with pytest.raises(InputError, match="ML view, given as the cc view"):
        read_view(lat, "cc")
    with pytest.raises(InputError, match="L breast was given"):
        read_view(dicom(tmp_path / "r.dcm"), "cc", laterality="L")


def test_plain_image_needs_spacing_and_uses_standard_hanging(tmp_path):
    p = tmp_path / "cc.png"
    Image.fromarray(mask().astype(np.uint8) * 255).save(p)
    with pytest.raises(InputError, match="--spacing") as e:
        read_view(p, "cc", laterality="R")
    assert "cc.png" in str(e.value)
    v = read_view(p, "cc", spacing_mm=0.06, magnification=1.5, laterality="R")
    assert v.spacing_mm == pytest.approx((0.04, 0.04)) and v.orientation == ("P", "L")
    assert read_view(p, "lateral", spacing_mm=0.05, laterality="L").orientation == ("A", "F")
    v = read_view(p, "cc", spacing_mm=0.05, laterality="R")
    assert v.magnification == 1.0 and any("no magnification" in n for n in v.notes)
    with pytest.raises(InputError, match="laterality"):
        read_view(p, "cc", spacing_mm=0.05)
    np.save(tmp_path / "m.npy", mask())
    assert read_view(tmp_path / "m.npy", "cc", spacing_mm=0.05, laterality="R").mask.sum() == mask().sum()


def test_orientation_parsing_and_axes():
    assert parse_orientation("P\\L", "cc") == ("P", "L")
    assert parse_orientation(["A", "F"], "lateral") == ("A", "F")
    for bad, kind in (("P\\F", "cc"), ("P\\L", "lateral"), ("X,Y", "cc"), ("FL\\A", "lateral"), ("P", "cc")):
        with pytest.raises(InputError):
            parse_orientation(bad, kind)
    # right CC P\L: one column right = 1 px posterior (deeper), one row down = 1 px to the patient's left (+x)
    j = axes_matrix("cc", ("P", "L"), (0.1, 0.2))
    assert np.allclose(j @ [1, 0], [0.1, 0]) and np.allclose(j @ [0, 1], [0, 0.2])
    # left lateral A\F: a column right = anterior (shallower), a row down = toward the feet (-z)
    j = axes_matrix("lateral", ("A", "F"), (0.1, 0.1))
    assert np.allclose(j @ [1, 0], [-0.1, 0]) and np.allclose(j @ [0, 1], [0, -0.1])


def test_pair_of_different_breasts_is_refused(tmp_path):
    a = read_view(dicom(tmp_path / "cc.dcm", laterality="R"), "cc")
    b = read_view(dicom(tmp_path / "ml.dcm", view_position="ML", orientation=("A", "F"), laterality="L"), "lateral")
    with pytest.raises(InputError, match="different breasts") as e:
        check_pair(a, b, None)
    assert "cc.dcm is R" in str(e.value) and "ml.dcm is L" in str(e.value)


@pytest.mark.parametrize("what,words", [
    ("grey", ["not a binary mask", "Otsu", "threshold"]), ("empty", ["empty"]), ("full", ["inverted"]),
    ("colour", ["colour"]), ("junk", ["not a readable image"]),
])
def test_bad_masks(tmp_path, what, words):
    p = tmp_path / f"{what}.png"
    if what == "grey":
        img = (np.linspace(0, 255, 60 * 90).reshape(60, 90)).astype(np.uint8)
        Image.fromarray(img).save(p)
    elif what == "empty":
        Image.fromarray(np.zeros((60, 90), np.uint8)).save(p)
    elif what == "full":
        Image.fromarray(np.where(mask(), 0, 255).astype(np.uint8)).save(p)
    elif what == "colour":
        rgb = np.zeros((60, 90, 3), np.uint8)
        rgb[mask()] = (255, 0, 0)
        Image.fromarray(rgb).save(p)
    else:
        p.write_bytes(b"\x89PNG not really")
    with pytest.raises(InputError) as e:
        read_view(p, "cc", spacing_mm=0.05, laterality="R", key="--cc")
    msg = str(e.value)
    assert f"{what}.png" in msg and all(w in msg for w in words), msg
