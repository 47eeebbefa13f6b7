"""Sandboxed ``{{ }}`` interpolation for node parameters.

Flows are drawn by people who do not program, and their templates run inside the worker
with access to every event and node output, so the template language is Jinja's
``ImmutableSandboxedEnvironment`` narrowed further:

* names: only ``trigger``, ``node``, ``context`` and the globals ``range`` (capped) and
  ``now``; any other free name is refused when the template is compiled, so a typo is
  reported when the flow is saved, not when it runs;
* attributes: nothing starting with ``_``; on text, lists and dicts only a list of
  read-only methods; on other objects only plain (non-callable) attributes;
* no ``macro``, ``call``, ``block``, ``extends``, ``include``, ``import``, block ``set``,
  ``filter`` blocks or recursive loops: nothing that calls itself or captures output;
* a filter list of our own, every filter that builds text checking the size first;
* sizes: ``*``, ``+``, ``**``, ``~`` refuse results beyond the caps below before building
  them; output is counted while it streams; loops and calls share a step budget and a
  wall-clock deadline per render;
* structures: every list, tuple and dict a template builds (literal, filter or call
  result) is measured as built, counting a shared part each time it is referenced, and
  refused past MAX_NATIVE_SIZE. ``{% set a = [a, a] %}`` repeated is refused after a few
  steps, so no single comparison, sort, str() or JSON dump, which Python runs in C
  where neither the budget nor the deadline can stop it, can stall the process.

Anything that goes wrong raises :class:`ExpressionError` with a plain-English message.
"""

from __future__ import annotations

import contextvars
import difflib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MappingView
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from datetime import time as dtime
from functools import lru_cache
from itertools import chain, islice
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import (
    ChainableUndefined,
    Environment,
    StrictUndefined,
    Template,
    Undefined,
    nodes,
    pass_environment,
)
from jinja2 import filters as jf
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS as JINJA_TESTS
from jinja2.utils import missing

MAX_TEMPLATE_CHARS = 32_768
"""Longest template accepted (a long message text with a few expressions fits easily)."""
MAX_OUTPUT_CHARS = 65_536
"""Longest text a template may produce or build (64 KiB)."""
MAX_NATIVE_SIZE = 1_048_576
"""Largest value (in serialised characters) one ``{{ expr }}`` may return or build."""
MAX_ITEMS = 10_000
"""Most items ``range()`` or list arithmetic may produce."""
MAX_INT_BITS = 4_096
"""Largest integer arithmetic may produce (about 1,200 digits)."""
MAX_STEPS = 100_000
"""Loop iterations plus calls per render."""
MAX_RENDER_SECONDS = 1.0
"""Wall-clock budget per render."""

_TEXT_TOO_LONG = f"the text would be longer than {MAX_OUTPUT_CHARS:,} characters"
_TOO_MANY_ITEMS = f"a list may hold at most {MAX_ITEMS:,} items"
_VALUE_TOO_LARGE = (
    f"the value would be larger than the limit of {MAX_NATIVE_SIZE:,} characters "
    "(every use of a shared part counts)"
)

NAMESPACES = ("trigger", "node", "context")
_FORBIDDEN_NAMES = frozenset({"self"})  # Jinja's TemplateReference: never useful in a flow
_SINGLE_EXPRESSION = re.compile(r"\A\{\{.*\}\}\Z", re.DOTALL)

# Read-only methods templates may call; everything else on these types is refused.
_STR_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isdecimal",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "rfind",
        "rindex",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
    }
)
_MAPPING_METHODS = frozenset({"get", "keys", "values", "items"})
_SEQUENCE_METHODS = frozenset({"index", "count"})

# Constructs that call themselves, capture output or load other templates.
_FORBIDDEN_NODES: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.Block: "{% block %}",
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.AssignBlock: "{% set %}...{% endset %} (use {% set x = ... %})",
    nodes.FilterBlock: "{% filter %}",
    nodes.ScopedEvalContextModifier: "{% autoescape %}",
    nodes.EvalContextModifier: "{% autoescape %}",
}


