"""Write outputs atomically: to a temporary name in the same folder, then rename.

A crash never leaves a half-written file under its final name, and no input
file is ever overwritten by an output.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import InputError

_protected_inputs: set[Path] = set()


def protect_input(path: str | os.PathLike) -> None:
    """Remember that ``path`` is an input of this run; writing to it is refused."""
    _protected_inputs.add(Path(path).resolve())


def check_output_path(path: str | os.PathLike) -> Path:
    """Validate an output path: its folder must exist and it must not be an input."""
    out = Path(path)
    if out.resolve() in _protected_inputs:
        raise InputError("refusing to overwrite an input file", source=out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder does not exist: {parent}", source=out)
    if out.is_dir():
        raise InputError("output path is a folder, expected a file name", source=out)
    return out


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    Use for writers (VTK, trimesh, SimpleITK) that want a file name. On any
    exception the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "a.txt").read_text()
    'hello'
    """
    out = check_output_path(path)
    parent = out.parent if str(out.parent) else Path(".")
    # Keep the real suffix last so writers that dispatch on it still work.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f".tmp{''.join(out.suffixes)}", dir=parent)
    # mkstemp makes the file 0600; outputs are ordinary files, so give them the mode open() would.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def make_output_dir(path: str | os.PathLike) -> Path:
    """Create an output folder (and its parents) if needed; refuse a file or an unwritable folder."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", source=out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror or exc}", source=out) from None
    if not os.access(out, os.W_OK):
        raise InputError("the output folder is not writable", source=out)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 ``text`` to ``path``."""
    return write_bytes(path, text.encode("utf-8"))
