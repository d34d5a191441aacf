"""YTVOSEvaluator: writes YouTube-VOS results (the listed frames of every video, in the given ids) and scores them
(a split with every annotation, e.g. the held-out train videos) or checks and zips them as a submission (valid).

The protocol (given masks, listed frames, scoring) is :mod:`vos_eval.ytvos`, the submission :mod:`vos_eval.submission`.
"""
from __future__ import annotations

import logging
import os
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from vos_eval.davis_format import MASK_EXT
from vos_eval.id_png import write_id_png
from vos_eval.submission import check_submission, write_submission_zip
from vos_eval.ytvos_format import YTVOSFormatError

from ..utils import join_under
from .tracking import InstanceTracker
from .video_evaluator import VideoMaskEvaluator

__all__ = ["SUBMISSION_ZIP", "YTVOSEvaluator"]

logger = logging.getLogger(__name__)

# Default file name of the submission zip the evaluator writes for a split without annotations to score.
SUBMISSION_ZIP = "submission.zip"


class YTVOSEvaluator(VideoMaskEvaluator):
    """Writes ``<output_dir>/Annotations/<video>/<frame>.png`` for every frame meta.json lists, in the given ids, and
    scores them (a split with every annotation, e.g. the held-out train videos) or, on a split without them
    (valid), checks that the folder is a complete submission and zips it.

    Shares VideoMaskEvaluator's instance filtering (score and mask thresholds) and gathering of the ranks' frames
    with DAVISEvaluator; the sets, protocols, tracking and scoring are YouTube-VOS's. Frames must arrive in video
    order per video and each process must hold whole videos (``inference_on_videos`` with
    ``build_video_test_loader`` do both). ``evaluate()`` returns ``{"ytvos": {J&F-Mean, J-Mean, J-Recall, J-Decay,
    F-Mean, F-Recall, F-Decay}}`` (YouTube-VOS uses DAVIS's measures and table) on the main process, ``{}`` elsewhere
    and for a split it cannot score.
    """

    BENCHMARK = "ytvos"
    TASK_KEY = "TEST.YTVOS.TASK"

    def __init__(self, dataset_name: str, output_dir: str, *, task: Optional[str] = None,
                 submission_zip: Optional[str] = SUBMISSION_ZIP, **settings):
        """
        Args:
            dataset_name: a registered YouTube-VOS set (metadata ``layout``: a YTVOSLayout, ``sequences``, ``task``).
            output_dir: PNGs go to ``<output_dir>/Annotations``, the CSV tables (or the submission zip) to output_dir.
            task: "semi-supervised" or "unsupervised"; None: the metadata's task.
            submission_zip: on a split without annotations to score, ``evaluate()`` writes this zip (a name under
                output_dir, or a path) once the folder checks complete; None: only the check.
            settings: VideoMaskEvaluator's ``score_thresh``, ``mask_thresh``, ``max_objects``, ``match_iou``,
                ``workers``, ``distributed``, ``write_only`` (see there).
        """
        super().__init__(dataset_name, output_dir, task=task, **settings)
        self._submission_zip = submission_zip
        # The zip the last evaluate() wrote (a split without annotations to score), else None.
        self.submission_path: Optional[str] = None
        self.reset()

    @classmethod
    def config_kwargs(cls, cfg) -> Dict[str, Any]:
        """``task`` and ``submission_zip`` from TEST.YTVOS (an empty task: the set's own)."""
        return {"task": cfg.TEST.YTVOS.TASK or None,
                "submission_zip": SUBMISSION_ZIP if cfg.TEST.YTVOS.SUBMISSION_ZIP else None}

    def reset(self):
        self._videos: Dict[str, InstanceTracker] = {}
        self._given: Dict[str, Dict[str, Dict[int, np.ndarray]]] = {}
        self._required: Dict[str, set] = {}
        self._written: Dict[str, List[str]] = defaultdict(list)
        self._reset_recording()

    def _video_state(self, video: str, height: int, width: int
                     ) -> Tuple[InstanceTracker, Dict[str, Dict[int, np.ndarray]], set]:
        """The video's tracker, given masks (semi-supervised) and required frames, made on its first frame."""
        if video not in self._videos:
            self._required[video] = set(self._benchmark.result_frames(self._layout, video, self._task))
            semi = self._task == "semi-supervised"
            # Semi-supervised: only the given objects are followed, each from its first-appearance frame on.
            self._videos[video] = self._segmenter.new_video(allow_new=not semi)
        return self._videos[video], self.given_masks(video, height, width), self._required[video]

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            self._record(inp, out)
            video, frame = inp["sequence"], inp["frame_name"]
            height, width = int(inp["height"]), int(inp["width"])
            tracker, given, required = self._video_state(video, height, width)
            labels = self._segmenter.segment(tracker, out["instances"], height, width, f"{video}/{frame}",
                                             given.get(frame), self._segmenter.image_of(inp, height, width))
            # Every frame feeds the tracks; the listed ones are written (the submission's frames).
            if frame in required:
                write_id_png(join_under(self._results_dir, video, frame + MASK_EXT), labels)
                self._written[video].append(frame)

    def _check_complete(self, per_rank: List[Dict[str, List[str]]]) -> None:
        """Every listed frame of every video written, each video by one rank only."""
        owners, written = self._merge_ranks(per_rank)
        split = sorted(video for video, ranks in owners.items() if len(ranks) > 1)
        if split:
            raise YTVOSFormatError(f"videos processed by several ranks, so their object ids disagree: {split[:10]}; "
                                   "give each process whole videos")
        missing = [f"{video}/{frame}" for video in self._meta.sequences
                   for frame in self._benchmark.result_frames(self._layout, video, self._task)
                   if frame not in written[video]]
        if missing:
            raise YTVOSFormatError(
                f"{len(missing)} listed frames of {self._dataset_name} were not processed (not in the set's frames?)"
                f", e.g. {missing[:10]}"
            )

    def _results(self):
        if not self.scorable:
            self.submission_path = self.finish_submission()
            return {}
        results = self.score()
        logger.info(f"YouTube-VOS {self._task} evaluation of {self._dataset_name}:\n{results.tables()}")
        return {self.BENCHMARK: dict(results.global_metrics), "tracking": results.tracking()}

    def finish_submission(self) -> Optional[str]:
        """Check the written folder against meta.json and, when ``submission_zip`` is set, write the zip; its path."""
        sequences = list(self._meta.sequences)
        if self._submission_zip is None:
            check_submission(self._results_dir, self._layout, videos=sequences).raise_if_invalid()
            logger.info(f"{self._dataset_name}: submission folder {self._results_dir} is complete")
            return None
        path = os.path.join(self._output_dir, self._submission_zip)
        write_submission_zip(self._results_dir, self._layout, path, videos=sequences)
        logger.info(f"{self._dataset_name}: {self._layout.split} has no annotations to score here; wrote the "
                    f"submission {path} (upload it to the YouTube-VOS evaluation server)")
        return path

    def _table_label(self) -> str:
        return _split_label(self._meta)


def _split_label(meta) -> str:
    """The tables' set name: the split, with the subset (e.g. train_holdout) where the set is one."""
    subset = getattr(meta, "subset", None)
    return f"{meta.split}_{subset}" if isinstance(subset, str) and subset else str(meta.split)


