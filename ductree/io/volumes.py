"""3D volumes with their physical geometry: NIfTI, NRRD, MetaImage, DICOM series, ``.npy``.

A :class:`Volume` is a numpy array plus the geometry that places it in the
patient frame **LPS** (mm), exactly as ITK/SimpleITK define it::

    p_LPS = origin + direction @ (spacing * [i, j, k])

``i`` is the fastest image axis. The array is kept in SimpleITK's order,
``array[k, j, i]`` (no transpose on reading or writing); :meth:`Volume.array_to_lps`
converts array indices ``(k, j, i)`` directly.

Reading uses SimpleITK (NIfTI's RAS storage is converted to LPS by the
reader, so direction cosines always come out in LPS). From a DICOM series only
the pixel data and the geometry are read: no header field (patient name, ID,
birth date, accession number, ...) is ever kept on the :class:`Volume`, so
none can reach a tree, a model, a report or a file name.

Examples
--------
>>> import numpy as np
>>> v = Volume(np.zeros((4, 3, 2), np.uint8), spacing=(0.5, 0.5, 2.0))
>>> v.shape_ijk, v.index_to_lps([1, 2, 3]).tolist()
((2, 3, 4), [0.5, 1.0, 6.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError

#: suffixes read by SimpleITK (a folder is read as a DICOM series; .npy by numpy)
VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd", ".npy")


@dataclass
class Volume:
    """A 3D image in SimpleITK array order ``array[k, j, i]`` with its LPS geometry (mm)."""

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)   #: mm along i, j, k
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)    #: LPS mm of voxel (0, 0, 0)'s centre
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))  #: columns: LPS direction of i, j, k

    def __post_init__(self) -> None:
        self.spacing = tuple(float(s) for s in self.spacing)  # type: ignore[assignment]
        self.origin = tuple(float(o) for o in self.origin)  # type: ignore[assignment]
        self.direction = np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def shape_ijk(self) -> tuple[int, int, int]:
        """Size along i, j, k (the reverse of ``array.shape``)."""
        return tuple(int(n) for n in self.array.shape[::-1])  # type: ignore[return-value]

    @property
    def array_spacing(self) -> np.ndarray:
        """Spacing along the array axes (k, j, i), mm."""
        return np.asarray(self.spacing[::-1], dtype=float)

    @property
    def array_matrix(self) -> np.ndarray:
        """3x3 matrix M with ``p_LPS = origin + M @ [k, j, i]`` (array-order index)."""
        return (self.direction @ np.diag(self.spacing))[:, ::-1]

    def index_to_lps(self, ijk: Sequence[float] | np.ndarray) -> np.ndarray:
        """LPS mm of image index (i, j, k) (one point (3,) or many (N, 3))."""
        a = np.asarray(ijk, dtype=float)
        return np.asarray(self.origin) + (a * np.asarray(self.spacing)) @ self.direction.T

    def array_to_lps(self, kji: np.ndarray) -> np.ndarray:
        """LPS mm of array index (k, j, i) (one point or many)."""
        a = np.asarray(kji, dtype=float)
        return np.asarray(self.origin) + a @ self.array_matrix.T

    def lps_to_array(self, points: np.ndarray) -> np.ndarray:
        """Continuous array index (k, j, i) of LPS points (mm)."""
        p = np.asarray(points, dtype=float) - np.asarray(self.origin)
        return p @ np.linalg.inv(self.array_matrix).T

    def contains_lps(self, point: Sequence[float], slack_voxels: float = 0.5) -> bool:
        """True when an LPS point lies inside the volume (voxel boxes included)."""
        kji = self.lps_to_array(np.asarray(point, dtype=float))
        n = np.asarray(self.array.shape)
        return bool(np.all(kji >= -slack_voxels) and np.all(kji <= n - 1 + slack_voxels))

    def extent_lps(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned LPS bounds (min, max) of the voxel centres (mm)."""
        n = np.asarray(self.array.shape) - 1
        corners = np.array([[a, b, c] for a in (0, n[0]) for b in (0, n[1]) for c in (0, n[2])], float)
        p = self.array_to_lps(corners)
        return p.min(axis=0), p.max(axis=0)

    def to_sitk(self):
        """A SimpleITK image with the same pixels and geometry."""
        import SimpleITK as sitk

        img = sitk.GetImageFromArray(self.array)
        img.SetSpacing(self.spacing)
        img.SetOrigin(self.origin)
        img.SetDirection(tuple(self.direction.reshape(-1).tolist()))
        return img


