"""Lesion specifications -> lesions located on the ductal tree, with ambiguity made plain.

A :class:`~ductree.case.LesionSpec` says where a lesion is in the words of a
clinician; :func:`place_lesions` puts it on a duct of the tree:

``clock + depth_mm``
    a ray in the coronal plane ``y = depth_mm`` (BF), from the nipple axis
    toward the clock direction. Any duct passing near the ray fits.
``clock + fn_mm``
    a line parallel to the depth axis through the point at that clock and
    coronal distance from the nipple. Any duct passing near it fits.
``path_mm`` + ``orifice_clock`` (or ``system``)
    the point ``path_mm`` along the duct from that orifice. Every branch
    that reaches that length is a candidate; distinct ones make the
    placement ambiguous, and the main stem (at each fork the child of
    highest Strahler order, then the widest) is chosen.
``point_bf`` / ``point_lps``
    an exact point; the nearest duct fits.

**The discharging duct.** ``orifice_clock`` (or ``system``) beside a clock,
or a point, names the duct system the lesion is in (the pore that
discharges, the duct that was cannulated): only that system's ducts fit.
An orifice clock that matches no orifice leaves the lesion ``unplaced``,
naming the nearest orifice.

**Tolerance.** A stated clock is rounded: a half hour covers 15 degrees, so
the true direction lies within +/-7.5 degrees of it (+/-3.75 for quarter
hours, ...); the lateral tolerance therefore grows with the distance from the
nipple. A stated depth or fn is rounded to its last digit (+/-0.5 mm for
whole millimetres). On top come the duct's radius there (the lesion sits in
the duct, not necessarily on its centreline), a small fixed slack
(``base_tolerance_mm``, 0.5 mm) and the source's uncertainty
(``uncertainty_mm``, a bound on the position error: default 0 for a case
file, 2 mm for a ductogram, 3 mm for a scope log; pass a larger one when the
stated position is rough).
Each duct point gets a *misfit*: its lateral and depth (or radial) errors
divided by those tolerances, combined as a hypotenuse; a duct fits when its
best point has misfit <= 1.

**Ambiguity.** Rounding error is uniform and ``uncertainty_mm`` is a bound
(the true position lies within it), so every duct inside the tolerance fits
a spec equally well: the spec cannot tell them apart, and choosing the
nearest one with confidence would sometimes be confidently wrong. Fitting
ducts are grouped into *distinct* candidates that together cover every
fitting stretch of duct: a stretch is covered by a candidate of its system
when both its ends lie within ``branch_separation_mm`` of it along the tree;
a stretch longer than that (a duct running along the stated ray) lists its
far ends as candidates too. One distinct candidate: ``placed`` -- then every
duct point that fits, the true one among them, lies within
``branch_separation_mm`` of the chosen point. Several: ``ambiguous`` (``ambiguity``
says ``"system"`` when several duct systems fit, ``"branch"`` when one
system fits at branches far apart) — all are listed with their distances,
and the one with the smallest misfit is chosen (ties: wider duct, lower
system id, earlier row), so the result is deterministic. For an exact point
the tolerance is the duct radius + slack + uncertainty: a lesion grows in a
duct's lumen, so its centre lies within the (distended) duct.
No fitting duct: ``unplaced``, with the nearest duct and its distance; a
lesion is never forced onto a duct that does not fit.

Snapping is onto the centreline polyline: each segment (parent node to child
node) is projected onto, and radius and ``path_mm`` are interpolated along
it. Anastomosis edges are ignored (placement uses the primary spanning
forest, like :mod:`ductree.measures`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .case import LesionSpec
from .errors import InputError
from .frame import (
    QUADRANT_NAMES,
    clock_difference_h,
    clock_of_point,
    format_clock,
    locate_point,
    orifice_text,
    parse_laterality,
)
from .measures import child_count, generation, path_mm, segment_length, strahler
from .tree import DuctTree

#: Fixed slack added to every tolerance (mm), on top of rounding and duct radius: numerical and
#: reading slack only. Real measurement error belongs in ``uncertainty_mm`` (per source).
BASE_TOLERANCE_MM = 0.5
#: Two fitting points of one system further apart than this along the tree are distinct candidates (mm).
BRANCH_SEPARATION_MM = 10.0
#: Source uncertainty (mm) used when the caller gives none, by ``LesionSpec.origin``.
DEFAULT_UNCERTAINTY_MM = {"case": 0.0, "navlog": 3.0, "ductogram": 2.0}
#: An orifice clock matches a system's orifice within its rounding plus this slack (hours).
ORIFICE_SLACK_H = 0.25
#: Sampling step along candidate segments when minimising the misfit (mm).
SAMPLE_STEP_MM = 0.2
#: Length of the segment standing in for an infinite ray or line (mm); longer than any breast.
_FAR_MM = 2000.0

STATUSES = ("placed", "ambiguous", "unplaced")


# --------------------------------------------------------------------------- results

@dataclass
class Candidate:
    """One duct a spec fits: the best point of a distinct branch or system (BF mm).

    ``node`` is the child end of the segment the point lies on (``parent_node``
    its other end; equal for a one-node system), ``t`` the fraction along it.
    ``distance_mm`` is from the stated ray, line or point to the duct
    centreline; ``misfit`` is the normalised error (<= 1 inside the tolerance).
    """

    system: int
    orifice_clock: float | None
    node: Any
    parent_node: Any
    t: float
    point_bf: tuple[float, float, float]
    path_mm: float
    generation: int
    radius_mm: float
    distance_mm: float
    misfit: float
    row: int = field(default=-1, repr=False)
    note: str = ""

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("row")
        d["orifice_clock_text"] = format_clock(self.orifice_clock)
        d["point_bf"] = list(self.point_bf)
        return d


@dataclass
class LocatedLesion:
    """A lesion placed on the tree (or reported unplaced), with where it is in clinical words.

    Positions are BF mm (``point_lps`` is patient LPS mm when the case knows
    its nipple, else ``None``). For ``placed`` and ``ambiguous`` the
    placement fields describe the chosen candidate (``candidates[0]``); for
    ``unplaced`` they are ``None`` and ``nearest`` names the closest duct.
    """

    label: str
    kind: str
    size_mm: float | None
    method: str
    origin: str
    status: str
    reason: str
    laterality: str
    spec: dict
    uncertainty_mm: float
    tolerance: dict
    point_bf: tuple[float, float, float] | None = None
    point_lps: tuple[float, float, float] | None = None
    node: Any = None
    parent_node: Any = None
    t: float | None = None
    row: int | None = None
    system: int | None = None
    orifice_clock: float | None = None
    path_mm: float | None = None
    generation: int | None = None
    radius_mm: float | None = None
    distance_mm: float | None = None
    misfit: float | None = None
    clock: float | None = None
    clock_half_hour: str | None = None
    clock_exact: str | None = None
    quadrant: str | None = None
    quadrant_name: str | None = None
    side: str | None = None
    region: str | None = None
    depth_mm: float | None = None
    fn_mm: float | None = None
    distance_from_nipple_mm: float | None = None
    depth_third: str | None = None
    nearest_other_system: int | None = None
    nearest_other_system_mm: float | None = None
    candidates: list[Candidate] = field(default_factory=list)
    nearest: dict | None = None
    #: for an ambiguous placement: "system" (several duct systems fit) or "branch" (one system,
    #: branches far apart along the tree); None otherwise
    ambiguity: str | None = None

    @property
    def located(self) -> bool:
        """True when placed or ambiguous (a duct was chosen)."""
        return self.status != "unplaced"

    @property
    def ambiguous(self) -> bool:
        return self.status == "ambiguous"

    @property
    def segment(self) -> tuple[Any, Any] | None:
        """(parent node id, child node id) of the duct segment the lesion lies on."""
        return None if self.node is None else (self.parent_node, self.node)

    def as_dict(self) -> dict:
        """A JSON-ready dict (tuples as lists, numpy scalars as Python numbers)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("candidates", "row")}
        d["candidates"] = [c.as_dict() for c in self.candidates]
        for k in ("point_bf", "point_lps"):
            if d[k] is not None:
                d[k] = [float(x) for x in d[k]]
        d["orifice_clock_text"] = format_clock(self.orifice_clock)
        return _plain(d)