class ExpressionError(ValueError):
    """A template that cannot be compiled or rendered, with the reason in plain English."""

    def __init__(self, message: str, expression: str = "", field: str | None = None) -> None:
        self.message = message
        self.expression = expression
        self.field = field
        super().__init__(message)

    def __str__(self) -> str:
        where = f"field '{self.field}': " if self.field else ""
        shown = _shorten(self.expression)
        return f"{where}{self.message} (in {shown!r})" if shown else f"{where}{self.message}"


@dataclass(frozen=True)
class Scope:
    """What templates can read: the trigger event, node outputs by node id, flow variables."""

    trigger: Mapping[str, Any] = field(default_factory=dict)
    node: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)

    def variables(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "node": self.node, "context": self.context}


# --------------------------------------------------------------------------- budget


@dataclass
class _Budget:
    """Per-render limits, shared by loops and calls (a ContextVar keeps renders apart)."""

    variables: Mapping[str, Any]
    steps_left: int = MAX_STEPS
    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_RENDER_SECONDS)
    # Sizes of the containers measured in this render, by id (the entry keeps the object
    # alive, so the id is not reused): [a, a] costs two look-ups, not a walk of a twice.
    sizes: dict[int, tuple[Any, int, bool]] = field(default_factory=dict)

    def charge(self) -> None:
        self.steps_left -= 1
        if self.steps_left < 0:
            raise SecurityError(f"the template does too much work (more than {MAX_STEPS} steps)")
        if time.monotonic() > self.deadline:
            raise SecurityError(f"the template took longer than {MAX_RENDER_SECONDS:g} s")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "flowbot_expression_budget", default=None
)


def _charge() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.charge()


# --------------------------------------------------------------------------- sizes and text


_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
_SCALARS = frozenset({bool, float, type(None)})


def _leaf_size(item: Any) -> int:
    """Serialised size of a value that holds no others; -1 for a container."""
    kind = type(item)  # exact types first: this runs for every item measured
    if kind is str:
        return len(item) + 2
    if kind is int:
        return cast(int, item).bit_length() // 3 + 1
    if kind in _CONTAINERS:
        return -1
    if kind in _SCALARS:
        return 8
    if isinstance(item, str):
        return len(item) + 2
    if isinstance(item, list | tuple | set | frozenset | Mapping | MappingView):
        return -1  # dict views too: str() of one prints the whole dict
    if isinstance(item, int) and not isinstance(item, bool):
        return item.bit_length() // 3 + 1
    return 8


_MEMO_FROM = 64  # smaller containers are cheaper to walk again than to remember


def _open(container: Any) -> list[Any]:
    """A container's size of its own and what it holds: [node, children, total so far]."""
    if isinstance(container, Mapping):
        return [container, chain.from_iterable(container.items()), 2]
    return [container, iter(container), 2 + len(container)]


def _size(value: Any, limit: int) -> int:
    """Serialised size of value, counting shared references each time; stops past limit.

    Counting every reference is what makes ``{% set a = [a, a] %}`` repeated visible as
    the 2^n it is when compared, printed or serialised. The walk is iterative, stops as
    soon as the total passes ``limit`` (a cycle does too), and remembers the size of each
    container that is not tiny for the rest of the render, so a shared part is walked
    once however often it is referenced: the cost is bounded by ``limit``.
    """
    leaf = _leaf_size(value)
    if leaf >= 0:
        return leaf
    budget = _BUDGET.get()
    memo = budget.sizes if budget is not None else {}
    stack = [_open(value)]
    while stack:
        frame = stack[-1]
        for child in frame[1]:
            size = _leaf_size(child)
            if size < 0:
                known = memo.get(id(child))
                if known is None or not (known[2] or known[1] > limit):
                    stack.append(_open(child))
                    break
                size = known[1]
            frame[2] += size
            if frame[2] > limit:
                return _over_limit(stack, memo, limit)
        else:
            stack.pop()
            total = frame[2]
            if total >= _MEMO_FROM:
                memo[id(frame[0])] = (frame[0], total, True)
            if not stack:
                return int(total)
            stack[-1][2] += total
            if stack[-1][2] > limit:
                return _over_limit(stack, memo, limit)
    raise AssertionError("unreachable")  # pragma: no cover


