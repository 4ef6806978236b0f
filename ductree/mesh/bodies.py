"""The bodies of a model, and the ones that are not ducts: lesions, context, base plate.

A model (:class:`ModelBodies`) is a list of named :class:`Body` objects, each
one closed ``trimesh.Trimesh`` in the breast frame (BF, mm) with a colour and
metadata: one per duct system, one per lesion, optionally a nipple–areola
context body and a base plate (which joins the systems into one printable
piece). The shapes here are parametric and built with manifold3d, so each is
closed and manifold by construction:

- :func:`lesion_body` — a sphere or an ellipsoid at a lesion's size;
- :func:`nipple_areola_body` — the nipple (a rounded cylinder protruding
  anteriorly, tip at the BF origin) on the areola disc, as a skin shell;
- :func:`breast_outline_body` — the breast skin as a thin dome shell from
  the areola to the chest wall (for views);
- :func:`base_plate` — a disc on the nipple face, with a strut down to any
  orifice that does not reach it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..errors import InputError

#: Colours (RGBA 0-255) of duct systems, in system order (repeats after ten).
SYSTEM_COLORS = [
    (230, 196, 110, 255), (120, 180, 220, 255), (150, 205, 120, 255), (225, 140, 170, 255),
    (175, 150, 215, 255), (240, 165, 95, 255), (110, 200, 190, 255), (200, 200, 120, 255),
    (160, 170, 185, 255), (215, 120, 110, 255),
]
LESION_COLOR = (220, 30, 40, 255)
CONTEXT_COLOR = (235, 190, 165, 110)
PLATE_COLOR = (170, 170, 170, 255)


def system_color(system: int) -> tuple[int, int, int, int]:
    """The colour of a duct system (RGBA, 0-255)."""
    return SYSTEM_COLORS[int(system) % len(SYSTEM_COLORS)]


@dataclass
class Body:
    """One closed body of a model: a ``trimesh.Trimesh`` in BF mm, its colour and what it is.

    ``kind`` is ``"system"``, ``"lesion"``, ``"context"``, ``"plate"`` or
    ``"print"`` (systems joined with a base plate). ``meta`` holds e.g. the
    system id, the lesion label, the genus.
    """

    name: str
    kind: str
    mesh: Any
    color: tuple[int, int, int, int]
    meta: dict = field(default_factory=dict)

    @property
    def triangles(self) -> int:
        return int(len(self.mesh.faces))


@dataclass
class ModelBodies:
    """A model: its bodies (BF mm) plus how it was made and what to watch out for.

    Iterating yields the bodies. ``warnings`` are plain sentences (overlapping
    systems, a triangle budget that could not be met, ...); ``info`` records
    the tolerance, timing and the options used.
    """

    bodies: list[Body] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def __iter__(self) -> Iterator[Body]:
        return iter(self.bodies)

    def __len__(self) -> int:
        return len(self.bodies)

    def __getitem__(self, i: int) -> Body:
        return self.bodies[i]

    @property
    def triangles(self) -> int:
        return sum(b.triangles for b in self.bodies)

    def by_kind(self, kind: str) -> list[Body]:
        return [b for b in self.bodies if b.kind == kind]

    def names(self) -> list[str]:
        return [b.name for b in self.bodies]

    def combined(self):
        """All bodies as one ``trimesh.Trimesh`` (bodies stay separate components)."""
        import trimesh

        return trimesh.util.concatenate([b.mesh for b in self.bodies])

    def checks(self) -> list:
        """:func:`ductree.mesh.quality.check_watertight` of every body, in order."""
        from .quality import check_watertight

        return [check_watertight(b.mesh, expect_bodies=1) for b in self.bodies]


# ----------------------------------------------------------------------------- helpers

def manifold_to_trimesh(man):
    """A ``trimesh.Trimesh`` (not re-processed) from a ``manifold3d.Manifold``."""
    import trimesh

    from .surface import manifold_arrays

    v, f = manifold_arrays(man)
    return trimesh.Trimesh(v, f, process=False)


def _segments_for(radius_mm: float, tolerance_mm: float) -> int:
    """Circle segments so a polygon stays within ``tolerance_mm`` of a circle of ``radius_mm``."""
    x = math.sqrt(min(max(tolerance_mm, 1e-6) / max(radius_mm, 1e-9), 1.0))
    return max(8, int(math.ceil(math.pi / math.acos(max(1.0 - x * x, -1.0)))) if x < 1 else 8)


def _axis_to_bf(man):
    """Map a revolved solid (axis = manifold3d's +z) onto the BF nipple axis (+y), keeping handedness."""
    return man.transform(np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0]]))


