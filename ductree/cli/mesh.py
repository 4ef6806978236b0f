"""``ductree mesh``: a watertight 3D model of a tree, for printing and viewing."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .app import app


def _floats(text: str, n: int, key: str) -> list[float]:
    from ..errors import InputError

    parts = [p for p in text.replace(" ", "").split(",") if p != ""]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"expected {n} comma-separated numbers, got {text!r}", key=key) from None
    if len(vals) != n:
        raise InputError(f"expected {n} comma-separated numbers, got {text!r}", key=key)
    return vals


def _systems(text: str) -> list[int]:
    from ..errors import InputError

    try:
        return [int(p) for p in text.replace(" ", "").split(",") if p != ""]
    except ValueError:
        raise InputError(f"expected system ids like 0,2, got {text!r}", key="--systems") from None


_OPTION_OF = {"quality": "--quality", "tolerance_mm": "--tolerance", "max_triangles": "--max-triangles",
              "min_radius_mm": "--min-radius", "hollow_mm": "--hollow", "systems": "--systems", "end": "--ends",
              "lesions": "--lesion", "scale": "--scale", "space": "--space", "nipple_lps": "--nipple-lps"}


def _as_option(exc):
    """The same InputError, its key renamed to the command-line option the user typed."""
    from ..errors import InputError

    return InputError(exc.message, source=exc.source, line=exc.line, key=_OPTION_OF.get(exc.key or "", exc.key))


def _lesion(text: str) -> tuple[str, list[float], float]:
    from ..errors import InputError

    parts = text.split(",")
    if len(parts) != 5:
        raise InputError(f"expected LABEL,X,Y,Z,SIZE (BF mm), got {text!r}", key="--lesion")
    vals = _floats(",".join(parts[1:]), 4, "--lesion")
    return parts[0].strip(), vals[:3], vals[3]


@app.command()
def mesh(
    tree_file: Path = typer.Argument(..., help="A tree file: .json, .swc, .graphml or .vtp."),
    out: Path = typer.Option(..., "--out", "-o", help="Model file: .stl, .3mf, .glb, .ply, .obj or .vtp."),
    quality: str = typer.Option("print", "--quality", "-q",
                                help="print: within max(5% of the radius, 0.02 mm) of the ideal surface; "
                                     "draft: max(15%, 0.05 mm), for viewers."),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="Uniform tolerance, mm (instead of the quality's)."),
    max_triangles: Optional[int] = typer.Option(None, "--max-triangles", help="Triangle budget for the duct bodies."),
    min_radius: Optional[float] = typer.Option(None, "--min-radius", help="Thicken ducts thinner than this radius, mm."),
    scale: float = typer.Option(1.0, "--scale", help="Scale about the nipple, e.g. 2 for a 2:1 print."),
    hollow: Optional[float] = typer.Option(None, "--hollow", help="Wall thickness, mm: a shell whose lumen is the duct."),
    systems: Optional[str] = typer.Option(None, "--systems", help="Only these duct systems, e.g. 0,2."),
    ends: str = typer.Option("round", "--ends", help="Free ends: round or flat."),
    base_plate: bool = typer.Option(False, "--base-plate", help="Join the systems with a plate on the nipple face (one piece)."),
    context: bool = typer.Option(False, "--context", help="Add the nipple-areola skin as a context body."),
    lesion: Optional[List[str]] = typer.Option(None, "--lesion", help="A lesion body LABEL,X,Y,Z,SIZE (BF mm; repeatable)."),
    space: str = typer.Option("BF", "--space", help="Coordinates written: BF or LPS (3D Slicer)."),
    nipple_lps: Optional[str] = typer.Option(None, "--nipple-lps", help="Nipple tip in patient LPS, X,Y,Z mm (for --space LPS)."),
    laterality: Optional[str] = typer.Option(None, "--laterality", "-l", help="L or R, when the file does not say."),
    verify: bool = typer.Option(False, "--verify", help="Also measure the deviation from the ideal surface (slower)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Build a closed, manifold 3D model of the ducts (one body per system) and write it.

    Every body is checked (closed, manifold, outward) before the file is
    written; the file is read back and checked again.
    """
    from ..atomic import check_output_path
    from ..errors import InputError
    from ..io import read_tree
    from ..mesh import check_watertight, export_model, read_model, tree_to_mesh
    from ..mesh.export import model_format, placement
    from .common import warn

    # Everything the user can get wrong is checked before any work.
    fmt = model_format(out)
    check_output_path(out)
    nip = _floats(nipple_lps, 3, "--nipple-lps") if nipple_lps is not None else None
    if ends not in ("round", "flat"):
        raise InputError(f"must be round or flat, got {ends!r}", key="--ends")
    if space.upper() == "BF" and nip is not None:
        raise InputError("--nipple-lps is only used with --space LPS", key="--nipple-lps")
    tree = read_tree(tree_file, laterality=laterality)
    if space.upper() == "LPS" and nip is None and tree.graph.get("nipple_lps") is not None:
        nip = list(tree.graph["nipple_lps"])
    lesions = [_lesion(t) for t in (lesion or [])]
    try:
        pl = placement(space, nipple_lps=nip, scale=scale)
        model = tree_to_mesh(tree, quality=quality, tolerance_mm=tolerance, max_triangles=max_triangles,
                             min_radius_mm=min_radius, end=ends, systems=_systems(systems) if systems else None,
                             hollow_mm=hollow, lesions=lesions, base_plate=base_plate, context=context)
    except InputError as exc:
        raise _as_option(exc) from None
    checks = [check_watertight(b.mesh, expect_bodies=1) for b in model]
    if any(not c.ok for c in checks):
        bad = [f"{b.name}: {'; '.join(c.problems)}" for b, c in zip(model, checks) if not c.ok]
        raise RuntimeError("model failed its own check: " + " | ".join(bad))
    export_model(model, out, space=pl.space, nipple_lps=None if pl.space == "BF" else pl.offset, scale=pl.scale)
    back = read_model(out)
    back_checks = [check_watertight(b.mesh, expect_bodies=1) for b in back]
    reread_ok = len(back) == len(model) and all(c.ok for c in back_checks)
    fid = None
    if verify:
        from ..mesh.quality import fidelity, round_cones_of_tree
        from ..mesh.model import resolve_tolerance

        tol = resolve_tolerance(quality, tolerance)
        fid = []
        for b in model.by_kind("system"):
            cones = round_cones_of_tree(tree, systems=[b.meta["system"]], min_radius_mm=min_radius)
            fid.append((b.name, fidelity(b.mesh, cones, tolerance=tol, n_random=50_000)))
    for w in model.warnings:
        warn(w)
    if as_json:
        from .common import print_json

        print_json({
            "out": str(out), "format": fmt.name, "space": pl.space, "scale": pl.scale,
            "bodies": [{"name": b.name, "kind": b.kind, "triangles": b.triangles, "genus": c.genus[0] if c.genus else None,
                        "watertight": c.watertight, "volume_mm3": round(c.volume_mm3, 3)} for b, c in zip(model, checks)],
            "triangles": model.triangles, "read_back_ok": reread_ok, "warnings": model.warnings,
            "seconds": model.info["seconds"]["total"],
            "fidelity": None if fid is None else {n: f.as_dict() for n, f in fid},
        })
    else:
        lines = [f"wrote {out}  ({fmt.name}, {pl.space}, scale {pl.scale:g})",
                 f"{'body':<16} {'kind':<8} {'triangles':>9} {'genus':>5}  watertight"]
        for b, c in zip(model, checks):
            lines.append(f"{b.name:<16} {b.kind:<8} {b.triangles:>9} {c.genus[0] if c.genus else '-':>5}  "
                         f"{'yes' if c.watertight else 'NO'}")
        lines.append(f"{len(model)} bodies, {model.triangles} triangles, "
                     f"{'all closed and manifold' if all(c.watertight for c in checks) else 'NOT all closed'}; "
                     f"read back: {'same bodies, closed and manifold' if reread_ok else 'FAILED'}; "
                     f"{model.info['seconds']['total']:.1f} s")
        if fid is not None:
            for name, f in fid:
                lines.append(f"{name}: max deviation {f.max_dev_mm:.4f} mm ({100 * f.max_ratio:.0f}% of the "
                             f"tolerance), ideal-to-mesh {f.max_gap_mm:.4f} mm ({100 * f.max_gap_ratio:.0f}%)")
        typer.echo("\n".join(lines))
    if not reread_ok:
        raise RuntimeError(f"{out} did not read back as {len(model)} closed bodies")
