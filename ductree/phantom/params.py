"""Constants of the phantom ductal-tree generator, each with its source.

Source keys refer to DOMAIN.md §5 (LB04, RA05, VIC, THU, CV, GE09, GMo06,
TDLU, ...). "derived" means worked out from cited facts; "assumed" means a
modelling choice with no published figure, chosen so that the phantom looks
and measures like DOMAIN.md §2 (and checked by the tests in tests/phantom/).
All lengths are millimetres in the breast frame (BF).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from ..errors import InputError

#: Murray's law splits where the larger child keeps at least this fraction of the
#: parent radius: both children are equal at 2**(-1/3) = 0.794 (VIC, derived).
SYMMETRIC_FRACTION = 2.0 ** (-1.0 / 3.0)


@dataclass(frozen=True)
class PhantomParams:
    """Every constant of :func:`ductree.phantom.generate_tree` (mm, degrees, hours).

    ``sources`` maps each field to the DOMAIN.md source key it follows.
    Override fields with :func:`dataclasses.replace` or
    ``PhantomParams(**changes)``; :meth:`check` validates them.
    """

    # --- orifices and systems ------------------------------------------------------
    orifice_offset_mm: tuple[float, float] = (1.0, 3.0)
    """Distance of an orifice from the nipple centre; pushed outward when neighbours would touch."""
    max_orifice_offset_mm: float = 5.0
    """Cap for that push: the nipple face radius (assumed, nipple ~10-15 mm wide)."""
    orifice_clock_jitter: float = 0.2
    """Orifice clocks: evenly spread around the clock, each jittered by this fraction of the spacing."""
    lobe_clock_jitter_h: float = 0.6
    """A lobe's clock differs from its orifice's by up to this many hours (DOMAIN §2 caution)."""
    lobe_tilt_deg: tuple[float, float] = (30.0, 50.0)
    """Angle between a lobe's axis and the posterior (+y) axis: lobes fan out radially."""
    root_outward_deg: tuple[float, float] = (4.0, 14.0)
    """Outward tilt of a main duct in the nipple (ducts run almost parallel there)."""

    # --- main duct and sinus -------------------------------------------------------
    main_radius_mm: tuple[float, float] = (0.5, 1.2)
    """Radius of each system's main (lactiferous) duct."""
    sinus_width_mm: tuple[float, float] = (2.0, 4.0)
    """Diameter of the lactiferous sinus, a dilation of the main duct."""
    sinus_start_mm: tuple[float, float] = (1.0, 2.5)
    """Where the sinus starts, along the main duct from the orifice."""
    sinus_length_mm: tuple[float, float] = (4.0, 7.0)
    """Length of the sinus dilation along the duct."""
    first_branch_mm: tuple[float, float] = (8.0, 5.5)
    """Mean and SD of the path length from the orifice to the first branching."""
    first_branch_clamp_mm: tuple[float, float] = (3.0, 22.0)
    """Clamp of that draw to a sane range (mean +- 2.5 SD, at least 3 mm)."""

    # --- branching -----------------------------------------------------------------
    child_radius_fraction: tuple[float, float] = (0.65, 0.99)
    """Radius of one child / parent end radius; its sibling follows Murray's law."""
    murray_exponent: float = 3.0
    """Murray's law r0**k = r1**k + r2**k with k = 3."""
    min_radius_mm: float = 0.1
    """No duct thinner than this is grown."""
    max_generation: int | None = None
    """Deepest branch generation; None = no limit (VICTRE uses 7, which caps a system at 255 branches)."""
    angle_jitter_deg: float = 8.0
    """SD of the random deviation from Murray's optimal branch angles."""
    angle_range_deg: tuple[float, float] = (8.0, 80.0)
    """Clamp of each child's deflection from its parent's axis."""

    # --- lengths and shape ---------------------------------------------------------
    length_scale_mm: float = 13.0
    """Length of a segment as thick as its main duct, in a 100-mm-deep breast; segments scale as
    (radius / main radius) ** length_exponent and with the breast depth."""
    length_exponent: float = 0.75
    """Length ~ radius**0.75: fine ducts are short (TDLU 1-4 mm) and deep trees reach 60-90 mm."""
    length_jitter: tuple[float, float] = (0.75, 1.25)
    """Random factor on each segment length."""
    child_length_fraction: tuple[float, float] = (0.5, 1.0)
    """Child length / parent length, applied as a clamp below generation 1."""
    min_segment_mm: float = 1.0
    """Shortest segment (TDLU-sized)."""
    step_mm: float = 0.8
    """Target spacing of the nodes along a curved segment (0.5-1 mm)."""
    arc_turn_deg: tuple[float, float] = (0.0, 35.0)
    """Total turning angle of one segment (a circular arc, as VICTRE's)."""
    tropism: float = 0.7
    """How strongly a segment bends toward its lobe's outward direction (0 = random bends)."""
    candidates: int = 8
    """Candidate placements tried per bifurcation (VICTRE tries 50); the best valid one wins."""
    root_candidates: int = 24
    """Candidate placements tried per main duct."""

    # --- candidate cost --------------------------------------------------------------
    cost_direction: float = 1.0
    """Weight of the misalignment with the lobe's outward direction."""
    cost_density_own: float = 0.15
    """Weight of the crowding by the same system's ducts (per mm of duct in the cell)."""
    cost_density_other: float = 0.6
    """Weight of the crowding by other systems' ducts: lobes keep their own territory."""
    density_cell_mm: float = 6.0
    """Cell size of the crowding grid."""

    # --- clearance -----------------------------------------------------------------
    junction_exempt_factor: float = 3.0
    """Near a junction J of radius r_J, ducts meeting there may touch within 3 r_J + clearance of J."""

    # --- envelope ------------------------------------------------------------------
    envelope_radius_mm: float | None = None
    """Base radius of the half-ellipsoid breast; None = 0.75 * breast depth + 15 mm."""
    skin_margin_mm: float = 4.0
    """Subcutaneous fat between the ducts and the skin."""
    posterior_margin_mm: float = 10.0
    """Retromammary fat between the deepest ducts and the chest wall."""
    nipple_radius_mm: float = 7.0
    """Radius of the nipple face; the allowed cone widens by 1 mm per mm of depth toward the areola."""
    nipple_length_mm: float = 10.0
    """Depth of that cone (nipple and areola base)."""

    sources: dict = field(default_factory=lambda: dict(_SOURCES), compare=False, repr=False)

    def check(self) -> "PhantomParams":
        """Raise :class:`InputError` for an impossible value; return self."""
        lo, hi = self.child_radius_fraction
        if not 0 < lo <= hi < 1:
            raise InputError(f"must satisfy 0 < lo <= hi < 1, got {self.child_radius_fraction}",
                             key="child_radius_fraction")
        if hi < SYMMETRIC_FRACTION:
            raise InputError("the upper fraction must be >= 0.794 (2**-1/3) for Murray's law",
                             key="child_radius_fraction")
        for name in ("min_radius_mm", "step_mm", "length_scale_mm", "min_segment_mm", "murray_exponent"):
            if not getattr(self, name) > 0:
                raise InputError(f"must be > 0, got {getattr(self, name)!r}", key=name)
        if self.main_radius_mm[0] < self.min_radius_mm or self.main_radius_mm[0] > self.main_radius_mm[1]:
            raise InputError(f"bad range {self.main_radius_mm}", key="main_radius_mm")
        if self.candidates < 1 or self.root_candidates < 1:
            raise InputError("must be >= 1", key="candidates")
        if self.max_generation is not None and self.max_generation < 0:
            raise InputError(f"must be >= 0 or None, got {self.max_generation}", key="max_generation")
        return self

    def as_dict(self) -> dict:
        """The values (without ``sources``), JSON-ready."""
        d = asdict(self)
        d.pop("sources", None)
        return d

    def with_(self, **changes) -> "PhantomParams":
        """A copy with some fields changed (checked)."""
        return replace(self, **changes).check()


