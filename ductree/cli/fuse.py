"""``ductree fuse`` (a scope log onto a tree) and ``ductree navlog-summary`` (what a session did)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from .app import app


def _check_log_path(path: Path) -> None:
    if not path.is_file():
        raise InputError("no such file", source=path)


@app.command()
def fuse(
    tree_file: Path = typer.Argument(..., metavar="TREE", help="Tree of the same breast: .json, .swc, .graphml or .vtp."),
    log_file: Path = typer.Argument(..., metavar="LOG", help="Scope navigation log: .jsonl or .csv (ductree-navlog v1)."),
    out: Path = typer.Option(..., "--out", "-o", help="Fused tree to write (format by suffix; its folder must exist)."),
    system: Optional[int] = typer.Option(None, "--system", help="Force this duct system instead of choosing by the orifice clock."),
    min_confidence: float = typer.Option(0.6, "--min-confidence",
                                         help="Findings placed with less confidence are marked ambiguous, not placed."),
    as_json: bool = typer.Option(False, "--json", help="Print the fusion report as JSON."),
) -> None:
    """Place a ductoscopy log on a tree: pick the duct system, match the path, put the findings on the ducts."""
    import warnings

    from ..atomic import check_output_path, protect_input
    from ..errors import DuctreeWarning
    from ..frame import format_clock
    from ..io import TREE_FORMATS, read_tree, tree_suffix, write_tree
    from ..io.navlog import read_navlog
    from ..reconstruct.fuse import fuse as run_fuse
    from .common import warn

    if tree_suffix(out) not in TREE_FORMATS:
        raise InputError(f"unknown tree format {tree_suffix(out) or '(no suffix)'!r} for the output; known: "
                         f"{', '.join(sorted(TREE_FORMATS))}", source=out)
    if not 0.0 <= min_confidence <= 1.0:
        raise InputError(f"must be between 0 and 1, got {min_confidence:g}", key="--min-confidence")
    _check_log_path(log_file)
    for p in (tree_file, log_file):
        if p.exists() and out.exists() and out.samefile(p):
            raise InputError("--out is an input file; refusing to overwrite an input", source=out)
    check_output_path(out)
    protect_input(tree_file)
    protect_input(log_file)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DuctreeWarning)
        tree = read_tree(tree_file)
        log = read_navlog(log_file)
        res = run_fuse(tree, log, system=system, min_confidence=min_confidence)
        write_tree(res.tree, out)
    for w in caught:
        if issubclass(w.category, DuctreeWarning):
            warn(str(w.message))
    if res.fit.get("good") is False:
        warn(f"{log_file.name}: {res.fit['reason']}")
    for f in res.findings:
        if f.ambiguous:
            warn(f"finding {f.label!r} is ambiguous (confidence {f.confidence:.2f} < {min_confidence:g}): not placed")
    if as_json:
        from .common import print_json

        print_json(res.as_dict())
        return
    typer.echo(f"wrote {out}: log {log_file.name} on duct system {res.system} "
               f"(orifice {format_clock(log.orifice_clock)}), main path confidence {res.confidence:.2f}"
               + (" AMBIGUOUS" if res.ambiguous else ""))
    fit = res.fit
    if fit.get("good") is not None:
        typer.echo(f"  fit: {fit['matched']} of {fit['bifurcations']} log bifurcations matched, log-likelihood "
                   f"{fit['llr_per_bifurcation']:.1f} per bifurcation ({'good' if fit['good'] else 'POOR'}), "
                   f"depth scale {fit['depth_scale']:g}")
    if res.runner_up is not None:
        ru = res.runner_up
        typer.echo(f"  runner-up: system {ru.system} branch {ru.branch} at {ru.path_mm:.1f} mm "
                   f"(probability {ru.probability:.2f})")
    for f in res.findings:
        if f.placed and f.best is not None:
            b = f.best
            typer.echo(f"  {f.label}: {f.kind} {f.size_mm:g} mm ({f.status}) -> node {b.node}, {b.path_mm:.1f} mm "
                       f"along the duct, point ({b.point_bf[0]:.1f}, {b.point_bf[1]:.1f}, {b.point_bf[2]:.1f}) mm BF, "
                       f"confidence {f.confidence:.2f}")
        else:
            alts = ", ".join(f"branch {c.branch} at {c.path_mm:.1f} mm (p {c.probability:.2f})" for c in f.candidates)
            typer.echo(f"  {f.label}: {f.kind} {f.size_mm:g} mm ({f.status}) -> NOT PLACED, ambiguous "
                       f"(confidence {f.confidence:.2f}); candidates: {alts or 'none'}")
    if not res.findings:
        typer.echo("  no findings in the log")


def format_session(s: dict) -> str:
    """Text lines for a :func:`ductree.io.navlog.session_summary` dict."""
    m, sec = divmod(int(round(s["duration_s"])), 60)
    lines = [
        f"laterality        {s['laterality']}, orifice at {s['orifice_clock']}"
        + (f", case {s['case_id']}" if s.get("case_id") else ""),
        f"duration          {m} min {sec:02d} s ({s['samples']} samples)"
        + ("  LONG: over 45 min" if s["long_session"] else ""),
        f"deepest point     {s['deepest_mm']:.1f} mm along the duct (at {s['deepest_t_s']:.0f} s)",
        f"bifurcations      {s['bifurcations']}: {s['lumens_seen']} lumens seen, {s['branches_entered']} entered, "
        f"{s['lumens_unexplored']} left unexplored",
        f"tracker           {100 * s['tracker']:.0f}% of samples carry a tip position",
    ]
    for tip in s["tips"]:
        lines.append(f"  tip of branch {tip['branch']}: {tip['depth_mm']:.1f} mm, end: {tip['end_reason'] or '-'}")
    if s["findings"]:
        lines.append("findings")
        for f in s["findings"]:
            extra = ""
            if f["retrieval"]:
                extra += f", retrieved ({'/'.join(f['retrieval'])})"
            if f["verify"]:
                extra += f", verified {f['verify'][-1]}"
            lines.append(f"  {f['label']}: {f['kind']} {f['size_mm']:g} mm at {f['depth_mm']:.1f} mm"
                         + (f", wall {f['clock']}" if f["clock"] else "") + f" -> {f['status']}{extra}")
    else:
        lines.append("findings          none")
    for w in s["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


@app.command("navlog-summary")
def navlog_summary(
    log_file: Path = typer.Argument(..., metavar="LOG", help="Scope navigation log: .jsonl or .csv (ductree-navlog v1)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Summarise a ductoscopy session: duration, deepest point, branches entered and seen, findings."""
    import warnings

    from ..errors import DuctreeWarning
    from ..io.navlog import read_navlog, session_summary

    _check_log_path(log_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuctreeWarning)  # the summary lists them itself
        log = read_navlog(log_file)
    s = session_summary(log)
    if as_json:
        from .common import print_json

        print_json(s)
    else:
        typer.echo(format_session(s))