# --------------------------------------------------------------------------- public API

def place_lesions(
    tree: DuctTree,
    specs: Sequence[LesionSpec],
    *,
    laterality: str,
    breast_depth_mm: float | None = None,
    nipple_lps: Sequence[float] | None = None,
    uncertainty_mm: float | Mapping[str, float] | None = None,
    base_tolerance_mm: float = BASE_TOLERANCE_MM,
    branch_separation_mm: float = BRANCH_SEPARATION_MM,
) -> list[LocatedLesion]:
    """Place lesion specs on the tree (BF mm); one :class:`LocatedLesion` per spec, in order.

    Parameters
    ----------
    tree : DuctTree
        The ductal tree, BF mm.
    specs : sequence of LesionSpec
        The lesions as stated. All are validated first; the first bad one
        raises :class:`InputError` naming the lesion and the field.
    laterality : {"L", "R"}
        The case's breast. A spec whose own ``laterality`` differs is refused.
    breast_depth_mm : float, optional
        Nipple-to-chest-wall depth (mm); enables depth thirds.
    nipple_lps : 3 floats, optional
        The nipple in patient LPS (mm): needed for ``point_lps`` specs, and
        gives each located lesion its ``point_lps``.
    uncertainty_mm : float or {label: float}, optional
        The source's position uncertainty (mm), widening every tolerance.
        Default by origin: :data:`DEFAULT_UNCERTAINTY_MM`.
    base_tolerance_mm, branch_separation_mm : float
        See the module docstring.

    Returns
    -------
    list of LocatedLesion
        status ``placed``, ``ambiguous`` (all candidates listed, one chosen
        deterministically) or ``unplaced`` (with the nearest duct).
    """
    lat = parse_laterality(laterality)
    if tree.number_of_nodes() == 0:
        raise InputError("the tree is empty: no duct to place a lesion on")
    nip = None if nipple_lps is None else np.asarray(nipple_lps, dtype=float).reshape(3)
    _check_specs(specs, lat, nip)
    if not base_tolerance_mm >= 0 or not branch_separation_mm >= 0:
        raise InputError("tolerances must be >= 0 mm", key="base_tolerance_mm")
    geo = _segments(tree)
    out = []
    for spec in specs:
        unc = _uncertainty(spec, uncertainty_mm)
        out.append(_place_one(tree, geo, spec, lat, breast_depth_mm, nip, unc,
                              base_tolerance_mm, branch_separation_mm))
    return out


def locate_spec(tree: DuctTree, spec: LesionSpec, *, laterality: str, uncertainty_mm: float | None = None,
                **kwargs: Any) -> LocatedLesion:
    """Place one spec (see :func:`place_lesions`)."""
    unc = {spec.label: uncertainty_mm} if uncertainty_mm is not None else None
    return place_lesions(tree, [spec], laterality=laterality, uncertainty_mm=unc, **kwargs)[0]


def clock_rounding_h(hours: float) -> float:
    """The rounding step a stated clock implies (hours): 0.5, 0.25, 1/12 (5 min) or 1/60.

    Whole and half hours are on the half-hour grid clinicians use (+/-7.5 degrees).

    Examples
    --------
    >>> clock_rounding_h(10.5), clock_rounding_h(10.75), clock_rounding_h(10 + 10 / 60)
    (0.5, 0.25, 0.08333333333333333)
    """
    for step in (0.5, 0.25, 1.0 / 12.0):
        k = hours / step
        if abs(k - round(k)) < 1e-6:
            return step
    return 1.0 / 60.0


def length_rounding_mm(value: float) -> float:
    """The rounding step a stated length implies (mm): 1, 0.5 or 0.1 (and finer below).

    Examples
    --------
    >>> length_rounding_mm(18), length_rounding_mm(18.5), length_rounding_mm(18.25)
    (1.0, 0.5, 0.05)
    """
    for step in (1.0, 0.5, 0.1, 0.05, 0.01):
        k = value / step
        if abs(k - round(k)) < 1e-6:
            return step
    return 0.001


def spec_summary(spec: LesionSpec) -> dict:
    """What was stated, as a small JSON-ready dict (clock values as hours and as text)."""
    d: dict[str, Any] = {"method": _method(spec)}
    for k in ("clock", "orifice_clock"):
        v = getattr(spec, k)
        if v is not None:
            d[k] = float(v)
            d[k + "_text"] = format_clock(v)
    for k in ("depth_mm", "fn_mm", "path_mm", "system", "size_mm"):
        v = getattr(spec, k)
        if v is not None:
            d[k] = v
    for k in ("point_bf", "point_lps"):
        v = getattr(spec, k)
        if v is not None:
            d[k] = [float(x) for x in v]
    if spec.laterality is not None:
        d["laterality"] = spec.laterality
    return d


# --------------------------------------------------------------------------- validation

def _where(spec: LesionSpec, fld: str) -> str:
    base = spec.key or f"lesion {spec.label!r}"
    return f"{base}.{fld}"


