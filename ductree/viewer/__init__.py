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

from .._lazy import lazy_exports

_EXPORTS = {
    "ViewerModel": ".model", "Reading": ".model", "load_model": ".model", "centreline_samples": ".model",
    "ViewerSession": ".session",
    "setup_desktop": ".desktop", "run_desktop": ".desktop", "check_display": ".desktop",
    "export_html": ".standalone", "standalone_html": ".standalone",
    "serve": ".web", "build_app": ".web", "list_cases": ".web",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
