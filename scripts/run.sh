#!/usr/bin/env bash
# Set up, build the index of the shipped knowledge base if needed, and serve the assistant on 127.0.0.1:
# web chat at /, API at /api/v1 and /v1/chat/completions, widget at /widget.js. Offline at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/park-assistant index
exec .venv/bin/python app.py
