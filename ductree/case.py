"""The case file (``case.toml``, CONVENTIONS §5) and the :class:`Case` it describes.

A case is what a batch run, a report or the viewer works on: one breast
(laterality), one primary source of the ductal tree (a tree file, a 3D
segmentation volume, or a CC + lateral ductogram pair; a scope log may be
added to fuse), lesion specifications and render options.

Paths are relative to the case file. Unknown keys are errors (a typo must
never be ignored), and every error names the file and the key, e.g.
``case.toml: lesion[2].clock: bad clock position '6:75': minutes must be 0..59``.

The accepted keys live in one table per section below (``TOP_KEYS``,
``SOURCE_KEYS``, ``LESION_KEYS``, ``RENDER_KEYS``, ``PLAN_KEYS``); extending
the format is one entry there plus the field that carries it.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .frame import parse_clock, parse_laterality

if TYPE_CHECKING:
    from .tree import DuctTree

TOP_KEYS = {"id", "laterality", "breast_depth_mm", "nipple_lps", "note", "source", "lesion", "render", "plan"}
SOURCE_KEYS = {
    "tree", "volume", "cc", "lateral", "navlog",
    "pixel_spacing_mm", "magnification", "lateral_view", "spacing_mm", "label", "nipple_voxel",
}
SOURCE_PATH_KEYS = ("tree", "volume", "cc", "lateral", "navlog")
LESION_KEYS = {
    "label", "kind", "size_mm", "clock", "depth_mm", "fn_mm", "path_mm", "orifice_clock", "system",
    "point_bf", "point_lps", "note",
}
#: Lesion kinds accepted in a case file (the scope-log vocabulary, CONVENTIONS §4).
LESION_KINDS = ("papilloma", "dcis", "ectasia", "stenosis", "debris", "other")
RENDER_KEYS = {"views", "size", "background", "color_by", "colormap"}
PLAN_KEYS = {"margin_mm", "central_excision_mm"}

KNOWN_VIEWS = ("cc", "lateral", "mlo", "front", "oblique", "duct")


@dataclass
class LesionSpec:
    """A lesion as the user specified it, before it is placed on the tree.

    Exactly one way of locating it must be given:

    - ``clock`` + ``depth_mm`` (a ray at that clock, that depth behind the nipple);
    - ``clock`` + ``fn_mm`` (coronal distance from the nipple);
    - ``path_mm`` along the duct whose orifice is at ``orifice_clock`` (or duct ``system``);
    - ``point_bf`` (BF mm) or ``point_lps`` (patient LPS mm; needs the case's ``nipple_lps``).

    Clock values are hours in (0, 12]; lengths in mm.
    """

    label: str
    kind: str = "other"
    size_mm: float | None = None
    clock: float | None = None
    depth_mm: float | None = None
    fn_mm: float | None = None
    path_mm: float | None = None
    orifice_clock: float | None = None
    system: int | None = None
    point_bf: tuple[float, float, float] | None = None
    point_lps: tuple[float, float, float] | None = None
    note: str | None = None
    origin: str = "case"  #: where the spec came from: case, navlog, ductogram
    uncertainty_mm: float | None = None  #: a bound (mm) on the source's position error, if it states one
    key: str = ""         #: where it stands in its file, for error messages (e.g. "lesion[1]")
    #: the breast a finding was stated on (e.g. a scope log's header); None = the case's own
    laterality: str | None = None

    @property
    def method(self) -> str:
        """How the spec locates the lesion: clock+depth, clock+fn, path, point_bf or point_lps."""
        if self.point_bf is not None:
            return "point_bf"
        if self.point_lps is not None:
            return "point_lps"
        if self.path_mm is not None:
            return "path"
        if self.clock is not None and self.depth_mm is not None:
            return "clock+depth"
        return "clock+fn"


@dataclass
class SourceSpec:
    """Where the tree comes from; paths are absolute (resolved against the case file)."""

    tree: Path | None = None
    volume: Path | None = None
    cc: Path | None = None
    lateral: Path | None = None
    navlog: Path | None = None
    pixel_spacing_mm: float | None = None
    magnification: float | None = None
    lateral_view: str | None = None
    spacing_mm: tuple[float, float, float] | None = None
    label: int | None = None
    nipple_voxel: tuple[int, int, int] | None = None

    @property
    def kind(self) -> str:
        """The primary source: tree, volume, biplane or navlog."""
        if self.tree is not None:
            return "tree"
        if self.volume is not None:
            return "volume"
        if self.cc is not None or self.lateral is not None:
            return "biplane"
        return "navlog"

    def paths(self) -> list[Path]:
        return [p for p in (self.tree, self.volume, self.cc, self.lateral, self.navlog) if p is not None]


@dataclass
class RenderSpec:
    views: tuple[str, ...] = ("cc", "lateral", "front", "oblique")
    size: tuple[int, int] = (1024, 1024)
    background: str = "white"
    color_by: str = "system"
    colormap: str | None = None


@dataclass
class PlanSpec:
    margin_mm: float = 5.0
    central_excision_mm: float = 30.0


@dataclass
class Case:
    """One breast of one patient: tree source, laterality, lesions, options.

    ``tree`` is filled by :meth:`load_tree` (or given directly when building
    a case in code). ``path`` is the case file, if any.
    """

    id: str
    laterality: str
    source: SourceSpec = field(default_factory=SourceSpec)
    lesions: list[LesionSpec] = field(default_factory=list)
    breast_depth_mm: float | None = None
    nipple_lps: tuple[float, float, float] | None = None
    note: str | None = None
    render: RenderSpec = field(default_factory=RenderSpec)
    plan: PlanSpec = field(default_factory=PlanSpec)
    path: Path | None = None
    tree: "DuctTree | None" = None
    warnings: list[str] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path is not None else Path(".")

    def load_tree(self) -> "DuctTree":
        """Build (once) and return the case's tree from its source, in BF mm with its laterality."""
        if self.tree is None:
            from .reconstruct import tree_from_case

            tree = tree_from_case(self)
            if tree.laterality not in (None, self.laterality):
                raise InputError(f"the tree is laterality {tree.laterality} but the case is {self.laterality}",
                                 source=self.path, key="laterality")
            tree.laterality = self.laterality
            self.tree = tree
        return self.tree


# --------------------------------------------------------------------------- reading

def load_case(path: str | PathLike) -> Case:
    """Read and validate a ``case.toml``; raise :class:`InputError` naming the file and key."""
    p = Path(path)
    if p.is_dir():
        p = p / "case.toml"
    if not p.is_file():
        raise InputError("no such case file", source=p)
    from .atomic import protect_input

    protect_input(p)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", source=p) from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's tomllib puts the position only in the text: "... (at line 2, column 14)".
        import re

        m = re.search(r"^(.*?)\s*\(at line (\d+), column \d+\)$", str(exc))
        msg, line = (m.group(1), int(m.group(2))) if m else (str(exc), None)
        raise InputError(f"invalid TOML: {msg}", source=p, line=line) from None
    return case_from_dict(data, path=p)


def case_from_dict(data: dict, *, path: Path | None = None) -> Case:
    """Validate a parsed case-file dict (see :func:`load_case`)."""
    src = path
    _check_keys(data, TOP_KEYS, "", src)
    if "laterality" not in data:
        raise InputError("missing required key (L or R)", source=src, key="laterality")
    laterality = parse_laterality(data["laterality"], key="laterality", source=_s(src))
    case_id = data.get("id")
    if case_id is None:
        case_id = path.parent.name if path is not None else "case"
    if not isinstance(case_id, str) or not case_id.strip():
        raise InputError(f"must be a non-empty string, got {case_id!r}", source=src, key="id")
    breast_depth = _opt_float(data, "breast_depth_mm", "", src, positive=True)
    nipple_lps = _opt_vec3(data, "nipple_lps", "", src)
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        raise InputError("must be a string", source=src, key="note")
    folder = path.parent if path is not None else Path(".")
    source = _read_source(data.get("source"), folder, src)
    lesions_raw = data.get("lesion", [])
    if not isinstance(lesions_raw, list):
        raise InputError("use [[lesion]] tables (an array of tables)", source=src, key="lesion")
    lesions = [lesion_from_dict(d, key=f"lesion[{i}]", source=src) for i, d in enumerate(lesions_raw)]
    check_unique_labels(lesions, source=src)
    if nipple_lps is None and any(les.point_lps is not None for les in lesions):
        bad = next(les for les in lesions if les.point_lps is not None)
        raise InputError("point_lps needs the case's nipple_lps", source=src, key=f"{bad.key}.point_lps")
    return Case(
        id=case_id.strip(), laterality=laterality, source=source, lesions=lesions,
        breast_depth_mm=breast_depth, nipple_lps=nipple_lps, note=note,
        render=_read_render(data.get("render"), src), plan=_read_plan(data.get("plan"), src), path=path,
    )


def lesion_from_dict(d: Any, *, key: str = "lesion", source: Path | str | None = None) -> LesionSpec:
    """Validate one ``[[lesion]]`` table; errors name ``key`` and the field."""
    src = source
    if not isinstance(d, dict):
        raise InputError("must be a table", source=src, key=key)
    _check_keys(d, LESION_KEYS, key, src)
    label = d.get("label")
    if not isinstance(label, str) or not label.strip():
        raise InputError(f"needs a non-empty string, got {label!r}", source=src, key=f"{key}.label")
    kind = d.get("kind", "other")
    if kind not in LESION_KINDS:
        raise InputError(f"unknown kind {kind!r}; use one of {', '.join(LESION_KINDS)}", source=src,
                         key=f"{key}.kind")
    spec = LesionSpec(label=label.strip(), kind=kind, key=key)
    spec.size_mm = _opt_float(d, "size_mm", key, src, positive=True)
    if "clock" in d:
        spec.clock = parse_clock(d["clock"], key=f"{key}.clock", source=_s(src))
    if "orifice_clock" in d:
        spec.orifice_clock = parse_clock(d["orifice_clock"], key=f"{key}.orifice_clock", source=_s(src))
    spec.depth_mm = _opt_float(d, "depth_mm", key, src, nonnegative=True)
    spec.fn_mm = _opt_float(d, "fn_mm", key, src, nonnegative=True)
    spec.path_mm = _opt_float(d, "path_mm", key, src, nonnegative=True)
    if "system" in d:
        s = d["system"]
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            raise InputError(f"must be a duct-system id (integer >= 0), got {s!r}", source=src, key=f"{key}.system")
        spec.system = s
    spec.point_bf = _opt_vec3(d, "point_bf", key, src)
    spec.point_lps = _opt_vec3(d, "point_lps", key, src)
    note = d.get("note")
    if note is not None and not isinstance(note, str):
        raise InputError("must be a string", source=src, key=f"{key}.note")
    spec.note = note
    _check_location(spec, d, key, src)
    return spec


def check_unique_labels(lesions: list[LesionSpec], *, source: Path | str | None = None) -> None:
    seen: dict[str, str] = {}
    for les in lesions:
        if les.label in seen:
            raise InputError(f"label {les.label!r} is used twice (also {seen[les.label]})", source=source,
                             key=f"{les.key}.label")
        seen[les.label] = les.key


def _check_location(spec: LesionSpec, d: dict, key: str, src: Path | str | None) -> None:
    """Exactly one way of locating the lesion, complete."""
    ways = []
    if spec.point_bf is not None:
        ways.append("point_bf")
    if spec.point_lps is not None:
        ways.append("point_lps")
    if spec.path_mm is not None:
        ways.append("path_mm")
    if spec.clock is not None or spec.depth_mm is not None or spec.fn_mm is not None:
        ways.append("clock")
    if not ways:
        raise InputError("needs a location: clock + depth_mm, clock + fn_mm, path_mm + orifice_clock "
                         "(or system), point_bf or point_lps", source=src, key=key)
    if len(ways) > 1:
        raise InputError(f"gives several locations ({', '.join(ways)}); give exactly one", source=src, key=key)
    way = ways[0]
    if way == "clock":
        if spec.clock is None:
            raise InputError("depth_mm/fn_mm need a clock", source=src, key=f"{key}.clock")
        if spec.depth_mm is None and spec.fn_mm is None:
            raise InputError("a clock needs depth_mm or fn_mm", source=src, key=f"{key}.depth_mm")
        if spec.depth_mm is not None and spec.fn_mm is not None:
            raise InputError("give depth_mm or fn_mm, not both", source=src, key=f"{key}.fn_mm")
    if way == "path_mm" and spec.orifice_clock is None and spec.system is None:
        raise InputError("path_mm needs the duct: orifice_clock or system", source=src, key=f"{key}.path_mm")


def _read_source(d: Any, folder: Path, src: Path | None) -> SourceSpec:
    if d is None:
        raise InputError("missing [source] table (tree, volume, or cc + lateral; navlog optional)",
                         source=src, key="source")
    if not isinstance(d, dict):
        raise InputError("must be a table", source=src, key="source")
    _check_keys(d, SOURCE_KEYS, "source", src)
    s = SourceSpec()
    for k in SOURCE_PATH_KEYS:
        if k in d:
            v = d[k]
            if not isinstance(v, str) or not v:
                raise InputError(f"must be a path string, got {v!r}", source=src, key=f"source.{k}")
            p = (folder / v).resolve() if not Path(v).is_absolute() else Path(v)
            if not p.exists():
                raise InputError(f"file does not exist: {v}", source=src, key=f"source.{k}")
            from .atomic import protect_input

            protect_input(p)
            setattr(s, k, p)
    primaries = [k for k in ("tree", "volume") if getattr(s, k) is not None]
    if s.cc is not None or s.lateral is not None:
        primaries.append("cc/lateral")
    if len(primaries) > 1:
        raise InputError(f"gives several primary sources ({', '.join(primaries)}); give one "
                         "(a navlog may be added to any)", source=src, key="source")
    if not primaries and s.navlog is None:
        raise InputError("needs a tree source: tree, volume, cc + lateral, or navlog", source=src, key="source")
    s.pixel_spacing_mm = _opt_float(d, "pixel_spacing_mm", "source", src, positive=True)
    s.magnification = _opt_float(d, "magnification", "source", src, positive=True)
    if "lateral_view" in d:
        v = d["lateral_view"]
        if v not in ("ML", "LM"):
            raise InputError(f"must be 'ML' or 'LM', got {v!r}", source=src, key="source.lateral_view")
        s.lateral_view = v
    if "spacing_mm" in d:
        v = d["spacing_mm"]
        vals = [v] * 3 if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        s.spacing_mm = _vec3(vals, "source.spacing_mm", src, positive=True)
    if "label" in d:
        v = d["label"]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise InputError(f"must be a label value (integer >= 1), got {v!r}", source=src, key="source.label")
        s.label = v
    if "nipple_voxel" in d:
        v = d["nipple_voxel"]
        if not (isinstance(v, list) and len(v) == 3 and all(isinstance(i, int) and not isinstance(i, bool) for i in v)):
            raise InputError(f"must be 3 integers [i, j, k], got {v!r}", source=src, key="source.nipple_voxel")
        s.nipple_voxel = (v[0], v[1], v[2])
    return s


def _read_render(d: Any, src: Path | None) -> RenderSpec:
    r = RenderSpec()
    if d is None:
        return r
    if not isinstance(d, dict):
        raise InputError("must be a table", source=src, key="render")
    _check_keys(d, RENDER_KEYS, "render", src)
    if "views" in d:
        views = d["views"]
        if not isinstance(views, list) or not views or not all(isinstance(v, str) for v in views):
            raise InputError(f"must be a non-empty list of view names, got {views!r}", source=src, key="render.views")
        for v in views:
            if v not in KNOWN_VIEWS:
                raise InputError(f"unknown view {v!r}; use {', '.join(KNOWN_VIEWS)}", source=src, key="render.views")
        r.views = tuple(views)
    if "size" in d:
        size = d["size"]
        if not (isinstance(size, list) and len(size) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) and 64 <= x <= 8192 for x in size)):
            raise InputError(f"must be [width, height] in pixels (64..8192), got {size!r}", source=src,
                             key="render.size")
        r.size = (size[0], size[1])
    for k in ("background", "color_by", "colormap"):
        if k in d:
            if not isinstance(d[k], str):
                raise InputError("must be a string", source=src, key=f"render.{k}")
            setattr(r, k, d[k])
    if r.color_by not in ("system", "generation", "radius", "involvement"):
        raise InputError(f"must be system, generation, radius or involvement, got {r.color_by!r}",
                         source=src, key="render.color_by")
    return r


