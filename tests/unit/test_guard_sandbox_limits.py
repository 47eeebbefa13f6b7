"""Each expression sandbox limit on its own: every other limit is lifted out of reach, the
one under test is set low, and the error must name that limit. A limit that stopped
counting (the step budget, say) would then let the template through instead of being
covered by another limit firing first; the edge cases pin where each limit starts."""

from __future__ import annotations

import functools
import gc
import sys
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from datetime import time as dtime
from enum import IntEnum, StrEnum

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


# -- what the size measure remembers within a render, and the rarer value types ---------------


class Tracked(list[str]):
    """A list that counts how often it is walked (and, unlike a list, can be weakly held)."""

    walks = 0

    def __iter__(self) -> Iterator[str]:
        self.walks += 1
        return super().__iter__()


@contextmanager
def one_render() -> Iterator[expressions._Budget]:
    """The budget a render measures under, so sizes are remembered as in a template."""
    budget = expressions._Budget(variables={})
    token = expressions._BUDGET.set(budget)
    try:
        yield budget
    finally:
        expressions._BUDGET.reset(token)


class Level(IntEnum):
    LOW = 8
    HIGH = 2**29


class Colour(StrEnum):
    RED = "red"


def test_sizes_of_subclasses_and_other_values() -> None:
    """Subclasses (enums from connectors) measure like their base; any other leaf is 8."""
    size = expressions._size
    assert [size(v, 10**6) for v in [Level.LOW, Level.HIGH, 8, 2**29]] == [2, 11, 2, 11]
    assert size(Colour.RED, 10**6) == 5 == size([Colour.RED], 10**6) - 3
    assert size(datetime(2024, 1, 2, tzinfo=UTC), 10**6) == 8
    assert size([date(2024, 1, 2), dtime(3, 4)], 10**6) == 2 + 2 + 8 + 8
    assert size(OrderedDict(a=[1]), 10**6) == 2 + 3 + (2 + 1 + 1)
    assert size([{"a": 1}.values()], 10**6) == 2 + 1 + (2 + 1 + 1)


def test_a_container_finishing_at_the_limit_fits_one_past_it_does_not(only: Limit) -> None:
    """The check after a nested container is added: [['a' * 8]] measures 3 + 13 = 16."""
    only()
    size = expressions._size
    assert size([["a" * 8]], 16) == 16
    assert size([["a" * 8]], 15) == 16
    assert size({"k": ["a" * 8]}, 17) == 2 + 3 + 13


def test_a_part_measured_once_per_render_from_64_characters() -> None:
    """A shared part of 64 characters or more is walked once in a render, however often it
    is referenced or measured; a smaller one is walked again (cheaper than remembering)."""
    size = expressions._size
    with one_render():
        big = Tracked(["a" * 59])  # 2 + 1 + 61 = 64
        assert size([big, big, big], 10**6) == 2 + 3 + 3 * 64
        assert size([big], 10**6) == 3 + 64
        assert big.walks == 1
        small = Tracked(["a" * 58])
        assert size([small, small], 10**6) == 2 + 2 + 2 * 63
        assert small.walks == 2
    fresh = Tracked(["a" * 59])
    size([fresh, fresh], 10**6)
    size([fresh], 10**6)
    assert fresh.walks == 2  # outside a render nothing is kept between measures


def test_a_part_past_the_limit_is_not_walked_again_for_that_limit_but_is_for_a_larger_one() -> None:
    size = expressions._size
    with one_render():
        part = Tracked(["a" * 100])  # 2 + 1 + 102 = 105
        assert size([part], 50) == 51
        assert size([part], 50) == 51
        assert size({"k": part}, 50) == 51
        assert part.walks == 1
        assert size([part], 10**6) == 3 + 105  # "more than 50" is no size for a larger limit
        assert part.walks == 2


def test_what_a_render_remembers_keeps_the_value_alive() -> None:
    """The memo is keyed by id(): the entry must hold the container itself, or a new value
    could take the id of a collected one and inherit its size."""
    size = expressions._size
    with one_render() as budget:
        measured, over = Tracked(["a" * 100]), Tracked(["a" * 100])
        size([measured], 10**6)
        size([over], 50)
        watched = [weakref.ref(measured), weakref.ref(over)]
        assert budget.sizes[id(measured)][0] is measured
        assert budget.sizes[id(over)][0] is over
        del measured, over
        gc.collect()
        assert all(ref() is not None for ref in watched)


def test_a_generator_is_read_one_item_past_the_limit_and_no_further(only: Limit) -> None:
    only(MAX_ITEMS=5)
    read: list[int] = []
    long = (read.append(i) or i for i in range(1000))
    with pytest.raises(SecurityError):
        expressions._materialise(long)
    assert len(read) == 6


