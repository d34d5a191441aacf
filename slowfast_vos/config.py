"""All config keys slowfast_vos adds to Detectron2's, with the paper's values as defaults.

This is the one source of truth for defaults: modules read these keys in their ``from_config`` and never hold
their own copies of the numbers.
"""
from __future__ import annotations

import math
import os
import re
from typing import Any, Dict, Tuple

import yaml
from detectron2.config import CfgNode as CN

# COCO-pretrained Mask R-CNN R50-FPN (3x schedule) from Detectron2's model zoo: the paper's starting point.
COCO_MASK_RCNN_R50_FPN = "detectron2://COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x/137849600/model_final_f10217.pkl"


class ConfigFileError(ValueError):
    """A config file that is not plain YAML (a tag that would construct a Python object, or bad syntax)."""


# Largest config file read (a config is a few KiB; this bounds what a file named by _BASE_ can make us read).
MAX_CONFIG_BYTES = 1 << 20
# Most values (mappings, lists and scalars, each alias expansion counted again) one config file may hold: a YAML
# "billion laughs" of nested aliases is refused before anything expands it.
MAX_CONFIG_NODES = 100_000


def _count_nodes(tree: Any, budget: int) -> int:
    """How much of ``budget`` is left after counting ``tree``'s values (shared ones each time they appear);
    negative as soon as it is exceeded (the walk stops there)."""
    stack = [tree]
    while stack and budget >= 0:
        node = stack.pop()
        budget -= 1
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return budget


_KEY = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _keys_look_like_config(tree: Dict[Any, Any], depth: int = 0) -> bool:
    """Whether every key of ``tree`` (and of the mappings in it, a few levels down) is a config key name."""
    for key, value in tree.items():
        if not isinstance(key, str) or not _KEY.match(key):
            return False
        if isinstance(value, dict) and depth < 8 and not _keys_look_like_config(value, depth + 1):
            return False
    return True


def _read_config_tree(path: str, chain: Tuple[str, ...]) -> Dict[str, Any]:
    """One config file as a dict, checked: local, not in ``chain`` (the files that led here), bounded in size and
    alias expansion, a mapping. Errors name the file (and the chain), never its contents."""
    where = " -> ".join(chain + (path,))
    if "://" in path:
        raise ConfigFileError(f"config file {where}: only local config files are read (_BASE_ names a URL)")
    real = os.path.realpath(path)
    if real in {os.path.realpath(p) for p in chain}:
        raise ConfigFileError(f"config files include each other in a cycle: {where}")
    if not os.path.isfile(real):
        raise ConfigFileError(f"config file {where}: no such file")
    size = os.path.getsize(real)
    if size > MAX_CONFIG_BYTES:
        raise ConfigFileError(f"config file {where}: {size} bytes; a config file is at most {MAX_CONFIG_BYTES}")
    with open(real, "rb") as f:
        try:
            tree = yaml.safe_load(f)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f", line {mark.line + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or type(e).__name__
            raise ConfigFileError(f"config file {path}{line}: {problem}. Config files are plain YAML (keys, "
                                  "numbers, strings, lists); tags that construct Python objects are refused") from None
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConfigFileError(f"config file {where} holds a {type(tree).__name__}, not a mapping of config keys")
    if not _keys_look_like_config(tree):
        raise ConfigFileError(f"config file {where} is not a config file: its keys are not config key names "
                              "(upper-case letters, digits and '_')")
    if _count_nodes(tree, MAX_CONFIG_NODES) < 0:
        raise ConfigFileError(f"config file {where} expands to more than {MAX_CONFIG_NODES} values (nested YAML "
                              "aliases?); refused")
    return tree