def _over_limit(stack: list[list[Any]], memo: dict[int, tuple[Any, int, bool]], limit: int) -> int:
    """Every container still open holds the part that went past limit: remember them as
    'more than limit' (a lower bound, so a later, larger limit measures them again)."""
    for frame in stack:
        memo[id(frame[0])] = (frame[0], limit + 1, False)
    return limit + 1


def _check_size(value: Any, limit: int, what: str) -> None:
    if _size(value, limit) > limit:
        raise SecurityError(f"{what} would be larger than {limit:,} characters")


def _materialise(value: Any) -> Any:
    """Generators (from map, select...) become lists, bounded like any built list."""
    if isinstance(value, Iterator):
        items = list(islice(value, MAX_ITEMS + 1))
        if len(items) > MAX_ITEMS:
            raise SecurityError(_TOO_MANY_ITEMS)
        return items
    return value


def _bounded(value: Any) -> Any:
    """A value a template just built (literal, filter or call result), refused if too large.

    Every list, tuple and dict a template can make passes here, so none exceeds
    MAX_NATIVE_SIZE counting shared parts each time they are referenced. That bounds the
    work of every operation Python then does in C without a chance to stop it: ``==``,
    ``<``, ``in``, ``sort``, hashing, str(), JSON. Generators (map, select...) become
    lists first, so what they would yield is measured too.
    """
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Iterator) and not isinstance(value, LoopContext):
        value = list(value)
    if _size(value, MAX_NATIVE_SIZE) > MAX_NATIVE_SIZE:
        raise SecurityError(_VALUE_TOO_LARGE)
    return value


def _as_text(value: Any) -> str:
    """How a value reads inside text: null as nothing, lists and dicts as JSON.

    Flow authors see JSON everywhere else (the debugger, the data panel), so
    ``{{ trigger.args }}`` reads ``["a", "b"]``, not Python's ``['a', 'b']``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        return str(value)  # "" when lenient; StrictUndefined raises with our message
    value = _materialise(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        _check_size(value, MAX_OUTPUT_CHARS, "the text")
        return json.dumps(_to_native(value, strict=False), ensure_ascii=False, default=str)
    text = str(value)
    if len(text) > MAX_OUTPUT_CHARS:
        raise SecurityError(_TEXT_TOO_LONG)
    return text


def _join_text(parts: Iterable[Any], separator: str = "") -> str:
    """Join values as text, refusing before the result grows past the cap."""
    texts: list[str] = []
    total = 0
    for part in parts:
        text = _as_text(part)
        total += len(text) + (len(separator) if texts else 0)
        if total > MAX_OUTPUT_CHARS:
            raise SecurityError(_TEXT_TOO_LONG)
        texts.append(text)
    return separator.join(texts)


def _to_native(value: Any, strict: bool) -> Any:
    """A rendered value as plain data: JSON types, undefined as None, dates as ISO text."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Undefined):
        if strict:
            raise SecurityError(_describe_missing(value))
        return None
    value = _materialise(value)
    if isinstance(value, Mapping):
        return {key: _to_native(val, strict) for key, val in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_to_native(item, strict) for item in value]
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    if callable(value):
        raise SecurityError("the expression is a function, not a value: call it or pick a field")
    return str(value)


# --------------------------------------------------------------------------- undefined values


