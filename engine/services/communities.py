"""Communities: chats from any platform grouped under one name, and the rules they share.

The Communities page and /api/v1/communities, /api/v1/chats change communities only through
these functions, so the rules hold everywhere: viewers look, editors create, edit, attach
and detach; deleting a community is an admin's. Every change is audited.

A chat belongs to at most one community. A Discord channel is part of its guild's community
(events of any channel resolve through the guild, engine/services/community_chats.py), so
attaching a channel attaches the guild with all its channels, and detaching either detaches
the whole guild. Chats are discovered by the connectors (engine/services/member_ingest.py);
"refresh" asks a connection for every chat it is in, and attaching a chat backfills the
members the platform lists.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, col, select

from engine import pool_client
from engine.action_errors import ActionError
from engine.chat_discovery import LIST_CHATS, LIST_MEMBERS, VOICE_CHAT_TYPES, chat_seen
from engine.community_rules import CommunityRules, parse_rules
from engine.db import saved_id, session_scope, table_of
from engine.models import (
    AdminUser,
    BotInstance,
    Chat,
    Community,
    CommunityAnalyticsSnapshot,
    CommunityConfig,
    CommunityMember,
    ModerationLog,
    Platform,
    PlatformConnection,
    ReputationEvent,
    ReputationScore,
    Role,
    Warning,
    utcnow,
)
from engine.platform_event import EventChat, PlatformEvent
from engine.services import audit, member_ingest
from engine.services.auth import require_role
from engine.services.errors import Conflict, NotFound

MAX_NAME = 128
MAX_DESCRIPTION = 2000
MAX_SEARCH = 100
GUILD = "guild"


class InvalidCommunity(ValueError):
    """A community change refused, with a message fit to show the admin."""


class CommunityNotFound(InvalidCommunity, NotFound):
    """The community does not exist (any more)."""


class ChatNotFound(InvalidCommunity, NotFound):
    """The chat was never discovered, or is gone."""


class ChatTaken(Conflict):
    """The chat is attached to another community; detach it there first."""


class InvalidConnectionRef(InvalidCommunity, NotFound):
    """The connection to refresh does not exist."""


class InvalidRules(InvalidCommunity):
    """Rules that do not validate; ``errors`` maps each wrong field ("warnings.mute_at",
    "overrides.discord") to what is wrong with it, so a form can show it in place."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        listed = "; ".join(f"{name}: {problem}" for name, problem in errors.items())
        super().__init__(f"The rules are not valid: {listed}")


@dataclass(frozen=True)
class CommunityView:
    community_id: int
    name: str
    description: str
    is_active: bool
    chats_by_platform: dict[str, int]  # attached chats (Discord: guilds) per platform
    member_count: int  # members who have not left
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ChatView:
    chat_id: int
    platform: str
    platform_chat_id: str
    type: str
    title: str
    username: str | None
    member_count: int | None
    bot_is_admin: bool
    guild_id: str | None  # a Discord channel's guild
    connection_id: int | None
    connection_name: str
    community_id: int | None
    community_name: str
    gone: bool
    updated_at: datetime


@dataclass(frozen=True)
class Backfill:
    """What backfilling one attached chat's members gave: how many, or why none."""

    chat_id: int
    title: str
    recorded: int = 0
    error: str | None = None


@dataclass(frozen=True)
class ChatFilters:
    """The chat picker's narrowing; None matches anything."""

    platform: str | None = None
    connection_id: int | None = None
    connection_ids: tuple[int, ...] | None = None
    servers: bool | None = None
    voice: bool | None = False  # Discord voice/stage channels only; False: none (no posting)
    search: str | None = None
    attached: bool | None = None
    community_id: int | None = None
    include_gone: bool = False


@dataclass(frozen=True)
class Refresh:
    """Chats a connection reported on request (each upserted), or the platform's refusal."""

    connection_id: int
    seen: int = 0
    error: str | None = None
    chat_ids: list[int] = field(default_factory=list)


# --- reading communities ----------------------------------------------------------------------


