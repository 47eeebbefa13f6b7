#!/usr/bin/env bash
# Mutation testing of the guard modules (docs/mutation.md): not part of scripts/test.sh, it
# takes tens of minutes. Runs under nice -n 10 (at 19 it starved behind the other jobs on a
# shared 2-core machine), one module at a time, one mutant at a
# time (MUTATION_CHILDREN=2 to use two cores), and prints the kill rate per module; fails
# when a module is below 90 %. Usage: scripts/mutation.sh [module ...], e.g. "crypto".
set -euo pipefail
cd "$(dirname "$0")/.."
exec nice -n 10 .venv/bin/python scripts/mutation.py "$@"
