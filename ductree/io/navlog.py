"""Scope navigation logs, format ``ductree-navlog`` version 1 (CONVENTIONS §4).

A ductoscopy session as the scope moved: a header record, then samples in
time order (``t`` seconds, ``depth_mm`` insertion length past the orifice,
optional tracker ``tip`` in BF mm, optional ``event`` with its fields). Two
encodings carry the same records:

- JSON Lines (``.jsonl``): one object per line; the first is the header
  (``"type": "header"``);
- CSV (``.csv``): the header's fields as ``# key=value`` comment lines, then
  a row of column names, then one row per sample; list fields (``tip``,
  ``lumens``, ``angles_deg``) as ``;``-separated values; an empty cell is an
  absent field.

:func:`read_navlog` reads either (by suffix, or by the first character when
the suffix says neither), checks every rule and returns a :class:`NavLog`;
:func:`write_navlog` writes records in either encoding, atomically.

Reading rules beyond the letter of §4, each a documented choice:

- ``lumen`` in an ``enter`` is a **0-based** index into the ``lumens`` list
  of the bifurcation at that depth.
- Depth readings are noisy, so the topology is followed on a running median
  of the readings over about :data:`DEPTH_SMOOTH_S` seconds (the readings
  as they are when fewer than 5 samples fall in that window), and "at this depth" means within
  :data:`DEPTH_TOL_MM`. The scope is back in the parent branch once the
  smoothed depth falls more than :data:`DEPTH_TOL_MM` above the bifurcation
  the branch leaves (hysteresis, so a noisy reading at the bifurcation does
  not pop it out).
- Advancing more than :data:`DEPTH_TOL_MM` past a known bifurcation without
  an ``enter`` is refused: nothing says which lumen the scope went into.
- A ``bifurcation`` reported where one is already known on the scope's path
  (within the tolerance) is the same bifurcation seen again and must list as
  many lumens; one reported behind the deepest point already reached in a
  branch that matches no known bifurcation is refused (the scope would have
  passed it unseen).
- ``retrieval`` and ``verify`` name a finding reported earlier; ``verify``
  comes after a ``retrieval`` of that finding.
- A bifurcation lists at least 2 lumens; ``angles_deg``, when given, one
  angle in [0, 180) per lumen.
- Samples may carry ``"type": "sample"``; blank lines are skipped.

Every error is an :class:`~ductree.errors.InputError` naming the file, the
1-based line and the field, e.g.
``scope.jsonl:7: depth_mm: negative depth -1.5 mm``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ..errors import DuctreeWarning, InputError
from ..frame import format_clock, parse_clock, parse_laterality

FORMAT = "ductree-navlog"
VERSION = 1

#: Two depth readings within this many mm are "at the same depth": a depth
#: read off the scope's markings is off by up to ~1.5 mm (the 1-2 mm reading
#: noise of DOMAIN §1's 0.55-1.2 mm scopes under saline distension, assumed
#: bounded), so two readings of one place differ by up to twice that.
DEPTH_TOL_MM = 3.0
#: Width (s) of the running median applied to depth readings before the
#: topology is followed (samples further apart than this are used as read).
DEPTH_SMOOTH_S = 2.0
#: Default distance of the cannulated orifice from the nipple centre (mm, §4).
DEFAULT_ORIFICE_OFFSET_MM = 1.5
#: A diagnostic ductoscopy runs 20-45 min in theatre (DOMAIN §1); longer is flagged.
LONG_SESSION_S = 45 * 60.0

HEADER_FIELDS = ("type", "format", "version", "laterality", "orifice_clock", "orifice_offset_mm",
                 "case_id", "scope_od_mm", "note")
HEADER_REQUIRED = ("format", "version", "laterality", "orifice_clock")
SAMPLE_FIELDS = ("t", "depth_mm", "tip", "event")
FINDING_KINDS = ("papilloma", "dcis", "ectasia", "stenosis", "debris", "other")
END_REASONS = ("terminal", "too_narrow", "resistance", "stopped")
RETRIEVAL_METHODS = ("basket", "snare", "forceps", "other")
VERIFY_RESULTS = ("empty", "residual")
#: event -> (required fields, optional fields)
EVENT_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "bifurcation": (("lumens",), ("angles_deg",)),
    "enter": (("lumen",), ()),
    "finding": (("label", "kind", "size_mm"), ("clock", "extent_mm", "note")),
    "end": (("reason",), ()),
    "retrieval": (("label", "method"), ()),
    "verify": (("label", "result"), ()),
    "note": (("text",), ()),
}
EVENTS = tuple(EVENT_FIELDS)
#: Every CSV column, in the order the writer uses.
CSV_COLUMNS = ("t", "depth_mm", "tip", "event", "lumens", "angles_deg", "lumen", "label", "kind", "size_mm",
               "clock", "extent_mm", "note", "reason", "method", "result", "text")
_EVENT_FIELD_NAMES = tuple(c for c in CSV_COLUMNS if c not in SAMPLE_FIELDS)
_LIST_FIELDS = ("tip", "lumens", "angles_deg")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}

_NUM = (int, float)
_INF = math.inf
_K_TD = frozenset(("t", "depth_mm"))
_K_TDTIP = frozenset(("t", "depth_mm", "tip"))


# --------------------------------------------------------------------------- data


@dataclass
class Event:
    """One event of the log.

    ``row`` is the sample it rides on, ``line`` its 1-based line in the file,
    ``depth_mm`` the smoothed depth at that sample (mm, what the rules use),
    ``depth_est_mm`` the mean of the readings in the smoothing window around
    it (mm, what the geometry uses), ``fields`` the validated event fields
    (clocks as hours in (0, 12]).
    """

    kind: str
    row: int
    line: int
    t: float
    depth_mm: float
    fields: dict[str, Any]
    branch: int = -1
    #: the estimate of the depth there: mean of the raw readings in the smoothing window (mm)
    depth_est_mm: float = 0.0


@dataclass
class Bifurcation:
    """A division of the duct the scope saw, at the end of branch ``branch``.

    ``depth_mm`` is the first (smoothed) reading, used for the rules;
    ``readings`` the depth estimates of every event that refers to it
    (sightings and ``enter`` events), whose mean :attr:`depth_estimate_mm`
    the geometry uses.
    ``children`` maps an entered lumen index to the branch it leads to.
    """

    id: int
    branch: int
    depth_mm: float
    lumens: list[float]
    angles_deg: list[float] | None
    line: int
    readings: list[float] = field(default_factory=list)
    children: dict[int, int] = field(default_factory=dict)

    @property
    def depth_estimate_mm(self) -> float:
        return float(np.mean(self.readings)) if self.readings else self.depth_mm


@dataclass
class Branch:
    """One stretch of duct the scope was in: from the orifice or a bifurcation to the next one or a tip.

    ``parent`` is the parent branch (-1 for the one starting at the orifice),
    ``bif``/``lumen`` the bifurcation and lumen index it leaves through,
    ``start_mm`` the depth it starts at, ``end_bif`` the bifurcation at its
    end (``None`` when it ends in a tip), ``max_depth_mm`` the deepest
    smoothed reading while in it, ``ends`` its ``end`` events.
    """

    id: int
    parent: int
    bif: int
    lumen: int
    start_mm: float
    line: int
    end_bif: int | None = None
    max_depth_mm: float = 0.0
    ends: list[Event] = field(default_factory=list)

    @property
    def end_reason(self) -> str | None:
        """The last ``end`` reason recorded in this branch, if any."""
        return self.ends[-1].fields["reason"] if self.ends else None

    @property
    def tip_depth_mm(self) -> float:
        """Depth (mm) of the branch's tip: the mean depth estimate of its ``end`` events when they stand
        within :data:`DEPTH_TOL_MM` of the deepest point reached, else that deepest (smoothed) point."""
        if self.ends:
            e = float(np.mean([x.depth_est_mm for x in self.ends]))
            if self.max_depth_mm - e <= DEPTH_TOL_MM:
                return e
        return self.max_depth_mm


@dataclass
class Finding:
    """A lesion the scope reported, with what was done about it.

    ``status``: ``in-situ`` (not taken out), ``retrieved`` (taken out, no
    check), ``verified-empty`` (taken out and the duct checked empty),
    ``residual`` (checked, something left).
    """

    label: str
    kind: str
    size_mm: float
    clock: float | None
    extent_mm: float | None
    note: str | None
    branch: int
    depth_mm: float
    t: float
    line: int
    row: int
    retrievals: list[dict] = field(default_factory=list)
    verifications: list[dict] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.retrievals:
            return "in-situ"
        if not self.verifications:
            return "retrieved"
        return "verified-empty" if self.verifications[-1]["result"] == "empty" else "residual"


@dataclass
class NavLog:
    """A validated scope navigation log.

    Arrays are aligned with the samples: ``t`` (s), ``depth_mm`` (as read),
    ``depth_smooth_mm`` (running median), ``tip`` ((n, 3) BF mm, NaN where
    the sample has none), ``line`` (1-based file line) and ``branch`` (the
    :class:`Branch` the scope was in).
    """

    header: dict[str, Any]
    t: np.ndarray
    depth_mm: np.ndarray
    depth_smooth_mm: np.ndarray
    tip: np.ndarray
    line: np.ndarray
    branch: np.ndarray
    events: list[Event]
    branches: list[Branch]
    bifurcations: list[Bifurcation]
    findings: list[Finding]
    source: str | None = None

    @property
    def laterality(self) -> str:
        return self.header["laterality"]

    @property
    def orifice_clock(self) -> float:
        return self.header["orifice_clock"]

    @property
    def orifice_offset_mm(self) -> float:
        return self.header.get("orifice_offset_mm", DEFAULT_ORIFICE_OFFSET_MM)

    @property
    def n_samples(self) -> int:
        return len(self.t)

    @property
    def has_tracker(self) -> bool:
        """True when at least one sample carries a tracker ``tip``."""
        return bool(np.isfinite(self.tip[:, 0]).any()) if len(self.tip) else False

    def finding(self, label: str) -> Finding:
        for f in self.findings:
            if f.label == label:
                return f
        raise KeyError(label)

    def records(self) -> list[dict]:
        """The log as plain records (header first), as :func:`write_navlog` takes them."""
        out: list[dict] = [{"type": "header", **{k: v for k, v in self.header.items() if k != "type"}}]
        ev_at = {e.row: e for e in self.events}
        for i in range(len(self.t)):
            r: dict[str, Any] = {"t": float(self.t[i]), "depth_mm": float(self.depth_mm[i])}
            if np.isfinite(self.tip[i, 0]):
                r["tip"] = [float(v) for v in self.tip[i]]
            e = ev_at.get(i)
            if e is not None:
                r["event"] = e.kind
                r.update(e.fields)
            out.append(r)
        return out

    def summary(self) -> dict:
        """The session summary (see :func:`session_summary`)."""
        return session_summary(self)


# --------------------------------------------------------------------------- reading


def read_navlog(path: str | PathLike, *, warn: bool = True) -> NavLog:
    """Read and validate a scope navigation log (``.jsonl`` or ``.csv``).

    Parameters
    ----------
    path : path-like
        The log. ``.jsonl``/``.ndjson`` are JSON Lines, ``.csv`` is CSV; any
        other suffix is sniffed from the first character (``{`` or ``#``).
    warn : bool
        Emit :class:`~ductree.errors.DuctreeWarning` for a retrieved finding
        with no "empty duct" verification.

    Raises
    ------
    InputError
        For every rule break, naming the file, line and field.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", source=p)
    fmt = _SUFFIXES.get(p.suffix.lower())
    try:
        with open(p, "r", encoding="utf-8", newline="") as f:
            if f.read(1) != "\ufeff":  # skip a byte-order mark (utf-8-sig decodes several times slower)
                f.seek(0)
            if fmt is None:
                fmt = _sniff(f, p)
            log = _parse(f, fmt, str(p))
    except UnicodeDecodeError:
        raise InputError("not a text file (not UTF-8): not a ductree-navlog log", source=p) from None
    if warn:
        warn_unverified(log)
    return log


def parse_navlog(text: str, fmt: str = "jsonl", *, source: str | None = None, warn: bool = False) -> NavLog:
    """Parse a log from a string (``fmt`` ``"jsonl"`` or ``"csv"``); same rules as :func:`read_navlog`."""
    if fmt not in ("jsonl", "csv"):
        raise InputError(f"unknown navlog encoding {fmt!r}; use 'jsonl' or 'csv'", source=source)
    log = _parse(io.StringIO(text, newline=""), fmt, source)
    if warn:
        warn_unverified(log)
    return log


def warn_unverified(log: NavLog) -> None:
    """Warn (DuctreeWarning) for each retrieved finding without an "empty duct" verification."""
    for f in log.findings:
        if f.status == "retrieved":
            where = f"{log.source}: " if log.source else ""
            warnings.warn(f"{where}finding {f.label!r} was retrieved but the duct was never verified "
                          "empty (no 'verify' event)", DuctreeWarning, stacklevel=3)


def _sniff(f, p: Path) -> str:
    pos = f.tell()
    head = f.read(256)
    f.seek(pos)
    s = head.lstrip()
    if not s:
        raise InputError("empty file: not a ductree-navlog log", source=p)
    if s[0] == "{":
        return "jsonl"
    if s[0] == "#":
        return "csv"
    raise InputError(f"unknown log format {p.suffix or '(no suffix)'!r}: expected a ductree-navlog log as "
                     ".jsonl (JSON Lines) or .csv", source=p)


class _Collector:
    """Per-sample lists, then arrays; event/label bookkeeping shared by both encodings."""

    def __init__(self, source: str | None) -> None:
        self.source = source
        self.t: list[float] = []
        self.d: list[float] = []
        self.lines: list[int] = []
        self.tip_rows: list[int] = []
        self.tip_vals: list[Any] = []
        self.events: list[Event] = []
        self.labels: dict[str, int] = {}
        self.retrieved: set[str] = set()
        self.prev_t = 0.0

    def err(self, msg: str, line: int, key: str | None = None) -> InputError:
        return InputError(msg, source=self.source, line=line, key=key)

    def bad_number(self, name: str, value: Any, line: int) -> InputError:
        if isinstance(value, bool) or not isinstance(value, _NUM):
            return self.err(f"must be a number, got {value!r}", line, name)
        if not math.isfinite(value):
            return self.err(f"must be a finite number, got {value!r}", line, name)
        if name == "depth_mm" and value < 0:
            return self.err(f"negative depth {value!r} mm (depth is the insertion length past the orifice, >= 0)",
                            line, name)
        if name == "t" and value < 0:
            return self.err(f"negative time {value!r} s (seconds since the start)", line, name)
        if name == "t":
            return self.err(f"time goes backwards: {value!r} s after {self.prev_t!r} s", line, name)
        return self.err(f"bad value {value!r}", line, name)

    def add_tip(self, tip: Any, line: int, text: bool) -> None:
        if tip is None or (text and tip == ""):
            return
        if text:
            parts = tip.split(";")
            try:
                vals = [float(x) for x in parts]
            except ValueError:
                raise self.err(f"must be 3 numbers x;y;z (BF mm), got {tip!r}", line, "tip") from None
        else:
            if not isinstance(tip, list) or any(isinstance(v, bool) or not isinstance(v, _NUM) for v in tip):
                raise self.err(f"must be [x, y, z] (BF mm) or null, got {tip!r}", line, "tip")
            vals = tip
        if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
            raise self.err(f"must be 3 finite numbers [x, y, z] (BF mm), got {tip!r}", line, "tip")
        self.tip_rows.append(len(self.t) - 1)
        self.tip_vals.append(vals)

    def add_event(self, raw: dict, line: int, text: bool) -> None:
        fields = self.check_event(raw, line, text)
        kind = fields.pop("event")
        self.events.append(Event(kind=kind, row=len(self.t) - 1, line=line, t=self.t[-1], depth_mm=self.d[-1],
                                 fields=fields))

    def check_event(self, raw: dict, line: int, text: bool) -> dict:
        kind = raw.get("event")
        if kind not in EVENT_FIELDS:
            raise self.err(f"unknown event {kind!r}; events are {', '.join(EVENTS)}", line, "event")
        required, optional = EVENT_FIELDS[kind]
        for k in raw:
            if k != "event" and k not in required and k not in optional:
                if k in _EVENT_FIELD_NAMES:
                    raise self.err(f"field {k!r} does not belong to event {kind!r} (its fields: "
                                   f"{', '.join(required + optional)})", line, k)
                raise self.err(f"unknown field {k!r}", line, k)
        for k in required:
            if k not in raw:
                raise self.err(f"event {kind!r} needs field {k!r}", line, k)
        out: dict[str, Any] = {"event": kind}
        for k, v in raw.items():
            if k != "event":
                out[k] = self.check_field(kind, k, v, line, text)
        if kind == "bifurcation" and "angles_deg" in out and len(out["angles_deg"]) != len(out["lumens"]):
            raise self.err(f"gives {len(out['angles_deg'])} angles for {len(out['lumens'])} lumens", line,
                           "angles_deg")
        if kind == "finding":
            label = out["label"]
            if label in self.labels:
                raise self.err(f"duplicate finding label {label!r} (first reported on line {self.labels[label]})",
                               line, "label")
            self.labels[label] = line
        elif kind in ("retrieval", "verify"):
            label = out["label"]
            if label not in self.labels:
                known = ", ".join(repr(x) for x in self.labels) or "none"
                raise self.err(f"no finding labelled {label!r} reported before this line (findings: {known})",
                               line, "label")
            if kind == "retrieval":
                self.retrieved.add(label)
            elif label not in self.retrieved:
                raise self.err(f"verify of {label!r} before any retrieval of it", line, "label")
        return out

    def check_field(self, kind: str, k: str, v: Any, line: int, text: bool) -> Any:
        if text and isinstance(v, str) and k in _LIST_FIELDS:
            v = v.split(";")
        if k == "lumens":
            if not isinstance(v, list) or len(v) < 2:
                raise self.err(f"must list the clock positions of at least 2 lumens, got {v!r}", line, k)
            out = []
            for x in v:
                try:
                    out.append(parse_clock(x.strip() if isinstance(x, str) else x, key=k))
                except InputError as exc:
                    raise self.err(exc.message, line, k) from None
            return out
        if k == "angles_deg":
            if not isinstance(v, list):
                raise self.err(f"must be a list of angles (degrees), got {v!r}", line, k)
            out = [self.number(k, x, line, text) for x in v]
            for a in out:
                if not 0 <= a < 180:
                    raise self.err(f"deflection angle must be in [0, 180) degrees, got {a!r}", line, k)
            return out
        if k == "lumen":
            if text:
                try:
                    v = int(v)
                except ValueError:
                    raise self.err(f"must be a lumen index (integer >= 0), got {v!r}", line, k) from None
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise self.err(f"must be a lumen index (integer >= 0), got {v!r}", line, k)
            return v
        if k in ("size_mm", "extent_mm"):
            x = self.number(k, v, line, text)
            if not x > 0:
                raise self.err(f"must be > 0 mm, got {x!r}", line, k)
            return x
        if k == "clock":
            try:
                return parse_clock(v, key=k)
            except InputError as exc:
                raise self.err(exc.message, line, k) from None
        # the remaining fields are text
        if not isinstance(v, str) or (k != "note" and k != "text" and not v.strip()):
            raise self.err(f"must be text, got {v!r}", line, k)
        choices = {"kind": FINDING_KINDS, "reason": END_REASONS, "method": RETRIEVAL_METHODS,
                   "result": VERIFY_RESULTS}.get(k)
        if choices is not None and v not in choices:
            raise self.err(f"unknown {k} {v!r}; use one of {', '.join(choices)}", line, k)
        return v.strip() if k == "label" else v

    def number(self, k: str, v: Any, line: int, text: bool) -> float:
        if text and isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                raise self.err(f"must be a number, got {v!r}", line, k) from None
        if isinstance(v, bool) or not isinstance(v, _NUM) or not math.isfinite(v):
            raise self.err(f"must be a finite number, got {v!r}", line, k)
        return float(v)


def _parse(f, fmt: str, source: str | None) -> NavLog:
    col = _Collector(source)
    header = _parse_jsonl(f, col) if fmt == "jsonl" else _parse_csv(f, col)
    n = len(col.t)
    if n == 0:
        raise InputError("the log has a header but no samples", source=source)
    t = np.asarray(col.t, dtype=float)
    d = np.asarray(col.d, dtype=float)
    lines = np.asarray(col.lines, dtype=np.int64)
    tip = np.full((n, 3), np.nan)
    if col.tip_rows:
        rows = np.asarray(col.tip_rows, dtype=np.int64)
        vals = np.asarray(col.tip_vals, dtype=float)
        bad = ~np.isfinite(vals).all(axis=1)
        if bad.any():
            k = int(np.argmax(bad))
            raise InputError(f"must be 3 finite numbers [x, y, z] (BF mm), got {col.tip_vals[k]!r}", source=source,
                             line=int(lines[rows[k]]), key="tip")
        tip[rows] = vals
    ds = smooth_depth(t, d)
    half = _half_window(t)
    for e in col.events:
        e.depth_mm = float(ds[e.row])
        e.depth_est_mm = float(d[max(0, e.row - half):e.row + half + 1].mean())
    walk = _Walk(ds, lines, source)
    walk.run(col.events)
    findings = _findings(col.events)
    return NavLog(header=header, t=t, depth_mm=d, depth_smooth_mm=ds, tip=tip, line=lines, branch=walk.branch_of,
                  events=col.events, branches=walk.branches, bifurcations=walk.bifs, findings=findings,
                  source=source)


def _half_window(t: np.ndarray, window_s: float = DEPTH_SMOOTH_S) -> int:
    """Half-width (samples) of the running median; 0 when the window would hold fewer than 5 samples."""
    if len(t) < 5:
        return 0
    dt = float(np.median(np.diff(t)))
    half = min(int(window_s / 2.0 / dt), 25) if dt > 0 else 0
    return half if half >= 2 else 0


def smooth_depth(t: np.ndarray, depth: np.ndarray, window_s: float = DEPTH_SMOOTH_S) -> np.ndarray:
    """Running median of depth readings (mm) over about ``window_s`` seconds (odd sample count).

    The window is counted in samples from the median sampling interval; when
    it would hold fewer than 5 samples the readings are returned as they are.
    """
    half = _half_window(t, window_s)
    if half == 0:
        return depth.astype(float).copy()
    from scipy.ndimage import median_filter

    return median_filter(depth.astype(float), size=2 * half + 1, mode="nearest")


# ---- JSON Lines


def _parse_jsonl(f, col: _Collector) -> dict:
    loads = json.loads
    scan = json.JSONDecoder().scan_once  # the C scanner without loads()'s wrappers; loads() explains failures
    src = col.source
    header: dict | None = None
    t_app, d_app, l_app = col.t.append, col.d.append, col.lines.append
    tr_app, tv_app = col.tip_rows.append, col.tip_vals.append
    prev_t = 0.0
    lineno = 0
    n = 0
    for lineno, raw in enumerate(f, 1):
        try:
            obj, end = scan(raw, 0)
            if end != len(raw) and not raw[end:].isspace():
                raise ValueError
        except (StopIteration, ValueError):
            try:
                obj = loads(raw)
            except ValueError as exc:
                if not raw.strip():
                    continue
                what = "the first line is not a JSON object: not a ductree-navlog JSON Lines log" \
                    if header is None else f"not valid JSON ({getattr(exc, 'msg', exc)})"
                raise InputError(what, source=src, line=lineno) from None
        if header is None:
            if not isinstance(obj, dict):
                raise InputError("the first line is not a JSON object: not a ductree-navlog JSON Lines log",
                                 source=src, line=lineno)
            header = _check_header(obj, src, lineno, text=False)
            continue
        if obj.__class__ is not dict:
            raise InputError(f"each line must be a JSON object, got {type(obj).__name__}", source=src, line=lineno)
        nk = len(obj)
        if (nk == 2 or (nk == 3 and "tip" in obj)) and "t" in obj and "depth_mm" in obj:
            tt = obj["t"]
            d = obj["depth_mm"]
            if tt.__class__ not in _NUM or not prev_t <= tt < _INF:
                col.prev_t = prev_t
                raise col.bad_number("t", tt, lineno)
            if d.__class__ not in _NUM or not 0.0 <= d < _INF:
                raise col.bad_number("depth_mm", d, lineno)
            t_app(tt)
            d_app(d)
            l_app(lineno)
            prev_t = tt
            if nk == 3:
                tip = obj["tip"]
                if (tip.__class__ is list and len(tip) == 3 and tip[0].__class__ in _NUM
                        and tip[1].__class__ in _NUM and tip[2].__class__ in _NUM):
                    tr_app(n)
                    tv_app(tip)
                else:
                    col.add_tip(tip, lineno, False)
            n += 1
            continue
        # the slow path: events, type, errors
        if obj.get("type", "sample") != "sample":
            if obj.get("type") == "header":
                raise InputError("a second header record (the header is the first line only)", source=src,
                                 line=lineno, key="type")
            raise InputError(f"unknown record type {obj.get('type')!r} (samples need no type)", source=src,
                             line=lineno, key="type")
        for k in ("t", "depth_mm"):
            if k not in obj:
                raise InputError(f"missing required field {k!r}", source=src, line=lineno, key=k)
        tt, d = obj["t"], obj["depth_mm"]
        if isinstance(tt, bool) or not isinstance(tt, _NUM) or not prev_t <= tt < _INF:
            col.prev_t = prev_t
            raise col.bad_number("t", tt, lineno)
        if isinstance(d, bool) or not isinstance(d, _NUM) or not 0.0 <= d < _INF:
            raise col.bad_number("depth_mm", d, lineno)
        t_app(tt)
        d_app(d)
        l_app(lineno)
        prev_t = tt
        n += 1
        if "tip" in obj:
            col.add_tip(obj["tip"], lineno, False)
        rest = {k: v for k, v in obj.items() if k not in ("t", "depth_mm", "tip", "type")}
        if "event" in rest:
            col.add_event(rest, lineno, False)
        elif rest:
            k = next(iter(rest))
            if k in _EVENT_FIELD_NAMES:
                raise InputError(f"field {k!r} needs an event", source=src, line=lineno, key=k)
            raise InputError(f"unknown field {k!r}", source=src, line=lineno, key=k)
    if header is None:
        raise InputError("empty file: not a ductree-navlog log", source=src)
    return header


# ---- CSV


def _parse_csv(f, col: _Collector) -> dict:
    src = col.source
    raw_header: dict[str, tuple[str, int]] = {}
    lineno = 0
    first = None
    for line in f:
        lineno += 1
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            body = s[1:].strip()
            if not body:
                continue
            if "=" not in body:
                raise InputError(f"a header comment must read '# key=value', got {s!r}", source=src, line=lineno)
            k, v = body.split("=", 1)
            k = k.strip()
            if k in raw_header:
                raise InputError("header field given twice", source=src, line=lineno, key=k)
            raw_header[k] = (v.strip(), lineno)
            continue
        first = line
        break
    if first is None and not raw_header:
        raise InputError("empty file: not a ductree-navlog log", source=src)
    if not raw_header:
        raise InputError("no '# key=value' header lines: not a ductree-navlog CSV log", source=src, line=lineno)
    header = _check_header({k: v for k, (v, _) in raw_header.items()}, src, None, text=True,
                           lines={k: ln for k, (_, ln) in raw_header.items()})
    if first is None:
        raise InputError("no column row after the header lines", source=src)
    header_line = lineno
    cols = next(csv.reader([first]))
    cols = [c.strip() for c in cols]
    seen = set()
    for c in cols:
        if c in seen:
            raise InputError(f"column {c!r} appears twice", source=src, line=header_line, key=c)
        seen.add(c)
        if c not in CSV_COLUMNS:
            raise InputError(f"unknown column {c!r}; columns are {', '.join(CSV_COLUMNS)}", source=src,
                             line=header_line, key=c)
    for c in ("t", "depth_mm"):
        if c not in seen:
            raise InputError(f"missing column {c!r}", source=src, line=header_line, key=c)
    ncol = len(cols)
    it, idp = cols.index("t"), cols.index("depth_mm")
    itip = cols.index("tip") if "tip" in seen else None
    iev = cols.index("event") if "event" in seen else None
    others = [(i, c) for i, c in enumerate(cols) if c not in SAMPLE_FIELDS]
    t_app, d_app, l_app = col.t.append, col.d.append, col.lines.append
    tr_app, tv_app = col.tip_rows.append, col.tip_vals.append
    prev_t = 0.0
    reader = csv.reader(f)
    base = header_line
    for row in reader:
        lineno = base + reader.line_num
        if len(row) != ncol:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            raise InputError(f"row has {len(row)} values but the column row has {ncol} ({', '.join(cols)})",
                             source=src, line=lineno)
        try:
            tt = float(row[it])
        except ValueError:
            raise InputError(f"must be a number, got {row[it]!r}", source=src, line=lineno, key="t") from None
        try:
            d = float(row[idp])
        except ValueError:
            raise InputError(f"must be a number, got {row[idp]!r}", source=src, line=lineno,
                             key="depth_mm") from None
        if not prev_t <= tt < _INF:
            col.prev_t = prev_t
            raise col.bad_number("t", tt, lineno)
        if not 0.0 <= d < _INF:
            raise col.bad_number("depth_mm", d, lineno)
        t_app(tt)
        d_app(d)
        l_app(lineno)
        prev_t = tt
        if itip is not None and row[itip]:
            parts = row[itip].split(";")
            try:
                if len(parts) != 3:
                    raise ValueError
                tv_app((float(parts[0]), float(parts[1]), float(parts[2])))
                tr_app(len(col.t) - 1)
            except ValueError:
                col.add_tip(row[itip], lineno, True)
        ev = row[iev] if iev is not None else ""
        if ev:
            raw = {"event": ev.strip()}
            for i, c in others:
                if row[i] != "":
                    raw[c] = row[i]
            col.add_event(raw, lineno, True)
        else:
            for i, c in others:
                if row[i] != "":
                    raise InputError(f"field {c!r} needs an event", source=src, line=lineno, key=c)
    return header


# ---- header


def _check_header(obj: dict, src: str | None, line: int | None, *, text: bool,
                  lines: dict[str, int] | None = None) -> dict:
    def where(k: str) -> int | None:
        return lines.get(k) if lines else line

    if not text and obj.get("type") != "header":
        raise InputError('the first record must be the header ({"type": "header", "format": "ductree-navlog", '
                         '...}): not a ductree-navlog log', source=src, line=line, key="type")
    for k in obj:
        if k not in HEADER_FIELDS:
            raise InputError(f"unknown header field {k!r}; header fields are {', '.join(HEADER_FIELDS[1:])}",
                             source=src, line=where(k), key=k)
    if text and obj.get("type", "header") != "header":
        raise InputError(f"must be 'header', got {obj['type']!r}", source=src, line=where("type"), key="type")
    fmt = obj.get("format")
    if fmt is None:
        raise InputError("missing header field 'format' (\"ductree-navlog\")", source=src, line=line, key="format")
    if fmt != FORMAT:
        raise InputError(f"not a ductree-navlog log: format is {fmt!r}", source=src, line=where("format"),
                         key="format")
    for k in HEADER_REQUIRED:
        if k not in obj:
            raise InputError(f"missing header field {k!r}", source=src, line=line if not text else None, key=k)
    version = obj["version"]
    if text:
        try:
            version = int(version)
        except ValueError:
            raise InputError(f"must be 1, got {obj['version']!r}", source=src, line=where("version"),
                             key="version") from None
    if isinstance(version, bool) or version != VERSION:
        raise InputError(f"unsupported version {obj['version']!r} (this ductree reads version {VERSION})",
                         source=src, line=where("version"), key="version")
    out: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    try:
        out["laterality"] = parse_laterality(obj["laterality"])
    except InputError as exc:
        raise InputError(exc.message, source=src, line=where("laterality"), key="laterality") from None
    try:
        out["orifice_clock"] = parse_clock(obj["orifice_clock"])
    except InputError as exc:
        raise InputError(exc.message, source=src, line=where("orifice_clock"), key="orifice_clock") from None
    for k in ("orifice_offset_mm", "scope_od_mm"):
        if k in obj:
            v = obj[k]
            if text:
                try:
                    v = float(v)
                except ValueError:
                    raise InputError(f"must be a number (mm), got {v!r}", source=src, line=where(k),
                                     key=k) from None
            if isinstance(v, bool) or not isinstance(v, _NUM) or not math.isfinite(v) or v < 0 or (
                    k == "scope_od_mm" and v == 0):
                raise InputError(f"must be a number {'> 0' if k == 'scope_od_mm' else '>= 0'} (mm), got {obj[k]!r}",
                                 source=src, line=where(k), key=k)
            out[k] = float(v)
    for k in ("case_id", "note"):
        if k in obj:
            if not isinstance(obj[k], str):
                raise InputError(f"must be text, got {obj[k]!r}", source=src, line=where(k), key=k)
            out[k] = obj[k]
    return out


# --------------------------------------------------------------------------- topology


class _Walk:
    """Follow the scope through the log: which branch each sample is in, and the rules of §4."""

    def __init__(self, depth: np.ndarray, lines: np.ndarray, source: str | None) -> None:
        self.depth = depth
        self.lines = lines
        self.source = source
        self.branch_of = np.zeros(len(depth), dtype=np.int64)
        self.branches: list[Branch] = [Branch(id=0, parent=-1, bif=-1, lumen=-1, start_mm=0.0,
                                              line=int(lines[0]) if len(lines) else 0)]
        self.bifs: list[Bifurcation] = []
        self.stack: list[int] = [0]
        self.max_depth = [0.0]

    def err(self, msg: str, row: int, key: str | None) -> InputError:
        return InputError(msg, source=self.source, line=int(self.lines[row]), key=key)

    def run(self, events: list[Event]) -> None:
        a = 0
        for e in events:
            self.segment(a, e.row + 1)
            self.apply(e)
            self.branch_of[e.row] = self.stack[-1]
            a = e.row + 1
        self.segment(a, len(self.depth))
        for b in self.branches:
            b.max_depth_mm = max(self.max_depth[b.id], b.start_mm)

    def segment(self, a: int, b: int) -> None:
        """Assign samples a..b-1 to branches, popping back to the parent on withdrawal."""
        depth = self.depth
        while a < b:
            cur = self.stack[-1]
            br = self.branches[cur]
            low = br.start_mm - DEPTH_TOL_MM if br.parent >= 0 else -_INF
            high = self.bifs[br.end_bif].depth_mm + DEPTH_TOL_MM if br.end_bif is not None else _INF
            seg = depth[a:b]
            bad = (seg < low) | (seg > high)
            k = int(np.argmax(bad)) if bad.any() else len(seg)
            if k > 0:
                self.branch_of[a:a + k] = cur
                m = float(seg[:k].max())
                if m > self.max_depth[cur]:
                    self.max_depth[cur] = m
            if k == len(seg):
                return
            row = a + k
            if seg[k] > high:
                bif = self.bifs[br.end_bif]  # type: ignore[index]
                raise self.err(f"the scope advanced to {seg[k]:.1f} mm, past the bifurcation at "
                               f"{bif.depth_mm:.1f} mm (line {bif.line}) without an 'enter' saying which lumen",
                               row, "depth_mm")
            self.stack.pop()
            a = row

    def path_bifs(self) -> list[int]:
        """Bifurcations on the scope's current path: the one ahead, then those behind (nearest first)."""
        out = []
        cur = self.branches[self.stack[-1]]
        if cur.end_bif is not None:
            out.append(cur.end_bif)
        for bid in reversed(self.stack):
            b = self.branches[bid]
            if b.bif >= 0:
                out.append(b.bif)
        return out

    def nearest(self, d: float) -> int | None:
        best, best_dist = None, _INF
        for k in self.path_bifs():
            dist = abs(self.bifs[k].depth_mm - d)
            if dist <= DEPTH_TOL_MM and dist < best_dist:
                best, best_dist = k, dist
        return best

    def apply(self, e: Event) -> None:
        d = e.depth_mm
        cur = self.branches[self.stack[-1]]
        e.branch = cur.id
        if e.kind == "bifurcation":
            lumens = e.fields["lumens"]
            if cur.end_bif is None and not cur.ends and self.max_depth[cur.id] - d <= DEPTH_TOL_MM:
                bif = Bifurcation(id=len(self.bifs), branch=cur.id, depth_mm=d, lumens=list(lumens),
                                  angles_deg=e.fields.get("angles_deg"), line=e.line, readings=[e.depth_est_mm])
                self.bifs.append(bif)
                cur.end_bif = bif.id
                return
            k = self.nearest(d)
            if k is None:
                if cur.end_bif is not None:
                    known = self.bifs[cur.end_bif]
                    raise self.err(f"a bifurcation at {d:.1f} mm lies before the known one at {known.depth_mm:.1f} "
                                   f"mm (line {known.line}) in the same branch", e.row, "depth_mm")
                raise self.err(f"a bifurcation at {d:.1f} mm behind the deepest point already reached in this "
                               f"branch ({self.max_depth[cur.id]:.1f} mm) that matches no known bifurcation on "
                               "the scope's path", e.row, "depth_mm")
            bif = self.bifs[k]
            if len(bif.lumens) != len(lumens):
                raise self.err(f"the bifurcation at {bif.depth_mm:.1f} mm (line {bif.line}) was reported with "
                               f"{len(bif.lumens)} lumens, here with {len(lumens)}", e.row, "lumens")
            bif.readings.append(e.depth_est_mm)
            return
        if e.kind == "enter":
            k = self.nearest(d)
            if k is None:
                known = [f"{self.bifs[j].depth_mm:.1f}" for j in self.path_bifs()]
                listing = f"known on this path: {', '.join(known)} mm" if known else "none seen on this path"
                raise self.err(f"'enter' at {d:.1f} mm with no bifurcation at that depth (within "
                               f"{DEPTH_TOL_MM:g} mm; {listing})", e.row, "depth_mm")
            bif = self.bifs[k]
            j = e.fields["lumen"]
            if j >= len(bif.lumens):
                raise self.err(f"lumen index {j} out of range: the bifurcation at {bif.depth_mm:.1f} mm (line "
                               f"{bif.line}) has {len(bif.lumens)} lumens (0..{len(bif.lumens) - 1})",
                               e.row, "lumen")
            bif.readings.append(e.depth_est_mm)
            while self.stack[-1] != bif.branch:
                self.stack.pop()
            child = bif.children.get(j)
            if child is None:
                child = len(self.branches)
                self.branches.append(Branch(id=child, parent=bif.branch, bif=bif.id, lumen=j,
                                            start_mm=bif.depth_mm, line=e.line))
                self.max_depth.append(d)
                bif.children[j] = child
            self.stack.append(child)
            e.branch = child
            return
        if e.kind == "end":
            cur.ends.append(e)


def _findings(events: list[Event]) -> list[Finding]:
    out: dict[str, Finding] = {}
    for e in events:
        f = e.fields
        if e.kind == "finding":
            out[f["label"]] = Finding(label=f["label"], kind=f["kind"], size_mm=f["size_mm"], clock=f.get("clock"),
                                      extent_mm=f.get("extent_mm"), note=f.get("note"), branch=e.branch,
                                      depth_mm=e.depth_est_mm, t=e.t, line=e.line, row=e.row)
        elif e.kind == "retrieval":
            out[f["label"]].retrievals.append({"method": f["method"], "t": e.t, "line": e.line})
        elif e.kind == "verify":
            out[f["label"]].verifications.append({"result": f["result"], "t": e.t, "line": e.line})
    return list(out.values())


# --------------------------------------------------------------------------- summary


def session_summary(log: NavLog) -> dict:
    """What happened in the session, in figures (s, mm).

    Keys: ``laterality``, ``orifice_clock`` (``"H:MM"``), ``case_id``,
    ``samples``, ``duration_s``, ``long_session`` (longer than 45 min),
    ``deepest_mm`` (smoothed depth) with ``deepest_t_s`` and ``deepest_branch``,
    ``bifurcations``, ``lumens_seen``, ``branches_entered`` (lumens entered
    at bifurcations), ``lumens_unexplored``, ``tips`` with their ``end``
    reasons, ``tracker`` (share of samples with a tip), ``findings`` (label,
    kind, size, depth, wall clock, status, retrieval methods, verification).
    """
    ds = log.depth_smooth_mm
    i = int(np.argmax(ds))
    lumens_seen = sum(len(b.lumens) for b in log.bifurcations)
    entered = sum(len(b.children) for b in log.bifurcations)
    tips = []
    for b in log.branches:
        if b.end_bif is None:
            tips.append({"branch": b.id, "depth_mm": round(b.tip_depth_mm, 2), "end_reason": b.end_reason})
    findings = []
    for f in log.findings:
        findings.append({
            "label": f.label, "kind": f.kind, "size_mm": f.size_mm, "depth_mm": round(f.depth_mm, 2),
            "clock": None if f.clock is None else format_clock(f.clock), "branch": f.branch,
            "extent_mm": f.extent_mm, "status": f.status,
            "retrieval": [r["method"] for r in f.retrievals],
            "verify": [v["result"] for v in f.verifications],
        })
    duration = float(log.t[-1] - log.t[0]) if len(log.t) else 0.0
    return {
        "laterality": log.laterality,
        "orifice_clock": format_clock(log.orifice_clock),
        "case_id": log.header.get("case_id"),
        "samples": log.n_samples,
        "duration_s": round(duration, 3),
        "long_session": duration > LONG_SESSION_S,
        "deepest_mm": round(float(ds[i]), 2),
        "deepest_t_s": round(float(log.t[i]), 3),
        "deepest_branch": int(log.branch[i]),
        "bifurcations": len(log.bifurcations),
        "lumens_seen": lumens_seen,
        "branches_entered": entered,
        "lumens_unexplored": lumens_seen - entered,
        "tips": tips,
        "tracker": round(float(np.isfinite(log.tip[:, 0]).mean()), 4) if len(log.tip) else 0.0,
        "findings": findings,
        "warnings": [f"finding {f.label!r} retrieved without an empty-duct verification"
                     for f in log.findings if f.status == "retrieved"],
    }


# --------------------------------------------------------------------------- writing


def _fmt_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return ";".join(_fmt_value(x) for x in v)
    if isinstance(v, (np.floating, np.integer)):
        return repr(v.item())
    return str(v)


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def navlog_text(records: Iterable[dict] | NavLog, fmt: str = "jsonl") -> str:
    """The text of a log in ``fmt`` (``"jsonl"`` or ``"csv"``) from records (header first)."""
    recs = records.records() if isinstance(records, NavLog) else list(records)
    if not recs:
        raise InputError("no records to write (a log needs a header)")
    header = {k: v for k, v in recs[0].items()}
    if header.get("type", "header") != "header":
        raise InputError("the first record must be the header", key="type")
    header["type"] = "header"
    samples = recs[1:]
    if fmt == "jsonl":
        dumps = json.dumps
        out = [dumps({k: _plain(v) for k, v in header.items()})]
        for r in samples:
            out.append(dumps({k: _plain(v) for k, v in r.items() if v is not None}))
        return "\n".join(out) + "\n"
    if fmt != "csv":
        raise InputError(f"unknown navlog encoding {fmt!r}; use 'jsonl' or 'csv'")
    buf = io.StringIO()
    for k, v in header.items():
        if k == "type":
            continue
        buf.write(f"# {k}={_fmt_value(v)}\n")
    used = set()
    for r in samples:
        used.update(k for k, v in r.items() if v is not None and k != "type")
    unknown = used - set(CSV_COLUMNS)
    if unknown:
        raise InputError(f"unknown field {sorted(unknown)[0]!r} in the records", key=sorted(unknown)[0])
    cols = [c for c in CSV_COLUMNS if c in used or c in ("t", "depth_mm")]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in samples:
        w.writerow([_fmt_value(r.get(c)) for c in cols])
    return buf.getvalue()


def write_navlog(records: Iterable[dict] | NavLog, path: str | PathLike, *, validate: bool = True) -> Path:
    """Write a scope log (header record first, then samples) as ``.jsonl`` or ``.csv`` by suffix, atomically.

    With ``validate`` (default) the text is parsed with every reading rule
    before anything is written, so a file this writes always reads back.
    """
    from ..atomic import check_output_path, write_text

    p = Path(path)
    fmt = _SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise InputError(f"unknown log format {p.suffix or '(no suffix)'!r}; use .jsonl or .csv", source=p)
    check_output_path(p)
    text = navlog_text(records, fmt)
    if validate:
        try:
            parse_navlog(text, fmt, source=str(p))
        except InputError as exc:
            raise InputError(f"refusing to write an invalid log: {exc.message}", source=p, line=exc.line,
                             key=exc.key) from None
    write_text(p, text)
    return p


def iter_records(path: str | PathLike) -> Iterator[dict]:
    """Records of a log file, header first (validated as :func:`read_navlog` does)."""
    yield from read_navlog(path, warn=False).records()