def list_communities(session: Session) -> list[CommunityView]:
    """Every community by name (the Communities page)."""
    rows = session.exec(select(Community).order_by(col(Community.name), col(Community.id))).all()
    return _views(session, list(rows))


def community_page(
    session: Session, limit: int, *, before: int | None = None
) -> list[CommunityView]:
    """Newest first, ids below ``before`` (keyset paging for the REST API)."""
    query = select(Community)
    if before is not None:
        query = query.where(col(Community.id) < before)
    rows = session.exec(query.order_by(col(Community.id).desc()).limit(limit)).all()
    return _views(session, list(rows))


def get_community(session: Session, community_id: int) -> CommunityView:
    return _views(session, [_get(session, community_id)])[0]


def _views(session: Session, communities: list[Community]) -> list[CommunityView]:
    ids = [c.id for c in communities]
    chats: dict[int, dict[str, int]] = {}
    for community_id, platform, count in session.exec(
        select(Chat.community_id, Chat.platform, sa.func.count())
        .where(col(Chat.community_id).in_(ids), col(Chat.gone_at).is_(None), _not_a_channel())
        .group_by(col(Chat.community_id), col(Chat.platform))
    ).all():
        chats.setdefault(community_id or 0, {})[str(platform)] = count
    members = dict(
        session.exec(
            select(CommunityMember.community_id, sa.func.count())
            .where(
                col(CommunityMember.community_id).in_(ids), col(CommunityMember.left_at).is_(None)
            )
            .group_by(col(CommunityMember.community_id))
        ).all()
    )
    return [
        CommunityView(
            community_id=c.id or 0,
            name=c.name,
            description=c.description,
            is_active=c.is_active,
            chats_by_platform=chats.get(c.id or 0, {}),
            member_count=members.get(c.id or 0, 0),
            created_at=c.created_at,
            updated_at=c.updated_at,
        )
        for c in communities
    ]


def _not_a_channel() -> sa.ColumnElement[bool]:
    """A Discord guild counts once, not once per channel."""
    return sa.or_(col(Chat.platform) != "discord", col(Chat.parent_chat_id).is_(None))


# --- changing communities ---------------------------------------------------------------------


def create_community(
    session: Session, actor: AdminUser, name: str, description: str = ""
) -> Community:
    """A new community with the default rules (nothing runs until a rule is switched on)."""
    require_role(actor, Role.editor)
    community = Community(
        name=_free_name(session, name), description=_clean_description(description)
    )
    session.add(community)
    session.flush()
    session.add(
        CommunityConfig(community_id=saved_id(community), rules=CommunityRules().model_dump())
    )
    _audit(session, actor, "community_created", community.id, name=community.name)
    return community


def update_community(
    session: Session,
    actor: AdminUser,
    community_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
) -> None:
    """Rename and/or describe (None: unchanged), as one audited change."""
    require_role(actor, Role.editor)
    community = _get(session, community_id)
    changed: dict[str, Any] = {}
    if name is not None and name.strip() != community.name:
        community.name = changed["name"] = _free_name(session, name, but=community_id)
    if description is not None:
        community.description = changed["description"] = _clean_description(description)
    community.updated_at = utcnow()
    session.add(community)
    _audit(session, actor, "community_updated", community_id, **changed)


def delete_community(
    session: Session,
    actor: AdminUser,
    community_id: int,
    *,
    move_to: int | None = None,
    confirm_name: str | None = None,
) -> None:
    """Delete a community (admins only). Its chats are detached; its members, warnings,
    moderation log, reputation and daily figures go with it, or, with ``move_to``, its
    chats, members (merged with the ones already there), warnings, log and reputation move
    into that community. ``confirm_name``, when given, must be the community's name."""
    require_role(actor, Role.admin)
    community = _get(session, community_id)
    if confirm_name is not None and confirm_name.strip() != community.name:
        raise InvalidCommunity(f"Type the community's name, {community.name!r}, to delete it.")
    if move_to is not None:
        if move_to == community_id:
            raise InvalidCommunity("Move the members into another community, not this one.")
        target = _get(session, move_to)
        _move_contents(session, community_id, target.id or 0)
    else:
        _delete_contents(session, community_id)
    _audit(session, actor, "community_deleted", community_id, name=community.name, moved_to=move_to)
    session.delete(community)
    session.flush()


