#!/usr/bin/env bash
# DAVIS-only vs YouTube-VOS + DAVIS fine-tuning of the quickstart SlowFast 3-7, over training seeds 1-3, scored on a
# held-out synthetic set (data seed 7: 8 DAVIS train + 16 DAVIS 2016 val sequences, the set tools/run_ablation.py
# generates) that no setting was tuned on. Both variants start from the same single-frame Mask R-CNN (`make demo`'s
# pre-training, output/quickstart/pretrain) with backbone and RPN frozen, as the quickstart fine-tunes.
#   davis: configs/quickstart/slowfast_3-7.yaml              (DATASETS.TRAIN synthetic_davis2017_train)
#   mixed: configs/quickstart/ytvos_mixed_slowfast_3-7.yaml  (+ synthetic_ytvos_train, weights 0.5/0.5, windows
#          from the 30 fps all-frames folder)
# Resumable: a run with a results.json is skipped. Run from the repository root: bash docs/results/ytvos-mixed/run.sh
set -euo pipefail
PY=${PY:-.venv/bin/python}
OUT=${OUT:-output/ytvos-mixed}
PRETRAIN=${PRETRAIN:-output/quickstart/pretrain/model_final.pth}
export DETECTRON2_DATASETS="$OUT/datasets"
[ -f "$PRETRAIN" ] || { echo "run make demo first: $PRETRAIN is missing" >&2; exit 1; }
if [ ! -f "$DETECTRON2_DATASETS/DAVIS-synthetic/synthetic_davis.json" ]; then
  "$PY" datasets/prepare_synthetic_davis.py --output "$DETECTRON2_DATASETS/DAVIS-synthetic" --seed 7 \
    --train-sequences 8 --val-sequences 16
fi
if [ ! -f "$DETECTRON2_DATASETS/YouTube-VOS-synthetic/synthetic_ytvos.json" ]; then
  "$PY" datasets/prepare_synthetic_davis.py --layout youtube-vos --output "$DETECTRON2_DATASETS/YouTube-VOS-synthetic"
fi
for seed in 1 2 3; do
  for variant in davis mixed; do
    config=configs/quickstart/slowfast_3-7.yaml
    [ "$variant" = mixed ] && config=configs/quickstart/ytvos_mixed_slowfast_3-7.yaml
    run="$OUT/seed$seed/$variant"
    if [ -f "$run/results.json" ]; then echo "done: $run"; continue; fi
    mkdir -p "$run"
    echo "$(date +%T) training $run"
    "$PY" tools/train_net.py --config-file "$config" --resume MODEL.WEIGHTS "$PRETRAIN" \
      MODEL.FREEZE.BACKBONE True MODEL.FREEZE.PROPOSAL_GENERATOR True SEED "$seed" OUTPUT_DIR "$run" \
      > "$run/run.log" 2>&1
  done
done
"$PY" tools/frame_breakdown.py --davis-root "$DETECTRON2_DATASETS/DAVIS-synthetic" \
  --runs "$OUT/seed*/*/inference/synthetic_davis2016_val/davis_results" --compare davis mixed
