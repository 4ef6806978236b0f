"""``ductree build``: rebuild the tree from a source and save it (any tree format by suffix).

The source picks the builder:

- a volume (``.nii``, ``.nii.gz``, ``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd``,
  ``.npy`` or a DICOM folder) -> :mod:`ductree.reconstruct.volume`;
- ``--cc`` / ``--lateral`` ductograms -> :mod:`ductree.reconstruct.biplane`;
- a scope log (``.jsonl``, ``.csv``) -> :mod:`ductree.reconstruct.scope`.

A builder that this version does not have is a clean error (exit 2).
Warnings (dust dropped, mask at the border, nipple estimated, loops kept)
are printed as ``ductree: warning: ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from .app import app

NAVLOG_SUFFIXES = (".jsonl", ".csv")


def _numbers(text: str, n: int, key: str, kind=float) -> list:
    parts = [p for p in text.replace(";", ",").split(",") if p.strip() != ""]
    try:
        vals = [kind(p.strip()) for p in parts]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise InputError(f"expected {n} {what} separated by commas, got {text!r}", key=key) from None
    if len(vals) != n:
        raise InputError(f"expected {n} values separated by commas, got {text!r}", key=key)
    return vals


def _spacing(text: str) -> list[float]:
    parts = [p for p in text.split(",") if p.strip()]
    vals = _numbers(text, 1 if len(parts) == 1 else 3, "--spacing")
    if len(vals) == 1:
        vals = vals * 3
    if not all(v > 0 for v in vals):
        raise InputError(f"voxel sizes must be > 0 mm, got {text!r}", key="--spacing")
    return vals


@app.command()
def build(
    source: Optional[Path] = typer.Argument(
        None, help="A segmentation volume (.nii/.nii.gz/.nrrd/.mha/.mhd/.npy or a DICOM folder) or a scope log "
                   "(.jsonl/.csv)."),
    out: Path = typer.Option(..., "--out", "-o", help="Tree file to write: .json, .swc, .graphml or .vtp."),
    laterality: Optional[str] = typer.Option(
        None, "--laterality", "-l", help="Breast side: L or R (required for a volume; default for DICOM ductograms "
                                         "their Image Laterality, for a scope log its header's)."),
    nipple: Optional[str] = typer.Option(None, "--nipple", help="Nipple position X,Y,Z in patient LPS mm."),
    nipple_voxel: Optional[str] = typer.Option(None, "--nipple-voxel", help="Nipple as a voxel index I,J,K."),
    label: Optional[int] = typer.Option(None, "--label", help="Use only this label value of a label volume."),
    spacing: Optional[str] = typer.Option(None, "--spacing",
                                          help="Voxel size SX,SY,SZ in mm (required for .npy; overrides others); "
                                               "for ductograms the pixel size as stored (one number)."),
    cc: Optional[Path] = typer.Option(None, "--cc", help="CC ductogram mask (biplane source)."),
    lateral: Optional[Path] = typer.Option(None, "--lateral", help="Lateral ductogram mask (biplane source)."),
    magnification: Optional[float] = typer.Option(
        None, "--magnification", help="Ductograms: radiographic magnification (default: the DICOM header's, else 1)."),
    cc_orientation: Optional[str] = typer.Option(
        None, "--cc-orientation", help="Ductograms: Patient Orientation of the CC image, e.g. 'P,L'."),
    lateral_orientation: Optional[str] = typer.Option(
        None, "--lateral-orientation", help="Ductograms: Patient Orientation of the lateral image, e.g. 'P,F'."),
    cc_nipple: Optional[str] = typer.Option(None, "--cc-nipple", help="Ductograms: nipple pixel ROW,COL in the CC."),
    lateral_nipple: Optional[str] = typer.Option(
        None, "--lateral-nipple", help="Ductograms: nipple pixel ROW,COL in the lateral."),
) -> None:
    """Rebuild the ductal tree from a volume, a ductogram pair or a scope log; save it and print a summary."""
    import time
    import warnings

    from ..atomic import check_output_path, protect_input
    from ..errors import DuctreeWarning
    from ..frame import parse_laterality
    from .common import warn

    lat = parse_laterality(laterality, key="--laterality") if laterality is not None else None
    if nipple is not None and nipple_voxel is not None:
        raise InputError("give --nipple or --nipple-voxel, not both", key="--nipple")
    nip = _numbers(nipple, 3, "--nipple") if nipple is not None else None
    nvox = _numbers(nipple_voxel, 3, "--nipple-voxel", int) if nipple_voxel is not None else None
    sp = _spacing(spacing) if spacing is not None else None
    if (cc is not None or lateral is not None) and source is not None:
        raise InputError("give either a source file or --cc/--lateral, not both", key="source")
    if source is None and cc is None and lateral is None:
        raise InputError("nothing to build from: give a volume or scope log, or --cc and --lateral", key="source")
    from ..io import tree_suffix, TREE_FORMATS

    if tree_suffix(out) not in TREE_FORMATS:
        raise InputError(f"unknown tree format {tree_suffix(out) or '(no suffix)'!r}; use one of "
                         f"{', '.join(sorted(TREE_FORMATS))}", source=out, key="--out")
    for p in (source, cc, lateral):
        if p is not None:
            if not p.exists():
                raise InputError("no such file or folder", source=p)
            protect_input(p)
    check_output_path(out)

    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DuctreeWarning)
        if cc is not None or lateral is not None:
            tree = _build_biplane(cc, lateral, lat, sp, magnification, cc_orientation, lateral_orientation,
                                  cc_nipple, lateral_nipple)
            kind = "ductograms"
        elif source.suffix.lower() in NAVLOG_SUFFIXES and not source.is_dir():
            tree = _build_navlog(source, lat)
            kind = "scope log"
        else:
            from ..io.volumes import is_volume_path

            if not is_volume_path(source):
                raise InputError(f"cannot tell what {source.name!r} is: expected a volume "
                                 "(.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd, .npy, a DICOM folder) "
                                 "or a scope log (.jsonl, .csv)", source=source)
            if lat is None:                  # ductograms and scope logs may say; a volume does not
                raise InputError("the breast side is required for a volume: give --laterality L or R",
                                 key="--laterality")
            from ..reconstruct.volume import tree_from_volume

            tree = tree_from_volume(source, laterality=lat, label=label, nipple_lps=nip, nipple_voxel=nvox,
                                    spacing=sp)
            kind = "volume"
    from ..io import write_tree
    from ..measures import summary

    write_tree(tree, out)
    dt = time.perf_counter() - t0
    for w in caught:
        if issubclass(w.category, DuctreeWarning):
            warn(str(w.message))
    s = summary(tree)
    typer.echo(f"built {out} from the {kind} in {dt:.2f} s: {s['systems']} duct system(s), {s['branches']} "
               f"branches, {s['tips']} tips, {s['bifurcations']} bifurcations, {s['anastomoses']} anastomoses, "
               f"{s['nodes']} nodes")
    nip_lps = tree.graph.get("nipple_lps")
    if nip_lps is not None:
        how = tree.graph.get("nipple_from", "")
        typer.echo(f"nipple at LPS ({nip_lps[0]:.2f}, {nip_lps[1]:.2f}, {nip_lps[2]:.2f}) mm ({how}); "
                   "tree coordinates are in the breast frame (BF) relative to it")
    typer.echo(f"total length {s['total_length_mm']:.1f} mm, depth {s['depth_min_mm']:.1f} to "
               f"{s['depth_max_mm']:.1f} mm, radius {s['radius_min_mm']:.3f} to {s['radius_max_mm']:.3f} mm")
    if kind == "ductograms":
        from ..reconstruct.biplane import report_lines

        for line in report_lines(tree):
            typer.echo(line)


def _build_biplane(cc: Optional[Path], lateral: Optional[Path], lat: str, spacing: Optional[list] = None,
                   magnification: Optional[float] = None, cc_orientation: Optional[str] = None,
                   lateral_orientation: Optional[str] = None, cc_nipple: Optional[str] = None,
                   lateral_nipple: Optional[str] = None):
    import importlib

    try:
        biplane = importlib.import_module("ductree.reconstruct.biplane")
    except ModuleNotFoundError as exc:
        if exc.name != "ductree.reconstruct.biplane":
            raise
        raise InputError("building from ductograms (--cc/--lateral) is not supported yet by this version",
                         key="--cc") from None
    if spacing is not None and len(set(spacing)) != 1:
        raise InputError("a ductogram pixel spacing is one number in mm", key="--spacing")
    if magnification is not None and not magnification > 0:
        raise InputError(f"must be > 0, got {magnification:g}", key="--magnification")
    nip_cc = _numbers(cc_nipple, 2, "--cc-nipple") if cc_nipple is not None else None
    nip_lat = _numbers(lateral_nipple, 2, "--lateral-nipple") if lateral_nipple is not None else None
    return biplane.tree_from_files(cc, lateral, laterality=lat, spacing_mm=None if spacing is None else spacing[0],
                                   magnification=magnification, orientation_cc=cc_orientation,
                                   orientation_lateral=lateral_orientation, nipple_cc=nip_cc, nipple_lateral=nip_lat)


def _build_navlog(path: Path, lat: str):
    import importlib

    try:
        scope = importlib.import_module("ductree.reconstruct.scope")
    except ModuleNotFoundError as exc:
        if exc.name != "ductree.reconstruct.scope":
            raise
        raise InputError("building from a scope log is not supported yet by this version", source=path) from None
    return scope.tree_from_navlog_file(path, laterality=lat)
