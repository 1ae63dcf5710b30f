#!/usr/bin/env bash
# Build llama-cpp-python (the `llm` extra's local server) once per version and build flags, keep the
# wheel under ~/.cache, and install it into the given Python.
#
# Why not let pip build it: pip caches the wheel it builds by source only, so a change of build flags
# would never reach an existing cache. And why these flags: a native build (-march=native) on a CPU
# with AMX uses llama.cpp's AMX kernels, which segfault at the first token on some Sapphire Rapids
# machines (ggml-org/llama.cpp#20824). GGML_NATIVE=OFF builds the portable AVX2/FMA/F16C code
# instead, which runs on every x86-64 machine from the last decade. LLaVA is off: ~5 min, not ~15.
set -euo pipefail
python=$1
cd "$(dirname "$0")/.."
version=$(grep -o 'llama-cpp-python\[server\]==[0-9.]*' pyproject.toml | cut -d= -f3)
flags="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF"
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/feedbackloop/wheels/llama-cpp-python-$version-$(echo "$flags" | sha256sum | cut -c1-8)"
if ! compgen -G "$wheels/llama_cpp_python-$version-*.whl" > /dev/null; then
  echo "building llama-cpp-python $version ($flags), once: about 5 minutes"
  rm -rf "$wheels.partial"  # an interrupted build's leftovers
  CMAKE_ARGS="$flags" "$python" -m pip wheel -q --no-deps --no-cache-dir "llama-cpp-python==$version" -w "$wheels.partial"
  mv "$wheels.partial" "$wheels"
fi
"$python" -m pip install -q --no-deps --force-reinstall "$wheels"/llama_cpp_python-"$version"-*.whl
