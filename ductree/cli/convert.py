"""``ductree convert``: read a tree in one format, write it in another (formats by suffix)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from .app import app

_SUFFIX_NAMES = {".json": "tree.json", ".swc": "SWC", ".graphml": "GraphML", ".vtp": "VTP centerlines"}


@app.command()
def convert(
    in_file: Path = typer.Argument(..., metavar="IN", help="Tree to read: .json, .swc, .graphml or .vtp."),
    out_file: Path = typer.Argument(..., metavar="OUT", help="Tree to write: .json, .swc, .graphml or .vtp "
                                    "(its folder must exist; never the input)."),
    laterality: Optional[str] = typer.Option(None, "--laterality", "-l",
                                             help="L or R, when the input does not say (SWC from other tools, VTP)."),
) -> None:
    """Convert a tree between formats (tree.json, SWC, GraphML, VTP centerlines), chosen by suffix."""
    import warnings

    from ..atomic import check_output_path, protect_input
    from ..errors import DuctreeWarning
    from ..io import TREE_FORMATS, read_tree, tree_suffix, write_tree
    from ..measures import branches
    from .common import warn

    known = ", ".join(sorted(TREE_FORMATS))
    for path, role in ((in_file, "input"), (out_file, "output")):
        suffix = tree_suffix(path)
        if suffix not in TREE_FORMATS:
            raise InputError(f"unknown tree format {suffix or '(no suffix)'!r} for the {role}; known: {known}",
                             source=path)
    if not in_file.is_file():
        raise InputError("no such file", source=in_file)
    if out_file.resolve() == in_file.resolve() or (out_file.exists() and out_file.samefile(in_file)):
        raise InputError("OUT is the input file; refusing to overwrite an input", source=out_file)
    check_output_path(out_file)
    protect_input(in_file)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DuctreeWarning)
        tree = read_tree(in_file, laterality=laterality)
        write_tree(tree, out_file)
    for w in caught:
        if issubclass(w.category, DuctreeWarning):
            warn(str(w.message))
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    n_sys = len(tree.systems())
    n_br = len(branches(tree))
    # SWC drops the loops (with a warning above), so they are not among what was written.
    loops = 0 if tree_suffix(out_file) == ".swc" else len(tree.anastomoses())
    extra = f", {loops} anastomos{'is' if loops == 1 else 'es'}" if loops else ""
    typer.echo(f"wrote {out_file} ({_SUFFIX_NAMES[tree_suffix(out_file)]}): {n_sys} system{'s' * (n_sys != 1)}, "
               f"{tree.number_of_nodes()} nodes, {n_br} branch{'es' * (n_br != 1)}{extra}")
