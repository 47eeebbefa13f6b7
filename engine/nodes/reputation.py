"""Reputation node: points for a member, recorded in the moderation log."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session

from engine.db import in_session
from engine.models import ModerationAction
from engine.nodes.base import NodeParams, NodeResult, RunContext
from engine.nodes.community_data import account_of, require_community
from engine.nodes.cross_platform import REASON_FIELD, USER_FIELD, cross_platform
from engine.nodes.moderation import moderation_log
from engine.services import moderation, reputation


class AdjustReputationParams(NodeParams):
    delta: int = Field(
        ge=-1000, le=1000, description="Points to add (negative to remove)", examples=[1, -1]
    )
    user_id: str | None = USER_FIELD
    reason: str = REASON_FIELD


def _adjust(session: Session, ctx: RunContext, p: AdjustReputationParams) -> dict[str, Any]:
    community = require_community(session, ctx.trigger)
    assert community.id
    if not moderation.rules_of(session, community.id).reputation.enabled:
        return {"applied": False, "reason": "reputation is disabled in this community"}
    account = account_of(session, ctx.trigger, p.user_id, create=True)
    assert account and account.id
    giver = account_of(session, ctx.trigger, None, create=True) if p.user_id else None
    score = reputation.adjust(
        session,
        f"flow:{ctx.flow_id}",
        community.id,
        account.id,
        p.delta,
        p.reason,
        giver_account_id=giver.id if giver else None,
    )
    moderation_log(
        session,
        ctx,
        ModerationAction.reputation,
        community.id,
        account,
        p.reason,
        {"delta": p.delta, "score": score},
    )
    return {"applied": True, "user_id": account.platform_user_id, "delta": p.delta, "score": score}


@cross_platform(
    "adjust_reputation",
    "Adjust reputation",
    "Add or remove reputation points of a member in the community.",
    AdjustReputationParams,
)
async def adjust_reputation(ctx: RunContext, p: AdjustReputationParams) -> NodeResult:
    return NodeResult(output=await in_session(_adjust, ctx, p))