def _check_specs(specs: Sequence[LesionSpec], lat: str, nip: np.ndarray | None) -> None:
    seen: dict[str, LesionSpec] = {}
    for spec in specs:
        if not isinstance(spec, LesionSpec):
            raise TypeError(f"expected LesionSpec objects, got {type(spec).__name__}")
        label = spec.label
        if not isinstance(label, str) or not label.strip():
            raise InputError(f"needs a non-empty label, got {label!r}", key=_where(spec, "label"))
        if label in seen:
            other = seen[label].key or "another lesion"
            raise InputError(f"lesion {label!r}: label is used twice (also {other})", key=_where(spec, "label"))
        seen[label] = spec
        who = f"lesion {label!r}"
        if spec.laterality is not None:
            try:
                slat = parse_laterality(spec.laterality)
            except InputError:
                raise InputError(f"{who}: laterality must be 'L' or 'R', got {spec.laterality!r}",
                                 key=_where(spec, "laterality")) from None
            if slat != lat:
                raise InputError(f"{who}: stated on the {_side_word(slat)} breast ({slat}) but the case is the "
                                 f"{_side_word(lat)} breast ({lat})", key=_where(spec, "laterality"))
        for k in ("clock", "orifice_clock"):
            v = getattr(spec, k)
            if v is not None and not (_is_number(v) and 0 < float(v) <= 12):
                raise InputError(f"{who}: bad clock position {v!r}: must be in (0, 12]", key=_where(spec, k))
        for k in ("depth_mm", "fn_mm", "path_mm"):
            v = getattr(spec, k)
            if v is not None and not (_is_number(v) and float(v) >= 0):
                raise InputError(f"{who}: must be a number >= 0 mm, got {v!r}", key=_where(spec, k))
        if spec.size_mm is not None and not (_is_number(spec.size_mm) and float(spec.size_mm) > 0):
            raise InputError(f"{who}: must be a number > 0 mm, got {spec.size_mm!r}", key=_where(spec, "size_mm"))
        for k in ("point_bf", "point_lps"):
            v = getattr(spec, k)
            if v is not None:
                arr = np.asarray(v, dtype=float).reshape(-1) if _is_vec(v) else None
                if arr is None or arr.shape != (3,) or not np.all(np.isfinite(arr)):
                    raise InputError(f"{who}: must be 3 finite numbers in mm, got {v!r}", key=_where(spec, k))
        if spec.system is not None and (not isinstance(spec.system, (int, np.integer)) or isinstance(spec.system, bool)):
            raise InputError(f"{who}: must be a duct-system id, got {spec.system!r}", key=_where(spec, "system"))
        m = _method(spec)
        if m is None:
            raise InputError(f"{who}: needs a location: clock + depth_mm, clock + fn_mm, path_mm + orifice_clock "
                             "(or system), point_bf or point_lps", key=_where(spec, "clock"))
        if m == "point_lps" and nip is None:
            raise InputError(f"{who}: point_lps needs the case's nipple_lps", key=_where(spec, "point_lps"))


def _method(spec: LesionSpec) -> str | None:
    if spec.point_bf is not None:
        return "point_bf"
    if spec.point_lps is not None:
        return "point_lps"
    if spec.path_mm is not None:
        return "path" if (spec.orifice_clock is not None or spec.system is not None) else None
    if spec.clock is not None and spec.depth_mm is not None:
        return "clock+depth"
    if spec.clock is not None and spec.fn_mm is not None:
        return "clock+fn"
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def _is_vec(v: Any) -> bool:
    try:
        return all(_is_number(x) for x in v)
    except TypeError:
        return False


def _side_word(lat: str) -> str:
    return "left" if lat == "L" else "right"


def _uncertainty(spec: LesionSpec, given: float | Mapping[str, float] | None) -> float:
    if isinstance(given, Mapping):
        v = given.get(spec.label)
    else:
        v = given
    if v is None:
        v = spec.uncertainty_mm  # the source's own figure (a scope log's dead-reckoning sigma)
    if v is None:
        v = DEFAULT_UNCERTAINTY_MM.get(spec.origin, 0.0)
    if not (_is_number(v) and v >= 0):
        raise InputError(f"lesion {spec.label!r}: uncertainty must be a number >= 0 mm, got {v!r}",
                         key=_where(spec, "uncertainty_mm"))
    return float(v)


# --------------------------------------------------------------------------- tree geometry

@dataclass(frozen=True)
class _Segments:
    """Every centreline segment (parent row -> child row), as arrays; BF mm."""

    child: np.ndarray      # (S,) child row
    parent: np.ndarray     # (S,) parent row (== child for a one-node system)
    a: np.ndarray          # (S, 3) parent end
    b: np.ndarray          # (S, 3) child end
    ra: np.ndarray
    rb: np.ndarray
    length: np.ndarray
    pm_a: np.ndarray       # path_mm at the parent end
    system: np.ndarray
    generation: np.ndarray
    node_pm: np.ndarray    # (N,) path_mm per row
    parent_index: np.ndarray
    depth: np.ndarray      # (N,) number of edges from the root, per row

    def point(self, s: int, t: float) -> np.ndarray:
        return self.a[s] + t * (self.b[s] - self.a[s])

    def radius(self, s: int, t: float) -> float:
        return float(self.ra[s] + t * (self.rb[s] - self.ra[s]))

    def pm(self, s: int, t: float) -> float:
        return float(self.pm_a[s] + t * self.length[s])


def _segments(tree: DuctTree) -> _Segments:
    return tree.cached("lesions.segments", _build_segments)


def _build_segments(tree: DuctTree) -> _Segments:
    par = tree.parent_index
    pos, rad = tree.positions, tree.radii
    n = len(par)
    child = np.flatnonzero(par >= 0)
    parent = par[child]
    # A system made of its root alone still needs a (zero-length) segment to snap to.
    cc = child_count(tree)
    lonely = np.flatnonzero((par < 0) & (cc == 0))
    child = np.concatenate([child, lonely])
    parent = np.concatenate([parent, lonely])
    pm = path_mm(tree)
    depth = np.zeros(n, dtype=np.int64)
    for i, p in enumerate(par.tolist()):
        if p >= 0:
            depth[i] = depth[p] + 1
    seg = segment_length(tree)
    return _Segments(
        child=child, parent=parent, a=pos[parent], b=pos[child], ra=rad[parent], rb=rad[child],
        length=np.where(child == parent, 0.0, seg[child]), pm_a=pm[parent],
        system=tree.system_ids[child], generation=generation(tree)[child],
        node_pm=pm, parent_index=par, depth=depth,
    )