_SOURCES = {
    "orifice_offset_mm": "LB04 (5-9 orifices on the nipple face); offset assumed",
    "max_orifice_offset_mm": "assumed (nipple 10-15 mm wide)",
    "orifice_clock_jitter": "assumed",
    "lobe_clock_jitter_h": "DOMAIN §2 caution: orifice clock != lobe clock",
    "lobe_tilt_deg": "derived (lobes radiate from the nipple to fill the envelope)",
    "root_outward_deg": "assumed",
    "main_radius_mm": "VIC (root radius 0.5), VIC/RA05/GE09 (main duct ~1 mm, 1.9-2.4 mm in lactation)",
    "sinus_width_mm": "CV",
    "sinus_start_mm": "assumed (sinus just behind the nipple)",
    "sinus_length_mm": "assumed",
    "first_branch_mm": "RA05",
    "first_branch_clamp_mm": "derived from RA05",
    "child_radius_fraction": "VIC",
    "murray_exponent": "VIC",
    "min_radius_mm": "VIC",
    "max_generation": "VIC (7); None here so the branch budget (GMo06: 440 segments) can be met",
    "angle_jitter_deg": "VIC (angles bounded by the radius ratio); jitter assumed",
    "angle_range_deg": "VIC",
    "length_scale_mm": "derived: VIC root length 7.6 mm at r 0.5; deepest points 60-90 mm",
    "length_exponent": "derived: TDLU 1-4 mm at r ~0.1-0.2",
    "length_jitter": "assumed",
    "child_length_fraction": "VIC, THU",
    "min_segment_mm": "TDLU",
    "step_mm": "assumed (0.5-1 mm)",
    "arc_turn_deg": "VIC (segments are circular arcs)",
    "tropism": "assumed",
    "candidates": "VIC (best of 50 candidates by a density/direction cost)",
    "root_candidates": "assumed",
    "cost_direction": "VIC (direction cost)",
    "cost_density_own": "VIC (density cost)",
    "cost_density_other": "LB04/OH01 (systems are separate, non-joining lobes)",
    "density_cell_mm": "assumed",
    "junction_exempt_factor": "derived (Murray angles separate siblings beyond ~2 parent radii)",
    "envelope_radius_mm": "assumed",
    "skin_margin_mm": "assumed",
    "posterior_margin_mm": "assumed",
    "nipple_radius_mm": "assumed",
    "nipple_length_mm": "assumed",
}

assert set(_SOURCES) == {f.name for f in fields(PhantomParams)} - {"sources"}, "every constant needs a source"


def murray_sibling(fraction, exponent: float = 3.0):
    """Radius fraction of the sibling: (1 - f**k) ** (1/k) (Murray's law)."""
    return (1.0 - fraction ** exponent) ** (1.0 / exponent)


def murray_angles_deg(f1, f2) -> tuple:
    """Murray's optimal deflections (degrees) of two children with radius fractions f1, f2.

    From minimum work at a junction (Murray 1926, used by VIC):
    ``cos a1 = (1 + f1**4 - f2**4) / (2 f1**2)``, and symmetrically for ``a2``.
    The thinner child deflects more.
    """
    import numpy as np

    c1 = (1.0 + f1 ** 4 - f2 ** 4) / (2.0 * f1 ** 2)
    c2 = (1.0 + f2 ** 4 - f1 ** 4) / (2.0 * f2 ** 2)
    return (np.degrees(np.arccos(np.clip(c1, -1.0, 1.0))), np.degrees(np.arccos(np.clip(c2, -1.0, 1.0))))

