#!/usr/bin/env bash
# The whole GPU check in one command, for a short loan of a GPU machine (docs/BENCHMARKS.md, "GPU"):
# the CUDA tests, then the GPU part of the pipeline benchmark in three time slices (latency,
# throughput, memory over a long shot), everything teed into $OUT. Every step has its own time
# limit and the benchmark saves each figure as soon as it exists, so a cut-short run still reports.
#
#   benchmarks/gpu_run.sh                  # on the GPU machine, from the repository root
#   PY=.venv/bin/python GPU_DEVICE=cpu TINY=1 WHEELS= OUT=/tmp/gpu-dry benchmarks/gpu_run.sh  # dry run
#
# The machine has PyTorch but no package index: the backend's other packages travel as wheels in
# .whl/ (sam2, hydra-core, omegaconf, antlr4, iopath, pymatting, pyzmq, openexr; cp312). With
# WHEELS empty (the dry run) the current environment is used as it is.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-/tmp/sam2matting-gpu}
GPU_DEVICE=${GPU_DEVICE:-cuda}
mkdir -p "$OUT"
LOG="$OUT/run.log"
export PYTHONUNBUFFERED=1
say() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$LOG"; }

WHEELS=${WHEELS-.whl}
if [ -n "$WHEELS" ]; then
  SITE=/tmp/sam2matting-site
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$WHEELS"/*.whl 2>&1 | tee -a "$LOG" || exit 1
  # The folders map onto the sam2matting namespace (pyproject's package-dir), without a build.
  mkdir -p "$SITE/sam2matting"
  for d in backend protocol installer; do ln -sfn "$PWD/$d" "$SITE/sam2matting/$d"; done
  export PYTHONPATH="$SITE:$PWD"
fi

say "environment"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
  "$PY" -c "import torch, sam2, sam2matting.backend; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
  nproc; } 2>&1 | tee -a "$LOG"

say "CUDA tests"
TESTS="tests/backend/tracking/test_tracking_sam2_cuda.py tests/backend/server/test_server_engines.py
tests/backend/matting/heads/test_heads.py tests/backend/matting/refiner/test_refiner_engine.py"
# Warnings stay visible but are not errors here: the machine's numpy/torch are newer than CI's.
[ "${TEST_S:-150}" -gt 0 ] && timeout "${TEST_S:-150}" "$PY" -m pytest -q -m gpu -p no:randomly -p no:cacheprovider \
  -W default $TESTS 2>&1 | tee -a "$LOG"

bench() {  # bench NAME SECONDS ARGS...: one time slice of the benchmark's GPU part (0 s: skip)
  local name=$1 seconds=$2; shift 2
  [ "$seconds" -gt 0 ] || return 0
  say "benchmark: $name (at most ${seconds}s)"
  local tiny=(); [ -n "${TINY:-}" ] && tiny=(--tiny)
  timeout "$seconds" "$PY" -m benchmarks.pipeline --parts gpu --gpu-device "$GPU_DEVICE" \
    "${tiny[@]}" --models "${GPU_MODELS:-tiny,base_plus}" --out "$OUT/$name" --deadline-s $((seconds * 2 / 3)) "$@" 2>&1 | tee -a "$LOG"
}
bench latency "${LATENCY_S:-70}" --sections latency
bench throughput "${THROUGHPUT_S:-230}" --sections throughput
bench memory "${MEMORY_S:-100}" --sections memory --scale-frames 2000 --memory-every 25
say "done"