def _read_plan(d: Any, src: Path | None) -> PlanSpec:
    p = PlanSpec()
    if d is None:
        return p
    if not isinstance(d, dict):
        raise InputError("must be a table", source=src, key="plan")
    _check_keys(d, PLAN_KEYS, "plan", src)
    margin = _opt_float(d, "margin_mm", "plan", src, nonnegative=True)
    central = _opt_float(d, "central_excision_mm", "plan", src, positive=True)
    if margin is not None:
        p.margin_mm = margin
    if central is not None:
        p.central_excision_mm = central
    return p


# --------------------------------------------------------------------------- small validators

def _s(src: Path | str | None) -> str | None:
    return None if src is None else str(src)


def _check_keys(d: dict, allowed: set[str], prefix: str, src: Path | str | None) -> None:
    for k in d:
        if k not in allowed:
            where = f"{prefix}.{k}" if prefix else k
            hint = _close_match(k, allowed)
            raise InputError("unknown key" + (f" (did you mean {hint!r}?)" if hint else ""), source=src, key=where)


def _close_match(word: str, options: set[str]) -> str | None:
    import difflib

    m = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.7)
    return m[0] if m else None


def _opt_float(d: dict, k: str, prefix: str, src: Path | str | None, *, positive: bool = False,
               nonnegative: bool = False) -> float | None:
    if k not in d:
        return None
    v = d[k]
    key = f"{prefix}.{k}" if prefix else k
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError(f"must be a number, got {v!r}", source=src, key=key)
    if positive and not v > 0:
        raise InputError(f"must be > 0, got {v!r}", source=src, key=key)
    if nonnegative and v < 0:
        raise InputError(f"must be >= 0, got {v!r}", source=src, key=key)
    return float(v)


