"""3D segmentation volume -> DuctTree (centrelines with radii, one system per component or label).

The pipeline (:func:`tree_from_mask`), all vectorised over voxels:

1. **Foreground.** The mask's foreground voxels are found in one scan
   (eight bytes at a time) and everything after works on them, sparse, in a
   padded grid around their bounding box (per label, for a label volume).
2. **Skeleton.** Topology-preserving parallel thinning
   (:mod:`ductree.reconstruct.skeleton`) gives a one-voxel curve skeleton,
   decomposed (:mod:`ductree.reconstruct.skelgraph`) into chains between
   curve ends and junctions; a cluster of junction voxels becomes one node.
   Thinning keeps topology, so each connected piece of skeleton is one
   26-connected component of the mask: one system. A piece with fewer
   skeleton voxels than the dust limit has its mask component counted in a
   small box around it; components smaller than ``min_component_mm3`` are
   dust, dropped and counted in a warning.
3. **Radii** (:mod:`ductree.reconstruct.rays`): rays cast from each
   centreline point through the mask to its boundary (the voxel faces between
   foreground and background, sub-voxel by bisection); the duct radius is the
   median ray length in the plane perpendicular to the duct, a junction's
   inscribed sphere the shortest ray over the sphere (+ half a voxel for the
   staircase). No distance transform of the volume is needed.
4. **Clean-up.** Spurs whose end sticks out too little (next to their own
   radius) beyond the junction's inscribed sphere and the tubes of the other
   branches there are pruned, repeatedly (bumps, surface noise, the extra
   curve ends thinning leaves in a rounded end). A small cycle of junctions
   (no longer than the circumference of the thickest duct meeting it: a hole
   through the web of sibling ducts still fused past their fork) becomes one
   junction. Each junction moves to where its branches' axes, fitted a little
   away from it, meet; each curve end moves out along its duct's axis to the
   centre of the duct's rounded end (thinning stops one to three radii
   short). Chain polylines are smoothed (junctions and ends fixed) and
   thinned to nodes every ``node_spacing`` (about a radius, in mm).
5. **Loops.** A cycle is broken where two ducts merely touch: a short chain
   between two junctions, no longer than the sum of the radii there, is a
   contact, and is removed. A cycle left after that is a real anastomosis: it
   is kept, and the tree edge that closes it (far from the orifice) is
   flagged ``anastomosis=True``.
6. **Roots and frame.** With the nipple given (LPS mm or a voxel index),
   each system is rooted at its curve end nearest the nipple. Without it,
   each system's orifice end is the end of its thickest duct, preferring ends
   that lie near the other systems' (orifices cluster on the nipple); the
   nipple is put at the mean of those orifices, and a warning says so. The
   tree is in the breast frame, ``p_BF = p_LPS - nipple_LPS``, and keeps
   ``graph["nipple_lps"]`` so exports can be written back onto the volume.

Warnings (:class:`~ductree.errors.DuctreeWarning`): dust dropped, mask
touching the volume border (ducts may be cut off), nipple estimated, loops
kept as anastomoses.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import DuctreeWarning, InputError
from ..io.volumes import Volume, check_nipple_lps, mask_labels, nipple_from_voxel, read_volume
from ..tree import DuctTree

if TYPE_CHECKING:
    from ..case import Case


@dataclass(frozen=True)
class VolumeOptions:
    """Tuning of :func:`tree_from_mask` (lengths in mm unless named ``_vox``)."""

    min_component_mm3: float | None = None
    """Dust: components smaller than this are dropped (default: 2 voxels' worth, at least 0.002 mm^3)."""
    spur_protrusion: float = 1.5
    """A terminal chain is kept when it sticks out beyond the junction's inscribed sphere by more than
    this many of its own radii (and more than ``spur_min_vox`` voxels)."""
    spur_min_vox: float = 1.5
    radius_offset_vox: float = 0.05
    """Added to the median perpendicular ray length (voxels) to get the radius (calibrated on voxelized tubes:
    thin ducts of one voxel read a little low)."""
    touch_factor: float = 1.25
    """A chain between two junctions no longer than this times the sum of their radii, on a cycle, is a contact."""
    smooth_iterations: int = 20
    node_spacing_radii: float = 1.0
    """Nodes along a branch about this many radii apart..."""
    node_spacing_vox: tuple[float, float] = (2.0, 8.0)
    """...clamped to this range in voxels."""


# --------------------------------------------------------------------------- public entry points

def tree_from_case(case: "Case") -> DuctTree:
    """Build a case's tree from its ``[source] volume`` (with label, spacing, nipple_voxel, nipple_lps)."""
    src = case.source
    return tree_from_volume(src.volume, laterality=case.laterality, label=src.label,
                            nipple_lps=case.nipple_lps, nipple_voxel=src.nipple_voxel, spacing=src.spacing_mm)


def tree_from_volume(
    path_or_volume: str | PathLike | Volume,
    *,
    laterality: str | None = None,
    label: int | None = None,
    nipple_lps: Sequence[float] | None = None,
    nipple_voxel: Sequence[int] | None = None,
    spacing: Sequence[float] | None = None,
    options: VolumeOptions | None = None,
) -> DuctTree:
    """Read a segmentation volume (or take a :class:`Volume`) and rebuild its ductal tree (BF mm).

    Parameters
    ----------
    path_or_volume : path or Volume
        NIfTI, NRRD, MetaImage, a DICOM series folder or ``.npy`` (with ``spacing``).
    laterality : {"L", "R"}, optional
        The breast; stored on the tree.
    label : int, optional
        Use only the voxels with this value; without it a binary mask is one
        foreground and a label volume gives one system per label (and component).
    nipple_lps, nipple_voxel : optional
        The nipple as an LPS point (mm) or an image index (i, j, k); at most one.
        Without either, orifices and nipple are estimated (with a warning).
    spacing : 3 floats, optional
        Voxel size for ``.npy`` arrays (mm, along i, j, k).
    options : VolumeOptions, optional

    Returns
    -------
    DuctTree
        In the breast frame (mm), ``graph["nipple_lps"]`` set.
    """
    if isinstance(path_or_volume, Volume):
        vol, src = path_or_volume, None
    else:
        vol, src = read_volume(path_or_volume, spacing=spacing), path_or_volume
    if nipple_lps is not None and nipple_voxel is not None:
        raise InputError("give the nipple as an LPS point or as a voxel index, not both", key="nipple")
    nip = None
    nip_how = None
    if nipple_voxel is not None:
        nip, nip_how = nipple_from_voxel(vol, nipple_voxel, source=src), "voxel"
    elif nipple_lps is not None:
        nip, nip_how = check_nipple_lps(vol, nipple_lps, source=src), "lps"
    labels = mask_labels(vol, label, source=src)
    tree = tree_from_mask(labels, vol, nipple_lps=nip, laterality=laterality, options=options, source=src)
    if nip_how is not None:
        tree.graph["nipple_from"] = "given as a voxel index" if nip_how == "voxel" else "given (LPS)"
    return tree


# --------------------------------------------------------------------------- the pipeline

@dataclass
class _Geometry:
    """Array-index (k, j, i) <-> LPS mm for the cropped array."""

    origin: np.ndarray
    matrix: np.ndarray          # LPS = origin + matrix @ kji
    spacing: np.ndarray         # along k, j, i

    def lps(self, kji: np.ndarray) -> np.ndarray:
        return self.origin + np.asarray(kji, dtype=float) @ self.matrix.T


@dataclass
class _Graph:
    """Key nodes and chains in LPS mm, per system, while cleaning up."""

    pos: list[np.ndarray]        # key node positions
    rad: list[float]             # key node radius (inscribed sphere)
    kind: list[int]              # 0 end, 1 junction, 2 isolated, 3 ring seed
    system: list[int]
    chains: dict[int, dict] = field(default_factory=dict)   # id -> {a, b, pts (n,3), rad (n,)}
    next_chain: int = 0
    value: dict[int, int | None] = field(default_factory=dict)   # system -> its label (None: any foreground)

    def add_chain(self, a: int, b: int, pts: np.ndarray, rad: np.ndarray) -> int:
        cid = self.next_chain
        inner = float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum()) if len(pts) > 1 else 0.0
        self.chains[cid] = {"a": a, "b": b, "pts": pts, "rad": rad, "inner": inner}
        self.next_chain += 1
        return cid


