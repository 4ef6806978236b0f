"""Tuning of the ductogram reconstruction (:func:`ductree.reconstruct.biplane.tree_from_views`), mm."""

from __future__ import annotations

from dataclasses import dataclass, field

from .biplane_graph import ViewOptions
from .biplane_match import MatchOptions


@dataclass(frozen=True)
class BiplaneOptions:
    """Tuning of :func:`tree_from_views` (mm)."""

    view: ViewOptions = field(default_factory=ViewOptions)
    match: MatchOptions = field(default_factory=MatchOptions)
    cutoff_min_radius_mm: float = 0.25     #: a duct ending wide must be at least this wide to be reported
    cutoff_keep_fraction: float = 0.75     #: ... and keep this fraction of its width to its end
    stub_keep_fraction: float = 0.6        #: a branch stub (pruned spur) this fraction as wide as its duct ...
    stub_min_length_mm: float = 0.3        #: ... and this long is a branch cut off at its origin
    narrowing_fraction: float = 0.55       #: a local narrowing below this fraction of the duct's width
    narrowing_min_radius_mm: float = 0.2   #: ... of a duct at least this wide is a candidate defect
    split_max_mm: float = 7.0              #: prongs of a split end are at most this long ...
    split_prong_fraction: float = 0.5      #: ... and at most this fraction of the duct's radius wide
    concavity_area: float = 1.5            #: a lucency open to one side: at least this x r^2 (mm^2) ...
    concavity_depth: float = 0.4           #: ... and this x r deep
    merge_mm: float = 3.0                  #: candidates this close (3D) are one finding
    pair_depth_mm: float = 1.5             #: a CC and a lateral candidate this close in depth are one lesion
    min_matched_fraction: float = 0.6      #: below this (in either view) the match is low-confidence
    min_agreement: float = 0.35            #: fewer forks/ends agreeing in depth than this: low-confidence
    unmatchable_fraction: float = 0.3      #: below this the views are taken not to show the same ducts
    planar_sigma_per_mm: float = 0.5       #: uncertainty growth of the unknown coordinate of a planar tree
    sigma_floor_mm: float = 0.2            #: least pos_sigma_mm of a node read from two views
    spread_sigma: float = 0.5              #: pos_sigma_mm grows by this x how far the other readings put a node
    uncertain_sigma_mm: float = 1.0        #: nodes this uncertain (1 SD) count as uncertain in the summary ...
    max_uncertain_fraction: float = 0.35   #: ... and more than this fraction of the tree's length makes it low-confidence
    loose_score: float = 0.14              #: a kept reading scoring above this explains the masks loosely ...
    loose_uncertain_fraction: float = 0.30  #: ... and then more than this fraction uncertain is low-confidence
    map_tries: int = 3                     #: depth maps read in full (the fitted one and the runners-up) ...
    map_switch_margin: float = 0.01        #: ... a runner-up is kept if its reading scores this much lower
    map_recut_within: float = 0.1          #: ... its crossings re-cut only if it scores within this of the fitted's
    map_shifts_mm: tuple[float, ...] = (-0.1, 0.1)  #: the kept guided reading read again with the map's offset moved by these
