"""3D Slicer markups (``.mrk.json``): points and curves in patient LPS, mm.

Slicer's markups JSON (schema ``markups-schema-v1.0.3``) holds a list of
markups; each has a ``type`` (``Fiducial`` for a point list, ``Curve`` for an
open curve), ``coordinateSystem`` (we always write ``LPS``) and control points
with ``id``, ``label``, ``description`` and ``position`` (mm). The ``@schema``
string is only an identifier; nothing is fetched.

Points come in the breast frame (BF, mm) and are written as
``LPS = nipple_LPS + BF``, so they land on the source image in Slicer. A case
without ``nipple_lps`` is written as BF with the nipple at the LPS origin, and
every control point's description says so.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from .atomic import write_text
from .errors import InputError

SCHEMA = ("https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/"
          "markups-schema-v1.0.3.json#")
#: Said in each point's description when the case has no nipple position in LPS.
NO_NIPPLE_NOTE = "breast frame written as LPS with the nipple at the origin (the case gives no nipple_lps)"
MARKUP_TYPES = ("Fiducial", "Curve", "ClosedCurve")
_IDENTITY_ORIENTATION = [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0]


def markups_dict(
    points: Sequence[tuple[str, Sequence[float]]],
    nipple_lps: Sequence[float] | None,
    *,
    kind: str = "Fiducial",
    descriptions: Sequence[str] | None = None,
    color: Sequence[float] = (1.0, 0.5, 0.0),
    locked: bool = True,
) -> dict:
    """The markups document (a dict) for ``points``: ``[(label, point_bf), ...]`` in BF mm.

    Examples
    --------
    >>> d = markups_dict([("L1", (1.0, 20.0, -3.0))], nipple_lps=(10.0, 100.0, 50.0))
    >>> d["markups"][0]["coordinateSystem"], d["markups"][0]["controlPoints"][0]["position"]
    ('LPS', [11.0, 120.0, 47.0])
    """
    if kind not in MARKUP_TYPES:
        raise InputError(f"unknown markup type {kind!r}; use one of {', '.join(MARKUP_TYPES)}", key="kind")
    if descriptions is not None and len(descriptions) != len(points):
        raise ValueError("one description per point")
    nip = None if nipple_lps is None else np.asarray(nipple_lps, dtype=float).reshape(3)
    cps = []
    for i, (label, p) in enumerate(points):
        bf = np.asarray(p, dtype=float).reshape(3)
        if not np.all(np.isfinite(bf)):
            raise InputError(f"point {label!r} is not finite: {bf.tolist()}", key="position")
        lps = bf + nip if nip is not None else bf
        desc = descriptions[i] if descriptions is not None else ""
        if nip is None:
            desc = f"{desc}; {NO_NIPPLE_NOTE}" if desc else NO_NIPPLE_NOTE
        cps.append({
            "id": str(i + 1),
            "label": str(label),
            "description": desc,
            "associatedNodeID": "",
            "position": [round(float(v), 4) for v in lps],
            "orientation": list(_IDENTITY_ORIENTATION),
            "selected": False,
            "locked": bool(locked),
            "visibility": True,
            "positionStatus": "defined",
        })
    markup = {
        "type": kind,
        "coordinateSystem": "LPS",
        "coordinateUnits": "mm",
        "locked": bool(locked),
        "fixedNumberOfControlPoints": False,
        "labelFormat": "%N-%d",
        "lastUsedControlPointNumber": len(cps),
        "controlPoints": cps,
        "measurements": [],
        "display": {
            "visibility": True,
            "opacity": 1.0,
            "color": [float(c) for c in color],
            "selectedColor": [float(c) for c in color],
            "propertiesLabelVisibility": False,
            "pointLabelsVisibility": True,
            "textScale": 3.0,
            "glyphType": "Sphere3D",
            "glyphScale": 2.0,
            "glyphSize": 5.0,
            "useGlyphScale": True,
        },
    }
    return {"@schema": SCHEMA, "markups": [markup]}


def write_markups(
    path: str | PathLike,
    points: Sequence[tuple[str, Sequence[float]]],
    nipple_lps: Sequence[float] | None,
    **kwargs,
) -> Path:
    """Write ``[(label, point_bf), ...]`` (BF mm) as a Slicer ``.mrk.json`` in LPS mm, atomically.

    ``nipple_lps`` is the nipple in patient LPS (mm); ``None`` writes BF as
    LPS with the nipple at the origin and says so in each description.
    Keyword arguments go to :func:`markups_dict` (``kind``, ``descriptions``, ``color``).
    """
    p = Path(path)
    if not p.name.endswith(".mrk.json"):
        raise InputError("a Slicer markups file name must end in .mrk.json", source=p)
    return write_text(p, json.dumps(markups_dict(points, nipple_lps, **kwargs), indent=2) + "\n")


def read_markups(path: str | PathLike) -> list[tuple[str, list[float], str]]:
    """Read the control points of every markup in a ``.mrk.json``: ``[(label, position_lps, type), ...]``."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"not a readable markups file: {exc}", source=p) from None
    out = []
    for m in doc.get("markups", []):
        if m.get("coordinateSystem", "LPS") != "LPS":
            raise InputError(f"only LPS markups are read, got {m.get('coordinateSystem')!r}", source=p,
                             key="coordinateSystem")
        for cp in m.get("controlPoints", []):
            out.append((cp.get("label", ""), [float(v) for v in cp["position"]], m.get("type", "")))
    return out
