"""The volume pipeline's helpers: simple-point table, neighbourhood codes, thinning topology, sparse foreground,
pinholes, local dust count, ray radii, skeleton chains.

References are independent: the direct flood-fill simple-point test, numpy/scipy labelling, and shapes whose
answer is known by construction (a tube of radius r, a ball, a cavity of one voxel).
"""

import numpy as np
import pytest
from scipy import ndimage

from ductree.io.volumes import Volume
from ductree.reconstruct import skeleton as sk
from ductree.reconstruct.rays import MaskRays, inscribed_radius, ring_radius, sphere_directions
from ductree.reconstruct.skelgraph import skeleton_chains
from ductree.reconstruct.voxels import fill_pinholes, foreground, small_components


def test_shipped_table_agrees_with_the_direct_test():
    bits = sk.simple_table()
    assert bits is not None and bits.size == 1 << 23
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.integers(0, 1 << 26, 40000, dtype=np.int64),
                            # sparse and dense neighbourhoods, where simple points live
                            rng.integers(0, 1 << 26, 4000) & rng.integers(0, 1 << 26, 4000) & rng.integers(0, 1 << 26, 4000),
                            (1 << 26) - 1 - (rng.integers(0, 1 << 26, 4000) & rng.integers(0, 1 << 26, 4000)),
                            [0, 1, (1 << 26) - 1, 1 << 12, 1 << 13]]).astype(np.uint32)
    assert np.array_equal(sk.simple_lookup(codes), sk.is_simple(codes))
    # hand-worked: an isolated voxel and an interior voxel are not simple; a voxel on a flat face is
    face = np.zeros(26, bool)
    face[sk.OFFSETS[:, 0] >= 0] = True                   # the half-space k >= 0 (minus the voxel itself)
    code = int((face.astype(np.uint64) << np.arange(26, dtype=np.uint64)).sum())
    assert sk.simple_lookup(np.array([0, (1 << 26) - 1, code], np.uint32)).tolist() == [False, False, True]


def test_neighbourhood_codes_match_a_plain_gather():
    rng = np.random.default_rng(1)
    for shape in [(3, 3, 3), (4, 5, 6), (7, 3, 9)]:
        g = (rng.random(shape) < 0.6).astype(np.uint8)
        g[[0, -1]] = 0
        g[:, [0, -1]] = 0
        g[:, :, [0, -1]] = 0
        inner = np.ravel_multi_index(tuple(np.argwhere(np.ones(np.array(shape) - 2, bool)).T + 1), shape)
        rng.shuffle(inner)       # the grid's last interior voxel included, in any order
        s0, s1 = shape[1] * shape[2], shape[2]
        offs = sk.OFFSETS @ np.array([s0, s1, 1])
        nb = g.reshape(-1)[inner[:, None] + offs[None, :]].astype(np.uint64)
        want = (nb << np.arange(26, dtype=np.uint64)).sum(axis=1)
        assert np.array_equal(sk.NeighbourhoodCodes(g)(inner), want)


def test_thinning_keeps_components_and_gives_curves():
    rng = np.random.default_rng(2)
    blobs = ndimage.gaussian_filter(rng.random((40, 40, 40)), 2.0) > 0.51
    blobs = ndimage.binary_fill_holes(blobs)
    s = sk.thin(blobs)
    assert s.sum() < blobs.sum() / 10 and not (s & ~blobs).any()
    n_mask = ndimage.label(blobs, structure=np.ones((3, 3, 3)))[1]
    n_skel = ndimage.label(s, structure=np.ones((3, 3, 3)))[1]
    assert n_mask == n_skel > 3
    # a straight square bar thins to one voxel per cross-section
    bar = np.zeros((9, 9, 30), bool)
    bar[2:7, 2:7, 2:28] = True
    cut = sk.thin(bar)[:, :, 5:25]
    assert (cut.sum(axis=(0, 1)) == 1).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.uint16, np.int32, np.uint64, np.float32])
def test_foreground_equals_flatnonzero(dtype):
    rng = np.random.default_rng(3)
    a = (rng.random((7, 11, 13)) < 0.03).astype(dtype)    # 1001 voxels: not a multiple of 8
    a.reshape(-1)[-1] = 1
    assert np.array_equal(foreground(a), np.flatnonzero(a))


def test_fill_pinholes_fills_one_voxel_cavities_only():
    g = np.zeros((10, 10, 14), np.uint8)
    g[1:9, 1:9, 1:13] = 1
    g[4, 4, 4] = 0                  # a one-voxel cavity
    g[4, 4, 8:10] = 0               # a two-voxel cavity stays
    g[1, 5, 5] = 0                  # a dent in the wall stays (open to the outside)
    fg = np.flatnonzero(g)
    filled = fill_pinholes(g, fg)
    assert filled.tolist() == [np.ravel_multi_index((4, 4, 4), g.shape)]
    assert g[4, 4, 4] == 1 and g[4, 4, 8] == 0 and g[1, 5, 5] == 0