def _check_config_chain(path: str, chain: Tuple[str, ...] = ()) -> None:
    """Read ``path`` and, recursively, the files its ``_BASE_`` names (relative to it, or absolute, or ``~``),
    refusing URLs, cycles, oversized or alias-bombed files and non-mappings (ConfigFileError naming the chain)."""
    tree = _read_config_tree(path, chain)
    bases = tree.get("_BASE_")
    if bases is None:
        return
    for base in bases if isinstance(bases, list) else [bases]:
        if not isinstance(base, str) or not base:
            raise ConfigFileError(f"config file {path}: _BASE_ must name config files, got a {type(base).__name__}")
        base = os.path.expanduser(base)
        if "://" not in base and not os.path.isabs(base):
            base = os.path.join(os.path.dirname(path), base)
        _check_config_chain(base, chain + (path,))


def merge_config_file(cfg: CN, path: str) -> None:
    """``cfg.merge_from_file(path)`` with YAML's safe loader only (its ``_BASE_`` files too), after checking the
    file and its ``_BASE_`` chain: local files only (a URL is refused, never fetched), no cycle (an error naming the
    chain), each at most MAX_CONFIG_BYTES and MAX_CONFIG_NODES values once aliases are expanded, each a mapping.

    Detectron2's default falls back to an unsafe load that runs what a ``!!python/...`` tag names; here such a tag,
    or any YAML error, is a ConfigFileError naming the file and line, never quoting the file.
    """
    _check_config_chain(path)
    try:
        cfg.merge_from_file(path, allow_unsafe=False)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{mark.name}, line {mark.line + 1}" if mark is not None else path
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigFileError(f"config file {where}: {problem}. Config files are plain YAML (keys, numbers, strings, "
                              "lists); tags that construct Python objects are refused") from e


def _number(cfg: CN, key: str) -> Any:
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


