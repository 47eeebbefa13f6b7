"""Template CPU denial of service: structures that grow by sharing are refused early.

``{% set a = [a, a] %}`` repeated builds 2^n references in n cheap steps; comparing,
printing or serialising the result then runs in C, holding the GIL, where neither the
step budget nor the deadline can stop it (depth 29 froze the web process for 14 s).
Every list, tuple and dict a template builds is therefore measured when it is built,
counting a shared part each time it is referenced, and refused past MAX_NATIVE_SIZE.

The renders run in a child process: on a template engine without the bound, the child
hangs in C and is killed by the timeout, which fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.expressions import MAX_NATIVE_SIZE, Scope, render

ROOT = Path(__file__).resolve().parents[2]
CPU_BOUND_S = 0.5  # CPU seconds one refusal may take (measured: about 0.01-0.06)
CHILD_TIMEOUT_S = 60  # safety net only: all cases together take a few seconds

# The values that grow, and the operations that would walk them in C.
BUILDERS = {
    "list": "[X, X]",
    "tuple": "(X, X)",
    "dict": "{'l': X, 'r': X}",
    "map": "[0, 0]|map('default', X, true)|list",
    "lazy map": "[0, 0]|map('default', X, true)",
    "reverse": "[X, X]|reverse",
    "sort": "[X, X]|sort",
    "items": "{'k': X, 'j': X}.items()|list",
    "repeat": "[X] * 2",
    "concat": "X + X",
}
USES = [
    "{{ a == b }}",
    "{{ a != b }}",
    "{{ a < b }}",
    "{{ a in [b] }}",
    "{{ a is eq b }}",
    "{{ [a, b]|unique|list|length }}",
    "{{ a|string|length }}",
    "{{ a|tojson|length }}",
    "{{ [a]|join|length }}",
    "{{ (a ~ '')|length }}",
    "{{ [a]|sort|length }}",
    "{{ [a]|max|length }}",
    "{{ {'k': a}|length }}",
    "{{ a.count(b) }}",
    "{{ (a * 2)|length }}",
    "{{ a|urlencode|length }}",
    "{{ a }}",
]
DEPTHS = (29, 60)


def bomb(depth: int, builder: str, use: str) -> str:
    """Two independent structures of 2^depth references each, then one use of them."""
    steps = "".join(
        f"{{% set a = {builder.replace('X', 'a')} %}}{{% set b = {builder.replace('X', 'b')} %}}"
        for _ in range(depth)
    )
    return "{% set a = [1] %}{% set b = [1] %}" + steps + use


# Every use of the plain list bomb, and every way of building one used by a comparison.
CASES = [(d, "list", u) for d in DEPTHS for u in USES] + [
    (d, b, "{{ a == b }}") for d in DEPTHS for b in BUILDERS if b != "list"
]

CHILD = """
import json, sys, time
from engine import expressions
from engine.expressions import ExpressionError, Scope, render
expressions.MAX_RENDER_SECONDS = 3600.0  # the size limit must fire, not the wall clock
for template in json.load(sys.stdin):
    started = time.process_time()
    try:
        outcome = "rendered: " + str(render(template, Scope()))[:80]
    except ExpressionError as exc:
        outcome = exc.message
    print(json.dumps([outcome, time.process_time() - started]), flush=True)
"""


@pytest.fixture(scope="module")
def outcomes() -> dict[tuple[int, str, str], tuple[str, float]]:
    """Each case's error (or result) and CPU seconds, rendered in one child process."""
    templates = [bomb(depth, BUILDERS[name], use) for depth, name, use in CASES]
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD],
            input=json.dumps(templates),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=CHILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        done_before = output.count("\n")
        pytest.fail(f"template {done_before + 1} stalled its process for {CHILD_TIMEOUT_S} s")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return {case: (line[0], line[1]) for case, line in zip(CASES, lines, strict=True)}


@pytest.mark.parametrize(("depth", "builder", "use"), CASES)
def test_a_sharing_bomb_is_refused_naming_the_limit(
    outcomes: dict[tuple[int, str, str], tuple[str, float]], depth: int, builder: str, use: str
) -> None:
    message, cpu_seconds = outcomes[(depth, builder, use)]
    limits = (f"{MAX_NATIVE_SIZE:,}", "10,000", "65,536")  # size, items, text
    assert any(limit in message for limit in limits), message
    if builder in {"list", "tuple", "dict", "map", "lazy map", "reverse", "sort", "items"}:
        assert "the value would be larger than the limit of 1,048,576 characters" in message
    assert cpu_seconds < CPU_BOUND_S, f"refused, but only after {cpu_seconds:.2f} s of CPU"


def test_the_depth_29_bomb_of_the_report_is_refused_in_process() -> None:
    """The exact template of the report, in this process: refused, not run."""
    template = bomb(29, "[X, X]", "{{ a == b }}")
    with pytest.raises(Exception, match="1,048,576") as refused:
        render(template, Scope())
    assert type(refused.value).__name__ == "ExpressionError"


def test_large_real_data_still_renders() -> None:
    """The bound is on size, not on ordinary use: thousands of items compare, sort and
    serialise as before."""
    items = [{"id": i, "name": f"member {i}", "tags": ["a", "b"]} for i in range(3000)]
    scope = Scope(trigger={"items": items}, context={"copy": [dict(i) for i in items]})
    assert render("{{ trigger.items == context.copy }}", scope) is True
    assert render("{{ (trigger.items|sort(attribute='name')|first).id }}", scope) == 0
    assert len(render("{{ trigger.items|map(attribute='id')|list }}", scope)) == 3000
    assert render("{{ [trigger.items, context.copy]|length }}", scope) == 2
    text: Any = render("{{ trigger.items[:100]|tojson }}", scope)
    assert json.loads(text)[99]["id"] == 99
