"""Each expression sandbox limit on its own: every other limit is lifted out of reach, the
one under test is set low, and the error must name that limit. A limit that stopped
counting (the step budget, say) would then let the template through instead of being
covered by another limit firing first; the edge cases pin where each limit starts."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as dtime

import pytest
from jinja2.exceptions import SecurityError

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


# -- each limit's edge, one operation at a time ----------------------------------------------


# These messages name the default limits, fixed when the module was loaded.
TEXT = expressions._TEXT_TOO_LONG
ITEMS = expressions._TOO_MANY_ITEMS


def refused(template: str, message: str, scope: Scope | None = None) -> None:
    with pytest.raises(ExpressionError) as caught:
        render(template, scope or Scope())
    assert caught.value.message == message


def test_power_edge(only: Limit) -> None:
    """(bits of |base| - 1) * exponent may reach the limit, not pass it; ±1 and 0 never grow."""
    only(MAX_INT_BITS=64)
    assert render("{{ 2 ** 64 }}", Scope()) == 2**64
    assert render("{{ (-2) ** 63 }}", Scope()) == (-2) ** 63
    assert render("{{ 4 ** 32 }}", Scope()) == 4**32
    for template in ["{{ 2 ** 65 }}", "{{ (-2) ** 65 }}", "{{ 4 ** 33 }}"]:
        refused(template, "numbers are limited to 64 bits")
    assert render("{{ 1 ** 100000 }}", Scope()) == 1
    assert render("{{ (-1) ** 100001 }}", Scope()) == -1
    assert render("{{ 0 ** 100000 }}", Scope()) == 0
    assert render("{{ 2 ** -100000 }}", Scope()) == 0.0
    assert render("{{ 2.0 ** 100 }}", Scope()) == 2.0**100  # floats overflow, never grow


def test_product_of_numbers_edge(only: Limit) -> None:
    """Bit lengths of the factors added: 32 + 32 bits fit in 64, 33 + 32 do not."""
    only(MAX_INT_BITS=64)
    scope = Scope(trigger={"a": 2**31, "b": 2**32})
    assert render("{{ trigger.a * trigger.a }}", scope) == 2**62
    refused("{{ trigger.a * trigger.b }}", "numbers are limited to 64 bits", scope)
    refused("{{ trigger.b * trigger.a }}", "numbers are limited to 64 bits", scope)
    assert render("{{ trigger.b * 1.5 }}", scope) == 2**32 * 1.5


def test_repeated_text_edge(only: Limit) -> None:
    only(MAX_OUTPUT_CHARS=10)
    assert render("{{ 'ab' * 5 }}", Scope()) == "ababababab"
    assert render("{{ 5 * 'ab' }}", Scope()) == "ababababab"
    refused("{{ 'ab' * 6 }}", TEXT)
    refused("{{ 6 * 'ab' }}", TEXT)
    assert render("{{ 'ab' * -3 }}", Scope()) == ""


def test_repeated_list_edge(only: Limit) -> None:
    only(MAX_ITEMS=10)
    assert render("{{ [1, 2] * 5 }}", Scope()) == [1, 2] * 5
    assert render("{{ 5 * (1, 2) }}", Scope()) == [1, 2] * 5
    refused("{{ [1, 2] * 6 }}", ITEMS)
    refused("{{ 6 * (1, 2) }}", ITEMS)
    assert render("{{ [1, 2] * -10**9 }}", Scope()) == []


def test_joined_text_edge(only: Limit) -> None:
    only(MAX_OUTPUT_CHARS=10)
    assert render("{{ 'abcde' + 'fghij' }}", Scope()) == "abcdefghij"
    refused("{{ 'abcde' + 'fghijk' }}", TEXT)
    assert render("{{ 'abcde' ~ 'fghij' }}", Scope()) == "abcdefghij"
    refused("{{ 'abcde' ~ 'fghijk' }}", TEXT)
    assert render("{{ ['abcd', 'efgh'] | join('--') }}", Scope()) == "abcd--efgh"
    refused("{{ ['abcd', 'efghi'] | join('--') }}", TEXT)
    assert render("{{ 12345 ~ 67890 }}", Scope()) == "1234567890"
    refused("{{ 123456 ~ 67890 }}", TEXT)


def test_concatenated_lists_edge(only: Limit) -> None:
    only(MAX_ITEMS=4)
    assert render("{{ [1, 2] + [3, 4] }}", Scope()) == [1, 2, 3, 4]
    refused("{{ [1, 2] + [3, 4, 5] }}", ITEMS)
    refused("{{ (1, 2) + (3, 4, 5) }}", ITEMS)


def test_concatenated_list_size_edge(only: Limit) -> None:
    """Sizes: a list is 2 + one per item + its items; a text item is its length + 2."""
    only(MAX_NATIVE_SIZE=20)
    scope = Scope(trigger={"a": ["abcde"], "b": ["abcdef"]})  # 2 + 1 + 7 = 10 and 11
    assert render("{{ trigger.a + trigger.a }}", scope) == ["abcde", "abcde"]
    refused("{{ trigger.a + trigger.b }}", "the list would be larger than 20 characters", scope)


def test_sizes_of_values(only: Limit) -> None:
    """The measure every size limit uses, value by value."""
    only()
    size = expressions._size
    assert [size(v, 10**6) for v in ["", "abc", 0, 7, 8, 2**30, True, 1.5, None]] == [
        2, 5, 1, 2, 2, 11, 8, 8, 8,
    ]  # fmt: skip
    assert size([], 10**6) == 2 and size({}, 10**6) == 2
    assert size(["abc", 7], 10**6) == 2 + 2 + 5 + 2
    assert size({"abc": 7}, 10**6) == 2 + 5 + 2
    assert size(("a", ("b",)), 10**6) == 2 + 2 + 3 + (2 + 1 + 3)
    shared = ["x" * 100]
    assert size([shared, shared, shared], 10**6) == 2 + 3 + 3 * (2 + 1 + 102)
    assert size({"k": 1}.items(), 10**6) == 2 + 1 + (2 + 2 + 3 + 1)


def test_sizes_stop_past_the_limit(only: Limit) -> None:
    only()
    size = expressions._size
    assert size(["a" * 8], 13) == 13  # 2 + 1 + 10: exactly the limit is measured
    assert size(["a" * 9], 13) == 14  # one more: "past the limit" is limit + 1
    deep = ["a" * 100]
    for _ in range(50):
        deep = [deep, deep]  # 2^50 references of one text
    assert size(deep, 10**6) == 10**6 + 1


def test_text_of_values() -> None:
    as_text = expressions._as_text
    assert [as_text(v) for v in [None, True, False, 7, 1.5, "x"]] == [
        "", "true", "false", "7", "1.5", "x",
    ]  # fmt: skip
    assert as_text(["a", {"b": None}]) == '["a", {"b": null}]'
    assert as_text(("é",)) == '["é"]'
    assert as_text(iter([1, 2])) == "[1, 2]"
    assert as_text(datetime(2024, 1, 2, 3, 4, tzinfo=UTC)) == "2024-01-02T03:04:00+00:00"
    assert as_text(date(2024, 1, 2)) == "2024-01-02"
    assert as_text(dtime(3, 4)) == "03:04:00"


def test_text_of_a_value_edge(only: Limit) -> None:
    only(MAX_OUTPUT_CHARS=10)
    assert expressions._as_text(1234567890) == "1234567890"
    with pytest.raises(SecurityError) as caught:
        expressions._as_text(12345678901)
    assert caught.value.args == (TEXT,)
    assert expressions._as_text(["abcde"]) == '["abcde"]'  # measured 2 + 1 + 7
    with pytest.raises(SecurityError, match="^the text would be larger than 10 characters$"):
        expressions._as_text(["abcdef"])


def test_generated_items_edge(only: Limit) -> None:
    only(MAX_ITEMS=5)
    fits, over = Scope(trigger={"n": [1] * 5}), Scope(trigger={"n": [1] * 6})
    assert render("{{ trigger.n | map('abs') | join }}", fits) == "11111"
    refused("{{ trigger.n | map('abs') | join }}", ITEMS, over)
    assert render("{{ trigger.n | select | list }}", fits) == [1] * 5
    assert expressions._materialise([1] * 6) == [1] * 6  # only generators are counted


def test_replace_edge(only: Limit) -> None:
    only(MAX_OUTPUT_CHARS=10)
    assert render("{{ 'aaaaa' | replace('a', 'bb') }}", Scope()) == "b" * 10
    refused("{{ 'aaaaaa' | replace('a', 'bb') }}", TEXT)
    assert render("{{ 'aaaaaa' | replace('a', 'bb', 4) }}", Scope()) == "b" * 8 + "aa"
    refused("{{ 'aaaaaa' | replace('a', 'bb', 5) }}", TEXT)
    assert render("{{ 'abcd' | replace('', '-') }}", Scope()) == "-a-b-c-d-"
    refused("{{ 'abcde' | replace('', '-') }}", TEXT)
    assert render("{{ 'abcdefghij' | replace('abc', '') }}", Scope()) == "defghij"


def test_replace_with_a_negative_count_replaces_all() -> None:
    assert render("{{ 'aaa' | replace('a', 'b', -1) }}", Scope()) == "bbb"
    assert render("{{ 'aaa' | replace('a', 'b', 0) }}", Scope()) == "aaa"
    assert render("{{ 'aaa' | replace('a', 'b', 2) }}", Scope()) == "bba"


def test_round_and_tojson_bounds() -> None:
    assert render("{{ 1234.5678 | round(15) }}", Scope()) == 1234.5678
    assert render("{{ 1234.5678 | round(-15) }}", Scope()) == 0.0
    assert render("{{ 1234.5678 | round(-2) }}", Scope()) == 1200.0
    assert render("{{ 2.5 | round(0, 'ceil') }}", Scope()) == 3.0
    assert render("{{ 2.5 | round(0, 'floor') }}", Scope()) == 2.0
    for precision in [16, -16]:
        refused(f"{{{{ 1 | round({precision}) }}}}", "round precision must be between -15 and 15")
    assert render("{{ [1] | tojson(8) }}", Scope()) == "[\n        1\n]"
    assert render("{{ [1] | tojson(0) }}", Scope()) == "[\n1\n]"
    assert render("{{ {'a': 'é'} | tojson }}", Scope()) == '{"a": "é"}'
    for indent in [9, -1]:
        refused(f"{{{{ [1] | tojson({indent}) }}}}", "tojson indent must be between 0 and 8")


def test_tojson_size_edge(only: Limit) -> None:
    only(MAX_OUTPUT_CHARS=10)
    assert render("{{ ['abcde'] | tojson }}", Scope()) == '["abcde"]'
    refused("{{ ['abcdef'] | tojson }}", "the JSON would be larger than 10 characters")


def test_an_unknown_name_is_refused_with_the_closest_known_one_or_what_exists() -> None:
    refused("{{ trigge.text }}", "unknown variable 'trigge' — did you mean 'trigger'?")
    refused("{{ zzqxw }}", "unknown variable 'zzqxw' (expressions read trigger, node and context)")
    refused("{{ rnage(3) }}", "unknown variable 'rnage' — did you mean 'range'?")


def test_attributes_data_yes_methods_only_from_the_allow_lists() -> None:
    """A plain value's data attributes read; its methods do not, but for the loop's own
    helpers and the read-only methods listed for text, lists and dicts."""
    assert render("{{ now('UTC').year > 2000 }}", Scope()) is True
    refused("{{ now().replace(year=2000) }}", "'replace' is not available in expressions")
    assert render("{% for x in [1, 2] %}{{ loop.index }}{% endfor %}", Scope()) == "12"
    assert render("{% for x in [1, 2] %}{{ loop.cycle('a', 'b') }}{% endfor %}", Scope()) == "ab"
    assert render("{{ [1, 2, 1].count(1) }}", Scope()) == 2
    assert render("{{ (1, 2).index(2) }}", Scope()) == 1
    assert render("{{ {'a': 1}.get('a') }}", Scope()) == 1
    assert render("{{ 'ab'.upper() }}", Scope()) == "AB"
