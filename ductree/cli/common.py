"""Small helpers shared by command modules (printing, JSON output)."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    from ..io.treejson import _plain

    sys.stdout.write(json.dumps(_plain(data), indent=2) + "\n")


def console():
    """A rich console on stdout (imported lazily)."""
    from rich.console import Console

    return Console(highlight=False)


def warn(message: str) -> None:
    """One warning line on stderr."""
    sys.stderr.write(f"ductree: warning: {message}\n")
