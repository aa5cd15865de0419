#!/usr/bin/env bash
# Make .whl/ for benchmarks/gpu_run.sh: the backend's packages that a lent GPU machine lacks (it
# has PyTorch, numpy, scipy, OpenCV and numba but no package index). Run here, where the
# registries are reachable, then carry .whl to the device (`run` with carry [".whl"]).
#
#   benchmarks/gpu_wheels.sh            # for the device's Python (3.12 by default: PYVER=3.11 ...)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PYVER=${PYVER:-3.12}
rm -rf .whl && mkdir -p .whl
# Pure-Python packages (some only exist as sdists: sam2, antlr4): built here into py3 wheels.
# sam2's build imports torch, hence no build isolation, and no CUDA extension.
SAM2_BUILD_CUDA=0 "$PY" -m pip wheel -q --no-deps --no-build-isolation -w .whl \
  sam2==1.1.0 hydra-core==1.3.8 "omegaconf>=2.2,<2.4" antlr4-python3-runtime==4.9.3 iopath pymatting \
  tqdm portalocker
# Compiled packages: binary wheels for the device's Python.
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_17_x86_64 -d .whl pyzmq openexr
ls .whl