def tree_from_mask(
    labels: np.ndarray,
    volume: Volume,
    *,
    nipple_lps: Sequence[float] | None = None,
    laterality: str | None = None,
    options: VolumeOptions | None = None,
    source: str | PathLike | None = None,
) -> DuctTree:
    """Rebuild the tree from a mask or label array laid out like ``volume.array`` (see the module docs).

    ``labels`` is 0 for background; non-zero values are foreground, and
    different values never join one system.
    """
    from .rays import MaskRays
    from .voxels import foreground

    opt = options or VolumeOptions()
    lab = np.asarray(labels)
    if lab.shape != volume.array.shape:
        raise InputError(f"mask shape {lab.shape} differs from the volume's {volume.array.shape}")
    spacing = volume.array_spacing
    h = float(np.mean(spacing))
    vox_mm3 = float(np.prod(spacing))
    min_mm3 = opt.min_component_mm3 if opt.min_component_mm3 is not None else max(12 * vox_mm3, 0.01)

    # --- the foreground, sparse; a padded work grid around its bounding box
    fg_full = foreground(lab)
    if len(fg_full) == 0:
        raise InputError("the mask is empty (no foreground voxels)", source=source)
    n0, n1, n2 = lab.shape
    k, rest = np.divmod(fg_full, n1 * n2)
    j, i = np.divmod(rest, n2)
    del rest
    lo = np.array([k[0], j.min(), i.min()])                       # fg_full is sorted: k[0] is the least k
    hi = np.array([k[-1], j.max(), i.max()]) + 1
    on_border = (k == 0) | (k == n0 - 1) | (j == 0) | (j == n1 - 1) | (i == 0) | (i == n2 - 1)
    border_vox = fg_full[on_border]
    values = lab.reshape(-1)[fg_full]
    groups = np.unique(values) if values.min() != values.max() else values[:1]
    single = len(groups) == 1
    # padded work grid: index (k, j, i) of the volume is (k - lo + 1, ...) here
    geo = _Geometry(origin=volume.array_to_lps(lo.astype(float) - 1.0), matrix=volume.array_matrix,
                    spacing=spacing)
    shape = tuple(int(n) + 2 for n in (hi - lo))
    fg = ((k - (lo[0] - 1)) * shape[1] + (j - (lo[1] - 1))) * shape[2] + (i - (lo[2] - 1))
    del k, j, i

    # --- skeleton of each label (binary mask: one group), topology-preserving thinning
    from .skeleton import thin_padded
    from .skelgraph import skeleton_chains
    from .voxels import fill_pinholes, sparse_zeros

    grid = sparse_zeros(shape)
    flat = grid.reshape(-1)
    # the mask as the rays see it (pinholes filled): for one label, the thinning grid itself (thinned with
    # ``keep``, every voxel of the mask stays non-zero); for several, their labels in the same padded box
    box = grid if single else sparse_zeros(shape, lab.dtype)
    if not single:
        box.reshape(-1)[fg] = values
    chains = []
    for v in groups:
        sel = fg if single else fg[values == v]
        flat[sel] = 1
        holes = fill_pinholes(grid, sel)
        if len(holes):
            sel = np.concatenate([sel, holes])
            if not single:
                box.reshape(-1)[holes] = v
        sk = thin_padded(grid, sel, keep=single)
        if not single:
            flat[sel] = 0
        chains.append((None if single else v.item(), skeleton_chains(np.stack(np.unravel_index(sk, shape), axis=1))))
    del flat, fg, values

    # --- components (thinning keeps them: one skeleton piece per component), dust dropped and counted
    rays = MaskRays(None, volume, lo, hi, box=box)
    g, dust_voxels, n_dust = _build_graph(chains, lab, lo, geo, rays, opt, h, min_mm3, vox_mm3)
    if n_dust:
        warnings.warn(f"dropped {n_dust} speck(s) of dust (components under {min_mm3:.3g} mm^3, "
                      f"{len(dust_voxels)} voxels in all)", DuctreeWarning, stacklevel=2)
    if not any(_alive(g, k) for k in range(len(g.pos))):
        raise InputError(f"the mask holds only dust: {n_dust} component(s) each smaller than {min_mm3:.3g} mm^3",
                         source=source)
    touches_border = bool(len(np.setdiff1d(border_vox, dust_voxels)))
    if touches_border:
        warnings.warn("the mask touches the border of the volume: ducts may be cut off there",
                      DuctreeWarning, stacklevel=2)

    # --- per-system clean-up
    _prune_spurs(g, opt, h)
    _collapse_small_cycles(g, opt, h)
    _break_contacts(g, opt, h)
    _merge_degree_two(g)

    _refine_junctions(g, h)
    for k, p in _end_tips(g, rays, h).items():
        g.pos[k] = p

    # --- roots and nipple
    systems = sorted(set(g.system[k] for k in range(len(g.pos)) if _alive(g, k)))
    roots, nip, how = _choose_roots(g, systems, nipple_lps)
    if _split_touching_systems(g, roots, nip, opt, h):
        systems = sorted(set(g.system[k] for k in range(len(g.pos)) if _alive(g, k)))
        roots, nip, how = _choose_roots(g, systems, nipple_lps)
    if nipple_lps is None:
        warnings.warn(f"nipple not given: put at LPS ({nip[0]:.1f}, {nip[1]:.1f}, {nip[2]:.1f}) mm, the mean of "
                      f"{len(roots)} orifice end(s) chosen as the end of each system's thickest duct "
                      "(give --nipple or --nipple-voxel to fix it)", DuctreeWarning, stacklevel=2)
    tree = _to_tree(g, roots, nip, opt, h, laterality, rays)
    tree.graph.update(
        source="volume",
        nipple_lps=[float(v) for v in nip],
        nipple_from=how,
        voxel_spacing_mm=[float(v) for v in volume.spacing],
        dust_dropped=int(n_dust),
        touches_border=bool(touches_border),
    )
    n_loops = len(tree.anastomoses())
    if n_loops:
        warnings.warn(f"{n_loops} loop(s) kept as anastomoses (edges flagged anastomosis=true)",
                      DuctreeWarning, stacklevel=2)
    return tree


