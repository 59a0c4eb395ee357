#!/usr/bin/env bash
# Set up (with test tools, chromium and CJK fonts), lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
echo "== ruff";  .venv/bin/ruff check .
echo "== mypy";  .venv/bin/mypy
echo "== pytest"; .venv/bin/pytest -q "$@"
