"""DAVISEvaluator: turns per-frame Instances into DAVIS result PNGs and scores them with the DAVIS protocols.

Frames must arrive in video order within a sequence (``inference_on_videos`` guarantees it): instance ids are
kept stable over a video by the evaluator's VideoSegmenter (:mod:`.segmenter`, :mod:`.tracking`).
"""
from __future__ import annotations

import logging
import os
from collections import defaultdict
from typing import Any, Dict, List, Optional

import numpy as np

from vos_eval.davis_format import MASK_EXT, DAVISFormatError
from vos_eval.frame_tags import load_frame_tags
from vos_eval.id_png import write_id_png
from vos_eval.scoring import VOSResults
from vos_eval.subsets import subset_metrics

from ..utils import join_under
from vos_eval.results_file import subset_key
from .tracking import InstanceTracker
from .video_evaluator import VideoMaskEvaluator

__all__ = ["DAVISEvaluator"]

logger = logging.getLogger(__name__)


class DAVISEvaluator(VideoMaskEvaluator):
    """Writes DAVIS result PNGs for every processed frame and scores them with the DAVIS protocols.

    Protocols: ``davis2016`` (and any protocol on a DAVIS 2016 set, which has one object per video) writes the union
    of the kept instances as object 1; ``unsupervised`` writes up to
    ``max_objects`` tracked ids; ``semi-supervised`` starts each video's tracks from the first annotated frame
    (the protocol's given masks), so ids are the annotation's ids and no others are opened. Under
    ``semi-supervised`` the first annotated frame's result is its given mask (it is not scored; the reference
    writes it so), and on a DAVIS 2016 set every other frame is the union of the kept instances exactly as without
    the given mask: the paper's Table 2 rule, where the given mask adapts the model (OSVOS) and does not gate the
    output. ``evaluate()`` returns ``{"davis": {J&F-Mean, ...}}`` (and ``davis_<subset>`` on sets with frame tags).
    """

    BENCHMARK = "davis"
    TASK_KEY = "TEST.DAVIS.TASK"

    def __init__(self, dataset_name: str, output_dir: str, *, task: Optional[str] = None, **settings):
        """
        Args:
            dataset_name: a registered DAVIS set; its metadata gives the set's ``layout`` (a DAVISLayout), its
                ``sequences`` and the default task.
            output_dir: PNGs go to the DAVIS results folder under it (vos_eval.run_folder), the CSV tables to it.
            task: "davis2016", "semi-supervised" or "unsupervised"; None: the metadata's task.
            settings: VideoMaskEvaluator's ``score_thresh``, ``mask_thresh``, ``max_objects``, ``match_iou``,
                ``workers``, ``distributed``, ``write_only`` (see there).
        """
        super().__init__(dataset_name, output_dir, task=task, **settings)
        # DAVIS 2016 has one foreground object per video: under every protocol a frame's prediction is the union of
        # its instances (the paper's binary evaluation), never a set of tracked ids.
        self._segmenter.single_object = self._task == "davis2016" or self._benchmark.single_object
        self.reset()

    @classmethod
    def config_kwargs(cls, cfg) -> Dict[str, Any]:
        """``task`` from TEST.DAVIS.TASK (empty: the set's own)."""
        return {"task": cfg.TEST.DAVIS.TASK or None}

    def reset(self):
        self._videos: Dict[str, InstanceTracker] = {}
        self._given: Dict[str, Dict[str, Dict[int, np.ndarray]]] = {}
        self._written: Dict[str, List[str]] = defaultdict(list)
        self._reset_recording()

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            self._record(inp, out)
            seq, frame = inp["sequence"], inp["frame_name"]
            height, width = int(inp["height"]), int(inp["width"])
            semi = self._task == "semi-supervised"
            if seq not in self._videos:
                # Semi-supervised: only the given objects are followed, from the given frame on.
                self._videos[seq] = self._segmenter.new_video(allow_new=not semi)
            # The given frame's result is the given mask; the objects' tracks start from it.
            given = self.given_masks(seq, height, width).get(frame)
            labels = self._segmenter.segment(self._videos[seq], out["instances"], height, width, f"{seq}/{frame}",
                                             given, self._segmenter.image_of(inp, height, width))
            write_id_png(join_under(self._results_dir, seq, frame + MASK_EXT), labels)
            self._written[seq].append(frame)

    def _check_complete(self, per_rank: List[Dict[str, List[str]]]) -> None:
        """Every scored frame of every sequence written, and multi-object sequences by one rank only."""
        owners, written = self._merge_ranks(per_rank)
        if self._task != "davis2016":
            split = {seq: ranks for seq, ranks in owners.items() if len(ranks) > 1}
            if split:
                raise DAVISFormatError(
                    f"sequences processed by several ranks, so their object ids disagree: {sorted(split)[:10]}; "
                    "give each process whole sequences"
                )
        missing = [
            f"{seq}/{frame}"
            for seq in self._meta.sequences
            for frame in self._benchmark.result_frames(self._layout, seq, self._task)
            if frame not in written[seq]
        ]
        if missing:
            raise DAVISFormatError(
                f"{len(missing)} frames of {self._dataset_name} were not processed, e.g. {missing[:10]}"
            )

    def _results(self):
        results = self.score()
        logger.info(f"DAVIS {self._task} evaluation of {self._dataset_name}:\n{results.tables()}")
        # The DAVIS benchmark's [0, 1] scale, as the official tables, the CSVs and the paper report it.
        out = {self.BENCHMARK: dict(results.global_metrics), "tracking": results.tracking()}
        for subset, metrics in self.subset_scores(results).items():
            out[subset_key(self.BENCHMARK, subset)] = metrics
        return out

    def subset_scores(self, results: VOSResults) -> Dict[str, Dict[str, float]]:
        """J&F on the frame subsets of the set's frame_tags.json (a generated synthetic set has one); {} without."""
        tags_file = getattr(self._meta, "frame_tags", None)
        if tags_file is None:
            return {}
        if not os.path.isfile(tags_file):
            logger.warning(f"{self._dataset_name}: no frame tags file {tags_file} (a set generated before tags "
                           "existed?): no clean/degraded split")
            return {}
        return subset_metrics(results, load_frame_tags(tags_file))