def _describe_missing(undefined: Undefined) -> str:
    """'unknown variable 'trigger.usr' — did you mean 'trigger.user'?' where we can tell."""
    obj, name = undefined._undefined_obj, undefined._undefined_name
    budget = _BUDGET.get()
    variables = budget.variables if budget else {}
    if obj is missing:
        path, options = "", [*variables, *_GLOBALS]
    else:
        path = _path_of(obj, variables) or ""
        options = [str(key) for key in obj] if isinstance(obj, Mapping) else []
    full = _join_path(path, name) if path else str(name)
    close = difflib.get_close_matches(str(name), options, n=1)
    hint = f" — did you mean '{_join_path(path, close[0]) if path else close[0]}'?" if close else ""
    return f"unknown variable '{full}'{hint}"


def _join_path(path: str, key: Any) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"


def _path_of(target: Any, variables: Mapping[str, Any], limit: int = 10_000) -> str | None:
    """Where target sits in the scope (by identity), e.g. 'trigger.chat'; bounded search."""
    queue: list[tuple[str, Any]] = list(variables.items())
    index = 0
    while index < min(len(queue), limit):
        path, value = queue[index]
        index += 1
        if value is target:
            return path
        if isinstance(value, Mapping):
            queue.extend((_join_path(path, key), val) for key, val in value.items())
        elif isinstance(value, list | tuple):
            queue.extend((_join_path(path, i), val) for i, val in enumerate(value))
    return None


class _LenientUndefined(ChainableUndefined):
    """Missing fields render as nothing, however deep (``trigger.missing.deeper``)."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        return self._undefined_hint or _describe_missing(self)


class _StrictUndefined(StrictUndefined):
    """For the debugger: the first use of a missing field is an error naming it."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        return self._undefined_hint or _describe_missing(self)


# --------------------------------------------------------------------------- filters and globals


def _safe_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_ITEMS:
        raise SecurityError(f"range() is limited to {MAX_ITEMS:,} items")
    return values


def _now(tz: str | None = None) -> datetime:
    return datetime.now(_zone(tz))


def _zone(tz: str | None) -> tzinfo:
    if not tz:
        return UTC
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise SecurityError(f"unknown time zone '{tz}'") from None


def _to_datetime(value: Any) -> datetime:
    """ISO text, datetimes, dates or epoch numbers; naive values are taken as UTC.

    Numbers above 10^11 are read as milliseconds (Discord and JavaScript send those):
    10^11 seconds is the year 5138, 10^11 ms is 1973.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value
        moment = datetime.fromtimestamp(seconds, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise SecurityError(f"'{_shorten(value)}' is not a date") from None
    else:
        raise SecurityError(f"a {type(value).__name__} is not a date")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date_filter(default_format: str) -> Callable[..., str]:
    """``date``/``datetime``: a value shown in its own zone, or converted to ``tz`` if given."""

    def render_date(value: Any, fmt: str = default_format, tz: str | None = None) -> str:
        if value is None or isinstance(value, Undefined):
            return _as_text(value)
        moment = _to_datetime(value)
        return (moment.astimezone(_zone(tz)) if tz else moment).strftime(str(fmt))

    return render_date


def _tojson(value: Any, indent: int | None = None) -> str:
    if indent is not None and not 0 <= indent <= 8:
        raise SecurityError("tojson indent must be between 0 and 8")
    _check_size(value, MAX_OUTPUT_CHARS, "the JSON")
    return json.dumps(_to_native(value, strict=False), ensure_ascii=False, indent=indent)


def _fromjson(value: Any) -> Any:
    try:
        return json.loads(_as_text(value))
    except ValueError as exc:
        raise SecurityError(f"not valid JSON: {exc}") from None


def _replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    text, old, new = _as_text(value), _as_text(old), _as_text(new)
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new) - len(old)) > MAX_OUTPUT_CHARS:
        raise SecurityError(_TEXT_TOO_LONG)
    return text.replace(old, new, -1 if count is None else count)


def _pick(env: Environment, value: Any, attribute: str | int | None) -> list[Any]:
    """The items of value, or their ``attribute`` (dotted paths allowed) when given."""
    items = _materialise(iter(value))
    return items if attribute is None else list(map(jf.make_attrgetter(env, attribute), items))


@pass_environment
def _join(env: Environment, value: Any, sep: str = "", attribute: str | int | None = None) -> str:
    return _join_text(_pick(env, value, attribute), _as_text(sep))


@pass_environment
def _truncate(
    env: Environment, value: Any, length: int = 255, killwords: bool = False, end: str = "..."
) -> str:
    return jf.do_truncate(env, _as_text(value), length, killwords, end)


def _round(
    value: Any, precision: int = 0, method: Literal["common", "ceil", "floor"] = "common"
) -> float:
    if not -15 <= precision <= 15:
        raise SecurityError("round precision must be between -15 and 15")
    return jf.do_round(value, precision, method)


@pass_environment
def _sum(
    env: Environment, value: Any, attribute: str | int | None = None, start: float = 0
) -> float:
    """Numbers only: Jinja's sum would also add lists, growing them without a check."""
    items = _pick(env, value, attribute)
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in [start, *items]):
        raise SecurityError("sum adds numbers only")
    return sum(items, start)