def _delete_contents(session: Session, community_id: int) -> None:
    session.exec(
        sa.update(Chat).where(col(Chat.community_id) == community_id).values(community_id=None)
    )
    for model in (
        CommunityMember,
        Warning,
        ModerationLog,
        ReputationEvent,
        ReputationScore,
        CommunityAnalyticsSnapshot,
        CommunityConfig,
    ):
        session.exec(sa.delete(model).where(table_of(model).c.community_id == community_id))


def _move_contents(session: Session, source: int, target: int) -> None:
    for model in (Chat, Warning, ModerationLog, ReputationEvent):
        session.exec(
            sa.update(model)
            .where(table_of(model).c.community_id == source)
            .values(community_id=target)
        )
    _merge_members(session, source, target)
    _merge_scores(session, source, target)
    for kept in (CommunityAnalyticsSnapshot, CommunityConfig):
        session.exec(sa.delete(kept).where(table_of(kept).c.community_id == source))


def _merge_members(session: Session, source: int, target: int) -> None:
    """One row per account in the target: a member of both keeps the earlier join, the
    later activity, both message counts, and a ban or mute from either."""
    there = {
        m.platform_account_id: m
        for m in session.exec(
            select(CommunityMember).where(CommunityMember.community_id == target)
        ).all()
    }
    for member in session.exec(
        select(CommunityMember).where(CommunityMember.community_id == source)
    ).all():
        kept = there.get(member.platform_account_id)
        if kept is None:
            member.community_id = target
            session.add(member)
            continue
        kept.joined_at = min(kept.joined_at, member.joined_at)
        kept.left_at = None if None in (kept.left_at, member.left_at) else kept.left_at
        kept.last_active_at = _latest(kept.last_active_at, member.last_active_at)
        kept.muted_until = _latest(kept.muted_until, member.muted_until)
        kept.message_count += member.message_count
        kept.is_banned = kept.is_banned or member.is_banned
        session.add(kept)
        session.delete(member)
    session.flush()


def _merge_scores(session: Session, source: int, target: int) -> None:
    there = {
        s.platform_account_id: s
        for s in session.exec(
            select(ReputationScore).where(ReputationScore.community_id == target)
        ).all()
    }
    for score in session.exec(
        select(ReputationScore).where(ReputationScore.community_id == source)
    ).all():
        kept = there.get(score.platform_account_id)
        if kept is None:
            score.community_id = target
            session.add(score)
            continue
        kept.score += score.score
        kept.given_up += score.given_up
        kept.given_down += score.given_down
        kept.updated_at = utcnow()
        session.add(kept)
        session.delete(score)
    session.flush()


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((d for d in (a, b) if d is not None), default=None)


# --- chats ------------------------------------------------------------------------------------


def _chat_query() -> Any:
    return (
        select(Chat, Community.name, PlatformConnection.id, BotInstance.name)
        .outerjoin(Community, col(Community.id) == Chat.community_id)
        .outerjoin(BotInstance, col(BotInstance.id) == Chat.bot_instance_id)
        .outerjoin(PlatformConnection, col(PlatformConnection.bot_instance_id) == BotInstance.id)
    )


