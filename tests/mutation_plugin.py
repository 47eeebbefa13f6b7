"""pytest plugin for mutation runs only (``pytest_add_cli_args`` in ``[tool.mutmut]``).

mutmut forks each mutant's test run from a process that has already run those tests. A
template compiled there stays in ``engine.expressions._compile``'s cache, so the child
would reuse it: the mutated parse checks would never run, and neither would a filter
Jinja folded into the template while compiling (``1.5 | round(-15)``). Each test starts
with that cache empty.
"""

from __future__ import annotations

import pytest

from engine import expressions


@pytest.fixture(autouse=True)
def _templates_compiled_afresh() -> None:
    expressions._compile.cache_clear()
