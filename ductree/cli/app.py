"""The typer application object every command module registers on.

Command modules import only typer, rich and ``ductree.errors`` at import
time; everything heavy (numpy, networkx, VTK) is imported inside the command
function, so ``ductree --help`` answers at once.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ductree",
    help="Rebuild the 3D ductal tree of the breast and plan a targeted excision.\n\n"
    "Coordinates are in the breast frame (BF): millimetres, +x patient's left, "
    "+y posterior (nipple toward chest wall), +z superior, origin at the nipple tip. "
    "The clock is read facing the patient: 12 superior, 3 o'clock always the patient's left.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

state = {"debug": False}
