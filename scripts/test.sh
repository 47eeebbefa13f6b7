#!/usr/bin/env bash
# Second README command: install everything (test extras, Debian's Chromium) and run the
# whole suite: lint, unit, integration (PostgreSQL + Redis) and browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .

# pytest exits 5 when it collects nothing; with `set -e` that (like any failure) fails the run.
pytest() { .venv/bin/python -m pytest -q -p no:cacheprovider "$@"; }
if [ "$#" -gt 0 ]; then
  pytest "$@"
else
  # Browser tests last, in their own run: they drive real servers and Chromium.
  pytest tests --ignore=tests/e2e
  pytest tests/e2e
fi
