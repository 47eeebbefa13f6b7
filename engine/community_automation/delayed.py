"""Pool calls a rule makes later (a welcome deleted after N seconds), as a Dramatiq actor."""

from __future__ import annotations

from typing import Any

import dramatiq

from engine import pool_client
from engine.broker import QUEUE, get_broker
from engine.thread_loop import run_on_thread_loop

get_broker()  # the actor below is declared on the process's broker


@dramatiq.actor(queue_name=QUEUE)
def delayed_call(
    kind: str, instance_id: int | None, action: str, params: dict[str, Any], key: str
) -> None:
    """The key makes a retry or a redelivery one call at the platform."""
    run_on_thread_loop(
        pool_client.execute(kind, action, params, instance_id=instance_id, idempotency_key=key)
    )