def point_segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from points (M, 3) to segments a->b (S, 3): returns ``(d, t)``, each (M, S).

    ``t`` in [0, 1] is where along each segment the closest point lies.
    """
    p = np.asarray(points, dtype=float).reshape(-1, 1, 3)
    ab = (b - a)[None]
    ap = p - a[None]
    denom = np.einsum("msk,msk->ms", ab, ab)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(denom > 1e-18, np.einsum("msk,msk->ms", ap, ab) / np.where(denom > 1e-18, denom, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    closest = a[None] + t[..., None] * ab
    d = np.linalg.norm(p - closest, axis=-1)
    return d, t


def segment_segment_distance(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest approach of segments p1->q1 and p2->q2 (broadcast over rows; mm).

    Returns ``(d, s, t)``: the distance and the fractions along the first and
    second segment of the closest points (clamped to [0, 1]). Handles
    parallel and zero-length segments.
    """
    p1, q1, p2, q2 = (np.asarray(x, dtype=float) for x in (p1, q1, p2, q2))
    d1, d2 = q1 - p1, q2 - p2
    r = p1 - p2
    a = np.sum(d1 * d1, -1)
    e = np.sum(d2 * d2, -1)
    f = np.sum(d2 * r, -1)
    c = np.sum(d1 * r, -1)
    b = np.sum(d1 * d2, -1)
    a, e, f, c, b = np.broadcast_arrays(a, e, f, c, b)
    eps = 1e-12
    safe_a = np.where(a > eps, a, 1.0)
    safe_e = np.where(e > eps, e, 1.0)
    denom = a * e - b * b
    s = np.where(denom > eps * np.maximum(a * e, eps), np.clip((b * f - c * e) / np.where(denom > 0, denom, 1.0), 0, 1), 0.0)
    t = (b * s + f) / safe_e
    s = np.where(t < 0, np.clip(-c / safe_a, 0, 1), np.where(t > 1, np.clip((b - c) / safe_a, 0, 1), s))
    t = np.clip(t, 0, 1)
    # Degenerate first segment (a point): closest point on the second.
    s = np.where(a > eps, s, 0.0)
    t = np.where(a > eps, t, np.clip(f / safe_e, 0, 1))
    # Degenerate second segment.
    s = np.where(e > eps, s, np.clip(-c / safe_a, 0, 1))
    t = np.where(e > eps, t, 0.0)
    s = np.where((a <= eps) & (e <= eps), 0.0, s)
    c1 = p1 + s[..., None] * d1
    c2 = p2 + t[..., None] * d2
    return np.linalg.norm(c1 - c2, axis=-1), s, t


def tree_distance_mm(geo: _Segments, s1: int, t1: float, s2: int, t2: float) -> float:
    """Distance along the tree (mm) between two points on segments of one system."""
    i, j = int(geo.child[s1]), int(geo.child[s2])
    pa, pb = geo.pm(s1, t1), geo.pm(s2, t2)
    if i == j:
        return abs(pa - pb)
    lca = _lca(geo, i, j)
    if lca == i:
        return pb - pa
    if lca == j:
        return pa - pb
    return pa + pb - 2.0 * float(geo.node_pm[lca])


def _lca(geo: _Segments, i: int, j: int) -> int:
    par, depth = geo.parent_index, geo.depth
    while depth[i] > depth[j]:
        i = int(par[i])
    while depth[j] > depth[i]:
        j = int(par[j])
    while i != j:
        i, j = int(par[i]), int(par[j])
        if i < 0 or j < 0:
            return -1
    return i


# --------------------------------------------------------------------------- misfit

@dataclass
class _Fit:
    """Per-segment best fit of one spec: arrays over the segments examined."""

    seg: np.ndarray        # segment indices
    t: np.ndarray
    misfit: np.ndarray
    distance: np.ndarray   # mm, from the stated ray/line/point to the centreline point
    t_lo: np.ndarray       # the stretch of each segment that fits (misfit <= 1), as fractions along it;
    t_hi: np.ndarray       # widened by one sampling step, so the true point is never outside it

    def keep(self, ok: np.ndarray) -> "_Fit":
        return _Fit(self.seg[ok], self.t[ok], self.misfit[ok], self.distance[ok], self.t_lo[ok], self.t_hi[ok])

    @staticmethod
    def empty() -> "_Fit":
        z = np.zeros(0)
        return _Fit(np.zeros(0, dtype=np.int64), z, z, z, z, z)


