"""The surgeon's planning viewers: desktop window, web application, standalone HTML file.

- :mod:`ductree.viewer.model` — :func:`load_model`, :class:`ViewerModel`: what every front end shows
  (the shared :class:`~ductree.scene.Scene`, lesion and plan tables, click-to-read);
- :mod:`ductree.viewer.session` — :class:`ViewerSession`: the case in a pyvista plotter with views,
  toggles and picking (desktop and web share it);
- :mod:`ductree.viewer.desktop` — ``ductree view``;
- :mod:`ductree.viewer.web` — ``ductree serve`` (trame);
- :mod:`ductree.viewer.standalone` — ``ductree export-html``.

Names are imported lazily so ``import ductree.viewer`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ViewerModel": ".model", "Reading": ".model", "load_model": ".model", "centreline_samples": ".model",
    "ViewerSession": ".session",
    "setup_desktop": ".desktop", "run_desktop": ".desktop", "check_display": ".desktop",
    "export_html": ".standalone", "standalone_html": ".standalone",
    "serve": ".web", "build_app": ".web", "list_cases": ".web",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ductree.viewer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