# --------------------------------------------------------------------------- steps

def _components(ch) -> tuple[np.ndarray, int]:
    """Connected component (0..n-1) of each key node of a skeleton's chains."""
    k = len(ch.node_pos)
    parent = np.arange(k)
    a, b = np.asarray(ch.chain_a, dtype=np.int64), np.asarray(ch.chain_b, dtype=np.int64)
    while len(a):
        # hook the larger root under the smaller, then flatten; repeat until every chain is inside one tree
        ra, rb = parent[a], parent[b]
        if np.array_equal(ra, rb):
            break
        lo_, hi_ = np.minimum(ra, rb), np.maximum(ra, rb)
        np.minimum.at(parent, hi_, lo_)
        while True:
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
    roots, comp = np.unique(parent, return_inverse=True)
    return comp.reshape(-1), len(roots)


def _build_graph(chains, lab: np.ndarray, lo: np.ndarray, geo: _Geometry, rays, opt: VolumeOptions, h: float,
                 min_mm3: float, vox_mm3: float) -> tuple[_Graph, np.ndarray, int]:
    """Key nodes and chains in LPS with radii, one system per component; dust components left out.

    Returns the graph, the flat indices (in ``lab``) of the dust voxels and the number of dust components.
    """
    from .rays import inscribed_radius, ring_radius
    from .voxels import small_components

    g = _Graph(pos=[], rad=[], kind=[], system=[])
    n_min = int(math.ceil(min_mm3 / vox_mm3 - 1e-9))
    box = rays.flat.reshape(tuple(rays.shape))
    # components (one per skeleton piece); a piece with fewer skeleton voxels than the dust limit has its
    # mask component counted by growing it from the skeleton, all such pieces at once
    comps = [_components(ch) if len(ch.node_pos) else (np.zeros(0, dtype=np.int64), 0) for _, ch in chains]
    small, small_seeds, small_vals = [], [], []
    for q, ((value, ch), (comp, n_comp)) in enumerate(zip(chains, comps)):
        if not n_comp:
            continue
        n_sk = np.bincount(comp, weights=[len(m) for m in ch.node_voxels], minlength=n_comp)
        if len(ch.chain_a):
            n_sk += np.bincount(comp[ch.chain_a], weights=[len(v) for v in ch.chain_voxels], minlength=n_comp)
        is_small = n_sk < n_min
        if not is_small.any():
            continue
        # skeleton voxel rows of the small pieces, grouped by piece
        rows = np.concatenate(ch.node_voxels + list(ch.chain_voxels))
        owner = np.concatenate([np.repeat(comp, [len(m) for m in ch.node_voxels]),
                                np.repeat(comp[ch.chain_a], [len(v) for v in ch.chain_voxels])])
        sel = is_small[owner]
        rows, owner = rows[sel], owner[sel]
        order = np.argsort(owner, kind="stable")
        rows, owner = rows[order], owner[order]
        flat_rows = np.ravel_multi_index(tuple(ch.voxels[rows].T), box.shape)
        cs = np.flatnonzero(is_small)
        bounds = np.searchsorted(owner, np.concatenate([cs, [n_comp]]))
        for i, c in enumerate(cs):
            small.append((q, int(c)))
            small_seeds.append(flat_rows[bounds[i]:bounds[i + 1]])
            small_vals.append(value)
    counts, members = small_components(box, small_seeds, small_vals, n_min)
    dust_of: dict[int, set[int]] = {}
    dust_vox: list[np.ndarray] = []
    for (q, c), count, vox in zip(small, counts, members):
        if count * vox_mm3 < min_mm3:
            dust_of.setdefault(q, set()).add(int(c))
            kji = np.stack(np.unravel_index(vox, box.shape), axis=1) - 1 + lo
            dust_vox.append(np.ravel_multi_index(tuple(kji.T), lab.shape))
    n_dust = 0
    n_sys = 0
    for q, ((value, ch), (comp, n_comp)) in enumerate(zip(chains, comps)):
        if not n_comp:
            continue
        dust = np.zeros(n_comp, dtype=bool)
        dust[list(dust_of.get(q, ()))] = True
        n_dust += int(dust.sum())
        sys_of = np.cumsum(~dust) - 1 + n_sys
        n_sys += int((~dust).sum())
        keep_node = ~dust[comp]
        kept = np.flatnonzero(keep_node)
        remap = np.full(len(keep_node), -1, dtype=np.int64)
        remap[kept] = len(g.pos) + np.arange(len(kept))
        vox_lps = geo.lps(ch.voxels)
        node_pos = geo.lps(ch.node_pos)
        # key node radius: the largest inscribed ball over its voxels (shortest ray, + half a voxel for the
        # staircase a ray meets first)
        sizes = np.array([len(ch.node_voxels[k]) for k in kept], dtype=np.int64)
        members = np.concatenate([ch.node_voxels[k] for k in kept]) if len(kept) else np.zeros(0, dtype=np.int64)
        owner = np.repeat(np.arange(len(kept)), sizes)
        vals = None if value is None else np.full(len(members), value)
        r_in = inscribed_radius(rays, vox_lps[members], vals, n_rays=42) + 0.5 * h
        node_r = np.full(len(kept), -np.inf)
        np.maximum.at(node_r, owner, r_in)
        for i, k in enumerate(kept.tolist()):
            g.pos.append(node_pos[k])
            g.rad.append(float(node_r[i]))
            g.kind.append(int(ch.node_kind[k]))
            g.system.append(int(sys_of[comp[k]]))
        for s_ in np.unique(sys_of[~dust]) if (~dust).any() else []:
            g.value[int(s_)] = value
        # chains: ring radius at every voxel, perpendicular to the chain
        pts_list, tan_list, keep_chain = [], [], []
        for a, b, rows in zip(ch.chain_a.tolist(), ch.chain_b.tolist(), ch.chain_voxels):
            ok = keep_node[a] and not (a == b and len(rows) <= 3)   # (a tiny ring inside a junction cluster)
            keep_chain.append(ok)
            if not ok or not len(rows):
                pts_list.append(np.zeros((0, 3)))
                tan_list.append(np.zeros((0, 3)))
                continue
            pts = vox_lps[rows]
            pts_list.append(pts)
            tan_list.append(_tangents(np.vstack([node_pos[a][None], pts, node_pos[b][None]]))[1:-1])
        allp = np.vstack(pts_list) if pts_list else np.zeros((0, 3))
        allt = np.vstack(tan_list) if tan_list else np.zeros((0, 3))
        # radii at every other voxel of each chain (and its last), interpolated between: they steer clean-up only
        sizes = np.array([len(q) for q in pts_list], dtype=np.int64)
        local = np.arange(len(allp)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        last = np.repeat(sizes - 1, sizes)
        probe = np.flatnonzero((local % 2 == 0) | (local == last))
        ring = np.empty(len(allp))
        ring[probe] = ring_radius(rays, allp[probe], allt[probe],
                                  None if value is None else np.full(len(probe), value), n_rays=8)
        odd = np.flatnonzero((local % 2 == 1) & (local != last))
        ring[odd] = 0.5 * (ring[odd - 1] + ring[odd + 1])
        ring += opt.radius_offset_vox * h
        start = 0
        for (a, b), pts, ok in zip(zip(ch.chain_a.tolist(), ch.chain_b.tolist()), pts_list, keep_chain):
            n = len(pts)
            if ok:
                g.add_chain(int(remap[a]), int(remap[b]), pts, ring[start:start + n])
            start += n
    dv = np.sort(np.concatenate(dust_vox)) if dust_vox else np.zeros(0, dtype=np.int64)
    return g, dv, n_dust


def _tangents(pts: np.ndarray, reach: int = 2) -> np.ndarray:
    """Unit tangents along a polyline (n, 3): the chord over ``reach`` points each side (one-sided at the ends)."""
    n = len(pts)
    if n < 2:
        return np.tile([1.0, 0.0, 0.0], (n, 1))
    i = np.arange(n)
    t = pts[np.minimum(i + reach, n - 1)] - pts[np.maximum(i - reach, 0)]
    norm = np.linalg.norm(t, axis=1, keepdims=True)
    return t / np.maximum(norm, 1e-12)


def _alive(g: _Graph, k: int) -> bool:
    return g.kind[k] >= 0


def _incident(g: _Graph) -> dict[int, list[int]]:
    inc: dict[int, list[int]] = {}
    for cid, c in g.chains.items():
        inc.setdefault(c["a"], []).append(cid)
        inc.setdefault(c["b"], []).append(cid)
    return inc


def _chain_length(g: _Graph, c: dict) -> float:
    """Length of a chain's polyline from its start node through its voxels to its end node (mm)."""
    pa, pb = g.pos[c["a"]], g.pos[c["b"]]
    pts = c["pts"]
    if not len(pts):
        return float(math.dist(pa, pb))
    return math.dist(pa, pts[0]) + c["inner"] + math.dist(pts[-1], pb)


def _prune_spurs(g: _Graph, opt: VolumeOptions, h: float) -> None:
    """Remove terminal chains that stick out too little beyond their junction (bumps, noise), repeatedly.

    A terminal chain's protrusion is how far its end lies outside the
    junction's inscribed sphere, and outside the tube (centreline + radius) of
    every other chain at that junction: a bump on a duct's wall sticks out of
    the duct by its own height only, and of two or three curve ends that
    thinning leaves in one rounded duct end, all but one lie inside the
    others' tube.
    """
    while True:
        inc = _incident(g)
        degree = {k: len(v) for k, v in inc.items()}
        removed = False
        cands = []
        for cid, c in g.chains.items():
            a, b = c["a"], c["b"]
            if a == b:
                continue
            ends = [x for x in (a, b) if degree.get(x, 0) == 1]
            if len(ends) != 1:
                continue
            tip = ends[0]
            junction = b if tip == a else a
            if degree.get(junction, 0) < 3:
                continue
            length = _chain_length(g, c)
            rj = g.rad[junction]
            rr = c["rad"]
            # the spur's own radius: beyond the junction sphere, else at the tip
            pts = c["pts"]
            if len(rr):
                far = np.linalg.norm(pts - g.pos[junction], axis=1) > rj
                r_own = _med(rr[far]) if far.any() else _med(rr)
            else:
                r_own = g.rad[tip]
            protrusion = length - rj
            for other in inc[junction]:
                if other != cid:
                    protrusion = min(protrusion, _outside_tube(g, other, junction, g.pos[tip]))
            if protrusion <= max(opt.spur_protrusion * r_own, opt.spur_min_vox * h):
                cands.append((protrusion / max(r_own, 1e-9), cid, tip, junction))
        # remove the worst spur of each junction first, never leaving a junction with fewer than 2 chains
        cands.sort()
        taken: dict[int, int] = {}
        for _, cid, tip, junction in cands:
            if degree[junction] - taken.get(junction, 0) <= 2:
                continue
            taken[junction] = taken.get(junction, 0) + 1
            del g.chains[cid]
            g.kind[tip] = -1
            removed = True
        if not removed:
            return
        _merge_degree_two(g)


def _outside_tube(g: _Graph, cid: int, start: int, point: np.ndarray) -> float:
    """How far ``point`` lies outside chain ``cid``'s tube: distance to its polyline minus the radius there (mm)."""
    c = g.chains[cid]
    pts, rad = (c["pts"], c["rad"]) if c["a"] == start else (c["pts"][::-1], c["rad"][::-1])
    end = c["b"] if c["a"] == start else c["a"]
    poly = np.vstack([g.pos[start][None], pts, g.pos[end][None]])
    r = np.concatenate([[rad[0] if len(rad) else g.rad[start]], rad, [rad[-1] if len(rad) else g.rad[end]]])
    a, ab = poly[:-1], np.diff(poly, axis=0)
    den = np.einsum("ij,ij->i", ab, ab)
    t = np.clip(np.einsum("ij,ij->i", point - a, ab) / np.where(den > 0, den, 1.0), 0.0, 1.0)
    d = np.linalg.norm(point - (a + t[:, None] * ab), axis=1)
    q = int(np.argmin(d))
    return float(d[q] - (r[q] + t[q] * (r[q + 1] - r[q])))


def _merge_degree_two(g: _Graph) -> None:
    """Join the two chains meeting at a key node that has only those two (after pruning or cutting)."""
    inc = _incident(g)
    for k, cids in list(inc.items()):
        if len(cids) != 2 or g.kind[k] < 0 or cids[0] == cids[1]:
            continue
        c1, c2 = g.chains.get(cids[0]), g.chains.get(cids[1])
        if c1 is None or c2 is None:
            continue
        # orient c1 to end at k and c2 to start at k
        p1, r1 = (c1["pts"], c1["rad"]) if c1["b"] == k else (c1["pts"][::-1], c1["rad"][::-1])
        a1 = c1["a"] if c1["b"] == k else c1["b"]
        p2, r2 = (c2["pts"], c2["rad"]) if c2["a"] == k else (c2["pts"][::-1], c2["rad"][::-1])
        b2 = c2["b"] if c2["a"] == k else c2["a"]
        if a1 == k or b2 == k:
            continue
        pts = np.vstack([p1, g.pos[k][None], p2])
        rad = np.concatenate([r1, [_chain_radius_near(r1, r2)], r2])
        del g.chains[cids[0]], g.chains[cids[1]]
        new = g.add_chain(a1, b2, pts, rad)
        g.kind[k] = -1
        inc[a1] = [new if x in cids else x for x in inc.get(a1, [])]
        inc[b2] = [new if x in cids else x for x in inc.get(b2, [])]
        inc[k] = []


def _chain_radius_near(r1: np.ndarray, r2: np.ndarray) -> float:
    near = np.concatenate([r1[-3:], r2[:3]])
    return _med(near) if len(near) else 0.0


def _collapse_small_cycles(g: _Graph, opt: VolumeOptions, h: float) -> None:
    """Collapse each small cycle of chains into one junction (a tunnel through a fork's crotch).

    Where sibling ducts are fused past their fork, noise or a dent can pierce
    the thin web between them; thinning keeps that tunnel as a small cycle of
    junctions joined by chains about a radius long. A cycle counts as small
    when it is no longer than the circumference of the thickest duct meeting
    it (+ two voxels), unlike the cycle of two ducts that merely touch (which
    runs back along both ducts to their common parent) or of a real
    anastomosis. Its nodes become one junction at their centroid, keeping every
    chain that leaves the cycle.
    """
    import networkx as nx

    while True:
        inc = _incident(g)
        shortest: dict[tuple[int, int], float] = {}
        small: list[set[int]] = []
        for cid, c in g.chains.items():
            a, b = c["a"], c["b"]
            if a == b:
                continue
            key = (min(a, b), max(a, b))
            length = _chain_length(g, c)
            if key in shortest:                    # two chains between the same nodes: a cycle of two
                if shortest[key] + length <= 2 * math.pi * _duct_radius_at(g, list(key), inc) + 2 * h:
                    small.append(set(key))
                shortest[key] = min(shortest[key], length)
            else:
                shortest[key] = length
        graph = nx.Graph()
        graph.add_weighted_edges_from((a, b, w) for (a, b), w in shortest.items())
        for cyc in nx.cycle_basis(graph):
            perimeter = sum(graph[u][v]["weight"] for u, v in zip(cyc, cyc[1:] + cyc[:1]))
            if perimeter <= 2 * math.pi * _duct_radius_at(g, cyc, inc) + 2 * h:
                small.append(set(cyc))
        if not small:
            return
        # cycles sharing a node collapse together
        merged = nx.Graph()
        for group in small:
            nodes = sorted(group)
            merged.add_node(nodes[0])
            merged.add_edges_from(zip(nodes, nodes[1:]))
        for comp in nx.connected_components(merged):
            _merge_nodes(g, sorted(comp))


def _duct_radius_at(g: _Graph, nodes: list[int], inc: dict[int, list[int]]) -> float:
    """The thickest duct radius at some key nodes: their inscribed spheres and their chains' first radii."""
    r = max(g.rad[k] for k in nodes)
    for k in nodes:
        for cid in inc.get(k, []):
            c = g.chains[cid]
            rr = c["rad"] if c["a"] == k else c["rad"][::-1]
            if len(rr):
                r = max(r, _med(rr[:5]))
    return r


def _merge_nodes(g: _Graph, nodes: list[int]) -> None:
    """Make one node of several: the first, at their centroid, with the largest radius; chains between them go."""
    keep = nodes[0]
    members = set(nodes)
    g.pos[keep] = np.mean([g.pos[k] for k in nodes], axis=0)
    g.rad[keep] = max(g.rad[k] for k in nodes)
    g.kind[keep] = 1
    for cid in list(g.chains):
        c = g.chains[cid]
        ina, inb = c["a"] in members, c["b"] in members
        if ina and inb:
            del g.chains[cid]
            continue
        if ina:
            c["a"] = keep
        if inb:
            c["b"] = keep
    for k in nodes[1:]:
        g.kind[k] = -1


def _break_contacts(g: _Graph, opt: VolumeOptions, h: float) -> None:
    """Remove short chains between two junctions that lie on a cycle (ducts that merely touch)."""
    import networkx as nx

    while True:
        mg = nx.MultiGraph()
        for cid, c in g.chains.items():
            mg.add_edge(c["a"], c["b"], key=cid)
        if not mg.number_of_edges():
            return
        bridges = {frozenset(e) for e in nx.bridges(nx.Graph(mg))} if mg.number_of_edges() else set()
        # edges on a cycle: not a graph bridge, or a parallel edge
        cands = []
        for cid, c in g.chains.items():
            a, b = c["a"], c["b"]
            if a == b:
                cands.append((0.0, cid))
                continue
            on_cycle = mg.number_of_edges(a, b) > 1 or frozenset((a, b)) not in bridges
            if not on_cycle:
                continue
            if mg.degree(a) < 3 or mg.degree(b) < 3:
                continue
            length = _chain_length(g, c)
            if length <= opt.touch_factor * (g.rad[a] + g.rad[b]) + h:
                cands.append((length / (g.rad[a] + g.rad[b] + 1e-9), cid))
        if not cands:
            return
        cands.sort()
        del g.chains[cands[0][1]]
        _merge_degree_two(g)


_REFINE = {"start": 0.5, "span": 2.0, "span_vox": 6.0, "max_move": 3.0}


def _refine_junctions(g: _Graph, h: float) -> None:
    """Move each junction to the point nearest the axes of its branches (least squares).

    The junction of a thinned skeleton sits where the inscribed sphere touches
    every branch, displaced into the fork; the branches' own axes, fitted a
    little away from the junction and extended, meet at the branching point.
    Each axis is fitted on the chain's points between ``start`` and ``start +
    span`` duct radii from the junction (at least ``span_vox`` voxels, at
    least three points). The move is kept only if shorter than ``max_move``
    duct radii.
    """
    inc = _incident(g)
    prm = _REFINE
    for k, cids in inc.items():
        if len(cids) < 3 or g.kind[k] < 0:
            continue
        r = _duct_radius_at(g, [k], inc)
        d0 = prm["start"] * r
        d1 = d0 + max(prm["span"] * r, prm["span_vox"] * h)
        a_sum = np.zeros((3, 3))
        b_sum = np.zeros(3)
        n_lines = 0
        for cid in cids:
            c = g.chains[cid]
            if c["a"] == c["b"]:
                continue
            other = c["b"] if c["a"] == k else c["a"]
            pts = np.vstack([c["pts"] if c["a"] == k else c["pts"][::-1], g.pos[other][None]])
            d = np.linalg.norm(pts - g.pos[k], axis=1)
            beyond = np.flatnonzero(d >= d0)
            if len(beyond) < 2:
                continue
            take = beyond[d[beyond] <= d1]
            if len(take) < 3:
                take = beyond[:3]
            sel = pts[take]
            centre = sel.mean(axis=0)
            u = np.linalg.svd(sel - centre, full_matrices=False)[2][0]
            proj = np.eye(3) - np.outer(u, u)
            a_sum += proj
            b_sum += proj @ centre
            n_lines += 1
        if n_lines < 3:
            continue
        try:
            p = np.linalg.solve(a_sum, b_sum)
        except np.linalg.LinAlgError:
            continue
        if np.all(np.isfinite(p)) and np.linalg.norm(p - g.pos[k]) < prm["max_move"] * r:
            g.pos[k] = p


def _end_tips(g: _Graph, rays, h: float) -> dict[int, np.ndarray]:
    """Where each curve end's duct really ends: the centre of its rounded end (LPS mm), per end key node.

    Thinning stops a curve one to three radii short of a duct's end. Along the
    duct's axis at the end (the principal direction of the chain's last few
    radii), from the chain's most advanced point, the mask's boundary lies one
    duct radius (measured a little way back from the end) beyond the centre of
    the rounded end. An end nearer than that to the boundary stays where it
    is along the axis (thin ducts' ends are eroded by partial volume, so the
    boundary alone would pull them back), moved onto the axis.
    """
    inc = _incident(g)
    ends, origins, dirs, radii, vals = [], [], [], [], []
    for k, cids in inc.items():
        if len(cids) != 1 or g.kind[k] < 0:
            continue
        c = g.chains[cids[0]]
        if c["a"] == c["b"]:
            continue
        other = c["b"] if c["a"] == k else c["a"]
        pts, rad = (c["pts"], c["rad"]) if c["b"] == k else (c["pts"][::-1], c["rad"][::-1])
        seq = np.vstack([g.pos[other][None], pts, g.pos[k][None]])[::-1]          # from the end inward
        along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(seq, axis=0), axis=1))])
        reach = max(3.0 * g.rad[k], 4.0 * h)
        # the duct's radius near its end (the end's own inscribed sphere is cut short by the rounded end)
        back = rad[::-1][:max(1, int(np.searchsorted(along[1:], 3.0 * reach, side="right")))]
        r_end = max(g.rad[k], _med(back)) if len(back) else g.rad[k]
        n_front = max(2, int(np.searchsorted(along, reach, side="right")))
        n_back = max(n_front + 1, int(np.searchsorted(along, 3.0 * reach, side="right")))
        near = seq[:n_back]
        if len(near) < 3:
            continue
        n_front = min(n_front, len(near) - 1)
        # the duct's axis at its end: the principal direction of the chain's last few radii, pointing from the
        # points further in to the last radius (robust to a hooked end)
        centre = near.mean(axis=0)
        u = np.linalg.svd(near - centre, full_matrices=False)[2][0]
        if float(u @ (near[:n_front].mean(axis=0) - near[n_front:].mean(axis=0))) < 0:
            u = -u
        # start from the most advanced point of the chain's end, on that axis (a hook is straightened)
        ends.append(k)
        origins.append(centre + float(((near[:n_front] - centre) @ u).max()) * u)
        dirs.append(u)
        radii.append(r_end)
        vals.append(g.value.get(g.system[k]))
    if not ends:
        return {}
    value = None if all(v is None for v in vals) else np.array([0 if v is None else v for v in vals])
    length = rays.cast(np.array(origins), np.array(dirs), value)
    out = {}
    for k, o, d, L, r in zip(ends, origins, dirs, length, radii):
        out[k] = o + max(float(L) - r, 0.0) * d
    return out


