#!/usr/bin/env bash
# Train the learned edge refiner on the GPU machine, in calls of under 10 minutes.
#
# The GPU machine has no /work/shared and no editable install: it trains from the texture pack
# and imports the package through .ci/mypy_path (symlinks sam2matting/* -> the repo folders).
#
# Here, once:   .venv/bin/python benchmarks/refiner_pack_textures.py      # -> .carry/refiner_textures.npz (24 MB)
# Call 1 (carry .carry/refiner_textures.npz):
#     benchmarks/refiner_train_gpu.sh $OUT/run
# Back here: copy the returned $OUT/run folder to .carry/refiner_run (checkpoint shards ~32 MB).
# Call 2 (carry .carry/refiner_textures.npz and .carry/refiner_run):
#     cp -r .carry/refiner_run $OUT/run && benchmarks/refiner_train_gpu.sh $OUT/run --resume
# The result is $OUT/run/weights/{refiner_fp16.pt,refiner.json}: copy both into
# backend/matting/refiner/weights/ and fill in MODEL_CARD.md from $OUT/run/history.json.
#
# Files in $OUT/run (8, the most a call sends back): checkpoint.pt.000-002, history.json,
# loss.png, train.log, weights/refiner_fp16.pt, weights/refiner.json.
set -euo pipefail
out=${1:?usage: refiner_train_gpu.sh OUT_DIR [--resume] [more train.py flags]}
shift
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/.ci/mypy_path${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
mkdir -p "$out"
python3 -m sam2matting.backend.matting.refiner.train \
    --out "$out" --textures .carry/refiner_textures.npz \
    --minutes "${MINUTES:-9}" --total-minutes "${TOTAL_MINUTES:-16.5}" \
    --batch 32 --tile 256 --bank 20000 --warmup-bank 1024 --val-samples 192 \
    "$@" 2>&1 | tee -a "$out/train.log"
