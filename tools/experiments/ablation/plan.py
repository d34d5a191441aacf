"""What an ablation runs: its rows, the recipe of a study, the folder layout, and the ordered stages.

One pipeline for every scale: a study is a :class:`Recipe` (which configs, an optional shared pre-training, the
OSVOS protocols) run for rows x training seeds; a single-seed study is the same plan with one seed. Layout under
the output folder (one OUTPUT_DIR per stage, never shared by two stages)::

    pretrain/                          the recipe's single-frame pre-training (quickstart)
    seed<N>/<row>/                     fine-tune (or --mode eval) of a row with training seed N: results.json
    seed<N>/<row>/<osvos folder>/      OSVOS of that model, one folder per protocol (see OSVOSProtocol)
    timing/<row>/                      the row's inference timed alone, after every other stage (Table 1's time)
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from vos_eval.results_file import RESULTS_FILE

from ..stages import StageError

CONFIGS = ("1-1", "3-3", "7-7", "1-7", "3-7")
BASELINE = "1-1"
# Rows beyond the paper's m-n configs: "control" is the same model with no temporal module (config file
# no_temporal.yaml, MODEL.SLOWFAST.FUSION "none"); "m-n+residual" is slowfast_m-n.yaml with the opt-in residual
# fusion (the module's output added to the target's own features, the module starting as the identity);
# "m-n+residual-init1" the same with the residual branch at full initial strength (RESIDUAL_INIT_SCALE 1).
CONTROL = "control"
FUSION_SUFFIXES = {
    "+residual": ("MODEL.SLOWFAST.FUSION", "residual"),
    "+residual-init1": ("MODEL.SLOWFAST.FUSION", "residual", "MODEL.SLOWFAST.RESIDUAL_INIT_SCALE", "1.0"),
}
DEFAULT_WEIGHTS_PATTERN = "{output_dir}/seed{seed}/{config}/model_final.pth"
PRETRAIN_ROW = "single-frame"
STAGE_RECORD = "ablation_stage.json"


class AblationError(StageError):
    """A stage failed or a config, weights or results file is missing or invalid; the message names it."""


def config_variant(row: str) -> tuple[str, tuple[str, ...]]:
    """A row name's config file stem and the overrides it adds: "3-7" -> ("slowfast_3-7", ()), "3-7+residual" ->
    ("slowfast_3-7", ("MODEL.SLOWFAST.FUSION", "residual")), "control" -> ("no_temporal", ())."""
    if row == CONTROL:
        return "no_temporal", ()
    for suffix, opts in FUSION_SUFFIXES.items():
        if row.endswith(suffix):
            return f"slowfast_{row[:-len(suffix)]}", opts
    return f"slowfast_{row}", ()


def check_row_name(text: str) -> str:
    """``text`` if it is a row name (m-n with odd m <= n, optionally +residual, or "control"), else ValueError."""
    if text == CONTROL:
        return text
    suffixes = "|".join(re.escape(s) for s in FUSION_SUFFIXES)
    match = re.fullmatch(rf"(\d+)-(\d+)({suffixes})?", text)
    if not match or int(match[1]) % 2 == 0 or int(match[2]) % 2 == 0 or int(match[1]) > int(match[2]):
        raise ValueError(f"config {text!r}: expected m-n with odd m <= n (e.g. 3-7), optionally followed by one of "
                         f"{sorted(FUSION_SUFFIXES)}, or {CONTROL!r}")
    return text


class OSVOSProtocol(NamedTuple):
    """One way of scoring OSVOS: the sub-folder of a run it writes into and the overrides that select it."""

    folder: str
    opts: tuple[str, ...] = ()


# Where a quickstart-scale run keeps OSVOS under the paper's Table 2 protocol (the DAVIS 2016 view).
BINARY_OSVOS_FOLDER = "osvos_davis2016"
# The OSVOS configs' own set as they are (paper scale: DAVIS 2016 val, the paper's protocol).
OSVOS_AS_CONFIGURED = OSVOSProtocol("osvos")


@dataclass(frozen=True)
class Recipe:
    """A complete study at one scale.

    ``binary_osvos`` is the paper's Table 2 protocol (DAVIS 2016 val: one binary object, first frame's mask given);
    ``multi_object_osvos`` (optional, --osvos-multi-object) scores the same parents multi-object on a DAVIS 2017
    view, an extra column of Table 2.
    """

    config_dir: str  # fine-tune configs <stem>.yaml (see config_variant)
    osvos_config_dir: str  # OSVOS configs <osvos_prefix><stem>.yaml
    osvos_prefix: str = ""
    pretrain_config: str | None = None  # a shared single-frame pre-training every fine-tune starts from
    pretrain_opts: tuple[str, ...] = ()  # overrides of the pre-training (e.g. a longer schedule than make demo's)
    finetune_opts: tuple[str, ...] = ()  # overrides of every fine-tune (e.g. load the pre-training's weights)
    binary_osvos: OSVOSProtocol = OSVOS_AS_CONFIGURED
    multi_object_osvos: OSVOSProtocol | None = None
    generates_data: bool = False  # generates its synthetic DAVIS under <output-dir>/datasets
    description: str = ""

    def config_file(self, row: str) -> str:
        """The row's fine-tune config, or an AblationError naming the missing file."""
        return _existing(os.path.join(self.config_dir, f"{config_variant(row)[0]}.yaml"), row)

    def osvos_config_file(self, row: str) -> str:
        """The row's OSVOS config, or an AblationError naming the missing file."""
        return _existing(os.path.join(self.osvos_config_dir, f"{self.osvos_prefix}{config_variant(row)[0]}.yaml"), row)


