"""The deadline of a new-member hold: remove the member unless they confirmed in time.

``hold_expired`` is sent with a delay when a hold starts; ``expire_overdue_holds`` is the
periodic sweep for holds whose delayed message never ran.
"""

from __future__ import annotations

from typing import Any

import dramatiq

from engine.broker import QUEUE, get_broker
from engine.community_automation import hold
from engine.community_automation.trace import RuleSkipped, RulesRun
from engine.models import ModerationAction, utcnow
from engine.services import moderation
from engine.thread_loop import run_on_thread_loop

get_broker()  # the actors below are declared on the process's broker


@dramatiq.actor(queue_name=QUEUE)
def hold_expired(hold_id: int, community_id: int) -> None:
    """A new-member hold's deadline: remove the member unless they confirmed."""
    run_on_thread_loop(expire_hold(hold_id, community_id))


@dramatiq.actor(queue_name=QUEUE, max_retries=0, max_age=60_000)
def expire_overdue_holds() -> None:
    """The periodic sweep: expire every hold past its deadline whose own delayed message
    never ran (``hold_expired`` is one execution per hold, so a double send is harmless)."""
    for held in hold.overdue(utcnow()):
        hold_expired.send(held.id, held.community_id)


async def expire_hold(hold_id: int, community_id: int) -> int | None:
    """The hold's time is up: remove the member unless they pressed the button."""
    trigger = {"hold_id": hold_id, "community_id": community_id, "kind": "rules_hold_expired"}
    run = RulesRun.open(community_id, trigger, "rules_hold_expired", f"hold:{hold_id}:expired")
    if run is None:
        return None

    async def kick() -> dict[str, Any]:
        held = hold.find(run.flow_id, hold_id)
        if held is None or not hold.settle(hold_id):
            raise RuleSkipped("the member confirmed (or the hold was replaced)")
        actor = moderation.Actor.system("rules:hold")
        outcome = await moderation.act(
            actor, community_id, held.account_id, ModerationAction.kick,
            reason="did not confirm within the new-member hold",
        )  # fmt: skip
        return {"kicked": outcome, "account_id": held.account_id}

    result = await run.step("hold", {"hold_id": hold_id}, kick)
    run.finish({"rules": {"hold": result}})
    return run.execution_id
