"""The ``ductree`` command line: parse, call the API, print.

Exit codes (CONVENTIONS §6): 0 success, 2 bad input or usage (one clear line
on stderr, no traceback), 1 internal error (traceback only with ``--debug``).
``--debug`` may stand anywhere on the command line.
"""

from __future__ import annotations

import sys
from typing import Sequence

import typer

from ..errors import InputError
from .app import app, state

# Each module registers its commands on `app`; the order here is the order in --help.
from . import demo as _demo  # noqa: E402,F401
from . import info as _info  # noqa: E402,F401
from . import frame as _frame  # noqa: E402,F401

__all__ = ["app", "main"]


def _version_callback(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"ductree {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Rebuild the 3D ductal tree of the breast and plan a targeted excision."""


def _err(message: str) -> None:
    sys.stderr.write(f"ductree: error: {message}\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return (and, as a script, exit with) the exit code."""
    import click

    args = list(sys.argv[1:] if argv is None else argv)
    state["debug"] = "--debug" in args
    args = [a for a in args if a != "--debug"]
    if state["debug"]:
        args.insert(0, "--debug")
    code = 0
    try:
        result = app(args=args, prog_name="ductree", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except InputError as exc:
        if state["debug"]:
            import traceback

            traceback.print_exc()
        _err(str(exc))
        code = 2
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        _err("aborted")
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = 2 if isinstance(exc, click.UsageError) else exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        code = 130
    except Exception as exc:  # an internal error: say so, traceback only under --debug
        if state["debug"]:
            import traceback

            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (run again with --debug for a traceback)")
        code = 1
    if argv is None:
        sys.exit(code)
    return code
