"""Moderation nodes: warnings, bans on every linked account, the moderation log. Warnings and
sanctions are the moderation service's (engine/services/moderation.py), which these nodes
call as ``flow:<id>``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from pydantic import Field
from sqlmodel import Session

from engine.db import in_session
from engine.models import ModerationAction, ModerationLog, PlatformAccount
from engine.nodes.base import NodeParams, NodeResult, RunContext
from engine.nodes.community_data import account_of, community_of_chat, require_community
from engine.nodes.cross_platform import REASON_FIELD, USER_FIELD, cross_platform
from engine.services import moderation


def moderation_log(
    session: Session,
    ctx: RunContext,
    action: ModerationAction,
    community_id: int | None,
    account: PlatformAccount | None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> ModerationLog:
    entry = ModerationLog(
        community_id=community_id,
        action=action,
        platform=account.platform if account else None,
        target_account_id=account.id if account else None,
        actor=f"flow:{ctx.flow_id}",
        reason=reason,
        details=details or {},
    )
    session.add(entry)
    session.flush()
    moderation.announce_after_commit(
        session, entry.id or 0, community_id, entry.target_account_id, action,
        actor_label=entry.actor, ok=True,
    )  # fmt: skip
    return entry


class WarnUserParams(NodeParams):
    reason: str = REASON_FIELD
    user_id: str | None = USER_FIELD


def _flow_actor(ctx: RunContext) -> moderation.Actor:
    return moderation.Actor.system(f"flow:{ctx.flow_id}")


def _outcome_output(outcome: moderation.Outcome) -> dict[str, Any]:
    return {
        "ok": outcome.ok,
        "log_id": outcome.log_id,
        "results": [asdict(r) for r in outcome.results],
    }


def _warn_subject(
    session: Session, trigger: Mapping[str, Any], user_id: str | None
) -> dict[str, Any]:
    """The community and account a warning is for (recorded as a member: they are in its
    chat), and the thresholds it counts towards."""
    community = require_community(session, trigger)
    account = account_of(session, trigger, user_id, create=True)
    assert community.id and account and account.id
    moderation.member_row(session, community.id, account.id)
    config = moderation.rules_of(session, community.id).for_platform(account.platform).warnings
    return {
        "community_id": community.id,
        "account_id": account.id,
        "user_id": account.platform_user_id,
        "threshold_mute": config.mute_at,
        "threshold_ban": config.ban_at,
        "mute_minutes": config.mute_minutes,
    }


@cross_platform(
    "warn_user",
    "Warn user",
    "Add a community warning; at the community's thresholds the user is muted or banned.",
    WarnUserParams,
)
async def warn_user(ctx: RunContext, p: WarnUserParams) -> NodeResult:
    out = await in_session(_warn_subject, ctx.trigger, p.user_id)
    made = await moderation.warn(_flow_actor(ctx), out["community_id"], out["account_id"], p.reason)
    out |= {
        "warning_id": made.warning_id,
        "active_warnings": made.active_warnings,
        "action_taken": made.sanction,
    }
    if made.outcome is not None:
        out["sanction"] = _outcome_output(made.outcome)
    return NodeResult(output=out)


# --- ban_everywhere / unban_everywhere --------------------------------------------------------


class EverywhereParams(NodeParams):
    reason: str = REASON_FIELD
    user_id: str | None = USER_FIELD


def _everywhere_subject(session: Session, trigger: Mapping[str, Any], user_id: str | None) -> int:
    """The account, recorded as a member of the trigger's community: they are in its chat."""
    account = account_of(session, trigger, user_id, create=True)
    assert account and account.id
    here = community_of_chat(session, trigger)
    if here is not None and here.id is not None:
        moderation.member_row(session, here.id, account.id)
    return account.id


async def _everywhere(ctx: RunContext, p: EverywhereParams, ban: bool) -> NodeResult:
    account_id = await in_session(_everywhere_subject, ctx.trigger, p.user_id)
    outcome = await moderation.ban_everywhere(_flow_actor(ctx), account_id, p.reason, unban=not ban)
    done = sum(r.ok for r in outcome.results)
    return NodeResult(
        output={
            "succeeded": done,
            "failed": len(outcome.results) - done,
            "communities": sorted({r.community_id for r in outcome.results if r.community_id}),
            "log_ids": list(outcome.log_ids),
            "results": [asdict(r) for r in outcome.results],
        }
    )


@cross_platform(
    "ban_everywhere",
    "Ban everywhere",
    "Ban the person on every linked account, in every chat of their communities.",
    EverywhereParams,
)
async def ban_everywhere(ctx: RunContext, p: EverywhereParams) -> NodeResult:
    return await _everywhere(ctx, p, ban=True)


@cross_platform(
    "unban_everywhere",
    "Unban everywhere",
    "Lift the person's bans on every linked account and community chat.",
    EverywhereParams,
)
async def unban_everywhere(ctx: RunContext, p: EverywhereParams) -> NodeResult:
    return await _everywhere(ctx, p, ban=False)


class LogModerationParams(NodeParams):
    action: ModerationAction = Field(
        default=ModerationAction.note, description="What happened", examples=["note", "kick"]
    )
    reason: str = REASON_FIELD
    user_id: str | None = USER_FIELD
    details: dict[str, Any] = Field(
        default_factory=dict, description="Extra facts to keep", examples=[{"message_id": "42"}]
    )


def _log_entry(session: Session, ctx: RunContext, p: LogModerationParams) -> dict[str, Any]:
    community = community_of_chat(session, ctx.trigger)
    has_user = p.user_id or (ctx.trigger.get("user") or {}).get("id")
    account = account_of(session, ctx.trigger, p.user_id, create=True) if has_user else None
    entry = moderation_log(
        session, ctx, p.action, community.id if community else None, account, p.reason, p.details
    )
    return {"log_id": entry.id, "community_id": entry.community_id, "action": str(p.action)}


@cross_platform(
    "log_moderation",
    "Log moderation",
    "Write an entry to the community's moderation log.",
    LogModerationParams,
)
async def log_moderation(ctx: RunContext, p: LogModerationParams) -> NodeResult:
    return NodeResult(output=await in_session(_log_entry, ctx, p))