def _split_touching_systems(g: _Graph, roots: dict[int, int], nip: np.ndarray, opt: VolumeOptions,
                            h: float) -> bool:
    """Split a component holding two orifices (systems touching near the nipple) at the contact between them.

    A second end of the same component counts as another orifice when it is
    about as near the nipple as the root (within twice its distance plus 3 mm)
    and at least half as thick. The component is cut at the chain on the path
    between the two that looks most like a contact (short for its radii).
    """
    import networkx as nx

    inc = _incident(g)
    split = False
    next_system = max(g.system) + 1 if g.system else 0
    for s, root in list(roots.items()):
        d0 = float(np.linalg.norm(g.pos[root] - nip))
        r0 = _end_radius(g, root, inc)
        ends = [k for k, cids in inc.items() if len(cids) == 1 and g.kind[k] >= 0 and g.system[k] == s
                and k != root]
        others = [k for k in ends if np.linalg.norm(g.pos[k] - nip) <= 2 * d0 + 3.0
                  and _end_radius(g, k, inc) >= 0.5 * r0]
        for other in others:
            mg = nx.Graph()
            for cid, c in g.chains.items():
                if g.system[c["a"]] == s:
                    mg.add_edge(c["a"], c["b"], cid=cid)
            if other not in mg or root not in mg or not nx.has_path(mg, root, other):
                continue
            path = nx.shortest_path(mg, root, other)
            best = None
            for u, v in zip(path[:-1], path[1:]):
                cid = mg.edges[u, v]["cid"]
                c = g.chains[cid]
                if len(inc.get(u, [])) < 3 or len(inc.get(v, [])) < 3:
                    continue
                ratio = _chain_length(g, c) / (g.rad[u] + g.rad[v] + 1e-9)
                if ratio <= opt.touch_factor * 2 and (best is None or ratio < best[0]):
                    best = (ratio, cid)
            if best is None:
                continue
            del g.chains[best[1]]
            mg2 = nx.Graph()
            for cid, c in g.chains.items():
                if g.system[c["a"]] == s:
                    mg2.add_edge(c["a"], c["b"])
            if other in mg2:
                for k in nx.node_connected_component(mg2, other):
                    g.system[k] = next_system
            g.value[next_system] = g.value.get(s)
            next_system += 1
            split = True
            _merge_degree_two(g)
            inc = _incident(g)
    return split