def _text_filter(method: Callable[[str], str]) -> Callable[[Any], str]:
    return lambda value: method(_as_text(value))


_FILTERS: dict[str, Callable[..., Any]] = {
    # text
    "upper": _text_filter(str.upper),
    "lower": _text_filter(str.lower),
    "title": _text_filter(str.title),
    "capitalize": _text_filter(str.capitalize),
    "trim": lambda value, chars=None: _as_text(value).strip(chars),
    "string": _as_text,
    "replace": _replace,
    "truncate": _truncate,
    "join": _join,
    "wordcount": lambda value: len(_as_text(value).split()),
    "urlencode": lambda value: jf.do_urlencode(
        value if isinstance(value, Mapping) else _as_text(value)
    ),
    # values
    "default": jf.do_default,
    "d": jf.do_default,
    "length": len,
    "count": len,
    "first": jf.do_first,
    "last": jf.do_last,
    "int": jf.do_int,
    "float": jf.do_float,
    "abs": abs,
    "round": _round,
    "sum": _sum,
    "min": jf.do_min,
    "max": jf.do_max,
    "list": jf.do_list,
    "sort": jf.do_sort,
    "unique": jf.do_unique,
    "reverse": jf.do_reverse,
    "map": jf.do_map,
    "select": jf.do_select,
    "reject": jf.do_reject,
    "selectattr": jf.do_selectattr,
    "rejectattr": jf.do_rejectattr,
    "items": jf.do_items,
    # data and dates
    "tojson": _tojson,
    "fromjson": _fromjson,
    "date": _date_filter("%Y-%m-%d"),
    "datetime": _date_filter("%Y-%m-%d %H:%M"),
}
# Jinja's tests minus those that turn any value into text (lower, upper, escaped).
_TESTS = {
    name: test for name, test in JINJA_TESTS.items() if name not in {"lower", "upper", "escaped"}
}
_GLOBALS: dict[str, Any] = {"range": _safe_range, "now": _now}


# --------------------------------------------------------------------------- the environment


