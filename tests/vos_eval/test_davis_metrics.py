"""DAVIS J/F measures: hand-computed cases, skimage's disk, and agreement with the independent vos-benchmark."""
import cv2
import numpy as np
import pytest
from skimage.morphology import disk as skimage_disk

from vos_eval.metrics import (
    boundary_radius,
    db_statistics,
    decay_bin_indices,
    dilate,
    disk,
    f_measure,
    jaccard,
    pairwise_jf,
    seg2bmap,
)

vos_evaluator = pytest.importorskip("vos_benchmark.evaluator")
vos_utils = pytest.importorskip("vos_benchmark.utils")


def _square(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def _blobs(rng, h, w, k):
    """An id map with k random (overlapping, border-touching) ellipses."""
    labels = np.zeros((h, w), dtype=np.uint8)
    yy, xx = np.ogrid[:h, :w]
    for i in range(1, k + 1):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        ry, rx = rng.integers(1, h // 2 + 2), rng.integers(1, w // 2 + 2)
        labels[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = i
    return labels


@pytest.mark.parametrize("radius", list(range(0, 13)) + [8.0, 18])
def test_disk_equals_skimage(radius):
    ours = disk(radius)
    assert ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, skimage_disk(radius))


def test_disk_rejects_fractional_radius():
    with pytest.raises(ValueError, match="integer"):
        disk(2.5)


def test_boundary_radius():
    assert boundary_radius(480, 854) == 8  # the DAVIS 480p tolerance
    assert boundary_radius(1080, 1920) == 18
    assert boundary_radius(10, 10) == 1
    assert boundary_radius(480, 854, bound_th=3) == 3  # >= 1: pixels


def test_seg2bmap_hand_computed():
    seg = _square(4, 5, 1, 3, 1, 3)
    expected = np.array(
        [
            [1, 1, 1, 0, 0],  # row 0 sees the square to its south / south-east
            [1, 0, 1, 0, 0],
            [1, 1, 1, 0, 0],
            [0, 0, 0, 0, 0],  # last row: east neighbour only
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(seg2bmap(seg), expected)
    # Last column compares with its south neighbour; bottom-right pixel always cleared.
    full = np.ones((3, 3), dtype=bool)
    np.testing.assert_array_equal(seg2bmap(full), np.zeros((3, 3), dtype=bool))


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (6, 7), (480, 854), (37, 53)])
def test_seg2bmap_matches_reference(shape):
    rng = np.random.default_rng(sum(shape))
    stack = rng.random((3, *shape)) > 0.5
    ours = seg2bmap(stack)
    for frame, bmap in zip(stack, ours):
        np.testing.assert_array_equal(bmap, vos_utils._seg2bmap(frame))


def test_dilate_stack_matches_per_frame_cv2_without_bleeding():
    rng = np.random.default_rng(1)
    maps = rng.random((4, 20, 30)) > 0.97
    maps[0, -1, 5] = True  # last row of frame 0 must not reach frame 1's first rows
    maps[1, :, :] = False
    ours = dilate(maps, 3)
    for frame, dil in zip(maps, ours):
        np.testing.assert_array_equal(dil, cv2.dilate(frame.astype(np.uint8), skimage_disk(3)).astype(bool))
    assert not ours[1].any()


def test_jaccard_hand_computed_cases():
    h, w = 6, 8
    empty = np.zeros((h, w), dtype=bool)
    gt = _square(h, w, 1, 3, 1, 3)
    assert jaccard(empty, empty) == 1.0  # both empty
    assert jaccard(gt, empty) == 0.0
    assert jaccard(gt, _square(h, w, 1, 3, 2, 4)) == pytest.approx(2 / 6)  # one-pixel shift of a 2x2 square
    # Void pixels count in neither intersection nor union: the shifted-in column is void.
    void = _square(h, w, 0, h, 3, 4)
    assert jaccard(gt, _square(h, w, 1, 3, 2, 4), void) == pytest.approx(2 / 4)
    # Everything void: both empty after exclusion -> 1.
    assert jaccard(gt, empty, np.ones((h, w), dtype=bool)) == 1.0


def test_f_measure_hand_computed_cases():
    h, w = 480, 854
    empty = np.zeros((h, w), dtype=bool)
    gt = _square(h, w, 100, 140, 200, 260)
    assert f_measure(empty, empty) == 1.0  # no boundaries at all: P = R = 1
    assert f_measure(gt, empty) == 0.0  # P = 1, R = 0
    assert f_measure(empty, gt) == 0.0  # P = 0, R = 1
    assert f_measure(gt, np.roll(gt, 1, axis=1)) == 1.0  # a one-pixel shift is within the 8-pixel tolerance
    assert f_measure(gt, np.roll(gt, 100, axis=1)) == 0.0  # far beyond it: P = R = 0


def test_f_measure_one_row_partial_match_and_void():
    # 1 x 10 image, tolerance 1 pixel: gt boundary at x = 1, 3; prediction boundary at x = 4, 6.
    gt = np.zeros((1, 10), dtype=bool)
    gt[0, 2:4] = True
    pred = np.zeros((1, 10), dtype=bool)
    pred[0, 5:7] = True
    # P = |{4, 6} within 1 of {1, 3}| / 2 = 1/2; R = |{1, 3} within 1 of {4, 6}| / 2 = 1/2 -> F = 1/2.
    assert f_measure(gt, pred, bound_th=1) == pytest.approx(0.5)
    # Void removes the prediction before its boundary is taken: no predicted boundary -> P = 1, R = 0.
    void = np.zeros((1, 10), dtype=bool)
    void[0, 5:] = True
    assert f_measure(gt, pred, void, bound_th=1) == 0.0


def test_measures_are_per_frame_over_stacks():
    rng = np.random.default_rng(2)
    gt = rng.random((2, 3, 12, 16)) > 0.5
    pred = rng.random((2, 3, 12, 16)) > 0.5
    j, f = jaccard(gt, pred), f_measure(gt, pred)
    assert j.shape == f.shape == (2, 3)
    assert j[1, 2] == jaccard(gt[1, 2], pred[1, 2])
    assert f[0, 1] == f_measure(gt[0, 1], pred[0, 1])


@pytest.mark.parametrize("shape", [(480, 854), (37, 53), (101, 67)])
def test_agrees_with_vos_benchmark(shape):
    """Per-frame J and F of every object equal vos-benchmark's on random and shifted multi-object masks."""
    rng = np.random.default_rng(shape[0])
    gts = [_blobs(rng, *shape, 3) for _ in range(6)]
    preds = [np.roll(g, int(rng.integers(-4, 5)), axis=i % 2) if i % 2 else _blobs(rng, *shape, 3)
             for i, g in enumerate(gts)]
    reference = vos_evaluator.Evaluator()
    for g, p in zip(gts, preds):
        reference.feed_frame(p, g)
    gt, pred = np.stack(gts), np.stack(preds)
    j_pairs, f_pairs = pairwise_jf(gt, pred, 3, 3, diagonal=True)
    for k in (1, 2, 3):
        ref_j, ref_f = np.array(reference.object_iou[k]), np.array(reference.boundary_f[k])
        np.testing.assert_allclose(jaccard(gt == k, pred == k), ref_j, rtol=0, atol=1e-9)
        np.testing.assert_allclose(f_measure(gt == k, pred == k), ref_f, rtol=0, atol=1e-9)
        np.testing.assert_allclose(j_pairs[k - 1], ref_j, rtol=0, atol=1e-9)
        np.testing.assert_allclose(f_pairs[k - 1], ref_f, rtol=0, atol=1e-9)


@pytest.mark.parametrize("shape", [(9, 13), (1, 7), (60, 90)])
def test_pairwise_equals_single_pair_measures_with_void(shape):
    """The cropped pairwise path gives exactly the full-frame values for every (GT id, predicted id) pair."""
    rng = np.random.default_rng(shape[1])
    gt = rng.integers(0, 3, (4, *shape)).astype(np.uint8)
    pred = rng.integers(0, 4, (4, *shape)).astype(np.uint8)
    pred[2] = 0  # a frame with no prediction at all
    void = rng.random((4, *shape)) > 0.8
    j, f = pairwise_jf(gt, pred, 2, 3, void)
    assert j.shape == f.shape == (2, 3, 4)
    for g in (1, 2):
        for p in (1, 2, 3):
            np.testing.assert_array_equal(j[g - 1, p - 1], jaccard(gt == g, pred == p, void))
            np.testing.assert_array_equal(f[g - 1, p - 1], f_measure(gt == g, pred == p, void))


def test_pairwise_ids_beyond_count_are_background():
    gt = np.zeros((1, 8, 8), dtype=np.uint8)
    gt[0, 2:5, 2:5] = 1
    gt[0, 6:, 6:] = 7  # not an evaluated object
    pred = gt.copy()
    j, f = pairwise_jf(gt, pred, 1, 1, diagonal=True)
    assert j[0, 0] == 1.0 and f[0, 0] == 1.0


# round(linspace(1, N, 5) + 1e-10) - 1, written out by hand.
_HAND_BINS = {
    1: [0, 0, 0, 0, 0],
    2: [0, 0, 1, 1, 1],
    3: [0, 1, 1, 2, 2],
    4: [0, 1, 2, 2, 3],
    5: [0, 1, 2, 3, 4],
    6: [0, 1, 3, 4, 5],
    7: [0, 2, 3, 5, 6],
    8: [0, 2, 4, 5, 7],
    9: [0, 2, 4, 6, 8],
}


@pytest.mark.parametrize("n", sorted(_HAND_BINS))
def test_decay_bins_match_hand_lists(n):
    ids = _HAND_BINS[n]
    assert decay_bin_indices(n) == [(ids[i], ids[i + 1]) for i in range(4)]


def test_db_statistics_hand_computed():
    mean, recall, decay = db_statistics([1.0, 0.8, 0.6, 0.4, 0.2])
    assert mean == pytest.approx(0.6)
    assert recall == pytest.approx(3 / 5)  # strictly above 0.5
    assert decay == pytest.approx((1.0 + 0.8) / 2 - (0.4 + 0.2) / 2)
    # N = 7: first bin frames 0..2, last bin frames 5..6.
    values = np.array([0.9, 0.9, 0.6, 0.5, 0.5, 0.3, 0.1])
    assert db_statistics(values)[2] == pytest.approx(0.8 - 0.2)
    assert db_statistics([0.5])[1] == 0.0  # 0.5 is not a success
    assert db_statistics([0.7])[2] == 0.0  # one frame: no decay
    assert db_statistics([np.nan, 1.0, 0.0])[0] == pytest.approx(0.5)  # nanmean
    with pytest.raises(ValueError):
        db_statistics([])