def chat_page(
    session: Session, filters: ChatFilters, limit: int, *, before: int | None = None
) -> list[ChatView]:
    """The chat picker: discovered chats (not gone, unless asked), newest first, ids below
    ``before``; each says whether it is attached and where."""
    query = _chat_query()
    if not filters.include_gone:
        query = query.where(col(Chat.gone_at).is_(None))
    if filters.platform:
        query = query.where(Chat.platform == filters.platform)
    if filters.connection_id is not None:
        query = query.where(col(PlatformConnection.id) == filters.connection_id)
    if filters.connection_ids is not None:
        query = query.where(col(PlatformConnection.id).in_(filters.connection_ids))
    if filters.servers is not None:
        guild = col(Chat.type) == GUILD
        query = query.where(guild if filters.servers else sa.not_(guild))
    if filters.voice is not None:
        voice = col(Chat.type).in_(VOICE_CHAT_TYPES)
        query = query.where(voice if filters.voice else sa.not_(voice))
    if filters.community_id is not None:
        query = query.where(Chat.community_id == filters.community_id)
    if filters.attached is not None:
        attached = col(Chat.community_id).is_not(None)
        query = query.where(attached if filters.attached else sa.not_(attached))
    if filters.search and filters.search.strip():
        term = f"%{_escape_like(filters.search.strip()[:MAX_SEARCH].lower())}%"
        query = query.where(
            sa.or_(
                sa.func.lower(col(Chat.title)).like(term, escape="\\"),
                sa.func.lower(sa.func.coalesce(col(Chat.username), "")).like(term, escape="\\"),
                col(Chat.platform_chat_id).like(term, escape="\\"),
            )
        )
    if before is not None:
        query = query.where(col(Chat.id) < before)
    rows = session.exec(query.order_by(col(Chat.id).desc()).limit(limit)).all()
    return [_chat_view(*row) for row in rows]


def community_chats(session: Session, community_id: int) -> list[ChatView]:
    """A community's chats by platform, each Discord guild followed by its channels."""
    _get(session, community_id)
    rows = session.exec(
        _chat_query()
        .where(Chat.community_id == community_id)
        .order_by(
            col(Chat.platform),
            sa.func.coalesce(col(Chat.parent_chat_id), col(Chat.platform_chat_id)),
            col(Chat.parent_chat_id).is_not(None),
            sa.func.lower(col(Chat.title)),
            col(Chat.id),
        )
    ).all()
    return [_chat_view(*row) for row in rows]


def get_chat(session: Session, chat_id: int) -> ChatView:
    row = session.exec(_chat_query().where(Chat.id == chat_id)).first()
    if row is None:
        raise ChatNotFound(f"Chat {chat_id} was never discovered.")
    return _chat_view(*row)


def _chat_view(
    chat: Chat, community_name: str | None, connection_id: int | None, connection_name: str | None
) -> ChatView:
    return ChatView(
        chat_id=chat.id or 0,
        platform=str(chat.platform),
        platform_chat_id=chat.platform_chat_id,
        type=chat.type,
        title=chat.title or chat.username or chat.platform_chat_id,
        username=chat.username,
        member_count=chat.member_count,
        bot_is_admin=chat.bot_is_admin,
        guild_id=chat.parent_chat_id,
        connection_id=connection_id,
        connection_name=connection_name or "",
        community_id=chat.community_id,
        community_name=community_name or "",
        gone=chat.gone_at is not None,
        updated_at=chat.updated_at,
    )


def attach_chats(
    session: Session, actor: AdminUser, community_id: int, chat_ids: list[int]
) -> list[int]:
    """Attach discovered chats; the ids of every chat now attached because of it (a Discord
    channel brings its guild and the guild's other channels). A chat of another community
    is refused, naming it; one already here is left as it is."""
    require_role(actor, Role.editor)
    community = _get(session, community_id)
    if not chat_ids:
        raise InvalidCommunity("Pick at least one chat to attach.")
    attached: list[int] = []
    for chat_id in dict.fromkeys(chat_ids):
        picked = _live_chat(session, chat_id)
        for chat in _unit_of(session, picked):
            if chat.community_id not in (None, community_id):
                other = session.get(Community, chat.community_id)
                raise ChatTaken(
                    f"{_label(picked)} belongs to the community "
                    f"{other.name if other else chat.community_id!r}; detach it there first."
                )
            if chat.community_id is None:
                chat.community_id = community_id
                chat.updated_at = utcnow()
                session.add(chat)
                attached.append(chat.id or 0)
    session.flush()
    _audit(session, actor, "community_chats_attached", community.id, chat_ids=attached)
    return attached