# --------------------------------------------------------------------------- reading

def volume_suffix(path: str | PathLike) -> str:
    """Lower-case suffix that picks the reader (``.nii.gz`` counts as one)."""
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return Path(name).suffix


def is_volume_path(path: str | PathLike) -> bool:
    """True for a folder (DICOM series) or a file with a volume suffix."""
    p = Path(path)
    return p.is_dir() or volume_suffix(p) in VOLUME_SUFFIXES


def read_volume(path: str | PathLike, *, spacing: Sequence[float] | None = None) -> Volume:
    """Read a 3D volume with its geometry (LPS mm).

    Parameters
    ----------
    path : path-like
        ``.nii``/``.nii.gz``, ``.nrrd``/``.nhdr``, ``.mha``/``.mhd``, a folder
        holding one DICOM series, or ``.npy`` (then ``spacing`` is required,
        origin 0 and identity direction, axes ``array[k, j, i]``).
    spacing : 3 floats, optional
        Voxel size (mm) along i, j, k for ``.npy``; for other formats it
        replaces the file's spacing (origin and direction kept).

    Raises
    ------
    InputError
        A missing, unreadable, truncated, 2D, multi-component or non-numeric
        volume, or a ``.npy`` without spacing: one line naming the file.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", source=p)
    sp = None if spacing is None else _check_spacing(spacing, p)
    suffix = volume_suffix(p)
    if p.is_dir():
        vol = _read_dicom_series(p)
    elif suffix == ".npy":
        vol = _read_npy(p, sp)
    elif suffix in VOLUME_SUFFIXES:
        vol = _read_sitk(p)
    else:
        raise InputError(f"unknown volume format {suffix or '(no suffix)'!r}; use a folder (DICOM) or one of "
                         f"{', '.join(VOLUME_SUFFIXES)}", source=p)
    if sp is not None:
        vol.spacing = sp
    _check_volume(vol, p)
    return vol


def _check_spacing(spacing: Sequence[float], source: Path) -> tuple[float, float, float]:
    try:
        vals = [float(s) for s in spacing]
    except (TypeError, ValueError):
        raise InputError(f"spacing must be 3 numbers (mm), got {spacing!r}", source=source, key="spacing") from None
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) != 3 or not all(math.isfinite(v) and v > 0 for v in vals):
        raise InputError(f"spacing must be 3 numbers > 0 (mm), got {spacing!r}", source=source, key="spacing")
    return (vals[0], vals[1], vals[2])


def _one_line(exc: Exception) -> str:
    """The useful part of a SimpleITK/ITK exception, on one line."""
    text = " ".join(str(exc).split())
    for marker in ("Description:", "description:"):
        if marker in text:
            text = text.split(marker, 1)[1].strip()
    return text[:200]


def _read_sitk(p: Path) -> Volume:
    import SimpleITK as sitk

    if not p.is_file():
        raise InputError("not a file", source=p)
    try:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(p))
        img = reader.Execute()
    except RuntimeError as exc:
        raise InputError(f"cannot read the volume (truncated or not a {volume_suffix(p)} file?): "
                         f"{_one_line(exc)}", source=p) from None
    return _from_sitk(img, p)


def _read_dicom_series(folder: Path) -> Volume:
    import SimpleITK as sitk

    try:
        ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    except RuntimeError as exc:
        raise InputError(f"cannot scan the folder for DICOM: {_one_line(exc)}", source=folder) from None
    if not ids:
        raise InputError("the folder holds no DICOM series", source=folder)
    if len(ids) > 1:
        raise InputError(f"the folder holds {len(ids)} DICOM series; put the segmentation's series in a "
                         "folder of its own", source=folder)
    try:
        files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), ids[0])
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(files)
        # pixels and geometry only: no header dictionary is loaded or kept (no patient identifiers)
        reader.MetaDataDictionaryArrayUpdateOff()
        reader.LoadPrivateTagsOff()
        img = reader.Execute()
    except RuntimeError as exc:
        raise InputError(f"cannot read the DICOM series: {_one_line(exc)}", source=folder) from None
    return _from_sitk(img, folder)


def _from_sitk(img, p: Path) -> Volume:
    if img.GetDimension() != 3:
        raise InputError(f"a {img.GetDimension()}D image, expected a 3D volume", source=p)
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{img.GetNumberOfComponentsPerPixel()} components per voxel, expected a scalar "
                         "mask or label volume", source=p)
    arr = _pixels(img)
    return Volume(arr, spacing=img.GetSpacing(), origin=img.GetOrigin(),
                  direction=np.asarray(img.GetDirection(), dtype=float).reshape(3, 3))


def _pixels(img) -> np.ndarray:
    """The image's pixels as a writable numpy array (SimpleITK order), without copying them.

    SimpleITK's array view is only valid while its image lives: the view's
    buffer is wrapped in a ctypes array that holds the image, so the image
    lives as long as any array made from it (numpy keeps the buffer as the
    array's base). A copy (``GetArrayFromImage``) costs a second volume of
    memory and, here, more time than the decompression itself.
    """
    import ctypes

    import SimpleITK as sitk

    view = sitk.GetArrayViewFromImage(img)           # also makes the image's buffer its own (MakeUnique)
    if view.size == 0:
        return np.array(view)
    buf = (ctypes.c_char * view.nbytes).from_address(view.ctypes.data)
    buf.owner = img
    return np.frombuffer(buf, dtype=view.dtype).reshape(view.shape)


def _read_npy(p: Path, spacing: tuple[float, float, float] | None) -> Volume:
    if spacing is None:
        raise InputError("a .npy array carries no voxel size: give --spacing SX,SY,SZ (mm)", source=p,
                         key="spacing")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"cannot read the .npy array: {' '.join(str(exc).split())[:200]}", source=p) from None
    if not isinstance(arr, np.ndarray):
        raise InputError("expected one array in the .npy file", source=p)
    return Volume(arr, spacing=spacing)


def _check_volume(vol: Volume, p: Path) -> None:
    a = vol.array
    if a.ndim != 3:
        raise InputError(f"a {a.ndim}D array, expected a 3D volume", source=p)
    if min(a.shape) < 2:
        raise InputError(f"size {vol.shape_ijk} has a single slice: a 2D image, expected a 3D volume", source=p)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or np.issubdtype(a.dtype, np.complexfloating):
        raise InputError(f"voxel type {a.dtype} is not a mask or label type", source=p)
    if not np.all(np.isfinite(vol.spacing)) or min(vol.spacing) <= 0:
        raise InputError(f"bad voxel spacing {vol.spacing}", source=p)
    d = vol.direction
    if not np.allclose(d.T @ d, np.eye(3), atol=1e-4):
        raise InputError("the direction cosines are not orthonormal", source=p)


# --------------------------------------------------------------------------- masks and labels

def mask_labels(vol: Volume, label: int | None = None, *, source: str | PathLike | None = None) -> np.ndarray:
    """The segmentation as an integer array (0 = background), SimpleITK order.

    With ``label`` given: a 0/1 ``uint8`` array of the voxels equal to it
    (an :class:`InputError` lists the labels present if it is absent). Without:
    a binary mask gives 0/1; a label volume keeps its labels (``uint8`` up to
    255 labels, else ``uint32``) so each label becomes its own duct system.
    A floating-point volume with values other than whole numbers (a
    probability map) is thresholded at 0.5.

    Raises
    ------
    InputError
        Empty mask, full mask, absent label.
    """
    a = vol.array
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise InputError("the volume holds NaN or infinite values", source=source)
        if np.any(a != np.round(a)):
            a = (a > 0.5).astype(np.uint8)
    if label is not None:
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            raise InputError(f"label must be an integer, got {label!r}", source=source, key="label")
        out = (a == label).view(np.uint8) if a.dtype != np.bool_ else (a == bool(label)).view(np.uint8)
        if not out.any():
            present = _labels_present(a)
            raise InputError(f"label {label} does not exist in the volume; labels present: {present}",
                             source=source, key="label")
    else:
        if a.dtype == np.bool_:
            out = a.view(np.uint8)
        elif a.dtype == np.uint8 and a.size and a.max() <= 1:
            out = a                     # already a 0/1 mask: no copy, no pass beyond the max
        else:
            nz = a != 0
            if not nz.any():
                out = nz.view(np.uint8)
            else:
                lo, hi = a[nz].min(), a[nz].max()
                if lo == hi:
                    out = nz.view(np.uint8)
                else:
                    if lo < 0:
                        raise InputError("negative label values: give --label N", source=source, key="label")
                    uniq = np.unique(a[nz])
                    lut_dtype = np.uint8 if len(uniq) < 256 else np.uint32
                    out = np.zeros(a.shape, dtype=lut_dtype)
                    out[nz] = (np.searchsorted(uniq, a[nz]) + 1).astype(lut_dtype)
    n_fg = int(np.count_nonzero(out))
    if n_fg == 0:
        raise InputError("the mask is empty (no foreground voxels)", source=source)
    if n_fg == out.size:
        raise InputError("the mask is full (every voxel is foreground): not a duct segmentation", source=source)
    return out


def label_values(vol: Volume) -> list:
    """The non-zero values present in a volume (label ids)."""
    return _labels_present(vol.array, limit=10**9)


def _labels_present(a: np.ndarray, limit: int = 12) -> list | str:
    vals = np.unique(a[a != 0]) if a.size else np.zeros(0)
    vals = [v.item() for v in vals]
    if len(vals) > limit:
        return f"{vals[:limit]} and {len(vals) - limit} more"
    return vals if vals else "none (the volume is empty)"


# --------------------------------------------------------------------------- nipple

def nipple_from_voxel(vol: Volume, ijk: Sequence[int], *, source: str | PathLike | None = None) -> np.ndarray:
    """LPS mm of a voxel index (i, j, k); an index outside the volume is an :class:`InputError`."""
    try:
        idx = [int(v) for v in ijk]
    except (TypeError, ValueError):
        raise InputError(f"nipple voxel must be 3 integers I,J,K, got {ijk!r}", source=source,
                         key="nipple_voxel") from None
    if len(idx) != 3:
        raise InputError(f"nipple voxel must be 3 integers I,J,K, got {ijk!r}", source=source, key="nipple_voxel")
    size = vol.shape_ijk
    if not all(0 <= i < n for i, n in zip(idx, size)):
        raise InputError(f"nipple voxel {tuple(idx)} lies outside the volume (size {size})", source=source,
                         key="nipple_voxel")
    return vol.index_to_lps(idx)


def check_nipple_lps(vol: Volume, point: Sequence[float], *, source: str | PathLike | None = None) -> np.ndarray:
    """Validate an LPS nipple point (mm): 3 finite numbers inside the volume."""
    p = np.asarray(point, dtype=float).reshape(-1)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise InputError(f"nipple must be 3 numbers X,Y,Z (LPS mm), got {point!r}", source=source, key="nipple")
    if not vol.contains_lps(p):
        lo, hi = vol.extent_lps()
        raise InputError(f"nipple {tuple(round(float(v), 2) for v in p)} (LPS mm) lies outside the volume "
                         f"(LPS {tuple(round(float(v), 1) for v in lo)} to {tuple(round(float(v), 1) for v in hi)})",
                         source=source, key="nipple")
    return p


# --------------------------------------------------------------------------- writing

def write_volume(vol: Volume, path: str | PathLike) -> Path:
    """Write a volume atomically (any SimpleITK format by suffix, or ``.npy`` without geometry)."""
    from ..atomic import atomic_path

    p = Path(path)
    suffix = volume_suffix(p)
    if suffix not in VOLUME_SUFFIXES:
        raise InputError(f"unknown volume format {suffix or '(no suffix)'!r}; use one of "
                         f"{', '.join(VOLUME_SUFFIXES)}", source=p)
    with atomic_path(p) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, vol.array, allow_pickle=False)
        else:
            import SimpleITK as sitk

            sitk.WriteImage(vol.to_sitk(), str(tmp), useCompression=suffix in (".nii.gz", ".nrrd", ".mha"))
    return p
