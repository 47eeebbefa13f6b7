"""The ``broadcast`` node: a flow announces to whole communities, as the Broadcast page does.

It no longer posts inline: it composes a broadcast through engine/services/broadcasts.py
(the same targets, length checks and history as one sent from the page) and sends it, so
the durable delivery job paces it per platform, retries what can be retried and reports
each chat's result on the Broadcast page. The flow goes on at once with the broadcast's id.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session

from engine.db import in_session
from engine.nodes.base import CommunityRef, NodeParams, NodeResult, RunContext
from engine.nodes.community_data import require_community
from engine.nodes.cross_platform import TEXT_FIELD, PlatformName, cross_platform
from engine.services import broadcasts


class BroadcastParams(NodeParams):
    text: str = TEXT_FIELD
    community_ids: list[CommunityRef] = Field(
        default_factory=list,
        description="Communities to post to; empty means the trigger's community",
        examples=[[1, 2]],
    )
    platforms: list[PlatformName] = Field(
        default_factory=list,
        description="Only these platforms; empty means all",
        examples=[["telegram", "discord"]],
    )


def _send(session: Session, ctx: RunContext, p: BroadcastParams) -> dict[str, Any]:
    ids = p.community_ids or [require_community(session, ctx.trigger).id or 0]
    draft = broadcasts.BroadcastDraft(text=p.text, community_ids=ids, platforms=p.platforms)
    view = broadcasts.send_as(session, f"flow:{ctx.flow_id}", draft)
    return {"broadcast_id": view.id, "targets": view.progress.total, "status": str(view.status)}


@cross_platform(
    "broadcast",
    "Broadcast",
    "Post a message to chosen communities on all their platforms, paced by a background job "
    "(each chat's result is on the Broadcast page).",
    BroadcastParams,
)
async def broadcast(ctx: RunContext, p: BroadcastParams) -> NodeResult:
    return NodeResult(output=await in_session(_send, ctx, p))