def _vec3(v: Any, key: str, src: Path | str | None, *, positive: bool = False) -> tuple[float, float, float]:
    if not (isinstance(v, list) and len(v) == 3 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)):
        raise InputError(f"must be 3 numbers [x, y, z] in mm, got {v!r}", source=src, key=key)
    if positive and not all(x > 0 for x in v):
        raise InputError(f"must be 3 numbers > 0, got {v!r}", source=src, key=key)
    return (float(v[0]), float(v[1]), float(v[2]))


def _opt_vec3(d: dict, k: str, prefix: str, src: Path | str | None) -> tuple[float, float, float] | None:
    if k not in d:
        return None
    return _vec3(d[k], f"{prefix}.{k}" if prefix else k, src)


# --------------------------------------------------------------------------- writing

def case_to_dict(case: Case) -> dict:
    """The TOML-ready dict of a case (paths relative to the case folder where possible)."""
    out: dict[str, Any] = {"id": case.id, "laterality": case.laterality}
    if case.breast_depth_mm is not None:
        out["breast_depth_mm"] = case.breast_depth_mm
    if case.nipple_lps is not None:
        out["nipple_lps"] = list(case.nipple_lps)
    if case.note:
        out["note"] = case.note
    src: dict[str, Any] = {}
    for k in SOURCE_PATH_KEYS:
        p = getattr(case.source, k)
        if p is not None:
            try:
                src[k] = str(Path(p).resolve().relative_to(case.folder.resolve()))
            except ValueError:
                src[k] = str(p)
    for k in ("pixel_spacing_mm", "magnification", "lateral_view", "label"):
        v = getattr(case.source, k)
        if v is not None:
            src[k] = v
    for k in ("spacing_mm", "nipple_voxel"):
        v = getattr(case.source, k)
        if v is not None:
            src[k] = list(v)
    out["source"] = src
    lesions = []
    for les in case.lesions:
        d: dict[str, Any] = {"label": les.label, "kind": les.kind}
        for k in ("size_mm", "depth_mm", "fn_mm", "path_mm", "system", "note"):
            v = getattr(les, k)
            if v is not None:
                d[k] = v
        from .frame import format_clock

        for k in ("clock", "orifice_clock"):
            v = getattr(les, k)
            if v is not None:
                d[k] = format_clock(v)
        for k in ("point_bf", "point_lps"):
            v = getattr(les, k)
            if v is not None:
                d[k] = list(v)
        lesions.append(d)
    if lesions:
        out["lesion"] = lesions
    return out


def write_case(case: Case, path: str | PathLike) -> Path:
    """Write a case as TOML, atomically."""
    import tomli_w

    from .atomic import write_text

    p = Path(path)
    case.path = p
    return write_text(p, tomli_w.dumps(case_to_dict(case)))