def _revolve(profile: np.ndarray, segments: int):
    """Revolve a closed (r, y_BF) profile (counter-clockwise) about the BF y axis."""
    import manifold3d as m3

    cs = m3.CrossSection([np.ascontiguousarray(profile, dtype=float)])
    return _axis_to_bf(m3.Manifold.revolve(cs, circular_segments=int(segments)))


# ----------------------------------------------------------------------------- lesions

@dataclass
class LesionShape:
    """A lesion to model: label, centre (BF mm), size (mm) and optional long axis.

    ``size_mm`` is a diameter (a sphere) or three diameters (an ellipsoid);
    with ``axis`` (a BF direction, e.g. along the duct) the first diameter
    lies along it, otherwise the three lie along BF x, y, z.
    """

    label: str
    center_mm: tuple[float, float, float]
    size_mm: float | tuple[float, float, float]
    axis: tuple[float, float, float] | None = None
    kind: str = "other"


#: Diameter (mm) used for a lesion given without a size.
DEFAULT_LESION_SIZE_MM = 3.0


def as_lesion_shapes(items: Iterable[Any]) -> tuple[list[LesionShape], list[str]]:
    """Read lesions given as tuples ``(label, point_bf, size_mm)``, dicts or objects.

    Dicts and objects may name the centre ``point_bf``, ``center_mm``,
    ``point``, ``position`` or ``pos``; the size ``size_mm`` (a diameter or three); and
    optionally ``axis`` and ``kind``. Returns the shapes and warnings (a
    lesion without a size gets :data:`DEFAULT_LESION_SIZE_MM`).
    """
    shapes: list[LesionShape] = []
    warnings: list[str] = []
    for k, item in enumerate(items):
        if isinstance(item, LesionShape):
            shapes.append(item)
            continue
        if isinstance(item, (tuple, list)):
            if len(item) < 2:
                raise InputError(f"lesion {k}: expected (label, point_bf, size_mm)", key="lesions")
            get = {"label": item[0], "point_bf": item[1], "size_mm": item[2] if len(item) > 2 else None}.get
        elif isinstance(item, dict):
            get = item.get
        else:
            get = lambda name, default=None, _o=item: getattr(_o, name, default)  # noqa: E731
        label = str(get("label") or f"lesion{k + 1}")
        center = None
        for name in ("point_bf", "center_mm", "point", "position", "pos"):
            center = get(name)
            if center is not None:
                break
        if center is None:
            raise InputError(f"lesion {label!r} has no BF position (point_bf)", key="lesions")
        c = np.asarray(center, dtype=float).reshape(-1)
        if c.shape != (3,) or not np.all(np.isfinite(c)):
            raise InputError(f"lesion {label!r}: position must be 3 finite numbers, got {center!r}", key="lesions")
        size = get("size_mm")
        if size is None:
            size = DEFAULT_LESION_SIZE_MM
            warnings.append(f"lesion {label!r} has no size; drawn {DEFAULT_LESION_SIZE_MM:g} mm across")
        sz = np.asarray(size, dtype=float).reshape(-1)
        if sz.shape not in ((1,), (3,)) or not np.all(np.isfinite(sz)) or np.any(sz <= 0):
            raise InputError(f"lesion {label!r}: size_mm must be one or three numbers > 0, got {size!r}",
                             key="lesions")
        axis = get("axis")
        shapes.append(LesionShape(label, tuple(c.tolist()), float(sz[0]) if len(sz) == 1 else tuple(sz.tolist()),
                                  None if axis is None else tuple(np.asarray(axis, float).tolist()),
                                  str(get("kind") or "other")))
    return shapes, warnings


