"""Ductogram views: 2D masks (PNG, TIFF, DICOM, ``.npy``) with their imaging geometry.

A ductogram is a pair of magnified contrast mammograms of one opacified duct
system: a craniocaudal (CC) view and a true lateral (ML or LM) view
(DOMAIN §3). Each is read here as a :class:`View2D`: a boolean mask plus what
is needed to turn pixels into breast-frame millimetres:

- **pixel spacing at the breast** (mm): from DICOM, Imager Pixel Spacing
  (0018,1164) divided by the Estimated Radiographic Magnification Factor
  (0018,1114), or a calibrated Pixel Spacing (0028,0030); for a plain image
  the spacing the user gives (``spacing_mm``, at the detector, i.e. as stored
  in the image) divided by ``magnification`` (default 1: the spacing is
  already at the breast);
- **orientation**: DICOM Patient Orientation (0020,0020), two letters per
  image axis direction: the first names the direction of increasing column
  index (along a row), the second that of increasing row index (down a
  column). ``A``/``P`` anterior/posterior, ``L``/``R`` the patient's left/right,
  ``H``/``F`` head/foot. A CC view must pair A/P with L/R, a lateral view A/P
  with H/F. For a plain image the default is the standard hanging
  (:data:`DEFAULT_ORIENTATION`): right CC ``P\\L``, left CC ``A\\R``, right
  lateral ``P\\F``, left lateral ``A\\F`` (chest wall toward the middle of a
  back-to-back display, lateral side up on the CC);
- **view and laterality**: View Position (0018,5101) or the View Code
  Sequence (0054,0220), Image Laterality (0020,0062) or Laterality (0020,0060).
  An MLO is refused (it is tilted 30-60 degrees, not orthogonal to the CC).

Each view maps a pixel to ``(u, d)`` in mm: ``u`` the in-plane coordinate
across the depth axis (BF ``x`` on a CC, BF ``z`` on a lateral) and ``d`` the
depth toward the chest wall (BF ``y``), both relative to a nipple pixel set
later (:attr:`View2D.nipple_px`).

Masks: any two distinct values (the larger is foreground; for DICOM
MONOCHROME1 the smaller), or booleans. A grey-level image is refused with the
threshold that would separate it (Otsu). No value from a DICOM header other
than the geometry tags listed above is kept, so no patient identifier can
reach an output.

The writers (:func:`write_mask_png`, :func:`write_mask_dicom`) are what the
ductogram simulator uses; both write atomically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError

#: Suffixes read as plain images (pillow) and as numpy arrays.
IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
NPY_SUFFIXES = (".npy",)
DICOM_SUFFIXES = (".dcm", ".dicom")

#: Default Patient Orientation of a plain image, by (view kind, laterality): the standard hanging.
DEFAULT_ORIENTATION = {
    ("cc", "R"): ("P", "L"),
    ("cc", "L"): ("A", "R"),
    ("lateral", "R"): ("P", "F"),
    ("lateral", "L"): ("A", "F"),
}
#: DICOM View Position values accepted for each view kind.
VIEW_POSITIONS = {"cc": ("CC", "XCCL", "XCCM", "FB"), "lateral": ("ML", "LM")}
#: Oblique views: refused, they are not orthogonal to the CC.
OBLIQUE_POSITIONS = ("MLO", "LMO", "SIO", "ISO")
#: A mask whose foreground covers more than this fraction of the image is taken as inverted.
MAX_FOREGROUND_FRACTION = 0.5
_OPPOSITE = {"A": "P", "P": "A", "L": "R", "R": "L", "H": "F", "F": "H"}


@dataclass
class View2D:
    """One ductogram view: a boolean mask and its geometry (mm at the breast).

    ``orientation`` is the Patient Orientation pair (direction of increasing
    column, direction of increasing row). ``nipple_px`` is the (row, col) of
    the nipple (or of the cannulated orifice) once known; ``u``/``d`` are
    measured from it.
    """

    mask: np.ndarray
    kind: str                                  #: "cc" or "lateral"
    spacing_mm: tuple[float, float]            #: (row, col) pixel size at the breast, mm
    orientation: tuple[str, str]
    laterality: str | None = None
    view_position: str | None = None           #: CC, ML, LM, ... when known
    magnification: float = 1.0
    detector_spacing_mm: tuple[float, float] | None = None
    spacing_from: str = "given"                #: how the spacing was found (for the report)
    orientation_from: str = "given"
    nipple_px: tuple[float, float] | None = None
    name: str = ""                             #: the file name (for messages only; never written out)
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ geometry

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.mask.shape[0]), int(self.mask.shape[1]))

    @property
    def axes(self) -> np.ndarray:
        """(2, 2) matrix ``J`` with ``[u, d] = J @ [drow, dcol]`` (mm; pixel offsets from the nipple)."""
        return axes_matrix(self.kind, self.orientation, self.spacing_mm)

    def to_mm(self, rc: np.ndarray) -> np.ndarray:
        """Pixel (row, col) coordinates (N, 2) -> (u, d) mm relative to the nipple pixel."""
        if self.nipple_px is None:
            raise InputError("the nipple pixel of this view is not set", source=self.name or None)
        rc = np.asarray(rc, dtype=float).reshape(-1, 2) - np.asarray(self.nipple_px, dtype=float)
        return rc @ self.axes.T

    def to_px(self, ud: np.ndarray) -> np.ndarray:
        """(u, d) mm (N, 2) -> pixel (row, col) coordinates (inverse of :meth:`to_mm`)."""
        if self.nipple_px is None:
            raise InputError("the nipple pixel of this view is not set", source=self.name or None)
        ud = np.asarray(ud, dtype=float).reshape(-1, 2)
        return ud @ np.linalg.inv(self.axes).T + np.asarray(self.nipple_px, dtype=float)

    @property
    def depth_axis(self) -> int:
        """0 when depth runs along the rows (changes with the row index), 1 along the columns."""
        return 1 if self.orientation[0] in ("A", "P") else 0

    @property
    def pixel_mm(self) -> float:
        """Mean pixel size at the breast (mm)."""
        return float(np.mean(self.spacing_mm))

    def describe(self) -> dict:
        """A JSON-ready description (no file name, no header values beyond geometry)."""
        return {
            "view": self.kind, "view_position": self.view_position, "laterality": self.laterality,
            "pixel_spacing_mm": [float(s) for s in self.spacing_mm], "magnification": float(self.magnification),
            "detector_spacing_mm": None if self.detector_spacing_mm is None else
            [float(s) for s in self.detector_spacing_mm],
            "spacing_from": self.spacing_from, "orientation": "\\".join(self.orientation),
            "orientation_from": self.orientation_from, "shape": list(self.shape),
            "nipple_px": None if self.nipple_px is None else [float(x) for x in self.nipple_px],
        }


def parse_orientation(value: object, kind: str, *, source: str | None = None,
                      key: str = "orientation") -> tuple[str, str]:
    """Parse a Patient Orientation (``"P\\\\L"``, ``"P,L"``, ``["P", "L"]``) and check it suits the view.

    Examples
    --------
    >>> parse_orientation("P\\\\L", "cc"), parse_orientation("A,F", "lateral")
    (('P', 'L'), ('A', 'F'))
    """
    if isinstance(value, str):
        parts = [p.strip().upper() for p in value.replace("\\", ",").replace("/", ",").split(",") if p.strip()]
    elif isinstance(value, (list, tuple)) or (hasattr(value, "__iter__") and not isinstance(value, bytes)):
        parts = [str(p).strip().upper() for p in value]  # type: ignore[union-attr]
    else:
        parts = []
    if len(parts) != 2 or not all(len(p) == 1 and p in _OPPOSITE for p in parts):
        raise InputError(f"orientation must be two letters from A P L R H F (e.g. 'P\\L'), got {value!r}"
                         + (" (oblique directions such as 'FL' mean an oblique view, which is not supported)"
                            if any(len(p) > 1 for p in parts) else ""), source=source, key=key)
    axes = {p if p in ("A", "L", "H") else _OPPOSITE[p] for p in parts}
    other = "L" if kind == "cc" else "H"
    if axes != {"A", other}:
        what = "A/P and L/R (a CC shows left-right x depth)" if kind == "cc" else \
            "A/P and H/F (a lateral view shows head-foot x depth)"
        raise InputError(f"orientation {parts[0]}\\{parts[1]} does not fit a {kind} view: it needs {what}",
                         source=source, key=key)
    return (parts[0], parts[1])


def axes_matrix(kind: str, orientation: tuple[str, str], spacing_mm: tuple[float, float]) -> np.ndarray:
    """``J`` (2x2) with ``[u, d] = J @ [drow, dcol]``: u = BF x (CC) or z (lateral), d = depth (BF y)."""
    row_dir, col_dir = orientation          # direction of increasing column, of increasing row
    sr, sc = float(spacing_mm[0]), float(spacing_mm[1])
    sign = {"P": 1.0, "A": -1.0, "L": 1.0, "R": -1.0, "H": 1.0, "F": -1.0}
    j = np.zeros((2, 2))
    # increasing column moves along row_dir; increasing row moves along col_dir
    for axis_letter, col_index, step in ((row_dir, 1, sc), (col_dir, 0, sr)):
        if axis_letter in ("A", "P"):
            j[1, col_index] = sign[axis_letter] * step
        else:
            j[0, col_index] = sign[axis_letter] * step
    if kind not in ("cc", "lateral"):
        raise InputError(f"view kind must be 'cc' or 'lateral', got {kind!r}")
    return j


# --------------------------------------------------------------------------- reading

def is_dicom(path: Path) -> bool:
    """True for a ``.dcm``/``.dicom`` file or any file with the DICOM preamble magic ``DICM``."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def read_view(
    path: str | PathLike,
    kind: str,
    *,
    spacing_mm: float | Sequence[float] | None = None,
    magnification: float | None = None,
    orientation: object = None,
    laterality: str | None = None,
    threshold: float | None = None,
    key: str | None = None,
) -> View2D:
    """Read one ductogram view (PNG, TIFF, DICOM or ``.npy``) as a :class:`View2D`.

    Parameters
    ----------
    path : path-like
        The mask file.
    kind : {"cc", "lateral"}
        Which view this file is meant to be; a DICOM View Position that says
        otherwise is an error.
    spacing_mm : float or (row, col), optional
        Pixel size as stored in the image (at the detector), mm. Required for
        plain images; for DICOM it overrides the header (with a note).
    magnification : float, optional
        Radiographic magnification; the spacing at the breast is
        ``spacing_mm / magnification``. Default: the DICOM header's, else 1.
    orientation : str or pair, optional
        Patient Orientation (``"P\\\\L"``); default the DICOM header's, else the
        standard hanging for the view and laterality (:data:`DEFAULT_ORIENTATION`).
    laterality : {"L", "R"}, optional
        The breast; a DICOM Image Laterality that differs is an error.
    threshold : float, optional
        Foreground is ``value > threshold`` (for grey-level images). Without
        it a grey-level image is an error that names the Otsu threshold.
    key : str, optional
        The option or key that named the file (for error messages).
    """
    from ..frame import parse_laterality

    p = Path(path)
    src = str(p)
    if kind not in ("cc", "lateral"):
        raise InputError(f"view kind must be 'cc' or 'lateral', got {kind!r}", key=key)
    if not p.is_file():
        raise InputError("no such file", source=src, key=key)
    lat = None if laterality is None else parse_laterality(laterality)
    if is_dicom(p):
        arr, meta = _read_dicom(p, key)
    else:
        suffix = p.suffix.lower()
        if suffix in NPY_SUFFIXES:
            arr = _read_npy(p, key)
        elif suffix in IMAGE_SUFFIXES:
            arr = _read_image(p, key)
        else:
            raise InputError(f"cannot read {suffix or 'a file without suffix'!r} as a ductogram view: use PNG, "
                             "TIFF, DICOM (.dcm) or .npy", source=src, key=key)
        meta = {}
    mask = _binary(arr, src, key, threshold=threshold, inverted=meta.get("monochrome1", False))
    notes: list[str] = []

    # --- view and laterality
    vp = meta.get("view_position")
    if vp is not None:
        if vp in OBLIQUE_POSITIONS:
            raise InputError(f"is an oblique view ({vp}); only a CC and a true lateral (ML or LM) are orthogonal "
                             "and can be combined", source=src, key=key)
        fits = next((k for k, vals in VIEW_POSITIONS.items() if vp in vals), None)
        if fits is None:
            raise InputError(f"has View Position {vp!r}, which is neither a CC nor a true lateral (ML/LM)",
                             source=src, key=key)
        if fits != kind:
            raise InputError(f"is a {vp} view, given as the {kind} view", source=src, key=key)
    img_lat = meta.get("laterality")
    if img_lat is not None and lat is not None and img_lat != lat:
        raise InputError(f"is an image of the {img_lat} breast but the {lat} breast was given", source=src,
                         key="laterality")
    lat = lat or img_lat

    # --- spacing
    mag = magnification
    if mag is not None and not (math.isfinite(mag) and mag > 0):
        raise InputError(f"magnification must be > 0, got {mag!r}", key="magnification")
    det: tuple[float, float] | None = None
    if spacing_mm is not None:
        det = _spacing_pair(spacing_mm)
        spacing_from = "given"
        if meta.get("spacing") is not None:
            notes.append(f"{p.name}: the given spacing overrides the DICOM header's")
        if mag is None:
            mag = meta.get("magnification") if meta.get("spacing_kind") == "imager" else None
        if mag is None:
            mag = 1.0
            notes.append(f"{p.name}: no magnification given, the spacing is taken as at the breast (1.0x)")
        breast = (det[0] / mag, det[1] / mag)
    elif meta.get("spacing") is not None:
        det = meta["spacing"]
        if meta["spacing_kind"] == "calibrated":
            spacing_from = "DICOM Pixel Spacing (0028,0030), calibrated"
            breast = det
            mag = mag or meta.get("magnification") or 1.0
        else:
            if mag is None:
                mag = meta.get("magnification")
                if mag is None:
                    mag = 1.0
                    notes.append(f"{p.name}: no Estimated Radiographic Magnification Factor in the header; "
                                 "taken as 1.0 (give --magnification for a magnification view)")
                    spacing_from = "DICOM Imager Pixel Spacing (0018,1164), no magnification"
                else:
                    spacing_from = "DICOM Imager Pixel Spacing / Estimated Radiographic Magnification Factor"
            else:
                spacing_from = "DICOM Imager Pixel Spacing / given magnification"
            breast = (det[0] / mag, det[1] / mag)
    else:
        what = "the DICOM header has no Imager Pixel Spacing or Pixel Spacing" if meta else \
            "a plain image carries no pixel size"
        raise InputError(f"{what}: give the pixel spacing in mm (--spacing, and --magnification for a "
                         "magnification view)", source=src, key="--spacing")

    # --- orientation
    if orientation is not None:
        orient = parse_orientation(orientation, kind, source=src, key="orientation")
        orientation_from = "given"
    elif meta.get("orientation") is not None:
        orient = parse_orientation(meta["orientation"], kind, source=src, key="PatientOrientation")
        orientation_from = "DICOM Patient Orientation (0020,0020)"
    else:
        if lat is None:
            raise InputError("the orientation of a plain image follows from the laterality: give it (L or R) "
                             "or the orientation", source=src, key="laterality")
        orient = DEFAULT_ORIENTATION[(kind, lat)]
        orientation_from = "default (standard hanging)"
    return View2D(mask=mask, kind=kind, spacing_mm=breast, orientation=orient, laterality=lat, view_position=vp,
                  magnification=float(mag), detector_spacing_mm=det, spacing_from=spacing_from,
                  orientation_from=orientation_from, name=p.name, notes=notes)


