"""Cross-platform messaging nodes: reply where the trigger came from, tell the admins."""

from __future__ import annotations

from pydantic import Field
from sqlmodel import Session, col, select

from engine.db import in_session
from engine.models import CommunityMember, MemberRole, PlatformAccount
from engine.nodes.base import NodeParams, NodeResult, RunContext
from engine.nodes.community_data import (
    community_targets,
    connector_for,
    require_community,
    trigger_kind,
)
from engine.nodes.cross_platform import (
    TEXT_FIELD,
    Target,
    cross_platform,
    delivery_summary,
    interaction_answer,
    send_each,
)
from engine.platform_calls import CONNECTORS, Delivery, message_call


class ReplyInPlaceParams(NodeParams):
    text: str = TEXT_FIELD
    reply: bool = Field(
        default=True, description="Quote the triggering message", examples=[True, False]
    )


@cross_platform(
    "reply_in_place",
    "Reply in place",
    "Reply on whichever platform and chat triggered the flow.",
    ReplyInPlaceParams,
)
async def reply_in_place(ctx: RunContext, p: ReplyInPlaceParams) -> NodeResult:
    kind, instance_id = trigger_kind(ctx.trigger)
    chat_id = (ctx.trigger.get("chat") or {}).get("id")
    if not chat_id:
        raise ValueError("the trigger has no chat to reply in")
    how: Delivery = "reply" if p.reply else "chat"
    action, params = interaction_answer(kind, ctx.trigger, p.text) or message_call(
        kind, chat_id, p.text, how, ctx.trigger.get("message_id")
    )
    result = await ctx.call_platform(kind, action, params, instance_id)
    return NodeResult(
        output={
            "platform": CONNECTORS[kind].platform,
            "chat_id": chat_id,
            "action": action,
            "result": result,
        }
    )


class NotifyAdminsParams(NodeParams):
    text: str = TEXT_FIELD
    log_chats: bool = Field(
        default=True, description="Post in the community's log chats and channels", examples=[True]
    )
    direct: bool = Field(
        default=False,
        description="Also message each admin and owner of the community directly",
        examples=[False],
    )


def _admin_targets(
    session: Session, ctx: RunContext, p: NotifyAdminsParams
) -> tuple[list[Target], list[Target]]:
    community = require_community(session, ctx.trigger)
    logs = community_targets(session, community, "log", ctx.trigger) if p.log_chats else []
    admins = []
    if p.direct:
        rows = session.exec(
            select(PlatformAccount)
            .join(
                CommunityMember, col(CommunityMember.platform_account_id) == col(PlatformAccount.id)
            )
            .where(
                CommunityMember.community_id == community.id,
                col(CommunityMember.role).in_([MemberRole.admin, MemberRole.owner]),
                col(CommunityMember.left_at).is_(None),
            )
        )
        for account in rows:
            kind, instance_id = connector_for(session, community, account.platform, ctx.trigger)
            admins.append(
                Target(account.platform, kind, instance_id, account.platform_user_id, community.id)
            )
    return logs, admins


@cross_platform(
    "notify_admins",
    "Notify admins",
    "Tell the community's admins: in its log chats and, optionally, directly.",
    NotifyAdminsParams,
)
async def notify_admins(ctx: RunContext, p: NotifyAdminsParams) -> NodeResult:
    logs, admins = await in_session(_admin_targets, ctx, p)
    results = await send_each(ctx, ((t, p.text) for t in logs))
    results += await send_each(ctx, ((t, p.text) for t in admins), how="dm")
    return NodeResult(output=delivery_summary(results))
