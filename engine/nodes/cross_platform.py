"""Cross-platform nodes: Flowbot's own services acting on whichever platforms a community has.

Also the one place that knows how a trigger maps to Flowbot's records (the platform
account of its user, the community of its chat, the chats of a community). How each
connector kind spells a call is engine/platform_calls.py's; warnings and sanctions are the
moderation service's (engine/services/moderation.py), which these nodes call as
``flow:<id>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import Field
from sqlmodel import Session, col, select

from engine.db import in_session
from engine.models import (
    BotInstance,
    Chat,
    Community,
    CommunityMember,
    MemberRole,
    ModerationAction,
    ModerationLog,
    PlatformAccount,
    UserIdentity,
)
from engine.nodes.base import (
    NodeCategory,
    NodeParams,
    NodePlatform,
    NodeResult,
    RunContext,
)
from engine.nodes.registry import runner_declarer
from engine.platform_calls import CONNECTORS, DEFAULT_KIND, PLATFORMS, Delivery, message_call
from engine.services import moderation, reputation
from engine.services.community_chats import community_id_of, postable_chats

PlatformName = Literal["telegram", "discord", "whatsapp"]


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


# --- the trigger in Flowbot's records -------------------------------------------------------


def trigger_kind(trigger: Mapping[str, Any]) -> tuple[str, int | None]:
    """The connector kind and instance that saw the event."""
    kind = trigger.get("connector") or DEFAULT_KIND.get(trigger.get("platform") or "")
    if kind not in CONNECTORS:
        raise ValueError(f"the trigger came from {trigger.get('platform')!r}, not a chat platform")
    return kind, trigger.get("instance_id")


def trigger_user_id(trigger: Mapping[str, Any], override: str | None = None) -> str:
    user_id = override or (trigger.get("user") or {}).get("id")
    if not user_id:
        raise ValueError("the trigger has no user; give user_id")
    return str(user_id)


def community_of_chat(session: Session, trigger: Mapping[str, Any]) -> Community | None:
    """The community whose Telegram chat, Discord guild or WhatsApp group the event is in."""
    community_id = community_id_of(session, trigger)
    return session.get(Community, community_id) if community_id else None


def require_community(session: Session, trigger: Mapping[str, Any]) -> Community:
    community = community_of_chat(session, trigger)
    if community is None:
        raise ValueError("the trigger's chat is not linked to a community")
    return community


def account_of(
    session: Session, trigger: Mapping[str, Any], user_id: str | None = None, create: bool = False
) -> PlatformAccount | None:
    """The PlatformAccount of the trigger's user (or ``user_id`` on the same platform)."""
    platform, uid = trigger.get("platform"), trigger_user_id(trigger, user_id)
    account = session.exec(
        select(PlatformAccount).where(
            PlatformAccount.platform == platform, PlatformAccount.platform_user_id == uid
        )
    ).first()
    if account is None and create and platform in PLATFORMS:
        user = (trigger.get("user") or {}) if not user_id else {}
        account = PlatformAccount(
            platform=platform,
            platform_user_id=uid,
            username=user.get("username"),
            display_name=user.get("display_name") or user.get("first_name") or "",
            is_bot=bool(user.get("is_bot")),
        )
        session.add(account)
        session.flush()
    return account


def _connector_for(
    session: Session, community: Community, platform: str, trigger: Mapping[str, Any]
) -> tuple[str, int | None]:
    """The community's own instance if it is on that platform, else the trigger's, else any."""
    if community.bot_instance_id:
        instance = session.get(BotInstance, community.bot_instance_id)
        if instance and CONNECTORS[instance.kind].platform == platform:
            return str(instance.kind), instance.id
    if trigger.get("platform") == platform and trigger.get("connector") in CONNECTORS:
        return trigger["connector"], trigger.get("instance_id")
    return DEFAULT_KIND[platform], None


Purpose = Literal["post", "log"]


def community_targets(
    session: Session, community: Community, purpose: Purpose, trigger: Mapping[str, Any]
) -> list[Target]:
    """Where a community posts (its chats; on Discord its attached text channels) or logs
    (its log chat)."""
    if purpose == "log":  # the log chat may be outside the community (a private mod chat)
        log = session.get(Chat, moderation.rules_of(session, community.id or 0).log_chat_id or 0)
        chats = [log] if log and log.gone_at is None else []
    else:
        chats = postable_chats(session, [community.id or 0])
    targets = []
    for chat in chats:
        kind, instance_id = _connector_for(session, community, chat.platform, trigger)
        targets.append(
            Target(chat.platform, kind, instance_id, chat.platform_chat_id, community.id)
        )
    return targets


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
    return entry


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


# --- reply_in_place --------------------------------------------------------------------------


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


# --- warn_user ---------------------------------------------------------------------------------


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


# --- adjust_reputation ---------------------------------------------------------------------------


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


# --- log_moderation ---------------------------------------------------------------------------


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


# --- notify_admins ---------------------------------------------------------------------------


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
            kind, instance_id = _connector_for(session, community, account.platform, ctx.trigger)
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
    return NodeResult(output=_summary(results))


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    sent = sum(r["ok"] for r in results)
    return {"sent": sent, "failed": len(results) - sent, "results": results}


# --- send_to_identity -------------------------------------------------------------------------


class SendToIdentityParams(NodeParams):
    text: str = TEXT_FIELD
    identity_id: int | None = Field(
        default=None,
        description="The linked person; empty means the person behind the trigger's user",
        examples=[12],
    )
    platform: PlatformName | None = Field(
        default=None,
        description="Platform to use; empty means the person's preferred one",
        examples=["telegram"],
    )


def _identity_target(
    session: Session, ctx: RunContext, p: SendToIdentityParams
) -> tuple[Target, int]:
    identity_id = p.identity_id
    if identity_id is None:
        account = account_of(session, ctx.trigger)
        identity_id = account.identity_id if account else None
    identity = session.get(UserIdentity, identity_id) if identity_id else None
    if identity is None:
        raise ValueError("no linked identity for this user")
    accounts = list(
        session.exec(select(PlatformAccount).where(PlatformAccount.identity_id == identity.id))
    )
    order = [p.platform, identity.preferred_platform, ctx.trigger.get("platform")]
    ranked = sorted(
        accounts, key=lambda a: order.index(a.platform) if a.platform in order else len(order)
    )
    if not ranked or (p.platform and ranked[0].platform != p.platform):
        raise ValueError(f"identity {identity.id} has no {p.platform or 'platform'} account")
    account = ranked[0]
    kind = DEFAULT_KIND[account.platform]
    instance_id = None
    if ctx.trigger.get("platform") == account.platform:
        kind, instance_id = trigger_kind(ctx.trigger)
    assert identity.id is not None
    return Target(account.platform, kind, instance_id, account.platform_user_id), identity.id


@cross_platform(
    "send_to_identity",
    "Send to person",
    "Message a linked person on their preferred platform.",
    SendToIdentityParams,
)
async def send_to_identity(ctx: RunContext, p: SendToIdentityParams) -> NodeResult:
    target, identity_id = await in_session(_identity_target, ctx, p)
    [result] = await send_each(ctx, [(target, p.text)], how="dm")
    if not result["ok"]:
        raise RuntimeError(f"sending to {target.platform} failed: {result['error']}")
    return NodeResult(output={"identity_id": identity_id, "user_id": target.chat_id, **result})
