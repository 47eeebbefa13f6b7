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
from engine.platform_event import PlatformEvent

log = logging.getLogger(__name__)
get_broker()  # the actors below are declared on the process's broker

EVENT_MAX_AGE_MS = 3_600_000  # as route_event: rules applied an hour late would surprise


@dramatiq.actor(queue_name=QUEUE, max_age=EVENT_MAX_AGE_MS, throws=(ValidationError,))
def run_rules(event: dict[str, Any], community_id: int, member_id: int | None) -> None:
    """Apply the community's rules to one event (safe to run twice: see ``trace``)."""
    from engine.actors import _run

    from .rules import apply

    _run(apply(PlatformEvent.model_validate(event), community_id, member_id))


@dramatiq.actor(queue_name=QUEUE)
def hold_expired(hold_id: int, community_id: int) -> None:
    """A new-member hold's deadline: remove the member unless they confirmed."""
    from engine.actors import _run

    from .rules import expire_hold

    _run(expire_hold(hold_id, community_id))


@dramatiq.actor(queue_name=QUEUE, max_retries=0, max_age=60_000)
def expire_overdue_holds() -> None:
    """The periodic sweep: expire every hold past its deadline whose own delayed message
    never ran (``hold_expired`` is one execution per hold, so a double send is harmless)."""
    from engine.models import utcnow

    from .hold import overdue

    for held in overdue(utcnow()):
        hold_expired.send(held.id, held.community_id)


@dramatiq.actor(queue_name=QUEUE)
def delayed_call(
    kind: str, instance_id: int | None, action: str, params: dict[str, Any], key: str
) -> None:
    """A pool call made later (a welcome deleted after N seconds); the key makes a retry
    or a redelivery one call at the platform."""
    from engine import pool_client
    from engine.actors import _run

    _run(pool_client.execute(kind, action, params, instance_id=instance_id, idempotency_key=key))


__all__ = ["delayed_call", "expire_overdue_holds", "hold_expired", "run_rules"]
