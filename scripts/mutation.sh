#!/usr/bin/env bash
# Mutation testing of the guard modules (docs/mutation.md): not part of scripts/test.sh, it
# takes tens of minutes. Runs at the lowest priority, one module at a time, one mutant at a
# time (MUTATION_CHILDREN=2 to use two cores), and prints the kill rate per module; fails
# when a module is below 90 %. Usage: scripts/mutation.sh [module ...], e.g. "crypto".
set -euo pipefail
cd "$(dirname "$0")/.."
exec nice -n 19 .venv/bin/python scripts/mutation.py "$@"