def _existing(path: str, row: str) -> str:
    if not os.path.isfile(path):
        raise AblationError(f"config {row}: config file not found: {path}")
    return path


def config_dir_recipe(config_dir: str, osvos_config_dir: str) -> Recipe:
    """A paper-scale study: each config file as it is (weights from the config), OSVOS configs on DAVIS 2016 val."""
    return Recipe(config_dir=config_dir, osvos_config_dir=osvos_config_dir)


def quickstart_recipe(quickstart_dir: str) -> Recipe:
    """CPU scale: `make demo`'s recipe on a freshly generated synthetic DAVIS (configs/quickstart)."""
    return Recipe(
        config_dir=quickstart_dir,
        osvos_config_dir=quickstart_dir,
        osvos_prefix="osvos_",
        pretrain_config=os.path.join(quickstart_dir, "pretrain_mask_rcnn.yaml"),
        # Load the pre-training (added by plan_stages), freeze backbone and RPN as the paper does.
        finetune_opts=("MODEL.FREEZE.BACKBONE", "True", "MODEL.FREEZE.PROPOSAL_GENERATOR", "True"),
        # The quickstart OSVOS configs score the DAVIS 2017 view multi-object (osvos/); the paper's protocol is the
        # DAVIS 2016 view: one binary object per sequence, its first-frame mask given.
        binary_osvos=OSVOSProtocol(BINARY_OSVOS_FOLDER, ("DATASETS.TEST", "('synthetic_davis2016_val',)")),
        multi_object_osvos=OSVOS_AS_CONFIGURED,
        generates_data=True,
        description="CPU scale: make demo's recipe on a freshly generated synthetic DAVIS",
    )


# The study's pre-training: 700 fp32 iterations (the schedule of the recipe before make demo was cut for 2 cores).
# make demo's 400-iteration bf16 pre-training lowered 1-1's OSVOS J&F by 0.023 (beyond one seed std) and 3-7's by
# 0.006 (docs/results/ablation-2core/comparison-osvos_davis2016.md), so comparing configurations on it would
# handicap 1-1; the fine-tunes and OSVOS stay make demo's.
STUDY_PRETRAIN_OPTS = ("SOLVER.MAX_ITER", "700", "SOLVER.STEPS", "(550,)", "SOLVER.CHECKPOINT_PERIOD", "200",
                       "SOLVER.AMP.ENABLED", "False")


def study_recipe(quickstart_dir: str) -> Recipe:
    """CPU scale for the temporal study: the quickstart recipe with the 700-iteration fp32 pre-training."""
    return dataclasses.replace(
        quickstart_recipe(quickstart_dir),
        pretrain_opts=STUDY_PRETRAIN_OPTS,
        description="CPU scale for the temporal study: make demo's recipe with a 700-iteration fp32 pre-training "
                    "(fair to 1-1) on a freshly generated synthetic DAVIS",
    )


