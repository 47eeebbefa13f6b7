"""Shared parts of the cross-platform nodes (the nodes themselves: messaging, moderation,
reputation and identity modules): their declarer, fields, and delivery to a list of targets.

How each connector kind spells a call is engine/platform_calls.py's; how a trigger maps to
Flowbot's records is engine/nodes/community_data.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from engine.nodes.base import NodeCategory, NodePlatform, RunContext
from engine.nodes.registry import runner_declarer
from engine.platform_calls import Delivery, message_call

PlatformName = Literal["telegram", "discord", "whatsapp"]

cross_platform = runner_declarer(NodeCategory.action, NodePlatform.cross_platform)


TEXT_FIELD = Field(
    min_length=1,
    max_length=4096,
    description="Message text",
    examples=["Welcome, {{trigger.user.first_name}}!"],
)
REASON_FIELD = Field(default="", description="Why; shown in the moderation log", examples=["spam"])
USER_FIELD = Field(
    default=None,
    description="Platform user id on the trigger's platform; empty means the trigger's user",
    examples=["{{trigger.data.reply_to_user_id}}"],
)


def interaction_answer(
    kind: str, trigger: Mapping[str, Any], text: str
) -> tuple[str, dict[str, Any]] | None:
    """A Discord slash command or button click is answered through its interaction:
    a plain channel message would leave Discord showing "the application did not respond".
    """
    data = trigger.get("data") or {}
    if kind != "discord_bot" or not data.get("interaction_token"):
        return None
    return "respond_interaction", {
        "interaction_id": data["interaction_id"],
        "interaction_token": data["interaction_token"],
        "content": text,
    }


@dataclass(frozen=True)
class Target:
    """A chat and the connector that reaches it."""

    platform: str
    kind: str
    instance_id: int | None
    chat_id: str
    community_id: int | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "chat_id": self.chat_id,
            "community_id": self.community_id,
        }


async def send_each(
    ctx: RunContext, messages: Iterable[tuple[Target, str]], how: Delivery = "chat"
) -> list[dict[str, Any]]:
    """Send one message per target; a failing target is recorded, not fatal."""
    results = []
    for target, text in messages:
        action, params = message_call(target.kind, target.chat_id, text, how)
        results.append(await call_recorded(ctx, target, action, params))
    return results


async def call_recorded(
    ctx: RunContext, target: Target, action: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """One pool call, its outcome as a result row."""
    try:
        result = await ctx.call_platform(target.kind, action, params, target.instance_id)
    except Exception as exc:  # noqa: BLE001 - recorded per target
        return {**target.describe(), "ok": False, "error": str(exc)}
    return {**target.describe(), "ok": True, "result": result}


def delivery_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """How many of the per-target result rows were sent, with the rows."""
    sent = sum(r["ok"] for r in results)
    return {"sent": sent, "failed": len(results) - sent, "results": results}
