"""Mutation testing of the guard modules, one module at a time, and their kill rates.

mutmut (configured in pyproject.toml) mutates the functions named below; each mutant runs
only the tests that cover it. A mutant listed in docs/mutation.md as equivalent (it cannot
change behaviour) is left out of the rate. Usage: scripts/mutation.sh [module ...].
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = str(ROOT / ".venv" / "bin" / "mutmut")
EQUIVALENTS_DOC = ROOT / "docs" / "mutation.md"
TARGET_RATE = 0.90


def _in(module: str, *functions: str) -> list[str]:
    return [f"{module}.x{function}__mutmut_*" for function in functions]


# Guard module -> the mutant names (fnmatch globs) that make it up.
MODULES: dict[str, list[str]] = {
    "ssrf": _in(
        "engine.nodes.utility",
        "_http_allowlist",
        "__allowed",
        "_embedded_ipv4",
        "_is_public_address",
        "_resolve_public",
        "_send_pinned",
        "__send_pinned",
        "__read_capped",
    ),  # fmt: skip
    "sandbox": _in(
        "engine.expressions",
        "ǁ_Budgetǁcharge",
        "__charge",
        "__leaf_size",
        "__open",
        "__size",
        "__over_limit",
        "__check_size",
        "__materialise",
        "__bounded",
        "__as_text",
        "__join_text",
        "__safe_range",
        "__replace",
        "__tojson",
        "__round",
        "__check_sequence",
        "__check_product",
        "__check_sum",
        "__check_power",
        "__parse",
        "__stream",
        "ǁ_Environmentǁis_safe_attribute",
        "ǁ_Environmentǁcall",
        "ǁ_Environmentǁcall_binop",
    ),  # fmt: skip
    "webhook signatures": _in(
        "engine.services.webhooks",
        "_signature",
        "_verify_signature",
        "_remember_signature",
        "_forget_signature",
        "__check_timeout",
    )
    + _in("engine.api.webhooks", "_read_capped", "_json_too_deep"),  # fmt: skip
    "auth and roles": ["engine.services.auth.*", "engine.services.sessions.*"],
    "crypto": ["engine.crypto.*"],
    "idempotency cache": ["connectors.kit.dedupe.*"],
    "step store replay": _in(
        "engine.execution_store",
        "_start_step",
        "_finish_step",
        "__step_by_key",
        "__max_seq",
        "_interrupt_running_steps",
    ),  # fmt: skip
    "trigger matching": ["engine.trigger_index.*"],
    "leases and supervisor": [
        "connectors.store.x_claim__mutmut_*",
        "connectors.store.x_release__mutmut_*",
        "connectors.supervisor.xǁSupervisorǁtick__mutmut_*",
        "connectors.supervisor.xǁSupervisorǁ_stop__mutmut_*",
        "connectors.supervisor.xǁSupervisorǁ_stop_all__mutmut_*",
        "connectors.supervisor.xǁSupervisorǁshutdown__mutmut_*",
    ],
    "flow save concurrency": _in(
        "engine.services.flows", "_save_draft", "__expect_revision", "_editable_flow"
    ),
}
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def statuses() -> dict[str, str]:
    """Every mutant's status from mutmut's own report."""
    out = subprocess.run(
        [MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    found = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if "__mutmut_" in name:
            found[name] = status
    return found


def equivalents() -> set[str]:
    """Mutants docs/mutation.md explains as equivalent (a backticked name in a table row)."""
    text = EQUIVALENTS_DOC.read_text() if EQUIVALENTS_DOC.exists() else ""
    return set(re.findall(r"^\|\s*`([^`]+__mutmut_\d+)`", text, flags=re.MULTILINE))


def report(selected: list[str]) -> bool:
    """Print the kill rate per module; whether every module reaches the target."""
    found, equivalent = statuses(), equivalents()
    print(f"\n{'module':<24}{'mutants':>8}{'killed':>8}{'equiv.':>8}{'left':>6}{'rate':>8}")
    ok = True
    for module in selected:
        names = [n for n in found if any(fnmatch(n, glob) for glob in MODULES[module])]
        counts = Counter(found[n] for n in names if n not in equivalent)
        killed = sum(counts[s] for s in KILLED)
        judged = sum(counts.values()) - counts["skipped"] - counts["not checked"]
        rate = killed / judged if judged else 0.0
        ok &= rate >= TARGET_RATE
        left = [n for n in names if n not in equivalent and found[n] not in KILLED]
        print(
            f"{module:<24}{len(names):>8}{killed:>8}{len(names) - sum(counts.values()):>8}"
            f"{len(left):>6}{rate:>8.1%}"
        )
        for name in sorted(left):
            print(f"    {found[name]:<10} {name}")
    return ok


def main(argv: list[str]) -> int:
    selected = argv or list(MODULES)
    unknown = set(selected) - set(MODULES)
    if unknown:
        print(f"unknown modules {sorted(unknown)}; choose from {list(MODULES)}")
        return 2
    children = os.environ.get("MUTATION_CHILDREN", "1")
    for module in selected:  # one module at a time, so a run can be stopped in between
        started = time.monotonic()
        print(f"== {module}", flush=True)
        run = subprocess.run(
            [MUTMUT, "run", "--max-children", children, *MODULES[module]],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:  # most often a test failing without any mutant (stats run)
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
            return run.returncode
        print(f"   {time.monotonic() - started:.0f} s", flush=True)
    return 0 if report(selected) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