def header_laterality(path: str | PathLike) -> str | None:
    """The Image Laterality (or Laterality) of a DICOM file, without reading its pixels; None otherwise."""
    p = Path(path)
    if not p.is_file() or not is_dicom(p):
        return None
    import pydicom

    try:
        ds = pydicom.dcmread(p, stop_before_pixels=True)
    except Exception:  # unreadable files are reported by read_view with the reason
        return None
    lat = str(ds.get("ImageLaterality", "") or ds.get("Laterality", "") or "").strip().upper()
    return lat if lat in ("L", "R") else None


def check_pair(cc: View2D | None, lateral: View2D | None, laterality: str | None) -> str:
    """Check two views belong together (same breast); return the laterality.

    Raises :class:`InputError` for views of different laterality, or when the
    laterality is unknown (plain images without ``laterality``).
    """
    lats = {v.name: v.laterality for v in (cc, lateral) if v is not None and v.laterality is not None}
    if len(set(lats.values())) > 1:
        parts = ", ".join(f"{n} is {lat}" for n, lat in lats.items())
        raise InputError(f"the views are of different breasts ({parts}); both must show the same breast",
                         key="laterality")
    lat = laterality or next(iter(lats.values()), None)
    if lat is None:
        raise InputError("the breast side is required (L or R): the views carry no Image Laterality; give it "
                         "(--laterality)", key="laterality")
    return lat


