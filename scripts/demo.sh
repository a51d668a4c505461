#!/usr/bin/env bash
# The main job on the embedded default data, CPU only: prepare the corpus (Python's own docs),
# pretrain a tiny GPT-2 with DeepSpeed, export it to the HF format, and sample from it.
set -euo pipefail
RUN_DIR=${1:-runs/demo}
STEPS=${DEMO_STEPS:-300}

echo "== the model zoo"
framework models --family gpt2

echo "== pretraining gpt2-tiny for ${STEPS} steps on the embedded corpus (resumes if interrupted)"
framework pretrain recipes/pretrain/gpt2-tiny.yaml run_dir="${RUN_DIR}" train.max_steps="${STEPS}"

echo "== exported to ${RUN_DIR}/hf (vanilla HF format; loss curve in ${RUN_DIR}/loss.png)"
ls "${RUN_DIR}/hf"

echo "== sampling from the exported model"
framework generate "${RUN_DIR}/hf" --prompt "The dictionary" --prompt "A function returns" \
  --max-new-tokens 40 --do-sample --temperature 0.8 --top-k 40 --seed 0