def detach_chat(session: Session, actor: AdminUser, community_id: int, chat_id: int) -> list[int]:
    """Detach a chat; the ids of every chat detached (a Discord guild with its channels)."""
    require_role(actor, Role.editor)
    _get(session, community_id)
    chat = session.get(Chat, chat_id)
    if chat is None or chat.community_id != community_id:
        raise ChatNotFound(f"Chat {chat_id} is not attached to community {community_id}.")
    detached = []
    for unit in _unit_of(session, chat):
        if unit.community_id == community_id:
            unit.community_id = None
            unit.updated_at = utcnow()
            session.add(unit)
            detached.append(unit.id or 0)
    session.flush()
    _audit(session, actor, "community_chat_detached", community_id, chat_ids=detached)
    return detached


def _live_chat(session: Session, chat_id: int) -> Chat:
    chat = session.get(Chat, chat_id)
    if chat is None:
        raise ChatNotFound(f"Chat {chat_id} was never discovered.")
    if chat.gone_at is not None:
        raise ChatNotFound(f"{_label(chat)} is gone: the bot or account left it.")
    return chat


def _unit_of(session: Session, chat: Chat) -> list[Chat]:
    """The chats that belong to a community together: a Discord guild (made from its
    channel's guild id if the guild itself was not discovered) with all its channels;
    any other chat alone."""
    if chat.platform != "discord":
        return [chat]
    guild_id = chat.parent_chat_id or chat.platform_chat_id
    guild = session.exec(
        select(Chat).where(Chat.platform == "discord", Chat.platform_chat_id == guild_id)
    ).first()
    if guild is None:
        guild = Chat(
            platform=Platform.discord,
            platform_chat_id=guild_id,
            bot_instance_id=chat.bot_instance_id,
            type=GUILD,
            title=f"Discord server {guild_id}",
        )
        session.add(guild)
        session.flush()
    channels = session.exec(
        select(Chat).where(Chat.platform == "discord", Chat.parent_chat_id == guild_id)
    ).all()
    return [guild, *channels]


def _label(chat: Chat) -> str:
    return f"{chat.platform.capitalize()} chat {chat.title or chat.platform_chat_id!r}"


# --- rules ------------------------------------------------------------------------------------


def get_rules(session: Session, community_id: int) -> CommunityRules:
    """The saved rules (the defaults for a community whose rules were never saved)."""
    _get(session, community_id)
    config = _stored_config(session, community_id)
    return parse_rules(config.rules if config else None)


def save_rules(
    session: Session, actor: AdminUser, community_id: int, document: dict[str, Any]
) -> CommunityRules:
    """Replace the whole rules document (what it leaves out takes the defaults)."""
    require_role(actor, Role.editor)
    _get(session, community_id)
    rules = _validated(session, document)
    config = _config(session, community_id)
    config.rules = rules.model_dump(mode="json")
    config.updated_at = utcnow()
    session.add(config)
    _audit(session, actor, "community_rules_saved", community_id)
    return rules


def update_rules(
    session: Session, actor: AdminUser, community_id: int, changes: dict[str, Any]
) -> CommunityRules:
    """Change some sections: each given section's fields are merged over the saved ones
    (``{"antilink": {"enabled": true}}`` keeps its allowed domains); a given platform's
    overrides replace that platform's; other sections stay as saved."""
    require_role(actor, Role.editor)
    current = get_rules(session, community_id).model_dump(mode="json")
    for key, value in changes.items():
        if key == "overrides" and isinstance(value, dict):
            current["overrides"] = {**current.get("overrides", {}), **value}
            current["overrides"] = {k: v for k, v in current["overrides"].items() if v}
        elif isinstance(value, dict) and isinstance(current.get(key), dict):
            current[key] = {**current[key], **value}
        else:
            current[key] = value
    return save_rules(session, actor, community_id, current)