def test_small_components_counted_from_seeds():
    box = np.zeros((22, 22, 22), np.uint8)       # outer layer 0, as the padded work grid
    box[3:5, 3:5, 3] = 1                          # 4 voxels
    box[10:18, 10, 10] = 1                        # 8 voxels in a row
    box[12, 11, 11] = 1                           # ... and one more, diagonally attached: 9
    box[2:20, 2:20, 18:20] = 2                    # a slab of 648 voxels of another label
    idx = lambda *kji: np.ravel_multi_index(kji, box.shape)   # noqa: E731
    seeds = [np.array([idx(3, 3, 3)]), np.array([idx(12, 10, 10), idx(13, 10, 10)]), np.array([idx(5, 5, 18)])]
    counts, members = small_components(box, seeds, [None, None, None], 12)
    assert counts.tolist() == [4, 9, 12]           # the slab reaches the cap of 12
    assert sorted(members[0].tolist()) == sorted(np.flatnonzero(box.reshape(-1) * (np.arange(box.size) < idx(6, 0, 0))
                                                               == 1).tolist())
    assert len(members[1]) == 9 and len(members[2]) == 0
    # with labels, a component grows only through its own value (the slab touches nothing of label 1 anyway)
    box[5, 5, 17] = 1                             # a label-1 voxel touching the slab
    counts, members = small_components(box, seeds[1:], [1, 2], 1000)
    assert counts.tolist() == [9, 648] and idx(5, 5, 17) not in set(members[1].tolist())


def _tube(r_vox, length=60, axis_dir=(0.15, 0.3, 1.0)):
    """A tube of radius r_vox about the line through c0 along d (voxel units), inside the array."""
    d = np.asarray(axis_dir) / np.linalg.norm(axis_dir)
    c0 = np.array([r_vox + 4, r_vox + 4, 2.0])
    end = c0 + (length - 4) * d
    shape = tuple(int(np.ceil(max(c0[q], end[q]) + r_vox + 4)) for q in range(2)) + (length,)
    k, j, i = np.mgrid[:shape[0], :shape[1], :shape[2]]
    p = np.stack([k, j, i], axis=-1) - c0
    dist = np.linalg.norm(p - (p @ d)[..., None] * d, axis=-1)
    return (dist <= r_vox).astype(np.uint8), d, c0


@pytest.mark.parametrize("r_vox", [1.5, 3.0, 6.0])
def test_ring_radius_of_a_voxelized_tube(r_vox):
    h = 0.1
    m, d, c0 = _tube(r_vox)
    vol = Volume(m, spacing=(h, h, h))             # array (k, j, i) -> LPS (i, j, k) * h
    rays = MaskRays(m, vol)
    s = np.linspace(15, 40, 20)
    kji = c0[None, :] + s[:, None] * d[None, :]
    pts = vol.array_to_lps(kji)
    tan = vol.array_to_lps(kji + d) - pts
    tan /= np.linalg.norm(tan, axis=1, keepdims=True)
    r = ring_radius(rays, pts, tan, n_rays=24)
    assert np.median(r) == pytest.approx(r_vox * h, rel=0.05)


def test_inscribed_radius_of_a_ball_and_rays_stop_at_the_mask_edge():
    h = 0.2
    k, j, i = np.mgrid[:21, :21, :21]
    ball = ((k - 10) ** 2 + (j - 10) ** 2 + (i - 10) ** 2 <= 49).astype(np.uint8)    # radius 7 voxels
    vol = Volume(ball, spacing=(h, h, h), origin=(5.0, -3.0, 2.0))
    rays = MaskRays(ball, vol)
    centre = vol.index_to_lps([10, 10, 10])
    r = inscribed_radius(rays, centre[None, :])[0]
    assert 7 * h - 0.5 * h <= r <= 7 * h + 0.5 * h
    # every ray from the centre ends within a voxel of the ball's surface (7.5 voxels to the face boundary at most)
    lengths = rays.cast(np.repeat(centre[None], 62, 0), sphere_directions(62))
    assert np.all(np.abs(lengths - 7 * h) <= 0.6 * h)
    # a full mask touching every border: rays end at the volume's edge
    full = np.ones((5, 5, 5), np.uint8)
    rays = MaskRays(full, Volume(full, spacing=(1, 1, 1)))
    out = rays.cast(np.array([[2.0, 2.0, 2.0]]), np.array([[1.0, 0.0, 0.0]]))
    assert out[0] == pytest.approx(2.5, abs=0.05)


def test_skeleton_chains_hand_made():
    # a plus sign in a plane: one junction cluster, four ends, four chains
    vox = [(0, 5, i) for i in range(11)] + [(0, j, 5) for j in range(11) if j != 5]
    ch = skeleton_chains(np.array(vox))
    assert sorted(ch.node_kind.tolist()) == [0, 0, 0, 0, 1]
    assert len(ch.chain_a) == 4
    # a staircase diagonal (face steps only) is one chain, no junctions
    stair = [(0, q // 2 + q % 2, q // 2) for q in range(12)]
    ch = skeleton_chains(np.array(stair))
    assert sorted(ch.node_kind.tolist()) == [0, 0] and len(ch.chain_a) == 1
    # a ring of 8 voxels: one ring seed and one chain from it back to itself
    ring = [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 2), (0, 2, 2), (0, 2, 1), (0, 2, 0), (0, 1, 0)]
    ch = skeleton_chains(np.array(ring))
    assert ch.node_kind.tolist() == [3] and ch.chain_a.tolist() == ch.chain_b.tolist() == [0]
    assert len(ch.chain_voxels[0]) == 7
