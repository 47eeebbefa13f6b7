"""The trigger in Flowbot's records: the platform account of its user, the community of its
chat, the chats (targets) of a community. The one place that knows how they map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sqlmodel import Session, select

from engine.models import BotInstance, Chat, Community, PlatformAccount
from engine.nodes.cross_platform import Target
from engine.platform_calls import CONNECTORS, DEFAULT_KIND, PLATFORMS
from engine.services import moderation
from engine.services.community_chats import community_id_of, postable_chats


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


def connector_for(
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
        kind, instance_id = connector_for(session, community, chat.platform, trigger)
        targets.append(
            Target(chat.platform, kind, instance_id, chat.platform_chat_id, community.id)
        )
    return targets