PRESETS = {"quickstart": quickstart_recipe, "study": study_recipe}
# The study's rows: the no-module control, the paper's baseline, its best config and the residual design.
STUDY_ROWS = ("control", "1-1", "3-7", "3-7+residual-init1")
DEFAULT_OSVOS_ROWS = {"quickstart": ("1-1", "3-7"), "study": STUDY_ROWS}
# The synthetic set a quickstart study generates: a seed no config was tuned on, and enough validation sequences
# for the spread over training seeds to mean something.
DEFAULT_DATA = {"seed": 7, "train_sequences": 8, "val_sequences": 16}


# ----------------------------------------------------------------------------------------------------------------
# Layout
# ----------------------------------------------------------------------------------------------------------------
def run_dir(output_dir: str, seed: int, row: str) -> str:
    """Output folder of a row's fine-tune (or evaluation) with one training seed: <output-dir>/seed<seed>/<row>."""
    return os.path.join(output_dir, f"seed{seed}", row)


def osvos_dir(output_dir: str, seed: int, row: str, protocol: OSVOSProtocol) -> str:
    """Output folder of one OSVOS protocol of a run: <run dir>/<protocol folder>."""
    return os.path.join(run_dir(output_dir, seed, row), protocol.folder)


def timing_dir(output_dir: str, row: str) -> str:
    """Output folder of a row's timing stage: <output-dir>/timing/<row>."""
    return os.path.join(output_dir, "timing", row)


def pretrain_dir(output_dir: str) -> str:
    """Output folder of the shared pre-training: <output-dir>/pretrain."""
    return os.path.join(output_dir, "pretrain")


def weights_for(pattern: str, output_dir: str, row: str, seed: int) -> str:
    """The weights file of a row and seed: the pattern with {config}, {seed} and {output_dir} filled in."""
    try:
        return pattern.format(config=row, seed=seed, output_dir=output_dir)
    except (KeyError, IndexError, ValueError) as e:
        raise AblationError(f"--weights-pattern {pattern!r}: only {{config}}, {{seed}} and {{output_dir}} may be "
                            f"used ({e})") from e


# ----------------------------------------------------------------------------------------------------------------
# Stages
# ----------------------------------------------------------------------------------------------------------------
class Scripts(NamedTuple):
    """The command lines a stage starts: the interpreter and the training / OSVOS entry points."""

    python: str
    train_net: str
    osvos_net: str


class Stage(NamedTuple):
    """One subprocess of the ablation: what it is, its command and its own output folder."""

    row: str
    kind: str  # "pretrain", "train", "eval", "osvos", "osvos-multi-object" or "timing"
    seed: int | None
    command: list[str]
    output_dir: str  # the stage's OUTPUT_DIR: its results.json, run_<kind>.log and ablation_stage.json
    needs: list[str]  # files that must exist when it starts (the weights it loads, possibly made by an earlier stage)
    after: tuple[int, ...] = ()  # indices (in the plan) of the stages that must finish first
    exclusive: bool = False  # runs with no other stage running (timing), whatever --jobs

    @property
    def label(self) -> str:
        """E.g. "3-7 train seed 2"."""
        return f"{self.row} {self.kind}" + ("" if self.seed is None else f" seed {self.seed}")

    @property
    def log_file(self) -> str:
        """Where the stage's output is streamed."""
        return os.path.join(self.output_dir, f"run_{self.kind}.log")

    @property
    def results_file(self) -> str:
        """The file whose existence marks the stage done (the pre-training's final weights, else results.json)."""
        name = "model_final.pth" if self.kind == "pretrain" else RESULTS_FILE
        return os.path.join(self.output_dir, name)

    @property
    def record_file(self) -> str:
        """The scheduler's record of how the stage ran (see experiments.stages.StageRecord)."""
        return os.path.join(self.output_dir, STAGE_RECORD)