def _validated(session: Session, document: Any) -> CommunityRules:
    if not isinstance(document, dict):
        raise InvalidRules({"rules": "the rules are a JSON object of sections"})
    try:
        rules = CommunityRules.model_validate(document)
    except ValidationError as error:
        raise InvalidRules(_with_platforms(field_errors(error), document)) from None
    if rules.log_chat_id is not None:
        chat = session.get(Chat, rules.log_chat_id)
        if chat is None or chat.gone_at is not None:
            raise InvalidRules(
                {"log_chat_id": f"chat {rules.log_chat_id} is not a discovered chat"}
            )
    return rules


def _with_platforms(errors: dict[str, str], document: dict[str, Any]) -> dict[str, str]:
    """An override's error names its platform ("overrides.discord.welcome.nope"): pydantic
    reports them under "overrides" alone, so each platform's overrides are checked apart."""
    if not any(name.startswith("overrides.") for name in errors):
        return errors
    found = {k: v for k, v in errors.items() if not k.startswith("overrides.")}
    overrides = document.get("overrides")
    for platform, changes in overrides.items() if isinstance(overrides, dict) else ():
        if platform not in set(Platform):
            found[f"overrides.{platform}"] = "not a platform: telegram, discord or whatsapp"
            continue
        try:
            CommunityRules.model_validate({"overrides": {platform: changes}})
        except ValidationError as error:
            for name, problem in field_errors(error).items():
                rest = name.removeprefix("overrides").lstrip(".")
                where = f"overrides.{platform}" + (f".{rest}" if rest else "")
                found.setdefault(where, problem)
    return found


def field_errors(error: ValidationError) -> dict[str, str]:
    """Each wrong field's dotted path and pydantic's message, the prefix "Value error, "
    dropped (the message names the problem itself)."""
    found: dict[str, str] = {}
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "rules"
        found.setdefault(where, str(problem["msg"]).removeprefix("Value error, "))
    return found


def _stored_config(session: Session, community_id: int) -> CommunityConfig | None:
    return session.exec(
        select(CommunityConfig).where(CommunityConfig.community_id == community_id)
    ).first()


def _config(session: Session, community_id: int) -> CommunityConfig:
    """The row to save rules in, made on first save for a community that has none."""
    config = _stored_config(session, community_id)
    if config is None:
        config = CommunityConfig(community_id=community_id, rules={})
        session.add(config)
        session.flush()
    return config


# --- through the connector pool: refresh and backfill -----------------------------------------


@dataclass(frozen=True)
class RefreshTarget:
    """A connection an editor may ask for its chats (made only by :func:`authorize_refresh`)."""

    connection_id: int
    kind: str
    instance_id: int


def authorize_refresh(session: Session, actor: AdminUser, connection_id: int) -> RefreshTarget:
    """Role check and audit before asking a connection for its chats."""
    require_role(actor, Role.editor)
    connection = session.get(PlatformConnection, connection_id)
    instance = session.get(BotInstance, connection.bot_instance_id) if connection else None
    if instance is None:
        raise InvalidConnectionRef(f"Connection {connection_id} does not exist (any more).")
    audit.record(
        session,
        actor.username,
        "chats_refreshed",
        target_type="connection",
        target_id=connection_id,
    )
    return RefreshTarget(connection_id, str(instance.kind), saved_id(instance))


async def refresh_chats(target: RefreshTarget) -> Refresh:
    """Ask a connection for every chat it is in and record each (title, type, bot rights);
    a platform's refusal or an unreachable pool is reported, not raised."""
    try:
        answer = await pool_client.execute(
            target.kind,
            LIST_CHATS,
            {},
            instance_id=target.instance_id,
            idempotency_key=_key(LIST_CHATS),
        )
    except ActionError as error:
        return Refresh(target.connection_id, error=error.message)
    chats = [c for c in answer.get("chats") or [] if isinstance(c, dict) and c.get("id")]
    ids = await asyncio.to_thread(_record_chats, target.kind, target.instance_id, chats)
    return Refresh(target.connection_id, seen=len(ids), chat_ids=ids)


def _record_chats(kind: str, instance_id: int, chats: list[dict[str, Any]]) -> list[int]:
    ids = []
    with session_scope() as session:
        for chat in chats:
            observed = member_ingest.observe(session, _chat_seen(kind, instance_id, chat))
            if observed.chat_id is not None:
                ids.append(observed.chat_id)
    return ids