def _spacing_pair(value: float | Sequence[float]) -> tuple[float, float]:
    vals = [float(value)] * 2 if np.isscalar(value) else [float(v) for v in value]  # type: ignore[arg-type]
    if len(vals) == 3 and vals[0] == vals[1]:  # the volume-style "--spacing S" arrives as three equal values
        vals = vals[:2]
    if len(vals) != 2 or not all(math.isfinite(v) and v > 0 for v in vals):
        raise InputError(f"pixel spacing must be one number (or row, col) > 0 mm, got {value!r}", key="--spacing")
    if not all(0.005 <= v <= 2.0 for v in vals):
        raise InputError(f"pixel spacing {vals} mm is implausible for a mammogram (0.005-2 mm)", key="--spacing")
    return (vals[0], vals[1])


def _read_npy(p: Path, key: str | None) -> np.ndarray:
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"not a readable .npy array ({exc})", source=str(p), key=key) from None
    return arr


def _read_image(p: Path, key: str | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as img:
            frames = getattr(img, "n_frames", 1)
            if frames > 1:
                raise InputError(f"has {frames} pages; give one 2D mask per view", source=str(p), key=key)
            mode = img.mode
            if mode in ("P", "PA"):
                img = img.convert("RGBA" if "transparency" in img.info or mode == "PA" else "RGB")
                mode = img.mode
            arr = np.asarray(img)
    except UnidentifiedImageError:
        raise InputError("not a readable image", source=str(p), key=key) from None
    except OSError as exc:
        raise InputError(f"cannot read the image ({exc})", source=str(p), key=key) from None
    if arr.ndim == 3:
        ch = arr.shape[2]
        if ch in (2, 4):  # grey+alpha / RGBA: an alpha channel that hides nothing is ignored
            alpha = arr[..., -1]
            if alpha.min() != alpha.max():
                raise InputError("has a transparency channel that varies; give a plain single-channel mask",
                                 source=str(p), key=key)
            arr = arr[..., :-1]
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        elif arr.ndim == 3:
            if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
                raise InputError("is a colour image; give a single-channel (grey or binary) mask", source=str(p),
                                 key=key)
            arr = arr[..., 0]
    return arr


def _read_dicom(p: Path, key: str | None) -> tuple[np.ndarray, dict]:
    """Pixel array and the geometry tags only (nothing that identifies a patient)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    src = str(p)
    try:
        ds = pydicom.dcmread(p)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a readable DICOM file ({type(exc).__name__})", source=src, key=key) from None
    if "PixelData" not in ds:
        raise InputError("the DICOM file holds no image (no Pixel Data)", source=src, key=key)
    try:
        arr = ds.pixel_array
    except Exception as exc:  # decoders raise many kinds (missing plugin, corrupt data)
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        raise InputError(f"cannot decode the DICOM pixel data (transfer syntax {ts}): {exc}", source=src,
                         key=key) from None
    arr = np.asarray(arr)
    if arr.ndim == 3 and int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        raise InputError(f"has {arr.shape[0]} frames; give one 2D mask per view", source=src, key=key)
    if arr.ndim == 3 and int(getattr(ds, "SamplesPerPixel", 1) or 1) > 1:
        raise InputError("is a colour image; give a single-channel mask", source=src, key=key)
    meta: dict = {"monochrome1": str(getattr(ds, "PhotometricInterpretation", "")).upper() == "MONOCHROME1"}

    def floats(tag_name: str) -> tuple[float, float] | None:
        v = ds.get(tag_name)
        if v is None or v == "":
            return None
        try:
            vals = [float(x) for x in v] if not isinstance(v, (str, bytes, int, float)) else [float(v)]
        except (TypeError, ValueError):
            raise InputError(f"bad {tag_name} {v!r}", source=src, key=tag_name) from None
        if len(vals) == 1:
            vals = vals * 2
        if len(vals) != 2 or not all(math.isfinite(x) and x > 0 for x in vals):
            raise InputError(f"bad {tag_name} {list(vals)!r}", source=src, key=tag_name)
        return (vals[0], vals[1])

    imager = floats("ImagerPixelSpacing")
    calibrated = floats("PixelSpacing")
    cal_type = ds.get("PixelSpacingCalibrationType")
    if calibrated is not None and (imager is None or cal_type):
        meta["spacing"], meta["spacing_kind"] = calibrated, "calibrated"
    elif imager is not None:
        meta["spacing"], meta["spacing_kind"] = imager, "imager"
    mag = ds.get("EstimatedRadiographicMagnificationFactor")
    if mag not in (None, ""):
        try:
            m = float(mag)
        except (TypeError, ValueError):
            raise InputError(f"bad Estimated Radiographic Magnification Factor {mag!r}", source=src,
                             key="EstimatedRadiographicMagnificationFactor") from None
        if not (math.isfinite(m) and 0.5 <= m <= 5.0):
            raise InputError(f"implausible Estimated Radiographic Magnification Factor {m}", source=src,
                             key="EstimatedRadiographicMagnificationFactor")
        meta["magnification"] = m
    lat = str(ds.get("ImageLaterality", "") or ds.get("Laterality", "") or "").strip().upper()
    if lat in ("L", "R"):
        meta["laterality"] = lat
    elif lat in ("B",):
        raise InputError("Image Laterality is B (both breasts); give one view of one breast", source=src,
                         key="ImageLaterality")
    vp = str(ds.get("ViewPosition", "") or "").strip().upper()
    if not vp:
        vp = _view_from_code_sequence(ds)
    if vp:
        meta["view_position"] = vp
    po = ds.get("PatientOrientation")
    if po not in (None, ""):
        meta["orientation"] = [str(x) for x in (po if not isinstance(po, str) else po.split("\\"))]
    return arr, meta


def _view_from_code_sequence(ds) -> str:
    seq = ds.get("ViewCodeSequence")
    if not seq:
        return ""
    meaning = str(getattr(seq[0], "CodeMeaning", "")).lower().replace("-", " ")
    table = (("oblique", "MLO"), ("cranio caudal", "CC"), ("craniocaudal", "CC"), ("medio lateral", "ML"),
             ("mediolateral", "ML"), ("latero medial", "LM"), ("lateromedial", "LM"))
    for words, code in table:
        if words in meaning:
            return code
    return ""


def _binary(arr: np.ndarray, src: str, key: str | None, *, threshold: float | None,
            inverted: bool) -> np.ndarray:
    """A boolean mask from a two-valued image; grey levels are refused with the threshold they need."""
    a = np.asarray(arr)
    if a.ndim != 2:
        raise InputError(f"expected a 2D mask, got an array of shape {a.shape}", source=src, key=key)
    if min(a.shape) < 8:
        raise InputError(f"the image is too small ({a.shape[0]}x{a.shape[1]} pixels)", source=src, key=key)
    if a.dtype == bool:
        mask = a.copy()
    else:
        if not np.issubdtype(a.dtype, np.number):
            raise InputError(f"pixel values of type {a.dtype} are not numbers", source=src, key=key)
        if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
            raise InputError("the image holds NaN or infinite values", source=src, key=key)
        lo, hi = a.min(), a.max()
        if threshold is not None:
            mask = a > threshold
        elif lo == hi:
            mask = np.zeros(a.shape, dtype=bool)
        else:
            two = (a == lo) | (a == hi)
            if not two.all():
                n_vals = len(np.unique(a)) if a.size <= 4_000_000 else "many"
                from skimage.filters import threshold_otsu

                t = float(threshold_otsu(a))
                t_txt = f"{t:.0f}" if np.issubdtype(a.dtype, np.integer) else f"{t:.4g}"
                raise InputError(f"not a binary mask: {n_vals} distinct values from {lo} to {hi}; it needs a "
                                 f"threshold (Otsu's would be {t_txt}: foreground = value > {t_txt}) - threshold "
                                 "the segmentation first", source=src, key=key)
            mask = (a == lo) if inverted else (a == hi)
    n = int(mask.sum())
    if n == 0:
        raise InputError("the view is empty: no foreground (contrast) pixels", source=src, key=key)
    frac = n / mask.size
    if frac > MAX_FOREGROUND_FRACTION:
        raise InputError(f"the foreground covers {100 * frac:.0f}% of the image; a duct mask is mostly "
                         "background - is it inverted?", source=src, key=key)
    return mask


# --------------------------------------------------------------------------- writing

def write_mask_png(mask: np.ndarray, path: str | PathLike) -> Path:
    """Write a boolean mask as an 8-bit PNG (0 background, 255 foreground), atomically."""
    from PIL import Image

    from ..atomic import atomic_path

    out = Path(path)
    with atomic_path(out) as tmp:
        Image.fromarray(np.where(np.asarray(mask, dtype=bool), 255, 0).astype(np.uint8), mode="L").save(
            tmp, format="PNG", optimize=False, compress_level=6)
    return out


def write_mask_dicom(
    mask: np.ndarray,
    path: str | PathLike,
    *,
    view_position: str,
    laterality: str,
    orientation: tuple[str, str],
    imager_pixel_spacing_mm: float | tuple[float, float],
    magnification: float,
    study_uid: str | None = None,
    patient_name: str = "PHANTOM",
    patient_id: str = "PHANTOM",
    extra: dict | None = None,
) -> Path:
    """Write a mask as a DICOM digital mammography image (MONOCHROME2, 0/1), atomically.

    Carries the tags :func:`read_view` uses: Imager Pixel Spacing, Estimated
    Radiographic Magnification Factor, Image Laterality, View Position (and a
    View Code Sequence), Patient Orientation. UIDs are generated; the patient
    is a dummy (``PHANTOM``). ``extra`` sets further attributes by keyword
    (tests use it to plant identifiers that must never reach an output).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence as DicomSequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from ..atomic import atomic_path

    sop_class = "1.2.840.10008.5.1.4.1.1.1.2"  # Digital Mammography X-Ray Image Storage - For Presentation
    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.Modality = "MG"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.ImageLaterality = laterality
    ds.ViewPosition = view_position
    code = {"CC": ("R-10242", "cranio-caudal"), "ML": ("R-10224", "medio-lateral"),
            "LM": ("R-10228", "latero-medial")}.get(view_position)
    if code is not None:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code[0], "SRT", code[1]
        ds.ViewCodeSequence = DicomSequence([item])
    ds.PatientOrientation = list(orientation)
    sp = (float(imager_pixel_spacing_mm),) * 2 if np.isscalar(imager_pixel_spacing_mm) else \
        tuple(float(v) for v in imager_pixel_spacing_mm)  # type: ignore[union-attr]
    ds.ImagerPixelSpacing = [f"{v:.6g}" for v in sp]
    ds.EstimatedRadiographicMagnificationFactor = f"{float(magnification):.6g}"
    arr = np.asarray(mask, dtype=bool).astype(np.uint8)
    ds.Rows, ds.Columns = int(arr.shape[0]), int(arr.shape[1])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = arr.tobytes()
    for k, v in (extra or {}).items():
        setattr(ds, k, v)
    out = Path(path)
    with atomic_path(out) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return out
