"""Each expression sandbox limit on its own: every other limit is lifted out of reach, the
one under test is set low, and the error must name that limit. A limit that stopped
counting (the step budget, say) would then let the template through instead of being
covered by another limit firing first; the edge cases pin where each limit starts."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from engine import expressions
from engine.expressions import ExpressionError, Scope, render

UNREACHABLE = {
    "MAX_STEPS": 10**12,
    "MAX_RENDER_SECONDS": 3600.0,
    "MAX_OUTPUT_CHARS": 10**12,
    "MAX_ITEMS": 10**12,
    "MAX_NATIVE_SIZE": 10**15,
    "MAX_INT_BITS": 10**9,
    "MAX_TEMPLATE_CHARS": 10**12,
}

Limit = Callable[..., None]


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> Limit:
    """``only(MAX_X=n)``: every sandbox limit out of reach but the ones given."""

    def set_limits(**low: float) -> None:
        limits = UNREACHABLE | low
        for name, value in limits.items():
            monkeypatch.setattr(expressions, name, value)
        # The budget's step count is its dataclass default, fixed when the class was made.
        budget = functools.partial(expressions._Budget, steps_left=int(limits["MAX_STEPS"]))
        monkeypatch.setattr(expressions, "_Budget", budget)

    return set_limits


def loop(count: int, body: str = "") -> str:
    return f"{{% for i in range({count}) %}}{body}{{% endfor %}}"


def test_step_budget_alone(only: Limit) -> None:
    """range() and the loop's iterator are two calls, each item one step: 98 + 2 = 100."""
    only(MAX_STEPS=100)
    assert render(loop(98), Scope()) == ""
    with pytest.raises(ExpressionError, match="does too much work"):
        render(loop(99), Scope())
    with pytest.raises(ExpressionError, match="does too much work"):
        render(loop(10, loop(10)), Scope())  # nested loops share one budget


def test_step_budget_is_per_render(only: Limit) -> None:
    only(MAX_STEPS=100)
    for _ in range(3):
        assert render(loop(98), Scope()) == ""


def test_deadline_alone(only: Limit) -> None:
    only(MAX_RENDER_SECONDS=0.01)
    with pytest.raises(ExpressionError, match=r"took longer than 0.01 s"):
        render(loop(5000, loop(5000)), Scope())


def test_output_limit_alone(only: Limit) -> None:
    only(MAX_OUTPUT_CHARS=1000)
    assert len(render(loop(1000, "x"), Scope())) == 1000
    with pytest.raises(ExpressionError, match="output is longer than 1,000 characters"):
        render(loop(1001, "x"), Scope())


def test_item_limit_alone(only: Limit) -> None:
    only(MAX_ITEMS=100)
    assert len(render("{{ range(100) | list }}", Scope())) == 100
    with pytest.raises(ExpressionError, match=r"range\(\) is limited to 100 items"):
        render("{{ range(101) }}", Scope())
    with pytest.raises(ExpressionError, match="a list may hold at most"):
        render("{{ [1] * 101 }}", Scope())


def test_value_size_limit_alone(only: Limit) -> None:
    only(MAX_NATIVE_SIZE=1000)
    scope = Scope(trigger={"s": "y" * 200})
    assert len(render("{{ [trigger.s] * 4 }}", scope)) == 4
    with pytest.raises(ExpressionError, match="list would be larger than 1,000 characters"):
        render("{{ [trigger.s] * 10 }}", scope)
    with pytest.raises(ExpressionError, match="value would be larger than 1,000 characters"):
        render("{{ trigger }}", Scope(trigger={"big": "z" * 2000}))


def test_number_size_limit_alone(only: Limit) -> None:
    only(MAX_INT_BITS=64)
    assert render("{{ 2 ** 60 }}", Scope()) == 2**60
    with pytest.raises(ExpressionError, match="numbers are limited to 64 bits"):
        render("{{ 2 ** 70 }}", Scope())
    with pytest.raises(ExpressionError, match="numbers are limited to 64 bits"):
        render("{{ 4294967296 * 4294967296 * 4 }}", Scope())


def test_template_length_limit_alone(only: Limit) -> None:
    only(MAX_TEMPLATE_CHARS=100)
    fits = "{{ 1 }}" + "a" * 93
    assert render(fits, Scope()) == "1" + "a" * 93
    with pytest.raises(ExpressionError, match="template is longer than 100 characters"):
        render(fits + "b", Scope())


def test_with_every_limit_lifted_the_same_templates_render(only: Limit) -> None:
    """The control: nothing but the one lowered limit stopped the templates above."""
    only()
    scope = Scope(trigger={"s": "y" * 200})
    assert render(loop(300), Scope()) == ""
    assert len(render(loop(2000, "x"), Scope())) == 2000
    assert len(render("{{ [trigger.s] * 10 }}", scope)) == 10
    assert render("{{ 2 ** 70 }}", Scope()) == 2**70
    assert len(render("{{ range(101) | list }}", Scope())) == 101
