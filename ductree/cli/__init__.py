"""The ``ductree`` command line: parse, call the API, print.

Exit codes (CONVENTIONS §6): 0 success, 2 bad input or usage (one clear line
on stderr, no traceback), 1 internal error (traceback only with ``--debug``).
``--debug`` may stand anywhere on the command line.
"""

from __future__ import annotations

import re
import sys
from typing import Sequence

import typer

from ..errors import InputError
from .app import app, state

# Each module registers its commands on `app`; the order here is the order in --help.
from . import demo as _demo  # noqa: E402,F401
from . import info as _info  # noqa: E402,F401
from . import frame as _frame  # noqa: E402,F401
from . import convert as _convert  # noqa: E402,F401
from . import plan as _plan  # noqa: E402,F401
from . import phantom as _phantom  # noqa: E402,F401
from . import build as _build  # noqa: E402,F401
from . import fuse as _fuse  # noqa: E402,F401
from . import render as _render  # noqa: E402,F401
from . import batch as _batch  # noqa: E402,F401
from . import mesh as _mesh  # noqa: E402,F401
from . import view as _view  # noqa: E402,F401

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


def _show_warnings_as_lines():
    """Print each library warning (DuctreeWarning) once, as one ``ductree: warning:`` line.

    Python's own display adds a file name and a source line, which mean nothing to a user.
    """
    import warnings

    from ..errors import DuctreeWarning
    from .common import warn

    shown: set[str] = set()
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if isinstance(category, type) and issubclass(category, DuctreeWarning):
            text = str(message)
            if text not in shown:
                shown.add(text)
                warn(text)
            return
        if state["debug"]:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    return default


def _err(message: str) -> None:
    sys.stderr.write(f"ductree: error: {message}\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return (and, as a script, exit with) the exit code."""
    import warnings

    previous_show = _show_warnings_as_lines()
    try:
        return _run(argv)
    finally:
        warnings.showwarning = previous_show


def _run(argv: Sequence[str] | None) -> int:
    _tolerate_ascii_terminals()
    args = list(sys.argv[1:] if argv is None else argv)
    state["debug"] = "--debug" in args
    args = _protect_negative_numbers([a for a in args if a != "--debug"])
    if state["debug"]:
        args.insert(0, "--debug")
    code = 0
    from ..reconstruct import jit

    jit.on_compile = _note_compiling
    try:
        result = app(args=args, prog_name="ductree", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except InputError as exc:
        if state["debug"]:
            import traceback

            traceback.print_exc()
        _err(str(exc))
        code = 2
    except KeyboardInterrupt:
        _err("interrupted")
        code = 130
    except Exception as exc:  # click's own exceptions (typer vendors click), then internal errors
        kinds = {c.__name__ for c in type(exc).__mro__}
        if "Exit" in kinds:
            return _finish(getattr(exc, "exit_code", 0), argv)
        if "Abort" in kinds:
            _err("aborted")
            return _finish(130, argv)
        if "ClickException" in kinds:
            exc.show()  # type: ignore[attr-defined]
            return _finish(2 if "UsageError" in kinds else getattr(exc, "exit_code", 1), argv)
        if state["debug"]:
            import traceback

            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (run again with --debug for a traceback)")
        code = 1
    return _finish(code, argv)


def _note_compiling(name: str) -> None:
    """Say why the first ductogram rebuild on a machine takes longer (numba compiles its inner loops)."""
    sys.stderr.write("ductree: note: compiling the ductogram reconstruction's inner loops for this machine "
                     "(once, 5-10 s; later runs load them)\n")
    sys.stderr.flush()


def _tolerate_ascii_terminals() -> None:
    """Never fail on a terminal that cannot show "±" or "—": replace what it cannot encode."""
    for stream in (sys.stdout, sys.stderr):
        enc = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if enc not in ("utf8", "utf16", "utf32") and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def _finish(code: int, argv: Sequence[str] | None) -> int:
    if argv is None:
        sys.exit(code)
    return code


_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _protect_negative_numbers(args: list[str]) -> list[str]:
    """Let ``ductree where -20 15 0 -l R`` work: click would read ``-20`` as an option.

    Only for commands whose positional arguments are numbers; options keep
    their values, positionals move behind ``--``.
    """
    if not args or args[0] not in _NUMERIC_POSITIONAL_COMMANDS or "--" in args:
        return args
    takes_value = _NUMERIC_POSITIONAL_COMMANDS[args[0]]
    options: list[str] = []
    positionals: list[str] = []
    i = 1
    while i < len(args):
        a = args[i]
        if _NEGATIVE_NUMBER.match(a) or not a.startswith("-"):
            positionals.append(a)
        else:
            options.append(a)
            if a in takes_value and "=" not in a and i + 1 < len(args):
                options.append(args[i + 1])
                i += 1
        i += 1
    return [args[0], *options, "--", *positionals]


# command -> its options that take a value
_NUMERIC_POSITIONAL_COMMANDS = {"where": {"--laterality", "-l", "--breast-depth"}}
