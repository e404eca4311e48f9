#!/usr/bin/env bash
# Create .venv and install rai-harness into it, as a new user would.
#
#   bash scripts/setup.sh          # the harness with its offline scorers and launchers
#   bash scripts/setup.sh --test   # + test tools, headless Chromium and the llama.cpp test server
#
# Torch: an existing torch in .venv is kept (GPU users install theirs first). Otherwise a machine
# with an NVIDIA driver gets pip's default (CUDA) build, and any other machine is pinned to the
# CPU build through constraints/cpu.txt, so a CPU-only venv never downloads CUDA wheels.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet)
CONSTRAINTS=()
if ! .venv/bin/python -c "import torch" 2>/dev/null && ! command -v nvidia-smi >/dev/null 2>&1; then
    CONSTRAINTS=(-c constraints/cpu.txt)
fi
if [ "${1:-}" = "--test" ]; then
    "${PIP[@]}" "${CONSTRAINTS[@]}" -e ".[test]"
    "${PIP[@]}" --no-deps --no-build-isolation -e tests/plugins/demo_plugin
    if [ ! -x /usr/bin/chromium ]; then
        if [ "$(id -u)" = 0 ]; then
            (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null))
        else
            echo "setup: browser tests need Chromium at /usr/bin/chromium: sudo apt-get install chromium" >&2
        fi
    fi
    bash .ci/llama_cpp.sh >/dev/null
else
    "${PIP[@]}" "${CONSTRAINTS[@]}" -e ".[scorers,launchers]"
fi
# pip compiles what it installs, but an editable install leaves the project's own modules to be
# compiled on import, on every run where PYTHONDONTWRITEBYTECODE is set (many containers): ~0.15 s
# of each run's start-up. Compile them once here (a stale .pyc is simply recompiled on import).
.venv/bin/python -m compileall -q harness scenarios >/dev/null
echo "setup: ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
