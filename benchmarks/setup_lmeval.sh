#!/usr/bin/env bash
# Create lm-evaluation-harness's own environment for benchmarks/vs_lmeval.py, next to (never inside)
# the project's .venv. Versions match the issue's reference figures; torch is pinned to the CPU build
# unless TORCH_SPEC says otherwise (e.g. TORCH_SPEC=torch for a CUDA machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
"$python" -m venv "$here/.venv-lmeval"
"$here/.venv-lmeval/bin/pip" install -q "${TORCH_SPEC:-torch==2.13.0}" transformers==5.23.0 "lm-eval[hf]==0.4.13"
echo "lm-eval environment ready: $here/.venv-lmeval"