async def backfill_members(community_id: int, chat_ids: list[int]) -> list[Backfill]:
    """After :func:`attach_chats` (which checked the role): record the members each chat's
    platform lists (a Discord guild's members, a Telegram group's administrators, a WhatsApp
    group's participants). Best effort: a chat the pool cannot list says why."""
    targets = await asyncio.to_thread(_backfill_targets, chat_ids)
    done = []
    for chat_id, label, platform, platform_chat_id, kind, instance_id in targets:
        try:
            answer = await pool_client.execute(
                str(kind),
                LIST_MEMBERS,
                {"chat_id": platform_chat_id},
                instance_id=instance_id,
                idempotency_key=_key(LIST_MEMBERS),
            )
        except ActionError as error:
            done.append(Backfill(chat_id, label, error=error.message))
            continue
        members = [m for m in answer.get("members") or [] if isinstance(m, dict)]
        recorded = await asyncio.to_thread(_record_members, community_id, platform, members)
        done.append(Backfill(chat_id, label, recorded=recorded))
    return done


def _chat_seen(kind: str, instance_id: int, chat: dict[str, Any]) -> PlatformEvent:
    """A "list_chats" entry as the discovery event connectors emit (contract 1)."""
    guild_id = chat.get("guild_id")
    return chat_seen(
        kind,
        instance_id,
        EventChat(
            id=str(chat["id"]),
            type=str(chat.get("type") or "group"),
            title=chat.get("title"),
            guild_id=None if guild_id is None else str(guild_id),
        ),
        _key("refresh"),
        username=chat.get("username"),
        member_count=chat.get("member_count"),
        bot_is_admin=chat.get("bot_is_admin"),
    )


def _backfill_targets(chat_ids: list[int]) -> list[tuple[int, str, str, str, str, int]]:
    """(chat id, label, platform, platform chat id, connector kind, instance) of each chat
    that lists members: Discord guilds, not their channels."""
    with session_scope() as session:
        return [
            (
                saved_id(chat),
                _label(chat),
                str(chat.platform),
                chat.platform_chat_id,
                str(bot.kind),
                saved_id(bot),
            )
            for chat, bot in session.exec(
                select(Chat, BotInstance)
                .join(BotInstance, col(BotInstance.id) == Chat.bot_instance_id)
                .where(col(Chat.id).in_(chat_ids), _not_a_channel())
            ).all()
        ]


def _record_members(community_id: int, platform: str, members: list[dict[str, Any]]) -> int:
    with session_scope() as session:
        return member_ingest.record_members(session, community_id, platform, members)


def _key(what: str) -> str:
    return f"{what}:{uuid.uuid4().hex}"


# --- internals --------------------------------------------------------------------------------


def _free_name(session: Session, name: str, *, but: int | None = None) -> str:
    """A trimmed name no other community has (letter case and spacing aside)."""
    name = " ".join(name.split())
    if not name:
        raise InvalidCommunity("Give the community a name, e.g. 'Photography club'.")
    if len(name) > MAX_NAME:
        raise InvalidCommunity(f"The name is too long ({MAX_NAME} characters at most).")
    query = select(Community.id).where(sa.func.lower(col(Community.name)) == name.lower())
    if but is not None:
        query = query.where(col(Community.id) != but)
    if session.exec(query).first() is not None:
        raise InvalidCommunity(f"There is already a community named {name!r}: pick another name.")
    return name


def _clean_description(description: str) -> str:
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise InvalidCommunity(
            f"The description is too long ({MAX_DESCRIPTION} characters at most)."
        )
    return description


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _get(session: Session, community_id: int) -> Community:
    community = session.get(Community, community_id)
    if community is None:
        raise CommunityNotFound(f"Community {community_id} does not exist (any more).")
    return community


def _audit(
    session: Session, actor: AdminUser, action: str, community_id: int | None, **details: Any
) -> None:
    audit.record(
        session, actor.username, action, target_type="community", target_id=community_id, **details
    )