# Config keys and the values they may take: (key, lowest, highest, lowest allowed itself, integer). Checked when a
# config is loaded (load_cfg), so a bad value stops a run before it writes anything.
_RANGES = (
    ("SOLVER.BASE_LR", 0.0, math.inf, False, False),
    ("SOLVER.IMS_PER_BATCH", 1, math.inf, True, True),
    ("SOLVER.WEIGHT_DECAY", 0.0, math.inf, True, False),
    ("SOLVER.MOMENTUM", 0.0, 1.0, True, False),
    ("TEST.VOS.SCORE_THRESH", 0.0, 1.0, True, False),
    ("TEST.VOS.MASK_THRESH", 0.0, 1.0, True, False),
    ("TEST.VOS.MATCH_IOU", 0.0, 1.0, True, False),
    ("TEST.VOS.CONTINUE_SCORE_THRESH", -math.inf, 1.0, True, False),
    ("TEST.VOS.MAX_OBJECTS", 1, math.inf, True, True),
    ("TEST.VOS.WORKERS", 0, math.inf, True, True),
    ("MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.0, 1.0, True, False),
    ("OSVOS.ITERS", 1, math.inf, True, True),
    ("OSVOS.LOG_PERIOD", 1, math.inf, True, True),
    ("INPUT.RANDOM_SCALE", 0.0, 1.0, True, False),
    ("INPUT.ROTATION_ANGLE", 0.0, 180.0, True, False),
)


def check_config_values(cfg: CN) -> None:
    """Fail at once (ValueError naming the key and the value) on a value no run can use: a learning rate <= 0, a
    threshold outside [0, 1], a count below 1, a NaN; see _RANGES."""
    for key, low, high, low_allowed, integer in _RANGES:
        value = _number(cfg, key)
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            raise ValueError(f"{key} must be {kind}, got {value!r}")
        if not math.isfinite(value) and not (value == math.inf and high == math.inf):
            raise ValueError(f"{key} must be a finite number, got {value!r}")
        if value > high or value < low or (value == low and not low_allowed):
            bounds = (f"> {low}" if not low_allowed else f">= {low}") if high == math.inf else \
                f"in [{low}, {high}]"
            raise ValueError(f"{key} must be {bounds}, got {value!r}")


def check_training_config(cfg: CN) -> None:
    """Fail at once, naming the key, on a training schedule that cannot run (e.g. a negative SOLVER.MAX_ITER)."""
    for key in ("SOLVER.MAX_ITER", "SOLVER.IMS_PER_BATCH", "SOLVER.CHECKPOINT_PERIOD"):
        value = cfg.SOLVER.get(key.split(".")[1])
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")


def add_slowfast_vos_config(cfg: CN) -> None:
    """Add slowfast_vos's keys to a Detectron2 config (in place)."""
    _C = cfg

    # ---------------------------------------------------------------------------------------------------------
    # The SlowFast temporal module (reference-architecture.md). m-n = SLOW_FRAMES-FAST_FRAMES.
    # ---------------------------------------------------------------------------------------------------------
    _C.MODEL.SLOWFAST = CN()
    # Number of frames of the slow pathway: the m frames at the centre of the fast window. Odd.
    _C.MODEL.SLOWFAST.SLOW_FRAMES = 3
    # Number of frames of the fast pathway: the n-frame window centred on the target frame. Odd, >= SLOW_FRAMES.
    _C.MODEL.SLOWFAST.FAST_FRAMES = 7
    # Output channels of the slow pathway's three Conv3d layers.
    _C.MODEL.SLOWFAST.SLOW_CHANNELS = [192, 192, 224]
    # Output channels of the fast pathway's three Conv3d layers.
    _C.MODEL.SLOWFAST.FAST_CHANNELS = [32, 32, 32]
    # Output channels of the fast->slow lateral connections (after layers 1 and 2).
    _C.MODEL.SLOWFAST.FUSION_CHANNELS = 64
    # Backbone features the (single, shared) module is applied to; the others pass through from the target frame.
    _C.MODEL.SLOWFAST.IN_FEATURES = ["p2", "p3", "p4", "p5", "p6"]
    # What stands in for frames outside the video: "zeros" (the reference: all-zero feature maps) or
    # "replicate" (the nearest frame inside the video).
    _C.MODEL.SLOWFAST.BORDER = "zeros"
    # BatchNorm running statistics of the one module shared by all IN_FEATURES levels: "shared" (the reference: one
    # set, updated by every level in turn, so test-time normalisation mixes levels that training normalises each
    # with its own batch statistics) or "per_level" (opt-in: one set per level, same weights and parameter count).
    _C.MODEL.SLOWFAST.NORM_STATISTICS = "shared"
    # How the module's output enters the target frame's features at each fused level:
    # "replace" (the reference: the 256-channel output replaces the target's FPN features),
    # "residual" (opt-in: the output is added to the target's own features; the last BatchNorm of each pathway
    #   starts with zero scale, so the untrained module is the identity and the heads first see the features they
    #   were trained on; same parameters as "replace"), or
    # "none" (no module at all: the ROI heads read the target's FPN features, the single-frame control; needs
    #   SLOW_FRAMES = FAST_FRAMES = 1, so the mapper loads no neighbours).
    _C.MODEL.SLOWFAST.FUSION = "replace"
    # With FUSION "residual": the initial scale of each pathway's last BatchNorm. 0.0 (default) makes the untrained
    # module the identity; a short fine-tune then moves it little, since the gradient reaching the module's convolutions
    # is proportional to that scale. 1.0 keeps PyTorch's initialisation (the branch starts at full strength).
    _C.MODEL.SLOWFAST.RESIDUAL_INIT_SCALE = 0.0

    # Which parts get no gradients (and run without autograd). The paper's parent model freezes backbone + RPN.
    # A frozen backbone, RPN or SlowFast module stays in eval mode (BN stats fixed; a frozen RPN adds no losses);
    # frozen ROI heads keep computing the training losses, with only their BatchNorms in eval. A frozen part still
    # passes gradients back to a trainable part before it (e.g. frozen ROI heads to a trainable SlowFast module).
    _C.MODEL.FREEZE = CN()
    _C.MODEL.FREEZE.BACKBONE = True
    _C.MODEL.FREEZE.PROPOSAL_GENERATOR = True
    _C.MODEL.FREEZE.SLOWFAST = False
    _C.MODEL.FREEZE.ROI_HEADS = False

    # ---------------------------------------------------------------------------------------------------------
    # Data: clip augmentation (the same transform for every frame of a clip). INPUT.RANDOM_FLIP is Detectron2's.
    # ---------------------------------------------------------------------------------------------------------
    # Random rotation in [-ROTATION_ANGLE, ROTATION_ANGLE] degrees; 0 disables it.
    _C.INPUT.ROTATION_ANGLE = 30.0
    # Random scale factor in [1 - RANDOM_SCALE, 1 + RANDOM_SCALE]; 0 disables it (0.4 for 1-1 in the paper's OSVOS).
    _C.INPUT.RANDOM_SCALE = 0.25
    # Decoded frames kept per data-loader worker so neighbouring samples do not decode shared frames again.
    _C.INPUT.FRAME_CACHE_SIZE = 64
    # K: training targets per group of consecutive frames of one video, mapped with one augmentation draw, so their
    # windows overlap and the backbone runs once per distinct frame (slowfast_vos/data/samplers.py). 1 = the usual
    # independent sampling; SOLVER.IMS_PER_BATCH must be a multiple of K.
    _C.DATALOADER.NEIGHBOR_TARGETS = 1
    # Where a YouTube-VOS target's n-frame window takes its neighbours (slowfast_vos/data/clip_mapper.py). YouTube-VOS
    # annotates every 5th frame of a 30 fps video; a target is always an annotated frame.
    #   "annotated": the annotated frames (record field sequence_frames; spacing 5 at 30 fps, i.e. 6 fps);
    #   "all_frames": every frame of the <split>_all_frames folder (record field all_frames; spacing 1 at 30 fps,
    #                 close to DAVIS's 24 fps); a YouTube-VOS record without all_frames is an error;
    #   "auto": all frames where the record has them, else the annotated frames (the fallbacks are counted and logged).
    # Default "annotated": the YouTube-VOS test path streams the annotated frames, so training then sees the spacing
    # that inference sees, and it needs no all-frames download. DAVIS records (no all_frames field: their
    # sequence_frames are every frame already) give the same windows under every choice. A mixed YouTube-VOS + DAVIS
    # training evaluated on DAVIS can take "auto" to give both sets DAVIS-like spacing.
    _C.INPUT.YTVOS_WINDOW_FRAMES = "annotated"

    # Sampling weights of the DATASETS.TRAIN sets, one per set (e.g. [0.7, 0.3]): a weight is the probability that a
    # training target (or, with DATALOADER.NEIGHBOR_TARGETS > 1, a group of targets) comes from that set; within a set
    # every frame is equally likely (sequences in proportion to their frames). Non-negative, positive sum; normalised.
    # Empty: Detectron2's behaviour, every frame of the concatenated sets equally likely (shares proportional to size).
    _C.DATASETS.TRAIN_WEIGHTS = []

    # ---------------------------------------------------------------------------------------------------------
    # Evaluation of video masks, on DAVIS and YouTube-VOS alike: which instances become result masks, how ids are
    # tracked over a video, how many processes score.
    # ---------------------------------------------------------------------------------------------------------
    _C.TEST.VOS = CN()
    # Instances with a lower score are dropped before writing result masks. The reference adds no threshold to the
    # ROI heads' own (MODEL.ROI_HEADS.SCORE_THRESH_TEST, 0.05): the DAVIS 2016 foreground is the union of them all.
    _C.TEST.VOS.SCORE_THRESH = 0.05
    # Mask probability at or above which a pixel belongs to an instance.
    _C.TEST.VOS.MASK_THRESH = 0.5
    # Most object ids written per video (the unsupervised protocols allow 20).
    _C.TEST.VOS.MAX_OBJECTS = 20
    # Least mask IoU with an object's last mask for an instance to keep that object's id (multi-object protocols).
    _C.TEST.VOS.MATCH_IOU = 0.1
    # How ids follow objects over a video (multi-object protocols; slowfast_vos/evaluation/tracking.py): "reid"
    # keeps objects that were missed as lost and re-acquires them by appearance, size and predicted position;
    # "iou" is the earlier rule (each id continues only from its last mask, so an object missed while it moves is
    # never found again). The same segmenter serves the evaluators, OSVOS and tools/demo.py.
    _C.TEST.VOS.TRACKER = "reid"
    # Least colour-histogram similarity (0..1) for "reid" to give a lost object's id to an instance.
    _C.TEST.VOS.REID_APPEARANCE_GATE = 0.6
    # "reid" re-acquires a lost object only with an instance of a plausible size (within 3x of the object's): the
    # median area of its last REID_SIZE_MEMORY observed masks. 1 is the earlier rule (its last mask's area), which a
    # single fragment of a half-hidden object, seen just before a loss, could set too small to ever match again;
    # 5 was replayed against it on every recording (docs/results/tracking-replays/): no parent lower by more than
    # 0.001 J&F, every recording's mean higher.
    _C.TEST.VOS.REID_SIZE_MEMORY = 5
    # How "reid" pairs a frame's instances with objects. "joint": one Hungarian assignment over continuations (an
    # instance overlapping an object's last mask) and re-identifications together; it pairs as many as it can, so a
    # weaker duplicate of a found object's instance can take that object while the better one re-identifies a lost
    # object. "continue-first": continuations first, then re-identification among the instances and objects left.
    _C.TEST.VOS.REID_ASSIGNMENT = "joint"
    # "reid": an object missed on a frame but observed at most this many frames before is written where its last
    # mask, moved by its last motion, falls on pixels no instance took (its track is unchanged); 0: never (the earlier
    # rule). 1 was replayed against 0 on every recording, three training seeds (docs/results/tracking-replays/):
    # every recording's mean J&F higher.
    _C.TEST.VOS.REID_HOLD_FRAMES = 1
    # Multi-object protocols: instances scoring at least this but below SCORE_THRESH are also kept, only to continue
    # an object whose last mask they overlap (never to open an id or re-identify a lost object); a negative value
    # (the default) keeps none.
    _C.TEST.VOS.CONTINUE_SCORE_THRESH = -1.0
    # Multi-object protocols: who gets a pixel that several objects' instances claim. "score": the higher-scoring
    # instance (the earlier rule); "previous": the one object whose mask on the frame before covered the pixel (the
    # score where none or several did), and each object's last mask is then what was painted for it;
    # "nested" (default): the score, except that an instance lying mostly inside a much larger, higher-scoring
    # instance of another object (one mask over both) is painted over it; replayed against "score" (the earlier
    # rule) on every recording, three training seeds (docs/results/tracking-replays/): no recording's mean lower.
    _C.TEST.VOS.OVERLAP = "nested"
    # Processes that score videos in parallel (0 or 1 = in the calling process).
    _C.TEST.VOS.WORKERS = 2
    # Also save every frame's instances (scores and binary masks) under <evaluation folder>/instances/, so that
    # tools/replay_tracking.py can compare the rules above (tracker, thresholds) on the same detections without the
    # model (slowfast_vos/evaluation/recorded.py).
    _C.TEST.VOS.SAVE_INSTANCES = False

    # Evaluation on DAVIS.
    _C.TEST.DAVIS = CN()
    # "davis2016" (binary, union of instances: the paper's protocol), "semi-supervised" or "unsupervised";
    # "" takes the test set's default protocol (its metadata's `task`).
    _C.TEST.DAVIS.TASK = "davis2016"
    # Arithmetic of inference (evaluation, OSVOS segmentation, VideoPredictor, tools/demo.py, tools/benchmark.py):
    # "fp32", "bf16" (a GPU with bf16 support, or a CPU: fast only with bf16 instructions, AVX-512/AMX class; a
    # warning says when it is not) or "fp16" (CUDA only). Reduced precision runs the model under torch.autocast; box
    # decoding, ROI pooling, mask pasting and BatchNorm statistics stay fp32 (slowfast_vos/precision.py). "fp32" runs
    # no autocast at all. "auto": bf16 on a CPU with bf16 instructions, fp32 anywhere else (resolved when the config
    # is loaded, so a run's config.yaml records what ran); SLOWFAST_VOS_HIDE_BF16=1 in the environment makes a CPU
    # with bf16 count as one without (auto: fp32), to run what AVX2-only CPUs run.
    _C.TEST.PRECISION = "fp32"

    # ---------------------------------------------------------------------------------------------------------
    # Mixed-precision training: SOLVER.AMP.ENABLED (Detectron2's key) turns it on, this key picks the type.
    # "fp16": Detectron2's AMPTrainer (CUDA only, loss scaling); "bf16": autocast without loss scaling, on CPU or
    # CUDA (bf16 has fp32's exponent range). The same exceptions as TEST.PRECISION stay fp32. "auto" (with
    # SOLVER.AMP.ENABLED): bf16 on a CPU with bf16 instructions; anywhere else SOLVER.AMP.ENABLED turns off (fp32).
    # ---------------------------------------------------------------------------------------------------------
    _C.SOLVER.AMP.PRECISION = "fp16"

    # ---------------------------------------------------------------------------------------------------------
    # Semi-supervised OSVOS: fine-tune the parent on each sequence's annotated first frame (tools/osvos_net.py).
    # What is frozen comes from MODEL.FREEZE, the augmentation from INPUT.*, the learning rate from SOLVER.*.
    # ---------------------------------------------------------------------------------------------------------
    _C.OSVOS = CN()
    # Fine-tuning iterations per sequence (2000 in the paper).
    _C.OSVOS.ITERS = 2000
    # Log the fine-tuning loss every this many iterations.
    _C.OSVOS.LOG_PERIOD = 100
    # Where each object's id comes from on a multi-object protocol. "tracker": the parent's one class, ids from
    # TEST.VOS.TRACKER. "classes": the fine-tune learns one class per given object (each class starting as the
    # parent's object class), and an object is its class's highest-scoring instance on every frame, so no tracker
    # can lose it (slowfast_vos/engine/osvos_identity.py). Single-object protocols (DAVIS 2016) are unaffected.
    _C.OSVOS.IDENTITY = "tracker"

    # ---------------------------------------------------------------------------------------------------------
    # Evaluation on YouTube-VOS (slowfast_vos/evaluation/ytvos_evaluator.py, vos_eval/ytvos.py). Instance filtering
    # and tracking take TEST.VOS.*, as on DAVIS.
    # ---------------------------------------------------------------------------------------------------------
    _C.TEST.YTVOS = CN()
    # "semi-supervised" (each object's mask given on its first-appearance frame; the ids are the given ones) or
    # "unsupervised" (no mask given; tracked ids, scored by DAVIS's Hungarian matching); "" takes the test set's own
    # protocol (its metadata's `task`: semi-supervised for valid and the held-out train videos).
    _C.TEST.YTVOS.TASK = ""
    # On a split without annotations to score (valid), write OUTPUT_DIR/inference/<set>/submission.zip
    # (Annotations/<video>/<frame>.png, what the evaluation server takes) once the results check complete.
    _C.TEST.YTVOS.SUBMISSION_ZIP = True
    # Which frames a YouTube-VOS video is segmented on (the results are written for the meta.json frames either way):
    # "annotated" (the 6 fps frames of <split>/JPEGImages, every 5th), "all_frames" (every 30 fps frame of the
    # <split>_all_frames folder: the temporal window and the mask-IoU tracking see consecutive frames, as a model
    # trained with INPUT.YTVOS_WINDOW_FRAMES "all_frames" was; 5x the frames to run) or "auto" (all frames where a
    # video has them).
    _C.TEST.YTVOS.INFERENCE_FRAMES = "annotated"
