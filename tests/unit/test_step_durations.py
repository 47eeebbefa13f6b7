"""Durations in the run panel, the debugger's timeline and the executions list."""

from __future__ import annotations

import pytest

from flowbot_ui.state.steps import duration


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (None, "…"),
        (0, "0 ms"),
        (0.4, "0.4 ms"),
        (0.04, "0 ms"),
        (3.25, "3.2 ms"),
        (9.96, "10 ms"),  # rounds up into the next format, never "10.0 ms"
        (42.4, "42 ms"),
        (999.4, "999 ms"),
        (999.6, "1 s"),  # never "1000 ms"
        (1234, "1.2 s"),
        (59_960, "1 min 0 s"),  # never "60 s"
        (123_000, "2 min 3 s"),
        (3_599_600, "1 h 0 min"),
        (3_900_000, "1 h 5 min"),
        (-3, "0 ms"),  # a clock step backwards is not a negative time
    ],
)
def test_durations_read_as_people_say_them(ms: float | None, shown: str) -> None:
    assert duration(ms) == shown