def _choose_roots(g: _Graph, systems: list[int], nipple: Sequence[float] | None):
    """One root key node per system; the nipple (given or estimated as the mean of the roots)."""
    inc = _incident(g)
    per_sys_ends: dict[int, list[int]] = {s: [] for s in systems}
    per_sys_any: dict[int, list[int]] = {s: [] for s in systems}
    for k in range(len(g.pos)):
        if not _alive(g, k):
            continue
        s = g.system[k]
        if s not in per_sys_any:
            continue
        deg = len(inc.get(k, []))
        if deg == 0 and g.kind[k] != 2:
            continue
        per_sys_any[s].append(k)
        if deg <= 1:
            per_sys_ends[s].append(k)
    roots: dict[int, int] = {}
    if nipple is not None:
        nip = np.asarray(nipple, dtype=float)
        for s in systems:
            cand = per_sys_ends[s] or per_sys_any[s]
            d = [np.linalg.norm(g.pos[k] - nip) for k in cand]
            roots[s] = cand[int(np.argmin(d))]
        return roots, nip, "given"
    # estimate: each system's thickest end; then prefer, among its thick ends, the one nearest the others
    thick: dict[int, list[tuple[float, int]]] = {}
    for s in systems:
        cand = per_sys_ends[s] or per_sys_any[s]
        scored = sorted(((_end_radius(g, k, inc), k) for k in cand), reverse=True)
        thick[s] = scored
        roots[s] = scored[0][1]
    if len(systems) > 1:
        for _ in range(2):
            centre = np.median(np.array([g.pos[roots[s]] for s in systems]), axis=0)
            for s in systems:
                best = thick[s][0][0]
                ok = [(np.linalg.norm(g.pos[k] - centre), k) for r, k in thick[s] if r >= 0.6 * best]
                roots[s] = min(ok)[1]
    nip = np.mean(np.array([g.pos[roots[s]] for s in systems]), axis=0)
    return roots, nip, "estimated"