def lesion_body(shape: LesionShape, *, tolerance_mm: float = 0.02):
    """A lesion as a closed Manifold (BF mm): a sphere or ellipsoid of the lesion's size.

    The surface keeps within ``tolerance_mm`` of the true ellipsoid (a balanced
    unit sphere, scaled to the semi-axes, turned to ``axis`` and moved to the centre).
    """
    from .surface import to_manifold
    from .tubes import Tolerance, sphere_mesh

    radii = np.broadcast_to(np.asarray(shape.size_mm, dtype=float), (3,)) / 2.0
    v, f = sphere_mesh(1.0, Tolerance(0.0, max(tolerance_mm, 1e-4) / float(radii.max()), 6))
    v = v * radii
    if shape.axis is not None:
        a = np.asarray(shape.axis, float)
        n = np.linalg.norm(a)
        if n > 0:
            a = a / n
            h = np.array([0.0, 0.0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
            b = np.cross(a, h)
            b /= np.linalg.norm(b)
            c = np.cross(a, b)
            v = v @ np.stack([a, b, c], axis=0)  # x -> a, y -> b, z -> c
    return to_manifold(v + np.asarray(shape.center_mm, float), f)


# ----------------------------------------------------------------------------- context bodies

@dataclass(frozen=True)
class NippleAreola:
    """Parameters of the nipple–areola template (mm). The nipple tip is at the BF origin."""

    nipple_radius_mm: float = 5.0
    nipple_height_mm: float = 7.0
    areola_radius_mm: float = 18.0
    skin_mm: float = 1.2
    tip_rounding_mm: float = 2.0


def nipple_areola_profile(p: NippleAreola = NippleAreola(), *, points: int = 10) -> np.ndarray:
    """The closed (r, y_BF) profile of the nipple–areola skin shell, counter-clockwise."""
    rn, h, ra, t, rr = p.nipple_radius_mm, p.nipple_height_mm, p.areola_radius_mm, p.skin_mm, p.tip_rounding_mm
    if not (0 < t < rn and 0 < rr < rn and h > rr + t and ra > rn + t):
        raise InputError("nipple-areola parameters out of range (need 0 < skin, rounding < nipple radius, "
                         "height > rounding + skin, areola radius > nipple radius + skin)")
    ang = np.linspace(0.0, np.pi / 2, points)
    # Outer skin: tip face (y = 0) to the rounded shoulder, down the side, out along the areola.
    outer = [(0.0, 0.0)]
    outer += [(rn - rr + rr * math.sin(a), rr - rr * math.cos(a)) for a in ang]
    outer += [(rn, h), (ra, h)]
    # Inner skin (offset by t, back toward the axis).
    inner = [(ra, h + t), (rn - t, h + t), (rn - t, rr)]
    ri = rr - t if rr > t else 0.0
    if ri > 0:
        inner += [(rn - rr + ri * math.sin(a), rr - ri * math.cos(a)) for a in ang[::-1]]
    inner += [(0.0, t)]
    prof = np.array(outer + inner)
    # counter-clockwise in (r, y): the revolve needs positive area
    area = 0.5 * np.sum(prof[:, 0] * np.roll(prof[:, 1], -1) - np.roll(prof[:, 0], -1) * prof[:, 1])
    return prof if area > 0 else prof[::-1]


def nipple_areola_body(p: NippleAreola = NippleAreola(), *, segments: int = 48):
    """The nipple–areola skin shell as a closed Manifold (BF mm; tip at the origin, nipple along +y)."""
    return _revolve(nipple_areola_profile(p), segments)


@dataclass(frozen=True)
class BreastOutline:
    """Parameters of the breast outline template (mm): a dome from the areola plane to the chest wall.

    The dome's half-widths are ``width_mm / 2`` along BF x and ``height_mm / 2``
    along z; it reaches the chest wall at ``depth_mm`` behind the nipple tip.
    """

    width_mm: float = 150.0
    height_mm: float = 130.0
    depth_mm: float = 100.0
    areola_plane_mm: float = 7.0
    skin_mm: float = 1.5


def breast_outline_profile(p: BreastOutline = BreastOutline(), *, points: int = 24) -> np.ndarray:
    """The closed (r, y_BF) profile of the breast skin dome (unit half-width; scaled to x/z later)."""
    y0, depth, t = p.areola_plane_mm, p.depth_mm, p.skin_mm
    if not (depth > y0 + 2 * t and p.width_mm > 4 * t and p.height_mm > 4 * t):
        raise InputError("breast outline parameters out of range (depth must exceed the areola plane)")
    R = 1.0
    span = depth - y0
    s = np.linspace(0.0, 1.0, points)
    # Quarter-ellipse: y runs y0 -> depth, r runs 0 -> R (steep near the chest wall, flat at the apex).
    ang = s * np.pi / 2
    outer = np.stack([R * np.sin(ang), y0 + span * (1 - np.cos(ang))], 1)
    tr = t / (p.width_mm / 2)  # skin thickness in the unit-radius profile
    inner = np.stack([(R - tr) * np.sin(ang), y0 + t + (span - t) * (1 - np.cos(ang))], 1)[::-1]
    inner[0] = (R - tr, depth)
    prof = np.vstack([outer, inner])
    area = 0.5 * np.sum(prof[:, 0] * np.roll(prof[:, 1], -1) - np.roll(prof[:, 0], -1) * prof[:, 1])
    return prof if area > 0 else prof[::-1]


def breast_outline_body(p: BreastOutline = BreastOutline(), *, segments: int = 48):
    """The breast outline skin dome as a closed Manifold (BF mm), for context in views."""
    man = _revolve(breast_outline_profile(p), segments)
    return man.scale((p.width_mm / 2, 1.0, p.height_mm / 2))


# ----------------------------------------------------------------------------- base plate

def base_plate(roots_pos: np.ndarray, roots_radius: np.ndarray, *, thickness_mm: float = 1.5,
               margin_mm: float = 2.0, tolerance_mm: float = 0.05):
    """A disc on the nipple face holding every orifice, plus struts to orifices that do not reach it.

    The disc is centred on the nipple axis and spans ``y`` from the most
    anterior orifice sphere minus ``thickness_mm`` to the most anterior
    orifice centre, so every root sphere sinks into it; a root whose sphere
    does not reach the disc gets a cylinder (its radius) down to it.
    Returns a closed Manifold (BF mm).
    """
    import manifold3d as m3

    pos = np.asarray(roots_pos, float).reshape(-1, 3)
    rad = np.asarray(roots_radius, float).reshape(-1)
    top = float(pos[:, 1].min())
    bottom = float((pos[:, 1] - rad).min()) - thickness_mm
    reach = float(np.hypot(pos[:, 0], pos[:, 2]).max() + rad.max() + margin_mm)
    seg = _segments_for(reach, tolerance_mm)
    disc = _axis_to_bf(m3.Manifold.cylinder(top - bottom, reach, reach, seg)).translate((0.0, bottom, 0.0))
    parts = [disc]
    for p, r in zip(pos, rad):
        if p[1] - 0.5 * r > top:  # the root sphere does not sink into the disc
            strut = _axis_to_bf(m3.Manifold.cylinder(p[1] - top + 0.5 * thickness_mm, r, r,
                                                     _segments_for(r, tolerance_mm)))
            parts.append(strut.translate((float(p[0]), top - 0.5 * thickness_mm, float(p[2]))))
    return m3.Manifold.batch_boolean(parts, m3.OpType.Add) if len(parts) > 1 else disc


def lesions_from(items: Sequence[Any] | None) -> tuple[list[LesionShape], list[str]]:
    """:func:`as_lesion_shapes` that accepts ``None``."""
    return as_lesion_shapes(items or [])
