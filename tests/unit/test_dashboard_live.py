"""Which bus events the open dashboard answers with a reload of its counters and feed, and
which with a new read of its charts (at most every CHART_SECONDS)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.community_events import MEMBER_JOINED, MESSAGE
from engine.events import BusEvent
from engine.services.moderation import TOPIC as MODERATION_TOPIC
from flowbot_ui.state.dashboard import _moves_charts, _moves_feed


def execution(kind: str, status: str = "") -> BusEvent:
    payload: dict[str, Any] = {"type": kind, "execution_id": 7}
    if status:
        payload["status"] = status
    return BusEvent("execution.7", payload)


@pytest.mark.parametrize(
    ("event", "feed", "charts"),
    [
        (execution("step"), False, False),  # a node's step: neither
        (execution("execution", "running"), True, False),  # the feed shows it; no bar yet
        (execution("execution", "succeeded"), True, True),  # its hour's bar grows
        (execution("execution", "failed"), True, True),
        (execution("execution", "stopped"), True, False),  # the hours count neither
        (BusEvent(MEMBER_JOINED, {"community_id": 1}), True, True),
        (BusEvent(MESSAGE, {"community_id": 1}), False, True),  # only the messages chart
        (BusEvent(MODERATION_TOPIC, {"log_id": 1}), True, False),
        (BusEvent("flows.changed", {"flow_id": 1}), True, False),
    ],
)
def test_what_each_event_moves(event: BusEvent, feed: bool, charts: bool) -> None:
    assert (_moves_feed(event), _moves_charts(event)) == (feed, charts)