def _end_radius(g: _Graph, k: int, inc: dict[int, list[int]]) -> float:
    """Radius of the duct at an end: the median radius of the first part of its chain."""
    cids = inc.get(k, [])
    if not cids:
        return g.rad[k]
    c = g.chains[cids[0]]
    r = c["rad"] if c["a"] == k else c["rad"][::-1]
    if not len(r):
        return g.rad[k]
    n = max(3, len(r) // 4)
    return _med(r[:n])


def _to_tree(g: _Graph, roots: dict[int, int], nip: np.ndarray, opt: VolumeOptions, h: float,
             laterality: str | None, rays) -> DuctTree:
    """Orient chains away from each root (BFS by path length), smooth, resample, and build the DuctTree."""
    import heapq

    inc = _incident(g)
    smooth = _smooth_chains(g, opt)
    positions: list[np.ndarray] = []
    radii: list[float] = []
    parents: list[int] = []
    systems: list[int] = []
    anastomoses: list[tuple[int, int]] = []
    row_of_key: dict[int, int] = {}
    done_chain: set[int] = set()
    for s_index, s in enumerate(sorted(roots)):
        root = roots[s]
        row_of_key[root] = len(positions)
        positions.append(g.pos[root])
        radii.append(max(_end_radius(g, root, inc), 1e-3))
        parents.append(-1)
        systems.append(s_index)
        # Dijkstra over key nodes: chains are taken in order of the distance of their near end
        dist = {root: 0.0}
        heap = [(0.0, root)]
        while heap:
            d, k = heapq.heappop(heap)
            if d > dist.get(k, math.inf):
                continue
            for cid in sorted(inc.get(k, [])):
                if cid in done_chain:
                    continue
                c = g.chains[cid]
                forward = c["a"] == k
                other = c["b"] if forward else c["a"]
                done_chain.add(cid)
                length = _chain_length(g, c)
                if cid in smooth:
                    full, filt = smooth[cid]
                    seg_pts, seg_rad = _refine_chain(full if forward else full[::-1],
                                                     filt if forward else filt[::-1], opt, h)
                else:
                    seg_pts, seg_rad = np.zeros((0, 3)), np.zeros(0)
                prev = row_of_key[k]
                if other in row_of_key:
                    # the chain closes a loop: grow it from both ends, flag the middle link
                    half = len(seg_pts) // 2
                    prev = _append(positions, radii, parents, systems, seg_pts[:half], seg_rad[:half], prev, s_index)
                    back = _append(positions, radii, parents, systems, seg_pts[half:][::-1], seg_rad[half:][::-1],
                                   row_of_key[other], s_index)
                    anastomoses.append((prev, back))
                    continue
                prev = _append(positions, radii, parents, systems, seg_pts, seg_rad, prev, s_index)
                row_of_key[other] = len(positions)
                positions.append(g.pos[other])
                radii.append(_node_radius(g, other, seg_rad, inc))
                parents.append(prev)
                systems.append(s_index)
                nd = d + length
                if nd < dist.get(other, math.inf):
                    dist[other] = nd
                    heapq.heappush(heap, (nd, other))
    lps = np.array(positions, dtype=float).reshape(-1, 3)
    par = np.array(parents, dtype=np.int64)
    is_key = np.zeros(len(lps), dtype=bool)
    is_key[list(row_of_key.values())] = True
    # radius at every node: rays in the plane perpendicular to the duct there
    first_child = np.full(len(par), -1)
    has = par >= 0
    first_child[par[has][::-1]] = np.flatnonzero(has)[::-1]
    ahead = np.where(first_child >= 0, first_child, np.arange(len(par)))
    behind = np.where(par >= 0, par, np.arange(len(par)))
    tangent = lps[ahead] - lps[behind]
    order = sorted(roots)
    vals = [g.value.get(order[s]) for s in systems]
    value = None if all(v is None for v in vals) else np.array([0 if v is None else v for v in vals])
    from .rays import ring_radius

    rad = ring_radius(rays, lps, tangent, value, n_rays=16) + opt.radius_offset_vox * h
    # key nodes (root, junctions, tips) take the duct's radius from their neighbour along the tree
    for row in np.flatnonzero(is_key):
        nb = par[row] if par[row] >= 0 and not is_key[par[row]] else first_child[row]
        if nb >= 0 and not is_key[nb]:
            rad[row] = rad[nb]
        elif par[row] >= 0:
            rad[row] = min(rad[row], rad[par[row]])
    rad = np.maximum(rad, 0.5 * h)          # a duct one voxel wide in the mask is at least half a voxel thick
    pos = lps - nip
    tree = DuctTree.from_arrays(pos, rad, par, np.array(systems, dtype=np.int64), laterality=laterality)
    for u, v in anastomoses:
        if u == v or u < 0 or v < 0:
            continue
        tree.add_edge(u, v, anastomosis=True)
    return tree


def _append(positions, radii, parents, systems, pts, rad, prev: int, s: int) -> int:
    for p, r in zip(pts, rad):
        positions.append(p)
        radii.append(float(r))
        parents.append(prev)
        systems.append(s)
        prev = len(positions) - 1
    return prev


def _node_radius(g: _Graph, k: int, seg_rad: np.ndarray, inc: dict[int, list[int]]) -> float:
    """Radius stored on a key node: the duct's, not the junction's inscribed sphere."""
    if len(seg_rad):
        return _med(seg_rad[-3:])
    return g.rad[k]


def _smooth_chains(g: _Graph, opt: VolumeOptions) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Every chain's polyline smoothed (end nodes fixed) and its radii median-filtered, all chains at once.

    Returns, per chain id, the smoothed polyline from node ``a`` to node ``b``
    (both included) and the filtered radii of its interior points.
    """
    cids = [cid for cid, c in g.chains.items() if len(c["pts"])]
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not cids:
        return out
    fulls = [np.vstack([g.pos[g.chains[cid]["a"]][None], g.chains[cid]["pts"], g.pos[g.chains[cid]["b"]][None]])
             for cid in cids]
    sizes = np.array([len(f) for f in fulls])
    x = np.vstack(fulls)
    fixed = np.zeros(len(x), dtype=bool)
    ends = np.cumsum(sizes)
    fixed[ends - 1] = True
    fixed[ends - sizes] = True
    anchor = x[fixed].copy()
    # Jacobi smoothing over the concatenation: the fixed ends keep neighbouring chains apart
    for _ in range(opt.smooth_iterations):
        x[1:-1] = 0.5 * x[1:-1] + 0.25 * (x[:-2] + x[2:])
        x[fixed] = anchor
    # running median (5) of the radii, each chain's ends repeated (short chains one by one)
    rads = [g.chains[cid]["rad"] for cid in cids]
    long_ = [q for q, r in enumerate(rads) if len(r) >= 5]
    filt: dict[int, np.ndarray] = {q: _running_median(r, 5) for q, r in enumerate(rads) if len(r) < 5}
    if long_:
        padded = np.concatenate([np.concatenate([[rads[q][0]] * 2, rads[q], [rads[q][-1]] * 2]) for q in long_])
        med = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
        start = 0
        for q in long_:
            n = len(rads[q])
            filt[q] = med[start:start + n]
            start += n + 4
    for q, cid in enumerate(cids):
        b = ends[q]
        out[cid] = (x[b - sizes[q]:b], filt[q])
    return out


def _refine_chain(full: np.ndarray, r: np.ndarray, opt: VolumeOptions, h: float) -> tuple[np.ndarray, np.ndarray]:
    """A smoothed chain (``full``: both end nodes included; ``r``: interior radii) resampled about a radius apart."""
    n = len(full) - 2
    if n <= 0:
        return np.zeros((0, 3)), np.zeros(0)
    # resample: keep points about max(2h, radius) apart along the arc
    seg = np.linalg.norm(np.diff(full, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    step_lo, step_hi = opt.node_spacing_vox[0] * h, opt.node_spacing_vox[1] * h
    rmed = _med(r) if len(r) else h
    step = min(max(opt.node_spacing_radii * rmed, step_lo), step_hi)
    m = int(round(total / step))
    if m <= 1:
        keep_s = np.array([total / 2]) if n >= 2 and total > 2 * step_lo else np.zeros(0)
    else:
        keep_s = np.linspace(0, total, m + 1)[1:-1]
    if len(keep_s) == 0:
        return np.zeros((0, 3)), np.zeros(0)
    out = np.stack([np.interp(keep_s, s, full[:, q]) for q in range(3)], axis=1)
    out_r = np.interp(keep_s, s[1:-1], r) if n > 1 else np.full(len(keep_s), r[0])
    return out, out_r


def _med(x) -> float:
    """Median of a small 1-D array (np.median's overhead dominates at this size)."""
    v = np.sort(np.asarray(x, dtype=float).reshape(-1))
    n = len(v)
    return float(v[(n - 1) // 2] + v[n // 2]) / 2.0


def _running_median(x: np.ndarray, w: int) -> np.ndarray:
    """Median over a window of ``w`` samples (edges repeated), like ``scipy.ndimage.median_filter(mode="nearest")``."""
    x = np.asarray(x, dtype=float)
    if len(x) < 3:
        return x
    w = min(w, len(x))
    left = w // 2
    padded = np.concatenate([np.full(left, x[0]), x, np.full(w - 1 - left, x[-1])])
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, w), axis=1)
