#!/usr/bin/env bash
# First README command: install everything, then start Flowbot on its embedded defaults
# (SQLite under ./data, in-process broker). Prints the URL to open.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/flowbot run
