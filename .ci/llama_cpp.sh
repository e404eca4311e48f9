#!/usr/bin/env bash
# Install llama-cpp-python[server] and build the tiny Llama GGUF model used by
# tests/integration/test_llamacpp_server.py. Prints the GGUF path as the last line of stdout.
#
#   .ci/llama_cpp.sh                  # uses .venv/bin/python
#   PYTHON=python3 .ci/llama_cpp.sh   # another interpreter
#
# llama-cpp-python builds llama.cpp from source (4-5 minutes on an idle 2-core machine, 30 on a
# busy one). The built wheel is cached under $RAI_HARNESS_CACHE_DIR/wheels/<cpu key>/ (default
# ~/.cache/rai-harness), keyed by the CPU's instruction-set flags because llama.cpp compiles for the
# native CPU; later runs reuse it. The model (about 0.5 MB) is cached under
# $RAI_HARNESS_CACHE_DIR/tiny-llama/<spec hash>/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
CACHE="${RAI_HARNESS_CACHE_DIR:-$HOME/.cache/rai-harness}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CPU_KEY="$( (uname -m; grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true) | sha256sum | cut -c1-12)"
WHEELS="$CACHE/wheels/$CPU_KEY"
mkdir -p "$WHEELS"

installed="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("llama_cpp_python"))' 2>/dev/null || true)"
if [ "$installed" != "$VERSION" ] || ! "$PYTHON" -c 'import llama_cpp.server.app' 2>/dev/null; then
    if ! compgen -G "$WHEELS/llama_cpp_python-$VERSION-*.whl" >/dev/null; then
        echo "building llama-cpp-python $VERSION from source (cached in $WHEELS)" >&2
        CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$PYTHON" -m pip wheel --no-deps --wheel-dir "$WHEELS" \
            "llama-cpp-python==$VERSION" >&2
    fi
    "$PYTHON" -m pip install --find-links "$WHEELS" "llama-cpp-python[server]==$VERSION" >&2
fi
"$PYTHON" -m pip install --quiet "gguf>=0.10" "sentencepiece>=0.2" >&2

cd "$REPO"
"$PYTHON" -m tests.integration.tiny_llama "$CACHE/tiny-llama"