class _CodeGenerator(CodeGenerator):
    """Routes ``~``, every ``for`` loop, literal and filter through the environment's checks."""

    def _bounded(self, visit: Callable[[Any, Frame], None], node: nodes.Expr, frame: Frame) -> None:
        self.write("environment.bounded(")
        visit(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._bounded(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._bounded(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # an assignment target: ``{% for k, v in ... %}``
            super().visit_Tuple(node, frame)
        else:
            self._bounded(super().visit_Tuple, node, frame)

    def visit_Filter(self, node: nodes.Filter, frame: Frame) -> None:
        self._bounded(super().visit_Filter, node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat_checked((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("iterate_checked"),
            [node.iter],
            [],
            None,
            None,
            lineno=node.lineno,
        )
        super().visit_For(node, frame)


class _Environment(ImmutableSandboxedEnvironment):
    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, undefined: type[Undefined]) -> None:
        super().__init__(
            undefined=undefined,
            autoescape=False,
            keep_trailing_newline=True,  # a message's last line break is the author's
            finalize=_as_text,
        )
        self.filters = dict(_FILTERS)
        self.tests = dict(_TESTS)
        self.globals = dict(_GLOBALS)

    # Attribute access: data first, then a short allow-list of methods.

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Undefined) and not attribute.startswith("_"):
            return getattr(obj, attribute)  # lenient: chains to nothing; strict: names the gap
        # ``trigger.data.items`` is the key "items" when there is one, not dict.items.
        if isinstance(obj, Mapping) and not attribute.startswith("_"):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, str):
            return attr in _STR_METHODS
        if isinstance(obj, Mapping):
            return attr in _MAPPING_METHODS
        if isinstance(obj, list | tuple):
            return attr in _SEQUENCE_METHODS
        return isinstance(obj, LoopContext) or not callable(value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(f"'{attribute}' is not available in expressions")

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format is not on the allow-list at all

    # Calls, loops and operators: budgeted and size-checked.

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _charge()
        result = super().call(__context, __obj, *args, **kwargs)
        # A for loop's own iterator stays lazy: it charges each item as it goes.
        return result if __obj is __self.iterate_checked else _bounded(result)

    bounded = staticmethod(_bounded)

    @staticmethod
    def iterate_checked(iterable: Any) -> Iterator[Any]:
        for item in iterable:
            _charge()
            yield item

    @staticmethod
    def concat_checked(parts: tuple[Any, ...]) -> str:
        return _join_text(parts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_product(left, right)
        elif operator == "+":
            _check_sum(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            raise SecurityError("'%' formatting of text is not available; use ~ to join text")
        return super().call_binop(context, operator, left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_sequence(value: Any, length: int, size: int) -> None:
    if isinstance(value, str):
        if length > MAX_OUTPUT_CHARS:
            raise SecurityError(_TEXT_TOO_LONG)
    elif length > MAX_ITEMS:
        raise SecurityError(_TOO_MANY_ITEMS)
    elif size > MAX_NATIVE_SIZE:
        raise SecurityError(f"the list would be larger than {MAX_NATIVE_SIZE:,} characters")


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and isinstance(right, str | list | tuple):
        left, right = right, left
    if isinstance(left, str | list | tuple) and _is_int(right):
        times = max(right, 0)
        _check_sequence(left, len(left) * times, _size(left, MAX_NATIVE_SIZE) * times)
    elif _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise SecurityError(f"numbers are limited to {MAX_INT_BITS} bits")


def _check_sum(left: Any, right: Any) -> None:
    if isinstance(left, str | list | tuple) and type(left) is type(right):
        size = _size(left, MAX_NATIVE_SIZE) + _size(right, MAX_NATIVE_SIZE)
        _check_sequence(left, len(left) + len(right), size)


def _check_power(base: Any, exponent: Any) -> None:
    if (
        _is_int(base)
        and _is_int(exponent)
        and abs(base) > 1
        and exponent > 0
        and (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS
    ):
        raise SecurityError(f"numbers are limited to {MAX_INT_BITS} bits")


_ENVS = {
    strict: _Environment(_StrictUndefined if strict else _LenientUndefined)
    for strict in (False, True)
}


# --------------------------------------------------------------------------- compiling


@dataclass(frozen=True)
class _Compiled:
    """A template compiled once: an expression (native value) or a text template."""

    expression: TemplateExpression | None = None
    template: Template | None = None


def _parse(source: str, env: _Environment, names: frozenset[str] = frozenset()) -> nodes.Template:
    """Parse and enforce the static rules: size, allowed constructs, known names.

    ``names`` are the extra values a field's template may read besides the namespaces
    (see :func:`render`)."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise SecurityError(f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters")
    ast = env.parse(source)
    for node in ast.find_all((nodes.Node,)):
        construct = _FORBIDDEN_NODES.get(type(node))
        if construct:
            raise SecurityError(f"{construct} is not available in expressions")
        if isinstance(node, nodes.For) and node.recursive:
            raise SecurityError("recursive loops are not available in expressions")
        if isinstance(node, nodes.Name) and node.name in _FORBIDDEN_NAMES:
            raise SecurityError(f"'{node.name}' is not available in expressions")
    known = {*NAMESPACES, *_GLOBALS, *names}
    for name in sorted(find_undeclared_variables(ast) - known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = (
            f" — did you mean '{close[0]}'?"
            if close
            else " (expressions read trigger, node and context)"
        )
        raise SecurityError(f"unknown variable '{name}'{hint}")
    return ast


@lru_cache(maxsize=4096)
def _compile(source: str, strict: bool, names: frozenset[str] = frozenset()) -> _Compiled:
    env = _ENVS[strict]
    ast = _parse(source, env, names)
    body = ast.body
    if (
        len(body) == 1
        and isinstance(body[0], nodes.Output)
        and len(body[0].nodes) == 1
        and not isinstance(body[0].nodes[0], nodes.TemplateData)
        and _SINGLE_EXPRESSION.match(source)
    ):
        # Exactly one {{ expr }}: evaluate it as Jinja's compile_expression does, so the
        # value keeps its type (list, dict, int) instead of becoming text.
        assign = nodes.Assign(nodes.Name("result", "store"), body[0].nodes[0], lineno=1)
        template = env.from_string(nodes.Template([assign], lineno=1))
        return _Compiled(expression=TemplateExpression(template, undefined_to_none=False))
    return _Compiled(template=env.from_string(ast))


def _has_markers(text: str) -> bool:
    """Whether ``text`` holds ``{{``, ``{%`` or ``{#`` (one scan when it has no brace)."""
    return "{" in text and ("{{" in text or "{%" in text or "{#" in text)


def has_expression(text: Any) -> bool:
    """Whether a value is text containing template syntax (else it is used as is)."""
    return isinstance(text, str) and _has_markers(text)


# --------------------------------------------------------------------------- public API


def render(
    template: str, scope: Scope, *, strict: bool = False, names: Mapping[str, Any] | None = None
) -> Any:
    """Render a template against a scope.

    A template that is exactly one ``{{ expr }}`` returns the expression's value as
    plain data (list, dict, int, None for a missing field); anything else returns text,
    in which missing fields read as nothing. ``strict`` (the debugger) makes any missing
    field an error instead.

    ``names`` are extra values the template may read by name, such as the message
    ``text`` of a cross-post format. They are data: whatever they hold (a chat message
    saying ``{{ 7*7 }}``) is substituted as is and never rendered itself.
    """
    if not _has_markers(template):
        return template
    variables = scope.variables()
    if names:
        clash = set(names) & {*variables, *_GLOBALS}
        if clash:
            raise ValueError(f"extra names may not hide {sorted(clash)}")
        variables.update(names)
    token = _BUDGET.set(_Budget(variables))
    try:
        compiled = _compile(template, strict, frozenset(names or ()))
        if compiled.expression is not None:
            value = compiled.expression(**variables)
            # Measured before it is copied: a copy of shared parts would be the bomb itself.
            _check_size(value, MAX_NATIVE_SIZE, "the value")
            value = _to_native(value, strict)
            _check_size(value, MAX_NATIVE_SIZE, "the value")
            return value
        assert compiled.template is not None
        return _stream(compiled.template, variables)
    except ExpressionError:
        raise
    except Exception as exc:  # the contract: any failure of user code is an ExpressionError
        raise ExpressionError(_explain(exc), template) from None
    finally:
        _BUDGET.reset(token)


def _stream(template: Template, variables: Mapping[str, Any]) -> str:
    """Render, counting output as it is produced so a loop cannot build a huge string."""
    parts: list[str] = []
    total = 0
    for part in template.generate(**variables):
        total += len(part)
        if total > MAX_OUTPUT_CHARS:
            raise SecurityError(f"the output is longer than {MAX_OUTPUT_CHARS:,} characters")
        parts.append(part)
    return "".join(parts)


def render_text(template: str, scope: Scope, *, names: Mapping[str, Any] | None = None) -> str:
    """Render a template whose result is text whatever it holds (a message format): a lone
    ``{{ expr }}`` reads as it would inside text (a list as JSON, nothing as '')."""
    value = render(template, scope, names=names)
    if isinstance(value, str):
        return value
    try:
        return _as_text(value)
    except Exception as exc:
        raise ExpressionError(_explain(exc), template) from None


def render_params(params: Any, scope: Scope, *, strict: bool = False, _path: str = "") -> Any:
    """Render every string inside params (dicts and lists, recursively); keys stay as they are.

    Errors name the field they come from (``field`` on the ExpressionError).
    """
    kind = type(params)
    if kind in _SCALARS or kind is int:  # most params: nothing to render, nothing to walk
        return params
    if kind is str or isinstance(params, str):
        if not _has_markers(params):
            return params
        try:
            return render(params, scope, strict=strict)
        except ExpressionError as exc:
            raise ExpressionError(exc.message, exc.expression, _path or None) from None
    if kind is dict or isinstance(params, Mapping):
        return {
            key: render_params(value, scope, strict=strict, _path=_field_path(_path, key))
            for key, value in params.items()
        }
    if isinstance(params, list | tuple):
        return [
            render_params(value, scope, strict=strict, _path=f"{_path}[{i}]")
            for i, value in enumerate(params)
        ]
    return params


def _field_path(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def check_syntax(template: str, names: Iterable[str] = ()) -> str | None:
    """Why a template cannot compile (syntax, forbidden construct, unknown name), or None.

    ``names``: the extra names the field's template may read (see :func:`render`)."""
    if not isinstance(template, str) or not _has_markers(template):
        return None
    try:
        _compile(template, False, frozenset(names))
    except Exception as exc:
        return _explain(exc)
    return None


def referenced_names(template: str, names: Iterable[str] = ()) -> set[str]:
    """The data paths a template reads, e.g. {'trigger.user.id', 'node.send1', 'context.n'}.

    Each path is the longest constant chain of ``.field`` / ``[key]`` from a namespace;
    the editor uses them to suggest fields and validation to spot references to
    missing nodes. Raises ExpressionError when the template does not compile.
    """
    if not _has_markers(template):
        return set()
    return set(_referenced(template, frozenset(names)))


@lru_cache(maxsize=4096)
def _referenced(template: str, extra: frozenset[str]) -> frozenset[str]:
    """Parsed once per text: validating a flow re-reads every field on each edit (the
    editor validates after every change), and parsing is most of that time."""
    try:
        ast = _parse(template, _ENVS[False], extra)
    except Exception as exc:
        raise ExpressionError(_explain(exc), template) from None
    roots = find_undeclared_variables(ast) - set(_GLOBALS) - extra
    found: set[str] = set()
    _collect_paths(ast, roots, found)
    return frozenset(found)


def _chain(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _chain(node.node)
        return None if base is None else f"{base}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = _chain(node.node)
        key = node.arg.value
        return None if base is None or not isinstance(key, str | int) else _join_path(base, key)
    return None


def _collect_paths(node: nodes.Node, roots: set[str], found: set[str]) -> None:
    path = _chain(node)
    if path is not None:
        if re.split(r"[.\[]", path, maxsplit=1)[0] in roots:
            found.add(path)
        return
    for child in node.iter_child_nodes():
        _collect_paths(child, roots, found)


def _explain(exc: BaseException) -> str:
    """A plain-English message for whatever went wrong inside a template."""
    if isinstance(exc, TemplateSyntaxError):
        return f"syntax error on line {exc.lineno}: {exc.message}"
    if isinstance(exc, RecursionError):
        return "the template is nested too deeply"
    if isinstance(exc, MemoryError):
        return "the template needs too much memory"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message)


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