def _ray_fit(geo: _Segments, clock: float, depth: float | None, fn: float | None, base: float,
             unc: float) -> tuple[_Fit, np.ndarray, dict]:
    """Fit of every segment to a clock + depth ray or a clock + fn line.

    Returns the refined fit of the segments that can fit, the (S,) exact
    centreline distance of every segment to the ray/line, and the tolerances.
    """
    theta = math.radians(clock * 30.0)
    sin_t, cos_t = math.sin(theta), math.cos(theta)
    u = np.array([sin_t, 0.0, cos_t])
    ang = math.radians(clock_rounding_h(clock) / 2.0 * 30.0)
    slack = base + unc
    if depth is not None:
        along_tol = length_rounding_mm(depth) / 2.0
        o = np.array([0.0, depth, 0.0])
        d_seg, _, _ = segment_segment_distance(geo.a, geo.b, o, o + _FAR_MM * u)
        fn_hi = np.maximum(np.hypot(geo.a[:, 0], geo.a[:, 2]), np.hypot(geo.b[:, 0], geo.b[:, 2]))
        r_hi = np.maximum(geo.ra, geo.rb)
        bound = np.hypot(fn_hi * math.tan(ang) + r_hi + slack, along_tol + r_hi + slack)
        tol = {"clock_deg": math.degrees(ang), "lateral_mm_per_mm_fn": math.tan(ang),
               "depth_mm": along_tol, "slack_mm": slack, "plus": "duct radius"}
    else:
        assert fn is not None
        along_tol = length_rounding_mm(fn) / 2.0
        c2 = fn * u
        d_seg, _, _ = segment_segment_distance(geo.a, geo.b, c2 - [0, _FAR_MM, 0], c2 + [0, _FAR_MM, 0])
        r_hi = np.maximum(geo.ra, geo.rb)
        bound = np.hypot((fn + along_tol + r_hi + slack) * math.tan(ang) + r_hi + slack, along_tol + r_hi + slack)
        tol = {"clock_deg": math.degrees(ang), "tangential_mm": fn * math.tan(ang), "fn_mm": along_tol,
               "slack_mm": slack, "plus": "duct radius"}
    cand = np.flatnonzero(d_seg <= bound + 1e-9)
    if len(cand) == 0:
        return _Fit.empty(), d_seg, tol
    def evaluate(seg: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = geo.a[seg] + t[:, None] * (geo.b[seg] - geo.a[seg])
        r = geo.ra[seg] + t * (geo.rb[seg] - geo.ra[seg])
        along = p[:, 0] * sin_t + p[:, 2] * cos_t
        perp = np.abs(p[:, 0] * cos_t - p[:, 2] * sin_t)
        if depth is not None:
            e_lat = np.where(along >= 0, perp, np.hypot(p[:, 0], p[:, 2]))
            e_ax = p[:, 1] - depth
            tol_lat = np.maximum(along, 0.0) * math.tan(ang) + r + slack
            dist = np.hypot(e_lat, e_ax)
        else:
            e_lat = perp
            e_ax = along - fn
            tol_lat = np.maximum(along, 0.0) * math.tan(ang) + r + slack
            dist = np.hypot(np.hypot(e_lat, e_ax), np.minimum(p[:, 1], 0.0))
        tol_ax = along_tol + r + slack
        return np.hypot(e_lat / tol_lat, e_ax / tol_ax), dist

    return _fit_segments(geo, cand, evaluate), d_seg, tol


def _fit_segments(geo: _Segments, cand: np.ndarray, evaluate) -> _Fit:
    """Sample the candidate segments every SAMPLE_STEP_MM; keep those whose best point fits (misfit <= 1)."""
    n = np.maximum(2, np.ceil(geo.length[cand] / SAMPLE_STEP_MM).astype(np.int64) + 1)
    t_best, m_best, d_best, t_lo, t_hi = _minimise_on_segments(cand, n, evaluate, refine=True)
    fit = _Fit(cand, t_best, m_best, d_best, t_lo, t_hi)
    return fit.keep(m_best <= 1.0)


def _minimise_on_segments(cand: np.ndarray, n: np.ndarray, evaluate, *, refine: bool
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Smallest ``evaluate(seg, t)`` on each segment, sampled at ``n`` points (then refined 20x finer).

    Also returns the extent ``(t_lo, t_hi)`` of the samples with value <= 1 on each segment, widened
    by one sampling step on each side (and always containing the best point).
    """
    owner = np.repeat(np.arange(len(cand)), n)
    starts = np.concatenate([[0], np.cumsum(n)[:-1]])
    t = (np.arange(owner.size) - starts[owner]) / (n[owner] - 1)
    m, dist = evaluate(cand[owner], t)
    order = np.lexsort((m, owner))
    first = order[np.r_[0, np.flatnonzero(np.diff(owner[order])) + 1]]
    t_best, m_best, d_best = t[first], m[first], dist[first]
    inside = m <= 1.0
    t_lo = np.full(len(cand), np.inf)
    t_hi = np.full(len(cand), -np.inf)
    np.minimum.at(t_lo, owner[inside], t[inside])
    np.maximum.at(t_hi, owner[inside], t[inside])
    if refine:
        k = 21
        step = 1.0 / (n - 1)
        offs = np.linspace(-1.0, 1.0, k)
        t2 = np.clip(t_best[:, None] + offs[None, :] * step[:, None], 0.0, 1.0).reshape(-1)
        owner2 = np.repeat(np.arange(len(cand)), k)
        m2, d2 = evaluate(cand[owner2], t2)
        j = np.argmin(m2.reshape(-1, k), axis=1)
        rows = np.arange(len(cand)) * k + j
        better = m2[rows] < m_best
        t_best = np.where(better, t2[rows], t_best)
        m_best = np.where(better, m2[rows], m_best)
        d_best = np.where(better, d2[rows], d_best)
    step = 1.0 / (n - 1)
    t_lo = np.clip(np.minimum(t_lo, t_best) - step, 0.0, 1.0)
    t_hi = np.clip(np.maximum(t_hi, t_best) + step, 0.0, 1.0)
    return t_best, m_best, d_best, t_lo, t_hi


def _point_fit(geo: _Segments, point: np.ndarray, base: float, unc: float
               ) -> tuple[_Fit, np.ndarray, dict]:
    d, t_proj = point_segment_distance(point, geo.a, geo.b)
    d, t_proj = d[0], t_proj[0]
    slack = base + unc
    tol = {"slack_mm": slack, "plus": "duct radius"}
    cand = np.flatnonzero(d <= np.maximum(geo.ra, geo.rb) + slack + 1e-9)
    if len(cand) == 0:
        return _Fit.empty(), d, tol

    def evaluate(seg: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = geo.a[seg] + t[:, None] * (geo.b[seg] - geo.a[seg])
        r = geo.ra[seg] + t * (geo.rb[seg] - geo.ra[seg])
        dist = np.linalg.norm(p - point, axis=1)
        return dist / (r + slack), dist

    fit = _fit_segments(geo, cand, evaluate)
    # The exact foot of the perpendicular beats any sample when it fits as well.
    t = t_proj[fit.seg]
    m, dist = evaluate(fit.seg, t)
    better = m <= fit.misfit
    fit.t, fit.misfit, fit.distance = (np.where(better, t, fit.t), np.where(better, m, fit.misfit),
                                       np.where(better, dist, fit.distance))
    return fit, d, tol


# --------------------------------------------------------------------------- placing one spec

def _place_one(tree: DuctTree, geo: _Segments, spec: LesionSpec, lat: str, breast_depth: float | None,
               nip: np.ndarray | None, unc: float, base: float, sep: float) -> LocatedLesion:
    method = _method(spec)
    assert method is not None
    out = LocatedLesion(
        label=spec.label, kind=spec.kind, size_mm=spec.size_mm, method=method, origin=spec.origin,
        status="unplaced", reason="", laterality=lat, spec=spec_summary(spec), uncertainty_mm=unc,
        tolerance={},
    )
    if method == "path":
        return _place_path(tree, geo, spec, out, lat, breast_depth, nip, sep)
    if method in ("clock+depth", "clock+fn"):
        fit, d_all, tol = _ray_fit(geo, float(spec.clock), spec.depth_mm, spec.fn_mm, base, unc)
    else:
        p = np.asarray(spec.point_bf if method == "point_bf" else np.asarray(spec.point_lps) - nip, dtype=float)
        out.spec["point_bf"] = [float(x) for x in p]
        fit, d_all, tol = _point_fit(geo, p, base, unc)
    out.tolerance = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in tol.items()}
    # The discharging duct named beside the position (orifice_clock or system): only its system fits.
    named = _named_systems(tree, geo, spec, out)
    if named is not None:
        if not named:
            _fill_spec_location(out, spec, method, nip, lat, breast_depth)
            return out
        fit = fit.keep(np.isin(geo.system[fit.seg], named))
        d_all = np.where(np.isin(geo.system, named), d_all, np.inf)
    if len(fit.seg) == 0:
        k = int(np.argmin(d_all))
        near = _candidate(tree, geo, k, _closest_t(geo, k, spec, method, nip), float(d_all[k]), math.inf)
        out.nearest = near.as_dict()
        out.reason = (f"no duct fits {_spec_words(spec)} within tolerance; the nearest duct is system "
                      f"{near.system} ({orifice_text(near.orifice_clock)}) at {d_all[k]:.1f} mm")
        _fill_spec_location(out, spec, method, nip, lat, breast_depth)
        return out
    clusters = _cluster(tree, geo, fit, sep)
    best = clusters[0]
    # Rounding and bounded uncertainty are uniform: everything inside the tolerance fits equally.
    close = clusters[1:]
    out.candidates = clusters
    if close:
        out.status = "ambiguous"
        fits = [best, *close]
        out.ambiguity = "system" if len({c.system for c in fits}) > 1 else "branch"
        alts = ", ".join(f"system {c.system} ({orifice_text(c.orifice_clock)}) path {c.path_mm:.0f} mm "
                         f"at {c.distance_mm:.1f} mm" for c in fits)
        n_sys = len({c.system for c in fits})
        what = (f"places in {n_sys} duct systems" if out.ambiguity == "system"
                else f"places along system {best.system}")
        out.reason = (f"{len(fits)} distinct {what} fit {_spec_words(spec)}: {alts}; "
                      f"chose the best fit (smallest misfit; ties: wider duct, lower system id)"
                      f"{_disambiguation_hint(spec, method, out.ambiguity)}")
    else:
        out.status = "placed"
        out.reason = f"one duct fits {_spec_words(spec)}"
    _fill_placement(out, tree, geo, best, lat, breast_depth, nip)
    return out


def _disambiguation_hint(spec: LesionSpec, method: str, ambiguity: str) -> str:
    """What more the user could state to settle an ambiguous placement."""
    if ambiguity == "system" and spec.orifice_clock is None and spec.system is None:
        return "; naming the discharging pore (orifice_clock) would settle which duct system"
    if method in ("clock+depth", "clock+fn"):
        return "; a point (point_bf/point_lps) or path_mm from the orifice would settle which branch"
    return ""


def _closest_t(geo: _Segments, k: int, spec: LesionSpec, method: str, nip: np.ndarray | None) -> float:
    if method in ("point_bf", "point_lps"):
        p = np.asarray(spec.point_bf if method == "point_bf" else np.asarray(spec.point_lps) - nip, dtype=float)
        _, t = point_segment_distance(p, geo.a[k:k + 1], geo.b[k:k + 1])
        return float(t[0, 0])
    theta = math.radians(float(spec.clock) * 30.0)
    u = np.array([math.sin(theta), 0.0, math.cos(theta)])
    if method == "clock+depth":
        o = np.array([0.0, float(spec.depth_mm), 0.0])
        _, s, _ = segment_segment_distance(geo.a[k], geo.b[k], o, o + _FAR_MM * u)
    else:
        c2 = float(spec.fn_mm) * u
        _, s, _ = segment_segment_distance(geo.a[k], geo.b[k], c2 - [0, _FAR_MM, 0], c2 + [0, _FAR_MM, 0])
    return float(s)


def _cluster(tree: DuctTree, geo: _Segments, fit: _Fit, sep: float) -> list[Candidate]:
    """Distinct candidates, best first, that together cover every duct stretch that fits.

    A fitting stretch is *covered* by a candidate of its system when both its
    ends lie within ``sep`` of the candidate along the tree. Each stretch not
    yet covered adds its best point as a candidate, and its own ends when the
    stretch is longer than ``sep`` reaches (a duct running along the stated
    ray). So a single candidate means every duct point that fits -- the true
    one among them -- lies within ``sep`` of the chosen point: ``placed``
    cannot be wrong by more than ``sep`` when the tolerance holds.
    """
    radius = geo.ra[fit.seg] + fit.t * (geo.rb[fit.seg] - geo.ra[fit.seg])
    order = np.lexsort((geo.child[fit.seg], geo.system[fit.seg], -radius, np.round(fit.misfit, 9)))
    reps: list[tuple[int, float]] = []
    out: list[Candidate] = []

    def covered(s: int, lo: float, hi: float) -> bool:
        return any(geo.system[s] == geo.system[s2] and tree_distance_mm(geo, s, lo, s2, t2) <= sep
                   and tree_distance_mm(geo, s, hi, s2, t2) <= sep for s2, t2 in reps)

    for k in order.tolist():
        s, t, lo, hi = int(fit.seg[k]), float(fit.t[k]), float(fit.t_lo[k]), float(fit.t_hi[k])
        if covered(s, lo, hi):
            continue
        reps.append((s, t))
        out.append(_candidate(tree, geo, s, t, float(fit.distance[k]), float(fit.misfit[k])))
        for end in (lo, hi):  # a long fitting stretch: its far ends are places of their own
            if not covered(s, end, end):
                reps.append((s, end))
                c = _candidate(tree, geo, s, end, float(fit.distance[k]), float(fit.misfit[k]))
                c.note = f"same duct, {abs(end - t) * geo.length[s]:.0f} mm along the stated line"
                out.append(c)
    return out


def _candidate(tree: DuctTree, geo: _Segments, s: int, t: float, dist: float, misfit: float) -> Candidate:
    ids = tree.node_ids
    system = int(geo.system[s])
    root = ids[_root_row(geo, int(geo.child[s]))]
    clock = tree.nodes[root].get("orifice_clock")
    p = geo.point(s, t)
    return Candidate(
        system=system, orifice_clock=None if clock is None else float(clock),
        node=ids[int(geo.child[s])], parent_node=ids[int(geo.parent[s])], t=round(t, 6),
        point_bf=(float(p[0]), float(p[1]), float(p[2])), path_mm=geo.pm(s, t),
        generation=int(geo.generation[s]), radius_mm=geo.radius(s, t), distance_mm=dist,
        misfit=misfit, row=s,
    )


def _root_row(geo: _Segments, row: int) -> int:
    par = geo.parent_index
    while par[row] >= 0:
        row = int(par[row])
    return row


def _fill_placement(out: LocatedLesion, tree: DuctTree, geo: _Segments, c: Candidate, lat: str,
                    breast_depth: float | None, nip: np.ndarray | None) -> None:
    s = c.row
    out.point_bf = c.point_bf
    out.point_lps = None if nip is None else tuple(float(x) for x in np.asarray(c.point_bf) + nip)
    out.node, out.parent_node, out.t, out.row = c.node, c.parent_node, c.t, int(geo.child[s])
    out.system, out.orifice_clock = c.system, c.orifice_clock
    out.path_mm, out.generation, out.radius_mm = c.path_mm, c.generation, c.radius_mm
    out.distance_mm, out.misfit = c.distance_mm, (None if not math.isfinite(c.misfit) else c.misfit)
    loc = locate_point(c.point_bf, lat, breast_depth)
    _fill_location(out, loc)
    other = geo.system != c.system
    if np.any(other):
        d, _ = point_segment_distance(np.asarray(c.point_bf), geo.a[other], geo.b[other])
        k = int(np.argmin(d[0]))
        out.nearest_other_system = int(geo.system[other][k])
        out.nearest_other_system_mm = float(d[0, k])


def _fill_location(out: LocatedLesion, loc) -> None:
    out.clock = loc.clock
    out.clock_half_hour = loc.clock_half_hour if loc.clock is not None else None
    out.clock_exact = loc.clock_exact if loc.clock is not None else None
    out.quadrant = loc.quadrant
    out.quadrant_name = _quadrant_name(loc.quadrant)
    out.side = loc.side
    out.region = loc.region
    out.depth_mm = loc.depth_mm
    out.fn_mm = loc.fn_mm
    out.distance_from_nipple_mm = loc.distance_mm
    out.depth_third = loc.depth_third


def _quadrant_name(q: str | None) -> str | None:
    if q is None:
        return None
    return " / ".join(QUADRANT_NAMES[p] for p in q.split("/"))


def _fill_spec_location(out: LocatedLesion, spec: LesionSpec, method: str, nip: np.ndarray | None, lat: str,
                        breast_depth: float | None) -> None:
    """For an unplaced lesion: the location fields that the spec itself determines."""
    from .frame import depth_third, mediolateral, quadrant

    if method in ("point_bf", "point_lps"):
        _fill_location(out, locate_point(out.spec["point_bf"], lat, breast_depth))
        return
    if spec.clock is not None:
        out.clock = float(spec.clock)
        out.clock_half_hour = format_clock(spec.clock, half_hour=True)
        out.clock_exact = format_clock(spec.clock)
        out.quadrant = quadrant(spec.clock, lat)
        out.quadrant_name = _quadrant_name(out.quadrant)
        out.side = mediolateral(spec.clock, lat)
    if spec.depth_mm is not None:
        out.depth_mm = float(spec.depth_mm)
        out.depth_third = depth_third(spec.depth_mm, breast_depth)
    if spec.fn_mm is not None:
        out.fn_mm = float(spec.fn_mm)


def _spec_words(spec: LesionSpec) -> str:
    m = _method(spec)
    if m == "clock+depth":
        return f"the {format_clock(spec.clock)} ray at depth {spec.depth_mm:g} mm"
    if m == "clock+fn":
        return f"the {format_clock(spec.clock)} line at fn {spec.fn_mm:g} mm"
    if m == "path":
        duct = f"system {spec.system}" if spec.system is not None else f"the {format_clock(spec.orifice_clock)} orifice"
        return f"{spec.path_mm:g} mm along {duct}"
    return "the point"


# --------------------------------------------------------------------------- path_mm along a duct

def _place_path(tree: DuctTree, geo: _Segments, spec: LesionSpec, out: LocatedLesion, lat: str,
                breast_depth: float | None, nip: np.ndarray | None, sep: float) -> LocatedLesion:
    who = f"lesion {spec.label!r}"
    target = float(spec.path_mm)
    systems = _named_systems(tree, geo, spec, out)
    if not systems:
        _fill_spec_location(out, spec, "path", nip, lat, breast_depth)
        return out
    reach = {s: float(geo.node_pm[tree.system_ids == s].max()) for s in systems}
    slack = length_rounding_mm(target) / 2.0  # a stated length covers +/- half its last digit
    long_enough = [s for s in systems if target <= reach[s] + slack]
    if not long_enough:
        s0 = systems[0]
        raise InputError(f"{who}: path_mm {target:g} mm is longer than the duct (system {s0} reaches "
                         f"{reach[s0]:.1f} mm from its orifice)", key=_where(spec, "path_mm"))
    cands: list[Candidate] = []
    for s in long_enough:
        cands.extend(_path_point(tree, geo, s, target, sep, slack))
    out.candidates = cands
    best = cands[0]
    n_systems = len(long_enough)
    if len(cands) > 1:
        out.status = "ambiguous"
        why = []
        out.ambiguity = "system" if n_systems > 1 else "branch"
        if n_systems > 1:
            why.append(f"{n_systems} orifices match {format_clock(spec.orifice_clock)} "
                       f"(systems {', '.join(map(str, long_enough))})")
        n_branches = sum(1 for c in cands if c.system == best.system)
        if n_branches > 1:
            why.append(f"{n_branches} distinct branches of system {best.system} reach {target:g} mm")
        out.reason = "; ".join(why) + f"; chose system {best.system} along its main stem"
    else:
        out.status = "placed"
        out.reason = f"{target:g} mm along system {best.system}: one branch reaches that length"
    _fill_placement(out, tree, geo, best, lat, breast_depth, nip)
    return out


def _named_systems(tree: DuctTree, geo: _Segments, spec: LesionSpec, out: LocatedLesion) -> list[int] | None:
    """The duct systems a spec names by ``system`` or ``orifice_clock`` (best match first).

    ``None`` when the spec names none. A system whose orifice clock is not
    known (and whose root is at the nipple, so no clock can be read off it)
    is never ruled out by a clock: it follows the matching ones. An empty
    list when no orifice matches the stated clock and none is unknown: ``out``
    then says so (reason, nearest orifice). An
    unknown system id is an :class:`InputError`. Sets the orifice tolerance
    in ``out.tolerance``.
    """
    roots = np.flatnonzero(geo.parent_index < 0)
    root_sys = tree.system_ids[roots]
    if spec.system is not None:
        if int(spec.system) not in set(root_sys.tolist()):
            raise InputError(f"lesion {spec.label!r}: no duct system {spec.system}; systems are "
                             f"{sorted(set(root_sys.tolist()))}", key=_where(spec, "system"))
        return [int(spec.system)]
    if spec.orifice_clock is None:
        return None
    ids = tree.node_ids
    clocks = np.array([_orifice_clock(tree, ids[r]) for r in roots], dtype=float)
    diff = np.array([clock_difference_h(c, spec.orifice_clock) if np.isfinite(c) else np.inf for c in clocks])
    tol_h = clock_rounding_h(float(spec.orifice_clock)) / 2.0 + ORIFICE_SLACK_H
    out.tolerance["orifice_clock_h"] = tol_h
    # An orifice whose clock is not known (a ductogram's cannulated orifice, at the nipple) cannot
    # be ruled out: it stays a candidate, after the orifices that match.
    unknown = np.flatnonzero(~np.isfinite(clocks))
    ok = np.flatnonzero(diff <= tol_h + 1e-9)
    if len(ok) == 0 and len(unknown):
        return [int(s) for s in sorted(root_sys[unknown].tolist())]
    if len(ok) == 0:
        k = int(np.argmin(diff))
        out.nearest = {"system": int(root_sys[k]), "orifice_clock": float(clocks[k]),
                       "orifice_clock_text": format_clock(clocks[k]), "clock_difference_h": float(diff[k])}
        out.reason = (f"no orifice within {tol_h:g} h of {format_clock(spec.orifice_clock)}; the nearest is "
                      f"system {root_sys[k]} at {format_clock(clocks[k])} ({diff[k]:.2f} h away)")
        return []
    ok = ok[np.lexsort((root_sys[ok], diff[ok]))]
    return [int(root_sys[k]) for k in ok] + [int(s) for s in sorted(root_sys[unknown].tolist())]


def _orifice_clock(tree: DuctTree, root: Any) -> float:
    c = tree.nodes[root].get("orifice_clock")
    if c is None:
        c = clock_of_point(tree.nodes[root]["pos"])
    return math.nan if c is None else float(c)


def _path_point(tree: DuctTree, geo: _Segments, system: int, target: float, sep: float, slack: float
                ) -> list[Candidate]:
    """Points ``target`` mm along one system, one per distinct branch: the main stem's first.

    A branch ending up to ``slack`` mm short of ``target`` still counts (at its end).
    """
    order = strahler(tree)
    rad = tree.radii
    kids = tree.cached("children_rows", lambda t: _children(t.parent_index))
    root = int(np.flatnonzero((geo.parent_index < 0) & (tree.system_ids == system))[0])
    # The main stem: at each fork the child of highest Strahler order, then the widest.
    stem = [root]
    cur = root
    while kids[cur] and geo.node_pm[cur] < target:
        cur = min(kids[cur], key=lambda k: (-order[k], -rad[k], k))
        stem.append(cur)
    ends = geo.pm_a + geo.length
    is_tip = np.zeros(len(geo.child), bool)
    is_tip[:] = child_count(tree)[geo.child] == 0
    hits = np.flatnonzero((geo.system == system) & (geo.pm_a <= target + 1e-9) & (geo.child != geo.parent)
                          & ((ends >= target - 1e-9) | (is_tip & (ends >= target - slack))))
    if len(hits) == 0:  # a one-node system and target 0
        hits = np.flatnonzero((geo.system == system) & (geo.child == geo.parent))
    t = np.where(geo.length[hits] > 0, (target - geo.pm_a[hits]) / np.where(geo.length[hits] > 0, geo.length[hits], 1), 0.0)
    t = np.clip(t, 0.0, 1.0)
    stem_set = set(stem)
    on_stem = np.array([int(geo.child[h]) in stem_set for h in hits])
    radius = geo.ra[hits] + t * (geo.rb[hits] - geo.ra[hits])
    # Main stem first, then widest; one candidate per distinct branch.
    idx = np.lexsort((geo.child[hits], -radius, ~on_stem))
    reps: list[tuple[int, float]] = []
    cands: list[Candidate] = []
    for k in idx.tolist():
        s, tk = int(hits[k]), float(t[k])
        if any(tree_distance_mm(geo, s, tk, s2, t2) <= sep for s2, t2 in reps):
            continue
        reps.append((s, tk))
        c = _candidate(tree, geo, s, tk, 0.0, 0.0)
        c.note = "main stem" if on_stem[k] else "side branch"
        cands.append(c)
    return cands


def _children(par: np.ndarray) -> list[list[int]]:
    from .tree import iter_rows_children

    return iter_rows_children(par)


def subtree_rows(tree: DuctTree, row: int) -> tuple[int, int]:
    """The rows of the subtree below (and including) ``row``: the contiguous range ``[lo, hi)``.

    Rows are depth-first, so every subtree is one contiguous block.
    """
    ends = tree.cached("lesions.subtree_end", _subtree_ends)
    return row, int(ends[row])


def _subtree_ends(tree: DuctTree) -> np.ndarray:
    par = tree.parent_index
    n = len(par)
    end = np.arange(1, n + 1)
    for i in range(n - 1, -1, -1):
        p = par[i]
        if p >= 0 and end[i] > end[p]:
            end[p] = end[i]
    return end


# --------------------------------------------------------------------------- terminal output

def fmt_number(v: float | int | None, spec: str = ".1f", none: str = "-") -> str:
    """Format a number for a table (``-`` for ``None``; no ``-0.0``)."""
    if v is None:
        return none
    text = format(v, spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fmt_xyz(p: Sequence[float]) -> str:
    """``(x, y, z)`` to 0.1 mm."""
    return "(" + ", ".join(fmt_number(float(v)) for v in p) + ")"


def locate_table(located: Sequence[LocatedLesion]):
    """A rich table of located lesions, one row each (mm; clock = nearest half hour, exact in brackets)."""
    from rich import box
    from rich.table import Table

    t = Table(title="Lesions on the ductal tree (mm; clock: nearest half hour (exact); system (its orifice clock))",
              box=box.SIMPLE_HEAD)
    for col in ("lesion", "status", "clock", "quadrant", "side", "depth", "fn", "third",
                "system", "path", "gen", "radius", "other sys"):
        t.add_column(col, overflow="fold")
    for les in located:
        status = les.status.upper() if les.status != "placed" else "placed"
        clock = "-" if les.clock_half_hour is None else f"{les.clock_half_hour} ({les.clock_exact})"
        system = "-" if les.system is None else (
            f"{les.system} ({'unknown' if les.orifice_clock is None else format_clock(les.orifice_clock)})")
        t.add_row(les.label, status, clock, les.quadrant or "-", les.side or "-", fmt_number(les.depth_mm),
                  fmt_number(les.fn_mm), les.depth_third or "-", system, fmt_number(les.path_mm),
                  fmt_number(les.generation, "d"), fmt_number(les.radius_mm, ".2f"),
                  fmt_number(les.nearest_other_system_mm))
    return t


def locate_details(located: Sequence[LocatedLesion]) -> list[str]:
    """Plain lines spelling out every ambiguous lesion (all candidates) and every unplaced one (why)."""
    lines = []
    for les in located:
        if les.status == "ambiguous":
            lines.append(f"AMBIGUOUS {les.label} ({les.ambiguity}): {les.reason}")
            for k, c in enumerate(les.candidates):
                mark = "chosen" if k == 0 else "      "
                lines.append(f"  {mark} system {c.system} ({orifice_text(c.orifice_clock)}): "
                             f"{c.distance_mm:.1f} mm from the spec, misfit {c.misfit:.2f}, path {c.path_mm:.1f} mm, "
                             f"generation {c.generation}, at {fmt_xyz(c.point_bf)} BF"
                             + (f" [{c.note}]" if c.note else ""))
        elif les.status == "unplaced":
            lines.append(f"UNPLACED {les.label}: {les.reason}")
    return lines


# --------------------------------------------------------------------------- JSON helper

def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        obj = float(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
