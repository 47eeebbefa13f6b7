"""Community rules that run by themselves: welcome, new-member hold, anti-flood, anti-link,
banned words and reputation earning, applied to the events of a community's chats.

``engine/community_events.py`` sends :func:`run_rules` for every event in a community,
after the flows it starts (flows see the same events: routing is unchanged). Each run is
an execution of the community's built-in flow (see ``system_flow``), one step per rule.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from pydantic import ValidationError

from engine.broker import QUEUE, get_broker
from engine.community_automation.rules import apply
from engine.platform_event import PlatformEvent
from engine.thread_loop import run_on_thread_loop

log = logging.getLogger(__name__)
get_broker()  # the actors below are declared on the process's broker

EVENT_MAX_AGE_MS = 3_600_000  # as route_event: rules applied an hour late would surprise


@dramatiq.actor(queue_name=QUEUE, max_age=EVENT_MAX_AGE_MS, throws=(ValidationError,))
def run_rules(event: dict[str, Any], community_id: int, member_id: int | None) -> None:
    """Apply the community's rules to one event (safe to run twice: see ``trace``)."""
    run_on_thread_loop(apply(PlatformEvent.model_validate(event), community_id, member_id))


__all__ = ["run_rules"]