def test_a_built_value_at_the_size_limit_fits(only: Limit) -> None:
    """A list literal of exactly the limit passes; text and numbers from filters and calls
    are held to the text and number limits, not to the value size limit."""
    only(MAX_NATIVE_SIZE=13)
    assert render("{{ [trigger.s] }}", Scope(trigger={"s": "a" * 8})) == ["a" * 8]
    refused("{{ [trigger.s] }}", expressions._VALUE_TOO_LARGE, Scope(trigger={"s": "a" * 9}))
    scope = Scope(trigger={"s": "a" * 20})
    assert render("{{ trigger.s | upper | length }}", scope) == 20
    assert render("{{ trigger.s.upper() | length }}", scope) == 20


def test_a_generator_from_a_filter_can_be_used_twice() -> None:
    """A filter's generator is made a list when built, so a variable holding it reads the
    same each time it is used."""
    template = "{% set g = trigger.n | map('abs') %}{{ g | join }}/{{ g | join }}"
    assert render(template, Scope(trigger={"n": [-1, 2]})) == "12/12"


def test_a_call_result_is_held_to_the_value_size_limit(only: Limit) -> None:
    only(MAX_NATIVE_SIZE=20)
    scope = Scope(trigger={"s": ",".join("abc" * 3)})
    assert render("{{ trigger.s.split(',') | length }}", Scope(trigger={"s": "a,b"})) == 2
    refused("{{ trigger.s.split(',') | length }}", expressions._VALUE_TOO_LARGE, scope)


def test_a_loop_reads_its_items_as_it_goes(only: Limit) -> None:
    """The loop's iterator is not made a list first: an error in the first pass of the body
    is the one reported, not the step budget the whole range would exceed."""
    only(MAX_STEPS=100)
    refused(
        "{% for i in range(500) %}{{ now().replace(year=2000) }}{% endfor %}",
        "'replace' is not available in expressions",
    )


def test_a_global_called_with_keywords() -> None:
    assert render("{{ now(tz='Asia/Tokyo').tzinfo.key }}", Scope()) == "Asia/Tokyo"


def test_missing_fields_inside_a_list_read_as_null_in_text() -> None:
    scope = Scope(trigger={"a": 1})
    assert render("x{{ [trigger.a, trigger.missing] }}", scope) == "x[1, null]"
    assert render("{{ [trigger.a, trigger.missing] | tojson }}", scope) == "[1, null]"


def test_repeating_a_long_text_zero_times(only: Limit) -> None:
    """A text from the trigger may be longer than the limit; repeated 0 times it is empty."""
    only(MAX_OUTPUT_CHARS=10)
    scope = Scope(trigger={"s": "a" * 11})
    assert render("{{ trigger.s * 0 }}", scope) == ""
    assert render("{{ -1 * trigger.s }}", scope) == ""


def test_a_power_of_one_over_the_limit(only: Limit) -> None:
    """x ** 1 is x: a number already past the limit (from the trigger) is refused."""
    only(MAX_INT_BITS=64)
    assert render("{{ trigger.n ** 1 }}", Scope(trigger={"n": 2**64})) == 2**64
    refused("{{ trigger.n ** 1 }}", "numbers are limited to 64 bits", Scope(trigger={"n": 2**65}))


def test_replace_edges_with_no_count_and_an_empty_old_text(only: Limit) -> None:
    only(MAX_OUTPUT_CHARS=9)
    assert render("{{ 'abcd' | replace('', '-') }}", Scope()) == "-a-b-c-d-"  # 4 + 5
    assert render("{{ 'aaaaaaa' | replace('a', 'bb', 0) }}", Scope()) == "aaaaaaa"
    assert render("{{ 'aaaaaaa' | replace('a', 'bb', 1) }}", Scope()) == "bbaaaaaa"


def test_round_defaults_to_whole_numbers() -> None:
    assert render("{{ trigger.x | round }}", Scope(trigger={"x": 2.46})) == 2.0


def test_jinjas_own_refusals_still_apply_to_plain_values() -> None:
    """A generator's or a frame's internals are not callables, so only Jinja's check (run
    before the allow-lists) refuses them."""
    env = expressions._ENVS[False]
    generator = (i for i in range(1))
    frame = sys._getframe()
    assert not env.is_safe_attribute(generator, "gi_frame", generator.gi_frame)
    assert not env.is_safe_attribute(generator, "gi_code", generator.gi_code)
    assert not env.is_safe_attribute(frame, "f_globals", frame.f_globals)
    assert env.is_safe_attribute(range(3), "stop", 3)
