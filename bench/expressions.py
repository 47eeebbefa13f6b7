"""Template rendering benchmark: ordinary expressions, and how fast bombs are refused.

    python -m bench.expressions

Prints the best time per render of the expressions a flow typically holds (the size
checks run on every list, dict, filter and call a template builds, so this is where
they would show), then the CPU time until each sharing bomb of issue 8 is refused.
"""

from __future__ import annotations

import time
import timeit

from engine.expressions import ExpressionError, Scope, render

SCOPE = Scope(
    trigger={
        "text": "hello world",
        "user": {"id": 42, "display_name": "Ann", "roles": ["a", "b", "c"]},
        "chat": {"id": 7},
        "args": ["x", "y", "z"],
        "items": [{"n": i, "tag": f"t{i}"} for i in range(50)],
    },
    node={"n1": {"ok": True, "count": 3}},
    context={"n": 5},
)
ORDINARY = {
    "field in text": "Hello {{ trigger.user.display_name }}!",
    "one value": "{{ trigger.user.id }}",
    "condition": "{% if trigger.text == 'hello world' and context.n > 3 %}y{% else %}n{% endif %}",
    "filters": "{{ trigger.text|upper|replace('O','0') }} {{ trigger.args|join(', ') }}",
    "loop of 50": "{% for i in trigger.items %}{{ i.tag }}{% if not loop.last %},{% endif %}"
    "{% endfor %}",
    "map/select": "{{ trigger.items|map(attribute='n')|select('odd')|list }}",
    "literals": "{{ {'a': [1, 2, trigger.user.id], 'b': (trigger.text, 3)} }}",
    "tojson of 50": "{{ trigger.items|tojson }}",
}
USES = ("{{ a == b }}", "{{ a|tojson }}", "{{ [a]|sort }}", "{{ a in [b] }}")


def bomb(depth: int, use: str) -> str:
    step = "{% set a = [a, a] %}{% set b = [b, b] %}"
    return "{% set a = [1] %}{% set b = [1] %}" + step * depth + use


def main() -> None:
    print(f"{'ordinary expression':<22} {'µs/render':>10}")
    for name, template in ORDINARY.items():
        render(template, SCOPE)
        best = min(timeit.repeat(lambda t=template: render(t, SCOPE), number=500, repeat=7))
        print(f"{name:<22} {best / 500 * 1e6:>10.1f}")
    print(f"\n{'bomb':<30} {'CPU s':>6}  outcome")
    for depth in (29, 60):
        for use in USES:
            started = time.process_time()
            try:
                outcome = f"rendered {str(render(bomb(depth, use), SCOPE))[:30]!r}"
            except ExpressionError as exc:
                outcome = f"refused: {exc.message}"
            spent = time.process_time() - started
            print(f"depth {depth} {use:<21} {spent:>6.3f}  {outcome}")


if __name__ == "__main__":
    main()