def plan_stages(
    recipe: Recipe,
    rows: Sequence[str],
    seeds: Sequence[int],
    output_dir: str,
    scripts: Scripts,
    *,
    mode: str = "train",
    weights_pattern: str = DEFAULT_WEIGHTS_PATTERN,
    osvos_rows: Sequence[str] = (),
    multi_object: bool = False,
    num_gpus: int | None = None,
    extra_opts: Sequence[str] = (),
) -> list[Stage]:
    """Every stage in order: the pre-training (recipes that have one, train mode), per seed and row the fine-tune
    + evaluation (or the evaluation of existing weights) and OSVOS for ``osvos_rows``, then one timing stage per row.

    Config files are checked here (AblationError naming a missing one); weights only when their stage starts.
    """
    if mode not in ("train", "eval"):
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
    if not seeds:
        raise AblationError("no training seeds: at least one is needed")
    extra = list(extra_opts)
    gpus = [] if num_gpus is None else ["--num-gpus", str(num_gpus)]
    stages: list[Stage] = []
    after_pretrain: tuple[int, ...] = ()
    finetune_opts = list(recipe.finetune_opts)
    if recipe.pretrain_config is not None and mode == "train":
        out = pretrain_dir(output_dir)
        command = [scripts.python, scripts.train_net, "--config-file", recipe.pretrain_config, *gpus, "--resume",
                   *recipe.pretrain_opts, "OUTPUT_DIR", out, *extra]
        stages.append(Stage(PRETRAIN_ROW, "pretrain", None, command, out, []))
        after_pretrain = (0,)
        finetune_opts = ["MODEL.WEIGHTS", stages[0].results_file, *finetune_opts]
    protocols = [("osvos", recipe.binary_osvos)]
    if multi_object and recipe.multi_object_osvos is not None:
        protocols.append(("osvos-multi-object", recipe.multi_object_osvos))
    weights_of: dict[tuple[str, int], str] = {}
    for seed in seeds:
        for row in rows:
            out = run_dir(output_dir, seed, row)
            variant = list(config_variant(row)[1])
            command = [scripts.python, scripts.train_net, "--config-file", recipe.config_file(row), *gpus]
            if mode == "train":
                # --resume: an interrupted training continues from its last checkpoint when run again.
                weights = os.path.join(out, "model_final.pth")
                command += ["--resume", *variant, *finetune_opts, "SEED", str(seed), "OUTPUT_DIR", out, *extra]
                needs = [stages[0].results_file] if after_pretrain else []
                stages.append(Stage(row, "train", seed, command, out, needs, after_pretrain))
            else:
                weights = weights_for(weights_pattern, output_dir, row, seed)
                command += ["--eval-only", *variant, "OUTPUT_DIR", out, "MODEL.WEIGHTS", weights, *extra]
                stages.append(Stage(row, "eval", seed, command, out, [weights]))
            weights_of[row, seed] = weights
            parent = len(stages) - 1 if mode == "train" else None
            if row not in osvos_rows:
                continue
            osvos_config = recipe.osvos_config_file(row)
            for kind, protocol in protocols:
                folder = osvos_dir(output_dir, seed, row, protocol)
                command = [scripts.python, scripts.osvos_net, "--config-file", osvos_config, *variant,
                           *protocol.opts, "MODEL.WEIGHTS", weights, "SEED", str(seed), "OUTPUT_DIR", folder, *extra]
                stages.append(Stage(row, kind, seed, command, folder, [weights],
                                    () if parent is None else (parent,)))
    # Table 1's time: each row's inference over the same validation frames, timed alone after everything else.
    for row in rows:
        out = timing_dir(output_dir, row)
        weights = weights_of[row, seeds[0]]
        command = [scripts.python, scripts.train_net, "--config-file", recipe.config_file(row), *gpus, "--eval-only",
                   *config_variant(row)[1], "OUTPUT_DIR", out, "MODEL.WEIGHTS", weights, *extra]
        stages.append(Stage(row, "timing", None, command, out, [weights], tuple(range(len(stages))), exclusive=True))
    return stages


def prepare_data(output_dir: str, data: dict, progress: bool = True) -> str:
    """Generate the study's synthetic DAVIS under <output-dir>/datasets (once) and point the stages at it
    (DETECTRON2_DATASETS); an AblationError when the folder was generated with other settings."""
    from slowfast_vos.data import ensure_synthetic_davis, synthetic_davis_root
    from slowfast_vos.data.synthetic.davis import MARKER_FILE

    datasets = os.path.abspath(os.path.join(output_dir, "datasets"))
    root = ensure_synthetic_davis(synthetic_davis_root(datasets), progress=print if progress else None, **data)
    with open(os.path.join(root, MARKER_FILE), encoding="utf-8") as f:
        found = json.load(f)
    differs = {key: (found.get(key), value) for key, value in data.items() if found.get(key) != value}
    if differs:
        raise AblationError(f"{root} was generated with other settings (found, asked): {differs}; use another "
                            "--output-dir or the same data options")
    os.environ["DETECTRON2_DATASETS"] = datasets
    return root
