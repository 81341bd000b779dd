#!/usr/bin/env bash
# LiteLLM's proxy in a venv of its own, for bench/gateway_overhead.py to measure beside Cluster.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PY:-$(command -v python3.11 || command -v python3)}
[ -x .venv-litellm/bin/python ] || "$PY" -m venv .venv-litellm
.venv-litellm/bin/python -m pip install -q "litellm[proxy]"
