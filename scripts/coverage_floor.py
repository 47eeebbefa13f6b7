"""Print line coverage per package and fail when one is below its floor.

The floors live in pyproject.toml ([tool.flowbot.coverage_floor], percent of lines); the
data is the test run's (COVERAGE_FILE), combined here with what the workers and connectors
the tests started wrote beside it. Run after ``pytest --cov``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import tomllib
from collections import defaultdict
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parent.parent


def floors() -> dict[str, float]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {
        name: float(value) for name, value in config["tool"]["flowbot"]["coverage_floor"].items()
    }


def lines_per_package(packages: list[str]) -> dict[str, tuple[int, int]]:
    """(covered, statements) per top-level package."""
    measured = coverage.Coverage(config_file=str(ROOT / "pyproject.toml"))
    measured.combine(keep=False)
    measured.load()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "coverage.json"
        measured.json_report(outfile=str(report))
        files = json.loads(report.read_text())["files"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path, found in files.items():
        package = Path(path).parts[0]
        if package in packages:
            totals[package][0] += found["summary"]["covered_lines"]
            totals[package][1] += found["summary"]["num_statements"]
    return {package: (covered, total) for package, (covered, total) in totals.items()}


def main() -> int:
    wanted = floors()
    found = lines_per_package(list(wanted))
    failed = False
    for package, floor in wanted.items():
        covered, total = found.get(package, (0, 0))
        percent = 100.0 * covered / total if total else 0.0
        verdict = "ok" if percent >= floor else "BELOW THE FLOOR"
        failed |= percent < floor
        print(
            f"{package:<11} {percent:6.2f} % of {total} lines covered (floor {floor:g} %) {verdict}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
