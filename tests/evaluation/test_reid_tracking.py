"""The ids the segmenter gives objects over a video (slowfast_vos/evaluation/tracking.py, segmenter.py): lost
objects re-acquired with their own id, crossing objects kept apart, unseen objects never taking a lost object's
id, flat memory, and the "iou" rule kept for comparison."""
import numpy as np
import pytest
import torch
from detectron2.structures import Instances

from slowfast_vos.evaluation import InstanceTracker, ReIDTracker, VideoSegmenter
from slowfast_vos.evaluation.tracking import appearance, label_frame

H, W = 48, 64
RED, BLUE, GREEN, GREY = (0, 0, 220), (220, 0, 0), (0, 200, 0), (90, 90, 90)  # BGR


def square(y, x, size=8):
    mask = np.zeros((H, W), dtype=bool)
    mask[y:y + size, x:x + size] = True
    return mask


def _rect(x0, x1, y0=10, y1=20):
    mask = np.zeros((H, W), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def frame(*objects):
    """A grey BGR frame with each (mask, colour) painted."""
    image = np.empty((H, W, 3), np.uint8)
    image[:] = GREY
    for mask, colour in objects:
        image[mask] = colour
    return image


def step(tracker, image, masks):
    masks = np.stack(masks) if masks else np.zeros((0, H, W), bool)
    return tracker.assign(masks, np.full(len(masks), 0.9), appearance(image, masks))


def test_an_object_missed_for_frames_is_re_acquired_with_its_id_where_it_reappears():
    tracker = ReIDTracker(max_ids=5, match_iou=0.1)
    a, b = square(5, 5), square(30, 40)
    assert step(tracker, frame((a, RED), (b, BLUE)), [a, b]) == [1, 2]
    for _ in range(4):  # the red object is missed for four frames
        assert step(tracker, frame((b, BLUE)), [b]) == [2]
    elsewhere = square(28, 4)  # it comes back far from its last mask (no overlap)
    assert step(tracker, frame((elsewhere, RED), (b, BLUE)), [b, elsewhere]) == [2, 1]
    # The earlier rule never finds it again: its last mask is stale, so the returning object gets a new id.
    iou = InstanceTracker(max_ids=5, match_iou=0.1)
    assert iou.assign(np.stack([a, b]), np.array([0.9, 0.9])) == [1, 2]
    iou.assign(np.stack([b]), np.array([0.9]))
    assert iou.assign(np.stack([b, elsewhere]), np.array([0.9, 0.9])) == [2, 3]


def test_two_crossing_objects_keep_their_ids():
    tracker = ReIDTracker(max_ids=5, match_iou=0.1)
    ids = []
    for t in range(9):  # red moves right, blue moves left, along the same row: red passes in front of blue
        red, blue = square(20, 8 + 5 * t, 10), square(20, 48 - 5 * t, 10)
        image = frame((blue, BLUE), (red, RED))
        visible_blue = blue & ~red
        # Detections arrive in a different order every frame; the hidden blue object is not detected.
        order = [(red, "red"), (visible_blue, "blue")] if t % 2 else [(visible_blue, "blue"), (red, "red")]
        order = [(m, who) for m, who in order if m.any()]
        got = step(tracker, image, [m for m, _ in order])
        ids.append({who: got[i] for i, (_, who) in enumerate(order)})
    assert {d["red"] for d in ids} == {ids[0]["red"]}
    assert {d["blue"] for d in ids if "blue" in d} == {ids[0]["blue"]} != {ids[0]["red"]}
    assert sum("blue" not in d for d in ids) == 1  # fully hidden on one frame, then re-acquired


def test_an_unseen_object_does_not_take_a_lost_objects_id():
    # Semi-supervised: only the given objects have ids; a new green object appears while red is lost.
    a = square(5, 5)
    tracker = ReIDTracker(max_ids=5, match_iou=0.1, initial={1: a}, allow_new=False,
                          initial_features=appearance(frame((a, RED)), a[None]))
    step(tracker, frame(), [])
    step(tracker, frame(), [])
    intruder = square(30, 40)
    assert step(tracker, frame((intruder, GREEN)), [intruder]) == [None]
    back = square(8, 8)
    assert step(tracker, frame((back, RED), (intruder, GREEN)), [intruder, back]) == [None, 1]
    # Unsupervised: the newcomer opens its own id instead.
    open_tracker = ReIDTracker(max_ids=5, match_iou=0.1)
    assert step(open_tracker, frame((a, RED)), [a]) == [1]
    step(open_tracker, frame(), [])
    assert step(open_tracker, frame((intruder, GREEN)), [intruder]) == [2]


@pytest.mark.parametrize("size_memory, reacquired", [(1, False), (3, True)])
def test_a_fragment_seen_before_a_loss_does_not_set_the_size_the_object_must_match(size_memory, reacquired):
    """A half-hidden object continued by a small fragment of itself, then missed: when it comes back whole, far
    from its last mask, it is re-acquired only if its size reference is the median of its last areas (the rule
    so far, its last area, makes the whole object look 5 times too large)."""
    tracker = ReIDTracker(max_ids=5, match_iou=0.1, size_memory=size_memory)
    whole, other = _rect(4, 14, 4, 14), square(30, 40)  # 100 pixels
    assert step(tracker, frame((whole, RED), (other, BLUE)), [whole, other]) == [1, 2]
    assert step(tracker, frame((whole, RED), (other, BLUE)), [whole, other]) == [1, 2]
    fragment = _rect(4, 6, 4, 14)  # 20 pixels: the rest of the red object is hidden
    assert step(tracker, frame((fragment, RED), (other, BLUE)), [fragment, other]) == [1, 2]
    step(tracker, frame((other, BLUE)), [other])  # missed
    back = _rect(4, 14, 30, 40)  # whole again, elsewhere
    got = step(tracker, frame((back, RED), (other, BLUE)), [other, back])
    assert got == ([2, 1] if reacquired else [2, 3])


@pytest.mark.parametrize("assignment, expected", [("joint", [2, 1]), ("continue-first", [1, None])])
def test_a_weaker_duplicate_does_not_hand_a_found_objects_instance_to_a_lost_object(assignment, expected):
    """Two red objects; the second is missed. Then the first is detected twice: whole, and as a weaker fragment
    (too small to be the second object). The earlier "joint" rule pairs as many instances as it can, so the
    fragment continues the first object and its whole instance is given to the lost second one; "continue-first"
    keeps the whole instance with the object it overlaps and leaves the fragment unpaired."""
    a, b = _rect(5, 15, 5, 15), _rect(40, 50, 30, 40)  # 100 pixels each
    image = frame((a, RED), (b, RED))
    tracker = ReIDTracker(max_ids=5, match_iou=0.1, initial={1: a, 2: b}, allow_new=False,
                          initial_features=appearance(image, np.stack([a, b])), assignment=assignment)
    for _ in range(2):
        assert step(tracker, frame((a, RED)), [a]) == [1]
    fragment = _rect(5, 15, 5, 8)  # 30 pixels of the first object, IoU 0.3 with its last mask
    masks = np.stack([a, fragment])
    got = tracker.assign(masks, np.array([0.95, 0.5]), appearance(frame((a, RED)), masks))
    assert got == expected


def test_an_unknown_assignment_is_refused_naming_the_key():
    with pytest.raises(ValueError, match="TEST.VOS.REID_ASSIGNMENT"):
        VideoSegmenter(score_thresh=0.5, mask_thresh=0.5, max_objects=5, match_iou=0.1, assignment="greedy")
    with pytest.raises(ValueError, match="TEST.VOS.REID_ASSIGNMENT"):
        ReIDTracker(max_ids=5, match_iou=0.1, assignment="greedy")


def _label(tracker, image, masks, hold_frames):
    masks = np.stack(masks) if masks else np.zeros((0, H, W), bool)
    return label_frame(tracker, masks, np.full(len(masks), 0.9), H, W, image=image, hold_frames=hold_frames)


@pytest.mark.parametrize("hold_frames", [0, 1])
def test_a_missed_object_is_held_where_its_motion_puts_it_for_hold_frames(hold_frames):
    """Red moves 4 pixels right per frame and is missed on frames 3 and 4: with REID_HOLD_FRAMES 1 frame 3 shows
    it at exactly its predicted place (its last mask moved 4 pixels) without covering blue's pixels, frame 4 (two
    frames since it was seen) shows nothing; its track keeps its last observed mask. With 0 both are empty."""
    tracker = ReIDTracker(max_ids=5, match_iou=0.1)
    blue = _rect(28, 40, 10, 20)
    for t in range(3):
        red = _rect(4 + 4 * t, 14 + 4 * t)
        labels = _label(tracker, frame((red, RED), (blue, BLUE)), [red, blue], hold_frames)
        assert (labels == 1).sum() == red.sum() and (labels == 2).sum() == blue.sum()
    last = tracker.tracks[1].copy()
    held = _label(tracker, frame((blue, BLUE)), [blue], hold_frames)
    expected = _rect(16, 26) & ~blue  # frame 2's mask (x 12..22) moved 4 pixels; blue's own pixels stay blue
    assert np.array_equal(held == 1, expected if hold_frames else np.zeros((H, W), bool))
    assert np.array_equal(held == 2, blue)
    assert np.array_equal(tracker.tracks[1], last)
    assert not (_label(tracker, frame((blue, BLUE)), [blue], hold_frames) == 1).any()


def test_the_iou_rule_holds_nothing():
    tracker = InstanceTracker(max_ids=5, match_iou=0.1)
    red = _rect(4, 14)
    assert (_label(tracker, frame((red, RED)), [red], 1) == 1).sum() == red.sum()
    assert not _label(tracker, frame(), [], 1).any()


def test_a_held_mask_is_cut_at_the_frame_edge():
    tracker = ReIDTracker(max_ids=5, match_iou=0.1)
    for x in (44, 50, 56):  # 6 pixels right per frame, 8 wide: the next place crosses the right edge (W = 64)
        _label(tracker, frame((_rect(x, x + 8), RED)), [_rect(x, x + 8)], 1)
    held = _label(tracker, frame(), [], 1)
    assert np.array_equal(held == 1, _rect(62, 64))


@pytest.mark.parametrize("value", [-1, 1.5, "1", True])
def test_a_bad_hold_frames_is_refused_naming_the_key(value):
    with pytest.raises(ValueError, match="TEST.VOS.REID_HOLD_FRAMES"):
        VideoSegmenter(score_thresh=0.5, mask_thresh=0.5, max_objects=5, match_iou=0.1, hold_frames=value)


@pytest.mark.parametrize("overlap", ["score", "nested"])
def test_an_instance_inside_a_merged_mask_of_another_object_is_painted_over_it_with_nested(overlap):
    """Object 2's instance (0.99) covers both objects; object 1's own instance (0.9) lies inside it. By the score
    object 1 is erased; "nested" paints it over the merged mask. A small instance only partly inside, or inside
    one not much larger, stays under the higher score."""
    from slowfast_vos.evaluation.tracking import instances_to_labels

    one, two = _rect(4, 14), _rect(14, 30)
    merged = one | two
    labels = instances_to_labels(np.stack([merged, one]), np.array([0.99, 0.9]), [2, 1], H, W,
                                 nested=overlap == "nested")
    assert np.array_equal(labels == 1, one if overlap == "nested" else np.zeros((H, W), bool))
    assert np.array_equal(labels == 2, two if overlap == "nested" else merged)
    partly = _rect(0, 10)  # 6 of its 10 columns inside the merged mask
    labels = instances_to_labels(np.stack([merged, partly]), np.array([0.99, 0.9]), [2, 1], H, W, nested=True)
    assert np.array_equal(labels == 1, _rect(0, 4))
    close = _rect(4, 26)  # inside, but the merged mask is not 1.5 times its area
    labels = instances_to_labels(np.stack([merged, close]), np.array([0.99, 0.9]), [2, 1], H, W, nested=True)
    assert not (labels == 1).any()


@pytest.mark.parametrize("value", [0, -1, 2.5, "3", True])
def test_a_bad_size_memory_is_refused_naming_the_key(value):
    with pytest.raises(ValueError, match="TEST.VOS.REID_SIZE_MEMORY"):
        VideoSegmenter(score_thresh=0.5, mask_thresh=0.5, max_objects=5, match_iou=0.1, size_memory=value)
    with pytest.raises(ValueError, match="TEST.VOS.REID_SIZE_MEMORY"):
        ReIDTracker(max_ids=5, match_iou=0.1, size_memory=value)


def test_tracker_memory_does_not_grow_with_the_video():
    def state_size():
        arrays = [*tracker.tracks.values(), *tracker._centroid.values(), *tracker._velocity.values(),
                  *(f for f in tracker._feature.values() if f is not None)]
        return sum(a.nbytes for a in arrays) + len(tracker._last_seen) + sum(map(len, tracker._areas.values()))

    tracker = ReIDTracker(max_ids=5, match_iou=0.1, size_memory=5)
    sizes = []
    for t in range(200):
        a, b = square(5 + t % 30, 5), square(30, 5 + t % 50)
        step(tracker, frame((a, RED), (b, BLUE)), [a, b] if t % 7 else [b])
        sizes.append(state_size())
    assert sizes[20] == sizes[-1] and len(tracker.tracks) == 2


def _instances(masks, scores):
    inst = Instances((H, W))
    inst.pred_masks = torch.from_numpy(np.stack(masks) if masks else np.zeros((0, H, W), bool))
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    return inst


def _vos_cfg():
    from detectron2.config import get_cfg

    from slowfast_vos.config import add_slowfast_vos_config

    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    return cfg


def test_segmenter_thresholds_given_masks_and_the_iou_rule_by_config():
    cfg = _vos_cfg()
    cfg.TEST.VOS.SCORE_THRESH = 0.5
    segmenter = VideoSegmenter.from_config(cfg)
    assert segmenter.tracker == "reid" and segmenter.uses_appearance
    a, b = square(5, 5), square(30, 40)
    video = segmenter.new_video(allow_new=False)
    # The given frame: the result is the given mask, whatever the model found.
    labels = segmenter.segment(video, _instances([b], [0.9]), H, W, "f0", given={1: a}, image=frame((a, RED)))
    assert np.array_equal(labels, a.astype(np.uint8))
    # A low-scoring instance is dropped; the kept one continues object 1.
    moved = square(6, 6)
    labels = segmenter.segment(video, _instances([moved, b], [0.9, 0.3]), H, W, "f1", image=frame((moved, RED)))
    assert np.array_equal(labels, moved.astype(np.uint8))
    cfg.TEST.VOS.TRACKER = "iou"
    assert isinstance(VideoSegmenter.from_config(cfg).new_video(), InstanceTracker)
    assert not isinstance(VideoSegmenter.from_config(cfg).new_video(), ReIDTracker)
    cfg.TEST.VOS.TRACKER = "hungarian"
    with pytest.raises(ValueError, match="TEST.VOS.TRACKER"):
        VideoSegmenter.from_config(cfg)


@pytest.mark.parametrize("tracker_class", [ReIDTracker, InstanceTracker])
def test_a_weak_instance_only_continues_an_object_it_overlaps(tracker_class):
    """TEST.VOS.CONTINUE_SCORE_THRESH: an instance scoring between it and SCORE_THRESH ("weak") keeps an object that
    it overlaps, but never re-identifies a lost object elsewhere nor opens an id."""
    tracker = tracker_class(max_ids=5, match_iou=0.1)
    a, b = square(5, 5), square(30, 40)
    image = frame((a, RED), (b, BLUE))
    assert tracker.assign(np.stack([a, b]), np.array([0.9, 0.9]), appearance(image, np.stack([a, b]))) == [1, 2]
    moved = square(6, 7)  # the red object, detected with a low score, overlapping its last mask
    masks = np.stack([moved, b])
    weak = np.array([True, False])
    assert tracker.assign(masks, np.array([0.4, 0.9]), appearance(frame((moved, RED), (b, BLUE)), masks), weak) \
        == [1, 2]
    for _ in range(2):  # red missed: its last mask goes stale
        tracker.assign(np.stack([b]), np.array([0.9]), appearance(frame((b, BLUE)), np.stack([b])))
    elsewhere, stranger = square(28, 4), square(5, 50)
    masks = np.stack([b, elsewhere, stranger])
    image = frame((b, BLUE), (elsewhere, RED), (stranger, GREEN))
    weak = np.array([False, True, True])
    # Weak: red's look-alike far from its last mask is not re-identified, and the unseen green object gets no id.
    assert tracker.assign(masks, np.array([0.9, 0.4, 0.4]), appearance(image, masks), weak) == [2, None, None]
    # Strong, the same look-alike is re-acquired by the reid tracker (the iou rule opens a new id instead).
    expected = [2, 1, 3] if tracker_class is ReIDTracker else [2, 3, 4]
    assert tracker.assign(masks, np.array([0.9, 0.9, 0.9]), appearance(image, masks)) == expected


def test_the_segmenter_keeps_weak_instances_only_with_a_continue_threshold():
    a = square(5, 5)
    inst = Instances((H, W), pred_masks=torch.from_numpy(np.stack([a])), scores=torch.tensor([0.5]))
    image = frame((a, RED))
    given = {1: a}
    for low, written in ((None, 0), (0.3, 1)):
        segmenter = VideoSegmenter(score_thresh=0.8, mask_thresh=0.5, max_objects=5, match_iou=0.1,
                                   continue_score_thresh=low, hold_frames=0)  # not held: written only if kept
        video = segmenter.new_video(given, allow_new=False, image=image)
        labels = segmenter.segment(video, inst, H, W, "s/1", image=image)
        assert (labels[a] == written).all()


@pytest.mark.parametrize("tracker", ["reid", "iou"])
def test_the_previous_overlap_rule_gives_a_contested_pixel_to_the_object_that_had_it(tracker):
    """TEST.VOS.OVERLAP "previous": where a loose, higher-scoring instance of one object covers its neighbour too,
    the neighbour keeps the pixels that were its own on the frame before; pixels neither object had go by score,
    and each object's last mask is what was painted for it. "score" (the earlier rule) gives them all to the loose
    one. The default "nested" gives a its whole own instance: 90% of it lies inside b's, which is over 1.5 times its
    area."""
    cfg = _vos_cfg()
    assert cfg.TEST.VOS.OVERLAP == "nested"
    a, b = _rect(10, 20), _rect(22, 32)  # two objects side by side, given on the first frame
    own, loose = _rect(11, 21), _rect(12, 33)  # a's own instance (weaker); b's instance spills over a
    image0, image1 = frame((a, RED), (b, BLUE)), frame((own, RED), (_rect(21, 33), BLUE))
    written = {}
    for rule in ("score", "previous", "nested"):
        cfg.TEST.VOS.OVERLAP, cfg.TEST.VOS.TRACKER, cfg.TEST.VOS.SCORE_THRESH = rule, tracker, 0.3
        segmenter = VideoSegmenter.from_config(cfg)
        assert segmenter.overlap == rule
        video = segmenter.new_video({1: a, 2: b}, allow_new=False, image=image0)
        written[rule] = segmenter.segment(video, _instances([own, loose], [0.4, 0.9]), H, W, "s/1", image=image1)
        if rule == "previous":
            assert np.array_equal(video.tracks[1], written[rule] == 1)
            assert np.array_equal(video.tracks[2], written[rule] == 2)
    expected = np.zeros((H, W), np.uint8)
    expected[own & ~loose] = 1
    expected[loose] = 2
    assert np.array_equal(written["score"], expected)
    assert np.array_equal(written["nested"], np.where(own, 1, np.where(loose, 2, 0)))
    # Columns 12-19 were a's on the frame before; 20-21 were nobody's, so the higher score (b) keeps them.
    expected[_rect(12, 20)] = 1
    assert np.array_equal(written["previous"], expected)
    assert (written["previous"] == 1).sum() == 9 * 10 and (written["score"] == 1).sum() == 10


def test_an_unknown_overlap_rule_is_refused_naming_the_key():
    with pytest.raises(ValueError, match="TEST.VOS.OVERLAP"):
        VideoSegmenter(score_thresh=0.5, mask_thresh=0.5, max_objects=5, match_iou=0.1, overlap="area")


def test_every_segmenter_setting_reaches_the_evaluators_segmenter(davis_sets, tmp_path):
    """The evaluators (and so OSVOS, which writes through them) segment with exactly the segmenter the config
    describes: each TEST.VOS setting, set away from its default, arrives."""
    from slowfast_vos.evaluation import DAVISEvaluator

    cfg = _vos_cfg()
    cfg.merge_from_list(["TEST.VOS.SCORE_THRESH", 0.5, "TEST.VOS.MASK_THRESH", 0.4, "TEST.VOS.MAX_OBJECTS", 7,
                         "TEST.VOS.MATCH_IOU", 0.2, "TEST.VOS.TRACKER", "iou", "TEST.VOS.REID_APPEARANCE_GATE", 0.3,
                         "TEST.VOS.CONTINUE_SCORE_THRESH", 0.2, "TEST.VOS.OVERLAP", "previous",
                         "TEST.VOS.REID_SIZE_MEMORY", 3, "TEST.VOS.REID_ASSIGNMENT", "continue-first",
                         "TEST.VOS.REID_HOLD_FRAMES", 2,
                         "TEST.DAVIS.TASK", "semi-supervised"])
    expected = VideoSegmenter.from_config(cfg)
    default = VideoSegmenter.from_config(_vos_cfg())
    assert all(vars(expected)[k] != v for k, v in vars(default).items() if k != "single_object")
    evaluator = DAVISEvaluator.from_config(cfg, davis_sets["val"], str(tmp_path), distributed=False)
    assert vars(evaluator._segmenter) == vars(expected)
